/*
 * The event model's non-blocking connection driver: the same semantics as the
 * blocking driver (driver.c), cut into steps that each run when epoll says so.
 * Reading stops while output is above the high-water mark, the writable callback runs
 * below the low-water mark at most once per loop turn, peer EOF ends the connection
 * after the flush, a failing callback closes it without one, and every exit goes
 * through event_conn_close so the handler's close runs exactly once.
 *
 * Handlers only mark a connection ended or failed; it is closed here, after the
 * callback has returned, so the record is always valid while a callback runs.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/event_loop.h"
#include "superserverd/addr.h"
#include "superserverd/config.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

/* recv calls per epoll event: a socket with a backlog of input drains in few wakes,
 * and one fast sender still cannot hold the loop. */
#define EVENT_READS_PER_EVENT 4

/* Before a callback that may write: a drained buffer from an earlier connection
 * rather than a fresh allocation. */
static void event_conn_lend_output(struct event_loop *l, struct ss_conn *c)
{
	if (c->out || l->n_spare == 0)
		return;
	l->n_spare--;
	c->out = l->spare[l->n_spare].buf;
	c->out_cap = l->spare[l->n_spare].cap;
	c->out_off = c->out_len = 0;
}

/* Takes c's output buffer back, whatever it holds (callers check it is drained or no
 * longer wanted). An idle connection keeps none: with thousands open, a buffer each
 * would be most of the worker's memory. */
static void event_conn_take_output(struct event_loop *l, struct ss_conn *c)
{
	if (!c->out)
		return;
	if (l->n_spare < EVENT_SPARE_BUFFERS && c->out_cap <= EVENT_SPARE_MAX_CAP) {
		l->spare[l->n_spare].buf = c->out;
		l->spare[l->n_spare].cap = c->out_cap;
		l->n_spare++;
	} else {
		free(c->out);
	}
	c->out = NULL;
	c->out_off = c->out_len = c->out_cap = 0;
}

void event_conn_free_spares(struct event_loop *l)
{
	while (l->n_spare > 0)
		free(l->spare[--l->n_spare].buf);
}

static void event_conn_log_end(struct event_loop *l, struct event_conn *ec,
                               enum driver_outcome outcome)
{
	char addr[128] = "unknown";
	socklen_t len;
	const struct sockaddr *sa = ss_conn_peer(&ec->c, &len);

	if (sa)
		addr_format(sa, len, addr, sizeof(addr));
	log_debug(l->name, "end %s %s in %llu out %llu count %u/%u", addr,
	          driver_outcome_name(outcome), (unsigned long long)ec->c.bytes_in,
	          (unsigned long long)ec->c.bytes_out, l->live, l->max_conns);
}

void event_conn_close(struct event_loop *l, struct event_conn *ec, enum driver_outcome outcome)
{
	struct scoreboard_slot *slot = l->ctx->slot;
	struct ss_conn *c = &ec->c;

	event_link_remove(&ec->idle);
	event_link_remove(&ec->life);
	event_link_remove(&ec->ready);
	/* Unsent output is dropped either way; the buffer serves the next connection. The
	 * close callback cannot write (conn_call_close marks the connection first). */
	event_conn_take_output(l, c);
	admit_release(&l->admit, &ec->ticket);
	event_tls_end(l, ec, outcome);
	connlog_conn_done(&l->connlog, c, outcome);
	/* While the socket is open, so the peer's address can still be read. */
	if (log_get_level() >= LOG_DEBUG)
		event_conn_log_end(l, ec, outcome);
	event_relay_end(ec);
	/* The socket was never duplicated, so closing it also drops it from the epoll set. */
	conn_destroy(c);
	l->live--;

	/* The slot's `active` is this loop's live count, kept below; the rest is shared
	 * accounting. */
	uint64_t now = conn_now_usec();
	scoreboard_conn_done(l->ctx->scoreboard, NULL, now - c->start_usec, true, c->bytes_in,
	                     c->bytes_out, driver_result(outcome));
	atomic_fetch_add_explicit(&slot->served, 1, memory_order_relaxed);
	atomic_store_explicit(&slot->active, l->live, memory_order_relaxed);
	atomic_store_explicit(&slot->last_activity_usec, now, memory_order_relaxed);

	event_pool_bury(l, ec);
	if (outcome != DRIVER_STOPPED)
		event_listen_update(l);
}

int event_conn_interest(struct event_loop *l, struct event_conn *ec, uint32_t want)
{
	struct epoll_event ev = {.events = want, .data.ptr = ec};

	if (ec->in_epoll && want == ec->events)
		return 0;
	if (epoll_ctl(l->epfd, ec->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, ec->c.fd, &ev) < 0)
		return -errno;
	ec->in_epoll = true;
	ec->events = want;
	return 0;
}

/* Brings the epoll interest set in line with the connection's state. Level-triggered:
 * input is watched only while we are willing to read it, output only while some is
 * pending, so a connection in back-pressure does not wake the loop. */
