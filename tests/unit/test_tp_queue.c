/* The threadpool's bounded hand-off queue: order, bounds, close, and many threads. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "mpm/tp_queue.h"

#define ITEM(i) ((void *)(uintptr_t)(i))

START_TEST(zero_capacity_refused)
{
	struct tp_queue q;

	ck_assert_int_eq(tp_queue_init(&q, 0), -EINVAL);
	tp_queue_destroy(&q); /* harmless after a failed init */
}
END_TEST

START_TEST(fifo_and_bounds)
{
	struct tp_queue q;

	ck_assert_int_eq(tp_queue_init(&q, 3), 0);
	ck_assert_ptr_null(tp_queue_trypop(&q));
	ck_assert_int_eq(tp_queue_push(&q, ITEM(1)), 1); /* was empty: wake the consumer */
	ck_assert_int_eq(tp_queue_push(&q, ITEM(2)), 0);
	ck_assert_int_eq(tp_queue_push(&q, ITEM(3)), 0);
	ck_assert_int_eq(tp_queue_push(&q, ITEM(4)), -EAGAIN);
	ck_assert_ptr_eq(tp_queue_pop(&q), ITEM(1));
	/* Wraps around the end of the ring and keeps the order. */
	ck_assert_int_eq(tp_queue_push(&q, ITEM(4)), 0);
	ck_assert_ptr_eq(tp_queue_trypop(&q), ITEM(2));
	ck_assert_ptr_eq(tp_queue_pop(&q), ITEM(3));
	ck_assert_ptr_eq(tp_queue_pop(&q), ITEM(4));
	ck_assert_ptr_null(tp_queue_trypop(&q));
	ck_assert_int_eq(tp_queue_push(&q, ITEM(5)), 1);
	tp_queue_destroy(&q);
}
END_TEST

START_TEST(close_drains_then_ends)
{
	struct tp_queue q;

	ck_assert_int_eq(tp_queue_init(&q, 4), 0);
	ck_assert_int_eq(tp_queue_push(&q, ITEM(7)), 1);
	tp_queue_close(&q);
	ck_assert_int_eq(tp_queue_push(&q, ITEM(8)), -EPIPE);
	ck_assert_ptr_eq(tp_queue_pop(&q), ITEM(7)); /* queued before the close: still served */
	ck_assert_ptr_null(tp_queue_pop(&q));        /* closed and empty: does not wait */
	tp_queue_destroy(&q);
}
END_TEST

struct consumer {
	struct tp_queue *q;
	pthread_t th;
	uint64_t sum;
	unsigned count;
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	void *item;

	while ((item = tp_queue_pop(c->q))) {
		c->sum += (uintptr_t)item;
		c->count++;
	}
	return NULL;
}

static void join_within(pthread_t th, int seconds)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec += seconds;
	ck_assert_int_eq(pthread_timedjoin_np(th, NULL, &ts), 0);
}

START_TEST(close_wakes_waiting_consumers)
{
	struct tp_queue q;
	struct consumer c[3];

	ck_assert_int_eq(tp_queue_init(&q, 2), 0);
	for (int i = 0; i < 3; i++) {
		c[i] = (struct consumer){.q = &q};
		ck_assert_int_eq(pthread_create(&c[i].th, NULL, consume, &c[i]), 0);
	}
	/* Whether or not they are already asleep in pop(), close must end them all. */
	tp_queue_close(&q);
	for (int i = 0; i < 3; i++) {
		join_within(c[i].th, 10);
		ck_assert_uint_eq(c[i].count, 0);
	}
	tp_queue_destroy(&q);
}
END_TEST

START_TEST(many_consumers_each_item_once)
{
	enum { N = 200000, CONSUMERS = 4 };
	struct tp_queue q;
	struct consumer c[CONSUMERS];
	uint64_t sum = 0;
	unsigned count = 0;
	time_t give_up = time(NULL) + 60;

	ck_assert_int_eq(tp_queue_init(&q, 16), 0);
	for (int i = 0; i < CONSUMERS; i++) {
		c[i] = (struct consumer){.q = &q};
		ck_assert_int_eq(pthread_create(&c[i].th, NULL, consume, &c[i]), 0);
	}
	for (uintptr_t i = 1; i <= N; i++) {
		int r;
		/* Full: the consumers are behind. Bounded in time, not in tries. */
		while ((r = tp_queue_push(&q, ITEM(i))) == -EAGAIN) {
			ck_assert(time(NULL) < give_up);
			sched_yield();
		}
		ck_assert_int_ge(r, 0);
	}
	tp_queue_close(&q);
	for (int i = 0; i < CONSUMERS; i++) {
		join_within(c[i].th, 60);
		sum += c[i].sum;
		count += c[i].count;
	}
	ck_assert_uint_eq(count, N);
	ck_assert(sum == (uint64_t)N * (N + 1) / 2);
	tp_queue_destroy(&q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tp_queue");
	TCase *tc = tcase_create("tp_queue");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, zero_capacity_refused);
	tcase_add_test(tc, fifo_and_bounds);
	tcase_add_test(tc, close_drains_then_ends);
	tcase_add_test(tc, close_wakes_waiting_consumers);
	tcase_add_test(tc, many_consumers_each_item_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
