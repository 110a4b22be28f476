/*
 * ssbench: the benchmark's load generator. One or two threads, each with its own epoll set
 * and its own share of the connections; bounded by --duration and --max-ops. Every echoed
 * byte is checked; the result is one machine-readable line on stdout. Helper modes `wait`
 * (poll until a service answers) and `free-port` are used by tests/bench/run.sh.
 */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Binds fd to the next --source address, if any (the port is chosen at connect:
 * IP_BIND_ADDRESS_NO_PORT). Several addresses multiply the client's port space: on
 * loopback a port is reused for the same server only after tcp_tw_reuse_delay. */
bool lg_bind_source(const struct lg_opts *o, int fd)
{
	static _Atomic unsigned next;
	int one = 1;
	if (!o->n_sources)
		return true;
	const struct sockaddr_in *a = &o->sources[atomic_fetch_add(&next, 1) % o->n_sources];
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	return bind(fd, (const struct sockaddr *)a, sizeof(*a)) == 0;
}

/* --source A[,B...]: up to 16 IPv4 addresses. */
static int parse_sources(const char *arg, struct lg_opts *o)
{
	char buf[16 * 16], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", arg);
	o->n_sources = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->n_sources == 16)
			return -1;
		struct sockaddr_in *a = &o->sources[o->n_sources++];
		a->sin_family = AF_INET;
		if (inet_pton(AF_INET, t, &a->sin_addr) != 1)
			return -1;
	}
	return o->n_sources ? 0 : -1;
}

enum cstate { C_UNUSED, C_BACKOFF, C_CONNECTING, C_HANDSHAKE, C_SENDING, C_READING, C_HELD };

struct conn {
	int fd;
	enum cstate st;
	uint64_t t_start;  /* start of the current operation, ns */
	uint64_t deadline; /* op timeout, or retry time in C_BACKOFF */
	size_t sent, got;
	uint64_t rng;
	unsigned char *out, *in;
	struct ssl_st *ssl; /* --tls */
};

struct worker {
	pthread_t th;
	const struct lg_opts *o;
	int ep;
	struct conn *conns;
	long nconns;
	long launched; /* hold: slots started so far */
	long inflight; /* hold: connections not yet verified */
	uint64_t end;
	struct lg_stats st;
};

static atomic_long held_total;
static uint64_t t_begin;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&lg_stop, 1);
}

static void fill_payload(struct conn *c, size_t size)
{
	uint64_t x = c->rng;
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		c->out[i] = (unsigned char)(x >> 24);
	}
	c->rng = x;
}

