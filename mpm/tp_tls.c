/*
 * The threadpool poller's TLS handshakes. A thread may block in a handler, but the
 * poller never blocks, and a handshake needs no handler: it runs here, one
 * non-blocking step per readiness of the socket (the epoll interest following what
 * OpenSSL waits for), from a struct tp_handshake the poller alone owns. Only a
 * connection whose handshake is done becomes a tp_conn and reaches a thread, so a
 * client that stalls mid-handshake holds a descriptor and a record, never a thread.
 *
 * Its deadline is the nearest of the listener's handshake_timeout and the service's
 * idle_timeout and max_duration, all from accept, kept in the handshakes FIFO (keyed
 * by deadline) and checked with the other timers. A failure or a timeout is counted
 * in the scoreboard by tls_conn's reason and closes the connection without the
 * handler hearing of it; a completion is counted with its time and whether it resumed.
 *
 * A record is freed only from its own event or from the timers after the batch, and
 * epoll reports a descriptor at most once per batch, so no event of the current batch
 * can still point to a freed record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mpm/tls_conn.h"
#include "mpm/tp_pool.h"
#include "superserverd/config.h"
#include "superserverd/log.h"
#include "superserverd/tls.h"

#define tp_handshake_of(n)                                                                         \
	((struct tp_handshake *)(void *)((char *)(n)-offsetof(struct tp_handshake, node)))

/* Out of the deadline list and the epoll set (a tp_conn registers the socket anew). */
static void tp_tls_release(struct tp_pool *p, struct tp_handshake *h)
{
	if (h->events && epoll_ctl(p->epfd, EPOLL_CTL_DEL, h->c.fd, NULL) < 0 && errno != ENOENT)
		log_warning(p->name, "epoll_ctl(DEL): %s", strerror(errno));
	h->events = 0;
	tp_fifo_remove(&p->handshakes, &h->node);
}

/* The handshake did not finish: counted by its reason, the connection closed as one
 * that ended with OUTCOME, the record freed. */
static void tp_tls_fail(struct tp_pool *p, struct tp_handshake *h, enum driver_outcome outcome)
{
	struct ss_conn *c = &h->c;

	tp_tls_release(p, h);
	c->tls_failure = (int)tls_conn_failure(c->tls);
	/* Leaving without a failure recorded: the process stopping, a lost epoll_ctl. */
	if (c->tls_failure == TLS_FAIL_NONE)
		c->tls_failure = TLS_FAIL_OTHER;
	scoreboard_tls_handshake(p->ctx->scoreboard, (unsigned)c->tls_failure, false, 0);
	/* The handler never heard of this connection: no close callback either. */
	c->closed = true;
	connlog_conn_done(&p->connlog, c, outcome);
	conn_destroy(c);
	admit_release(&p->admit, &h->ticket);
	scoreboard_conn_done(p->ctx->scoreboard, NULL, conn_now_usec() - c->start_usec, true, 0, 0,
	                     driver_result(outcome));
	atomic_fetch_add(&p->ctx->slot->served, 1);
	free(h);
}

/* Done: the pool takes the connection, and a thread runs the open callback. */
static void tp_tls_done(struct tp_pool *p, struct tp_handshake *h)
{
	int r;

	tp_tls_release(p, h);
	scoreboard_tls_handshake(p->ctx->scoreboard, TLS_FAIL_NONE, tls_conn_resumed(h->c.tls),
	                         conn_now_usec() - h->c.start_usec);
	r = tp_poller_adopt(p, &h->c, &h->ticket, true);
	if (r < 0) {
		log_warning(p->name, "cannot take a connection: %s", strerror(-r));
		h->c.closed = true;
		conn_destroy(&h->c);
		admit_release(&p->admit, &h->ticket);
	}
	free(h);
}

/* One non-blocking step of the handshake, on an epoll event or at its start. */
void tp_tls_event(struct tp_pool *p, struct tp_handshake *h)
{
	enum tls_status s = tls_conn_handshake(h->c.tls);
	uint32_t want;

	if (s == TLS_DONE) {
		tp_tls_done(p, h);
		return;
	}
	if (s != TLS_WANT_READ && s != TLS_WANT_WRITE) {
		tp_tls_fail(p, h, DRIVER_PEER_GONE);
		return;
	}
	want = s == TLS_WANT_READ ? EPOLLIN : EPOLLOUT;
	if (want != h->events) {
		struct epoll_event ev = {.events = want, .data.ptr = &h->tag};

		if (epoll_ctl(p->epfd, h->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, h->c.fd, &ev) <
		    0) {
			log_warning(p->name, "epoll_ctl: %s: closing a connection",
			            strerror(errno));
			tp_tls_fail(p, h, DRIVER_PEER_GONE);
			return;
		}
		h->events = want;
	}
}

int tp_tls_begin(struct tp_pool *p, const struct listen_conf *lc, const struct ss_conn *c,
                 const struct admit_ticket *ticket)
{
	struct tp_handshake *h = calloc(1, sizeof(*h));
	struct driver_limits lim = p->limits;
	uint64_t at;

	if (!h)
		return -ENOMEM;
	h->c = *c;
	h->c.tls = tls_conn_new(tls_server_ctx(lc->tls), c->fd);
	if (!h->c.tls) {
		free(h);
		return -ENOMEM;
	}
	h->tag = (struct tp_tag){.kind = TP_TAG_HANDSHAKE, .fd = c->fd};
	h->ticket = *ticket;
	lim.handshake_timeout_usec = tls_server_handshake_timeout_usec(lc->tls);
	at = driver_handshake_deadline(c->start_usec, &lim);
	h->expiry = driver_handshake_outcome(-ETIMEDOUT, c->start_usec, at, &lim);
	/* A connection like the others from here on, in the counts as in the logs. */
	tp_poller_count_accept(p, &h->c);
	/* No deadline at all cannot be configured (handshake_timeout is at least 1ms);
	 * the FIFO is keyed by deadline all the same. */
	tp_fifo_insert(&p->handshakes, &h->node, at ? at : h->c.start_usec + UINT64_MAX / 4);
	/* The ClientHello is most likely not there yet: this only peeks and waits. */
	tp_tls_event(p, h);
	return 0;
}

void tp_tls_expire(struct tp_pool *p, uint64_t now)
{
	struct tp_fifo_node *n;

	while ((n = tp_fifo_first(&p->handshakes)) && n->key <= now) {
		struct tp_handshake *h = tp_handshake_of(n);

		tls_conn_set_timed_out(h->c.tls);
		tp_tls_fail(p, h, h->expiry);
	}
}

uint64_t tp_tls_next_deadline(const struct tp_pool *p)
{
	struct tp_fifo_node *n = tp_fifo_first(&p->handshakes);

	return n ? n->key : 0;
}

void tp_tls_drop_all(struct tp_pool *p)
{
	struct tp_fifo_node *n;

	while ((n = tp_fifo_first(&p->handshakes)))
		tp_tls_fail(p, tp_handshake_of(n), DRIVER_STOPPED);
}
