/*
 * ssbench's datagram mode, udp-echo: --concurrency connected UDP sockets, each keeping
 * --window datagrams of --size bytes in flight. A datagram's payload is a function of its
 * socket and sequence number (the first 8 bytes carry the number), so every answer is
 * checked byte for byte, even one that comes after its datagram was given up as lost.
 * A datagram unanswered after --op-timeout is counted lost and its slot sends a new one:
 * a lost datagram never stalls a socket.
 */
#include "loadgen.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SEQ_BYTES 8
#define SLACK     64 /* room past --size, so that a too-long answer is noticed */
#define BATCH     32 /* datagrams per sendmmsg or recvmmsg */

/* Slot k of a socket sends the numbers k + 1, k + 1 + window, k + 1 + 2 * window... */
struct slot {
	uint64_t seq;      /* the last number sent */
	bool waiting;      /* its answer is awaited */
	uint64_t t_sent;   /* ns */
	uint64_t deadline; /* ns: lost after this, or (not waiting) send again at this time */
};

struct usock {
	int fd;
	uint64_t id;      /* seeds the payloads */
	uint64_t highest; /* the highest number sent */
	struct slot *slots;
};

struct uworker {
	pthread_t th;
	const struct lg_opts *o;
	int ep;
	struct usock *socks;
	long n;
	uint64_t end;
	uint64_t timeout_ns;
	unsigned char *out;  /* BATCH datagrams to send */
	unsigned char *in;   /* BATCH answers, each with SLACK */
	unsigned char *want; /* the expected answer */
	struct mmsghdr smsg[BATCH], rmsg[BATCH];
	struct iovec siov[BATCH], riov[BATCH];
	struct slot *queued[BATCH];
	int nq;
	struct lg_stats st;
};

