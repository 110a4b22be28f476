/*
 * The threadpool model's insides, shared by its three files: threadpool.c (options,
 * start and stop of one service process), tp_poller.c (the thread that owns epoll,
 * the listeners and the timers) and tp_worker.c (the threads that run handlers).
 *
 * Ownership. A connection is in exactly one place: armed in epoll (IN_POLLER), in the
 * poller's ready list (READY), or HELD (in the work queue, in a thread, or in the done
 * queue on its way back). While it is HELD only that thread touches its ss_conn and
 * slice, and reads `registered`; everything else in tp_conn belongs to the poller,
 * except `watch` (atomics) and the socket's closing, which fd_lock serializes with the
 * poller's shutdown() of a connection that timed out in a thread. The queues' mutexes
 * order the hand-offs.
 */
#ifndef SUPERSERVERD_TP_POOL_H
#define SUPERSERVERD_TP_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mpm/admit.h"
#include "mpm/connlog.h"
#include "mpm/conn.h"
#include "mpm/driver.h"
#include "mpm/mpm.h"
#include "mpm/tp_fifo.h"
#include "mpm/tp_queue.h"
#include "mpm/tp_slice.h"
#include "superserverd/scoreboard.h"

struct tp_options {
	uint64_t processes;
	uint64_t threads;
	uint64_t queue;
};

enum tp_tag_kind { TP_TAG_LISTENER, TP_TAG_SIGNAL, TP_TAG_WAKE, TP_TAG_CONN };

/* What an epoll event's data.ptr points to. */
struct tp_tag {
	enum tp_tag_kind kind;
	int fd; /* not used for connections: theirs is c.fd */
};

enum tp_where { TP_IN_POLLER, TP_READY, TP_HELD };

struct tp_conn {
	struct tp_tag tag; /* first: an event's data.ptr is the tp_conn */

	/* The holder's (see above). */
	struct ss_conn c;
	struct tp_slice slice;
	enum tp_next next;                /* the last turn's verdict, read by the poller */
	struct admit_ticket ticket;       /* released when the connection is destroyed */
	uint64_t counted_in, counted_out; /* bytes already added to the scoreboard */

	struct tp_watch watch;   /* kick and activity, shared with the holder */
	pthread_mutex_t fd_lock; /* c.fd's close vs. the poller's shutdown */

	/* The poller's. */
	enum tp_where where;
	bool registered; /* c.fd is in the epoll set (disarmed unless IN_POLLER) */
	struct tp_fifo_node idle_node, life_node, ready_node, all_node;
};

struct tp_pool {
	const struct worker_ctx *ctx;
	const char *name;
	struct admit admit;
	struct connlog connlog;
	struct driver_limits limits;
	unsigned n_threads;
	unsigned cap; /* threads + queue: connections HELD at most */

	pthread_t *threads;
	unsigned n_started;
	struct tp_queue work; /* poller -> threads */
	struct tp_queue done; /* threads -> poller, with a write to wake.fd */

	int epfd;
	struct tp_tag sig, wake;
	struct tp_tag *listeners;
	bool listening;
	bool stopping;
	uint64_t accept_resume_usec; /* after running out of fds or memory */

	/* The poller's counts and lists. */
	unsigned held;           /* HELD connections */
	unsigned live;           /* open connections in this process */
	struct tp_fifo idle;     /* by last byte from the peer (with an idle timeout) */
	struct tp_fifo life;     /* by start (with a max_duration) */
	struct tp_fifo ready;    /* waiting for room in the work queue */
	struct tp_fifo all;      /* every open connection, for a teardown after a failure */
	enum worker_state shown; /* the scoreboard state last written */
};

/* tp_worker.c: a worker thread's body (arg is the pool). */
void *tp_worker_main(void *arg);

/* tp_poller.c: serves until stopped and every connection is gone. 0 or -errno. */
int tp_poller_run(struct tp_pool *p);
/* After the threads are joined: closes and frees the connections a failed
 * tp_poller_run left open (their close callbacks run on the calling thread). */
void tp_poller_teardown(struct tp_pool *p);

#endif
