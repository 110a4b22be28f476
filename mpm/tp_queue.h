/*
 * The threadpool's hand-off queue: a fixed-capacity FIFO of pointers shared by the
 * poller and the worker threads. Allocated once; pushing never blocks and never
 * allocates, so the poller cannot stall on it. Popping waits until an item arrives or
 * the queue is closed.
 *
 * Waking a consumer costs a context switch, which on a busy machine costs more than
 * the work it hands over. So besides push (one item, one wake-up), offer wakes a
 * consumer only when none is awake to take the item, or when the oldest item has
 * waited `patience` (the awake consumers are stuck in long or blocking work):
 * consumers that are already running drain the queue before they sleep. Whoever
 * offers must call tp_queue_watch while items wait, since nothing else wakes a
 * sleeping consumer for them once patience runs out.
 */
#ifndef SUPERSERVERD_TP_QUEUE_H
#define SUPERSERVERD_TP_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_queue_sleeper; /* a consumer waiting in pop, on its own stack */

struct tp_queue {
	pthread_mutex_t lock;
	void **items;
	uint64_t *since; /* when each item was queued (offer only; else 0) */
	size_t cap, head, count;
	bool closed;
	/* Consumers asleep and not yet woken, newest first (its cache is the warmest). */
	struct tp_queue_sleeper *sleepers;
	unsigned n_sleeping;    /* in `sleepers` */
	unsigned consumers;     /* threads that pop (tp_queue_set_lazy), 0 if unknown */
	uint64_t patience;      /* usec an offered item waits for an awake consumer */
	pthread_cond_t drained; /* the queue emptied while drain_wanted */
	bool drain_wanted;
};

/* Returns 0 or -ENOMEM/-EINVAL (cap 0) or another negative errno. */
int tp_queue_init(struct tp_queue *q, size_t cap);
/* Frees the ring; the queue must have no waiters left. Items still in it are dropped. */
void tp_queue_destroy(struct tp_queue *q);
/* Enables offer: CONSUMERS threads pop; an item waits at most about PATIENCE_USEC for
 * one of them that is awake before a sleeping one is woken. Before any pop. */
void tp_queue_set_lazy(struct tp_queue *q, unsigned consumers, uint64_t patience_usec);

/* Appends item and wakes a consumer. Returns 1 if the queue was empty before, 0
 * otherwise, -EAGAIN when full, -EPIPE once closed. */
int tp_queue_push(struct tp_queue *q, void *item);
/* Appends item, queued at NOW (usec, monotonic), waking a consumer only as said above.
 * Returns as tp_queue_push. */
int tp_queue_offer(struct tp_queue *q, void *item, uint64_t now);
/* At NOW: wakes a sleeping consumer if the oldest item has waited `patience`. Returns
 * the usec until it should be called again, 0 when nothing waits for it. */
uint64_t tp_queue_watch(struct tp_queue *q, uint64_t now);
/* Waits, until the monotonic usec UNTIL at the latest, while items are queued and a
 * consumer is awake to take them (the producer has nothing to add before they are
 * gone, and each event it would pick up meanwhile would cost it a wake-up). */
void tp_queue_wait_drained(struct tp_queue *q, uint64_t until);
/* Waits for the oldest item. Returns NULL only when the queue is closed and empty. */
void *tp_queue_pop(struct tp_queue *q);
/* The oldest item, or NULL at once when there is none. */
void *tp_queue_trypop(struct tp_queue *q);
/* Refuses further pushes and wakes every waiter; items already queued are still popped. */
void tp_queue_close(struct tp_queue *q);

#endif
