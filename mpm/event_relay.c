/*
 * The event model's relayed connections: a connection whose handler called
 * ss_conn_relay() leaves the handler driver for the relay (mpm/relay.c). Its target
 * socket joins the epoll set under its own tag, both sockets are watched only for what
 * the relay waits on (so a side in back-pressure does not wake the loop), and the
 * connect is timed in a deadline list of its own.
 */

#include "mpm/event_loop.h"
#include "mpm/relay_epoll.h"
#include "superserverd/log.h"

static void event_relay_step(struct event_loop *l, struct event_conn *ec, uint32_t ready,
                             uint32_t up_ready, uint64_t now)
{
	const struct relay_epoll_sock client = {ec->c.fd, ec, &ec->events, &ec->in_epoll};
	const struct relay_epoll_sock up = {ec->up.fd, &ec->up, &ec->up_events, &ec->up_in_epoll};
	enum driver_outcome o;
	uint64_t before;

	if (!ec->in_use || !ec->relay)
		return; /* closed earlier in this batch */
	before = ec->c.activity_usec;
	if (relay_epoll_step(l->name, l->epfd, ec->relay, &client, &up, ready, up_ready, now, &o)) {
		event_conn_close(l, ec, o);
		return;
	}
	if (!relay_connect_deadline(ec->relay))
		event_link_remove(&ec->connecting);
	if (ec->c.activity_usec != before && l->idle.period)
		event_fifo_touch(&l->idle, &ec->idle, ec->c.activity_usec);
}

void event_relay_event(struct event_loop *l, struct event_conn *ec, uint32_t ready,
                       uint32_t up_ready)
{
	event_relay_step(l, ec, ready, up_ready, conn_now_usec());
}

void event_relay_begin(struct event_loop *l, struct event_conn *ec)
{
	uint64_t timeout = ec->c.relay_req->connect_timeout_usec;

	ec->relay = relay_start(&ec->c);
	if (!ec->relay) {
		log_warning(l->name, "out of memory: closing a connection to relay");
		event_conn_close(l, ec, DRIVER_HANDLER_ERROR);
		return;
	}
	ec->up = (struct event_tag){.kind = EVENT_TAG_RELAY, .fd = relay_up_fd(ec->relay)};
	if (relay_connect_deadline(ec->relay)) {
		if (!l->connecting.period)
			l->connecting.period = timeout ? timeout : 1;
		event_fifo_touch(&l->connecting, &ec->connecting, conn_now_usec());
	}
	/* Connected or refused at once (a Unix socket, often loopback): the step looks. */
	event_relay_event(l, ec, RELAY_ANY, RELAY_ANY);
}

void event_relay_expire(struct event_loop *l, uint64_t now)
{
	struct event_link *k;

	while ((k = event_fifo_expired(&l->connecting, now))) {
		struct event_conn *ec = event_container_of(k, struct event_conn, connecting);

		event_link_remove(k);
		/* The list's deadline is the one that counts (a service's handler asks for
		 * one timeout): the relay is told its own has passed. */
		event_relay_step(l, ec, 0, 0, UINT64_MAX);
	}
}

void event_relay_end(struct event_conn *ec)
{
	if (!ec->relay)
		return;
	event_link_remove(&ec->connecting);
	/* Closing the target socket also takes it out of the epoll set. */
	relay_free(ec->relay);
	ec->relay = NULL;
	ec->up.fd = -1;
	ec->up_in_epoll = false;
}