static void conn_close(struct worker *w, struct conn *c)
{
	if (c->ssl) {
		lg_tls_close(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

static void backoff(struct worker *w, struct conn *c, uint64_t now)
{
	conn_close(w, c);
	c->st = C_BACKOFF;
	c->deadline = now + 5 * 1000000u;
}

static bool arm(struct worker *w, struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	return epoll_ctl(w->ep, op, c->fd, &ev) == 0;
}

static void conn_start(struct worker *w, struct conn *c, uint64_t now);

static ssize_t io_send(struct conn *c, const void *buf, size_t len)
{
	return c->ssl ? lg_tls_send(c->ssl, buf, len) : send(c->fd, buf, len, MSG_NOSIGNAL);
}

static ssize_t io_recv(struct conn *c, void *buf, size_t len)
{
	return c->ssl ? lg_tls_recv(c->ssl, buf, len) : recv(c->fd, buf, len, 0);
}

static void start_request(struct worker *w, struct conn *c, uint64_t now)
{
	const struct lg_opts *o = w->o;
	c->sent = 0;
	c->got = 0;
	if (o->mode == M_CONNECT_READ) {
		c->st = C_READING;
		arm(w, c, EPOLLIN, EPOLL_CTL_MOD);
		return;
	}
	if (o->mode == M_ECHO_PERSIST) {
		c->t_start = now;
		c->deadline = now + (uint64_t)(o->op_timeout * 1e9);
	}
	fill_payload(c, o->size);
	ssize_t n = io_send(c, c->out, o->size);
	if (n < 0 && errno != EAGAIN) {
		w->st.short_read++;
		w->st.lost_bytes += o->size;
		backoff(w, c, now);
		return;
	}
	c->sent = n > 0 ? (size_t)n : 0;
	if (c->sent == o->size) {
		c->st = C_READING;
		arm(w, c, EPOLLIN, EPOLL_CTL_MOD);
	} else {
		c->st = C_SENDING;
		arm(w, c, EPOLLOUT, EPOLL_CTL_MOD);
	}
}

/* An operation finished well: count it, and either end the run or go on. */
static void op_done(struct worker *w, struct conn *c, uint64_t now)
{
	const struct lg_opts *o = w->o;
	lg_count_op(o, &w->st, now - c->t_start);
	if (o->mode == M_ECHO_PERSIST) {
		start_request(w, c, now);
		return;
	}
	conn_close(w, c);
	conn_start(w, c, now);
}

static void conn_start(struct worker *w, struct conn *c, uint64_t now)
{
	const struct lg_opts *o = w->o;
	c->t_start = now;
	c->deadline = now + (uint64_t)(o->op_timeout * 1e9);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		w->st.connect_err++;
		backoff(w, c, now);
		return;
	}
	c->st = C_CONNECTING;
	/* A TLS client's last small record must not wait for the previous one's ACK. */
	int one = 1;
	if (o->tls)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!lg_bind_source(o, c->fd) || !arm(w, c, EPOLLOUT, EPOLL_CTL_ADD)) {
		w->st.connect_err++;
		backoff(w, c, now);
		return;
	}
	if (connect(c->fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) < 0 &&
	    errno != EINPROGRESS) {
		w->st.connect_err++;
		backoff(w, c, now);
	}
}

/* A failed handshake counts as a failed connection. */
static void on_handshake(struct worker *w, struct conn *c, uint64_t now)
{
	int r = lg_tls_handshake(c->ssl);
	if (r == 0)
		start_request(w, c, now);
	else if (r < 0 || !arm(w, c, (uint32_t)r, EPOLL_CTL_MOD)) {
		w->st.connect_err++;
		backoff(w, c, now);
	}
}

static void on_connected(struct worker *w, struct conn *c, uint64_t now)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		w->st.connect_err++;
		backoff(w, c, now);
		return;
	}
	if (!w->o->tls) {
		start_request(w, c, now);
		return;
	}
	c->ssl = lg_tls_new(c->fd);
	c->st = C_HANDSHAKE;
	if (!c->ssl) {
		w->st.connect_err++;
		backoff(w, c, now);
		return;
	}
	on_handshake(w, c, now);
}

static void on_sendable(struct worker *w, struct conn *c, uint64_t now)
{
	size_t size = w->o->size;
	ssize_t n = io_send(c, c->out + c->sent, size - c->sent);
	if (n < 0) {
		if (errno == EAGAIN)
			return;
		w->st.short_read++;
		w->st.lost_bytes += size;
		backoff(w, c, now);
		return;
	}
	c->sent += (size_t)n;
	if (c->sent == size) {
		c->st = C_READING;
		arm(w, c, EPOLLIN, EPOLL_CTL_MOD);
	}
}

/* Reads a whole answer up to EOF (connect-read); checks it is a non-empty line. */
static void on_readable_daytime(struct worker *w, struct conn *c, uint64_t now)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in, w->o->size, 0);
		if (n > 0) {
			c->got += (size_t)n;
			c->in[0] = c->in[n - 1]; /* remember the last byte */
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		if (n == 0 && c->got > 0 && c->in[0] == '\n') {
			op_done(w, c, now);
			return;
		}
		if (n == 0 && c->got > 0)
			w->st.wrong++; /* the answer does not end with a newline: truncated */
		else
			w->st.short_read++;
		backoff(w, c, now);
		return;
	}
}

