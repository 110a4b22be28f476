/*
 * One turn of a threadpool worker thread on one connection: run the callbacks that
 * are due (open, data, writable), flush what the socket takes, and say what the
 * connection waits for next. A turn never waits: it ends when the socket has nothing
 * more to give and cannot take more, or after a bounded number of passes so one busy
 * connection cannot keep a thread from the others.
 *
 * The semantics are the blocking driver's (mpm/driver.c): no reading while
 * SS_CONN_HIGH_WATER bytes are queued, one writable callback per pass once below
 * SS_CONN_LOW_WATER, end of input = end after the flush, the idle timeout counts only
 * bytes from the peer.
 */
#ifndef SUPERSERVERD_TP_SLICE_H
#define SUPERSERVERD_TP_SLICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mpm/conn.h"
#include "mpm/driver.h"

/* Passes per turn. A pass reads at most TP_SLICE_READ_MAX bytes. */
#define TP_SLICE_PASSES   16
#define TP_SLICE_READ_MAX (16 * 1024)

/* No kick: the poller has not asked for the connection to be closed. */
#define TP_NO_KICK (-1)

/* What the poller and the thread running a turn share while the turn runs. */
struct tp_watch {
	_Atomic int kick; /* TP_NO_KICK, or the outcome of a timeout or a relay the poller ended */
	_Atomic uint64_t activity; /* c->activity_usec, published after every data callback */
};

enum tp_next {
	TP_NEXT_WAIT,  /* wait for `events` (EPOLLIN and/or EPOLLOUT), then run another turn */
	TP_NEXT_AGAIN, /* more work is ready now; take a turn again after the others */
	TP_NEXT_CLOSE, /* finished for `outcome`; the caller destroys the connection */
	TP_NEXT_RELAY, /* the handler handed it to the relay (c->relay_req): the poller runs it */
};

struct tp_slice {
	bool opened;                 /* the open callback has run */
	uint32_t events;             /* TP_NEXT_WAIT */
	enum driver_outcome outcome; /* TP_NEXT_CLOSE */
};

/*
 * Runs one turn on c (conn_init'ed, s zeroed before the first turn). lim and w may be
 * NULL. A kick in w (a timeout another thread decided) ends the turn with that outcome
 * before any further callback; w->activity lets that thread see that bytes arrived
 * during a long turn.
 */
enum tp_next tp_slice_run(struct ss_conn *c, struct tp_slice *s, const struct driver_limits *lim,
                          struct tp_watch *w);

#endif
