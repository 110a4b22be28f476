/* The threadpool's bounded hand-off queue: order, bounds, close, many threads, and the
 * lazy wake-ups (offer, watch, wait_drained). */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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

#define SECOND 1000000ull /* usec */

/* Joins th, failing the test if it has not ended within USEC. */
static void join_by(pthread_t th, uint64_t usec)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	usec += (uint64_t)ts.tv_nsec / 1000u;
	ts.tv_sec += (time_t)(usec / 1000000);
	ts.tv_nsec = (long)(usec % 1000000) * 1000;
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
		join_by(c[i].th, 10 * SECOND);
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
		join_by(c[i].th, 60 * SECOND);
		sum += c[i].sum;
		count += c[i].count;
	}
	ck_assert_uint_eq(count, N);
	ck_assert(sum == (uint64_t)N * (N + 1) / 2);
	tp_queue_destroy(&q);
}
END_TEST

/*
 * The lazy wake-ups (offer, watch, wait_drained). Time is the caller's: most tests pass
 * made-up instants, so "patience has run out" is exact. Consumers here are holders:
 * each keeps what it took until the test opens the gate, so a woken consumer never goes
 * back to sleep behind the test's back and n_sleeping (read under the queue's lock)
 * counts exactly the consumers nobody woke.
 */

#define PATIENCE  1000          /* usec, as the threadpool's */
#define LONG_WAIT (20 * SECOND) /* a bound only a broken queue reaches, even loaded */
/* A wait_drained deadline that cannot come first: ending before LONG_WAIT tells that
 * it ended for its reason (drained, closed), not at its deadline. */
#define FAR_DEADLINE (120 * SECOND)
#define MAX_HOLD     8
#define MAX_TAKES    16
#define SOME_TIME    5000000 /* a made-up monotonic instant (usec) */

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct timespec mono_ts(uint64_t usec)
{
	return (struct timespec){.tv_sec = (time_t)(usec / 1000000),
	                         .tv_nsec = (long)(usec % 1000000) * 1000};
}

static void cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	ck_assert_int_eq(pthread_condattr_init(&ca), 0);
	ck_assert_int_eq(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
	ck_assert_int_eq(pthread_cond_init(cv, &ca), 0);
	pthread_condattr_destroy(&ca);
}

struct rig;

struct holder {
	struct rig *r;
	pthread_t th;
	unsigned id;       /* in the order the holders fell asleep */
	unsigned n;        /* items taken */
	uint64_t first_at; /* monotonic usec of the first take */
	bool ended;        /* pop returned NULL */
};

struct rig {
	struct tp_queue q;
	pthread_mutex_t m;
	pthread_cond_t cv; /* monotonic: a take, or the gate opening */
	bool open;         /* the gate: holders keep what they took until then */
	unsigned taken;
	unsigned who[MAX_TAKES]; /* holder of each take, in order */
	void *what[MAX_TAKES];
	struct holder h[MAX_HOLD];
	unsigned n_holders;
};

static void *hold(void *arg)
{
	struct holder *h = arg;
	struct rig *r = h->r;
	void *item;

	while ((item = tp_queue_pop(&r->q))) {
		uint64_t at = mono_usec();

		pthread_mutex_lock(&r->m);
		if (h->n++ == 0)
			h->first_at = at;
		if (r->taken < MAX_TAKES) {
			r->who[r->taken] = h->id;
			r->what[r->taken] = item;
		}
		r->taken++;
		pthread_cond_broadcast(&r->cv);
		while (!r->open)
			pthread_cond_wait(&r->cv, &r->m);
		pthread_mutex_unlock(&r->m);
	}
	pthread_mutex_lock(&r->m);
	h->ended = true;
	pthread_mutex_unlock(&r->m);
	return NULL;
}

/* CONSUMERS 0: offer is not enabled (no tp_queue_set_lazy). */
static void rig_init(struct rig *r, size_t cap, unsigned consumers)
{
	*r = (struct rig){0};
	ck_assert_int_eq(tp_queue_init(&r->q, cap), 0);
	if (consumers)
		tp_queue_set_lazy(&r->q, consumers, PATIENCE);
	ck_assert_int_eq(pthread_mutex_init(&r->m, NULL), 0);
	cond_init_mono(&r->cv);
}

