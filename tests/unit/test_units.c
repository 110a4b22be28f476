/* The scalar parsers of superserverd/units.c: accepted forms, rejected forms, limits. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "superserverd/units.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SEC  USEC_PER_SEC
#define MS   USEC_PER_MSEC

static const struct {
	const char *in;
	int ret;
	uint64_t usec;
} durations[] = {
        {"500ms", 0, 500 * MS},
        {"30s", 0, 30 * SEC},
        {"5m", 0, 300 * SEC},
        {"1h", 0, 3600 * SEC},
        {"1d", 0, 86400 * SEC},
        {"10us", 0, 10},
        {"1.5s", 0, 1500 * MS},
        {"1.25ms", 0, 1250},
        {"0.5", 0, 500 * MS},
        {"2", 0, 2 * SEC},
        {"0", 0, 0},
        {"0s", 0, 0},
        {"2h30m", 0, 9000 * SEC},
        {"1m30s500ms", 0, 90500 * MS},
        {"0.0000001s", 0, 0}, /* below a microsecond */
        {"18446744073709s", 0, 18446744073709ULL * SEC},
        {"18446744073710s", -1, 0}, /* overflow in the multiplication */
        {"18446744073709551616", -1, 0},
        {"99999999999999999999999s", -1, 0},
        {"", -1, 0},
        {"-1s", -1, 0},
        {"+1s", -1, 0},
        {"1x", -1, 0},
        {"s", -1, 0},
        {"1.s", -1, 0},
        {".5s", -1, 0},
        {"1 s", -1, 0},
        {" 1s", -1, 0},
        {"1s ", -1, 0},
        {"30s5", -1, 0}, /* a bare number only on its own */
        {"1e3", -1, 0},
        {"5S", -1, 0},
        {"1.5.2s", -1, 0},
};

START_TEST(duration_table)
{
	uint64_t v = 12345;
	int r = units_parse_duration(durations[_i].in, &v);

	ck_assert_msg(r == durations[_i].ret, "'%s': got %d", durations[_i].in, r);
	if (r == 0)
		ck_assert_msg(v == durations[_i].usec, "'%s': got %llu", durations[_i].in,
		              (unsigned long long)v);
	else
		ck_assert_msg(v == 12345, "'%s': output written on failure", durations[_i].in);
}
END_TEST

START_TEST(duration_null)
{
	uint64_t v;
	ck_assert_int_eq(units_parse_duration(NULL, &v), -1);
}
END_TEST

static const struct {
	uint64_t usec;
	const char *out;
} formats[] = {
        {0, "0s"},           {1, "1us"},          {999, "999us"},
        {250 * MS, "250ms"}, {1500 * MS, "1.5s"}, {1000001, "1.000001s"},
        {30 * SEC, "30s"},   {90 * SEC, "90s"},   {300 * SEC, "5m"},
        {3600 * SEC, "1h"},  {5400 * SEC, "90m"}, {86400 * SEC, "1d"},
};

START_TEST(format_table)
{
	char buf[32];
	uint64_t back;

	units_format_duration(formats[_i].usec, buf, sizeof(buf));
	ck_assert_str_eq(buf, formats[_i].out);
	/* What we print, we read back. */
	ck_assert_int_eq(units_parse_duration(buf, &back), 0);
	ck_assert_uint_eq(back, formats[_i].usec);
}
END_TEST

