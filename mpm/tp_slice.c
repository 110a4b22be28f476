/* A worker thread's turn on one connection; see tp_slice.h for the contract. */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "mpm/tp_slice.h"

enum tp_read { TP_READ_NONE, TP_READ_DATA, TP_READ_EOF, TP_READ_GONE, TP_READ_FAILED };

/* *drained: the read took less than it could, so the socket had nothing more (and TLS
 * holds nothing more already read from it). */
static enum tp_read tp_slice_read(struct ss_conn *c, bool *drained)
{
	char buf[TP_SLICE_READ_MAX];
	ssize_t n = conn_recv(c, buf, sizeof(buf));

	/* EINTR too (-EAGAIN): the poller reports the socket again if data is still there. */
	if (n == -EAGAIN)
		return TP_READ_NONE;
	if (n < 0)
		return TP_READ_GONE;
	if (n == 0)
		return TP_READ_EOF;
	*drained = (size_t)n < sizeof(buf) && !conn_recv_buffered(c);
	if (conn_call_data(c, buf, (size_t)n) < 0)
		return TP_READ_FAILED;
	return TP_READ_DATA;
}

static enum tp_next tp_slice_close(struct tp_slice *s, enum driver_outcome o)
{
	s->outcome = o;
	return TP_NEXT_CLOSE;
}

/* EVENTS, and what TLS waits for besides (a read that needs the socket to take a
 * record, a write that needs one to come). */
static enum tp_next tp_slice_wait(const struct ss_conn *c, struct tp_slice *s, uint32_t events)
{
	if (c->tls_wait & POLLIN)
		events |= EPOLLIN;
	if (c->tls_wait & POLLOUT)
		events |= EPOLLOUT;
	s->events = events;
	return TP_NEXT_WAIT;
}

/* The deadlines are the poller's job too, but a turn that runs into one (a slow
 * callback, a stream that never pauses) ends there rather than at the poller's next
 * look. Returns the outcome, or -1 while none has passed. */
static int tp_slice_deadline(const struct ss_conn *c, const struct driver_limits *lim)
{
	uint64_t now;

	if (!lim || (!lim->max_duration_usec && !lim->idle_timeout_usec))
		return -1;
	now = conn_now_usec();
	if (lim->max_duration_usec && now >= c->start_usec + lim->max_duration_usec)
		return DRIVER_DURATION;
	if (lim->idle_timeout_usec && now >= c->activity_usec + lim->idle_timeout_usec)
		return DRIVER_IDLE_TIMEOUT;
	return -1;
}

enum tp_next tp_slice_run(struct ss_conn *c, struct tp_slice *s, const struct driver_limits *lim,
                          struct tp_watch *w)
{
	if (!s->opened) {
		s->opened = true;
		if (conn_call_open(c) < 0)
			return tp_slice_close(s, DRIVER_HANDLER_ERROR);
		/* The relay only makes non-blocking calls: the poller runs it, and the
		 * connection holds no thread while bytes move or the target connects. */
		if (c->relay_req)
			return TP_NEXT_RELAY;
	}
	/*
	 * After a short read the socket was empty: the turn does not read again only to
	 * hear EAGAIN. Bytes that arrive later are not lost: re-arming an EPOLLONESHOT
	 * socket reports it at once if it is readable by then.
	 */
	bool drained = false;

	for (unsigned pass = 0;; pass++) {
		int k = w ? atomic_load(&w->kick) : TP_NO_KICK;
		int r;

		if (k != TP_NO_KICK)
			return tp_slice_close(s, (enum driver_outcome)k);
		if (ss_conn_pending(c) > 0 && conn_flush(c) < 0)
			return tp_slice_close(s, DRIVER_PEER_GONE);
		if (c->ended && ss_conn_pending(c) == 0)
			return tp_slice_close(s, DRIVER_COMPLETED);
		k = tp_slice_deadline(c, lim);
		if (k >= 0)
			return tp_slice_close(s, (enum driver_outcome)k);
		if (pass == TP_SLICE_PASSES)
			return TP_NEXT_AGAIN;

		if (!c->ended && c->want_writable && ss_conn_pending(c) < SS_CONN_LOW_WATER) {
			if (conn_call_writable(c) < 0)
				return tp_slice_close(s, DRIVER_HANDLER_ERROR);
			if (c->ended)
				continue;
		}
		if (!c->ended && !drained && ss_conn_pending(c) < SS_CONN_HIGH_WATER) {
			switch (tp_slice_read(c, &drained)) {
			case TP_READ_NONE:
				break;
			case TP_READ_DATA:
				if (w)
					atomic_store(&w->activity, c->activity_usec);
				continue;
			case TP_READ_EOF:
				/* The peer is done sending: flush what we owe it, then close. */
				ss_conn_end(c);
				continue;
			case TP_READ_GONE:
				return tp_slice_close(s, DRIVER_PEER_GONE);
			case TP_READ_FAILED:
				return tp_slice_close(s, DRIVER_HANDLER_ERROR);
			}
		}

		/* Nothing to read now (or not reading): only the output can move. */
		if (ss_conn_pending(c) == 0)
			return tp_slice_wait(c, s, EPOLLIN);
		r = conn_flush(c);
		if (r < 0)
			return tp_slice_close(s, DRIVER_PEER_GONE);
		if (r == 1) {
			uint32_t ev = EPOLLOUT;
			if (!c->ended && ss_conn_pending(c) < SS_CONN_HIGH_WATER)
				ev |= EPOLLIN;
			return tp_slice_wait(c, s, ev);
		}
		/* All sent: a writable callback is due, or reading may resume, or the end
		 * is complete. The next pass sorts out which. */
	}
}
