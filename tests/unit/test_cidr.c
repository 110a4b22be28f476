/*
 * Address prefixes: the accepted and rejected spellings (with their messages), host bits
 * masked, IPv4-mapped addresses treated as IPv4 on both sides, containment at and off
 * byte boundaries, longest-match selection, sockaddr conversion and per-source masking.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "superserverd/cidr.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct cidr parse_ok(const char *text)
{
	struct cidr c;
	char err[256] = "";

	ck_assert_msg(cidr_parse(text, &c, err, sizeof(err)) == 0, "'%s' rejected: %s", text, err);
	return c;
}

static void assert_formats(const char *text, const char *want)
{
	struct cidr c = parse_ok(text);
	char buf[64];

	cidr_format(&c, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, want) == 0, "'%s' became '%s', not '%s'", text, buf, want);
}

/* FAMILY + 16 bytes of the printed address TEXT, as a peer would be presented. */
static void peer(const char *text, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	*family = strchr(text, ':') ? AF_INET6 : AF_INET;
	ck_assert_int_eq(inet_pton(*family, text, addr), 1);
}

static bool contains(const char *rule, const char *addr)
{
	struct cidr c = parse_ok(rule);
	uint8_t a[16];
	int family;

	peer(addr, &family, a);
	return cidr_contains(&c, family, a);
}

START_TEST(parse_forms)
{
	struct cidr c;

	c = parse_ok("192.0.2.7");
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert(c.addr[0] == 192 && c.addr[1] == 0 && c.addr[2] == 2 && c.addr[3] == 7);
	for (int i = 4; i < 16; i++)
		ck_assert_uint_eq(c.addr[i], 0);

	c = parse_ok("10.0.0.0/8");
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.prefix, 8);
	ck_assert_uint_eq(c.addr[0], 10);

	c = parse_ok("::1/128");
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_uint_eq(c.prefix, 128);
	ck_assert_uint_eq(c.addr[15], 1);

	c = parse_ok("2001:db8::1");
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_uint_eq(c.prefix, 128);

	assert_formats("2001:db8::/32", "2001:db8::/32");
	assert_formats("192.0.2.7", "192.0.2.7/32");
	assert_formats("2001:db8::1", "2001:db8::1/128");
	/* The shortest and longest prefixes of each family. */
	assert_formats("0.0.0.0/0", "0.0.0.0/0");
	assert_formats("10.1.2.3/32", "10.1.2.3/32");
	assert_formats("::/0", "::/0");
	assert_formats("fe80::1/128", "fe80::1/128");
	assert_formats("10.0.0.0/008", "10.0.0.0/8");
}
END_TEST

START_TEST(host_bits_are_masked)
{
	assert_formats("10.0.0.1/8", "10.0.0.0/8");
	assert_formats("192.168.1.255/23", "192.168.0.0/23");
	assert_formats("255.255.255.255/0", "0.0.0.0/0");
	assert_formats("2001:db8:ffff::1/32", "2001:db8::/32");
	assert_formats("2001:db8::ffff/127", "2001:db8::fffe/127");
	assert_formats("ffff::/1", "8000::/1");
}
END_TEST

START_TEST(mapped_prefixes_become_ipv4)
{
	struct cidr c = parse_ok("::ffff:10.0.0.0/104");

	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.prefix, 8);
	assert_formats("::ffff:10.1.2.3", "10.1.2.3/32");
	assert_formats("::ffff:0.0.0.0/96", "0.0.0.0/0");
	/* Shorter than /96 it spans more than the mapped range: it stays IPv6. */
	c = parse_ok("::ffff:0:0/95");
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_uint_eq(c.prefix, 95);
}
END_TEST

static const struct {
	const char *text;
	const char *msg;
} bad[] = {
        {"10.0.0.0/33", "prefix 33 is out of range for IPv4 (0-32)"},
        {"1.2.3.4/999", "prefix 999 is out of range for IPv4 (0-32)"},
        {"::/129", "prefix 129 is out of range for IPv6 (0-128)"},
        {"10.0.0.0/", "the prefix '' is not a number (expected /0 to /32)"},
        {"10.0.0.0/x", "the prefix 'x' is not a number (expected /0 to /32)"},
        {"10.0.0.0/-1", "the prefix '-1' is not a number (expected /0 to /32)"},
        {"10.0.0.0/+8", "the prefix '+8' is not a number (expected /0 to /32)"},
        {"10.0.0.0/8 ", "the prefix '8 ' is not a number (expected /0 to /32)"},
        {"10.0.0.0/8/8", "the prefix '8/8' is not a number (expected /0 to /32)"},
        {"::/0128", "the prefix '0128' is not a number (expected /0 to /128)"},
        {"", NULL},
        {"/8", NULL},
        {"fast", NULL},
        {"10.0.0", NULL},
        {"10.0.0.256", NULL},
        {"010.0.0.1", NULL},
        {" 10.0.0.0/8", NULL},
        {"10.0.0.0 /8", NULL},
        {"fe80::1%eth0", NULL},
        {"[::1]/128", NULL},
        {"2001:db8:::1", NULL},
        {"localhost", NULL},
        {"0123456789012345678901234567890123456789012345678901234567890/8", NULL},
};

