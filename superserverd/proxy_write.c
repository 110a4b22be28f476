/* The PROXY protocol's writing side (see proxy.h): the header a forwarder sends. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "superserverd/proxy.h"

static const uint8_t proxy_v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* An inet address as 16 bytes of IPv6 (IPv4 mapped) and a port in network order.
 * Returns 4 for an IPv4 or mapped address, 6 for IPv6, 0 for anything else. */
static int proxy_inet(const struct sockaddr *sa, socklen_t len, uint8_t a[16], uint16_t *port)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		memcpy(a, mapped, 12);
		memcpy(a + 12, &s4->sin_addr, 4);
		*port = s4->sin_port;
		return 4;
	}
	if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		memcpy(a, &s6->sin6_addr, 16);
		*port = s6->sin6_port;
		return memcmp(a, mapped, 12) == 0 ? 4 : 6;
	}
	return 0;
}

static int proxy_write_v1(int fam, const uint8_t s[16], uint16_t sp, const uint8_t d[16],
                          uint16_t dp, char *buf, size_t cap)
{
	char sh[INET6_ADDRSTRLEN], dh[INET6_ADDRSTRLEN];
	int n;

	if (!fam) {
		n = snprintf(buf, cap, "PROXY UNKNOWN\r\n");
	} else {
		int af = fam == 4 ? AF_INET : AF_INET6;
		const uint8_t *sa = fam == 4 ? s + 12 : s, *da = fam == 4 ? d + 12 : d;

		if (!inet_ntop(af, sa, sh, sizeof(sh)) || !inet_ntop(af, da, dh, sizeof(dh)))
			return -1;
		n = snprintf(buf, cap, "PROXY TCP%d %s %s %u %u\r\n", fam, sh, dh,
		             (unsigned)ntohs(sp), (unsigned)ntohs(dp));
	}
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

static int proxy_write_v2(int fam, const uint8_t s[16], uint16_t sp, const uint8_t d[16],
                          uint16_t dp, uint8_t *buf, size_t cap)
{
	size_t alen = fam == 4 ? 12 : fam == 6 ? 36 : 0, at = PROXY_V2_FIXED;

	if (cap < PROXY_V2_FIXED + alen)
		return -1;
	memcpy(buf, proxy_v2_sig, sizeof(proxy_v2_sig));
	buf[12] = 0x21;                                     /* version 2, PROXY */
	buf[13] = fam == 4 ? 0x11 : fam == 6 ? 0x21 : 0x00; /* over STREAM, or UNSPEC */
	buf[14] = (uint8_t)(alen >> 8);
	buf[15] = (uint8_t)alen;
	if (fam == 4) {
		memcpy(buf + at, s + 12, 4);
		memcpy(buf + at + 4, d + 12, 4);
		at += 8;
	} else if (fam == 6) {
		memcpy(buf + at, s, 16);
		memcpy(buf + at + 16, d, 16);
		at += 32;
	}
	if (fam) {
		memcpy(buf + at, &sp, 2);
		memcpy(buf + at + 2, &dp, 2);
		at += 4;
	}
	return (int)at;
}

int proxy_write(int version, const struct sockaddr *src, socklen_t src_len,
                const struct sockaddr *dst, socklen_t dst_len, uint8_t *buf, size_t cap)
{
	uint8_t s[16], d[16];
	uint16_t sp = 0, dp = 0;
	int fs = proxy_inet(src, src_len, s, &sp), fd = proxy_inet(dst, dst_len, d, &dp);
	/* Both IPv4: TCP4. Any IPv6 among inet addresses: both as IPv6 (mapped). */
	int fam = !fs || !fd ? 0 : fs == 4 && fd == 4 ? 4 : 6;

	if (version == 1)
		return proxy_write_v1(fam, s, sp, d, dp, (char *)buf, cap);
	if (version == 2)
		return proxy_write_v2(fam, s, sp, d, dp, buf, cap);
	return -1;
}
