/*
 * The TLS-to-program relay's state machine (see tls_relay.h): two directions, each
 * one buffer, the TLS side through tls_conn and the program's through plain socket
 * calls; half-closes passed on, back-pressure by not reading.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "mpm/tls_relay.h"

/* One TLS record's plaintext: a read never takes more than a record anyway. */
#define TLS_RELAY_BUF (16 * 1024)
/* Reads per direction and step: a fast sender cannot hold a loop. */
#define TLS_RELAY_ROUNDS 4

struct tls_dir {
	size_t off, len; /* bytes [off, len) of buf wait to be written */
	uint64_t moved;
	bool eof;      /* the reading side has no more */
	bool shut;     /* the writing side was told so */
	uint32_t wait; /* the TLS side's readiness this direction waits for */
	char buf[TLS_RELAY_BUF];
};

struct tls_relay {
	struct tls_conn *t;
	int fd, prog;
	bool done, truncated;
	enum driver_outcome outcome;
	uint64_t start, activity;
	struct tls_dir up, down; /* up: client to program; down: program to client */
	struct iovec greet[2];   /* what of the greeting is still to be written */
	int n_greet;
};

struct tls_relay *tls_relay_new(struct tls_conn *t, int tls_fd, int prog, uint64_t now)
{
	struct tls_relay *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	r->t = t;
	r->fd = tls_fd;
	r->prog = prog;
	r->done = r->truncated = false;
	r->outcome = DRIVER_COMPLETED;
	r->start = r->activity = now;
	r->up = (struct tls_dir){.wait = RELAY_IN};
	r->down = (struct tls_dir){.wait = RELAY_OUT};
	r->n_greet = 0;
	return r;
}

void tls_relay_greet(struct tls_relay *r, const struct iovec *iov, int n)
{
	r->n_greet = 0;
	for (int i = 0; i < n && i < 2; i++)
		if (iov[i].iov_len)
			r->greet[r->n_greet++] = iov[i];
}

void tls_relay_free(struct tls_relay *r)
{
	free(r);
}

static size_t tls_dir_pending(const struct tls_dir *d)
{
	return d->len - d->off;
}

static uint32_t tls_wait_of(enum tls_status s)
{
	return s == TLS_WANT_WRITE ? RELAY_OUT : RELAY_IN;
}

