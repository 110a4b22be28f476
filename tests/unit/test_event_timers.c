/* The event model's deadline lists: order, re-arming on activity, removal, splicing,
 * and the conversion of a deadline into epoll_wait's timeout. */
#include <check.h>
#include <limits.h>

#include "mpm/event_timers.h"

START_TEST(empty)
{
	struct event_fifo f;

	event_fifo_init(&f, 1000);
	ck_assert(event_fifo_empty(&f));
	ck_assert_ptr_null(event_fifo_first(&f));
	ck_assert_ptr_null(event_fifo_expired(&f, UINT64_MAX));
	ck_assert(event_fifo_next(&f) == EVENT_NO_DEADLINE);
}
END_TEST

START_TEST(order_and_expiry)
{
	struct event_fifo f;
	struct event_link a = {0}, b = {0}, c = {0};

	event_fifo_init(&f, 300);
	event_fifo_touch(&f, &a, 100);
	event_fifo_touch(&f, &b, 150);
	event_fifo_touch(&f, &c, 200);
	ck_assert(event_link_linked(&a));
	ck_assert_uint_eq(a.at, 400);
	ck_assert_uint_eq(event_fifo_next(&f), 400);
	ck_assert_ptr_null(event_fifo_expired(&f, 399));
	ck_assert_ptr_eq(event_fifo_expired(&f, 400), &a);
	event_link_remove(&a);
	ck_assert(!event_link_linked(&a));
	/* Everything due at once comes out in deadline order. */
	ck_assert_ptr_eq(event_fifo_expired(&f, 1000), &b);
	event_link_remove(&b);
	ck_assert_ptr_eq(event_fifo_expired(&f, 1000), &c);
	event_link_remove(&c);
	ck_assert(event_fifo_empty(&f));
}
END_TEST

/* Activity moves an entry to the tail with a later deadline; the head is the next due. */
START_TEST(touch_moves_to_tail)
{
	struct event_fifo f;
	struct event_link a = {0}, b = {0};

	event_fifo_init(&f, 1000);
	event_fifo_touch(&f, &a, 0);
	event_fifo_touch(&f, &b, 10);
	event_fifo_touch(&f, &a, 20);
	ck_assert_ptr_eq(event_fifo_first(&f), &b);
	ck_assert_uint_eq(event_fifo_next(&f), 1010);
	ck_assert_uint_eq(a.at, 1020);
	event_link_remove(&b);
	ck_assert_ptr_eq(event_fifo_first(&f), &a);
	/* Touching the only entry keeps a well-formed one-element list. */
	event_fifo_touch(&f, &a, 30);
	ck_assert_ptr_eq(event_fifo_first(&f), &a);
	ck_assert_ptr_eq(a.next, &f.head);
	ck_assert_ptr_eq(a.prev, &f.head);
	event_link_remove(&a);
	ck_assert(event_fifo_empty(&f));
}
END_TEST

/* A clock read older than the tail's never puts an entry out of order. */
START_TEST(older_now_is_clamped)
{
	struct event_fifo f;
	struct event_link a = {0}, b = {0};

	event_fifo_init(&f, 100);
	event_fifo_touch(&f, &a, 50);
	event_fifo_touch(&f, &b, 40);
	ck_assert_uint_eq(b.at, 150);
	ck_assert_ptr_eq(event_fifo_first(&f), &a);
	ck_assert_ptr_null(event_fifo_expired(&f, 140));
}
END_TEST

START_TEST(remove_middle_and_twice)
{
	struct event_fifo f;
	struct event_link l[5] = {{0}};

	event_fifo_init(&f, 10);
	for (int i = 0; i < 5; i++)
		event_fifo_touch(&f, &l[i], (uint64_t)i);
	event_link_remove(&l[2]);
	event_link_remove(&l[2]); /* harmless */
	int want[] = {0, 1, 3, 4}, k = 0;
	for (struct event_link *p = f.head.next; p != &f.head; p = p->next)
		ck_assert_ptr_eq(p, &l[want[k++]]);
	ck_assert_int_eq(k, 4);
	/* Backwards too. */
	for (struct event_link *p = f.head.prev; p != &f.head; p = p->prev)
		ck_assert_ptr_eq(p, &l[want[--k]]);
}
END_TEST

