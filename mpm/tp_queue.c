/*
 * The bounded hand-off queue: a ring under one mutex with one condition variable for
 * the consumers. The critical sections are a few loads and stores, so a plain mutex
 * costs less than anything clever would.
 */
#include <errno.h>
#include <stdlib.h>

#include "mpm/tp_queue.h"

int tp_queue_init(struct tp_queue *q, size_t cap)
{
	int r;

	*q = (struct tp_queue){.cap = cap};
	if (cap == 0)
		return -EINVAL;
	q->items = calloc(cap, sizeof(*q->items));
	if (!q->items)
		return -ENOMEM;
	r = pthread_mutex_init(&q->lock, NULL);
	if (r != 0)
		goto fail_items;
	r = pthread_cond_init(&q->nonempty, NULL);
	if (r != 0)
		goto fail_lock;
	return 0;
fail_lock:
	pthread_mutex_destroy(&q->lock);
fail_items:
	free(q->items);
	q->items = NULL;
	return -r;
}

void tp_queue_destroy(struct tp_queue *q)
{
	if (!q->items)
		return;
	pthread_cond_destroy(&q->nonempty);
	pthread_mutex_destroy(&q->lock);
	free(q->items);
	q->items = NULL;
}

int tp_queue_push(struct tp_queue *q, void *item)
{
	int r;

	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		r = -EPIPE;
	} else if (q->count == q->cap) {
		r = -EAGAIN;
	} else {
		q->items[(q->head + q->count) % q->cap] = item;
		r = q->count++ == 0;
		/* One item wakes one consumer; signalling under the lock keeps a popper from
		 * missing it between its check and its wait. */
		pthread_cond_signal(&q->nonempty);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* Called with the lock held and count > 0. */
static void *tp_queue_take(struct tp_queue *q)
{
	void *item = q->items[q->head];

	q->items[q->head] = NULL;
	q->head = (q->head + 1) % q->cap;
	q->count--;
	return item;
}

void *tp_queue_pop(struct tp_queue *q)
{
	void *item = NULL;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->closed)
		pthread_cond_wait(&q->nonempty, &q->lock);
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
	pthread_cond_broadcast(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}
