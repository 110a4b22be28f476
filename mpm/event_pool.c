/*
 * Connection records of the event model, allocated in slabs and reused through a
 * free list, so accepting costs no malloc once the worker has seen its peak. A closed
 * record waits in the graveyard until the current epoll batch is over: an event
 * queued in the same batch may still name it, and must find it closed, not reused.
 * After a burst, event_mem.c frees the slabs left empty (event_pool_shrink).
 */
#include <stdlib.h>

#include "mpm/event_loop.h"

#define EVENT_SLAB_RECORDS 64

struct event_slab {
	struct event_slab *next;
	struct event_conn recs[EVENT_SLAB_RECORDS];
};

static int event_pool_grow(struct event_loop *l)
{
	struct event_slab *s = malloc(sizeof(*s));

	if (!s)
		return -1;
	s->next = l->slabs;
	l->slabs = s;
	l->n_slabs++;
	for (size_t i = EVENT_SLAB_RECORDS; i-- > 0;) {
		struct event_conn *ec = &s->recs[i];

		ec->in_use = false;
		ec->next = l->free_list;
		l->free_list = ec;
	}
	return 0;
}

struct event_conn *event_pool_get(struct event_loop *l)
{
	struct event_conn *ec;

	if (!l->free_list && event_pool_grow(l) < 0)
		return NULL;
	ec = l->free_list;
	l->free_list = ec->next;
	*ec = (struct event_conn){.tag = {.kind = EVENT_TAG_CONN, .fd = -1}, .in_use = true};
	if (++l->pool_used > l->pool_peak)
		l->pool_peak = l->pool_used;
	return ec;
}

void event_pool_bury(struct event_loop *l, struct event_conn *ec)
{
	ec->in_use = false;
	ec->next = l->graveyard;
	l->graveyard = ec;
	l->pool_used--;
}

void event_pool_recycle(struct event_loop *l)
{
	while (l->graveyard) {
		struct event_conn *ec = l->graveyard;

		l->graveyard = ec->next;
		ec->next = l->free_list;
		l->free_list = ec;
	}
}

static bool event_slab_empty(const struct event_slab *s)
{
	for (size_t i = 0; i < EVENT_SLAB_RECORDS; i++)
		if (s->recs[i].in_use)
			return false;
	return true;
}

size_t event_pool_shrink(struct event_loop *l)
{
	struct event_slab **sp = &l->slabs;
	size_t freed = 0;

	/* A buried record may still be named by an event of the current batch. */
	if (l->graveyard)
		return 0;
	/* The free list is rebuilt from the slabs that stay. */
	l->free_list = NULL;
	while (*sp) {
		struct event_slab *s = *sp;

		if (event_slab_empty(s)) {
			*sp = s->next;
			free(s);
			l->n_slabs--;
			freed++;
			continue;
		}
		for (size_t i = EVENT_SLAB_RECORDS; i-- > 0;) {
			struct event_conn *ec = &s->recs[i];

			if (!ec->in_use) {
				ec->next = l->free_list;
				l->free_list = ec;
			}
		}
		sp = &s->next;
	}
	return freed;
}

void event_pool_free(struct event_loop *l)
{
	for (struct event_slab *s = l->slabs; s; s = s->next)
		for (size_t i = 0; i < EVENT_SLAB_RECORDS; i++)
			if (s->recs[i].in_use && s->recs[i].proxy)
				event_proxy_drop(l, &s->recs[i]);
			else if (s->recs[i].in_use)
				event_conn_close(l, &s->recs[i], DRIVER_STOPPED);
	while (l->slabs) {
		struct event_slab *s = l->slabs;

		l->slabs = s->next;
		free(s);
	}
	l->n_slabs = 0;
	l->free_list = l->graveyard = NULL;
}