static void count_echo_mismatch(struct worker *w, struct conn *c)
{
	size_t size = w->o->size;
	size_t cmp = c->got < size ? c->got : size;
	uint64_t bad = 0;
	for (size_t i = 0; i < cmp; i++)
		bad += c->in[i] != c->out[i];
	if (c->got > size)
		bad += c->got - size; /* bytes nobody sent */
	w->st.corrupt_bytes += bad;
}

static void on_readable_echo(struct worker *w, struct conn *c, uint64_t now)
{
	size_t size = w->o->size;
	/* Room for a few extra bytes so that a server sending too much is noticed. */
	ssize_t n = io_recv(c, c->in + c->got, size + 64 - c->got);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		w->st.short_read++;
		w->st.lost_bytes += size - c->got;
		count_echo_mismatch(w, c);
		backoff(w, c, now);
		return;
	}
	c->got += (size_t)n;
	if (c->got < size)
		return;
	if (c->got > size || memcmp(c->in, c->out, size) != 0) {
		w->st.wrong++;
		count_echo_mismatch(w, c);
		backoff(w, c, now);
		return;
	}
	if (w->o->mode != M_HOLD) {
		op_done(w, c, now);
		return;
	}
	/* hold: the server answered; from now on the connection stays idle. */
	lg_count_op(w->o, &w->st, now - c->t_start);
	c->st = C_HELD;
	arm(w, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
	w->inflight--;
	long held = atomic_fetch_add(&held_total, 1) + 1;
	if (held == w->o->connections) {
		fprintf(stderr, "ssbench: ready held=%ld setup_s=%.3f\n", held,
		        (double)(now - t_begin) / 1e9);
		fflush(stderr);
	}
}

static void on_event(struct worker *w, struct conn *c, uint32_t events, uint64_t now)
{
	switch (c->st) {
	case C_CONNECTING:
		on_connected(w, c, now);
		break;
	case C_HANDSHAKE:
		on_handshake(w, c, now);
		break;
	case C_SENDING:
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_sendable(w, c, now);
		break;
	case C_READING:
		if (w->o->mode == M_CONNECT_READ)
			on_readable_daytime(w, c, now);
		else
			on_readable_echo(w, c, now);
		break;
	case C_HELD:
		/* An idle connection must stay silent and open. */
		w->st.dropped++;
		atomic_fetch_sub(&held_total, 1);
		conn_close(w, c);
		c->st = C_UNUSED;
		break;
	default:
		break;
	}
}

