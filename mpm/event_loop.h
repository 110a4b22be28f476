/*
 * The event model's worker, shared between its files: the loop state of one worker
 * process (event.c runs it), the per-connection record and its non-blocking driver
 * (event_conn.c) and its relay mode (event_relay.c), the listeners (event_listen.c), the datagram
 * listeners (event_dgram.c), the PROXY header stage (event_proxy.c), the record pool (event_pool.c)
 * and the release of memory after a burst (event_mem.c). Internal to mpm/event*.c.
 */
#ifndef SUPERSERVERD_EVENT_LOOP_H
#define SUPERSERVERD_EVENT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpm/admit.h"
#include "mpm/connlog.h"
#include "mpm/conn.h"
#include "mpm/driver.h"
#include "mpm/event_timers.h"
#include "mpm/fdlimit.h"
#include "mpm/mpm.h"
#include "mpm/proxy_accept.h"

#define event_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* What an epoll event's data.ptr points to: every registered object starts with one. */
enum event_tag_kind {
	EVENT_TAG_LISTENER,
	EVENT_TAG_DGRAM,
	EVENT_TAG_SIGNAL,
	EVENT_TAG_CONN,
	EVENT_TAG_RELAY, /* a relayed connection's target socket: the `up` of an event_conn */
};

struct event_tag {
	enum event_tag_kind kind;
	int fd;
};

struct event_listener {
	struct event_tag tag; /* first */
	const struct listen_conf *lc;
	bool armed; /* in the epoll set */
	/* PROXY listener: its connections still reading their header, by deadline (period
	 * = its proxy_timeout). */
	struct event_fifo headers;
	/* TLS listener: its connections in their handshake, by start (period = its
	 * handshake_timeout). */
	struct event_fifo handshakes;
};

struct event_conn {
	struct event_tag tag;
	uint32_t events; /* registered epoll mask, when in_epoll */
	bool in_epoll;
	bool in_use;            /* between accept and close */
	uint64_t writable_turn; /* loop turn of the last writable callback */
	struct event_link idle, life, ready;
	struct event_conn *next;    /* free list or graveyard */
	struct admit_ticket ticket; /* released at close */
	/* Non-NULL while the connection reads its PROXY header (event_proxy.c): the handler
	 * has not started, `c` is not set up, the ticket is the reader's, and `header` is
	 * linked in the listener's deadline list. */
	struct proxy_accept *proxy;
	struct event_link header;
	/* Non-NULL once the handler handed the connection to the relay (event_relay.c):
	 * `up` is the target socket's tag, `connecting` its link in the loop's connect
	 * deadlines. */
	struct relay *relay;
	struct event_tag up;
	uint32_t up_events;
	bool up_in_epoll;
	struct event_link connecting;
	/* The listener it came from (NULL: none known). While `handshaking` the TLS
	 * handshake runs (event_tls.c): the handler has not heard of the connection, and
	 * `handshake` is linked in the listener's deadline list. */
	struct event_listener *lst;
	bool handshaking;
	struct event_link handshake;
	struct ss_conn c;
};

struct event_slab;
struct event_dgram;

#define EVENT_SPARE_BUFFERS 16
#define EVENT_SPARE_MAX_CAP (32 * 1024) /* larger ones go back to malloc */

struct event_loop {
	const struct worker_ctx *ctx;
	struct admit admit;
	struct connlog connlog;
	const char *name;
	int epfd;
	struct event_tag sig;
	struct event_listener *listeners; /* one per ctx->listen_fds; fd -1 once closed */
	size_t n_listen;
	bool listening;   /* accepting (each listener's own state is its `armed`) */
	bool stopping;    /* SIGTERM seen: no more accepting */
	bool said_full;   /* "max_connections reached" logged once at info */
	unsigned live;    /* connections open */
	unsigned headers; /* connections reading their PROXY header; count against max_conns */
	unsigned max_conns;
	uint64_t turn;            /* loop iterations, for the once-per-turn writable bound */
	uint64_t accept_retry_at; /* accepting paused (EMFILE & co.) until then; 0 = no */
	struct accept_shortage shortage;

