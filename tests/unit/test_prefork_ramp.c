/* The prefork pool's ramp: a pool that keeps running dry grows by doubling steps up to
 * the per-tick cap and max_workers, a pool left idle shrinks the same way down to
 * `start`, and a lull or a short burst only moves it by a step or two. */
#include <check.h>

#include "mpm/prefork_ramp.h"

/* The pool: the defaults, with max_workers raised to 256. */
static const struct prefork_bounds pool256 = {
        .start = 4, .min_spare = 2, .max_spare = 8, .max_workers = 256};

START_TEST(resting_pool_does_nothing)
{
	struct prefork_ramp r = {0};
	struct prefork_step s = prefork_ramp_step(&r, &pool256, 4, 4, 0);
	ck_assert_uint_eq(s.spawn, 0);
	ck_assert_uint_eq(s.retire, 0);
	ck_assert(!s.at_max);
	ck_assert_uint_eq(r.spawn_rate, 0);
	ck_assert_uint_eq(r.retire_rate, 0);
}
END_TEST

START_TEST(first_short_tick_starts_the_deficit)
{
	struct prefork_ramp r = {0};
	struct prefork_bounds b = pool256;
	b.min_spare = 5;
	struct prefork_step s = prefork_ramp_step(&r, &b, 4, 1, 0);
	ck_assert_uint_eq(s.spawn, 4);
	ck_assert(!s.at_max);
}
END_TEST

/* Every process is taken as soon as it starts (slow clients): idle stays 0. */
static unsigned ticks_to_fill(const struct prefork_bounds *b, unsigned running, unsigned *most)
{
	struct prefork_ramp r = {0};
	unsigned ticks = 0;
	*most = 0;
	while (running < b->max_workers && ticks < 10000) {
		struct prefork_step s = prefork_ramp_step(&r, b, running, 0, 0);
		ck_assert_uint_eq(s.retire, 0);
		if (s.spawn > *most)
			*most = s.spawn;
		running += s.spawn;
		ck_assert_uint_le(running, b->max_workers);
		ticks++;
	}
	return ticks;
}

START_TEST(drained_pool_doubles_to_the_cap)
{
	struct prefork_ramp r = {0};
	static const unsigned want[] = {2, 2, 4, 8, 16, 32, 64, 64, 60};
	unsigned running = 4;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct prefork_step s = prefork_ramp_step(&r, &pool256, running, 0, 0);
		ck_assert_msg(s.spawn == want[i], "tick %u: started %u, expected %u", i, s.spawn,
		              want[i]);
		running += s.spawn;
	}
	ck_assert_uint_eq(running, 256); /* the last step only fills what is left */
}
END_TEST

START_TEST(reaches_max_workers_within_ticks)
{
	unsigned most;
	/* 2 a tick (the old behaviour) would take 126 ticks. */
	ck_assert_uint_le(ticks_to_fill(&pool256, 4, &most), 10);
	ck_assert_uint_eq(most, PREFORK_RAMP_MAX);
	struct prefork_bounds big = pool256;
	big.max_workers = 4096;
	ck_assert_uint_le(ticks_to_fill(&big, 4, &most), 4096 / PREFORK_RAMP_MAX + 8);
	ck_assert_uint_le(most, PREFORK_RAMP_MAX);
}
END_TEST

START_TEST(bounded_by_max_workers)
{
	struct prefork_ramp r = {.spawn_rate = PREFORK_RAMP_MAX};
	struct prefork_step s = prefork_ramp_step(&r, &pool256, 250, 0, 0);
	ck_assert_uint_eq(s.spawn, 6);
	ck_assert(!s.at_max);
	s = prefork_ramp_step(&r, &pool256, 256, 0, 0);
	ck_assert_uint_eq(s.spawn, 0);
	ck_assert(s.at_max);
	ck_assert_uint_eq(r.spawn_rate, PREFORK_RAMP_MAX);
}
END_TEST

START_TEST(a_large_deficit_is_capped_per_tick)
{
	struct prefork_ramp r = {0};
	struct prefork_bounds b = {
	        .start = 1, .min_spare = 1000, .max_spare = 1000, .max_workers = 4096};
	struct prefork_step s = prefork_ramp_step(&r, &b, 1, 0, 0);
	ck_assert_uint_eq(s.spawn, PREFORK_RAMP_MAX);
}
END_TEST

START_TEST(spares_again_resets_the_rate)
{
	struct prefork_ramp r = {0};
	unsigned running = 4;
	for (int i = 0; i < 5; i++)
		running += prefork_ramp_step(&r, &pool256, running, 0, 0).spawn;
	ck_assert_uint_gt(r.spawn_rate, 8);
	(void)prefork_ramp_step(&r, &pool256, running, 3, 0);
	ck_assert_uint_eq(r.spawn_rate, 0);
	/* The next shortage starts small again. */
	ck_assert_uint_eq(prefork_ramp_step(&r, &pool256, running, 1, 0).spawn, 1);
}
END_TEST

START_TEST(refills_to_start_at_once)
{
	struct prefork_ramp r = {0};
	struct prefork_bounds b = pool256;
	b.start = 10;
	/* Recycled processes: 3 left, all idle. The floor comes back in one tick. */
	struct prefork_step s = prefork_ramp_step(&r, &b, 3, 3, 0);
	ck_assert_uint_eq(s.spawn, 7);
	ck_assert_uint_eq(r.spawn_rate, 0);
}
END_TEST