static int event_conn_watch(struct event_loop *l, struct event_conn *ec)
{
	const struct ss_conn *c = &ec->c;
	size_t pending = ss_conn_pending(c);
	uint32_t want = 0;

	if (!c->ended && pending < SS_CONN_HIGH_WATER)
		want |= EPOLLIN;
	if (pending > 0)
		want |= EPOLLOUT;
	/* TLS: a read that waits for the socket to take a record, or a write for one to
	 * come. */
	if (c->tls_wait & POLLIN)
		want |= EPOLLIN;
	if (c->tls_wait & POLLOUT)
		want |= EPOLLOUT;
	return event_conn_interest(l, ec, want);
}

/* One writable callback and its flush. Returns 1 if the handler produced output and
 * may produce more (run it again next turn), 0 if not, or -1 with *out set when the
 * connection must close. */
static int event_conn_writable(struct event_loop *l, struct event_conn *ec,
                               enum driver_outcome *out)
{
	struct ss_conn *c = &ec->c;
	uint64_t before = c->bytes_out + ss_conn_pending(c);

	ec->writable_turn = l->turn;
	event_conn_lend_output(l, c);
	if (conn_call_writable(c) < 0) {
		*out = DRIVER_HANDLER_ERROR;
		return -1;
	}
	if (ss_conn_pending(c) > 0 && conn_flush(c) < 0) {
		*out = DRIVER_PEER_GONE;
		return -1;
	}
	/* One that wrote nothing waits for the next event, as under the blocking driver:
	 * asking for writable without writing must not make the loop spin. */
	return c->bytes_out + ss_conn_pending(c) > before && !c->ended && c->want_writable &&
	       ss_conn_pending(c) < SS_CONN_LOW_WATER;
}

/* Everything after input: flush, the writable callback, the end, the interest set and
 * whether to run again next turn. */
static void event_conn_progress(struct event_loop *l, struct event_conn *ec)
{
	struct ss_conn *c = &ec->c;
	enum driver_outcome out;
	bool again = false;
	int r;

	if (ss_conn_pending(c) > 0 && conn_flush(c) < 0) {
		event_conn_close(l, ec, DRIVER_PEER_GONE);
		return;
	}
	if (!c->ended && c->want_writable && ss_conn_pending(c) < SS_CONN_LOW_WATER) {
		if (ec->writable_turn != l->turn) {
			r = event_conn_writable(l, ec, &out);
			if (r < 0) {
				event_conn_close(l, ec, out);
				return;
			}
			again = r > 0;
		} else {
			again = event_link_linked(&ec->ready); /* already had its turn */
		}
	}
	if (c->ended && ss_conn_pending(c) == 0) {
		event_conn_close(l, ec, DRIVER_COMPLETED);
		return;
	}
	r = event_conn_watch(l, ec);
	if (r < 0) {
		log_warning(l->name, "epoll_ctl: %s: closing a connection", strerror(-r));
		event_conn_close(l, ec, DRIVER_PEER_GONE);
		return;
	}
	/* Input TLS has already taken from the socket: no readiness will announce it. */
	if ((ec->events & EPOLLIN) && !c->ended && conn_recv_buffered(c))
		again = true;
	if (again) {
		event_fifo_touch(&l->ready, &ec->ready, 0);
	} else {
		event_link_remove(&ec->ready);
		if (ss_conn_pending(c) == 0)
			event_conn_take_output(l, c);
	}
}

/* Reads a bounded number of times into the worker's buffer. Returns 0, or -1 with
 * *out set when the connection must close now. */
static int event_conn_read(struct event_loop *l, struct event_conn *ec, enum driver_outcome *out)
{
	struct ss_conn *c = &ec->c;
	bool got = false;

	for (int i = 0; i < EVENT_READS_PER_EVENT; i++) {
		ssize_t n = conn_recv(c, l->rbuf, l->rbuf_len);

		if (n < 0) {
			if (n == -EAGAIN)
				break;
			*out = DRIVER_PEER_GONE;
			return -1;
		}
		if (n == 0) {
			/* The peer is done sending: flush what we owe it, then close. */
			ss_conn_end(c);
			break;
		}
		got = true;
		event_conn_lend_output(l, c);
		if (conn_call_data(c, l->rbuf, (size_t)n) < 0) {
			*out = DRIVER_HANDLER_ERROR;
			return -1;
		}
		/* A short read most likely emptied the socket; level-triggered epoll says so
		 * again if not, and we save the recv that would return EAGAIN. A TLS read
		 * gives one record at most, whatever is left. */
		if (c->ended || ss_conn_pending(c) >= SS_CONN_HIGH_WATER ||
		    ((size_t)n < l->rbuf_len && !c->tls))
			break;
	}
	if (got && l->idle.period)
		event_fifo_touch(&l->idle, &ec->idle, c->activity_usec);
	return 0;
}

