/* Failure episodes (superserverd/watch.c): a run of increases is one episode, reported
 * once when it begins (with the first second's count) and once when a look finds no
 * increase (with the total and how long it lasted); a counter that does not move says
 * nothing. */
#include <check.h>

#include "superserverd/watch.h"

#define SEC 1000000ull

START_TEST(one_episode_one_begin_one_end)
{
	struct watch_episode e = {0};
	uint64_t n = 0, usec = 0;

	ck_assert_int_eq(watch_episode_look(&e, 0, 1 * SEC, &n, &usec), WATCH_QUIET);
	ck_assert_int_eq(watch_episode_look(&e, 3, 2 * SEC, &n, &usec), WATCH_BEGAN);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(watch_episode_look(&e, 10, 3 * SEC, &n, &usec), WATCH_GOING);
	ck_assert_int_eq(watch_episode_look(&e, 1010, 4 * SEC, &n, &usec), WATCH_GOING);
	ck_assert_int_eq(watch_episode_look(&e, 1010, 5 * SEC, &n, &usec), WATCH_ENDED);
	ck_assert_uint_eq(n, 1010);
	ck_assert_uint_eq(usec, 3 * SEC);
	ck_assert_int_eq(watch_episode_look(&e, 1010, 6 * SEC, &n, &usec), WATCH_QUIET);
	/* The next increase is a new episode, counted from where the last one ended. */
	ck_assert_int_eq(watch_episode_look(&e, 1011, 7 * SEC, &n, &usec), WATCH_BEGAN);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(watch_episode_look(&e, 1011, 8 * SEC, &n, &usec), WATCH_ENDED);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(usec, 1 * SEC);
}
END_TEST

/* A monotonic clock may read 0 at the first look: the episode still begins. */
START_TEST(begins_at_time_zero)
{
	struct watch_episode e = {0};
	uint64_t n = 0, usec = 0;

	ck_assert_int_eq(watch_episode_look(&e, 1, 0, &n, &usec), WATCH_BEGAN);
	ck_assert_int_eq(watch_episode_look(&e, 1, SEC, &n, &usec), WATCH_ENDED);
	ck_assert_uint_eq(n, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("episodes");
	tcase_add_test(tc, one_episode_one_begin_one_end);
	tcase_add_test(tc, begins_at_time_zero);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