/* The payload of datagram SEQ of socket ID: SEQ, then bytes of a xorshift seeded by both. */
static void payload(unsigned char *p, size_t size, uint64_t id, uint64_t seq)
{
	uint64_t x = (id * 0x9e3779b97f4a7c15ull) ^ (seq * 0xbf58476d1ce4e5b9ull) ^ 1;
	memcpy(p, &seq, SEQ_BYTES);
	for (size_t i = SEQ_BYTES; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

/* Sends the queued datagrams of socket S. One the kernel drops for lack of buffer space is
 * awaited all the same (it times out, counted lost); one refused (ECONNREFUSED: nobody
 * listens) is an error, and its slot tries again after the timeout. */
static void flush(struct uworker *w, struct usock *s)
{
	for (int done = 0; done < w->nq;) {
		int n = sendmmsg(s->fd, w->smsg + done, (unsigned)(w->nq - done), 0);
		if (n > 0) {
			done += n;
			continue;
		}
		if (errno == EAGAIN || errno == ENOBUFS)
			break;
		if (errno == EINTR)
			continue;
		w->st.connect_err++;
		w->queued[done++]->waiting = false;
	}
	w->nq = 0;
}

/* Queues slot SL's next datagram; the caller flushes S before it turns to another socket. */
static void queue_next(struct uworker *w, struct usock *s, struct slot *sl, uint64_t now)
{
	uint64_t seq = sl->seq += (uint64_t)w->o->window;
	if (seq > s->highest)
		s->highest = seq;
	payload(w->out + (size_t)w->nq * w->o->size, w->o->size, s->id, seq);
	sl->t_sent = now;
	sl->deadline = now + w->timeout_ns;
	sl->waiting = true;
	w->queued[w->nq++] = sl;
	if (w->nq == BATCH)
		flush(w, s);
}

/* How many of the answer's bytes differ from what was sent, counting any length difference. */
static uint64_t mismatch(const unsigned char *got, size_t n, const unsigned char *want, size_t size)
{
	size_t cmp = n < size ? n : size;
	uint64_t bad = n > size ? n - size : size - n;
	for (size_t i = 0; i < cmp; i++)
		bad += got[i] != want[i];
	return bad;
}

/* Checks one answer of N bytes at P: its slot when it was awaited and is right, else NULL. */
static struct slot *check(struct uworker *w, struct usock *s, const unsigned char *p, size_t n)
{
	size_t size = w->o->size;
	uint64_t seq = 0;
	if (n >= SEQ_BYTES)
		memcpy(&seq, p, SEQ_BYTES);
	if (seq == 0 || seq > s->highest) {
		/* Not a number this socket sent: the whole answer is wrong. */
		w->st.wrong++;
		w->st.corrupt_bytes += n > size ? n : size;
		return NULL;
	}
	payload(w->want, size, s->id, seq);
	uint64_t bad = mismatch(p, n, w->want, size);
	if (bad) {
		w->st.wrong++;
		w->st.corrupt_bytes += bad;
		return NULL;
	}
	struct slot *sl = &s->slots[(seq - 1) % (uint64_t)w->o->window];
	if (sl->seq != seq || !sl->waiting) {
		w->st.late++; /* already counted lost and replaced, or answered twice */
		return NULL;
	}
	return sl;
}

/* Takes the answers queued on S (up to its window) at once, and sends their successors. */
static void on_readable(struct uworker *w, struct usock *s, uint64_t now)
{
	int max = w->o->window < BATCH ? w->o->window : BATCH;
	int n = recvmmsg(s->fd, w->rmsg, (unsigned)max, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			w->st.connect_err++; /* ICMP unreachable: counted, the slots time out */
		return;
	}
	for (int i = 0; i < n; i++) {
		struct slot *sl =
		        check(w, s, w->in + (size_t)i * (w->o->size + SLACK), w->rmsg[i].msg_len);
		if (sl) {
			lg_count_op(w->o, &w->st, now - sl->t_sent);
			queue_next(w, s, sl, now);
		}
	}
	flush(w, s);
}

/* Lost datagrams, and slots waiting to retry after a send error. */
static void scan(struct uworker *w, uint64_t now)
{
	for (long i = 0; i < w->n; i++) {
		struct usock *s = &w->socks[i];
		for (int k = 0; k < w->o->window; k++) {
			struct slot *sl = &s->slots[k];
			if (now < sl->deadline)
				continue;
			if (sl->waiting)
				w->st.timeouts++;
			queue_next(w, s, sl, now);
		}
		flush(w, s);
	}
}

static void *worker_run(void *arg)
{
	struct uworker *w = arg;
	struct epoll_event evs[256];
	uint64_t now = lg_now_ns(), next_scan = now;

	for (long i = 0; i < w->n; i++) {
		for (int k = 0; k < w->o->window; k++)
			queue_next(w, &w->socks[i], &w->socks[i].slots[k], now);
		flush(w, &w->socks[i]);
	}
	while (!atomic_load(&lg_stop)) {
		int n = epoll_wait(w->ep, evs, 256, 5);
		now = lg_now_ns();
		for (int i = 0; i < n; i++)
			on_readable(w, evs[i].data.ptr, now);
		if (now >= w->end)
			break;
		if (now >= next_scan) {
			scan(w, now);
			next_scan = now + 5 * 1000000u;
		}
	}
	atomic_store(&lg_stop, 1);
	return NULL;
}

static int sock_open(const struct lg_opts *o, int ep, struct usock *s)
{
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
	if (!lg_bind_source(o, s->fd) ||
	    connect(s->fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		return -1;
	return 0;
}

int lg_udp_run(const struct lg_opts *o)
{
	struct uworker ws[2];
	int rc = 1;
	memset(ws, 0, sizeof(ws));
	uint64_t t0 = lg_now_ns();
	for (int t = 0; t < o->threads; t++) {
		struct uworker *w = &ws[t];
		w->o = o;
		w->end = t0 + (uint64_t)(o->duration * 1e9);
		w->timeout_ns = (uint64_t)(o->op_timeout * 1e9);
		w->n = o->concurrency / o->threads + (t < o->concurrency % o->threads ? 1 : 0);
		w->socks = calloc((size_t)w->n, sizeof(*w->socks));
		w->out = malloc(BATCH * o->size);
		w->in = malloc(BATCH * (o->size + SLACK));
		w->want = malloc(o->size);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (!w->socks || !w->out || !w->in || !w->want || w->ep < 0) {
			perror("ssbench: setup");
			goto cleanup;
		}
		for (int k = 0; k < BATCH; k++) {
			w->siov[k] = (struct iovec){w->out + (size_t)k * o->size, o->size};
			w->riov[k] = (struct iovec){w->in + (size_t)k * (o->size + SLACK),
			                            o->size + SLACK};
			w->smsg[k].msg_hdr =
			        (struct msghdr){.msg_iov = &w->siov[k], .msg_iovlen = 1};
			w->rmsg[k].msg_hdr =
			        (struct msghdr){.msg_iov = &w->riov[k], .msg_iovlen = 1};
		}
		for (long i = 0; i < w->n; i++) {
			struct usock *s = &w->socks[i];
			s->fd = -1;
			s->id = ((uint64_t)t << 32) + (uint64_t)i + 1;
			s->slots = calloc((size_t)o->window, sizeof(*s->slots));
			if (!s->slots || sock_open(o, w->ep, s) < 0) {
				perror("ssbench: udp socket");
				goto cleanup;
			}
			/* The first send adds the window: slot k starts at k + 1. */
			for (int k = 0; k < o->window; k++)
				s->slots[k].seq = (uint64_t)k + 1 - (uint64_t)o->window;
		}
	}
	t0 = lg_now_ns();
	int started = 0;
	for (; started < o->threads; started++)
		if (pthread_create(&ws[started].th, NULL, worker_run, &ws[started]) != 0) {
			perror("ssbench: pthread_create");
			atomic_store(&lg_stop, 1);
			break;
		}
	for (int t = 0; t < started; t++)
		pthread_join(ws[t].th, NULL);
	if (started == o->threads) {
		struct lg_stats sum;
		memset(&sum, 0, sizeof(sum));
		for (int t = 0; t < o->threads; t++)
			lg_stats_add(&sum, &ws[t].st);
		rc = lg_report(o, &sum, (double)(lg_now_ns() - t0) / 1e9);
	}
cleanup:
	for (int t = 0; t < o->threads; t++) {
		struct uworker *w = &ws[t];
		for (long i = 0; w->socks && i < w->n; i++) {
			if (w->socks[i].fd >= 0)
				close(w->socks[i].fd);
			free(w->socks[i].slots);
		}
		free(w->socks);
		free(w->out);
		free(w->in);
		free(w->want);
		if (w->ep > 0)
			close(w->ep);
	}
	return rc;
}

bool lg_udp_probe(const struct lg_opts *o)
{
	static const char ping[] = "ssbench probe\n";
	char buf[64];
	bool ok = false;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (lg_bind_source(o, fd) &&
	    connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) == 0 &&
	    send(fd, ping, sizeof(ping) - 1, 0) == (ssize_t)sizeof(ping) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 250) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			ok = n == (ssize_t)sizeof(ping) - 1 && memcmp(buf, ping, (size_t)n) == 0;
		}
	}
	close(fd);
	return ok;
}
