/*
 * The scoreboard: one shared-memory segment per service, created by the master
 * before the service's processes fork, written by those processes with atomics and
 * read by the master (supervision, prefork scaling, statistics). No pointers inside,
 * so every process can map it anywhere.
 *
 * The segment is a memfd. The master maps it with MADV_DONTFORK so a service
 * process never inherits another service's mapping; each service process maps its
 * own segment again from the fd it is handed.
 */
#ifndef SUPERSERVERD_SCOREBOARD_H
#define SUPERSERVERD_SCOREBOARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SCOREBOARD_MAGIC   0x53534230u /* "SSB0" */
#define SCOREBOARD_VERSION 7u

enum worker_state {
	WORKER_EMPTY = 0, /* no process in this slot */
	WORKER_STARTING,  /* forked, not yet serving */
	WORKER_IDLE,      /* waiting for a connection */
	WORKER_BUSY,      /* serving (for pools: at least one connection, and no room) */
	WORKER_STOPPING,  /* finishing its connections before it exits */
	WORKER_STATE_COUNT,
};

struct scoreboard_slot {
	_Atomic int32_t pid;
	_Atomic uint32_t state;              /* enum worker_state */
	_Atomic uint32_t active;             /* connections open in this process now */
	_Atomic uint64_t served;             /* connections this process finished */
	_Atomic uint64_t last_activity_usec; /* CLOCK_MONOTONIC of the last accept or end */
	_Atomic uint32_t admitted;           /* this process's share of admit.active_total */
	/* Programs this process has running (wait): counted as killed by the master if
	 * the process dies, since they die with it. */
	_Atomic uint32_t runs;
};

/* Why a connection was turned away (counted in counters.rejected[]). */
enum reject_reason {
	REJECT_MAX_CONNECTIONS,
	REJECT_PER_SOURCE,
	REJECT_RATE,
	REJECT_ACCESS,
	REJECT_PROXY,
	REJECT_FAILED, /* the service has failed: the master turns clients away */
	REJECT_REASON_COUNT,
};

/* Why a datagram was dropped unanswered (counted in counters.dgram.dropped[]). */
enum dgram_drop_reason {
	DGRAM_DROP_ACCESS, /* the source is not allowed by `access` */
	DGRAM_DROP_RATE,   /* over the per-source or the service-wide packet rate */
	DGRAM_DROP_SIZE,   /* truncated, or the answer would be larger than allowed */
	DGRAM_DROP_ERROR,  /* a send or handler error */
	DGRAM_DROP_FAILED, /* the service has failed: the master drops what arrives */
	DGRAM_DROP_REASON_COUNT,
};

/* Datagrams served in-process by a handler's datagram callback. Each datagram received
 * is counted once more, by what became of it: received = answered + unanswered + the
 * sum of dropped[] (the `wait` model's access drops aside: its program reads the rest). */
struct scoreboard_dgram {
	_Atomic uint64_t received;
	_Atomic uint64_t answered;
	_Atomic uint64_t unanswered; /* the handler had no answer to give (discard) */
	_Atomic uint64_t dropped[DGRAM_DROP_REASON_COUNT];
	/* ICMP errors the kernel reported on the socket about an earlier answer: not
	 * datagrams, so outside received. */
	_Atomic uint64_t peer_errors;
	_Atomic uint64_t bytes_in;  /* of datagrams received */
	_Atomic uint64_t bytes_out; /* of answers sent */
};

/* Connections a handler relayed to a target (ss_conn_relay, mpm/relay.c): the
 * connects towards the target and how long they took. */
struct scoreboard_upstream {
	_Atomic uint64_t attempts;
	_Atomic uint64_t connected;
	_Atomic uint64_t failed;           /* refused, unreachable, no socket: closed at once */
	_Atomic uint64_t timeouts;         /* no answer within the connect timeout */
	_Atomic uint64_t connect_usec_sum; /* over `connected` */
	_Atomic uint64_t connect_usec_max;
};

/* TLS handshakes on the service's TLS listeners. failed[] is indexed by mpm/tls_conn.h's
 * enum tls_fail (its TLS_FAIL_NONE slot stays 0). */
#define SCOREBOARD_TLS_FAIL_SLOTS 8
struct scoreboard_tls {
	_Atomic uint64_t handshakes;         /* completed */
	_Atomic uint64_t resumed;            /* of those, by a session ticket */
	_Atomic uint64_t handshake_usec_sum; /* over `handshakes` */
	_Atomic uint64_t failed[SCOREBOARD_TLS_FAIL_SLOTS];
};

/* Programs handed a socket (`wait` services): one run lasts from start to exit. */
struct scoreboard_runs {
	_Atomic uint64_t started;
	_Atomic uint64_t exited_ok;    /* exit status 0 */
	_Atomic uint64_t exited_error; /* a non-zero exit status */
	_Atomic uint64_t killed;       /* ended by a signal (the timeout's included) */
	_Atomic uint64_t timeouts;     /* ended because the run's timeout expired */
	_Atomic uint64_t run_usec_sum;
	_Atomic int32_t last_status; /* the last run's wait status, -1 before any */
	/* Programs running now: the sum of the slots' `runs`, so that a process's death
	 * takes its own away (scoreboard_runs_running). */
};

/*
 * Connection durations in log-spaced buckets (1-2-5 per decade from 100 us to
 * 1000 s, then +Inf): enough to answer p50/p90/p99 within a bucket's width.
 */
#define SCOREBOARD_HIST_BUCKETS 22
extern const uint64_t scoreboard_hist_bounds_usec[SCOREBOARD_HIST_BUCKETS];

