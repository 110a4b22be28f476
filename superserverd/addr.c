/*
 * Listening address syntax: parsing the configuration's text into a sockaddr plus a
 * canonical key, and formatting sockaddrs for messages. Host names are never resolved:
 * a listening address that depends on DNS at start (or reload) is a surprise waiting.
 * Service names in the port are handed to the caller's lookup (a local file, no DNS).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "superserverd/addr.h"

#define SYSTEMD_PREFIX  "systemd:"
#define UNIX_PREFIX     "unix:"
#define UNIXGRAM_PREFIX "unixgram:"
#define TCP_PREFIX      "tcp:"
#define UDP_PREFIX      "udp:"

#define EXPECTED                                                                                   \
	"HOST:PORT, [IPV6]:PORT, udp:HOST:PORT, udp:[IPV6]:PORT, unix:/PATH, unixgram:/PATH or "   \
	"systemd:NAME"

#define SERVICE_NAME_MAX 32 /* NI_MAXSERV */

struct names {
	addr_port_lookup fn;
	void *ctx;
};

static int parse_number(const char *s, unsigned *port_r)
{
	unsigned v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*port_r = v;
	return 0;
}

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* What /etc/services names look like: letters, digits and . _ + - /, not all digits. */
static bool is_service_name(const char *s)
{
	size_t n = 0;

	for (const char *p = s; *p; p++, n++) {
		bool alnum = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		             (*p >= 'A' && *p <= 'Z');
		if (!alnum && !strchr("._+-/", *p))
			return false;
	}
	return n > 0 && n <= SERVICE_NAME_MAX && !all_digits(s);
}

/* The port S of TEXT: a number, or a name NAMES resolves for A's socket type. */
static int parse_port(const char *text, const char *s, const struct addr *a,
                      const struct names *names, unsigned *port_r, char *err, size_t errlen)
{
	char why[256];

	if (parse_number(s, port_r) == 0)
		return 0;
	if (!names->fn || !is_service_name(s)) {
		bool named = names->fn && *s && !all_digits(s);
		snprintf(err, errlen, "invalid address '%s': the port must be %s", text,
		         named ? "a number between 1 and 65535 or a service name"
		               : "between 1 and 65535");
		return -1;
	}
	why[0] = '\0';
	if (names->fn(names->ctx, s, a->socktype, port_r, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "invalid address '%s': %s", text, why);
		return -1;
	}
	return 0;
}

static int parse_unix(const char *text, const char *prefix, struct addr *a, char *err,
                      size_t errlen)
{
	const char *path = text + strlen(prefix);
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;
	size_t len = strlen(path);

	if (path[0] != '/') {
		snprintf(err, errlen, "invalid address '%s': the socket path must be absolute",
		         text);
		return -1;
	}
	if (len >= sizeof(sun->sun_path)) {
		snprintf(err, errlen,
		         "invalid address '%s': the socket path is too long (%zu bytes, at most "
		         "%zu)",
		         text, len, sizeof(sun->sun_path) - 1);
		return -1;
	}
	a->kind = ADDR_UNIX;
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	a->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	snprintf(a->key, sizeof(a->key), "%s%s", prefix, path);
	return 0;
}

/* The rules of sd_listen_fds_with_names(): printable ASCII without ':'. */
static int parse_systemd(const char *text, struct addr *a, char *err, size_t errlen)
{
	const char *name = text + strlen(SYSTEMD_PREFIX);
	size_t len = strlen(name);
	size_t max = sizeof(a->key) - strlen(SYSTEMD_PREFIX) - 1;

	if (len == 0) {
		snprintf(err, errlen,
		         "invalid address '%s': expected a socket name after 'systemd:' (its "
		         "FileDescriptorName=)",
		         text);
		return -1;
	}
	if (len > max || len >= sizeof(a->name)) {
		snprintf(err, errlen,
		         "invalid address '%.40s...': the socket name is too long (%zu "
		         "characters, at most %zu)",
		         text, len, max < sizeof(a->name) - 1 ? max : sizeof(a->name) - 1);
		return -1;
	}
	for (const char *p = name; *p; p++)
		if (*p == ':' || *p < 0x21 || *p > 0x7e) {
			snprintf(err, errlen,
			         "invalid address '%s': a socket name is printable ASCII without "
			         "':' or spaces",
			         text);
			return -1;
		}
	a->kind = ADDR_SYSTEMD;
	a->sa.ss_family = AF_UNSPEC;
	a->salen = 0;
	memcpy(a->name, name, len + 1);
	snprintf(a->key, sizeof(a->key), "%s%s", SYSTEMD_PREFIX, name);
	return 0;
}

