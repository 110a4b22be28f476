/*
 * The threadpool's relayed connections, run by the poller: a relay step makes only
 * non-blocking calls, so it is not handler code, and a relayed connection holds no
 * thread for its life, only its two sockets and the relay's small buffers. A thread
 * runs the open callback, which asks for the relay, and later the close callback if
 * the handler has one; in between the connection is the poller's (RELAY), its target
 * socket in the epoll set under its own tag, both sockets watched only for what the
 * relay waits on (relay_epoll.h), the connect timed in a deadline list of its own.
 * idle_timeout and max_duration end a relay through the poller's kick like any
 * connection, and while draining relays go on like any connection until they end or
 * the service's shutdown_timeout passes.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "mpm/relay_epoll.h"
#include "mpm/tp_pool.h"
#include "superserverd/log.h"

#define tp_relay_of(node)                                                                          \
	((struct tp_conn *)(void *)((char *)(node)-offsetof(struct tp_conn, connecting_node)))

void tp_relay_end(struct tp_pool *p, struct tp_conn *tc, enum driver_outcome o)
{
	int none = TP_NO_KICK;

	if (atomic_load(&tc->where) != TP_RELAY)
		return;
	tp_fifo_remove(&p->connecting, &tc->connecting_node);
	/* Closing the target socket also takes it out of the epoll set. */
	relay_free(tc->relay);
	tc->relay = NULL;
	tc->up.fd = -1;
	tc->up_registered = false;
	/* Out of the set now: a hangup would wake the poller at every turn until a
	 * thread closes the socket. */
	if (tc->registered && epoll_ctl(p->epfd, EPOLL_CTL_DEL, tc->c.fd, NULL) < 0 &&
	    errno != ENOENT)
		log_warning(p->name, "epoll_ctl(DEL): %s", strerror(errno));
	tc->registered = false;
	tp_worker_count_bytes(p, tc);
	/* No handler code to run (forward has no close callback): closed here, which
	 * spares two hand-offs between the poller and a thread. */
	if (!tc->c.handler->close) {
		atomic_store(&tc->where, TP_HELD);
		tp_fifo_remove(&p->idle, &tc->idle_node);
		tp_fifo_remove(&p->life, &tc->life_node);
		tp_worker_close(p, tc, o);
		tc->closed_next = p->closed;
		p->closed = tc;
		return;
	}
	/* The thread that takes it finds the outcome as a kick and only closes. */
	(void)atomic_compare_exchange_strong(&tc->watch.kick, &none, (int)o);
	atomic_store(&tc->where, TP_READY);
	tp_poller_dispatch(p, tc);
}

static void tp_relay_step(struct tp_pool *p, struct tp_conn *tc, uint32_t ready, uint32_t up_ready,
                          uint64_t now)
{
	const struct relay_epoll_sock client = {tc->c.fd, tc, &tc->events, &tc->registered};
	const struct relay_epoll_sock up = {tc->up.fd, &tc->up, &tc->up_events, &tc->up_registered};
	enum driver_outcome o;

	if (relay_epoll_step(p->name, p->epfd, tc->relay, &client, &up, ready, up_ready, now, &o)) {
		tp_relay_end(p, tc, o);
		return;
	}
	if (!relay_connect_deadline(tc->relay))
		tp_fifo_remove(&p->connecting, &tc->connecting_node);
	/* The idle list reads the last byte's time from here, as from a thread. */
	atomic_store(&tc->watch.activity, tc->c.activity_usec);
	tp_worker_count_bytes(p, tc);
}

void tp_relay_event(struct tp_pool *p, struct tp_conn *tc, uint32_t ready, uint32_t up_ready)
{
	/* Ended earlier in this batch: it is a thread's now, or on its way to one. */
	if (atomic_load(&tc->where) != TP_RELAY)
		return;
	tp_relay_step(p, tc, ready, up_ready, conn_now_usec());
}

void tp_relay_begin(struct tp_pool *p, struct tp_conn *tc)
{
	int kick = atomic_load(&tc->watch.kick);
	uint64_t at;

	atomic_store(&tc->where, TP_RELAY);
	/* Timed out while a thread ran the open callback. */
	if (kick != TP_NO_KICK) {
		tp_relay_end(p, tc, (enum driver_outcome)kick);
		return;
	}
	tc->relay = relay_start(&tc->c);
	if (!tc->relay) {
		log_warning(p->name, "out of memory: closing a connection to relay");
		tp_relay_end(p, tc, DRIVER_HANDLER_ERROR);
		return;
	}
	/* A disarmed registration (EPOLLONESHOT) reports nothing: 0 is what it waits on. */
	tc->events = 0;
	tc->up = (struct tp_tag){.kind = TP_TAG_RELAY, .fd = relay_up_fd(tc->relay)};
	at = relay_connect_deadline(tc->relay);
	if (at)
		tp_fifo_insert(&p->connecting, &tc->connecting_node, at);
	/* Connected or refused at once (a Unix socket, often loopback): the step looks. */
	tp_relay_step(p, tc, RELAY_ANY, RELAY_ANY, conn_now_usec());
}

void tp_relay_expire(struct tp_pool *p, uint64_t now)
{
	struct tp_fifo_node *n;

	while ((n = tp_fifo_first(&p->connecting)) && n->key <= now) {
		struct tp_conn *tc = tp_relay_of(n);

		tp_fifo_remove(&p->connecting, n);
		tp_relay_step(p, tc, 0, 0, now);
	}
}

uint64_t tp_relay_next_deadline(const struct tp_pool *p)
{
	const struct tp_fifo_node *n = tp_fifo_first(&p->connecting);

	return n ? n->key : 0;
}
