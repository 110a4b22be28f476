/*
 * The blocking connection driver: one connection, one thread, poll() on the socket.
 * Reading stops while too much output is queued (back-pressure), the writable callback
 * runs when the queue drains below the low-water mark, and every exit path ends in
 * conn_destroy so the handler's close runs exactly once.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "mpm/driver.h"
#include "mpm/relay.h"
#include "mpm/tls_conn.h"

/* One recv per wake; larger chunks only make the handler's output bursts larger. */
#define DRIVER_READ_MAX (16 * 1024)
/* Longest sleep when a stop flag is given: another thread may set it without a signal
 * to interrupt poll(), so the flag must still be seen within this delay. */
#define DRIVER_STOP_CHECK_MS 250

static const char *const outcome_names[] = {
        [DRIVER_COMPLETED] = "completed",         [DRIVER_PEER_GONE] = "peer-gone",
        [DRIVER_IDLE_TIMEOUT] = "idle-timeout",   [DRIVER_DURATION] = "max-duration",
        [DRIVER_HANDLER_ERROR] = "handler-error", [DRIVER_STOPPED] = "stopped",
};

const char *driver_outcome_name(enum driver_outcome o)
{
	if ((unsigned)o >= sizeof(outcome_names) / sizeof(outcome_names[0]) || !outcome_names[o])
		return "unknown";
	return outcome_names[o];
}

enum conn_result driver_result(enum driver_outcome o)
{
	switch (o) {
	case DRIVER_HANDLER_ERROR:
		return CONN_RESULT_HANDLER_ERROR;
	case DRIVER_IDLE_TIMEOUT:
	case DRIVER_DURATION:
		return CONN_RESULT_TIMEOUT;
	case DRIVER_PEER_GONE:
		return CONN_RESULT_PEER_GONE;
	default:
		return CONN_RESULT_COMPLETED;
	}
}

/* Rounded up so we never wake early and spin. */
int driver_wait_ms(uint64_t now, uint64_t idle_at, uint64_t end_at, bool capped)
{
	uint64_t at = idle_at;
	uint64_t ms;

	if (end_at && (!at || end_at < at))
		at = end_at;
	if (!at)
		return capped ? DRIVER_STOP_CHECK_MS : -1;
	ms = at > now ? (at - now + 999) / 1000 : 0;
	if (capped && ms > DRIVER_STOP_CHECK_MS)
		ms = DRIVER_STOP_CHECK_MS;
	if (ms > 1000u * 1000u * 1000u)
		ms = 1000u * 1000u * 1000u;
	return (int)ms;
}

/* Reads once. Returns 0 (data handled, or nothing after all), 1 at end of input, or -1
 * with the outcome in *out. */
static int driver_read(struct ss_conn *c, enum driver_outcome *out)
{
	char buf[DRIVER_READ_MAX];
	ssize_t n = conn_recv(c, buf, sizeof(buf));

	if (n < 0) {
		if (n == -EAGAIN)
			return 0;
		*out = DRIVER_PEER_GONE;
		return -1;
	}
	if (n == 0)
		return 1;
	if (conn_call_data(c, buf, (size_t)n) < 0) {
		*out = DRIVER_HANDLER_ERROR;
		return -1;
	}
	return 0;
}

static bool driver_stop_flag(void *arg)
{
	return *(volatile int *)arg != 0;
}

/* The handler handed the connection to the relay: it runs here to the end. */
static enum driver_outcome driver_relay(struct ss_conn *c, const struct driver_limits *lim,
                                        volatile int *stop)
{
	struct relay *r = relay_start(c);

	if (!r)
		return DRIVER_HANDLER_ERROR;
	return relay_run_blocking(r, lim, stop ? driver_stop_flag : NULL, (void *)stop);
}

uint64_t driver_handshake_deadline(uint64_t start, const struct driver_limits *lim)
{
	uint64_t at = 0;

	if (!lim)
		return 0;
	const uint64_t t[3] = {lim->handshake_timeout_usec, lim->idle_timeout_usec,
	                       lim->max_duration_usec};
	for (int i = 0; i < 3; i++)
		if (t[i] && (!at || start + t[i] < at))
			at = start + t[i];
	return at;
}

enum driver_outcome driver_handshake_outcome(int r, uint64_t start, uint64_t at,
                                             const struct driver_limits *lim)
{
	if (r == -ECANCELED)
		return DRIVER_STOPPED;
	if (r != -ETIMEDOUT)
		return DRIVER_PEER_GONE;
	if (lim && lim->max_duration_usec && at == start + lim->max_duration_usec)
		return DRIVER_DURATION;
	return DRIVER_IDLE_TIMEOUT;
}