/* SPEC is TEXT after a "tcp:" or "udp:"; messages quote the whole TEXT. */
static int parse_inet6(const char *text, const char *spec, const struct names *names,
                       struct addr *a, char *err, size_t errlen)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;
	const char *close = strchr(spec, ']');
	char host[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
	size_t hlen;
	unsigned port;

	if (!close || close[1] != ':') {
		snprintf(err, errlen, "invalid address '%s': expected [IPV6]:PORT", text);
		return -1;
	}
	hlen = (size_t)(close - spec - 1);
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "invalid address '%s': not a valid IPv6 address", text);
		return -1;
	}
	memcpy(host, spec + 1, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		snprintf(err, errlen, "invalid address '%s': '%s' is not a valid IPv6 address",
		         text, host);
		return -1;
	}
	if (parse_port(text, close + 2, a, names, &port, err, errlen) < 0)
		return -1;
	a->kind = ADDR_INET6;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	a->salen = sizeof(*sin6);
	inet_ntop(AF_INET6, &sin6->sin6_addr, canon, sizeof(canon));
	snprintf(a->key, sizeof(a->key), "[%s]:%u", canon, port);
	return 0;
}

static bool looks_numeric(const char *host)
{
	for (; *host; host++)
		if ((*host < '0' || *host > '9') && *host != '.')
			return false;
	return true;
}

static int parse_inet(const char *text, const char *spec, const struct names *names, struct addr *a,
                      char *err, size_t errlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;
	const char *colon = strrchr(spec, ':');
	char host[64], canon[INET_ADDRSTRLEN];
	size_t hlen;
	unsigned port;

	if (!colon) {
		snprintf(err, errlen, "invalid address '%s': expected " EXPECTED, text);
		return -1;
	}
	hlen = (size_t)(colon - spec);
	if (memchr(spec, ':', hlen)) {
		snprintf(err, errlen,
		         "invalid address '%s': an IPv6 address needs brackets, e.g. [::1]:7007",
		         text);
		return -1;
	}
	if (hlen == 0) {
		snprintf(err, errlen,
		         "invalid address '%s': missing host (use *%s for every IPv4 address)",
		         text, colon);
		return -1;
	}
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "invalid address '%.40s...': the host is too long", text);
		return -1;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0) {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		if (looks_numeric(host))
			snprintf(err, errlen,
			         "invalid address '%s': '%s' is not a valid IPv4 address", text,
			         host);
		else
			snprintf(err, errlen,
			         "invalid address '%s': host names are not resolved: use a numeric "
			         "address such as 127.0.0.1 or [::1]",
			         text);
		return -1;
	}
	if (parse_port(text, colon + 1, a, names, &port, err, errlen) < 0)
		return -1;
	a->kind = ADDR_INET;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	a->salen = sizeof(*sin);
	inet_ntop(AF_INET, &sin->sin_addr, canon, sizeof(canon));
	snprintf(a->key, sizeof(a->key), "%s:%u", canon, port);
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* After "tcp:", "udp:" or nothing: an IPv4 or bracketed IPv6 address and a port. */
static int parse_ip(const char *text, const char *spec, const struct names *names, struct addr *a,
                    char *err, size_t errlen)
{
	if (has_prefix(spec, UNIX_PREFIX) || has_prefix(spec, SYSTEMD_PREFIX) ||
	    has_prefix(spec, TCP_PREFIX) || has_prefix(spec, UDP_PREFIX)) {
		snprintf(err, errlen,
		         "invalid address '%s': tcp: and udp: go in front of an IP address and "
		         "port only",
		         text);
		return -1;
	}
	if (spec[0] == '[')
		return parse_inet6(text, spec, names, a, err, errlen);
	return parse_inet(text, spec, names, a, err, errlen);
}