START_TEST(format_truncates)
{
	char buf[3];
	units_format_duration(1500 * MS, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.");
}
END_TEST

START_TEST(uint_cases)
{
	uint64_t v = 7;

	ck_assert_int_eq(units_parse_uint("0", 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(units_parse_uint("10", 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(units_parse_uint("007", 10, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(units_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	ck_assert(v == UINT64_MAX);
	v = 3;
	ck_assert_int_eq(units_parse_uint("11", 10, &v), -1);
	ck_assert_int_eq(units_parse_uint("18446744073709551616", UINT64_MAX, &v), -1);
	ck_assert_int_eq(units_parse_uint("", 10, &v), -1);
	ck_assert_int_eq(units_parse_uint("-1", 10, &v), -1);
	ck_assert_int_eq(units_parse_uint("+1", 10, &v), -1);
	ck_assert_int_eq(units_parse_uint(" 1", 10, &v), -1);
	ck_assert_int_eq(units_parse_uint("1a", 10, &v), -1);
	ck_assert_int_eq(units_parse_uint("0x1", 10, &v), -1);
	ck_assert_int_eq(units_parse_uint(NULL, 10, &v), -1);
	ck_assert_uint_eq(v, 3);
}
END_TEST

START_TEST(int_cases)
{
	int64_t v = 7;

	ck_assert_int_eq(units_parse_int("-20", -20, 19, &v), 0);
	ck_assert_int_eq(v, -20);
	ck_assert_int_eq(units_parse_int("19", -20, 19, &v), 0);
	ck_assert_int_eq(v, 19);
	ck_assert_int_eq(units_parse_int("+3", -20, 19, &v), 0);
	ck_assert_int_eq(v, 3);
	ck_assert_int_eq(units_parse_int("-0", -20, 19, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(units_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(units_parse_int("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert(v == INT64_MAX);
	v = 5;
	ck_assert_int_eq(units_parse_int("9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
	ck_assert_int_eq(units_parse_int("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -1);
	ck_assert_int_eq(units_parse_int("-21", -20, 19, &v), -1);
	ck_assert_int_eq(units_parse_int("20", -20, 19, &v), -1);
	ck_assert_int_eq(units_parse_int("-", -20, 19, &v), -1);
	ck_assert_int_eq(units_parse_int("", -20, 19, &v), -1);
	ck_assert_int_eq(units_parse_int("1.0", -20, 19, &v), -1);
	ck_assert_int_eq(units_parse_int("--1", -20, 19, &v), -1);
	ck_assert_int_eq(v, 5);
}
END_TEST

static const struct {
	const char *in;
	int ret;
	uint64_t v;
} sizes[] = {
        {"0", 0, 0},
        {"512", 0, 512},
        {"1K", 0, 1024},
        {"1k", 0, 1024},
        {"64M", 0, 64ULL << 20},
        {"2G", 0, 2ULL << 30},
        {"16T", 0, 16ULL << 40},
        {"16777215T", 0, 16777215ULL << 40},
        {"16777216T", -1, 0}, /* 2^64 */
        {"unlimited", 0, UINT64_MAX},
        {"infinity", 0, UINT64_MAX},
        {"64MB", -1, 0},
        {"M", -1, 0},
        {"", -1, 0},
        {"-1", -1, 0},
        {"1.5M", -1, 0},
        {"Unlimited", -1, 0},
        {"1 K", -1, 0},
};

START_TEST(size_table)
{
	uint64_t v = 99;
	int r = units_parse_size(sizes[_i].in, &v);

	ck_assert_msg(r == sizes[_i].ret, "'%s': got %d", sizes[_i].in, r);
	ck_assert_msg(v == (r == 0 ? sizes[_i].v : 99), "'%s': got %llu", sizes[_i].in,
	              (unsigned long long)v);
}
END_TEST

START_TEST(bool_cases)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "YES", "on", "On"};
	static const char *const no[] = {"false", "False", "no", "NO", "off", "OFF"};
	static const char *const bad[] = {"", "1", "0", "y", "n", "maybe", "true ", "enable"};
	bool b;

	for (size_t i = 0; i < N(yes); i++) {
		b = false;
		ck_assert_int_eq(units_parse_bool(yes[i], &b), 0);
		ck_assert_msg(b, "%s", yes[i]);
	}
	for (size_t i = 0; i < N(no); i++) {
		b = true;
		ck_assert_int_eq(units_parse_bool(no[i], &b), 0);
		ck_assert_msg(!b, "%s", no[i]);
	}
	for (size_t i = 0; i < N(bad); i++)
		ck_assert_msg(units_parse_bool(bad[i], &b) == -1, "'%s' accepted", bad[i]);
	ck_assert_int_eq(units_parse_bool(NULL, &b), -1);
}
END_TEST

static const struct {
	const char *in;
	int ret;
	unsigned v;
} modes[] = {
        {"0022", 0, 022}, {"022", 0, 022},    {"0o22", 0, 022},   {"0O755", 0, 0755},
        {"660", 0, 0660}, {"0", 0, 0},        {"7777", 0, 07777}, {"07777", 0, 07777},
        {"10000", -1, 0}, {"0o10000", -1, 0}, {"8", -1, 0},       {"0o", -1, 0},
        {"", -1, 0},      {"0x1", -1, 0},     {"-1", -1, 0},      {"06 4", -1, 0},
};

START_TEST(mode_table)
{
	unsigned v = 01;
	int r = units_parse_mode(modes[_i].in, &v);

	ck_assert_msg(r == modes[_i].ret, "'%s': got %d", modes[_i].in, r);
	ck_assert_msg(v == (r == 0 ? modes[_i].v : 01), "'%s': got %o", modes[_i].in, v);
}
END_TEST

static const struct {
	const char *in;
	int cap;
} caps[] = {
        {"CAP_NET_BIND_SERVICE", 10},
        {"net_bind_service", 10},
        {"cap_net_bind_service", 10},
        {"Net_Bind_Service", 10},
        {"CAP_CHOWN", 0},
        {"chown", 0},
        {"CAP_SYS_ADMIN", 21},
        {"setuid", 7},
        {"nosuch", -1},
        {"CAP_NOSUCH", -1},
        {"10", -1}, /* libcap would take a number; we take names */
        {"CAP_10", -1},
        {"CAP_", -1},
        {"", -1},
        {"net bind service", -1},
        {"net-bind-service", -1},
};

START_TEST(capability_table)
{
	int cap = -7;
	int r = units_parse_capability(caps[_i].in, &cap);

	if (caps[_i].cap < 0) {
		ck_assert_msg(r == -1, "'%s' accepted as %d", caps[_i].in, cap);
		ck_assert_int_eq(cap, -7);
	} else {
		ck_assert_msg(r == 0, "'%s' rejected", caps[_i].in);
		ck_assert_int_eq(cap, caps[_i].cap);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("parsers");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, duration_table, 0, N(durations));
	tcase_add_test(tc, duration_null);
	tcase_add_loop_test(tc, format_table, 0, N(formats));
	tcase_add_test(tc, format_truncates);
	tcase_add_test(tc, uint_cases);
	tcase_add_test(tc, int_cases);
	tcase_add_loop_test(tc, size_table, 0, N(sizes));
	tcase_add_test(tc, bool_cases);
	tcase_add_loop_test(tc, mode_table, 0, N(modes));
	tcase_add_loop_test(tc, capability_table, 0, N(caps));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