static unsigned rig_sleeping(struct rig *r)
{
	unsigned n;

	pthread_mutex_lock(&r->q.lock);
	n = r->q.n_sleeping;
	pthread_mutex_unlock(&r->q.lock);
	return n;
}

static size_t rig_queued(struct rig *r)
{
	size_t n;

	pthread_mutex_lock(&r->q.lock);
	n = r->q.count;
	pthread_mutex_unlock(&r->q.lock);
	return n;
}

/* Waits (bounded) until exactly N consumers sleep in pop. */
static void rig_wait_sleeping(struct rig *r, unsigned n)
{
	uint64_t give_up = mono_usec() + LONG_WAIT;

	while (rig_sleeping(r) != n) {
		ck_assert_msg(mono_usec() < give_up, "%u asleep, not %u", rig_sleeping(r), n);
		sched_yield();
	}
}

/* Starts a holder and waits until it sleeps in pop: holders fall asleep in id order. */
static struct holder *rig_add_sleeper(struct rig *r)
{
	unsigned before = rig_sleeping(r);
	struct holder *h;

	ck_assert_uint_lt(r->n_holders, MAX_HOLD);
	h = &r->h[r->n_holders];
	*h = (struct holder){.r = r, .id = r->n_holders++};
	ck_assert_int_eq(pthread_create(&h->th, NULL, hold, h), 0);
	rig_wait_sleeping(r, before + 1);
	return h;
}

/* Waits (bounded) until the holders have taken N items in all. */
static void rig_wait_taken(struct rig *r, unsigned n)
{
	struct timespec ts = mono_ts(mono_usec() + LONG_WAIT);
	unsigned taken;
	int e = 0;

	pthread_mutex_lock(&r->m);
	while (r->taken < n && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&r->cv, &r->m, &ts);
	taken = r->taken;
	pthread_mutex_unlock(&r->m);
	ck_assert_msg(taken >= n, "only %u of %u items taken", taken, n);
}

static unsigned rig_taken(struct rig *r)
{
	unsigned n;

	pthread_mutex_lock(&r->m);
	n = r->taken;
	pthread_mutex_unlock(&r->m);
	return n;
}

/* Opens the gate, closes the queue and joins every holder. */
static void rig_finish(struct rig *r)
{
	pthread_mutex_lock(&r->m);
	r->open = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->m);
	tp_queue_close(&r->q);
	for (unsigned i = 0; i < r->n_holders; i++)
		join_by(r->h[i].th, LONG_WAIT);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->m);
	tp_queue_destroy(&r->q);
}

START_TEST(offer_return_codes)
{
	struct rig r;

	rig_init(&r, 2, 1);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), SOME_TIME), 1); /* was empty */
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(2), SOME_TIME), 0);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(3), SOME_TIME), -EAGAIN);
	ck_assert_ptr_eq(tp_queue_trypop(&r.q), ITEM(1));
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(3), SOME_TIME), 0); /* wraps */
	tp_queue_close(&r.q);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(4), SOME_TIME), -EPIPE);
	ck_assert_ptr_eq(tp_queue_pop(&r.q), ITEM(2));
	ck_assert_ptr_eq(tp_queue_pop(&r.q), ITEM(3));
	ck_assert_ptr_null(tp_queue_pop(&r.q));
	rig_finish(&r);
}
END_TEST

/* Every consumer asleep: an offer wakes one, and that one counts as awake at once, so
 * the next offer wakes nobody (the woken one takes it after the first). */
