/*
 * The threadpool model's insides, shared by its files: threadpool.c (options, start
 * and stop of one service process), tp_poller.c (the thread that owns epoll, the
 * listeners and the timers), tp_worker.c (the threads that run handlers) and
 * tp_relay.c (relayed connections, which the poller runs itself).
 *
 * Ownership. A connection is in exactly one place, told by its atomic `where`:
 * IN_POLLER (armed in epoll, EPOLLONESHOT), READY (in the poller's ready list), HELD (in
 * the work queue, in a thread, or in the done queue on its way to be freed or relayed),
 * ARMING (a thread is handing it back to epoll), FIRED (an event or a kick came while
 * ARMING) or RELAY (the poller runs its relay; only the poller sets or leaves it).
 * Only two transitions are contended, and both are compare-and-swaps: the poller takes
 * IN_POLLER -> READY (an event or a kick), or marks ARMING -> FIRED; the arming thread
 * ends ARMING -> IN_POLLER, or, finding FIRED, keeps the connection and takes another
 * turn. So a thread gives a waiting connection back to epoll itself, without waking the
 * poller, and never touches it after its ARMING -> IN_POLLER succeeded.
 *
 * While HELD, ARMING or FIRED only the holding thread touches its ss_conn, slice and
 * `registered`, while RELAY only the poller; the idle, life, ready and all lists
 * belong to the poller, which re-files
 * a connection in `idle` lazily from `watch.activity`. `watch` (atomics) is shared, and
 * the socket's closing is serialized by fd_lock with the poller's shutdown() of a
 * connection that timed out in a thread. Only the poller frees a connection, after the
 * epoll batch that may still name it (closed ones come back through the done queue).
 * `held` is atomic: the poller adds, the threads subtract, and a thread wakes the poller
 * (wake.fd) after subtracting only when the poller asked for it (`room_wanted`: ready
 * connections or listeners wait for room).
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
#include "mpm/fdlimit.h"
#include "mpm/mpm.h"
#include "mpm/proxy_accept.h"
#include "mpm/tp_fifo.h"
#include "mpm/tp_queue.h"
#include "mpm/tp_slice.h"
#include "superserverd/scoreboard.h"

struct tp_options {
	uint64_t processes;
	uint64_t threads;
	uint64_t queue;
};

enum tp_tag_kind {
	TP_TAG_LISTENER,
	TP_TAG_SIGNAL,
	TP_TAG_WAKE,
	TP_TAG_CONN,
	TP_TAG_HEADER,
	TP_TAG_RELAY, /* a relayed connection's target socket: the `up` of a tp_conn */
	TP_TAG_HANDSHAKE,
};

/* What an epoll event's data.ptr points to. */
struct tp_tag {
	enum tp_tag_kind kind;
	int fd; /* not used for connections: theirs is c.fd */
};

struct tp_listener {
	struct tp_tag tag; /* first */
	const struct listen_conf *lc;
	bool armed; /* in the epoll set */
};

/*
 * A connection on a PROXY listener whose header is on its way (tp_header.c). The
 * poller's alone: it becomes a tp_conn, and reaches a thread, only once the header is
 * complete and the client it names is admitted.
 */
struct tp_header {
	struct tp_tag tag; /* first; tag.fd is pa.fd */
	struct proxy_accept pa;
	struct tp_fifo_node node; /* in the pool's headers, keyed by deadline */
};

struct relay;

/*
 * A connection on a TLS listener in its handshake (tp_tls.c). The poller's alone, like
 * a header: the poller drives the handshake without blocking and it becomes a tp_conn,
 * reaching a thread, only once the handshake is done, so a stalled client holds no
 * thread.
 */
struct tp_handshake {
	struct tp_tag tag; /* first; tag.fd is c.fd */
	struct ss_conn c;  /* c.tls set; the handler has not heard of it */
	struct admit_ticket ticket;
	uint32_t events; /* the epoll interest (EPOLLIN or EPOLLOUT) */
	/* The nearest of handshake_timeout, idle_timeout and max_duration, and the
	 * outcome when it passes. */
	enum driver_outcome expiry;
	struct tp_fifo_node node; /* in the pool's handshakes, keyed by that deadline */
};