	struct event_fifo idle;  /* by last byte from the peer (period = idle_timeout) */
	struct event_fifo life;  /* by start (period = max_duration) */
	struct event_fifo ready; /* want another writable callback on the next turn */
	/* Relays connecting to their target, by deadline (period = the first relay's
	 * connect timeout: a service's handler asks for one timeout). */
	struct event_fifo connecting;

	/* Records closed during this epoll batch: a later event of the same batch may still
	 * point at one, so they rejoin the free list only once the batch is done. */
	struct event_conn *graveyard;
	struct event_conn *free_list;
	struct event_slab *slabs;
	size_t n_slabs;
	unsigned pool_used; /* records out of the pool: live, headers and graveyard */
	unsigned pool_peak; /* most out at once since the last release of memory */
	uint64_t mem_due;   /* a release of memory is planned for then; 0 = none */
	uint64_t mem_last;  /* the last release */

	struct event_dgram *dgram; /* NULL: no datagram listener */

	char *rbuf; /* one read buffer for every connection of the worker */
	size_t rbuf_len;

	/* Output buffers taken back from connections whose output drained, lent to the
	 * next one before a callback may write: no malloc/free per message or per
	 * connection in steady state, and idle connections hold none. */
	struct {
		char *buf;
		size_t cap;
	} spare[EVENT_SPARE_BUFFERS];
	unsigned n_spare;
};

/* event_pool.c */
struct event_conn *event_pool_get(struct event_loop *l);
void event_pool_bury(struct event_loop *l, struct event_conn *ec);
void event_pool_recycle(struct event_loop *l);
/* Frees the slabs none of whose records is in use, between batches (the graveyard
 * empty). Returns how many were freed. */
size_t event_pool_shrink(struct event_loop *l);
/* Closes every connection still open (abandoning it) and frees the pool. */
void event_pool_free(struct event_loop *l);

/* event_mem.c */
/* Whether a burst is over: USED records in hand are few against the PEAK since the last
 * release, and enough are gone to be worth a release. */
bool event_mem_burst_over(unsigned used, unsigned peak);
/* End of a loop turn: plans, or makes, a release of memory when a burst is over. */
void event_mem_turn(struct event_loop *l);
/* The same at time NOW (event_mem_turn reads the clock only when a burst is over). */
void event_mem_step(struct event_loop *l, uint64_t now);
/* When the planned release is due, or EVENT_NO_DEADLINE. */
uint64_t event_mem_next_deadline(const struct event_loop *l);

/* event_conn.c */
/* Frees the spare output buffers. */
void event_conn_free_spares(struct event_loop *l);
/* Takes a socket accepted on LST: record, TLS handshake (on a TLS listener), open
 * callback, first flush, epoll registration. LOCAL (local_len 0: the socket's own) is
 * the address a PROXY header named. Returns the record, which may already be closed
 * (in_use false), or NULL. */
struct event_conn *event_conn_start(struct event_loop *l, struct event_listener *lst, int fd,
                                    const struct admit_ticket *ticket, const struct sockaddr *peer,
                                    socklen_t peer_len, const struct sockaddr *local,
                                    socklen_t local_len);
/* The same for a record that already holds its socket (tag.fd) and ticket. */
void event_conn_begin(struct event_loop *l, struct event_conn *ec, struct event_listener *lst,
                      const struct sockaddr *peer, socklen_t peer_len, const struct sockaddr *local,
                      socklen_t local_len);
/* The handler's part begins (after the handshake, if any): greeting, open callback,
 * first flush, epoll interest. */
void event_conn_open(struct event_loop *l, struct event_conn *ec);
/* Sets ec's epoll interest to WANT (adding its socket the first time); no call when it
 * is already that. Returns 0 or -errno. */
