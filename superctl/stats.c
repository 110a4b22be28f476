/* superctl stats: everything the daemon knows about one service, or all of them. */
#include <stdio.h>
#include <string.h>

#include "superctl/format.h"
#include "superctl/runs.h"
#include "superctl/tls.h"
#include "superctl/upstream.h"
#include "superctl/superctl.h"
#include "superctl/table.h"

#define BAR_WIDTH 40

static void print_listen(const json_t *svc)
{
	const json_t *queues = json_object_get(svc, "listen_queue"), *q;
	int width = 0;
	size_t i;

	for (i = 0; i < json_array_size(queues); i++) {
		int len = (int)strlen(j_str(json_array_get(queues, i), "address"));
		width = len > width ? len : width;
	}
	for (i = 0; i < json_array_size(queues); i++) {
		q = json_array_get(queues, i);
		printf("  %-16s %s", i ? "" : "listen", j_str(q, "address"));
		if (json_object_get(q, "depth"))
			printf("%*s  backlog %lld of %lld",
			       width - (int)strlen(j_str(q, "address")), "", j_int(q, "depth"),
			       j_int(q, "max"));
		putchar('\n');
	}
	if (json_array_size(queues) == 0)
		printf("  %-16s %s\n", "listen", "(no socket open)");
}

static void print_rejected(const json_t *svc)
{
	json_t *by = json_object_get(svc, "rejected_by_reason");
	const char *reason;
	const json_t *v;
	bool first = true;

	printf("  %-16s %lld", "rejected", j_int(svc, "rejected"));
	for (void *it = json_object_iter(by); it; it = json_object_iter_next(by, it)) {
		reason = json_object_iter_key(it);
		v = json_object_iter_value(it);
		printf("%s%s %lld", first ? "  (" : ", ", reason, (long long)json_integer_value(v));
		first = false;
	}
	printf("%s\n", first ? "" : ")");
}

/* "1234567 (1.2 MiB)"; small numbers need no translation. */
static void print_count_bytes(const char *label, long long n)
{
	char human[32];

	printf("%s %lld", label, n);
	if (n >= 1024)
		printf(" (%s)", fmt_bytes((uint64_t)n, human, sizeof(human)));
}

static void print_bytes(const json_t *svc)
{
	printf("  %-16s ", "bytes");
	print_count_bytes("in", j_int(svc, "bytes_in"));
	print_count_bytes(", out", j_int(svc, "bytes_out"));
	if (j_int(svc, "bytes_unknown"))
		printf(", %lld connection%s not counted (exec)", j_int(svc, "bytes_unknown"),
		       j_int(svc, "bytes_unknown") == 1 ? "" : "s");
	putchar('\n');
}

/* A service with datagram listeners: what they received, answered and dropped. */
static void print_datagrams(const json_t *svc)
{
	const json_t *d = json_object_get(svc, "datagrams");
	json_t *by;
	bool first = true;

	if (!d)
		return;
	by = json_object_get(d, "dropped_by_reason");
	printf("  %-16s received %lld, answered %lld, unanswered %lld, dropped %lld", "datagrams",
	       j_int(d, "received"), j_int(d, "answered"), j_int(d, "unanswered"),
	       j_int(d, "dropped"));
	for (void *it = json_object_iter(by); it; it = json_object_iter_next(by, it)) {
		printf("%s%s %lld", first ? " (" : ", ", json_object_iter_key(it),
		       (long long)json_integer_value(json_object_iter_value(it)));
		first = false;
	}
	printf("%s, peer errors %lld\n  %-16s ", first ? "" : ")", j_int(d, "peer_errors"),
	       "datagram bytes");
	print_count_bytes("in", j_int(d, "bytes_in"));
	print_count_bytes(", out", j_int(d, "bytes_out"));
	putchar('\n');
}

/* The non-empty stretch of the histogram, one bar per bucket. */
static void print_histogram(const json_t *dur)
{
	const json_t *buckets = json_object_get(dur, "buckets"), *b;
	size_t i, lo = SIZE_MAX, hi = 0;
	long long max = 0;
	char bound[32];

	for (i = 0; i < json_array_size(buckets); i++) {
		b = json_array_get(buckets, i);
		long long n = j_int(b, "count");
		if (n > 0) {
			lo = lo == SIZE_MAX ? i : lo;
			hi = i;
			max = n > max ? n : max;
		}
	}
	if (lo == SIZE_MAX)
		return;
	printf("  histogram\n");
	for (i = lo; i <= hi; i++) {
		b = json_array_get(buckets, i);
		const json_t *le = json_object_get(b, "le_usec");
		long long n = j_int(b, "count");
		int bar = (int)((n * BAR_WIDTH + max - 1) / max);
		if (json_is_integer(le))
			fmt_duration_usec((uint64_t)json_integer_value(le), bound, sizeof(bound));
		else
			snprintf(bound, sizeof(bound), "+Inf");
		printf("    <= %-8s %10lld%s%.*s\n", bound, n, bar ? "  " : "", bar,
		       "########################################");
	}
}