enum tp_where { TP_IN_POLLER, TP_READY, TP_HELD, TP_ARMING, TP_FIRED, TP_RELAY };

struct tp_conn {
	struct tp_tag tag; /* first: an event's data.ptr is the tp_conn */

	/* The holder's (see above). */
	struct ss_conn c;
	struct tp_slice slice;
	enum tp_next next;                /* the last turn's verdict, read by the poller */
	struct admit_ticket ticket;       /* released when the connection is destroyed */
	uint64_t counted_in, counted_out; /* bytes already added to the scoreboard */

	bool registered; /* c.fd is in the epoll set (disarmed unless IN_POLLER or RELAY) */

	/* While RELAY (tp_relay.c): the relay, its target socket's tag, the events each
	 * socket is registered for, and the link in the pool's connect deadlines. */
	struct relay *relay;
	struct tp_tag up;
	uint32_t events, up_events;
	bool up_registered;
	struct tp_fifo_node connecting_node;

	/* Shared (see above). */
	_Atomic int where;       /* enum tp_where */
	struct tp_watch watch;   /* kick and activity, shared with the holder */
	pthread_mutex_t fd_lock; /* c.fd's close vs. the poller's shutdown */

	/* The poller's. */
	struct tp_fifo_node idle_node, life_node, ready_node, all_node;
	struct tp_conn *closed_next; /* in the pool's `closed` */
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
	/* Closed connections, and those handed to the relay, threads -> poller, with a
	 * write to wake.fd. */
	struct tp_queue done;
	_Atomic unsigned
	        held; /* HELD, ARMING or FIRED connections: the poller adds, threads subtract */
	atomic_bool room_wanted; /* the poller waits for `held` to drop: threads wake it */

	int epfd;
	struct tp_tag sig, wake;
	struct tp_listener *listeners;
	bool listening; /* accepting at all (each listener's state is its `armed`) */
	bool stopping;
	uint64_t accept_resume_usec; /* after running out of fds or memory */
	struct accept_shortage shortage;

	/* The poller's counts and lists. */
	unsigned live;             /* open connections in this process */
	struct tp_fifo idle;       /* by last byte from the peer (with an idle timeout) */
	struct tp_fifo life;       /* by start (with a max_duration) */
	struct tp_fifo ready;      /* waiting for room in the work queue */
	struct tp_fifo all;        /* every open connection, for a teardown after a failure */
	struct tp_fifo headers;    /* PROXY headers being read, by deadline (not in `live`) */
	struct tp_fifo connecting; /* relays connecting to their target, by deadline */
	/* Relays the poller closed itself, freed once no event of the batch that closed
	 * them can name them. */
	struct tp_conn *closed;
	struct tp_fifo handshakes; /* TLS handshakes, by deadline (not in `live`) */
	enum worker_state shown;   /* the scoreboard state last written */
};

/* tp_worker.c: a worker thread's body (arg is the pool). */
void *tp_worker_main(void *arg);
/* Makes the poller's epoll_wait return (a closed connection, or room it asked for). */
void tp_worker_wake_poller(struct tp_pool *p);

/* tp_worker.c: adds what tc moved since the last call to the scoreboard's bytes. */
void tp_worker_count_bytes(struct tp_pool *p, struct tp_conn *tc);
/* Ends tc for O: the handler's close, the socket, the record and the counters (not
 * the poller's lists: the poller frees it). */
void tp_worker_close(struct tp_pool *p, struct tp_conn *tc, enum driver_outcome o);

/* tp_poller.c: serves until stopped and every connection is gone. 0 or -errno. */
int tp_poller_run(struct tp_pool *p);
/*
 * A connection past accept (and its PROXY header, if any) on listener LC with PEER the
 * client and LOCAL the address it connected to (local_len 0: the socket's own):
 * admission, then the TLS handshake on a TLS listener, then the pool's. Returns 0
 * (served or refused) or -errno when it could not be taken (the socket is closed and
 * the ticket released either way).
 */
