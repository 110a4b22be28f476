/*
 * The threadpool's hand-off queue: a fixed-capacity FIFO of pointers shared by the
 * poller and the worker threads. Allocated once; pushing never blocks and never
 * allocates, so the poller cannot stall on it. Popping waits until an item arrives or
 * the queue is closed.
 */
#ifndef SUPERSERVERD_TP_QUEUE_H
#define SUPERSERVERD_TP_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct tp_queue {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	void **items;
	size_t cap, head, count;
	bool closed;
};

/* Returns 0 or -ENOMEM/-EINVAL (cap 0) or another negative errno. */
int tp_queue_init(struct tp_queue *q, size_t cap);
/* Frees the ring; the queue must have no waiters left. Items still in it are dropped. */
void tp_queue_destroy(struct tp_queue *q);

/* Appends item. Returns 1 if the queue was empty before (the consumer may need a
 * wake-up), 0 otherwise, -EAGAIN when full, -EPIPE once closed. */
int tp_queue_push(struct tp_queue *q, void *item);
/* Waits for the oldest item. Returns NULL only when the queue is closed and empty. */
void *tp_queue_pop(struct tp_queue *q);
/* The oldest item, or NULL at once when there is none. */
void *tp_queue_trypop(struct tp_queue *q);
/* Refuses further pushes and wakes every waiter; items already queued are still popped. */
void tp_queue_close(struct tp_queue *q);

#endif