static void print_processes(const json_t *svc, bool colour)
{
	static const char *const headers[] = {"SLOT",   "PID",  "STATE", "ACTIVE",
	                                      "SERVED", "IDLE", NULL};
	const json_t *procs = json_object_get(svc, "processes"), *p;
	struct table *t;
	char idle[32];
	size_t i;

	if (json_array_size(procs) == 0)
		return;
	t = table_new(headers, "rrlrrr");
	if (!t)
		return;
	for (i = 0; i < json_array_size(procs); i++) {
		p = json_array_get(procs, i);
		double s = j_num(p, "idle_sec");
		table_row(t);
		table_cell(t, NULL, "%lld", j_int(p, "slot"));
		table_cell(t, NULL, "%lld", j_int(p, "pid"));
		table_cell(t, NULL, "%s", j_str(p, "state"));
		table_cell(t, NULL, "%lld", j_int(p, "active"));
		table_cell(t, NULL, "%lld", j_int(p, "served"));
		table_cell(t, NULL, "%s", s < 0 ? "-" : fmt_uptime(s, idle, sizeof(idle)));
	}
	printf("  processes\n");
	table_print(t, stdout, colour, 4, 0);
	table_free(t);
}

/* The timeouts in force (the daemon's defaults included): what ends slow clients. */
static void print_limits(const json_t *lim)
{
	char idle[32], dur[32];
	long long i, d;

	if (!lim) /* an older daemon */
		return;
	i = j_int(lim, "idle_timeout_usec");
	d = j_int(lim, "max_duration_usec");
	printf("  %-16s idle_timeout %s, max_duration %s\n", "limits",
	       i > 0 ? fmt_duration_usec((uint64_t)i, idle, sizeof(idle)) : "none",
	       d > 0 ? fmt_duration_usec((uint64_t)d, dur, sizeof(dur)) : "none");
}

static void print_service(const json_t *svc, bool colour)
{
	const json_t *dur = json_object_get(svc, "duration");
	const char *state = j_str(svc, "state");
	char up[32], p50[32], p90[32], p99[32], mean[32];
	long long completed = j_int(svc, "completed");

	printf("%s%s%s (%s, %s%s%s", colour ? COLOUR_BOLD : "", j_str(svc, "name"),
	       colour ? COLOUR_RESET : "", j_str(svc, "model"), colour ? state_colour(state) : "",
	       state, colour ? COLOUR_RESET : "");
	if (j_num(svc, "uptime_sec") > 0)
		printf(", up %s", fmt_uptime(j_num(svc, "uptime_sec"), up, sizeof(up)));
	printf(")\n");
	print_listen(svc);
	printf("  %-16s accepted %lld, completed %lld, active %lld\n", "connections",
	       j_int(svc, "accepted"), completed, j_int(svc, "active"));
	print_rejected(svc);
	print_bytes(svc);
	print_datagrams(svc);
	printf("  %-16s %lld\n", "handler errors", j_int(svc, "handler_errors"));
	printf("  %-16s %lld\n", "timeouts", j_int(svc, "timeouts"));
	print_limits(json_object_get(svc, "limits"));
	printf("  %-16s %lld (busy %lld, idle %lld, starting %lld, stopping %lld)\n", "workers",
	       j_int2(svc, "workers", "total"), j_int2(svc, "workers", "busy"),
	       j_int2(svc, "workers", "idle"), j_int2(svc, "workers", "starting"),
	       j_int2(svc, "workers", "stopping"));
	printf("  %-16s restarts %lld, crashes %lld\n", "supervision", j_int(svc, "restarts"),
	       j_int(svc, "crashes"));
	if (completed > 0)
		printf("  %-16s p50 %s, p90 %s, p99 %s, mean %s\n", "duration",
		       fmt_duration_usec((uint64_t)j_int(dur, "p50_usec"), p50, sizeof(p50)),
		       fmt_duration_usec((uint64_t)j_int(dur, "p90_usec"), p90, sizeof(p90)),
		       fmt_duration_usec((uint64_t)j_int(dur, "p99_usec"), p99, sizeof(p99)),
		       fmt_duration_usec((uint64_t)(j_int(dur, "sum_usec") / completed), mean,
		                         sizeof(mean)));
	else
		printf("  %-16s (no connection completed yet)\n", "duration");
	print_histogram(dur);
	runs_print_stats(svc);
	upstream_print_stats(svc);
	tls_print_stats(svc);
	print_processes(svc, colour);
}

int cmd_stats(struct superctl *sc, const char *service)
{
	json_t *reply;
	const json_t *svc;
	size_t i;
	int r = superctl_call(sc, "stats", service, &reply);

	if (r != SUPERCTL_OK)
		return r;
	if (sc->json) {
		r = superctl_print_json(reply);
		json_decref(reply);
		return r;
	}
	bool colour = colour_wanted(stdout);
	for (i = 0; i < json_array_size(json_object_get(reply, "services")); i++) {
		svc = json_array_get(json_object_get(reply, "services"), i);
		if (i)
			putchar('\n');
		print_service(svc, colour);
	}
	json_decref(reply);
	return SUPERCTL_OK;
}