void event_conn_event(struct event_loop *l, struct event_conn *ec, uint32_t revents)
{
	enum driver_outcome out;

	bool reading = !ec->c.ended && ss_conn_pending(&ec->c) < SS_CONN_HIGH_WATER;

	if (!ec->in_use)
		return; /* closed earlier in this batch */
	if (ec->handshaking) {
		event_tls_event(l, ec);
		return;
	}
	/* Under TLS, EPOLLIN may be watched for a write's sake, and a read may wait for
	 * EPOLLOUT (c.tls_wait). */
	if ((ec->events & EPOLLIN) && (!ec->c.tls || reading) &&
	    (revents &
	     (EPOLLIN | EPOLLHUP | EPOLLERR | ((ec->c.tls_wait & POLLOUT) ? EPOLLOUT : 0)))) {
		if (event_conn_read(l, ec, &out) < 0) {
			event_conn_close(l, ec, out);
			return;
		}
	} else if (revents & (EPOLLERR | EPOLLHUP)) {
		/* Only writing, and the peer can no longer take it. */
		event_conn_close(l, ec, DRIVER_PEER_GONE);
		return;
	}
	event_conn_progress(l, ec);
}

struct event_conn *event_conn_start(struct event_loop *l, struct event_listener *lst, int fd,
                                    const struct admit_ticket *ticket, const struct sockaddr *peer,
                                    socklen_t peer_len, const struct sockaddr *local,
                                    socklen_t local_len)
{
	struct event_conn *ec = event_pool_get(l);

	if (!ec) {
		log_warning(l->name, "out of memory: refusing a connection");
		struct admit_ticket t = *ticket;
		admit_release(&l->admit, &t);
		close(fd);
		return NULL;
	}
	ec->tag.fd = fd;
	ec->ticket = *ticket;
	event_conn_begin(l, ec, lst, peer, peer_len, local, local_len);
	return ec;
}

void event_conn_begin(struct event_loop *l, struct event_conn *ec, struct event_listener *lst,
                      const struct sockaddr *peer, socklen_t peer_len, const struct sockaddr *local,
                      socklen_t local_len)
{
	const struct worker_ctx *ctx = l->ctx;

	conn_init(&ec->c, ec->tag.fd, ctx->handler, ctx->handler_data);
	if (peer)
		conn_set_peer(&ec->c, peer, peer_len);
	if (local && local_len)
		conn_set_local(&ec->c, local, local_len);
	l->live++;
	atomic_fetch_add_explicit(&ctx->scoreboard->counters.accepted, 1, memory_order_relaxed);
	atomic_store_explicit(&ctx->slot->active, l->live, memory_order_relaxed);
	atomic_store_explicit(&ctx->slot->last_activity_usec, ec->c.start_usec,
	                      memory_order_relaxed);
	if (l->idle.period)
		event_fifo_touch(&l->idle, &ec->idle, ec->c.activity_usec);
	if (l->life.period)
		event_fifo_touch(&l->life, &ec->life, ec->c.start_usec);
	ec->lst = lst;
	/* Admitted already (access, per_source, rate): only now is CPU spent on TLS. */
	if (lst && lst->lc && lst->lc->tls)
		event_tls_begin(l, ec);
	else
		event_conn_open(l, ec);
}

void event_conn_open(struct event_loop *l, struct event_conn *ec)
{
	event_conn_lend_output(l, &ec->c);
	admit_greeting_queue(&l->admit, &ec->ticket, &ec->c);
	if (ec->c.failed || conn_call_open(&ec->c) < 0) {
		event_conn_close(l, ec, DRIVER_HANDLER_ERROR);
		return;
	}
	if (ec->c.relay_req) {
		event_relay_begin(l, ec);
		return;
	}
	/* A greeting goes out now, and a connection the handler ended in open (daytime,
	 * time) is closed without ever entering the epoll set. */
	event_conn_progress(l, ec);
}

void event_conn_run_ready(struct event_loop *l)
{
	struct event_fifo batch;
	struct event_link *k;

	/* Only those queued before this pass: one that queues itself again waits for the
	 * next turn, after epoll has had its say. */
	event_fifo_init(&batch, 0);
	event_fifo_splice(&batch, &l->ready);
	while ((k = event_fifo_first(&batch))) {
		struct event_conn *ec = event_container_of(k, struct event_conn, ready);

		event_link_remove(k);
		if ((ec->events & EPOLLIN) && !ec->c.ended && conn_recv_buffered(&ec->c))
			event_conn_event(l, ec, EPOLLIN); /* reads, then the rest */
		else
			event_conn_progress(l, ec);
	}
}

void event_conn_expire(struct event_loop *l, uint64_t now)
{
	struct event_link *k;

	while ((k = event_fifo_expired(&l->life, now)))
		event_conn_close(l, event_container_of(k, struct event_conn, life),
		                 DRIVER_DURATION);
	while ((k = event_fifo_expired(&l->idle, now)))
		event_conn_close(l, event_container_of(k, struct event_conn, idle),
		                 DRIVER_IDLE_TIMEOUT);
}