/* Service-wide counters; they survive the processes that update them. */
struct scoreboard_counters {
	_Atomic uint64_t accepted;
	_Atomic uint64_t completed;
	_Atomic uint64_t handler_errors;
	_Atomic uint64_t timeouts;
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t bytes_out;
	_Atomic uint64_t bytes_unknown; /* connections whose byte counts are not known */
	_Atomic uint64_t rejected[REJECT_REASON_COUNT];
	_Atomic uint64_t crashes;         /* service processes killed by a signal (master) */
	_Atomic uint64_t restarts;        /* service processes restarted after dying (master) */
	_Atomic uint64_t records_dropped; /* connection records the master could not take */
	_Atomic uint64_t duration_sum_usec;
	_Atomic uint64_t duration_hist[SCOREBOARD_HIST_BUCKETS + 1]; /* last: +Inf */
	struct scoreboard_dgram dgram;
	struct scoreboard_runs runs;
	struct scoreboard_upstream upstream;
	struct scoreboard_tls tls;
};

/* One source (an address masked to the configured prefix) in the admission table. */
struct admit_source {
	_Atomic uint32_t count; /* connections open now */
	uint8_t family;         /* 0 = never used */
	uint8_t pad[3];
	uint8_t key[16];
	double tokens; /* per-source rate bucket */
	uint64_t refill_usec;
};

/* Admission state shared by a service's processes (mpm/admit.c), under `lock`. */
struct admit_shared {
	_Atomic int32_t lock;          /* pid of the holder, 0 = free */
	_Atomic uint64_t active_total; /* connections admitted and not yet released */
	double tokens;                 /* service rate bucket */
	uint64_t refill_usec;
	_Atomic uint64_t table_full; /* sources not tracked because the table was full */
};

struct scoreboard {
	uint32_t magic;
	uint32_t version;
	uint32_t n_slots;
	uint32_t n_sources; /* admission table entries (0 without per-source limits) */
	uint32_t held_cap;  /* per process: sources held by open connections, for reclaim */
	uint32_t reserved;
	uint64_t size;        /* bytes of the whole segment */
	uint64_t sources_off; /* offsets from the start of the segment */
	uint64_t held_off;
	_Atomic uint64_t generation;
	struct scoreboard_counters counters;
	struct admit_shared admit;
	struct scoreboard_slot slots[];
};

/* Master: creates a segment for n_slots workers. Returns NULL (errno set) on failure. */
struct scoreboard *scoreboard_create(unsigned n_slots, int *fd_r);
/* The same with an admission table of n_sources entries and, per process, room to
 * remember held_cap sources of its open connections. */
struct scoreboard *scoreboard_create_admit(unsigned n_slots, unsigned n_sources, unsigned held_cap,
                                           int *fd_r);
static inline struct admit_source *scoreboard_sources(struct scoreboard *sb)
{
	return (struct admit_source *)((char *)sb + sb->sources_off);
}
/* Slot i's held list: entries are source index + 1, 0 = free. */
static inline _Atomic uint32_t *scoreboard_held(struct scoreboard *sb, unsigned slot)
{
	return (_Atomic uint32_t *)((char *)sb + sb->held_off) + (size_t)slot * sb->held_cap;
}
/* Service process: maps the segment behind fd (then the fd may be closed). */
struct scoreboard *scoreboard_attach(int fd);
void scoreboard_unmap(struct scoreboard *sb);
size_t scoreboard_size(unsigned n_slots, unsigned n_sources, unsigned held_cap);

const char *scoreboard_state_name(enum worker_state s);

/* How a connection ended, for the counters. */
enum conn_result {
	CONN_RESULT_COMPLETED,
	CONN_RESULT_HANDLER_ERROR,
	CONN_RESULT_TIMEOUT,
	CONN_RESULT_PEER_GONE,
};

/* Every model reports through these two, so the counters mean the same everywhere.
 * bytes_known false: an exec'd program whose byte counts could not be read. */
void scoreboard_conn_accepted(struct scoreboard *sb, struct scoreboard_slot *slot);
void scoreboard_conn_done(struct scoreboard *sb, struct scoreboard_slot *slot,
                          uint64_t duration_usec, bool bytes_known, uint64_t bytes_in,
                          uint64_t bytes_out, enum conn_result result);
/* The slot's part of conn_done alone, for a process whose connection's counters were
 * reported by another (fork: the connection process reports, the acceptor keeps the
 * slot). */
void scoreboard_slot_done(struct scoreboard_slot *slot);
/* The duration at which `quantile` (0..1) of the recorded connections had ended,
 * interpolated within its bucket; 0 when nothing is recorded. */
uint64_t scoreboard_quantile_usec(const uint64_t hist[SCOREBOARD_HIST_BUCKETS + 1], double q);
const char *scoreboard_reject_name(enum reject_reason r);
const char *scoreboard_dgram_drop_name(enum dgram_drop_reason r);

/* The service has done its work at least once: a connection completed, a datagram
 * answered (or read and left unanswered, as discard does), or a program run ended with
 * status 0. A process of a service that has is not in a start-up crash loop. */
bool scoreboard_has_served(struct scoreboard *sb);
/* A TLS handshake ended: FAIL 0 when it completed (then RESUMED and USEC count), else
 * its enum tls_fail. */
void scoreboard_tls_handshake(struct scoreboard *sb, unsigned fail, bool resumed, uint64_t usec);
/* Programs running now, all slots together. */
uint32_t scoreboard_runs_running(struct scoreboard *sb);
/* Master, once slot's process is dead: its programs died with it (SIGKILL by
 * PR_SET_PDEATHSIG); they are counted as killed and no longer running. */
void scoreboard_runs_reclaim(struct scoreboard *sb, struct scoreboard_slot *slot);

/* Helpers for workers. */
void scoreboard_set_state(struct scoreboard_slot *slot, enum worker_state s);
uint64_t scoreboard_now_usec(void);

#endif