int addr_parse(const char *text, struct addr *a, char *err, size_t errlen)
{
	return addr_parse_named(text, NULL, NULL, a, err, errlen);
}

int addr_parse_named(const char *text, addr_port_lookup lookup, void *ctx, struct addr *a,
                     char *err, size_t errlen)
{
	const struct names names = {.fn = lookup, .ctx = ctx};
	int r;

	memset(a, 0, sizeof(*a));
	if (errlen)
		err[0] = '\0';
	if (!text || !*text) {
		snprintf(err, errlen, "expected an address: " EXPECTED);
		return -1;
	}
	a->socktype = SOCK_STREAM;
	if (has_prefix(text, UNIX_PREFIX))
		return parse_unix(text, UNIX_PREFIX, a, err, errlen);
	if (has_prefix(text, UNIXGRAM_PREFIX)) {
		a->socktype = SOCK_DGRAM;
		return parse_unix(text, UNIXGRAM_PREFIX, a, err, errlen);
	}
	if (has_prefix(text, SYSTEMD_PREFIX)) {
		a->socktype = 0;
		return parse_systemd(text, a, err, errlen);
	}
	/* A stream key stays as it always was, so that "tcp:" changes nothing that an
	 * earlier process stored under the plain form. */
	if (has_prefix(text, TCP_PREFIX))
		return parse_ip(text, text + strlen(TCP_PREFIX), &names, a, err, errlen);
	if (!has_prefix(text, UDP_PREFIX))
		return parse_ip(text, text, &names, a, err, errlen);
	a->socktype = SOCK_DGRAM; /* before the port: a name is looked up for udp */
	r = parse_ip(text, text + strlen(UDP_PREFIX), &names, a, err, errlen);
	if (r < 0)
		a->socktype = SOCK_STREAM; /* as for any address that failed: no datagram checks */
	if (r == 0) {
		char key[sizeof(a->key)];

		memcpy(key, a->key, sizeof(key));
		snprintf(a->key, sizeof(a->key), "%s%.*s", UDP_PREFIX,
		         (int)(sizeof(a->key) - sizeof(UDP_PREFIX)), key);
	}
	return r;
}

/* Dotted quad of the 4 bytes at B, as inet_ntop writes it. It runs for every connection
 * an exec'd program gets (its environment), where inet_ntop's printf costs more than the
 * rest of the formatting. */
static const char *ipv4_text(const unsigned char *b, char *host, size_t hostlen)
{
	char *o = host;

	if (hostlen < INET_ADDRSTRLEN)
		return NULL;
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (i)
			*o++ = '.';
		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
	}
	*o = '\0';
	return host;
}

int addr_host_port(const struct sockaddr *sa, socklen_t len, char *host, size_t hostlen,
                   unsigned *port)
{
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		if (!ipv4_text((const unsigned char *)&sin->sin_addr, host, hostlen))
			return -1;
		*port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const char *ok;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			ok = ipv4_text(&sin6->sin6_addr.s6_addr[12], host, hostlen);
		else
			ok = inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)hostlen);
		if (!ok)
			return -1;
		*port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -1;
}

void addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (buflen == 0)
		return;
	if (!sa || len < (socklen_t)sizeof(sa_family_t)) {
		snprintf(buf, buflen, "?");
		return;
	}
	if (addr_host_port(sa, len, host, sizeof(host), &port) == 0) {
		bool v6 = strchr(host, ':') != NULL;
		snprintf(buf, buflen, v6 ? "[%s]:%u" : "%s:%u", host, port);
		return;
	}
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t plen = len > off ? len - off : 0;

		if (plen > sizeof(sun->sun_path))
			plen = sizeof(sun->sun_path);
		if (plen == 0)
			snprintf(buf, buflen, "unix:"); /* an unnamed peer */
		else if (sun->sun_path[0] == '\0')
			snprintf(buf, buflen, "unix:@%.*s", (int)(plen - 1), sun->sun_path + 1);
		else
			snprintf(buf, buflen, "unix:%.*s", (int)strnlen(sun->sun_path, plen),
			         sun->sun_path);
		return;
	}
	snprintf(buf, buflen, "?(family %d)", (int)sa->sa_family);
}
