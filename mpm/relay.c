/*
 * The relay's state machine (see relay.h): the connect towards the target, then two
 * directions, each copying through a small buffer and, once it has carried enough,
 * splicing through a pipe; half-closes passed on, back-pressure by not reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/relay.h"

/* The copy buffer: enough for requests and answers of chatty protocols. */
#define RELAY_BUF (16 * 1024)
/* A direction that has carried this much is a bulk transfer: two pipe fds and splice
 * then cost less than copying through user space. Short connections never pay for the
 * pipe. */
#define RELAY_SPLICE_AFTER (64 * 1024)
/* The pipe a bulk direction asks for, and so one splice's worth: a wake-up of the loop
 * moves this much, not the default pipe's 64 KiB. Pipe pages count against the user's
 * pipe-user-pages-soft (64 MiB), past which the kernel refuses: the pipe then keeps the
 * default size, which is only slower. */
#define RELAY_PIPE          (256 * 1024)
#define RELAY_CHUNK_DEFAULT (64 * 1024)
/* Reads per direction and step: a fast sender cannot hold an event loop. */
#define RELAY_ROUNDS 4

struct relay_dir {
	int from, to;
	int pipe[2]; /* -1 while copying */
	char *buf;
	size_t cap, off, len; /* copy mode: bytes [off, len) of buf wait to be written */
	bool borrowed;        /* buf is the thread's scratch, for the length of one step */
	size_t in_pipe;       /* splice mode: bytes waiting in the pipe */
	size_t chunk;         /* splice mode: the pipe's capacity */
	/* Splice mode: a read into the pipe while it held bytes found nothing it could take.
	 * EAGAIN does not say whether the socket was empty or the pipe full (its slots are
	 * pages, not bytes), so the pipe is not read into again until a write drains some
	 * of it: the wait for `to` then says when to try. */
	bool pipe_stuck;
	uint64_t moved;
	uint64_t *count; /* the connection's bytes_in or bytes_out */
	bool eof;        /* `from` has no more input */
	bool shut;       /* `to` was told so (shutdown SHUT_WR) */
	bool no_splice;  /* splice failed once: copy for good */
};

struct relay {
	struct ss_conn *c;
	int up; /* the target socket, -1 before or after */
	bool connecting;
	bool done;
	enum driver_outcome outcome;
	uint64_t started, deadline;
	struct relay_dir d[2]; /* 0: client to target, 1: target to client */
};

/* Copy mode reads here first: the bytes usually go out at once, so a connection owns a
 * buffer only while a peer makes it wait (see relay_dir_keep). Per thread: the
 * threadpool runs relays side by side. */
static _Thread_local char relay_scratch[RELAY_BUF];

static struct scoreboard_counters *relay_counters;
static const char *relay_fail_data, *relay_fail_text;
static size_t relay_fail_len;

void relay_process_init(struct scoreboard_counters *counters, const char *fail_data,
                        size_t fail_len, const char *fail_text)
{
	relay_counters = counters;
	relay_fail_data = fail_data;
	relay_fail_len = fail_len;
	relay_fail_text = fail_text;
}

static void relay_count(_Atomic uint64_t *(*field)(struct scoreboard_upstream *), uint64_t n)
{
	if (relay_counters)
		atomic_fetch_add_explicit(field(&relay_counters->upstream), n,
		                          memory_order_relaxed);
}

static _Atomic uint64_t *f_attempts(struct scoreboard_upstream *u)
{
	return &u->attempts;
}
static _Atomic uint64_t *f_failed(struct scoreboard_upstream *u)
{
	return &u->failed;
}
static _Atomic uint64_t *f_timeouts(struct scoreboard_upstream *u)
{
	return &u->timeouts;
}

static void relay_count_connected(uint64_t usec)
{
	struct scoreboard_upstream *u;
	uint64_t max;

	if (!relay_counters)
		return;
	u = &relay_counters->upstream;
	atomic_fetch_add_explicit(&u->connected, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&u->connect_usec_sum, usec, memory_order_relaxed);
	max = atomic_load_explicit(&u->connect_usec_max, memory_order_relaxed);
	while (usec > max &&
	       !atomic_compare_exchange_weak_explicit(&u->connect_usec_max, &max, usec,
	                                              memory_order_relaxed, memory_order_relaxed))
		;
}

