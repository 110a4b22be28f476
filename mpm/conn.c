/*
 * The connection object: output buffering, end/close state, counters and addresses,
 * and the ss_conn_* functions handlers call. No policy about when to read or wait:
 * that belongs to the drivers.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpm/conn.h"
#include "mpm/tls_conn.h"

/* First allocation; small enough that a one-line greeting does not cost much. */
#define CONN_OUTPUT_MIN 4096

uint64_t conn_now_usec(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer; 0 keeps callers defined anyway. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void conn_init(struct ss_conn *c, int fd, const struct ss_handler *h, void *service_data)
{
	*c = (struct ss_conn){
	        .fd = fd,
	        .handler = h,
	        .service_data = service_data,
	};
	/* Addresses are read when first asked for: most connections never ask, and two
	 * system calls per connection show in the event model's figures. */
	c->start_usec = conn_now_usec();
	c->activity_usec = c->start_usec;
}

static size_t conn_pending(const struct ss_conn *c)
{
	return c->out_len - c->out_off;
}

int ss_conn_write(struct ss_conn *c, const void *buf, size_t len)
{
	size_t pending = conn_pending(c);

	if (c->ended || c->closed || c->failed)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (len > CONN_OUTPUT_MAX || pending > CONN_OUTPUT_MAX - len)
		return -ENOBUFS;

	if (len > c->out_cap - c->out_len && c->out_off > 0) {
		/* Reuse the already-sent front before asking for more memory. */
		memmove(c->out, c->out + c->out_off, pending);
		c->out_off = 0;
		c->out_len = pending;
	}
	if (len > c->out_cap - c->out_len) {
		size_t need = c->out_len + len;
		size_t cap = c->out_cap ? c->out_cap : CONN_OUTPUT_MIN;
		char *p;

		while (cap < need)
			cap *= 2;
		if (cap > CONN_OUTPUT_MAX)
			cap = CONN_OUTPUT_MAX;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return 0;
}

void ss_conn_end(struct ss_conn *c)
{
	c->ended = true;
}

void ss_conn_want_writable(struct ss_conn *c, int on)
{
	c->want_writable = on != 0;
}

size_t ss_conn_pending(const struct ss_conn *c)
{
	return conn_pending(c);
}

void *ss_conn_get_data(const struct ss_conn *c)
{
	return c->user;
}

void ss_conn_set_data(struct ss_conn *c, void *data)
{
	c->user = data;
}

void *ss_conn_service_data(const struct ss_conn *c)
{
	return c->service_data;
}

void conn_set_peer(struct ss_conn *c, const struct sockaddr *sa, socklen_t len)
{
	if (len > sizeof(c->peer))
		len = sizeof(c->peer);
	memcpy(&c->peer, sa, len);
	c->peer_len = len;
	c->addr_known |= CONN_PEER_KNOWN;
}

void conn_set_local(struct ss_conn *c, const struct sockaddr *sa, socklen_t len)
{
	if (len > sizeof(c->local))
		len = sizeof(c->local);
	memcpy(&c->local, sa, len);
	c->local_len = len;
	c->addr_known |= CONN_LOCAL_KNOWN;
}

/* The cache is the connection's own business; handlers see a const connection. */
static void read_addresses(const struct ss_conn *cc, unsigned which)
{
	struct ss_conn *c = (struct ss_conn *)cc;

	if ((c->addr_known & which) || c->fd < 0)
		return;
	/* An address we cannot read is reported as unknown, not as a failed connection. */
	if (which == CONN_PEER_KNOWN) {
		c->peer_len = sizeof(c->peer);
		if (getpeername(c->fd, (struct sockaddr *)&c->peer, &c->peer_len) < 0)
			c->peer_len = 0;
	} else {
		c->local_len = sizeof(c->local);
		if (getsockname(c->fd, (struct sockaddr *)&c->local, &c->local_len) < 0)
			c->local_len = 0;
	}
	c->addr_known |= which;
}

const struct sockaddr *ss_conn_peer(const struct ss_conn *c, socklen_t *len)
{
	read_addresses(c, CONN_PEER_KNOWN);
	if (len)
		*len = c->peer_len;
	return c->peer_len ? (const struct sockaddr *)&c->peer : NULL;
}

const struct sockaddr *ss_conn_local(const struct ss_conn *c, socklen_t *len)
{
	read_addresses(c, CONN_LOCAL_KNOWN);
	if (len)
		*len = c->local_len;
	return c->local_len ? (const struct sockaddr *)&c->local : NULL;
}

/* send(2)'s contract (errno set on -1), through TLS when the connection has it. A TLS
 * write that could not finish is offered the same bytes again by the next flush, from
 * wherever ss_conn_write has moved them: tls_conn allows that. */
static ssize_t conn_send(struct ss_conn *c, const void *buf, size_t len)
{
	enum tls_status s;
	size_t n;

	if (!c->tls)
		/* MSG_DONTWAIT: the same code serves blocking and non-blocking sockets.
		 * MSG_NOSIGNAL: a vanished peer is an error code, not a process-killing SIGPIPE. */
		return send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	s = tls_conn_write(c->tls, buf, len, &n);
	c->tls_wait = s == TLS_WANT_READ ? POLLIN : 0;
	if (s == TLS_DONE)
		return (ssize_t)n;
	errno = s == TLS_WANT_READ || s == TLS_WANT_WRITE ? EAGAIN : EPIPE;
	return -1;
}

ssize_t conn_recv(struct ss_conn *c, void *buf, size_t cap)
{
	enum tls_status s;
	ssize_t r;
	size_t n;

	if (!c->tls) {
		r = recv(c->fd, buf, cap, MSG_DONTWAIT);
		if (r < 0)
			return errno == EINTR ? -EAGAIN : -errno;
		return r;
	}
	s = tls_conn_read(c->tls, buf, cap, &n);
	c->tls_wait = s == TLS_WANT_WRITE ? POLLOUT : 0;
	switch (s) {
	case TLS_DONE:
		return (ssize_t)n;
	case TLS_WANT_READ:
	case TLS_WANT_WRITE:
		return -EAGAIN;
	case TLS_EOF:
	case TLS_TRUNCATED:
		return 0;
	default:
		return -EPROTO;
	}
}

bool conn_recv_buffered(const struct ss_conn *c)
{
	return c->tls && tls_conn_pending(c->tls);
}

int conn_tls_end(struct ss_conn *c)
{
	enum tls_status s;

	if (!c->tls)
		return 0;
	s = tls_conn_shutdown(c->tls);
	if (s == TLS_DONE)
		return 0;
	return s == TLS_WANT_READ || s == TLS_WANT_WRITE ? 1 : -EPIPE;
}

int conn_flush(struct ss_conn *c)
{
	while (conn_pending(c) > 0) {
		ssize_t n = conn_send(c, c->out + c->out_off, conn_pending(c));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		c->out_off += (size_t)n;
		c->bytes_out += (uint64_t)n;
	}
	c->out_off = 0;
	c->out_len = 0;
	/* After a burst from a handler without flow control, give the memory back rather
	 * than hold it for the rest of a possibly long, idle connection. */
	if (c->out_cap > 2 * SS_CONN_HIGH_WATER) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

static int conn_record(struct ss_conn *c, int r)
{
	if (r < 0)
		c->failed = true;
	return r;
}

int conn_call_open(struct ss_conn *c)
{
	int r;

	if (c->closed || c->failed || !c->handler->open)
		return 0;
	c->opening = true;
	r = conn_record(c, c->handler->open(c));
	c->opening = false;
	return r;
}

int conn_call_data(struct ss_conn *c, const void *buf, size_t len)
{
	c->bytes_in += len;
	c->activity_usec = conn_now_usec();
	if (c->closed || c->failed || !c->handler->data)
		return 0;
	return conn_record(c, c->handler->data(c, buf, len));
}

int conn_call_writable(struct ss_conn *c)
{
	if (c->closed || c->failed || !c->handler->writable)
		return 0;
	return conn_record(c, c->handler->writable(c));
}

void conn_call_close(struct ss_conn *c)
{
	if (c->closed)
		return;
	/* Marked first: a close callback that ends or writes must not re-enter itself. */
	c->closed = true;
	if (c->handler->close)
		c->handler->close(c);
}

int ss_conn_relay(struct ss_conn *c, const struct sockaddr *target, socklen_t target_len,
                  const void *prefix, size_t len, uint64_t connect_timeout_usec)
{
	struct conn_relay_req *q;

	/* The relays move the socket's bytes as they are: not under TLS (yet). */
	if (c->tls)
		return -EOPNOTSUPP;
	/* Output already queued (a banner's rest) is the relay's to send first. */
	if (!c->opening || c->relay_req || c->ended || !target || target_len == 0 ||
	    target_len > sizeof(q->target) || (len && !prefix) || len > CONN_OUTPUT_MAX)
		return -EINVAL;
	q = malloc(sizeof(*q) + len);
	if (!q)
		return -ENOMEM;
	memset(q, 0, sizeof(*q));
	memcpy(&q->target, target, target_len);
	q->target_len = target_len;
	q->connect_timeout_usec = connect_timeout_usec;
	q->prefix_len = len;
	if (len)
		memcpy(q->prefix, prefix, len);
	c->relay_req = q;
	return 0;
}

const char *ss_conn_tls_protocol(const struct ss_conn *c)
{
	return c->tls ? tls_conn_protocol(c->tls) : NULL;
}

const char *ss_conn_tls_cipher(const struct ss_conn *c)
{
	return c->tls ? tls_conn_cipher(c->tls) : NULL;
}

const char *ss_conn_tls_server_name(const struct ss_conn *c)
{
	return c->tls ? tls_conn_server_name(c->tls) : NULL;
}

const char *ss_conn_tls_alpn(const struct ss_conn *c)
{
	return c->tls ? tls_conn_alpn(c->tls) : NULL;
}

const char *ss_conn_tls_peer_subject(const struct ss_conn *c)
{
	return c->tls ? tls_conn_peer_subject(c->tls) : NULL;
}

void conn_destroy(struct ss_conn *c)
{
	conn_call_close(c);
	/* The handler's close may still have asked what was negotiated. */
	tls_conn_free(c->tls);
	c->tls = NULL;
	free(c->relay_req);
	c->relay_req = NULL;
	free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = c->out_cap = 0;
	/* close() may report EINTR or EIO, but the descriptor is released either way on
	 * Linux; retrying could close someone else's new descriptor. */
	if (c->fd >= 0)
		(void)close(c->fd);
	c->fd = -1;
}