START_TEST(parse_rejects)
{
	struct cidr c;
	char err[256] = "";
	const char *want = bad[_i].msg
	                           ? bad[_i].msg
	                           : "expected an IPv4 or IPv6 address with an optional /prefix, "
	                             "such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32";

	ck_assert_msg(cidr_parse(bad[_i].text, &c, err, sizeof(err)) == -1, "'%s' accepted",
	              bad[_i].text);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(parse_null)
{
	struct cidr c;
	char err[256] = "";

	ck_assert_int_eq(cidr_parse(NULL, &c, err, sizeof(err)), -1);
	ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(containment)
{
	ck_assert(contains("10.0.0.0/8", "10.255.255.255"));
	ck_assert(contains("10.0.0.0/8", "10.0.0.0"));
	ck_assert(!contains("10.0.0.0/8", "11.0.0.0"));
	ck_assert(!contains("10.0.0.0/8", "9.255.255.255"));
	/* Off a byte boundary. */
	ck_assert(contains("192.168.0.0/23", "192.168.1.255"));
	ck_assert(!contains("192.168.0.0/23", "192.168.2.0"));
	ck_assert(contains("2001:db8::/33", "2001:db8:7fff::1"));
	ck_assert(!contains("2001:db8::/33", "2001:db8:8000::1"));
	/* Hosts match only themselves; /0 matches its whole family and nothing else. */
	ck_assert(contains("192.0.2.7", "192.0.2.7"));
	ck_assert(!contains("192.0.2.7", "192.0.2.6"));
	ck_assert(contains("::1", "::1"));
	ck_assert(!contains("::1", "::2"));
	ck_assert(contains("0.0.0.0/0", "203.0.113.9"));
	ck_assert(!contains("0.0.0.0/0", "::1"));
	ck_assert(contains("::/0", "2001:db8::1"));
	ck_assert(!contains("::/0", "127.0.0.1"));
	/* A rule written with host bits matches the whole network it names. */
	ck_assert(contains("10.0.0.1/8", "10.9.9.9"));
}
END_TEST

START_TEST(contains_hand_built)
{
	/* A prefix not made by cidr_parse, host bits set: still compared on the prefix. */
	struct cidr c = {.family = AF_INET, .addr = {10, 1, 2, 3}, .prefix = 12};
	uint8_t a[16] = {10, 15, 0, 1};

	ck_assert(cidr_contains(&c, AF_INET, a));
	a[1] = 16;
	ck_assert(!cidr_contains(&c, AF_INET, a));
	c.prefix = 33; /* impossible for IPv4: matches nothing */
	a[1] = 1;
	ck_assert(!cidr_contains(&c, AF_INET, a));
}
END_TEST

START_TEST(mapped_peer_matches_ipv4_rules)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(5)};
	struct cidr rule = parse_ok("10.0.0.0/8"), v6rule = parse_ok("::ffff:0:0/95");
	uint8_t a[16];
	int family = -1;

	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:10.1.2.3", &sin6.sin6_addr), 1);
	ck_assert_int_eq(cidr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &family, a), 0);
	ck_assert_int_eq(family, AF_INET);
	ck_assert(a[0] == 10 && a[1] == 1 && a[2] == 2 && a[3] == 3);
	for (int i = 4; i < 16; i++)
		ck_assert_uint_eq(a[i], 0);
	ck_assert(cidr_contains(&rule, family, a));
	ck_assert(!cidr_contains(&v6rule, family, a));
}
END_TEST

