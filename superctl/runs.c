/* Runs of wait services in superctl's views (see runs.h). */
#include <stdbool.h>
#include <stdio.h>

#include "superctl/format.h"
#include "superctl/runs.h"

/* "last exit 0", "last killed by signal 15", or "" before any run. */
static void last_run(const json_t *runs, char *buf, size_t len)
{
	const json_t *st = json_object_get(runs, "last_exit_status");
	const json_t *sig = json_object_get(runs, "last_signal");

	if (json_is_integer(st))
		snprintf(buf, len, ", last exit %lld", (long long)json_integer_value(st));
	else if (json_is_integer(sig))
		snprintf(buf, len, ", last killed by signal %lld",
		         (long long)json_integer_value(sig));
	else
		buf[0] = '\0';
}

bool runs_summary(const json_t *svc, char *buf, size_t len)
{
	const json_t *runs = json_object_get(svc, "runs");
	char last[64];

	if (!json_is_object(runs))
		return false;
	last_run(runs, last, sizeof(last));
	snprintf(buf, len,
	         "runs %lld (%lld running; %lld ok, %lld failed, %lld killed, %lld timeouts)%s",
	         j_int(runs, "started"), j_int(runs, "running"), j_int(runs, "exited_ok"),
	         j_int(runs, "exited_error"), j_int(runs, "killed"), j_int(runs, "timeouts"), last);
	return true;
}

size_t runs_print_lines(FILE *f, const json_t *services, size_t max_lines)
{
	char line[256];
	size_t n = 0;

	for (size_t i = 0; i < json_array_size(services); i++)
		n += json_is_object(json_object_get(json_array_get(services, i), "runs"));
	if (!n || (max_lines && n + 1 > max_lines))
		return n ? n + 1 : 0;
	fputc('\n', f);
	for (size_t i = 0; i < json_array_size(services); i++) {
		const json_t *svc = json_array_get(services, i);
		if (runs_summary(svc, line, sizeof(line)))
			fprintf(f, "%s: %s\n", j_str(svc, "name"), line);
	}
	return n + 1;
}

void runs_print_stats(const json_t *svc)
{
	const json_t *runs = json_object_get(svc, "runs");
	char line[256], mean[32];
	long long ended;

	if (!runs_summary(svc, line, sizeof(line)))
		return;
	printf("  %-16s %s\n", "programs", line);
	ended = j_int(runs, "exited_ok") + j_int(runs, "exited_error") + j_int(runs, "killed");
	if (ended > 0)
		printf("  %-16s mean %s\n", "run time",
		       fmt_duration_usec((uint64_t)(j_int(runs, "run_usec_sum") / ended), mean,
		                         sizeof(mean)));
}

void runs_put_metrics(FILE *f, const json_t *services, fmt_family_fn *family, fmt_sample_fn *sample)
{
	static const struct {
		const char *outcome, *field;
	} ends[] = {{"ok", "exited_ok"}, {"error", "exited_error"}, {"killed", "killed"}};
	static const struct {
		const char *name, *type, *field, *help;
	} plain[] = {
	        {"program_runs_started_total", "counter", "started",
	         "Programs started on a socket (model wait)."},
	        {"program_runs_running", "gauge", "running", "Programs running now (model wait)."},
	        {"program_runs_timeouts_total", "counter", "timeouts",
	         "Programs ended by the model's timeout (model wait)."},
	};
	size_t i, k;

	for (k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
		family(f, plain[k].name, plain[k].type, plain[k].help);
		for (i = 0; i < json_array_size(services); i++) {
			const json_t *svc = json_array_get(services, i);
			const json_t *runs = json_object_get(svc, "runs");
			if (!json_is_object(runs))
				continue;
			sample(f, plain[k].name, "", svc, NULL, NULL);
			fprintf(f, "%lld\n", j_int(runs, plain[k].field));
		}
	}
	family(f, "program_runs_ended_total", "counter",
	       "Programs that ended, by how: exit status 0, another status, a signal (model "
	       "wait).");
	for (i = 0; i < json_array_size(services); i++) {
		const json_t *svc = json_array_get(services, i);
		const json_t *runs = json_object_get(svc, "runs");
		if (!json_is_object(runs))
			continue;
		for (k = 0; k < sizeof(ends) / sizeof(ends[0]); k++) {
			sample(f, "program_runs_ended_total", "", svc, "outcome", ends[k].outcome);
			fprintf(f, "%lld\n", j_int(runs, ends[k].field));
		}
	}
	family(f, "program_run_seconds_total", "counter",
	       "Seconds programs ran, summed over the ended runs (model wait).");
	for (i = 0; i < json_array_size(services); i++) {
		const json_t *svc = json_array_get(services, i);
		const json_t *runs = json_object_get(svc, "runs");
		if (!json_is_object(runs))
			continue;
		sample(f, "program_run_seconds_total", "", svc, NULL, NULL);
		fprintf(f, "%.6f\n", (double)j_int(runs, "run_usec_sum") / 1e6);
	}
}