/* Timeouts, retries after errors, and (hold) starting more connections. */
static void scan(struct worker *w, uint64_t now)
{
	for (long i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		switch (c->st) {
		case C_BACKOFF:
			if (now >= c->deadline)
				conn_start(w, c, now);
			break;
		case C_CONNECTING:
		case C_HANDSHAKE:
		case C_SENDING:
		case C_READING:
			if (now >= c->deadline) {
				w->st.timeouts++;
				conn_close(w, c);
				conn_start(w, c, now);
			}
			break;
		default:
			break;
		}
	}
	if (w->o->mode == M_HOLD) {
		long limit = w->o->concurrency / w->o->threads;
		if (limit < 1)
			limit = 1;
		while (w->launched < w->nconns && w->inflight < limit) {
			conn_start(w, &w->conns[w->launched++], now);
			w->inflight++;
		}
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	uint64_t now = lg_now_ns(), next_scan = now;

	if (w->o->mode != M_HOLD)
		for (long i = 0; i < w->nconns; i++)
			conn_start(w, &w->conns[i], now);
	while (!atomic_load(&lg_stop)) {
		int n = epoll_wait(w->ep, evs, 256, 10);
		now = lg_now_ns();
		for (int i = 0; i < n; i++)
			on_event(w, evs[i].data.ptr, evs[i].events, now);
		if (now >= w->end)
			break;
		if (now >= next_scan) {
			scan(w, now);
			next_scan = now + 20 * 1000000u;
		}
	}
	atomic_store(&lg_stop, 1);
	return NULL;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run_load(const struct lg_opts *o)
{
	struct worker ws[2];
	memset(ws, 0, sizeof(ws));
	long total = o->mode == M_HOLD ? o->connections : o->concurrency;
	size_t bufsize = o->size + 64;

	raise_nofile();
	t_begin = lg_now_ns();
	uint64_t end = t_begin + (uint64_t)(o->duration * 1e9);
	for (int t = 0; t < o->threads; t++) {
		struct worker *w = &ws[t];
		w->o = o;
		w->end = end;
		w->nconns = total / o->threads + (t < total % o->threads ? 1 : 0);
		w->conns = calloc((size_t)w->nconns, sizeof(*w->conns));
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (!w->conns || w->ep < 0) {
			perror("ssbench: setup");
			return 1;
		}
		for (long i = 0; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];
			c->fd = -1;
			c->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)(t + 1) << 40) ^ (uint64_t)i;
			c->out = malloc(bufsize);
			c->in = malloc(bufsize);
			if (!c->out || !c->in) {
				perror("ssbench: malloc");
				return 1;
			}
		}
	}
	for (int t = 0; t < o->threads; t++)
		if (pthread_create(&ws[t].th, NULL, worker_run, &ws[t]) != 0) {
			perror("ssbench: pthread_create");
			return 1;
		}
	for (int t = 0; t < o->threads; t++)
		pthread_join(ws[t].th, NULL);
	double elapsed = (double)(lg_now_ns() - t_begin) / 1e9;

	struct lg_stats s;
	memset(&s, 0, sizeof(s));
	for (int t = 0; t < o->threads; t++) {
		struct worker *w = &ws[t];
		for (long i = 0; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];
			if (o->mode == M_HOLD && c->st != C_HELD && c->st != C_UNUSED)
				s.timeouts++; /* never verified before the end */
			conn_close(w, c);
			free(c->out);
			free(c->in);
		}
		free(w->conns);
		close(w->ep);
		lg_stats_add(&s, &w->st);
	}
	return lg_report(o, &s, elapsed);
}

/* One blocking attempt of the probe; true when the service answered as expected. */
static bool probe_once(const struct lg_opts *o)
{
	if (o->probe == P_UDP_ECHO)
		return lg_udp_probe(o);
	if (o->probe == P_UDP_BOUND) {
		/* Taken: a service has bound it (a wait service's program cannot be probed). */
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		bool taken = u >= 0 &&
		             bind(u, (const struct sockaddr *)&o->addr, sizeof(o->addr)) < 0 &&
		             errno == EADDRINUSE;
		if (u >= 0)
			close(u);
		return taken;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	bool ok = false;
	char buf[512];
	if (lg_bind_source(o, fd) &&
	    connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) == 0) {
		if (o->probe == P_CONNECT) {
			ok = true;
		} else if (o->probe == P_READ) {
			size_t got = 0;
			ssize_t n;
			while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
				got += (size_t)n;
			ok = n == 0 && got > 0;
		} else if (send(fd, "ping\n", 5, MSG_NOSIGNAL) == 5) {
			size_t got = 0;
			ssize_t n;
			while (got < 5 && (n = recv(fd, buf + got, 5 - got, 0)) > 0)
				got += (size_t)n;
			ok = got == 5 && memcmp(buf, "ping\n", 5) == 0;
		}
	}
	close(fd);
	return ok;
}

