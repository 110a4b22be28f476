/*
 * The bounded hand-off queue: a ring under one mutex. The critical sections are a few
 * loads and stores, so a plain mutex costs less than anything clever would. Each
 * sleeping consumer waits on its own condition variable, on a stack: the queue knows
 * exactly how many consumers sleep and which one a wake-up goes to, so it never wakes
 * two for one item nor counts a woken one as still asleep.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "mpm/tp_queue.h"

struct tp_queue_sleeper {
	struct tp_queue_sleeper *next;
	pthread_cond_t cond;
	bool woken; /* taken off the stack by a waker */
};

int tp_queue_init(struct tp_queue *q, size_t cap)
{
	int r;

	*q = (struct tp_queue){.cap = cap};
	if (cap == 0)
		return -EINVAL;
	q->items = calloc(cap, sizeof(*q->items));
	q->since = calloc(cap, sizeof(*q->since));
	if (!q->items || !q->since) {
		r = ENOMEM;
		goto fail;
	}
	r = pthread_mutex_init(&q->lock, NULL);
	if (r != 0)
		goto fail;
	pthread_condattr_t ca;
	r = pthread_condattr_init(&ca);
	if (r == 0) {
		/* tp_queue_wait_drained's deadline is monotonic, like the timers. */
		r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (r == 0)
			r = pthread_cond_init(&q->drained, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (r != 0) {
		pthread_mutex_destroy(&q->lock);
		goto fail;
	}
	return 0;
fail:
	free(q->items);
	free(q->since);
	q->items = NULL;
	q->since = NULL;
	return -r;
}

void tp_queue_destroy(struct tp_queue *q)
{
	if (!q->items)
		return;
	pthread_cond_destroy(&q->drained);
	pthread_mutex_destroy(&q->lock);
	free(q->items);
	free(q->since);
	q->items = NULL;
	q->since = NULL;
}

void tp_queue_set_lazy(struct tp_queue *q, unsigned consumers, uint64_t patience_usec)
{
	q->consumers = consumers;
	q->patience = patience_usec;
}

/* Called with the lock held: wakes the newest sleeper, if any. */
static void tp_queue_wake_one(struct tp_queue *q)
{
	struct tp_queue_sleeper *s = q->sleepers;

	if (!s)
		return;
	q->sleepers = s->next;
	q->n_sleeping--;
	s->woken = true;
	pthread_cond_signal(&s->cond);
}

/* Called with the lock held. */
static int tp_queue_append(struct tp_queue *q, void *item, uint64_t now)
{
	size_t at;

	if (q->closed)
		return -EPIPE;
	if (q->count == q->cap)
		return -EAGAIN;
	at = (q->head + q->count) % q->cap;
	q->items[at] = item;
	q->since[at] = now;
	return q->count++ == 0;
}

int tp_queue_push(struct tp_queue *q, void *item)
{
	int r;

	pthread_mutex_lock(&q->lock);
	r = tp_queue_append(q, item, 0);
	/* One item wakes one consumer. */
	if (r >= 0)
		tp_queue_wake_one(q);
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* Called with the lock held: the oldest item has waited too long for the awake. */
static bool tp_queue_stale(const struct tp_queue *q, uint64_t now)
{
	uint64_t t = q->since[q->head];

	return q->count > 0 && t && now >= t + q->patience;
}

int tp_queue_offer(struct tp_queue *q, void *item, uint64_t now)
{
	int r;

	pthread_mutex_lock(&q->lock);
	r = tp_queue_append(q, item, now ? now : 1);
	/* Awake: consumers that run (or are about to pop) and will take it. Without a
	 * consumer count every sleeper might be all there is, as with push. */
	if (r >= 0 && (!q->consumers || q->n_sleeping >= q->consumers || tp_queue_stale(q, now)))
		tp_queue_wake_one(q);
	pthread_mutex_unlock(&q->lock);
	return r;
}

uint64_t tp_queue_watch(struct tp_queue *q, uint64_t now)
{
	uint64_t next = 0;

	pthread_mutex_lock(&q->lock);
	/* Nobody asleep: every consumer is running and comes back for the items. */
	if (q->n_sleeping == 0) {
		next = 0;
	} else if (tp_queue_stale(q, now)) {
		tp_queue_wake_one(q);
		/* The woken one takes the head soon; look again a patience later. */
		next = q->patience;
	} else if (q->count > 0 && q->since[q->head]) {
		next = q->since[q->head] + q->patience - now;
	}
	pthread_mutex_unlock(&q->lock);
	return next;
}

/* Called with the lock held and count > 0. */
static void *tp_queue_take(struct tp_queue *q)
{
	void *item = q->items[q->head];

	q->items[q->head] = NULL;
	q->head = (q->head + 1) % q->cap;
	if (--q->count == 0 && q->drain_wanted) {
		q->drain_wanted = false;
		pthread_cond_signal(&q->drained);
	}
	return item;
}

void tp_queue_wait_drained(struct tp_queue *q, uint64_t until)
{
	struct timespec ts = {.tv_sec = (time_t)(until / 1000000),
	                      .tv_nsec = (long)(until % 1000000) * 1000};

	pthread_mutex_lock(&q->lock);
	while (q->count > 0 && !q->closed && q->n_sleeping < q->consumers) {
		q->drain_wanted = true;
		if (pthread_cond_timedwait(&q->drained, &q->lock, &ts) == ETIMEDOUT)
			break;
	}
	q->drain_wanted = false;
	pthread_mutex_unlock(&q->lock);
}

void *tp_queue_pop(struct tp_queue *q)
{
	void *item = NULL;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->closed) {
		struct tp_queue_sleeper me = {.next = q->sleepers};

		pthread_cond_init(&me.cond, NULL);
		/* A waker unlinks `me` before setting woken, so the stack entry is off the list
		 * before this frame ends. */
		// cppcheck-suppress autoVariables
		q->sleepers = &me;
		q->n_sleeping++;
		while (!me.woken)
			pthread_cond_wait(&me.cond, &q->lock);
		pthread_cond_destroy(&me.cond);
	}
	if (q->count > 0)
		item = tp_queue_take(q);
	pthread_mutex_unlock(&q->lock);
	return item;
}

void *tp_queue_trypop(struct tp_queue *q)
{
	void *item = NULL;

	pthread_mutex_lock(&q->lock);
	if (q->count > 0)
		item = tp_queue_take(q);
	pthread_mutex_unlock(&q->lock);
	return item;
}

void tp_queue_close(struct tp_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	while (q->sleepers)
		tp_queue_wake_one(q);
	pthread_cond_broadcast(&q->drained);
	pthread_mutex_unlock(&q->lock);
}