START_TEST(period_zero_is_a_queue)
{
	struct event_fifo q;
	struct event_link a = {0}, b = {0};

	event_fifo_init(&q, 0);
	event_fifo_touch(&q, &a, 0);
	event_fifo_touch(&q, &b, 0);
	event_fifo_touch(&q, &a, 0); /* again: to the back */
	ck_assert_ptr_eq(event_fifo_first(&q), &b);
	ck_assert_ptr_eq(event_fifo_expired(&q, 0), &b);
}
END_TEST

START_TEST(splice)
{
	struct event_fifo dst, src;
	struct event_link a = {0}, b = {0}, c = {0};

	event_fifo_init(&dst, 0);
	event_fifo_init(&src, 0);
	event_fifo_splice(&dst, &src); /* empty into empty */
	ck_assert(event_fifo_empty(&dst));
	event_fifo_touch(&dst, &a, 0);
	event_fifo_touch(&src, &b, 0);
	event_fifo_touch(&src, &c, 0);
	event_fifo_splice(&dst, &src);
	ck_assert(event_fifo_empty(&src));
	ck_assert_ptr_eq(dst.head.next, &a);
	ck_assert_ptr_eq(a.next, &b);
	ck_assert_ptr_eq(b.next, &c);
	ck_assert_ptr_eq(c.next, &dst.head);
	ck_assert_ptr_eq(dst.head.prev, &c);
	ck_assert_ptr_eq(b.prev, &a);
	/* The source is usable again, and an entry moved out can be re-queued there. */
	event_link_remove(&b);
	event_fifo_touch(&src, &b, 0);
	ck_assert_ptr_eq(event_fifo_first(&src), &b);
	ck_assert_ptr_eq(a.next, &c);
}
END_TEST

START_TEST(huge_period_does_not_wrap)
{
	struct event_fifo f;
	struct event_link a = {0};

	event_fifo_init(&f, UINT64_MAX - 10);
	event_fifo_touch(&f, &a, 1000);
	ck_assert(a.at > 1000);
	ck_assert(a.at != EVENT_NO_DEADLINE);
}
END_TEST

START_TEST(timeout_ms)
{
	ck_assert_int_eq(event_timeout_ms(5, EVENT_NO_DEADLINE), -1);
	ck_assert_int_eq(event_timeout_ms(1000, 1000), 0);
	ck_assert_int_eq(event_timeout_ms(2000, 1000), 0);
	/* Rounded up: a wake before the deadline would find nothing due and spin. */
	ck_assert_int_eq(event_timeout_ms(1000, 1001), 1);
	ck_assert_int_eq(event_timeout_ms(0, 1000), 1);
	ck_assert_int_eq(event_timeout_ms(0, 1001), 2);
	ck_assert_int_eq(event_timeout_ms(0, 300000), 300);
	ck_assert_int_eq(event_timeout_ms(0, EVENT_NO_DEADLINE - 1), INT_MAX);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("event timers");
	TCase *tc = tcase_create("fifo");
	tcase_add_test(tc, empty);
	tcase_add_test(tc, order_and_expiry);
	tcase_add_test(tc, touch_moves_to_tail);
	tcase_add_test(tc, older_now_is_clamped);
	tcase_add_test(tc, remove_middle_and_twice);
	tcase_add_test(tc, period_zero_is_a_queue);
	tcase_add_test(tc, splice);
	tcase_add_test(tc, huge_period_does_not_wrap);
	tcase_add_test(tc, timeout_ms);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
