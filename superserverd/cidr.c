/*
 * Address prefixes: parsing, formatting, matching and masking.
 *
 * A prefix written with host bits set ("10.0.0.1/8") is accepted and masked to its
 * network ("10.0.0.0/8"): that is what the writer meant in practice, and iptables and
 * nginx read it the same way. An IPv4-mapped IPv6 prefix of /96 or longer
 * ("::ffff:10.0.0.0/104") is stored as the IPv4 prefix it names, because peers are
 * compared as IPv4 once cidr_from_sockaddr has unwrapped a mapped address; left as
 * IPv6 such a rule could never match anything.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "superserverd/cidr.h"

#define SYNTAX                                                                                     \
	"expected an IPv4 or IPv6 address with an optional /prefix, such as 10.0.0.0/8, "          \
	"192.0.2.7 or 2001:db8::/32"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static unsigned width(int family)
{
	return family == AF_INET ? 32 : 128;
}

void cidr_mask(int family, uint8_t addr[16], unsigned prefix)
{
	unsigned w = width(family);

	if (prefix > w)
		prefix = w;
	if (prefix % 8)
		addr[prefix / 8] &= (uint8_t)(0xff << (8 - prefix % 8));
	/* Past the family's width too: an IPv4 key must not carry stray bytes 4..15. */
	for (unsigned i = (prefix + 7) / 8; i < 16; i++)
		addr[i] = 0;
}

/* The digits after '/': 1 to 3 of them and nothing else (no sign, no spaces). */
static int parse_prefix(const char *s, unsigned *r)
{
	unsigned v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 3)
			return -1;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0)
		return -1;
	*r = v;
	return 0;
}

int cidr_parse(const char *text, struct cidr *c, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash;
	size_t hlen;
	unsigned prefix;

	memset(c, 0, sizeof(*c));
	if (!text) {
		snprintf(err, errlen, SYNTAX);
		return -1;
	}
	slash = strchr(text, '/');
	hlen = slash ? (size_t)(slash - text) : strlen(text);
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, SYNTAX);
		return -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	/* inet_pton is strict: no spaces, no leading zeros in IPv4, no zone ids. */
	c->family = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, host, c->addr) != 1) {
		snprintf(err, errlen, SYNTAX);
		return -1;
	}
	prefix = width(c->family);
	if (slash && parse_prefix(slash + 1, &prefix) < 0) {
		snprintf(err, errlen, "the prefix '%s' is not a number (expected /0 to /%u)",
		         slash + 1, width(c->family));
		return -1;
	}
	if (prefix > width(c->family)) {
		snprintf(err, errlen, "prefix %u is out of range for %s (0-%u)", prefix,
		         c->family == AF_INET ? "IPv4" : "IPv6", width(c->family));
		return -1;
	}
	if (c->family == AF_INET6 && prefix >= 96 && memcmp(c->addr, v4mapped, 12) == 0) {
		memmove(c->addr, c->addr + 12, 4);
		c->family = AF_INET;
		prefix -= 96;
	}
	c->prefix = prefix;
	cidr_mask(c->family, c->addr, prefix);
	return 0;
}

void cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if ((c->family != AF_INET && c->family != AF_INET6) ||
	    !inet_ntop(c->family, c->addr, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, len, "%s/%u", host, c->prefix);
}

int cidr_from_sockaddr(const struct sockaddr *sa, socklen_t len, int *family_r, uint8_t addr_r[16])
{
	memset(addr_r, 0, 16);
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return -1;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		memcpy(addr_r, &sin->sin_addr, 4);
		*family_r = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		if (memcmp(&sin6->sin6_addr, v4mapped, 12) == 0) {
			/* A dual-stack socket's IPv4 client: IPv4 rules must apply to it. */
			memcpy(addr_r, (const uint8_t *)&sin6->sin6_addr + 12, 4);
			*family_r = AF_INET;
		} else {
			memcpy(addr_r, &sin6->sin6_addr, 16);
			*family_r = AF_INET6;
		}
		return 0;
	}
	return -1;
}

bool cidr_contains(const struct cidr *c, int family, const uint8_t addr[16])
{
	unsigned full, rem;

	if (c->family != family || c->prefix > width(family))
		return false;
	full = c->prefix / 8;
	rem = c->prefix % 8;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	/* XOR, not equality: correct even for a hand-built prefix with host bits set. */
	return !rem || ((c->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

int cidr_longest_match(const struct cidr *list, size_t n, int family, const uint8_t addr[16])
{
	int best = -1;

	for (size_t i = 0; i < n; i++)
		if ((int)list[i].prefix > best && cidr_contains(&list[i], family, addr))
			best = (int)list[i].prefix;
	return best;
}