START_TEST(offer_wakes_one_when_all_asleep)
{
	struct rig r;

	rig_init(&r, 8, 3);
	for (int i = 0; i < 3; i++)
		rig_add_sleeper(&r);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), SOME_TIME), 1);
	ck_assert_uint_eq(rig_sleeping(&r), 2);
	ck_assert_int_ge(tp_queue_offer(&r.q, ITEM(2), SOME_TIME + 1), 0);
	ck_assert_uint_eq(rig_sleeping(&r), 2);
	rig_wait_taken(&r, 1);
	ck_assert_ptr_eq(r.what[0], ITEM(1));
	/* The taker holds it, nobody else was woken: the second waits in the queue. */
	ck_assert_uint_eq(rig_sleeping(&r), 2);
	ck_assert_uint_eq(rig_queued(&r), 1);
	ck_assert_uint_eq(rig_taken(&r), 1);
	rig_finish(&r);
}
END_TEST

/* The newest sleeper is woken first (its cache is the warmest), by offer and push. */
START_TEST(wakes_newest_sleeper_first)
{
	struct rig r;

	rig_init(&r, 8, 3);
	for (int i = 0; i < 3; i++)
		rig_add_sleeper(&r);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), SOME_TIME), 1);
	rig_wait_taken(&r, 1);
	ck_assert_uint_eq(r.who[0], 2);
	ck_assert_int_eq(tp_queue_push(&r.q, ITEM(2)), 1);
	rig_wait_taken(&r, 2);
	ck_assert_uint_eq(r.who[1], 1);
	ck_assert_int_eq(tp_queue_push(&r.q, ITEM(3)), 1);
	rig_wait_taken(&r, 3);
	ck_assert_uint_eq(r.who[2], 0);
	ck_assert_ptr_eq(r.what[0], ITEM(1));
	ck_assert_ptr_eq(r.what[1], ITEM(2));
	ck_assert_ptr_eq(r.what[2], ITEM(3));
	ck_assert_uint_eq(rig_sleeping(&r), 0);
	rig_finish(&r);
}
END_TEST

/* Push is one item, one wake-up, even while another consumer is awake. */
START_TEST(push_wakes_while_one_is_awake)
{
	struct rig r;

	rig_init(&r, 8, 2); /* the second consumer is "awake": never in pop */
	rig_add_sleeper(&r);
	ck_assert_int_eq(tp_queue_push(&r.q, ITEM(1)), 1);
	ck_assert_uint_eq(rig_sleeping(&r), 0);
	rig_wait_taken(&r, 1);
	ck_assert_ptr_eq(r.what[0], ITEM(1));
	rig_finish(&r);
}
END_TEST

/* Without a consumer count (no set_lazy) every sleeper might be all there is: offer
 * wakes one per item, as push does. */
START_TEST(offer_without_consumer_count_is_push)
{
	struct rig r;

	rig_init(&r, 8, 0);
	rig_add_sleeper(&r);
	rig_add_sleeper(&r);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), SOME_TIME), 1);
	ck_assert_uint_eq(rig_sleeping(&r), 1);
	ck_assert_int_ge(tp_queue_offer(&r.q, ITEM(2), SOME_TIME), 0);
	ck_assert_uint_eq(rig_sleeping(&r), 0);
	rig_wait_taken(&r, 2);
	rig_finish(&r);
}
END_TEST

/* One consumer awake (never in pop here), one asleep: an offer leaves the sleeper alone
 * until the oldest item has waited `patience`; then watch wakes it, exactly on time. */
START_TEST(watch_wakes_a_sleeper_after_patience)
{
	struct rig r;
	const uint64_t t = SOME_TIME;

	rig_init(&r, 8, 2);
	rig_add_sleeper(&r);
	ck_assert_uint_eq(tp_queue_watch(&r.q, t), 0); /* nothing queued */
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), t), 1);
	ck_assert_uint_eq(rig_sleeping(&r), 1);
	ck_assert_uint_eq(tp_queue_watch(&r.q, t), PATIENCE);
	ck_assert_uint_eq(tp_queue_watch(&r.q, t + 250), PATIENCE - 250);
	/* A clock read just before the offer (another thread's): no wrap-around. */
	ck_assert_uint_eq(tp_queue_watch(&r.q, t - 5), PATIENCE + 5);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(2), t + PATIENCE - 1), 0);
	/* The head decides, not the newest item. */
	ck_assert_uint_eq(tp_queue_watch(&r.q, t + PATIENCE - 1), 1);
	ck_assert_uint_eq(rig_sleeping(&r), 1);
	ck_assert_uint_eq(rig_queued(&r), 2);
	/* Patience is over: one sleeper is woken, look again a patience later. */
	ck_assert_uint_eq(tp_queue_watch(&r.q, t + PATIENCE), PATIENCE);
	ck_assert_uint_eq(rig_sleeping(&r), 0);
	rig_wait_taken(&r, 1);
	ck_assert_ptr_eq(r.what[0], ITEM(1));
	/* Item 2 is late too, but nobody sleeps: nothing to watch for. */
	ck_assert_uint_eq(tp_queue_watch(&r.q, t + 10 * PATIENCE), 0);
	ck_assert_uint_eq(rig_queued(&r), 1);
	rig_finish(&r);
}
END_TEST

