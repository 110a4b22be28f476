/*
 * PROXY protocol parser and readers: every valid form with every split point, every
 * malformed form with the exact byte count at which it is refused (a garbage client must
 * be turned away at once, a slow proxy must not be), and the socket readers, which must
 * leave the application's bytes in the socket and must sleep, not spin, while they wait.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "superserverd/addr.h"
#include "superserverd/proxy.h"

/* A byte string literal and its length (literals may hold NULs). */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1
#define SIG  "\r\n\r\n\0\r\nQUIT\n"
#define APP  "HELLO app bytes\r\n"

/* ---- valid headers ---- */

struct ok_case {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	int version;
	bool local;
	int transport;
	const char *src, *dst; /* addr_format of the addresses, NULL when local */
};

static const struct ok_case ok_cases[] = {
        {"v1 tcp4", B("PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\n"), 1, false, SOCK_STREAM,
         "192.168.0.1:56324", "10.0.0.2:443"},
        {"v1 tcp4 extremes", B("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"), 1, false,
         SOCK_STREAM, "0.0.0.0:0", "255.255.255.255:65535"},
        {"v1 tcp6", B("PROXY TCP6 2001:db8::1 ::1 1 80\r\n"), 1, false, SOCK_STREAM,
         "[2001:db8::1]:1", "[::1]:80"},
        {"v1 tcp6 longest",
         B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n"),
         1, false, SOCK_STREAM, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
         "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535"},
        {"v1 tcp6 upper case", B("PROXY TCP6 2001:DB8::A ::1 7 8\r\n"), 1, false, SOCK_STREAM,
         "[2001:db8::a]:7", "[::1]:8"},
        {"v1 unknown", B("PROXY UNKNOWN\r\n"), 1, true, 0, NULL, NULL},
        {"v1 unknown with addresses", B("PROXY UNKNOWN ffff::1 ::1 1 2\r\n"), 1, true, 0, NULL,
         NULL},
        {"v1 unknown with anything", B("PROXY UNKNOWN  what\tever \x01\r\n"), 1, true, 0, NULL,
         NULL},
        {"v2 local",
         B(SIG "\x20"
               "\x00"
               "\x00\x00"),
         2, true, 0, NULL, NULL},
        {"v2 local ignores the block",
         B(SIG "\x20"
               "\xff"
               "\x00\x05"
               "abcde"),
         2, true, 0, NULL, NULL},
        {"v2 local with inet block",
         B(SIG "\x20"
               "\x11"
               "\x00\x0c"
               "\x01\x02\x03\x04"
               "\x05\x06\x07\x08"
               "\x00\x01"
               "\x00\x02"),
         2, true, 0, NULL, NULL},
        {"v2 proxy unspec",
         B(SIG "\x21"
               "\x00"
               "\x00\x03"
               "xyz"),
         2, true, 0, NULL, NULL},
        {"v2 tcp4",
         B(SIG "\x21"
               "\x11"
               "\x00\x0c"
               "\xc0\xa8\x00\x01"
               "\x0a\x00\x00\x02"
               "\xdc\x04"
               "\x01\xbb"),
         2, false, SOCK_STREAM, "192.168.0.1:56324", "10.0.0.2:443"},
        {"v2 udp4",
         B(SIG "\x21"
               "\x12"
               "\x00\x0c"
               "\x7f\x00\x00\x01"
               "\x7f\x00\x00\x02"
               "\x00\x35"
               "\xff\xff"),
         2, false, SOCK_DGRAM, "127.0.0.1:53", "127.0.0.2:65535"},
        {"v2 tcp6",
         B(SIG "\x21"
               "\x21"
               "\x00\x24"
               "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
               "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
               "\x00\x01"
               "\x00\x50"),
         2, false, SOCK_STREAM, "[2001:db8::1]:1", "[::1]:80"},
        {"v2 udp6",
         B(SIG "\x21"
               "\x22"
               "\x00\x24"
               "\xfe\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09"
               "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
               "\x12\x34"
               "\x00\x00"),
         2, false, SOCK_DGRAM, "[fe80::9]:4660", "[::1]:0"},
        {"v2 tcp4 with tlvs",
         B(SIG "\x21"
               "\x11"
               "\x00\x1b"
               "\x01\x02\x03\x04"
               "\x05\x06\x07\x08"
               "\x00\x01"
               "\x00\x02"
               "\x01"
               "\x00\x02"
               "h2" /* ALPN */
               "\x04"
               "\x00\x00" /* NOOP, empty */
               "\xe0"
               "\x00\x04"
               "abcd"),
         2, false, SOCK_STREAM, "1.2.3.4:1", "5.6.7.8:2"},
};