static int run_wait(const struct lg_opts *o)
{
	uint64_t end = lg_now_ns() + (uint64_t)(o->duration * 1e9);
	while (!atomic_load(&lg_stop)) {
		if (probe_once(o))
			return 0;
		if (lg_now_ns() >= end)
			break;
		struct timespec ts = {.tv_nsec = 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "ssbench: %s:%d did not answer within %.1fs\n", inet_ntoa(o->addr.sin_addr),
	        ntohs(o->addr.sin_port), o->duration);
	return 1;
}

/* Prints a port of o->addr that can be bound now, below the ephemeral range and below
 * the integration tests' ports (20000 to 31999), so that a benchmark never takes a port
 * a test on the same machine has drawn and not bound yet. */
static int run_free_port(const struct lg_opts *o)
{
	srand((unsigned)(lg_now_ns() ^ (uint64_t)getpid()));
	for (int i = 0; i < 1000; i++) {
		int port = 10000 + rand() % 10000;
		struct sockaddr_in a = o->addr;
		a.sin_port = htons((uint16_t)port);
		/* Free for TCP and for UDP: the datagram rows bind the same kind of number. */
		int ok = 1;
		for (int k = 0; k < 2 && ok; k++) {
			int fd = socket(AF_INET, (k ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
			if (fd < 0)
				return 1;
			ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
			close(fd);
		}
		if (ok) {
			printf("%d\n", port);
			return 0;
		}
	}
	fprintf(stderr, "ssbench: no free port found\n");
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: ssbench --port P --mode MODE [OPTIONS]\n"
	        "  --host A             IPv4 address (default 127.0.0.1)\n"
	        "  --source A[,B...]    bind connections to these local IPv4 addresses, in turn\n"
	        "  --mode MODE          connect-read | echo-new | echo-persist | hold |\n"
	        "                       udp-echo | wait | free-port\n"
	        "  --concurrency C      connections in flight (default 64; hold: connects in "
	        "flight)\n"
	        "  --duration S         stop after S seconds (default 3; hold and wait: the "
	        "deadline)\n"
	        "  --size B             echo message size (default 64; hold: 1)\n"
	        "  --connections N      hold: idle connections to open (default 1000)\n"
	        "  --max-ops N          stop after N operations (default 10000000)\n"
	        "  --threads T          1 or 2 (default 1)\n"
	        "  --op-timeout S       an operation longer than this is an error (default 5;\n"
	        "                       udp-echo: 0.2, then the datagram is counted lost)\n"
	        "  --window W           udp-echo: datagrams in flight per socket (default 1)\n"
	        "  --tls                echo-new, echo-persist: TLS 1.3, a full handshake per\n"
	        "                       connection (no resumption), certificate not verified\n"
	        "  --probe KIND         wait: read | echo | connect | udp-echo | udp-bound\n"
	        "                       (default connect; udp-bound: the UDP port is taken)\n"
	        "connect-read: connect, read to EOF, close; the answer must be a non-empty line.\n"
	        "hold: open N connections, echo --size bytes once on each, then keep them idle\n"
	        "until SIGTERM/SIGINT or the deadline; prints 'ssbench: ready' on stderr once\n"
	        "all N are verified.\n"
	        "udp-echo: C connected UDP sockets (--source: bound in turn), each keeping W\n"
	        "datagrams of --size bytes (at least 8) in flight; every answer checked byte for\n"
	        "byte; timeouts = datagrams lost (resent), late = answers after their timeout.\n"
	        "Output: one line of key=value; exit 0, 1 on a setup error, 2 if any error was "
	        "counted.\n");
}

int main(int argc, char **argv)
{
	struct lg_opts o = {
	        .mode = M_CONNECT_READ,
	        .probe = P_CONNECT,
	        .concurrency = 64,
	        .duration = 3,
	        .size = 0,
	        .connections = 1000,
	        .max_ops = 10000000,
	        .threads = 1,
	        .op_timeout = -1,
	        .window = 1,
	};
	const char *host = "127.0.0.1";
	long port = -1;
	static const struct option longopts[] = {
	        {"host", required_argument, NULL, 'H'},
	        {"port", required_argument, NULL, 'p'},
	        {"mode", required_argument, NULL, 'm'},
	        {"concurrency", required_argument, NULL, 'c'},
	        {"duration", required_argument, NULL, 'd'},
	        {"size", required_argument, NULL, 's'},
	        {"connections", required_argument, NULL, 'n'},
	        {"max-ops", required_argument, NULL, 'M'},
	        {"threads", required_argument, NULL, 't'},
	        {"op-timeout", required_argument, NULL, 'T'},
	        {"probe", required_argument, NULL, 'P'},
	        {"source", required_argument, NULL, 'S'},
	        {"window", required_argument, NULL, 'w'},
	        {"tls", no_argument, NULL, 'L'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "H:p:m:c:d:s:n:M:t:T:P:S:w:Lh", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'm':
			if (lg_mode_parse(optarg, &o.mode) < 0) {
				fprintf(stderr, "ssbench: unknown mode '%s'\n", optarg);
				return 1;
			}
			break;
		case 'c':
			o.concurrency = atoi(optarg);
			break;
		case 'd':
			o.duration = strtod(optarg, NULL);
			break;
		case 's':
			o.size = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o.connections = strtol(optarg, NULL, 10);
			break;
		case 'M':
			o.max_ops = strtoull(optarg, NULL, 10);
			break;
		case 't':
			o.threads = atoi(optarg);
			break;
		case 'T':
			o.op_timeout = strtod(optarg, NULL);
			break;
		case 'P':
			if (strcmp(optarg, "read") == 0)
				o.probe = P_READ;
			else if (strcmp(optarg, "echo") == 0)
				o.probe = P_ECHO;
			else if (strcmp(optarg, "connect") == 0)
				o.probe = P_CONNECT;
			else if (strcmp(optarg, "udp-echo") == 0)
				o.probe = P_UDP_ECHO;
			else if (strcmp(optarg, "udp-bound") == 0)
				o.probe = P_UDP_BOUND;
			else {
				fprintf(stderr, "ssbench: unknown probe '%s'\n", optarg);
				return 1;
			}
			break;
		case 'S':
			if (parse_sources(optarg, &o) < 0) {
				fprintf(stderr, "ssbench: --source takes 1 to 16 IPv4 addresses, "
				                "separated by commas\n");
				return 1;
			}
			break;
		case 'w':
			o.window = atoi(optarg);
			break;
		case 'L':
			o.tls = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (o.size == 0)
		o.size = o.mode == M_HOLD ? 1 : o.mode == M_CONNECT_READ ? 4096 : 64;
	if (o.op_timeout < 0)
		o.op_timeout = o.mode == M_UDP_ECHO ? 0.2 : 5;
	o.addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &o.addr.sin_addr) != 1) {
		fprintf(stderr, "ssbench: --host must be an IPv4 address\n");
		return 1;
	}
	if (o.mode == M_FREE_PORT)
		return run_free_port(&o);
	if (port <= 0 || port > 65535 || o.concurrency < 1 || o.duration <= 0 ||
	    o.size > (64u << 20) || o.connections < 1 || o.max_ops < 1 || o.threads < 1 ||
	    o.threads > 2 || o.op_timeout <= 0 || o.window < 1 || o.window > 1024 ||
	    (o.mode == M_UDP_ECHO && (o.size < 8 || o.size > 65507)) ||
	    (o.tls && o.mode != M_ECHO_NEW && o.mode != M_ECHO_PERSIST)) {
		usage(stderr);
		return 1;
	}
	o.addr.sin_port = htons((uint16_t)port);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.mode == M_WAIT)
		return run_wait(&o);
	if (o.mode != M_HOLD && o.concurrency < o.threads)
		o.threads = o.concurrency;
	if (o.mode == M_HOLD && o.connections < o.threads)
		o.threads = 1;
	if (o.mode == M_UDP_ECHO)
		return lg_udp_run(&o);
	if (o.tls && lg_tls_init() < 0)
		return 1;
	int rc = run_load(&o);
	if (o.tls)
		lg_tls_free();
	return rc;
}
