/* The per-service scoreboard segment (see scoreboard.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "superserverd/scoreboard.h"

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

size_t scoreboard_size(unsigned n_slots, unsigned n_sources, unsigned held_cap)
{
	size_t n = align8(sizeof(struct scoreboard) +
	                  (size_t)n_slots * sizeof(struct scoreboard_slot));
	n = align8(n + (size_t)n_sources * sizeof(struct admit_source));
	return n + (size_t)n_slots * held_cap * sizeof(uint32_t);
}

struct scoreboard *scoreboard_create_admit(unsigned n_slots, unsigned n_sources, unsigned held_cap,
                                           int *fd_r)
{
	size_t size = scoreboard_size(n_slots, n_sources, held_cap);
	struct scoreboard *sb;
	int fd = memfd_create("superserverd-scoreboard", MFD_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	sb = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sb == MAP_FAILED)
		goto fail;
	/* Other services' processes must not see this segment. */
	if (madvise(sb, size, MADV_DONTFORK) < 0) {
		int e = errno;
		munmap(sb, size);
		errno = e;
		goto fail;
	}
	sb->magic = SCOREBOARD_MAGIC;
	sb->version = SCOREBOARD_VERSION;
	sb->n_slots = n_slots;
	sb->n_sources = n_sources;
	sb->held_cap = held_cap;
	sb->size = size;
	atomic_store(&sb->counters.runs.last_status, -1);
	sb->sources_off = align8(sizeof(struct scoreboard) +
	                         (size_t)n_slots * sizeof(struct scoreboard_slot));
	sb->held_off = align8(sb->sources_off + (size_t)n_sources * sizeof(struct admit_source));
	*fd_r = fd;
	return sb;
fail : {
	int e = errno;
	close(fd);
	errno = e;
	return NULL;
}
}

struct scoreboard *scoreboard_create(unsigned n_slots, int *fd_r)
{
	return scoreboard_create_admit(n_slots, 0, 0, fd_r);
}

struct scoreboard *scoreboard_attach(int fd)
{
	struct scoreboard head;
	struct scoreboard *sb;

