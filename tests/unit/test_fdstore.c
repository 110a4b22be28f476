/* fd-store names: every address key survives the round trip, the encoded form has only
 * what systemd accepts in FDNAME= (no ':' or control characters, at most 255 bytes), and
 * names that are not ours (a .socket unit's, the control socket's, malformed) decode to
 * nothing. */
#include <check.h>
#include <string.h>

#include "superserverd/fdstore.h"

static void round_trip(const char *key)
{
	char name[FDSTORE_NAME_MAX + 1], back[512];

	ck_assert_int_eq(fdstore_name_encode(key, name, sizeof(name)), 0);
	ck_assert_uint_le(strlen(name), FDSTORE_NAME_MAX);
	for (const char *p = name; *p; p++)
		ck_assert_msg(*p != ':' && *p > ' ' && *p < 127, "bad byte in %s", name);
	ck_assert_int_eq(fdstore_name_decode(name, back, sizeof(back)), 0);
	ck_assert_str_eq(back, key);
}

START_TEST(keys_round_trip)
{
	round_trip("127.0.0.1:7");
	round_trip("[::1]:8080");
	round_trip("[fe80::1%eth0]:22");
	round_trip("unix:/run/superserverd/echo.sock");
	round_trip("unix:/tmp/with space:and%percent");
	round_trip("unix:/tmp/\xc3\xa9t\xc3\xa9");
}
END_TEST

START_TEST(known_encoding)
{
	char name[FDSTORE_NAME_MAX + 1];
	ck_assert_int_eq(fdstore_name_encode("127.0.0.1:7007", name, sizeof(name)), 0);
	ck_assert_str_eq(name, "ssd-127.0.0.1%3A7007");
}
END_TEST

START_TEST(too_long_is_refused)
{
	char key[200], name[FDSTORE_NAME_MAX + 1];
	/* 100 colons need 300 bytes encoded: over systemd's limit. */
	memset(key, ':', 100);
	key[100] = '\0';
	memset(name, 'x', sizeof(name));
	ck_assert_int_eq(fdstore_name_encode(key, name, sizeof(name)), -1);
	/* Nothing half written is left for a caller that keeps the name to look at. */
	ck_assert_str_eq(name, "");
	/* A small buffer is never overrun. */
	memset(name, 'x', sizeof(name));
	ck_assert_int_eq(fdstore_name_encode("127.0.0.1:7", name, 8), -1);
	ck_assert_str_eq(name, "");
	for (size_t i = 8; i < sizeof(name); i++)
		ck_assert_int_eq(name[i], 'x');
}
END_TEST

START_TEST(foreign_names)
{
	char key[256];
	ck_assert_int_eq(fdstore_name_decode("echo", key, sizeof(key)), -1);
	ck_assert_int_eq(fdstore_name_decode(FDSTORE_CONTROL, key, sizeof(key)), -1);
	ck_assert_int_eq(fdstore_name_decode("ssd-", key, sizeof(key)), -1);
	ck_assert_int_eq(fdstore_name_decode("ssd-a%3", key, sizeof(key)), -1);
	ck_assert_int_eq(fdstore_name_decode("ssd-a%zz", key, sizeof(key)), -1);
	ck_assert_int_eq(fdstore_name_decode("ssd-a%00b", key, sizeof(key)), -1);
	ck_assert_int_eq(fdstore_name_decode("ssd-a b", key, sizeof(key)), -1);
	ck_assert_int_eq(fdstore_name_decode("ssd-127.0.0.1%3a7", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "127.0.0.1:7");
	/* Decoding into a small buffer fails instead of truncating. */
	ck_assert_int_eq(fdstore_name_decode("ssd-127.0.0.1%3A7", key, 5), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fdstore");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, keys_round_trip);
	tcase_add_test(tc, known_encoding);
	tcase_add_test(tc, too_long_is_refused);
	tcase_add_test(tc, foreign_names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