/* An offer behind an item that has waited `patience` wakes a sleeper itself. */
START_TEST(offer_behind_a_late_item_wakes)
{
	struct rig r;
	const uint64_t t = SOME_TIME;

	rig_init(&r, 8, 2);
	rig_add_sleeper(&r);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), t), 1);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(2), t + PATIENCE - 1), 0);
	ck_assert_uint_eq(rig_sleeping(&r), 1);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(3), t + PATIENCE), 0);
	ck_assert_uint_eq(rig_sleeping(&r), 0);
	rig_wait_taken(&r, 1);
	ck_assert_ptr_eq(r.what[0], ITEM(1));
	rig_finish(&r);
}
END_TEST

/* A consumer woken for an item that an awake one took first sleeps again: pop returns
 * NULL only once the queue is closed. The thief is this thread, on a CPU of its own:
 * a woken holder on the same CPU would preempt it and win the race every time. */
START_TEST(woken_for_a_taken_item_sleeps_again)
{
	struct rig r;
	struct holder *h;
	unsigned stolen = 0, rounds = 0;
	cpu_set_t all, one;
	int cpus[2], n = 0;

	rig_init(&r, 8, 2);
	r.open = true; /* the holder comes straight back to pop */
	h = rig_add_sleeper(&r);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &all))
			cpus[n++] = c;
	if (n == 2) {
		CPU_ZERO(&one);
		CPU_SET(cpus[0], &one);
		ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
		CPU_ZERO(&one);
		CPU_SET(cpus[1], &one);
		ck_assert_int_eq(pthread_setaffinity_np(h->th, sizeof(one), &one), 0);
	}
	while (rounds < 500 && stolen < 3) {
		rounds++;
		ck_assert_int_eq(tp_queue_push(&r.q, ITEM(rounds)), 1);
		/* This thread is awake already: it mostly takes the item before the woken
		 * holder runs. */
		if (tp_queue_trypop(&r.q))
			stolen++;
		rig_wait_sleeping(&r, 1);
		pthread_mutex_lock(&r.m);
		ck_assert(!h->ended);
		ck_assert_uint_eq(h->n + stolen, rounds);
		pthread_mutex_unlock(&r.m);
	}
	/* On one CPU the woken holder may win every race: the count above still held. */
	if (n == 2)
		ck_assert_uint_gt(stolen, 0);
	else
		fprintf(stderr, "SKIP: one CPU, the steal itself is not checked\n");
	rig_finish(&r);
	ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof(all), &all), 0);
}
END_TEST

/* No sleeper: watch has nobody to wake, however late the items (all consumers run and
 * come back for them), and says so. */
START_TEST(watch_without_sleepers_is_idle)
{
	struct rig r;

	rig_init(&r, 8, 2);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), SOME_TIME), 1);
	ck_assert_uint_eq(tp_queue_watch(&r.q, SOME_TIME), 0);
	ck_assert_uint_eq(tp_queue_watch(&r.q, SOME_TIME + 100 * PATIENCE), 0);
	ck_assert_ptr_eq(tp_queue_trypop(&r.q), ITEM(1));
	rig_finish(&r);
}
END_TEST

/* The poller's loop on the real clock: offer, then wait as long as watch says. The
 * sleeper takes the item no sooner than `patience` after the offer, and soon after. */
