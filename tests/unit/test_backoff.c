/* Restart backoff: delays double from the minimum to the cap, a healthy life resets
 * the count, and too many early deaths in a row give up. */
#include <check.h>

#include "superserverd/backoff.h"

START_TEST(doubles_then_fails)
{
	struct backoff b = {0};
	uint64_t d, want = BACKOFF_MIN_USEC;
	for (int i = 0; i < BACKOFF_MAX_FAILURES; i++) {
		ck_assert(backoff_next(&b, 1000, &d));
		ck_assert_uint_eq(d, want > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC : want);
		want *= 2;
	}
	ck_assert(!backoff_next(&b, 1000, &d));
}
END_TEST

START_TEST(healthy_life_resets)
{
	struct backoff b = {0};
	uint64_t d;
	for (int i = 0; i < BACKOFF_MAX_FAILURES; i++)
		ck_assert(backoff_next(&b, 0, &d));
	/* A process that ran long enough was healthy: its death starts over. */
	ck_assert(backoff_next(&b, BACKOFF_HEALTHY_USEC, &d));
	ck_assert_uint_eq(d, BACKOFF_MIN_USEC);
	ck_assert_uint_eq(b.failures, 1);
	backoff_reset(&b);
	ck_assert_uint_eq(b.failures, 0);
}
END_TEST

START_TEST(capped)
{
	struct backoff b = {.failures = 0};
	uint64_t d = 0;
	/* Many healthy restarts never exceed the first delay; the cap bounds the rest. */
	for (int i = 0; i < 100; i++)
		ck_assert(backoff_next(&b, BACKOFF_HEALTHY_USEC * 2, &d));
	ck_assert_uint_eq(d, BACKOFF_MIN_USEC);
	ck_assert_uint_le(BACKOFF_MIN_USEC << (BACKOFF_MAX_FAILURES - 1), BACKOFF_MAX_USEC * 1000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("backoff");
	tcase_add_test(tc, doubles_then_fails);
	tcase_add_test(tc, healthy_life_resets);
	tcase_add_test(tc, capped);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