/* Client to program. Returns 0, or -1 when the relay must end (r->outcome set). */
static int tls_relay_up(struct tls_relay *r, bool tls_ok, bool prog_ok, bool *moved)
{
	struct tls_dir *d = &r->up;

	for (int i = 0;; i++) {
		enum tls_status s;
		size_t n;

		while (tls_dir_pending(d) > 0) {
			ssize_t w;

			if (!prog_ok)
				return 0;
			w = send(r->prog, d->buf + d->off, tls_dir_pending(d),
			         MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return 0;
			if (w < 0) {
				/* The program reads no more (it has gone, or shut its input):
				 * what the client sends is dropped, while what the program
				 * wrote before still goes out the other way. */
				d->off = d->len = 0;
				d->eof = d->shut = true;
				return 0;
			}
			d->off += (size_t)w;
		}
		d->off = d->len = 0;
		if (d->eof) {
			if (!d->shut) {
				d->shut = true;
				/* ENOTCONN: the program is gone; the other direction sees it. */
				(void)shutdown(r->prog, SHUT_WR);
			}
			return 0;
		}
		/* Past the rounds only for what OpenSSL already holds (at most a record):
		 * no readiness would come for it. */
		if ((!tls_ok || i >= TLS_RELAY_ROUNDS) && !tls_conn_pending(r->t))
			return 0;
		s = tls_conn_read(r->t, d->buf, sizeof(d->buf), &n);
		switch (s) {
		case TLS_DONE:
			d->len = n;
			d->moved += n;
			*moved = true;
			/* The program's side may have room now that it had none before. */
			prog_ok = true;
			break;
		case TLS_WANT_READ:
		case TLS_WANT_WRITE:
			d->wait = tls_wait_of(s);
			return 0;
		case TLS_TRUNCATED:
			r->truncated = true;
			/* An end all the same. */
			__attribute__((fallthrough));
		case TLS_EOF:
			d->eof = true;
			break;
		default:
			r->outcome = DRIVER_PEER_GONE;
			return -1;
		}
	}
}

/* The greeting's rest, through TLS: TLS_DONE once it is all written. */
static enum tls_status tls_relay_greeting(struct tls_relay *r)
{
	while (r->n_greet > 0) {
		struct iovec *v = &r->greet[0];
		enum tls_status s;
		size_t w;

		s = tls_conn_write(r->t, v->iov_base, v->iov_len, &w);
		if (s != TLS_DONE)
			return s;
		v->iov_base = (char *)v->iov_base + w;
		v->iov_len -= w;
		if (v->iov_len == 0) {
			r->greet[0] = r->greet[1];
			r->n_greet--;
		}
	}
	return TLS_DONE;
}

/* What waits for the client, the greeting's rest first: TLS_DONE once it is all
 * written. */
static enum tls_status tls_relay_flush_down(struct tls_relay *r)
{
	struct tls_dir *d = &r->down;
	enum tls_status s = tls_relay_greeting(r);

	while (s == TLS_DONE && tls_dir_pending(d) > 0) {
		size_t w;

		s = tls_conn_write(r->t, d->buf + d->off, tls_dir_pending(d), &w);
		if (s == TLS_DONE)
			d->off += w;
	}
	return s;
}

/* Program to client. Returns 0, or -1 when the relay must end (r->outcome set). */
static int tls_relay_down(struct tls_relay *r, bool tls_ok, bool prog_ok, bool *moved)
{
	struct tls_dir *d = &r->down;

	for (int i = 0;; i++) {
		enum tls_status s = TLS_DONE;
		ssize_t n;

		if (r->n_greet > 0 || tls_dir_pending(d) > 0) {
			if (!tls_ok)
				return 0;
			s = tls_relay_flush_down(r);
		}
		if (s == TLS_WANT_READ || s == TLS_WANT_WRITE) {
			d->wait = tls_wait_of(s);
			return 0;
		}
		if (s != TLS_DONE) {
			r->outcome = DRIVER_PEER_GONE;
			return -1;
		}
		d->off = d->len = 0;
		if (d->eof) {
			if (d->shut)
				return 0;
			s = tls_conn_shutdown(r->t);
			if (s == TLS_WANT_READ || s == TLS_WANT_WRITE) {
				d->wait = tls_wait_of(s);
				return 0;
			}
			/* An error here is a client already gone: the other direction ends
			 * too. */
			d->shut = true;
			(void)shutdown(r->fd, SHUT_WR);
			return 0;
		}
		if (!prog_ok || i >= TLS_RELAY_ROUNDS)
			return 0;
		do
			n = recv(r->prog, d->buf, sizeof(d->buf), MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			/* The end of the program's output (a reset is one as well). */
			d->eof = true;
			continue;
		}
		d->len = (size_t)n;
		d->moved += (uint64_t)n;
		*moved = true;
		tls_ok = true;
		d->wait = RELAY_OUT;
	}
}

enum relay_status tls_relay_step(struct tls_relay *r, uint32_t ready, uint32_t prog_ready,
                                 uint64_t now)
{
	bool moved = false;

	if (r->done)
		return RELAY_DONE;
	if (tls_relay_up(r, ready != 0, prog_ready != 0, &moved) < 0 ||
	    tls_relay_down(r, ready != 0, prog_ready != 0, &moved) < 0) {
		r->done = true;
		return RELAY_DONE;
	}
	if (moved)
		r->activity = now;
	if (r->up.shut && r->down.shut) {
		r->outcome = DRIVER_COMPLETED;
		r->done = true;
	}
	return r->done ? RELAY_DONE : RELAY_MORE;
}

uint32_t tls_relay_want(const struct tls_relay *r)
{
	uint32_t w = 0;

	if (r->done)
		return 0;
	if (!r->up.eof && tls_dir_pending(&r->up) == 0)
		w |= r->up.wait;
	if (tls_dir_pending(&r->down) > 0 || r->n_greet > 0 || (r->down.eof && !r->down.shut))
		w |= r->down.wait;
	return w;
}

uint32_t tls_relay_prog_want(const struct tls_relay *r)
{
	uint32_t w = 0;

	if (r->done)
		return 0;
	if (tls_dir_pending(&r->up) > 0)
		w |= RELAY_OUT;
	if (!r->down.eof && tls_dir_pending(&r->down) == 0 && r->n_greet == 0)
		w |= RELAY_IN;
	return w;
}

bool tls_relay_truncated(const struct tls_relay *r)
{
	return r->truncated;
}

uint64_t tls_relay_bytes_in(const struct tls_relay *r)
{
	return r->up.moved;
}

uint64_t tls_relay_bytes_out(const struct tls_relay *r)
{
	return r->down.moved;
}

enum driver_outcome tls_relay_run_blocking(struct tls_relay *r, const struct driver_limits *lim,
                                           bool (*stop)(void *arg), void *arg)
{
	uint32_t ready = RELAY_ANY, prog_ready = RELAY_ANY;

	for (;;) {
		uint64_t now = conn_now_usec(), idle_at = 0, end_at = 0;

		if (tls_relay_step(r, ready, prog_ready, now) == RELAY_DONE)
			return r->outcome;
		if (stop && stop(arg))
			return DRIVER_STOPPED;
		if (lim && lim->max_duration_usec) {
			end_at = r->start + lim->max_duration_usec;
			if (now >= end_at)
				return DRIVER_DURATION;
		}
		if (lim && lim->idle_timeout_usec) {
			idle_at = r->activity + lim->idle_timeout_usec;
			if (now >= idle_at)
				return DRIVER_IDLE_TIMEOUT;
		}
		if (relay_poll(r->fd, tls_relay_want(r), r->prog, tls_relay_prog_want(r),
		               driver_wait_ms(now, idle_at, end_at, stop != NULL), &ready,
		               &prog_ready) < 0)
			return DRIVER_PEER_GONE;
	}
}