/* A floor above the cap comes back a cap per tick, growth for missing spares included. */
START_TEST(refill_to_start_is_capped_per_tick)
{
	struct prefork_ramp r = {0};
	struct prefork_bounds b = {
	        .start = 200, .min_spare = 2, .max_spare = 300, .max_workers = 256};
	unsigned running = 0, ticks = 0;
	while (running < b.start && ticks < 100) {
		struct prefork_step s = prefork_ramp_step(&r, &b, running, 0, 0);
		ck_assert_uint_le(s.spawn, PREFORK_RAMP_MAX);
		ck_assert_uint_gt(s.spawn, 0);
		running += s.spawn;
		ticks++;
	}
	ck_assert_uint_eq(ticks, (200 + PREFORK_RAMP_MAX - 1) / PREFORK_RAMP_MAX);
	/* Short of spares and of the floor at once: still one cap in all. */
	r = (struct prefork_ramp){.spawn_rate = PREFORK_RAMP_MAX};
	b.min_spare = 100;
	ck_assert_uint_eq(prefork_ramp_step(&r, &b, 190, 0, 0).spawn, PREFORK_RAMP_MAX);
}
END_TEST

/* Leaving processes hold their slots until they are gone, but not the floor. */
START_TEST(leaving_processes_hold_slots_not_the_floor)
{
	struct prefork_ramp r = {0};
	struct prefork_bounds b = {.start = 10, .min_spare = 0, .max_spare = 64, .max_workers = 12};
	/* 10 running, 4 of them leaving: 4 more to keep 10, but only 2 slots are free. */
	struct prefork_step s = prefork_ramp_step(&r, &b, 10, 6, 4);
	ck_assert_uint_eq(s.spawn, 2);
	b.min_spare = 2;
	s = prefork_ramp_step(&r, &b, 12, 0, 2);
	ck_assert_uint_eq(s.spawn, 0);
	ck_assert(s.at_max);
}
END_TEST

START_TEST(attack_over_shrinks_by_doubling_to_start)
{
	struct prefork_ramp r = {0};
	unsigned running = 256, ticks = 0, retired = 0;
	static const unsigned want[] = {1, 2, 4, 8, 16, 32, 64};
	while (ticks < 1000) {
		/* Everything is idle once the slow clients are gone. */
		struct prefork_step s = prefork_ramp_step(&r, &pool256, running, running, 0);
		ck_assert_uint_eq(s.spawn, 0);
		if (ticks < sizeof(want) / sizeof(want[0]))
			ck_assert_uint_eq(s.retire, want[ticks]);
		ck_assert_uint_le(s.retire, PREFORK_RAMP_MAX);
		if (!s.retire)
			break;
		running -= s.retire;
		retired += s.retire;
		ck_assert_uint_ge(running, pool256.start);
		ticks++;
	}
	/* Down to max_spare idle processes (8), never below start (4). */
	ck_assert_uint_eq(running, 8);
	ck_assert_uint_eq(retired, 248);
	ck_assert_uint_le(ticks, 10);
}
END_TEST

/* Never below `start`, counting only the processes that stay. */
START_TEST(never_below_start)
{
	struct prefork_ramp r = {.retire_rate = PREFORK_RAMP_MAX};
	struct prefork_bounds b = {.start = 20, .min_spare = 0, .max_spare = 1, .max_workers = 64};
	ck_assert_uint_eq(prefork_ramp_step(&r, &b, 24, 24, 0).retire, 4);
	/* Exits are slow: the 4 are still running (not idle), and 20 stay: `start`. */
	ck_assert_uint_eq(prefork_ramp_step(&r, &b, 24, 20, 4).retire, 0);
	ck_assert_uint_eq(prefork_ramp_step(&r, &b, 20, 20, 0).retire, 0);
	ck_assert_uint_eq(r.retire_rate, 0);
	/* Only what would stay above `start` is surplus. */
	r.retire_rate = PREFORK_RAMP_MAX;
	ck_assert_uint_eq(prefork_ramp_step(&r, &b, 30, 26, 4).retire, 6);
}
END_TEST

START_TEST(a_lull_costs_a_step)
{
	struct prefork_ramp r = {0};
	/* One tick with surplus, then busy again: one retired, the rate starts over. */
	ck_assert_uint_eq(prefork_ramp_step(&r, &pool256, 64, 20, 0).retire, 1);
	ck_assert_uint_eq(prefork_ramp_step(&r, &pool256, 63, 5, 0).retire, 0);
	ck_assert_uint_eq(r.retire_rate, 0);
	ck_assert_uint_eq(prefork_ramp_step(&r, &pool256, 63, 20, 0).retire, 1);
	/* Short of spares: growing wins, and the surplus count starts over. */
	ck_assert_uint_eq(prefork_ramp_step(&r, &pool256, 62, 0, 0).retire, 0);
	ck_assert_uint_eq(r.retire_rate, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("prefork_ramp");
	TCase *tc = tcase_create("ramp");
	tcase_add_test(tc, resting_pool_does_nothing);
	tcase_add_test(tc, first_short_tick_starts_the_deficit);
	tcase_add_test(tc, drained_pool_doubles_to_the_cap);
	tcase_add_test(tc, reaches_max_workers_within_ticks);
	tcase_add_test(tc, bounded_by_max_workers);
	tcase_add_test(tc, a_large_deficit_is_capped_per_tick);
	tcase_add_test(tc, spares_again_resets_the_rate);
	tcase_add_test(tc, refills_to_start_at_once);
	tcase_add_test(tc, refill_to_start_is_capped_per_tick);
	tcase_add_test(tc, leaving_processes_hold_slots_not_the_floor);
	tcase_add_test(tc, attack_over_shrinks_by_doubling_to_start);
	tcase_add_test(tc, never_below_start);
	tcase_add_test(tc, a_lull_costs_a_step);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