START_TEST(longest_match)
{
	struct cidr list[6];
	static const char *const rules[] = {"10.0.0.0/8",  "10.1.2.0/24",   "0.0.0.0/0",
	                                    "10.1.0.0/16", "2001:db8::/32", "2001:db8::1"};
	uint8_t a[16];
	int family;

	for (size_t i = 0; i < N(rules); i++)
		list[i] = parse_ok(rules[i]);
	peer("10.1.2.3", &family, a);
	ck_assert_int_eq(cidr_longest_match(list, N(list), family, a), 24);
	peer("10.1.9.9", &family, a);
	ck_assert_int_eq(cidr_longest_match(list, N(list), family, a), 16);
	peer("10.200.0.1", &family, a);
	ck_assert_int_eq(cidr_longest_match(list, N(list), family, a), 8);
	peer("11.0.0.1", &family, a);
	ck_assert_int_eq(cidr_longest_match(list, N(list), family, a), 0);
	peer("2001:db8::1", &family, a);
	ck_assert_int_eq(cidr_longest_match(list, N(list), family, a), 128);
	peer("2001:db8::2", &family, a);
	ck_assert_int_eq(cidr_longest_match(list, N(list), family, a), 32);
	peer("2001:db9::2", &family, a);
	ck_assert_int_eq(cidr_longest_match(list, N(list), family, a), -1);
	/* Without the catch-all an unrelated IPv4 address matches nothing. */
	peer("11.0.0.1", &family, a);
	ck_assert_int_eq(cidr_longest_match(list, 2, family, a), -1);
	ck_assert_int_eq(cidr_longest_match(list, 0, family, a), -1);
	ck_assert_int_eq(cidr_longest_match(NULL, 0, family, a), -1);
}
END_TEST

START_TEST(from_sockaddr)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/run/x.sock"};
	uint8_t a[16], want6[16];
	int family = -1;

	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr), 1);
	memset(a, 0xee, sizeof(a));
	ck_assert_int_eq(cidr_from_sockaddr((struct sockaddr *)&sin, sizeof(sin), &family, a), 0);
	ck_assert_int_eq(family, AF_INET);
	ck_assert(a[0] == 192 && a[1] == 0 && a[2] == 2 && a[3] == 7);
	for (int i = 4; i < 16; i++)
		ck_assert_uint_eq(a[i], 0);

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::5", want6), 1);
	ck_assert_int_eq(cidr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &family, a), 0);
	ck_assert_int_eq(family, AF_INET6);
	ck_assert_mem_eq(a, want6, 16);

	/* Not an internet address, or too short to be one. */
	ck_assert_int_eq(cidr_from_sockaddr((struct sockaddr *)&sun, sizeof(sun), &family, a), -1);
	ck_assert_int_eq(cidr_from_sockaddr((struct sockaddr *)&sin, sizeof(sin) - 1, &family, a),
	                 -1);
	ck_assert_int_eq(cidr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6) - 1, &family, a),
	                 -1);
	ck_assert_int_eq(cidr_from_sockaddr((struct sockaddr *)&sin, 0, &family, a), -1);
	ck_assert_int_eq(cidr_from_sockaddr(NULL, sizeof(sin), &family, a), -1);
}
END_TEST

START_TEST(masking)
{
	uint8_t a[16];
	int family;

	peer("10.1.2.3", &family, a);
	a[8] = 0x5a; /* junk past an IPv4 address must not survive as part of a key */
	cidr_mask(family, a, 20);
	ck_assert(a[0] == 10 && a[1] == 1 && a[2] == 0 && a[3] == 0);
	ck_assert_uint_eq(a[8], 0);
	peer("10.1.255.3", &family, a);
	cidr_mask(family, a, 20);
	ck_assert(a[1] == 1 && a[2] == 0xf0 && a[3] == 0);
	peer("10.1.2.3", &family, a);
	cidr_mask(family, a, 99); /* capped at 32: the address itself */
	ck_assert(a[0] == 10 && a[1] == 1 && a[2] == 2 && a[3] == 3);
	cidr_mask(family, a, 0);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(a[i], 0);

	peer("2001:db8:1:2:3:4:5:6", &family, a);
	cidr_mask(family, a, 64);
	ck_assert(a[0] == 0x20 && a[1] == 0x01 && a[7] == 0x02);
	for (int i = 8; i < 16; i++)
		ck_assert_uint_eq(a[i], 0);
	peer("2001:db8::ffff", &family, a);
	cidr_mask(family, a, 128);
	ck_assert(a[14] == 0xff && a[15] == 0xff);
}
END_TEST

START_TEST(format_truncates_safely)
{
	struct cidr c = parse_ok("2001:db8::/32"), junk = {.family = AF_UNIX};
	char small[6];
	char buf[64];

	cidr_format(&c, small, sizeof(small));
	ck_assert_str_eq(small, "2001:");
	cidr_format(&junk, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?/0");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("cidr");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, parse_forms);
	tcase_add_test(tc, host_bits_are_masked);
	tcase_add_test(tc, mapped_prefixes_become_ipv4);
	tcase_add_loop_test(tc, parse_rejects, 0, N(bad));
	tcase_add_test(tc, parse_null);
	tcase_add_test(tc, containment);
	tcase_add_test(tc, contains_hand_built);
	tcase_add_test(tc, mapped_peer_matches_ipv4_rules);
	tcase_add_test(tc, longest_match);
	tcase_add_test(tc, from_sockaddr);
	tcase_add_test(tc, masking);
	tcase_add_test(tc, format_truncates_safely);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
