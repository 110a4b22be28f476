/* Deadline lists for the event model (see event_timers.h). */
#include <limits.h>
#include <stddef.h>

#include "mpm/event_timers.h"

void event_fifo_init(struct event_fifo *f, uint64_t period_usec)
{
	f->head.prev = f->head.next = &f->head;
	f->head.at = 0;
	f->period = period_usec;
}

bool event_fifo_empty(const struct event_fifo *f)
{
	return f->head.next == &f->head;
}

void event_link_remove(struct event_link *l)
{
	if (!event_link_linked(l))
		return;
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

void event_fifo_touch(struct event_fifo *f, struct event_link *l, uint64_t now)
{
	struct event_link *tail;
	uint64_t at;

	event_link_remove(l);
	tail = f->head.prev;
	at = now > EVENT_NO_DEADLINE - f->period ? EVENT_NO_DEADLINE - 1 : now + f->period;
	if (tail != &f->head && tail->at > at)
		at = tail->at;
	l->at = at;
	l->prev = tail;
	l->next = &f->head;
	tail->next = l;
	f->head.prev = l;
}

struct event_link *event_fifo_first(const struct event_fifo *f)
{
	return event_fifo_empty(f) ? NULL : f->head.next;
}

struct event_link *event_fifo_expired(const struct event_fifo *f, uint64_t now)
{
	struct event_link *l = event_fifo_first(f);

	return l && l->at <= now ? l : NULL;
}

uint64_t event_fifo_next(const struct event_fifo *f)
{
	struct event_link *l = event_fifo_first(f);

	return l ? l->at : EVENT_NO_DEADLINE;
}

void event_fifo_splice(struct event_fifo *dst, struct event_fifo *src)
{
	struct event_link *first = src->head.next, *last = src->head.prev;

	if (event_fifo_empty(src))
		return;
	first->prev = dst->head.prev;
	dst->head.prev->next = first;
	last->next = &dst->head;
	dst->head.prev = last;
	src->head.prev = src->head.next = &src->head;
}

int event_timeout_ms(uint64_t now, uint64_t deadline)
{
	uint64_t ms;

	if (deadline == EVENT_NO_DEADLINE)
		return -1;
	if (deadline <= now)
		return 0;
	ms = (deadline - now) / 1000 + ((deadline - now) % 1000 != 0);
	return ms > INT_MAX ? INT_MAX : (int)ms;
}
