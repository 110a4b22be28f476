/* The timeout FIFO: ascending keys whatever the insertion order, stable for equal keys,
 * removal anywhere. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "mpm/tp_fifo.h"

/* Walks the list both ways and checks the links, the order and the count. Plain tests
 * in the walk, ck_abort_msg on a fault: every passing ck_assert sends Check's parent
 * process a message, and the random test below walks 64 nodes 2000 times (that alone
 * took 4 s under the sanitizers). */
static void check_list(const struct tp_fifo *f)
{
	const struct tp_fifo_node *n, *prev = NULL;
	size_t count = 0;

	for (n = f->head; n; prev = n, n = n->next) {
		if (n->prev != prev)
			ck_abort_msg("node %zu: prev link broken", count);
		if (!n->linked)
			ck_abort_msg("node %zu: in the list but not marked linked", count);
		if (prev && prev->key > n->key)
			ck_abort_msg("node %zu: key %llu after %llu", count,
			             (unsigned long long)n->key, (unsigned long long)prev->key);
		count++;
	}
	ck_assert_ptr_eq(f->tail, prev);
	ck_assert_uint_eq(count, f->count);
}

START_TEST(empty)
{
	struct tp_fifo f = {0};
	struct tp_fifo_node n = {0};

	ck_assert_ptr_null(tp_fifo_first(&f));
	tp_fifo_remove(&f, &n); /* not linked: nothing happens */
	check_list(&f);
}
END_TEST

START_TEST(sorted_from_any_order)
{
	struct tp_fifo f = {0};
	struct tp_fifo_node n[6] = {{0}};
	const uint64_t keys[6] = {50, 10, 70, 60, 5, 70};

	for (int i = 0; i < 6; i++) {
		tp_fifo_insert(&f, &n[i], keys[i]);
		check_list(&f);
	}
	ck_assert_ptr_eq(tp_fifo_first(&f), &n[4]);
	/* Equal keys keep arrival order. */
	ck_assert_ptr_eq(f.tail, &n[5]);
	ck_assert_ptr_eq(n[5].prev, &n[2]);
}
END_TEST

START_TEST(remove_anywhere)
{
	struct tp_fifo f = {0};
	struct tp_fifo_node n[5] = {{0}};

	for (int i = 0; i < 5; i++)
		tp_fifo_insert(&f, &n[i], (uint64_t)i);
	tp_fifo_remove(&f, &n[2]); /* middle */
	check_list(&f);
	ck_assert(!n[2].linked);
	tp_fifo_remove(&f, &n[2]); /* twice: harmless */
	tp_fifo_remove(&f, &n[0]); /* head */
	tp_fifo_remove(&f, &n[4]); /* tail */
	check_list(&f);
	ck_assert_ptr_eq(tp_fifo_first(&f), &n[1]);
	ck_assert_ptr_eq(f.tail, &n[3]);
	/* A removed node can be filed again, here as the new oldest. */
	tp_fifo_insert(&f, &n[0], 0);
	ck_assert_ptr_eq(tp_fifo_first(&f), &n[0]);
	tp_fifo_remove(&f, &n[1]);
	tp_fifo_remove(&f, &n[3]);
	tp_fifo_remove(&f, &n[0]);
	ck_assert_ptr_null(tp_fifo_first(&f));
	ck_assert_uint_eq(f.count, 0);
	check_list(&f);
}
END_TEST

START_TEST(random_rekeys_stay_sorted)
{
	enum { N = 64, ROUNDS = 2000 };
	struct tp_fifo f = {0};
	struct tp_fifo_node n[N] = {{0}};
	unsigned seed = 12345;
	uint64_t now = 0;

	/* What the poller does: keys that mostly grow, re-filed when they change, heads
	 * removed when they expire. */
	for (int r = 0; r < ROUNDS; r++) {
		struct tp_fifo_node *x = &n[rand_r(&seed) % N];

		now += (uint64_t)(rand_r(&seed) % 3);
		tp_fifo_remove(&f, x);
		if (rand_r(&seed) % 4) {
			uint64_t back = (uint64_t)(rand_r(&seed) % 5); /* a little out of order */
			tp_fifo_insert(&f, x, now > back ? now - back : 0);
		}
		if (rand_r(&seed) % 8 == 0 && tp_fifo_first(&f))
			tp_fifo_remove(&f, tp_fifo_first(&f));
		check_list(&f);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tp_fifo");
	TCase *tc = tcase_create("tp_fifo");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, empty);
	tcase_add_test(tc, sorted_from_any_order);
	tcase_add_test(tc, remove_anywhere);
	tcase_add_test(tc, random_rekeys_stay_sorted);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