int tp_poller_admit(struct tp_pool *p, const struct listen_conf *lc, int fd,
                    struct admit_ticket *ticket, const struct sockaddr *peer, socklen_t peer_len,
                    const struct sockaddr *local, socklen_t local_len);
/*
 * Hands C (conn_init'ed, addresses set; a finished TLS handshake in c->tls) to the
 * pool, which owns it from now on with TICKET; a thread runs the open callback.
 * COUNTED: the scoreboard's `accepted` has already counted it. Returns 0 or -errno
 * (C and the ticket are then still the caller's).
 */
int tp_poller_adopt(struct tp_pool *p, const struct ss_conn *c, const struct admit_ticket *ticket,
                    bool counted);
/* A connection is taken: the scoreboard's `accepted`, and the debug log. */
void tp_poller_count_accept(struct tp_pool *p, const struct ss_conn *c);
/* Queues tc (READY) for a thread, behind the connections already waiting. */
void tp_poller_dispatch(struct tp_pool *p, struct tp_conn *tc);
/* After the threads are joined: closes and frees the connections a failed
 * tp_poller_run left open (their close callbacks run on the calling thread). */
void tp_poller_teardown(struct tp_pool *p);

/* tp_header.c: a socket just accepted on a PROXY listener (refused, admitted, or kept to
 * wait for the rest of its header). */
void tp_header_accepted(struct tp_pool *p, const struct listen_conf *lc, int fd,
                        const struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                        socklen_t peer_len);
/* The header's socket is readable (or closed, or failed). */
void tp_header_event(struct tp_pool *p, struct tp_header *h);
/* Refuses the connections whose header is late at NOW. */
void tp_header_expire(struct tp_pool *p, uint64_t now);
/* The earliest header deadline, 0 when none. */
uint64_t tp_header_next_deadline(const struct tp_pool *p);
/* Closes every header still pending (the process is leaving). */
void tp_header_drop_all(struct tp_pool *p);

/*
 * tp_relay.c, all on the poller. A connection a thread handed over (TP_NEXT_RELAY,
 * HELD no more): starts its relay. It is RELAY until the relay ends, then READY for a
 * thread that runs the handler's close callback and closes it (the poller never runs
 * handler code), or, when the handler has none, closed by the poller and put in
 * `closed` (no longer RELAY, so no event or kick takes it).
 */
void tp_relay_begin(struct tp_pool *p, struct tp_conn *tc);
/* Readiness of a relayed connection's client (READY) or target (UP_READY). */
void tp_relay_event(struct tp_pool *p, struct tp_conn *tc, uint32_t ready, uint32_t up_ready);
/* Ends a relay now for O (a kick: idle or duration), unless it is ended already. */
void tp_relay_end(struct tp_pool *p, struct tp_conn *tc, enum driver_outcome o);
/* Gives up the connects whose deadline has passed at NOW. */
void tp_relay_expire(struct tp_pool *p, uint64_t now);
/* The earliest connect deadline, 0 when none. */
uint64_t tp_relay_next_deadline(const struct tp_pool *p);
/* tp_tls.c: an admitted connection on a TLS listener (C as for tp_poller_adopt): its
 * handshake starts. 0, or -errno (nothing taken). */
int tp_tls_begin(struct tp_pool *p, const struct listen_conf *lc, const struct ss_conn *c,
                 const struct admit_ticket *ticket);
/* The handshake's socket is ready. */
void tp_tls_event(struct tp_pool *p, struct tp_handshake *h);
/* Closes the connections whose handshake is late at NOW. */
void tp_tls_expire(struct tp_pool *p, uint64_t now);
/* The earliest handshake deadline, 0 when none. */
uint64_t tp_tls_next_deadline(const struct tp_pool *p);
/* Closes every handshake still going (the process is leaving). */
void tp_tls_drop_all(struct tp_pool *p);

#endif