static void relay_finish(struct relay *r, enum driver_outcome o)
{
	if (r->done)
		return;
	r->done = true;
	r->outcome = o;
}

/* The target is out of reach: the client hears why (if the service says) and goes. */
static void relay_unreachable(struct relay *r, bool timeout)
{
	relay_count(timeout ? f_timeouts : f_failed, 1);
	r->connecting = false;
	/* Best effort: a client that cannot take it now does not get it. */
	if (relay_fail_data) {
		(void)send(r->c->fd, relay_fail_data, relay_fail_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} else if (relay_fail_text) {
		struct iovec iov[2] = {{(void *)relay_fail_text, strlen(relay_fail_text)},
		                       {(void *)"\r\n", 2}};
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
		(void)sendmsg(r->c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	relay_finish(r, DRIVER_PEER_GONE);
}

static void relay_dir_init(struct relay_dir *d, int from, int to, uint64_t *count)
{
	*d = (struct relay_dir){.from = from, .to = to, .pipe = {-1, -1}, .count = count};
}

static void relay_connected(struct relay *r, uint64_t now)
{
	struct conn_relay_req *q = r->c->relay_req;

	r->connecting = false;
	relay_count_connected(now > r->started ? now - r->started : 0);
	relay_dir_init(&r->d[0], r->c->fd, r->up, &r->c->bytes_in);
	relay_dir_init(&r->d[1], r->up, r->c->fd, &r->c->bytes_out);
	/* What the connection still had to send (the rest of a banner the socket did not
	 * take at once) goes to the client first, ahead of the target's bytes. */
	if (r->c->out_len > r->c->out_off) {
		struct relay_dir *d = &r->d[1];

		d->buf = r->c->out;
		d->cap = r->c->out_cap;
		d->off = r->c->out_off;
		d->len = r->c->out_len;
		r->c->out = NULL;
		r->c->out_off = r->c->out_len = r->c->out_cap = 0;
	}
	if (q && q->prefix_len) {
		r->d[0].cap = q->prefix_len > RELAY_BUF ? q->prefix_len : RELAY_BUF;
		r->d[0].buf = malloc(r->d[0].cap);
		if (!r->d[0].buf) {
			relay_finish(r, DRIVER_HANDLER_ERROR);
			return;
		}
		memcpy(r->d[0].buf, q->prefix, q->prefix_len);
		r->d[0].len = q->prefix_len;
	}
}

struct relay *relay_start(struct ss_conn *c)
{
	struct conn_relay_req *q = c->relay_req;
	struct relay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->c = c;
	r->up = -1;
	r->d[0].pipe[0] = r->d[0].pipe[1] = r->d[1].pipe[0] = r->d[1].pipe[1] = -1;
	r->started = conn_now_usec();
	relay_count(f_attempts, 1);
	r->up = socket(q->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->up < 0) {
		relay_unreachable(r, false);
		return r;
	}
	/* The relay writes what it has as soon as it has it: Nagle would hold a small
	 * answer back for the target's delayed ACK. Only slower without it. */
	if (q->target.ss_family != AF_UNIX) {
		int one = 1;
		(void)setsockopt(r->up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(r->up, (const struct sockaddr *)&q->target, q->target_len) == 0) {
		relay_connected(r, conn_now_usec());
		return r;
	}
	/* EAGAIN: a Unix socket whose backlog is full, with nothing to wait on. */
	if (errno != EINPROGRESS) {
		relay_unreachable(r, false);
		return r;
	}
	r->connecting = true;
	r->deadline = r->started + (q->connect_timeout_usec ? q->connect_timeout_usec : 1);
	return r;
}

static size_t relay_dir_pending(const struct relay_dir *d)
{
	return d->pipe[0] >= 0 ? d->in_pipe : d->len - d->off;
}

/* Writes what waits. Returns 0 (all written), 1 (the peer takes no more now) or -errno. */
static int relay_dir_write(struct relay_dir *d)
{
	while (relay_dir_pending(d) > 0) {
		ssize_t n;

		if (d->pipe[0] >= 0)
			n = splice(d->pipe[0], NULL, d->to, NULL, d->in_pipe,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		else
			n = send(d->to, d->buf + d->off, d->len - d->off,
			         MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		if (d->pipe[0] >= 0) {
			d->in_pipe -= (size_t)n;
			d->pipe_stuck = false;
		} else {
			d->off += (size_t)n;
		}
	}
	d->off = d->len = 0;
	if (d->borrowed) {
		d->buf = NULL;
		d->cap = 0;
		d->borrowed = false;
	}
	return 0;
}

/* The peer makes the direction wait: what is left of the scratch becomes the
 * connection's own. Returns 0 or -ENOMEM. */
static int relay_dir_keep(struct relay_dir *d)
{
	char *b;

	if (!d->borrowed)
		return 0;
	b = malloc(RELAY_BUF);
	if (!b)
		return -ENOMEM;
	memcpy(b, d->buf + d->off, d->len - d->off);
	d->len -= d->off;
	d->off = 0;
	d->buf = b;
	d->cap = RELAY_BUF;
	d->borrowed = false;
	return 0;
}

/* Between reads, with nothing pending: a direction that has become a bulk transfer
 * moves to a pipe. Failing that it keeps copying, which is only slower. */
static void relay_dir_maybe_splice(struct relay_dir *d)
{
	int sz;

	if (d->pipe[0] >= 0 || d->no_splice || d->moved < RELAY_SPLICE_AFTER)
		return;
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		d->pipe[0] = d->pipe[1] = -1;
		d->no_splice = true;
		return;
	}
	sz = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE);
	if (sz <= 0)
		sz = fcntl(d->pipe[1], F_GETPIPE_SZ);
	d->chunk = sz > 0 ? (size_t)sz : RELAY_CHUNK_DEFAULT;
	free(d->buf);
	d->buf = NULL;
	d->cap = 0;
}

static void relay_dir_unpipe(struct relay_dir *d)
{
	if (d->pipe[0] >= 0) {
		(void)close(d->pipe[0]);
		(void)close(d->pipe[1]);
	}
	d->pipe[0] = d->pipe[1] = -1;
	d->in_pipe = 0;
}

/* Splice mode: the pipe can take more while `to` makes the bytes already in it wait, so
 * the two sides overlap (as far as the pipe's size: memory stays bounded). */
static bool relay_dir_room(const struct relay_dir *d)
{
	return d->pipe[0] >= 0 && !d->pipe_stuck && d->in_pipe < d->chunk;
}

/* Reads once (nothing is pending, or the pipe has room). Returns the bytes read, 0 at end
 * of input, -EAGAIN when there is nothing now, or another -errno. */
static ssize_t relay_dir_read(struct relay_dir *d)
{
	ssize_t n;

	relay_dir_maybe_splice(d);
	if (d->pipe[0] >= 0) {
		n = splice(d->from, NULL, d->pipe[1], NULL, d->chunk - d->in_pipe,
		           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINVAL) {
			/* A socket type splice does not serve: copy from now on. */
			relay_dir_unpipe(d);
			d->no_splice = true;
		} else if (n < 0) {
			if (errno == EAGAIN && d->in_pipe > 0)
				d->pipe_stuck = true;
			return errno == EINTR ? -EAGAIN : -errno;
		} else {
			d->in_pipe += (size_t)n;
			return n;
		}
	}
	if (!d->buf) {
		d->buf = relay_scratch;
		d->cap = RELAY_BUF;
		d->borrowed = true;
	}
	n = recv(d->from, d->buf, d->cap, MSG_DONTWAIT);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	d->off = 0;
	d->len = (size_t)n;
	return n;
}

/* Everything before the end of input is written: `to` is told. */
static void relay_dir_shut(struct relay_dir *d, bool last)
{
	if (d->shut)
		return;
	d->shut = true;
	/* ENOTCONN: the peer is gone already; the other direction finds out for itself. */
	if (!last)
		(void)shutdown(d->to, SHUT_WR);
}

/* Moves what one direction can now. LAST: the other direction is over, so once this
 * one is too both sockets are closed, which says the end to `to` as well. Returns 0 or
 * -errno (the relay must end). */
static int relay_dir_pump(struct relay_dir *d, bool readable, bool last, bool *moved)
{
	for (int i = 0; i < RELAY_ROUNDS; i++) {
		ssize_t n;
		int r = relay_dir_write(d);

		if (r < 0 || (r == 1 && !relay_dir_room(d)))
			return r < 0 ? r : relay_dir_keep(d);
		if (d->eof) {
			if (r == 0)
				relay_dir_shut(d, last);
			return 0;
		}
		if (!readable)
			return 0;
		n = relay_dir_read(d);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		if (n == 0) {
			d->eof = true;
			continue;
		}
		*moved = true;
		d->moved += (uint64_t)n;
		*d->count += (uint64_t)n;
		/* A short read emptied the socket: level-triggered readiness says when there
		 * is more, without a read that would only say EAGAIN. */
		if (d->pipe[0] >= 0 ? d->in_pipe < d->chunk : (size_t)n < d->cap)
			readable = false;
	}
	/* Out of rounds with bytes just read: out they go, or into a buffer of its own. The
	 * end, if the last round read it, goes with them: nothing may be waited on for it
	 * (both sides can be out of the waiter's set by now). */
	int r = relay_dir_write(d);
	if (r == 0 && d->eof)
		relay_dir_shut(d, last);
	return r < 0 ? r : relay_dir_keep(d);
}

static bool relay_readable(uint32_t ready)
{
	return ready & (RELAY_IN | RELAY_HUP | RELAY_ERR | RELAY_ANY);
}

/* The socket's readiness now, without waiting (0 when none, or when poll fails: the
 * loop's own wait then tells). */
static uint32_t relay_poll_now(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	return poll(&p, 1, 0) == 1 ? (uint32_t)p.revents : 0;
}

enum relay_status relay_step(struct relay *r, uint32_t ready, uint32_t up_ready, uint64_t now)
{
	bool moved = false;
	int e;

	if (r->done)
		return RELAY_DONE;
	if (r->connecting) {
		/* Not known: look. On loopback the handshake is usually over by the time
		 * connect() returns, and the look spares the loop the connect's epoll
		 * registrations and wake-up. */
		if (up_ready & RELAY_ANY)
			up_ready = relay_poll_now(r->up);
		if (up_ready & (RELAY_OUT | RELAY_ERR | RELAY_HUP)) {
			int err = 0;
			socklen_t len = sizeof(err);

			if (getsockopt(r->up, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			if (err) {
				relay_unreachable(r, false);
				return RELAY_DONE;
			}
			relay_connected(r, now);
			if (r->done)
				return RELAY_DONE;
			/* The client may have sent while we connected: look at it. */
			up_ready = RELAY_OUT;
			ready = RELAY_ANY;
		} else if (now >= r->deadline) {
			relay_unreachable(r, true);
			return RELAY_DONE;
		} else {
			/* A client that hangs up while we connect is not waited for. */
			if (ready & (RELAY_HUP | RELAY_ERR))
				relay_finish(r, DRIVER_PEER_GONE);
			return r->done ? RELAY_DONE : RELAY_MORE;
		}
	}
	e = relay_dir_pump(&r->d[0], relay_readable(ready), r->d[1].shut, &moved);
	if (e == 0)
		e = relay_dir_pump(&r->d[1], relay_readable(up_ready), r->d[0].shut, &moved);
	if (moved)
		r->c->activity_usec = now;
	if (e == -ENOMEM)
		relay_finish(r, DRIVER_HANDLER_ERROR);
	else if (e < 0)
		relay_finish(r, DRIVER_PEER_GONE);
	else if (r->d[0].shut && r->d[1].shut)
		relay_finish(r, DRIVER_COMPLETED);
	return r->done ? RELAY_DONE : RELAY_MORE;
}

enum driver_outcome relay_outcome(const struct relay *r)
{
	return r->outcome;
}

/* What direction D needs from its reading side and from its writing side. */
static uint32_t relay_dir_want_from(const struct relay_dir *d)
{
	return !d->eof && (relay_dir_pending(d) == 0 || relay_dir_room(d)) ? RELAY_IN : 0;
}

static uint32_t relay_dir_want_to(const struct relay_dir *d)
{
	return relay_dir_pending(d) > 0 ? RELAY_OUT : 0;
}

uint32_t relay_want(const struct relay *r)
{
	if (r->done)
		return 0;
	/* Its bytes wait for the target; a reset or an error (a hangup, only with both
	 * directions shut, is one) is news now, not at the connect timeout. */
	if (r->connecting)
		return RELAY_ERR;
	return relay_dir_want_from(&r->d[0]) | relay_dir_want_to(&r->d[1]);
}

uint32_t relay_up_want(const struct relay *r)
{
	if (r->done)
		return 0;
	if (r->connecting)
		return RELAY_OUT;
	return relay_dir_want_from(&r->d[1]) | relay_dir_want_to(&r->d[0]);
}

int relay_up_fd(const struct relay *r)
{
	return r->up;
}

uint64_t relay_connect_deadline(const struct relay *r)
{
	return r->connecting && !r->done ? r->deadline : 0;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	for (int i = 0; i < 2; i++) {
		relay_dir_unpipe(&r->d[i]);
		if (!r->d[i].borrowed)
			free(r->d[i].buf);
	}
	if (r->up >= 0)
		(void)close(r->up);
	free(r);
}

/* poll()'s timeout: the nearest of the connect deadline and the limits. */
int relay_poll(int fd, uint32_t want, int fd2, uint32_t want2, int ms, uint32_t *ready,
               uint32_t *ready2)
{
	/* A side we want nothing from is left out: a hangup it reports (a peer's FIN with
	 * bytes still unread, say) would otherwise wake us at once, forever. */
	struct pollfd pfd[2] = {{.fd = want ? fd : -1, .events = (short)want},
	                        {.fd = want2 ? fd2 : -1, .events = (short)want2}};
	int n = poll(pfd, 2, ms);

	if (n < 0 && errno != EINTR)
		return -1;
	/* A timeout or a signal: only the deadlines are news. */
	*ready = n > 0 ? (uint32_t)pfd[0].revents : 0;
	*ready2 = n > 0 ? (uint32_t)pfd[1].revents : 0;
	return (*ready | *ready2) & POLLNVAL ? -1 : 0;
}

static int relay_wait_ms(const struct relay *r, const struct driver_limits *lim, uint64_t now,
                         bool capped)
{
	uint64_t at = relay_connect_deadline(r);

	if (lim && lim->idle_timeout_usec) {
		uint64_t idle = r->c->activity_usec + lim->idle_timeout_usec;
		if (!at || idle < at)
			at = idle;
	}
	return driver_wait_ms(
	        now, at,
	        lim && lim->max_duration_usec ? r->c->start_usec + lim->max_duration_usec : 0,
	        capped);
}

static enum driver_outcome relay_blocking_loop(struct relay *r, const struct driver_limits *lim,
                                               bool (*stop)(void *arg), void *arg)
{
	uint32_t ready = RELAY_ANY, up_ready = RELAY_ANY;
	int fl = fcntl(r->c->fd, F_GETFL);

	/* The blocking models hand over a blocking socket; the relay never waits in a
	 * read or a write. */
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(r->c->fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return DRIVER_PEER_GONE;
	for (;;) {
		uint64_t now = conn_now_usec();

		if (relay_step(r, ready, up_ready, now) == RELAY_DONE)
			return relay_outcome(r);
		if (stop && stop(arg))
			return DRIVER_STOPPED;
		if (lim && lim->max_duration_usec &&
		    now >= r->c->start_usec + lim->max_duration_usec)
			return DRIVER_DURATION;
		if (lim && lim->idle_timeout_usec &&
		    now >= r->c->activity_usec + lim->idle_timeout_usec)
			return DRIVER_IDLE_TIMEOUT;
		if (relay_poll(r->c->fd, relay_want(r), r->up, relay_up_want(r),
		               relay_wait_ms(r, lim, now, stop != NULL), &ready, &up_ready) < 0)
			return DRIVER_PEER_GONE;
	}
}

enum driver_outcome relay_run_blocking(struct relay *r, const struct driver_limits *lim,
                                       bool (*stop)(void *arg), void *arg)
{
	enum driver_outcome o = relay_blocking_loop(r, lim, stop, arg);

	relay_free(r);
	return o;
}