int event_conn_interest(struct event_loop *l, struct event_conn *ec, uint32_t want);
/* An epoll event for ec. */
void event_conn_event(struct event_loop *l, struct event_conn *ec, uint32_t revents);
/* One pass over the connections that asked to run again (bounded to those queued
 * before the pass). */
void event_conn_run_ready(struct event_loop *l);
/* Closes the connections whose idle or duration deadline has passed. */
void event_conn_expire(struct event_loop *l, uint64_t now);
/* Ends ec's life now: handler close, socket closed, counters, record to the graveyard. */
void event_conn_close(struct event_loop *l, struct event_conn *ec, enum driver_outcome outcome);

/* event_tls.c */
/* A connection on a TLS listener: its handshake starts, in the loop. */
void event_tls_begin(struct event_loop *l, struct event_conn *ec);
/* An epoll event for a connection in its handshake. */
void event_tls_event(struct event_loop *l, struct event_conn *ec);
/* Closes the connections whose handshake is late at NOW. */
void event_tls_expire(struct event_loop *l, uint64_t now);
/* The earliest handshake deadline, or EVENT_NO_DEADLINE. */
uint64_t event_tls_next_deadline(const struct event_loop *l);
/* From event_conn_close: a handshake that never finished is counted as failed (a
 * timeout when OUTCOME is one) and the handler, which never heard of it, is not
 * called. A finished one ending cleanly sends close_notify. */
void event_tls_end(struct event_loop *l, struct event_conn *ec, enum driver_outcome outcome);

/* event_relay.c */
/* After open: the handler asked for a relay (ec->c.relay_req). */
void event_relay_begin(struct event_loop *l, struct event_conn *ec);
/* Readiness of the client (READY) or the target (UP_READY) of a relayed connection. */
void event_relay_event(struct event_loop *l, struct event_conn *ec, uint32_t ready,
                       uint32_t up_ready);
/* Gives up the connects whose deadline has passed. */
void event_relay_expire(struct event_loop *l, uint64_t now);
/* From event_conn_close: the relay's sockets and memory. */
void event_relay_end(struct event_conn *ec);

/* event_listen.c */
int event_listen_setup(struct event_loop *l);
/* Puts the listeners in or out of the epoll set (backlog does the waiting). */
void event_listen_enable(struct event_loop *l, bool on);
/* Accepts a bounded burst from one listener. */
void event_listen_accept(struct event_loop *l, struct event_tag *t);
/* A connection closed or a retry delay passed: accept again if there is room. */
void event_listen_update(struct event_loop *l);
/* SIGTERM: out of the epoll set and closed in this process. */
void event_listen_close(struct event_loop *l);

/* event_dgram.c */
/* Once the listeners are set up: the datagram state, when any listener is a datagram
 * one. SHARE is how many workers read the same sockets. 0 or a negative errno. */
int event_dgram_setup(struct event_loop *l, unsigned share);
void event_dgram_free(struct event_loop *l);
/* A datagram listener is readable: a bounded number of batches. */
void event_dgram_read(struct event_loop *l, struct event_tag *t);
/* After a receive error the sockets rest: when they come back, or EVENT_NO_DEADLINE. */
uint64_t event_dgram_next_deadline(const struct event_loop *l);
void event_dgram_timers(struct event_loop *l, uint64_t now);

/* event_proxy.c */
/* A socket just accepted on a PROXY listener: refused, started, or kept to wait. */
void event_proxy_accepted(struct event_loop *l, struct event_listener *lst, int fd,
                          const struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                          socklen_t peer_len);
/* An epoll event for a connection still reading its header. */
void event_proxy_event(struct event_loop *l, struct event_conn *ec);
/* Refuses the connections whose header is late at NOW. */
void event_proxy_expire(struct event_loop *l, uint64_t now);
/* The earliest header deadline, or EVENT_NO_DEADLINE. */
uint64_t event_proxy_next_deadline(const struct event_loop *l);
/* Closes a connection still reading its header (the worker is leaving). */
void event_proxy_drop(struct event_loop *l, struct event_conn *ec);

#endif