/* The TLS handshake, before the handler hears of the connection. */
static enum driver_outcome driver_handshake(struct ss_conn *c, const struct driver_limits *lim,
                                            volatile int *stop)
{
	/* Nothing has been read yet: the idle timeout runs from the start too. */
	uint64_t at = driver_handshake_deadline(c->start_usec, lim);
	int r = tls_conn_handshake_blocking(c->tls, at, stop ? driver_stop_flag : NULL,
	                                    (void *)stop);

	if (r == 0) {
		uint64_t took = conn_now_usec() - c->start_usec;
		c->tls_handshake_usec = took ? took : 1;
		c->tls_resumed = tls_conn_resumed(c->tls);
		return DRIVER_COMPLETED;
	}
	/* For the model's metrics: the TLS state goes with the connection. */
	c->tls_failure = (int)tls_conn_failure(c->tls);
	return driver_handshake_outcome(r, c->start_usec, at, lim);
}

static enum driver_outcome driver_loop(struct ss_conn *c, const struct driver_limits *lim,
                                       volatile int *stop)
{
	uint64_t end_at =
	        lim && lim->max_duration_usec ? c->start_usec + lim->max_duration_usec : 0;
	enum driver_outcome out;

	if (c->tls && (out = driver_handshake(c, lim, stop)) != DRIVER_COMPLETED)
		return out;
	if (conn_call_open(c) < 0)
		return DRIVER_HANDLER_ERROR;
	if (c->relay_req)
		return driver_relay(c, lim, stop);

	for (;;) {
		struct pollfd pfd = {.fd = c->fd};
		uint64_t now, idle_at = 0;
		int r;

		if (ss_conn_pending(c) > 0) {
			r = conn_flush(c);
			if (r < 0)
				return DRIVER_PEER_GONE;
		}
		if (c->ended && ss_conn_pending(c) == 0)
			return DRIVER_COMPLETED;
		if (stop && *stop)
			return DRIVER_STOPPED;

		now = conn_now_usec();
		if (end_at && now >= end_at)
			return DRIVER_DURATION;
		if (lim && lim->idle_timeout_usec) {
			idle_at = c->activity_usec + lim->idle_timeout_usec;
			if (now >= idle_at)
				return DRIVER_IDLE_TIMEOUT;
		}

		/* One writable call per pass, and every pass that calls it goes through poll()
		 * (at once if the output can go): a handler that asks for it and writes
		 * nothing cannot make us spin, and one that keeps producing does not starve
		 * input or the timers. */
		if (!c->ended && c->want_writable && ss_conn_pending(c) < SS_CONN_LOW_WATER) {
			if (conn_call_writable(c) < 0)
				return DRIVER_HANDLER_ERROR;
			if (c->ended)
				continue; /* nothing left to wait for but the flush */
		}

		if (!c->ended && ss_conn_pending(c) < SS_CONN_HIGH_WATER)
			pfd.events |= POLLIN;
		if (ss_conn_pending(c) > 0)
			pfd.events |= POLLOUT;
		pfd.events |= c->tls_wait;

		/* Input TLS has already taken from the socket: no readiness comes for it. */
		if ((pfd.events & POLLIN) && conn_recv_buffered(c)) {
			pfd.revents = POLLIN;
			r = 1;
		} else {
			r = poll(&pfd, 1, driver_wait_ms(now, idle_at, end_at, stop != NULL));
		}
		if (r < 0) {
			if (errno == EINTR)
				continue; /* the loop top looks at *stop */
			return DRIVER_PEER_GONE;
		}
		if (r == 0)
			continue;
		if (pfd.revents & POLLNVAL)
			return DRIVER_PEER_GONE;
		/* A read that TLS made wait for writability is retried once it is there. */
		if ((pfd.events & POLLIN) &&
		    (pfd.revents & (POLLIN | POLLHUP | POLLERR | c->tls_wait))) {
			r = driver_read(c, &out);
			if (r < 0)
				return out;
			/* The peer is done sending: flush what we owe it, then close. */
			if (r == 1)
				ss_conn_end(c);
		} else if (pfd.revents & (POLLERR | POLLHUP)) {
			/* Only writing, and the peer can no longer take it: waiting again would
			 * return at once, forever. */
			return DRIVER_PEER_GONE;
		}
	}
}

enum driver_outcome driver_serve(struct ss_conn *c, const struct driver_limits *lim,
                                 volatile int *stop)
{
	enum driver_outcome out = driver_loop(c, lim, stop);

	/* The output is flushed: close_notify fits in what the socket can take. Not
	 * waited for when it does not, nor is the peer's answer. */
	if (out == DRIVER_COMPLETED)
		(void)conn_tls_end(c);
	conn_destroy(c);
	return out;
}