START_TEST(watch_in_real_time)
{
	struct rig r;
	struct holder *h;
	uint64_t t0, give_up;
	unsigned rounds = 0;

	rig_init(&r, 8, 2);
	h = rig_add_sleeper(&r);
	t0 = mono_usec();
	give_up = t0 + LONG_WAIT;
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), t0), 1);
	pthread_mutex_lock(&r.m);
	while (r.taken == 0) {
		uint64_t now = mono_usec();
		uint64_t w = tp_queue_watch(&r.q, now);
		uint64_t until = w && now + w < give_up ? now + w : give_up;
		struct timespec ts = mono_ts(until);

		ck_assert_msg(now < give_up, "not taken after %u rounds", rounds);
		rounds++;
		pthread_cond_timedwait(&r.cv, &r.m, &ts);
	}
	pthread_mutex_unlock(&r.m);
	ck_assert_uint_ge(h->first_at, t0 + PATIENCE);
	ck_assert_uint_lt(h->first_at, t0 + LONG_WAIT / 2);
	/* Waits what watch says rather than spinning. */
	ck_assert_uint_lt(rounds, 100);
	rig_finish(&r);
}
END_TEST

/* close() wakes every sleeper, and they end. */
START_TEST(close_wakes_every_sleeper)
{
	struct rig r;

	rig_init(&r, 8, 4);
	for (int i = 0; i < 4; i++)
		rig_add_sleeper(&r);
	tp_queue_close(&r.q);
	for (unsigned i = 0; i < r.n_holders; i++) {
		join_by(r.h[i].th, LONG_WAIT);
		ck_assert_uint_eq(r.h[i].n, 0);
	}
	r.n_holders = 0; /* joined */
	ck_assert_uint_eq(rig_sleeping(&r), 0);
	ck_assert_ptr_null(r.q.sleepers);
	rig_finish(&r);
}
END_TEST

struct drainer {
	struct tp_queue *q;
	pthread_t th;
	uint64_t until;
	uint64_t took;  /* usec spent in wait_drained */
	uint64_t ended; /* monotonic usec when it returned */
	atomic_bool done;
};

static void *drain(void *arg)
{
	struct drainer *d = arg;
	uint64_t t = mono_usec();

	tp_queue_wait_drained(d->q, d->until);
	d->ended = mono_usec();
	d->took = d->ended - t;
	atomic_store(&d->done, true);
	return NULL;
}

static void drainer_start(struct drainer *d, struct tp_queue *q, uint64_t until)
{
	*d = (struct drainer){.q = q, .until = until};
	ck_assert_int_eq(pthread_create(&d->th, NULL, drain, d), 0);
}

/* Waits (bounded) until the drainer waits in wait_drained (it asked to be told). */
static void drainer_wait_waiting(struct drainer *d)
{
	uint64_t give_up = mono_usec() + LONG_WAIT;

	for (;;) {
		bool waiting;

		pthread_mutex_lock(&d->q->lock);
		waiting = d->q->drain_wanted;
		pthread_mutex_unlock(&d->q->lock);
		if (waiting)
			return;
		ck_assert_msg(!atomic_load(&d->done), "wait_drained returned at once");
		ck_assert(mono_usec() < give_up);
		sched_yield();
	}
}

/* Items queued and a consumer awake: the producer waits until they are all taken. */
START_TEST(wait_drained_until_empty)
{
	struct rig r;
	struct drainer d;

	rig_init(&r, 8, 1); /* the consumer is this thread, with trypop */
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), SOME_TIME), 1);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(2), SOME_TIME), 0);
	drainer_start(&d, &r.q, mono_usec() + FAR_DEADLINE);
	drainer_wait_waiting(&d);
	ck_assert_ptr_eq(tp_queue_trypop(&r.q), ITEM(1));
	ck_assert(!atomic_load(&d.done)); /* one is still queued */
	ck_assert_ptr_eq(tp_queue_trypop(&r.q), ITEM(2));
	join_by(d.th, LONG_WAIT);
	ck_assert_uint_lt(d.took, LONG_WAIT);
	ck_assert(!r.q.drain_wanted);
	rig_finish(&r);
}
END_TEST

