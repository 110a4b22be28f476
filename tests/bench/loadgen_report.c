/*
 * ssbench's accounting, shared by every mode: the clock, the latency histogram, the
 * --max-ops stop, and the one machine-readable result line (run.sh reads it by key).
 */
#include "loadgen.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *const mode_names[] = {"connect-read", "echo-new", "echo-persist", "hold",
                                         "udp-echo",     "wait",     "free-port"};

atomic_int lg_stop;
static atomic_uint_fast64_t ops_total;

uint64_t lg_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int lg_mode_parse(const char *s, enum lg_mode *m)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum lg_mode)i;
			return 0;
		}
	return -1;
}

static unsigned hist_index(uint64_t us)
{
	if (us < HIST_LINEAR)
		return (unsigned)us;
	unsigned e = 63u - (unsigned)__builtin_clzll(us);
	unsigned sub = (unsigned)(us >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1);
	unsigned idx = HIST_LINEAR + (e - 6) * (1u << HIST_SUB_BITS) + sub;
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned idx)
{
	if (idx < HIST_LINEAR)
		return idx;
	unsigned e = (idx - HIST_LINEAR) / (1u << HIST_SUB_BITS) + 6;
	unsigned sub = (idx - HIST_LINEAR) % (1u << HIST_SUB_BITS);
	uint64_t step = 1ull << (e - HIST_SUB_BITS);
	return ((1ull << HIST_SUB_BITS) + sub) * step + step / 2;
}

static uint64_t hist_percentile(const struct lg_stats *s, double p)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		total += s->hist[i];
	if (total == 0)
		return 0;
	uint64_t rank = (uint64_t)(p * (double)total + 0.999999);
	if (rank == 0)
		rank = 1;
	uint64_t acc = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		acc += s->hist[i];
		if (acc >= rank)
			return hist_value(i);
	}
	return hist_value(HIST_BUCKETS - 1);
}

void lg_count_op(const struct lg_opts *o, struct lg_stats *s, uint64_t latency_ns)
{
	s->ops++;
	s->hist[hist_index(latency_ns / 1000)]++;
	if (atomic_fetch_add(&ops_total, 1) + 1 >= o->max_ops)
		atomic_store(&lg_stop, 1);
}

void lg_stats_add(struct lg_stats *sum, const struct lg_stats *add)
{
	sum->ops += add->ops;
	sum->connect_err += add->connect_err;
	sum->short_read += add->short_read;
	sum->wrong += add->wrong;
	sum->timeouts += add->timeouts;
	sum->dropped += add->dropped;
	sum->late += add->late;
	sum->lost_bytes += add->lost_bytes;
	sum->corrupt_bytes += add->corrupt_bytes;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		sum->hist[i] += add->hist[i];
}

int lg_report(const struct lg_opts *o, const struct lg_stats *s, double elapsed)
{
	uint64_t errors = s->connect_err + s->short_read + s->wrong + s->timeouts + s->dropped;
	struct rusage ru;
	double cpu = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("mode=%s ops=%llu ops_s=%.1f p50_us=%llu p99_us=%llu errors=%llu "
	       "connect_err=%llu short_read=%llu wrong=%llu timeouts=%llu dropped=%llu "
	       "late=%llu lost_bytes=%llu corrupt_bytes=%llu duration_s=%.3f concurrency=%d "
	       "window=%d size=%zu threads=%d cpu_s=%.3f\n",
	       mode_names[o->mode], (unsigned long long)s->ops,
	       elapsed > 0 ? (double)s->ops / elapsed : 0.0,
	       (unsigned long long)hist_percentile(s, 0.50),
	       (unsigned long long)hist_percentile(s, 0.99), (unsigned long long)errors,
	       (unsigned long long)s->connect_err, (unsigned long long)s->short_read,
	       (unsigned long long)s->wrong, (unsigned long long)s->timeouts,
	       (unsigned long long)s->dropped, (unsigned long long)s->late,
	       (unsigned long long)s->lost_bytes, (unsigned long long)s->corrupt_bytes, elapsed,
	       o->concurrency, o->mode == M_UDP_ECHO ? o->window : 1, o->size, o->threads, cpu);
	fflush(stdout);
	if (s->lost_bytes || s->corrupt_bytes)
		fprintf(stderr, "ssbench: DATA ERROR: %llu bytes lost, %llu bytes corrupted\n",
		        (unsigned long long)s->lost_bytes, (unsigned long long)s->corrupt_bytes);
	return errors ? 2 : 0;
}