/* Parses C's bytes followed by application bytes, and every proper prefix. */
static void check_ok(const struct ok_case *c)
{
	uint8_t buf[PROXY_MAX_HEADER + sizeof(APP)];
	struct proxy_header h;
	char err[256], a[256];

	ck_assert_uint_le(c->len, PROXY_MAX_HEADER);
	memcpy(buf, c->bytes, c->len);
	memcpy(buf + c->len, APP, sizeof(APP) - 1);
	for (size_t k = 0; k < c->len; k++) {
		int r = proxy_parse(buf, k, &h, err, sizeof(err));
		ck_assert_msg(r == PROXY_NEED_MORE, "%s: prefix %zu of %zu gave %d (%s)", c->name,
		              k, c->len, r, err);
	}
	/* Complete alone, and complete with the application's first bytes behind it. */
	for (size_t extra = 0; extra < sizeof(APP); extra += sizeof(APP) - 1) {
		int r = proxy_parse(buf, c->len + extra, &h, err, sizeof(err));
		ck_assert_msg(r == PROXY_DONE, "%s (+%zu): %d %s", c->name, extra, r, err);
		ck_assert_uint_eq(h.length, c->len);
		ck_assert_int_eq(h.version, c->version);
		ck_assert_int_eq(h.local, c->local);
		ck_assert_int_eq(h.transport, c->transport);
		if (c->local) {
			ck_assert_uint_eq(h.src_len, 0);
			ck_assert_uint_eq(h.dst_len, 0);
			continue;
		}
		addr_format((const struct sockaddr *)&h.src, h.src_len, a, sizeof(a));
		ck_assert_msg(strcmp(a, c->src) == 0, "%s: src %s", c->name, a);
		addr_format((const struct sockaddr *)&h.dst, h.dst_len, a, sizeof(a));
		ck_assert_msg(strcmp(a, c->dst) == 0, "%s: dst %s", c->name, a);
	}
}

START_TEST(valid_headers)
{
	check_ok(&ok_cases[_i]);
}
END_TEST

/* A v2 header with BLEN bytes of block: the addresses in ADDR, zeros after them. */
static size_t v2_build(uint8_t *buf, uint8_t ver_cmd, uint8_t fam, size_t blen, const void *addr,
                       size_t alen)
{
	memcpy(buf, SIG, 12);
	buf[12] = ver_cmd;
	buf[13] = fam;
	buf[14] = (uint8_t)(blen >> 8);
	buf[15] = (uint8_t)blen;
	memset(buf + 16, 0, blen);
	memcpy(buf + 16, addr, alen);
	return 16 + blen;
}

START_TEST(v2_unix)
{
	uint8_t buf[PROXY_MAX_HEADER], block[216] = {0};
	struct proxy_header h;
	char err[256], a[256];

	strcpy((char *)block, "/run/proxy/client.sock");
	strcpy((char *)block + 108, "/run/superserverd/echo.sock");
	size_t n = v2_build(buf, 0x21, 0x31, 216, block, sizeof(block));
	struct ok_case c = {"v2 unix stream",
	                    buf,
	                    n,
	                    2,
	                    false,
	                    SOCK_STREAM,
	                    "unix:/run/proxy/client.sock",
	                    "unix:/run/superserverd/echo.sock"};
	check_ok(&c);
	ck_assert_int_eq(proxy_parse(buf, n, &h, err, sizeof(err)), PROXY_DONE);
	ck_assert_int_eq(h.src.ss_family, AF_UNIX);
	ck_assert_uint_eq(h.src_len, offsetof(struct sockaddr_un, sun_path) + 23);

	/* Datagram; an abstract source, an unnamed destination, and a path with no NUL. */
	memset(block, 0, sizeof(block));
	memcpy(block, "\0abstract", 9);
	n = v2_build(buf, 0x21, 0x32, 216, block, sizeof(block));
	c = (struct ok_case){"v2 unix dgram",  buf,    n, 2, false, SOCK_DGRAM,
	                     "unix:@abstract", "unix:"};
	check_ok(&c);
	memset(block, 'x', 108);
	n = v2_build(buf, 0x21, 0x31, 216, block, sizeof(block));
	ck_assert_int_eq(proxy_parse(buf, n, &h, err, sizeof(err)), PROXY_DONE);
	ck_assert_uint_eq(h.src_len, sizeof(struct sockaddr_un));
	addr_format((const struct sockaddr *)&h.src, h.src_len, a, sizeof(a));
	ck_assert_uint_eq(strlen(a), 5 + 108);
}
END_TEST

