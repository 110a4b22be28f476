/*
 * ssbench's shared parts: the options, the counters and latency histogram every mode
 * fills, and the one result line they all print. loadgen.c holds the stream modes and
 * main, loadgen_udp.c the datagram mode, loadgen_report.c the histogram and the line,
 * loadgen_tls.c the TLS client of --tls.
 */
#ifndef SS_BENCH_LOADGEN_H
#define SS_BENCH_LOADGEN_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum lg_mode {
	M_CONNECT_READ,
	M_ECHO_NEW,
	M_ECHO_PERSIST,
	M_HOLD,
	M_UDP_ECHO,
	M_WAIT,
	M_FREE_PORT
};

enum lg_probe { P_READ, P_ECHO, P_CONNECT, P_UDP_ECHO, P_UDP_BOUND };

struct lg_opts {
	struct sockaddr_in addr;
	enum lg_mode mode;
	enum lg_probe probe;
	int concurrency;
	double duration;
	size_t size;
	long connections;
	uint64_t max_ops;
	int threads;
	double op_timeout;
	int window; /* udp-echo: datagrams in flight per socket */
	bool tls;   /* --tls: echo-new and echo-persist over TLS 1.3 (loadgen_tls.c) */
	unsigned n_sources;
	struct sockaddr_in sources[16]; /* --source: local addresses, used in turn */
};

/* Latency histogram in microseconds: exact below 64, then 32 sub-buckets per octave (~3%). */
#define HIST_SUB_BITS 5
#define HIST_LINEAR   64
#define HIST_BUCKETS  (HIST_LINEAR + 40 * (1 << HIST_SUB_BITS))

struct lg_stats {
	uint64_t ops;
	uint64_t connect_err; /* udp-echo: send and receive errors (ICMP unreachable...) */
	uint64_t short_read;  /* EOF or reset before the whole answer, or an empty answer */
	uint64_t wrong;       /* answers whose bytes differ from what was expected */
	uint64_t timeouts;    /* udp-echo: datagrams (or their answers) lost */
	uint64_t dropped;     /* hold: the server closed an idle connection */
	uint64_t late;        /* udp-echo: right answers that came after their timeout */
	uint64_t lost_bytes;
	uint64_t corrupt_bytes;
	uint64_t hist[HIST_BUCKETS];
};

extern atomic_int lg_stop;

uint64_t lg_now_ns(void);

/* The mode named S (as --mode spells it); -1 if none. */
int lg_mode_parse(const char *s, enum lg_mode *m);

/* Binds fd to the next --source address, if any. */
bool lg_bind_source(const struct lg_opts *o, int fd);

/* Counts one operation of LATENCY_NS; asks every worker to stop once --max-ops are done. */
void lg_count_op(const struct lg_opts *o, struct lg_stats *s, uint64_t latency_ns);

/* Adds ADD's counters to SUM. */
void lg_stats_add(struct lg_stats *sum, const struct lg_stats *add);

/* Prints the result line; returns ssbench's exit code (2 when any error was counted). */
int lg_report(const struct lg_opts *o, const struct lg_stats *s, double elapsed);

/* udp-echo: the load (loadgen_udp.c), and one attempt of `wait --probe udp-echo`. */
int lg_udp_run(const struct lg_opts *o);
bool lg_udp_probe(const struct lg_opts *o);

/* --tls (loadgen_tls.c): one client context for the run, TLS 1.3 only, no verification, no
 * resumption. lg_tls_handshake returns 0 when done, EPOLLIN or EPOLLOUT to wait for, -1 on
 * failure; send and recv behave as send(2) and recv(2) on a non-blocking socket (EAGAIN). */
struct ssl_st;
int lg_tls_init(void);
void lg_tls_free(void);
struct ssl_st *lg_tls_new(int fd);
int lg_tls_handshake(struct ssl_st *ssl);
ssize_t lg_tls_send(struct ssl_st *ssl, const void *buf, size_t len);
ssize_t lg_tls_recv(struct ssl_st *ssl, void *buf, size_t len);
/* Sends close_notify if the handshake finished (without waiting for the peer's), frees. */
void lg_tls_close(struct ssl_st *ssl);

#endif
