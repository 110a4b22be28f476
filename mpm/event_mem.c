/*
 * Giving memory back after a burst. Once thousands of connections have come and gone, a
 * worker still holds their record slabs, its spare output buffers, and the heap pages
 * their output buffers used: glibc hands freed heap memory back to the kernel only from
 * the top of the heap, and a burst's buffers lie below slabs that stay. When the records
 * in hand have fallen to a quarter of their peak and stay there for a moment, the worker
 * frees its empty slabs and its spare buffers and asks malloc to return every free page.
 *
 * The check is two comparisons at the end of a loop turn; the release is rare (at most
 * one per EVENT_MEM_INTERVAL_USEC) and short (0.2 ms for the 65 MB that 2000 clients
 * that never read leave behind). Its price is paid later: the page faults of the next
 * burst.
 */
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "mpm/event_loop.h"
#include "superserverd/log.h"

/* The records in hand must fall to 1/EVENT_MEM_FALL of the peak... */
#define EVENT_MEM_FALL 4
/* ...and at least this many be gone (about 2 MB of output buffers and records): fewer
 * are not worth page faults later. */
#define EVENT_MEM_MIN_GONE 64
/* The fall must last this long: clients leaving together are all gone by then, and a
 * dip between two waves of a steady load releases nothing. */
#define EVENT_MEM_SETTLE_USEC 1000000u
/* At most one release per interval, whatever the load does. */
#define EVENT_MEM_INTERVAL_USEC 2000000u

bool event_mem_burst_over(unsigned used, unsigned peak)
{
	return peak >= used + EVENT_MEM_MIN_GONE && used <= peak / EVENT_MEM_FALL;
}

static void event_mem_release(struct event_loop *l)
{
	unsigned spares = l->n_spare;
	size_t slabs = event_pool_shrink(l);
	uint64_t start = conn_now_usec();
	int trimmed = 0;

	event_conn_free_spares(l);
#ifdef __GLIBC__
	/* The pages of freed chunks anywhere in the heap, not only at its top. */
	trimmed = malloc_trim(0);
#endif
	log_debug(l->name,
	          "burst over (%u of %u connections left): freed %zu record slabs, %u spare "
	          "buffers; heap trim %s in %llu us",
	          l->pool_used, l->pool_peak, slabs, spares, trimmed ? "returned pages" : "no-op",
	          (unsigned long long)(conn_now_usec() - start));
}

void event_mem_step(struct event_loop *l, uint64_t now)
{
	if (!event_mem_burst_over(l->pool_used, l->pool_peak)) {
		l->mem_due = 0;
		return;
	}
	if (!l->mem_due) {
		l->mem_due = now + EVENT_MEM_SETTLE_USEC;
		if (l->mem_last && l->mem_due < l->mem_last + EVENT_MEM_INTERVAL_USEC)
			l->mem_due = l->mem_last + EVENT_MEM_INTERVAL_USEC;
		return;
	}
	if (now < l->mem_due)
		return;
	event_mem_release(l);
	l->mem_last = now;
	l->mem_due = 0;
	l->pool_peak = l->pool_used;
}

void event_mem_turn(struct event_loop *l)
{
	if (!l->mem_due && !event_mem_burst_over(l->pool_used, l->pool_peak))
		return;
	event_mem_step(l, conn_now_usec());
}

uint64_t event_mem_next_deadline(const struct event_loop *l)
{
	return l->mem_due ? l->mem_due : EVENT_NO_DEADLINE;
}