START_TEST(v2_at_the_limit)
{
	uint8_t buf[PROXY_MAX_HEADER + 1], addrs[36 + 3] = {0};
	struct proxy_header h;
	char err[256];
	size_t tlv = 520 - 36 - 3;

	/* The largest header accepted: INET6 with one TLV filling the block to 520. */
	addrs[15] = 1;
	addrs[31] = 2;
	addrs[36] = 0xe1;
	addrs[37] = (uint8_t)(tlv >> 8);
	addrs[38] = (uint8_t)tlv;
	size_t n = v2_build(buf, 0x21, 0x21, 520, addrs, sizeof(addrs));
	ck_assert_uint_eq(n, PROXY_MAX_HEADER);
	struct ok_case c = {"v2 at the limit", buf, n, 2, false, SOCK_STREAM, "[::1]:0", "[::2]:0"};
	check_ok(&c);
	/* One byte more is refused as soon as the length field is read. */
	n = v2_build(buf, 0x21, 0x21, 521, addrs, sizeof(addrs));
	ck_assert_int_eq(proxy_parse(buf, 15, &h, err, sizeof(err)), PROXY_NEED_MORE);
	ck_assert_int_eq(proxy_parse(buf, 16, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_str_eq(err, "v2: header length 537 exceeds the limit 536");
}
END_TEST

START_TEST(v1_unknown_at_the_limit)
{
	char line[PROXY_V1_MAX + 2];
	struct proxy_header h;
	char err[256];

	/* 107 bytes with the CRLF is the longest line; 108 is refused at byte 107. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + PROXY_V1_MAX - 2, "\r\n", 2);
	struct ok_case c = {.name = "v1 107 bytes",
	                    .bytes = (const uint8_t *)line,
	                    .len = PROXY_V1_MAX,
	                    .version = 1,
	                    .local = true};
	check_ok(&c);
	memcpy(line + PROXY_V1_MAX - 2, "a\r\n", 3);
	ck_assert_int_eq(proxy_parse((uint8_t *)line, 106, &h, err, sizeof(err)), PROXY_NEED_MORE);
	ck_assert_int_eq(proxy_parse((uint8_t *)line, 107, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_str_eq(err, "v1 line longer than 107 bytes");
	ck_assert_int_eq(proxy_parse((uint8_t *)line, 109, &h, err, sizeof(err)), PROXY_ERROR);
}
END_TEST

START_TEST(need_more_without_crlf)
{
	static const char *const partial[] = {"",
	                                      "P",
	                                      "PROXY",
	                                      "PROXY ",
	                                      "PROXY TCP",
	                                      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2",
	                                      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r",
	                                      "PROXY UNKNOWN",
	                                      "PROXY UNKNOWN blah"};
	struct proxy_header h;
	char err[256];

	for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++)
		ck_assert_msg(proxy_parse((const uint8_t *)partial[i], strlen(partial[i]), &h, err,
		                          sizeof(err)) == PROXY_NEED_MORE,
		              "'%s': %s", partial[i], err);
	/* A truncated v2 signature, and a v2 header that stops inside its block. */
	ck_assert_int_eq(proxy_parse(B(SIG), &h, err, sizeof(err)), PROXY_NEED_MORE);
	ck_assert_int_eq(proxy_parse(B("\r\n\r\n\0\r"), &h, err, sizeof(err)), PROXY_NEED_MORE);
	ck_assert_int_eq(proxy_parse(B(SIG "\x21\x11\x00\x0c\x01\x02"), &h, err, sizeof(err)),
	                 PROXY_NEED_MORE);
}
END_TEST

/* ---- malformed headers ---- */

struct bad_case {
	const uint8_t *bytes;
	size_t len;
	size_t at;       /* the shortest prefix that is refused: one byte less still waits */
	const char *msg; /* the message for the whole input (a substring of it) */
};

#define T4 "PROXY TCP4 1.2.3.4 5.6.7.8 "

static const struct bad_case bad_cases[] = {
        /* Not a header: refused at the first byte that cannot be one. */
        {B("GET / HTTP/1.0\r\n"), 1, "not a PROXY protocol header"},
        {B("\x16\x03\x01\x02\x00"), 1, "not a PROXY protocol header"},
        {B("\0"), 1, "not a PROXY protocol header"},
        {B("proxy TCP4"), 1, "not a PROXY protocol header"},
        {B("PROXX TCP4"), 5, "not a PROXY protocol header"},
        {B("PROXY\r\n"), 6, "not a PROXY protocol header"},
        {B("\r\r\n\n"), 2, "not a PROXY protocol header"},
        {B("\r\n\r\n\0\r\nQUIX\n\x21"), 11, "not a PROXY protocol header"},
        /* v1 family keyword */
        {B("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), 10, "v1: unknown protocol family 'TCP5'"},
        {B("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), 7, "v1: unknown protocol family 'tcp4'"},
        {B("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), 8, "unknown protocol family"},
        {B("PROXY UNKNOWNX\r\n"), 14, "v1: unknown protocol family 'UNKNOWNX'"},
        {B("PROXY TCP44 1.2.3.4\r\n"), 11, "unknown protocol family"},
        {B("PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n"), 10, "v1: unknown protocol family 'TCP'"},
        {B("PROXY UNKNOW\r\n"), 13, "v1: unknown protocol family 'UNKNOW'"},
        {B("PROXY \r\n"), 7, "v1: unknown protocol family ''"},
        {B("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 7, "extra space before the protocol family"},
        /* missing fields */
        {B("PROXY TCP4\r\n"), 11, "v1: missing source address"},
        {B("PROXY TCP4 1.2.3.4\r\n"), 19, "v1: missing destination address"},
        {B("PROXY TCP4 1.2.3.4 5.6.7.8\r\n"), 27, "v1: missing source port"},
        {B(T4 "1\r\n"), 29, "v1: missing destination port"},
        {B(T4 "1 \r\n"), 30, "v1: missing destination port"},
        /* extra spaces */
        {B("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), 12, "extra space before the source address"},
        {B("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), 20, "extra space before the destination "},
        {B(T4 " 1 2\r\n"), 28, "extra space before the source port"},
        {B(T4 "1  2\r\n"), 30, "extra space before the destination port"},
        {B(T4 "1 2 \r\n"), 31, "v1: unexpected data after the destination port"},
        {B(T4 "1 2 3\r\n"), 31, "v1: unexpected data after the destination port"},
        /* addresses */
        {B("PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n"), 21, "v1: bad source address '1.2.3.400'"},
        {B("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), 17, "v1: bad source address '1.2.3'"},
        {B("PROXY TCP4 1.2.3.x 5.6.7.8 1 2\r\n"), 18, "v1: bad source address '1.2.3.x'"},
        {B("PROXY TCP4 1-2.3.4 5.6.7.8 1 2\r\n"), 13, "v1: bad source address '1-2.3.4'"},
        {B("PROXY TCP6 ::g ::1 1 2\r\n"), 14, "v1: bad source address '::g'"},
        {B("PROXY TCP4 1.2.3.4 5.6.7.8.9 1 2\r\n"), 29, "v1: bad destination address"},
        {B("PROXY TCP4 1111.2.3.4 5.6.7.8 1 2\r\n"), 22, "v1: bad source address"},
        {B("PROXY TCP4 1.2.3.4 1111111111111111 1 2\r\n"), 35, "v1: bad destination address"},
        {B("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), 12, "v1: bad source address '::1'"},
        {B("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), 19, "v1: bad source address '1.2.3.4'"},
        {B("PROXY TCP6 ::1 1.2.3.4 1 2\r\n"), 23, "v1: bad destination address '1.2.3.4'"},
        {B("PROXY TCP6 ::1:: ::1 1 2\r\n"), 17, "v1: bad source address '::1::'"},
        {B("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), 19, "v1: bad source address"},
        {B("PROXY TCP4 1.2.\0.4 5.6.7.8 1 2\r\n"), 16, "v1: bad source address '1.2.?.4'"},
        /* ports */
        {B(T4 "65536 2\r\n"), 32, "v1: port out of range"},
        {B(T4 "1 65536\r\n"), 34, "v1: port out of range"},
        {B(T4 "1 99999\r\n"), 34, "v1: port out of range"},
        {B(T4 "1 123456\r\n"), 35, "v1: port out of range"},
        {B(T4 "-1 2\r\n"), 28, "v1: bad source port '-1'"},
        {B(T4 "+1 2\r\n"), 28, "v1: bad source port '+1'"},
        {B(T4 "01 2\r\n"), 29, "v1: bad source port '01' (leading zero)"},
        {B(T4 "1 00\r\n"), 31, "v1: bad destination port '00'"},
        {B(T4 "1 0x1\r\n"), 31, "v1: bad destination port"},
        {B(T4 "1a 2\r\n"), 29, "v1: bad source port '1a'"},
        /* line ends */
        {B(T4 "1 2\n"), 31, "v1: line ends with LF only"},
        {B("PROXY UNKNOWN\n"), 14, "v1: line ends with LF only"},
        {B("PROXY UNKNOWN 1.2.3.4\n"), 22, "v1: line ends with LF only"},
        {B("PROXY TCP4\n"), 11, "v1: line ends with LF only"},
        {B(T4 "1 2\rX"), 32, "v1: CR not followed by LF"},
        {B("PROXY UNKNOWN\r\r\n"), 15, "v1: CR not followed by LF"},
        /* too long: a TCP6 line whose addresses alone are legal but whose line is not */
        {B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
           "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 65535\r\n"),
         107, "v1 line longer than 107 bytes"},
        /* v2 fixed part */
        {B(SIG "\x11\x11\x00\x0c"), 13, "v2: unsupported version 1"},
        {B(SIG "\x31\x11\x00\x0c"), 13, "v2: unsupported version 3"},
        {B(SIG "\x01\x11\x00\x0c"), 13, "v2: unsupported version 0"},
        {B(SIG "\x22\x11\x00\x0c"), 13, "v2: unsupported command 0x2"},
        {B(SIG "\x2f\x11\x00\x0c"), 13, "v2: unsupported command 0xf"},
        {B(SIG "\x21\x41\x00\x0c"), 14, "v2: unsupported address family and transport 0x41"},
        {B(SIG "\x21\x13\x00\x0c"), 14, "v2: unsupported address family and transport 0x13"},
        {B(SIG "\x21\x10\x00\x0c"), 14, "v2: unsupported address family and transport 0x10"},
        {B(SIG "\x21\x01\x00\x0c"), 14, "v2: unsupported address family and transport 0x01"},
        /* v2 lengths: refused once the length field is complete, without waiting for it */
        {B(SIG "\x21\x11\x00\x08"
               "\x01\x02\x03\x04\x05\x06\x07\x08"),
         16, "v2: address block too short for AF_INET (12 bytes needed, 8 given)"},
        {B(SIG "\x21\x12\x00\x00"), 16,
         "v2: address block too short for AF_INET (12 bytes needed, 0 given)"},
        {B(SIG "\x21\x21\x00\x0c"), 16,
         "v2: address block too short for AF_INET6 (36 bytes needed, 12 given)"},
        {B(SIG "\x21\x31\x00\x24"), 16,
         "v2: address block too short for AF_UNIX (216 bytes needed, 36 given)"},
        {B(SIG "\x21\x11\x0f\x90"), 16, "v2: header length 4000 exceeds the limit 536"},
        {B(SIG "\x20\x00\xff\xff"), 16, "v2: header length 65551 exceeds the limit 536"},
        /* v2 TLVs */
        {B(SIG "\x21\x11\x00\x11"
               "\x01\x02\x03\x04"
               "\x05\x06\x07\x08"
               "\x00\x01"
               "\x00\x02"
               "\x01"
               "\x00\x05"
               "h2"),
         33, "v2: TLV type 0x01 overruns the header (5 bytes declared, 2 left)"},
        {B(SIG "\x21\x11\x00\x12"
               "\x01\x02\x03\x04"
               "\x05\x06\x07\x08"
               "\x00\x01"
               "\x00\x02"
               "\x04"
               "\x00\x00"
               "\x04"
               "\x00\x01"),
         34, "v2: TLV type 0x04 overruns the header (1 bytes declared, 0 left)"},
        {B(SIG "\x21\x11\x00\x0e"
               "\x01\x02\x03\x04"
               "\x05\x06\x07\x08"
               "\x00\x01"
               "\x00\x02"
               "\x01"
               "\x00"),
         30, "v2: truncated TLV header (2 bytes left)"},
};

START_TEST(malformed_headers)
{
	const struct bad_case *c = &bad_cases[_i];
	uint8_t buf[PROXY_MAX_HEADER + 64];
	struct proxy_header h;
	char err[256];
	int r;

	ck_assert_uint_le(c->at, c->len);
	for (size_t k = 0; k < c->at; k++) {
		r = proxy_parse(c->bytes, k, &h, err, sizeof(err));
		ck_assert_msg(r == PROXY_NEED_MORE, "case %d (%s): prefix %zu gave %d (%s)", _i,
		              c->msg, k, r, err);
	}
	for (size_t k = c->at; k <= c->len; k++) {
		r = proxy_parse(c->bytes, k, &h, err, sizeof(err));
		ck_assert_msg(r == PROXY_ERROR, "case %d (%s): prefix %zu gave %d", _i, c->msg, k,
		              r);
		ck_assert_msg(err[0] != '\0', "case %d: no message", _i);
	}
	ck_assert_msg(strstr(err, c->msg) != NULL, "case %d: '%s' lacks '%s'", _i, err, c->msg);
	/* Whatever follows does not change the verdict. */
	memcpy(buf, c->bytes, c->len);
	memset(buf + c->len, 'z', sizeof(buf) - c->len);
	ck_assert_int_eq(proxy_parse(buf, sizeof(buf), &h, err, sizeof(err)), PROXY_ERROR);
}
END_TEST

START_TEST(v2_family_byte)
{
	uint8_t buf[PROXY_MAX_HEADER];
	struct proxy_header h;
	char err[256];

	/* Only the seven combinations of the specification are accepted with PROXY, and each
	 * is judged at byte 14; LOCAL ignores the byte altogether. A 216-byte block of zeros
	 * fits every family: the addresses, then empty TLVs of type 0. */
	for (int fam = 0; fam < 256; fam++) {
		bool known = fam == 0x00 || fam == 0x11 || fam == 0x12 || fam == 0x21 ||
		             fam == 0x22 || fam == 0x31 || fam == 0x32;
		size_t n = v2_build(buf, 0x21, (uint8_t)fam, 216, "", 0);
		ck_assert_int_eq(proxy_parse(buf, 13, &h, err, sizeof(err)), PROXY_NEED_MORE);
		ck_assert_int_eq(proxy_parse(buf, 14, &h, err, sizeof(err)),
		                 known ? PROXY_NEED_MORE : PROXY_ERROR);
		ck_assert_int_eq(proxy_parse(buf, n, &h, err, sizeof(err)),
		                 known ? PROXY_DONE : PROXY_ERROR);
		if (known)
			ck_assert_int_eq(h.local, fam == 0x00);
		n = v2_build(buf, 0x20, (uint8_t)fam, 0, "", 0);
		ck_assert_int_eq(proxy_parse(buf, n, &h, err, sizeof(err)), PROXY_DONE);
		ck_assert(h.local);
	}
}
END_TEST

START_TEST(garbage_refused_at_first_byte)
{
	struct proxy_header h;
	char err[64];

	/* Every byte that starts neither version is refused alone. */
	for (int b = 0; b < 256; b++) {
		uint8_t c = (uint8_t)b;
		int r = proxy_parse(&c, 1, &h, err, sizeof(err));
		ck_assert_int_eq(r, b == 'P' || b == '\r' ? PROXY_NEED_MORE : PROXY_ERROR);
	}
	/* A small error buffer truncates the message but stays a string. */
	char small[8];
	ck_assert_int_eq(proxy_parse(B("GET"), &h, small, sizeof(small)), PROXY_ERROR);
	ck_assert_str_eq(small, "not a P");
	ck_assert_int_eq(proxy_parse(B("GET"), &h, NULL, 0), PROXY_ERROR);
}
END_TEST

/* ---- the readers ---- */

static void pair(int sv[2], bool nonblock)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (nonblock)
		ck_assert_int_eq(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
}

/* A connected TCP pair over loopback: sv[0] the accepted side, sv[1] the client. */
static void tcp_pair(int sv[2])
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sin, &sl), 0);
	sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(sv[1], (struct sockaddr *)&sin, sizeof(sin)), 0);
	sv[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(sv[0], 0);
	close(l);
}

static void put(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* What is left in the socket: exactly WANT, the application's bytes, and nothing more. */
static void expect_rest(int fd, const char *want)
{
	char buf[256];
	size_t got = 0, len = strlen(want);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	/* TCP may still be delivering the last piece: wait for it, but not forever. */
	while (got < len && poll(&pfd, 1, 2000) == 1) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ck_assert_uint_eq(got, len);
	ck_assert(memcmp(buf, want, got) == 0);
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

static uint64_t mono_usec(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char v1_hdr[] = "PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\n";
static const char v2_hdr[] = SIG "\x21\x11\x00\x0c"
                                 "\xc0\xa8\x00\x01\x0a\x00\x00\x02\xdc\x04\x01\xbb";
#define V2_HDR_LEN (sizeof(v2_hdr) - 1)

static void expect_peer(const struct proxy_header *h, size_t len)
{
	char a[128];

	ck_assert_uint_eq(h->length, len);
	addr_format((const struct sockaddr *)&h->src, h->src_len, a, sizeof(a));
	ck_assert_str_eq(a, "192.168.0.1:56324");
	addr_format((const struct sockaddr *)&h->dst, h->dst_len, a, sizeof(a));
	ck_assert_str_eq(a, "10.0.0.2:443");
}

START_TEST(blocking_leaves_app_bytes)
{
	struct proxy_header h;
	char err[256], buf[PROXY_MAX_HEADER + sizeof(APP)];
	int sv[2];

	/* v1 over a socketpair, v2 over TCP, each sent in one piece with the data. */
	pair(sv, false);
	snprintf(buf, sizeof(buf), "%s%s", v1_hdr, APP);
	put(sv[1], buf, strlen(buf));
	ck_assert_int_eq(proxy_read_blocking(sv[0], 1000000, &h, err, sizeof(err)), PROXY_DONE);
	ck_assert_int_eq(h.version, 1);
	expect_peer(&h, strlen(v1_hdr));
	expect_rest(sv[0], APP);
	close(sv[0]);
	close(sv[1]);

	tcp_pair(sv);
	memcpy(buf, v2_hdr, V2_HDR_LEN);
	memcpy(buf + V2_HDR_LEN, APP, sizeof(APP) - 1);
	put(sv[1], buf, V2_HDR_LEN + sizeof(APP) - 1);
	ck_assert_int_eq(proxy_read_blocking(sv[0], 1000000, &h, err, sizeof(err)), PROXY_DONE);
	ck_assert_int_eq(h.version, 2);
	expect_peer(&h, V2_HDR_LEN);
	expect_rest(sv[0], APP);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

struct slow_writer {
	int fd;
	const char *bytes;
	size_t len;
	size_t piece;
	unsigned pause_usec;
};

static void *slow_write(void *arg)
{
	struct slow_writer *w = arg;

	for (size_t off = 0; off < w->len; off += w->piece) {
		size_t n = w->len - off < w->piece ? w->len - off : w->piece;
		if (send(w->fd, w->bytes + off, n, MSG_NOSIGNAL) != (ssize_t)n)
			break;
		usleep(w->pause_usec);
	}
	return NULL;
}

START_TEST(blocking_header_in_pieces)
{
	struct proxy_header h;
	char err[256], buf[256];
	int sv[2];
	pthread_t t;

	/* Header and data dribble in 7-byte pieces, 20 ms apart, over TCP: the reader
	 * waits in poll between them and still stops exactly at the header's end. */
	for (int v = 1; v <= 2; v++) {
		size_t hl = v == 1 ? strlen(v1_hdr) : V2_HDR_LEN;
		tcp_pair(sv);
		int one = 1;
		setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		memcpy(buf, v == 1 ? v1_hdr : v2_hdr, hl);
		memcpy(buf + hl, APP, sizeof(APP) - 1);
		struct slow_writer w = {sv[1], buf, hl + sizeof(APP) - 1, 7, 20000};
		uint64_t cpu0 = mono_usec(CLOCK_THREAD_CPUTIME_ID);
		ck_assert_int_eq(pthread_create(&t, NULL, slow_write, &w), 0);
		ck_assert_int_eq(proxy_read_blocking(sv[0], 5000000, &h, err, sizeof(err)),
		                 PROXY_DONE);
		uint64_t cpu = mono_usec(CLOCK_THREAD_CPUTIME_ID) - cpu0;
		pthread_join(t, NULL);
		ck_assert_int_eq(h.version, v);
		expect_peer(&h, hl);
		expect_rest(sv[0], APP);
		/* Spinning for the ~100+ ms of pauses would cost about as much CPU. */
		ck_assert_msg(cpu < 40000, "reader used %llu us of CPU", (unsigned long long)cpu);
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

START_TEST(blocking_timeout_without_spinning)
{
	struct proxy_header h;
	char err[256];
	int sv[2];

	/* Half a header, then silence with the connection open. */
	pair(sv, false);
	put(sv[1], "PROXY TCP4 1.2.", 15);
	uint64_t t0 = mono_usec(CLOCK_MONOTONIC), cpu0 = mono_usec(CLOCK_THREAD_CPUTIME_ID);
	ck_assert_int_eq(proxy_read_blocking(sv[0], 200000, &h, err, sizeof(err)), PROXY_ERROR);
	uint64_t el = mono_usec(CLOCK_MONOTONIC) - t0;
	uint64_t cpu = mono_usec(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	ck_assert_str_eq(err, "no PROXY header within 200 ms");
	ck_assert_msg(el >= 200000, "returned after %llu us", (unsigned long long)el);
	ck_assert_msg(el < 2000000, "returned after %llu us", (unsigned long long)el);
	ck_assert_msg(cpu < 40000, "used %llu us of CPU while waiting", (unsigned long long)cpu);
	close(sv[0]);
	close(sv[1]);

	/* Nothing at all is the same timeout. */
	pair(sv, false);
	t0 = mono_usec(CLOCK_MONOTONIC);
	ck_assert_int_eq(proxy_read_blocking(sv[0], 200000, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_uint_ge(mono_usec(CLOCK_MONOTONIC) - t0, 200000);
	ck_assert_str_eq(err, "no PROXY header within 200 ms");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(blocking_eof_and_garbage)
{
	struct proxy_header h;
	char err[256];
	int sv[2];

	/* EOF in the middle of the header, for both versions. */
	pair(sv, false);
	put(sv[1], "PROXY TCP4 1.2.", 15);
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(proxy_read_blocking(sv[0], 5000000, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_str_eq(err, "connection closed before the PROXY header ended");
	close(sv[0]);
	close(sv[1]);

	pair(sv, false);
	put(sv[1], v2_hdr, V2_HDR_LEN - 1);
	close(sv[1]);
	ck_assert_int_eq(proxy_read_blocking(sv[0], 5000000, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_str_eq(err, "connection closed before the PROXY header ended");
	close(sv[0]);

	/* A client that speaks HTTP is refused at once, not after the timeout. */
	pair(sv, false);
	put(sv[1], "GET / HTTP/1.0\r\n\r\n", 18);
	uint64_t t0 = mono_usec(CLOCK_MONOTONIC);
	ck_assert_int_eq(proxy_read_blocking(sv[0], 60000000, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_uint_lt(mono_usec(CLOCK_MONOTONIC) - t0, 10000000);
	ck_assert_str_eq(err, "not a PROXY protocol header");
	close(sv[0]);
	close(sv[1]);

	/* An oversized v2 header is refused after its 16 fixed bytes. */
	pair(sv, false);
	put(sv[1], SIG "\x21\x11\x0f\x90", 16);
	ck_assert_int_eq(proxy_read_blocking(sv[0], 5000000, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_str_eq(err, "v2: header length 4000 exceeds the limit 536");
	close(sv[0]);
	close(sv[1]);

	/* Not a socket. */
	ck_assert_int_eq(pipe(sv), 0);
	ck_assert_int_eq(proxy_read_blocking(sv[0], 100000, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "reading the PROXY header"));
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The step reader at every split point: the first K bytes, then the rest with data. */
static void step_split(const char *hdr, size_t hl)
{
	struct proxy_reader r;
	struct proxy_header h;
	char err[256], buf[256];
	int sv[2];

	memcpy(buf, hdr, hl);
	memcpy(buf + hl, APP, sizeof(APP) - 1);
	for (size_t k = 0; k < hl; k++) {
		pair(sv, true);
		proxy_reader_init(&r);
		ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)), PROXY_NEED_MORE);
		if (k > 0) {
			put(sv[1], buf, k);
			ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)),
			                 PROXY_NEED_MORE);
			ck_assert_uint_eq(r.len, k); /* consumed: poll sleeps until more */
		}
		put(sv[1], buf + k, hl + sizeof(APP) - 1 - k);
		ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)), PROXY_DONE);
		ck_assert_uint_eq(r.len, hl);
		expect_peer(&h, hl);
		expect_rest(sv[0], APP);
		close(sv[0]);
		close(sv[1]);
	}
}

START_TEST(step_every_split)
{
	step_split(v1_hdr, strlen(v1_hdr));
	step_split(v2_hdr, V2_HDR_LEN);
}
END_TEST

START_TEST(step_byte_by_byte)
{
	struct proxy_reader r;
	struct proxy_header h;
	char err[256];
	int sv[2];

	/* One byte at a time, the data glued to the last header byte. */
	for (int v = 1; v <= 2; v++) {
		const char *hdr = v == 1 ? v1_hdr : v2_hdr;
		size_t hl = v == 1 ? strlen(v1_hdr) : V2_HDR_LEN;
		pair(sv, true);
		proxy_reader_init(&r);
		for (size_t i = 0; i + 1 < hl; i++) {
			put(sv[1], hdr + i, 1);
			ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)),
			                 PROXY_NEED_MORE);
		}
		char last[sizeof(APP)];
		last[0] = hdr[hl - 1];
		memcpy(last + 1, APP, sizeof(APP) - 1);
		put(sv[1], last, sizeof(APP));
		ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)), PROXY_DONE);
		ck_assert_int_eq(h.version, v);
		expect_peer(&h, hl);
		expect_rest(sv[0], APP);
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

START_TEST(step_errors)
{
	struct proxy_reader r;
	struct proxy_header h;
	char err[256];
	int sv[2];

	/* EOF mid-header. */
	pair(sv, true);
	proxy_reader_init(&r);
	put(sv[1], v2_hdr, 14);
	ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)), PROXY_NEED_MORE);
	close(sv[1]);
	ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_str_eq(err, "connection closed before the PROXY header ended");
	close(sv[0]);

	/* A header that turns bad in its second piece. */
	pair(sv, true);
	proxy_reader_init(&r);
	put(sv[1], "PROXY TCP4 1.2.3.4 ", 19);
	ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)), PROXY_NEED_MORE);
	put(sv[1], "5.6.7.8 1 65536\r\n", 17);
	ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "v1: port out of range"));
	close(sv[0]);
	close(sv[1]);

	/* Garbage: the first byte decides. */
	pair(sv, true);
	proxy_reader_init(&r);
	put(sv[1], "S", 1);
	ck_assert_int_eq(proxy_read_step(sv[0], &r, &h, err, sizeof(err)), PROXY_ERROR);
	ck_assert_str_eq(err, "not a PROXY protocol header");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("parse");
	tcase_add_loop_test(tc, valid_headers, 0, (int)(sizeof(ok_cases) / sizeof(ok_cases[0])));
	tcase_add_loop_test(tc, malformed_headers, 0,
	                    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, v2_unix);
	tcase_add_test(tc, v2_at_the_limit);
	tcase_add_test(tc, v1_unknown_at_the_limit);
	tcase_add_test(tc, need_more_without_crlf);
	tcase_add_test(tc, v2_family_byte);
	tcase_add_test(tc, garbage_refused_at_first_byte);
	suite_add_tcase(s, tc);
	TCase *rd = tcase_create("readers");
	tcase_add_test(rd, blocking_leaves_app_bytes);
	tcase_add_test(rd, blocking_header_in_pieces);
	tcase_add_test(rd, blocking_timeout_without_spinning);
	tcase_add_test(rd, blocking_eof_and_garbage);
	tcase_add_test(rd, step_every_split);
	tcase_add_test(rd, step_byte_by_byte);
	tcase_add_test(rd, step_errors);
	suite_add_tcase(s, rd);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