	if (pread(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head))
		return NULL;
	if (head.magic != SCOREBOARD_MAGIC || head.version != SCOREBOARD_VERSION) {
		errno = EPROTO;
		return NULL;
	}
	sb = mmap(NULL, head.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return sb == MAP_FAILED ? NULL : sb;
}

void scoreboard_unmap(struct scoreboard *sb)
{
	if (sb)
		munmap(sb, sb->size);
}

const char *scoreboard_state_name(enum worker_state s)
{
	static const char *const names[] = {
	        [WORKER_EMPTY] = "empty", [WORKER_STARTING] = "starting", [WORKER_IDLE] = "idle",
	        [WORKER_BUSY] = "busy",   [WORKER_STOPPING] = "stopping",
	};
	return (unsigned)s < WORKER_STATE_COUNT ? names[s] : "unknown";
}

void scoreboard_set_state(struct scoreboard_slot *slot, enum worker_state s)
{
	atomic_store_explicit(&slot->state, (uint32_t)s, memory_order_release);
}

uint64_t scoreboard_now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

const uint64_t scoreboard_hist_bounds_usec[SCOREBOARD_HIST_BUCKETS] = {
        100,      200,      500,       1000,      2000,      5000,       10000,   20000,
        50000,    100000,   200000,    500000,    1000000,   2000000,    5000000, 10000000,
        20000000, 50000000, 100000000, 200000000, 500000000, 1000000000,
};

static unsigned bucket_of(uint64_t usec)
{
	unsigned lo = 0, hi = SCOREBOARD_HIST_BUCKETS;
	/* First bound >= usec; SCOREBOARD_HIST_BUCKETS means +Inf. */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (scoreboard_hist_bounds_usec[mid] < usec)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void scoreboard_conn_accepted(struct scoreboard *sb, struct scoreboard_slot *slot)
{
	atomic_fetch_add_explicit(&sb->counters.accepted, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&slot->active, 1, memory_order_relaxed);
	atomic_store_explicit(&slot->last_activity_usec, scoreboard_now_usec(),
	                      memory_order_relaxed);
}

void scoreboard_conn_done(struct scoreboard *sb, struct scoreboard_slot *slot,
                          uint64_t duration_usec, bool bytes_known, uint64_t bytes_in,
                          uint64_t bytes_out, enum conn_result result)
{
	struct scoreboard_counters *c = &sb->counters;

	/* Locked instructions are the cost of counting: none for a zero. */
	if (bytes_known) {
		if (bytes_in)
			atomic_fetch_add_explicit(&c->bytes_in, bytes_in, memory_order_relaxed);
		if (bytes_out)
			atomic_fetch_add_explicit(&c->bytes_out, bytes_out, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&c->bytes_unknown, 1, memory_order_relaxed);
	}
	if (result == CONN_RESULT_HANDLER_ERROR)
		atomic_fetch_add_explicit(&c->handler_errors, 1, memory_order_relaxed);
	else if (result == CONN_RESULT_TIMEOUT)
		atomic_fetch_add_explicit(&c->timeouts, 1, memory_order_relaxed);
	if (duration_usec)
		atomic_fetch_add_explicit(&c->duration_sum_usec, duration_usec,
		                          memory_order_relaxed);
	atomic_fetch_add_explicit(&c->duration_hist[bucket_of(duration_usec)], 1,
	                          memory_order_relaxed);
	/* Last, so a reader that sees `completed` also sees the rest. */
	atomic_fetch_add_explicit(&c->completed, 1, memory_order_release);
	if (slot)
		scoreboard_slot_done(slot);
}

void scoreboard_slot_done(struct scoreboard_slot *slot)
{
	atomic_fetch_sub_explicit(&slot->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&slot->served, 1, memory_order_relaxed);
	atomic_store_explicit(&slot->last_activity_usec, scoreboard_now_usec(),
	                      memory_order_relaxed);
}

uint64_t scoreboard_quantile_usec(const uint64_t hist[SCOREBOARD_HIST_BUCKETS + 1], double q)
{
	uint64_t total = 0, seen = 0;

	for (unsigned i = 0; i <= SCOREBOARD_HIST_BUCKETS; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	double rank = q * (double)total;
	for (unsigned i = 0; i <= SCOREBOARD_HIST_BUCKETS; i++) {
		if (hist[i] == 0 || (double)(seen + hist[i]) < rank) {
			seen += hist[i];
			continue;
		}
		/* The +Inf bucket has no upper edge: report its lower one. */
		if (i == SCOREBOARD_HIST_BUCKETS)
			return scoreboard_hist_bounds_usec[SCOREBOARD_HIST_BUCKETS - 1];
		uint64_t lo = i ? scoreboard_hist_bounds_usec[i - 1] : 0;
		uint64_t hi = scoreboard_hist_bounds_usec[i];
		double frac = ((rank - (double)seen) / (double)hist[i]);
		if (frac < 0)
			frac = 0;
		return lo + (uint64_t)(frac * (double)(hi - lo));
	}
	return scoreboard_hist_bounds_usec[SCOREBOARD_HIST_BUCKETS - 1];
}

const char *scoreboard_reject_name(enum reject_reason r)
{
	static const char *const names[] = {
	        [REJECT_MAX_CONNECTIONS] = "max_connections",
	        [REJECT_PER_SOURCE] = "per_source",
	        [REJECT_RATE] = "rate",
	        [REJECT_ACCESS] = "access",
	        [REJECT_PROXY] = "proxy",
	        [REJECT_FAILED] = "failed",
	};
	return (unsigned)r < REJECT_REASON_COUNT ? names[r] : "unknown";
}

const char *scoreboard_dgram_drop_name(enum dgram_drop_reason r)
{
	static const char *const names[DGRAM_DROP_REASON_COUNT] = {
	        [DGRAM_DROP_ACCESS] = "access", [DGRAM_DROP_RATE] = "rate",
	        [DGRAM_DROP_SIZE] = "size",     [DGRAM_DROP_ERROR] = "error",
	        [DGRAM_DROP_FAILED] = "failed",
	};
	return (unsigned)r < DGRAM_DROP_REASON_COUNT ? names[r] : "unknown";
}

void scoreboard_tls_handshake(struct scoreboard *sb, unsigned fail, bool resumed, uint64_t usec)
{
	struct scoreboard_tls *t = &sb->counters.tls;

	if (fail) {
		if (fail < SCOREBOARD_TLS_FAIL_SLOTS)
			atomic_fetch_add_explicit(&t->failed[fail], 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&t->handshake_usec_sum, usec, memory_order_relaxed);
	if (resumed)
		atomic_fetch_add_explicit(&t->resumed, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->handshakes, 1, memory_order_relaxed);
}

bool scoreboard_has_served(struct scoreboard *sb)
{
	const struct scoreboard_counters *c = &sb->counters;

	return atomic_load(&c->completed) > 0 || atomic_load(&c->dgram.answered) > 0 ||
	       atomic_load(&c->dgram.unanswered) > 0 || atomic_load(&c->runs.exited_ok) > 0;
}

uint32_t scoreboard_runs_running(struct scoreboard *sb)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < sb->n_slots; i++)
		n += atomic_load(&sb->slots[i].runs);
	return n;
}

void scoreboard_runs_reclaim(struct scoreboard *sb, struct scoreboard_slot *slot)
{
	uint32_t n = atomic_exchange(&slot->runs, 0);

	if (n)
		atomic_fetch_add(&sb->counters.runs.killed, n);
}
