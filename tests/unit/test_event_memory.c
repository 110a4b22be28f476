/*
 * The event worker gives memory back after a burst: the record pool frees its empty
 * slabs (never one whose record is in use or still in the graveyard), the release waits
 * for the fall to settle and is rate-limited, and a worker that served a few hundred
 * clients that never read comes back near its idle PSS once they are gone.
 */
#include <stdio.h>

#include "mpm/event_loop.h"
#include "services/builtin_handlers.h"
#include "tests/unit/event_harness.h"

/* Sanitizer allocators keep freed memory in quarantine: PSS cannot come back there. */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#ifndef ASAN_BUILD
#define ASAN_BUILD 0
#endif

enum { RECORDS_PER_SLAB = 64 };

START_TEST(shrink_frees_only_empty_slabs)
{
	struct event_loop l = {.name = "t"};
	struct event_conn *recs[200];

	for (int i = 0; i < 200; i++)
		ck_assert_ptr_nonnull(recs[i] = event_pool_get(&l));
	ck_assert_uint_eq(l.n_slabs, 4);
	ck_assert_uint_eq(l.pool_used, 200);
	ck_assert_uint_eq(l.pool_peak, 200);
	/* The first and the last record stay: two slabs can go. */
	for (int i = 1; i < 199; i++)
		event_pool_bury(&l, recs[i]);
	ck_assert_uint_eq(l.pool_used, 2);
	ck_assert_uint_eq(event_pool_shrink(&l), 0); /* graveyard not empty yet */
	event_pool_recycle(&l);
	ck_assert_uint_eq(event_pool_shrink(&l), 2);
	ck_assert_uint_eq(l.n_slabs, 2);
	/* The free list holds exactly the kept slabs' free records. */
	for (int i = 0; i < 2 * RECORDS_PER_SLAB - 2; i++)
		ck_assert_ptr_nonnull(recs[i + 1] = event_pool_get(&l));
	ck_assert_ptr_null(l.free_list);
	ck_assert_uint_eq(l.n_slabs, 2);
	ck_assert_ptr_nonnull(recs[2 * RECORDS_PER_SLAB - 1] = event_pool_get(&l));
	ck_assert_uint_eq(l.n_slabs, 3);
	for (int i = 0; i < 2 * RECORDS_PER_SLAB; i++)
		event_pool_bury(&l, recs[i]);
	event_pool_bury(&l, recs[199]);
	ck_assert_uint_eq(l.pool_used, 0);
	ck_assert_uint_eq(event_pool_shrink(&l), 0);
	event_pool_recycle(&l);
	ck_assert_uint_eq(event_pool_shrink(&l), 3);
	ck_assert_uint_eq(l.n_slabs, 0);
	ck_assert_ptr_null(l.free_list);
	event_pool_free(&l);
}
END_TEST

START_TEST(burst_over_needs_a_fall)
{
	ck_assert(!event_mem_burst_over(0, 0));
	ck_assert(!event_mem_burst_over(0, 63)); /* too few gone */
	ck_assert(event_mem_burst_over(0, 64));
	ck_assert(event_mem_burst_over(500, 2000));   /* a quarter left */
	ck_assert(!event_mem_burst_over(501, 2000));  /* more than a quarter */
	ck_assert(!event_mem_burst_over(2000, 2000)); /* steady */
}
END_TEST

enum { SEC = 1000000 };

START_TEST(release_settles_and_is_rate_limited)
{
	struct event_loop l = {.name = "t", .pool_peak = 2000};
	const uint64_t t = 100 * (uint64_t)SEC;

	for (unsigned i = 0; i < 3; i++) {
		l.spare[i].buf = malloc(4096);
		l.spare[i].cap = 4096;
	}
	l.n_spare = 3;
	event_mem_step(&l, t);
	ck_assert_uint_eq(event_mem_next_deadline(&l), t + SEC);
	event_mem_step(&l, t + SEC / 2);
	ck_assert_uint_eq(l.pool_peak, 2000); /* not yet */
	ck_assert_uint_eq(l.n_spare, 3);
	event_mem_step(&l, t + SEC);
	ck_assert_uint_eq(l.pool_peak, 0); /* released: the peak starts again */
	ck_assert_uint_eq(l.n_spare, 0);
	ck_assert_uint_eq(event_mem_next_deadline(&l), EVENT_NO_DEADLINE);

	/* Another burst right after: the release waits for the interval. */
	l.pool_peak = 2000;
	event_mem_step(&l, t + SEC + SEC / 10);
	ck_assert_uint_eq(event_mem_next_deadline(&l), t + 3 * SEC);
	/* Connections come back before it is due: nothing is released. */
	l.pool_used = 1000;
	event_mem_step(&l, t + 2 * SEC);
	ck_assert_uint_eq(event_mem_next_deadline(&l), EVENT_NO_DEADLINE);
	event_mem_step(&l, t + 4 * SEC);
	ck_assert_uint_eq(l.pool_peak, 2000);
}
END_TEST

static long pss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

enum { BURST = 300 };

/* chargen to clients that never read: each connection's output buffer fills (32 KiB).
 * Once they leave, the worker's PSS falls back to near its idle figure. */
START_TEST(burst_of_non_readers_gives_memory_back)
{
	struct worker w;
	struct setup su = {.handler = &builtin_chargen};
	int fds[BURST], small = 4096;
	char buf[64];

	if (access("/proc/self/smaps_rollup", R_OK) != 0) {
		fprintf(stderr, "SKIP burst_of_non_readers_gives_memory_back: no smaps_rollup\n");
		return;
	}
	start(&w, &su);
	long base = pss_kib(w.pid);
	ck_assert_int_gt(base, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)w.port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < BURST; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
		                 0);
		ck_assert_int_eq(connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	ck_assert(WAIT_FOR(atomic_load(&w.sb->slots[0].active) == BURST, 20000));
	/* At least 8 KiB of buffered output per connection (32 KiB once the socket is full). */
	long peak = 0;
	ck_assert_msg(WAIT_FOR((peak = pss_kib(w.pid)) >= base + BURST * 8, 30000),
	              "PSS %ld KiB, idle %ld KiB: the buffers did not fill", peak, base);
	for (int i = 0; i < BURST; i++)
		close(fds[i]);
	ck_assert(WAIT_FOR(atomic_load(&w.sb->slots[0].active) == 0, 20000));
	if (ASAN_BUILD) {
		fprintf(stderr, "burst_of_non_readers_gives_memory_back: PSS not checked under "
		                "the sanitizer (its allocator keeps freed memory)\n");
	} else {
		long now = 0;
		/* Back to within a quarter of the growth: without the release it stays at the
		 * peak (glibc keeps the freed buffers beneath the records' slabs). */
		ck_assert_msg(WAIT_FOR((now = pss_kib(w.pid)) <= base + (peak - base) / 4, 20000),
		              "PSS idle %ld KiB, peak %ld KiB, %ld KiB after the clients left",
		              base, peak, now);
	}
	/* The worker still serves after its pool and spares were freed. */
	int fd = connect_to(&w);
	read_exact(fd, buf, sizeof(buf), 5000);
	ck_assert_int_eq(buf[0], ' ');
	close(fd);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("event memory");
	TCase *tc = tcase_create("memory");
	tcase_add_test(tc, shrink_frees_only_empty_slabs);
	tcase_add_test(tc, burst_over_needs_a_fall);
	tcase_add_test(tc, release_settles_and_is_rate_limited);
	tcase_add_test(tc, burst_of_non_readers_gives_memory_back);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
