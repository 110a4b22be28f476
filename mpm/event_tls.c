/*
 * The event model's TLS handshakes: a connection state between admission and the
 * handler's open. The handshake advances one non-blocking step per readiness of the
 * socket, the epoll interest following what OpenSSL waits for (EPOLLIN or EPOLLOUT),
 * so a client that stalls mid-handshake costs a record and a descriptor, never the
 * loop. It is bounded by the listener's handshake_timeout (its deadline list, by
 * start) and, as any connection, by idle_timeout and max_duration (the loop's lists,
 * armed at begin): whichever comes first closes it.
 *
 * A handshake that fails or times out is counted in the scoreboard by tls_conn's
 * reason and closes the connection; the handler never hears of it, so it is never a
 * handler error. One that completes is counted with its time and whether it resumed a
 * session, and the handler's part begins.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "mpm/event_loop.h"
#include "mpm/tls_conn.h"
#include "superserverd/config.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"
#include "superserverd/tls.h"

/* One non-blocking step of the handshake, on an epoll event or at its start. */
void event_tls_event(struct event_loop *l, struct event_conn *ec)
{
	struct ss_conn *c = &ec->c;
	enum tls_status s = tls_conn_handshake(c->tls);
	int r;

	switch (s) {
	case TLS_DONE:
		event_link_remove(&ec->handshake);
		ec->handshaking = false;
		scoreboard_tls_handshake(l->ctx->scoreboard, TLS_FAIL_NONE,
		                         tls_conn_resumed(c->tls), conn_now_usec() - c->start_usec);
		/* The client's first bytes may have come with its Finished: event_conn_open
		 * ends in a progress that reads them from TLS if so. */
		event_conn_open(l, ec);
		return;
	case TLS_WANT_READ:
	case TLS_WANT_WRITE:
		r = event_conn_interest(l, ec, s == TLS_WANT_READ ? EPOLLIN : EPOLLOUT);
		if (r == 0)
			return;
		log_warning(l->name, "epoll_ctl: %s: closing a connection", strerror(-r));
		break;
	default:
		break;
	}
	event_conn_close(l, ec, DRIVER_PEER_GONE);
}

void event_tls_begin(struct event_loop *l, struct event_conn *ec)
{
	struct event_listener *lst = ec->lst;

	ec->handshaking = true;
	ec->c.tls = tls_conn_new(tls_server_ctx(lst->lc->tls), ec->c.fd);
	if (!ec->c.tls) {
		log_warning(l->name, "out of memory: refusing a TLS connection");
		event_conn_close(l, ec, DRIVER_PEER_GONE);
		return;
	}
	if (lst->handshakes.period)
		event_fifo_touch(&lst->handshakes, &ec->handshake, ec->c.start_usec);
	/* The ClientHello is most likely not there yet: this only peeks and waits. */
	event_tls_event(l, ec);
}

void event_tls_expire(struct event_loop *l, uint64_t now)
{
	for (size_t i = 0; i < l->n_listen; i++) {
		struct event_link *k;

		while ((k = event_fifo_expired(&l->listeners[i].handshakes, now))) {
			struct event_conn *ec = event_container_of(k, struct event_conn, handshake);

			/* event_tls_end counts it as a timeout. */
			event_conn_close(l, ec, DRIVER_IDLE_TIMEOUT);
		}
	}
}

uint64_t event_tls_next_deadline(const struct event_loop *l)
{
	uint64_t at = EVENT_NO_DEADLINE;

	for (size_t i = 0; i < l->n_listen; i++) {
		uint64_t next = event_fifo_next(&l->listeners[i].handshakes);
		if (next < at)
			at = next;
	}
	return at;
}

void event_tls_end(struct event_loop *l, struct event_conn *ec, enum driver_outcome outcome)
{
	struct ss_conn *c = &ec->c;

	if (!ec->handshaking) {
		/* The output is flushed: close_notify fits in what the socket takes, and
		 * is not waited for when it does not (nor is the peer's answer). */
		if (outcome == DRIVER_COMPLETED)
			(void)conn_tls_end(c);
		return;
	}
	event_link_remove(&ec->handshake);
	ec->handshaking = false;
	/* The handler never heard of this connection: no close callback either. */
	c->closed = true;
	if (!c->tls)
		return;
	if (outcome == DRIVER_IDLE_TIMEOUT || outcome == DRIVER_DURATION)
		tls_conn_set_timed_out(c->tls);
	c->tls_failure = (int)tls_conn_failure(c->tls);
	/* Leaving without a failure recorded (the worker stopping, a lost epoll_ctl). */
	if (c->tls_failure == TLS_FAIL_NONE)
		c->tls_failure = TLS_FAIL_OTHER;
	scoreboard_tls_handshake(l->ctx->scoreboard, (unsigned)c->tls_failure, false, 0);
}