/* Nobody takes the item: wait_drained gives up at its deadline, not before. */
START_TEST(wait_drained_respects_deadline)
{
	struct rig r;
	struct drainer d;

	rig_init(&r, 8, 1);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), SOME_TIME), 1);
	drainer_start(&d, &r.q, mono_usec() + 20000);
	join_by(d.th, LONG_WAIT);
	ck_assert_uint_ge(d.ended, d.until);
	ck_assert_uint_lt(d.took, LONG_WAIT);
	ck_assert_uint_eq(rig_queued(&r), 1);
	ck_assert(!r.q.drain_wanted);
	/* A deadline already past: back at once. */
	drainer_start(&d, &r.q, mono_usec() - 1);
	join_by(d.th, LONG_WAIT);
	ck_assert_uint_eq(rig_queued(&r), 1);
	rig_finish(&r);
}
END_TEST

/* Nothing to wait for: an empty queue, or no consumer count. */
START_TEST(wait_drained_returns_at_once)
{
	struct rig r;
	struct drainer d;

	rig_init(&r, 8, 1);
	drainer_start(&d, &r.q, mono_usec() + FAR_DEADLINE);
	join_by(d.th, LONG_WAIT);
	rig_finish(&r);

	rig_init(&r, 8, 0);
	ck_assert_int_eq(tp_queue_push(&r.q, ITEM(1)), 1);
	drainer_start(&d, &r.q, mono_usec() + FAR_DEADLINE);
	join_by(d.th, LONG_WAIT);
	rig_finish(&r);
}
END_TEST

/* close() ends a wait_drained at once. */
START_TEST(close_ends_wait_drained)
{
	struct rig r;
	struct drainer d;

	rig_init(&r, 8, 1);
	ck_assert_int_eq(tp_queue_offer(&r.q, ITEM(1), SOME_TIME), 1);
	drainer_start(&d, &r.q, mono_usec() + FAR_DEADLINE);
	drainer_wait_waiting(&d);
	tp_queue_close(&r.q);
	join_by(d.th, LONG_WAIT);
	ck_assert_uint_lt(d.took, LONG_WAIT);
	rig_finish(&r);
}
END_TEST

/*
 * The threadpool's traffic: a poller offers N items, never more than `cap` in flight
 * (queued or in a thread), calls watch while it waits and wait_drained now and then;
 * four workers take them, and offer every fourth back once (a turn that is not over),
 * so two kinds of producer race. Every item must finish exactly once, and in time.
 */
enum { STRESS_N = 100000, STRESS_WORKERS = 4, STRESS_CAP = 16 };

struct stress {
	struct tp_queue q;
	pthread_mutex_t m;
	pthread_cond_t room; /* monotonic: an item finished */
	unsigned held;       /* offered by the poller and not finished */
	unsigned finished;
	unsigned again, refused;
	uint64_t sum;
	unsigned char *done; /* per item: times finished */
};

static void *stress_worker(void *arg)
{
	struct stress *s = arg;
	void *item;

	while ((item = tp_queue_pop(&s->q))) {
		uintptr_t v = (uintptr_t)item, i = v >> 1;

		if (!(v & 1) && i % 4 == 0) {
			/* Still in flight, so the queue has room for it. */
			int r = tp_queue_offer(&s->q, ITEM(v | 1), mono_usec());

			pthread_mutex_lock(&s->m);
			if (r < 0)
				s->refused++;
			else
				s->again++;
			pthread_mutex_unlock(&s->m);
			if (r >= 0)
				continue;
		}
		pthread_mutex_lock(&s->m);
		if (i >= 1 && i <= STRESS_N && s->done[i] < 255)
			s->done[i]++;
		s->sum += i;
		s->finished++;
		s->held--;
		pthread_cond_signal(&s->room);
		pthread_mutex_unlock(&s->m);
	}
	return NULL;
}

