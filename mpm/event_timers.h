/*
 * Deadline lists for the event model. Every entry of one list shares the same period
 * (the service's idle_timeout or max_duration), so appending at the tail keeps a list
 * sorted by deadline: arming, re-arming on activity and cancelling are all O(1), and
 * the nearest deadline is always the head. A list with period 0 is a plain queue
 * (the event loop's "run again next turn" list).
 */
#ifndef SUPERSERVERD_EVENT_TIMERS_H
#define SUPERSERVERD_EVENT_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#define EVENT_NO_DEADLINE UINT64_MAX

/* Embedded in the object it times; unlinked when next is NULL. */
struct event_link {
	struct event_link *prev, *next;
	uint64_t at; /* deadline, microseconds on the list's clock */
};

struct event_fifo {
	struct event_link head; /* sentinel: head.next is the nearest deadline */
	uint64_t period;
};

void event_fifo_init(struct event_fifo *f, uint64_t period_usec);
bool event_fifo_empty(const struct event_fifo *f);

static inline bool event_link_linked(const struct event_link *l)
{
	return l->next != 0;
}

/* (Re)arms l at the tail with deadline now + period. A `now` older than the tail's
 * (two clock reads racing in one loop turn) is moved up to it, so the list stays
 * sorted; the deadline is then late by that much, never early. */
void event_fifo_touch(struct event_fifo *f, struct event_link *l, uint64_t now);
/* Unlinks l if it is linked. */
void event_link_remove(struct event_link *l);
/* The head, or NULL when empty. */
struct event_link *event_fifo_first(const struct event_fifo *f);
/* The head if its deadline has passed at `now`, else NULL. */
struct event_link *event_fifo_expired(const struct event_fifo *f, uint64_t now);
/* The head's deadline, or EVENT_NO_DEADLINE when empty. */
uint64_t event_fifo_next(const struct event_fifo *f);
/* Moves every entry of src to the tail of dst, in order (src ends empty). */
void event_fifo_splice(struct event_fifo *dst, struct event_fifo *src);

/* epoll_wait's timeout for a deadline: -1 for none, 0 when due, otherwise the delay
 * rounded up to whole milliseconds so the loop never wakes early and spins. */
int event_timeout_ms(uint64_t now, uint64_t deadline);

#endif