/* As the poller sleeps: until an item finishes, or watch's answer, or GIVE_UP. */
static void stress_wait(struct stress *s, uint64_t give_up)
{
	uint64_t now = mono_usec();
	uint64_t w = tp_queue_watch(&s->q, now);
	struct timespec ts = mono_ts(w && now + w < give_up ? now + w : give_up);

	ck_assert_msg(now < give_up, "stuck: %u of %u finished, %u held", s->finished, STRESS_N,
	              s->held);
	pthread_cond_timedwait(&s->room, &s->m, &ts);
}

START_TEST(lazy_traffic_each_item_once)
{
	struct stress s = {0};
	pthread_t th[STRESS_WORKERS];
	uint64_t give_up = mono_usec() + 30 * SECOND;

	s.done = calloc(STRESS_N + 1, 1);
	ck_assert_ptr_nonnull(s.done);
	ck_assert_int_eq(tp_queue_init(&s.q, STRESS_CAP), 0);
	tp_queue_set_lazy(&s.q, STRESS_WORKERS, PATIENCE);
	ck_assert_int_eq(pthread_mutex_init(&s.m, NULL), 0);
	cond_init_mono(&s.room);
	for (int i = 0; i < STRESS_WORKERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, stress_worker, &s), 0);
	for (uintptr_t i = 1; i <= STRESS_N; i++) {
		pthread_mutex_lock(&s.m);
		while (s.held >= STRESS_CAP)
			stress_wait(&s, give_up);
		s.held++;
		pthread_mutex_unlock(&s.m);
		ck_assert_int_ge(tp_queue_offer(&s.q, ITEM(i << 1), mono_usec()), 0);
		if (i % 1000 == 0)
			tp_queue_wait_drained(&s.q, mono_usec() + PATIENCE);
	}
	pthread_mutex_lock(&s.m);
	while (s.finished < STRESS_N)
		stress_wait(&s, give_up);
	pthread_mutex_unlock(&s.m);
	tp_queue_close(&s.q);
	for (int i = 0; i < STRESS_WORKERS; i++)
		join_by(th[i], 10 * SECOND);
	ck_assert_uint_eq(s.refused, 0);
	ck_assert_uint_eq(s.again, STRESS_N / 4);
	ck_assert_uint_eq(s.finished, STRESS_N);
	ck_assert_uint_eq(s.held, 0);
	ck_assert(s.sum == (uint64_t)STRESS_N * (STRESS_N + 1) / 2);
	for (unsigned i = 1; i <= STRESS_N; i++)
		ck_assert_msg(s.done[i] == 1, "item %u finished %u times", i, s.done[i]);
	ck_assert_ptr_null(tp_queue_trypop(&s.q));
	pthread_cond_destroy(&s.room);
	pthread_mutex_destroy(&s.m);
	tp_queue_destroy(&s.q);
	free(s.done);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tp_queue");
	TCase *tc = tcase_create("tp_queue");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, zero_capacity_refused);
	tcase_add_test(tc, fifo_and_bounds);
	tcase_add_test(tc, close_drains_then_ends);
	tcase_add_test(tc, close_wakes_waiting_consumers);
	tcase_add_test(tc, many_consumers_each_item_once);
	tcase_add_test(tc, offer_return_codes);
	tcase_add_test(tc, offer_wakes_one_when_all_asleep);
	tcase_add_test(tc, wakes_newest_sleeper_first);
	tcase_add_test(tc, push_wakes_while_one_is_awake);
	tcase_add_test(tc, offer_without_consumer_count_is_push);
	tcase_add_test(tc, watch_wakes_a_sleeper_after_patience);
	tcase_add_test(tc, offer_behind_a_late_item_wakes);
	tcase_add_test(tc, woken_for_a_taken_item_sleeps_again);
	tcase_add_test(tc, watch_without_sleepers_is_idle);
	tcase_add_test(tc, watch_in_real_time);
	tcase_add_test(tc, close_wakes_every_sleeper);
	tcase_add_test(tc, wait_drained_until_empty);
	tcase_add_test(tc, wait_drained_respects_deadline);
	tcase_add_test(tc, wait_drained_returns_at_once);
	tcase_add_test(tc, close_ends_wait_drained);
	tcase_add_test(tc, lazy_traffic_each_item_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
