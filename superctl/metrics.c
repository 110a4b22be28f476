/*
 * superctl metrics: the `stats` answer in the Prometheus text exposition format
 * (version 0.0.4), for node_exporter's textfile collector or any scraper that reads
 * a file. Every family is announced by # HELP and # TYPE before its samples, and
 * every sample carries service="NAME". Counters restart from zero when a service is
 * restarted (a new scoreboard); Prometheus treats that as a counter reset.
 */
#include <stdio.h>
#include <string.h>

#include "superctl/format.h"
#include "superctl/runs.h"
#include "superctl/tls.h"
#include "superctl/upstream.h"
#include "superctl/superctl.h"

#define PREFIX "superserverd_"

/* name{service="...",extra="..."} — extra_name NULL for none. */
static void put_sample_start(FILE *f, const char *name, const char *suffix, const json_t *svc,
                             const char *extra_name, const char *extra_value)
{
	fprintf(f, PREFIX "%s%s{service=\"", name, suffix);
	fmt_label_value(f, j_str(svc, "name"));
	fputc('"', f);
	if (extra_name && extra_value) {
		fprintf(f, ",%s=\"", extra_name);
		fmt_label_value(f, extra_value);
		fputc('"', f);
	}
	fputs("} ", f);
}

/* Seconds from microseconds, exactly (no floating point): "0.0001", "1.5", "1000". */
static const char *seconds(unsigned long long usec, char *buf, size_t len)
{
	char frac[8];
	int n = snprintf(frac, sizeof(frac), "%06llu", usec % 1000000);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	snprintf(buf, len, "%llu%s%s", usec / 1000000, n ? "." : "", frac);
	return buf;
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name, help, name, type);
}

/* Families that are one number per service, straight from a field of the answer. */
static const struct {
	const char *name, *type, *field, *sub, *help;
} simple[] = {
        {"connections_accepted_total", "counter", "accepted", NULL,
         "Connections accepted by the service's processes."},
        {"connections_completed_total", "counter", "completed", NULL,
         "Connections that ended, for any reason."},
        {"connections_active", "gauge", "active", NULL, "Connections open now."},
        {"bytes_received_total", "counter", "bytes_in", NULL, "Bytes received from clients."},
        {"bytes_sent_total", "counter", "bytes_out", NULL, "Bytes sent to clients."},
        {"connections_bytes_unknown_total", "counter", "bytes_unknown", NULL,
         "Connections whose bytes are not counted (exec programs whose counts could not be read)."},
        {"handler_errors_total", "counter", "handler_errors", NULL,
         "Connections ended by a handler error."},
        {"timeouts_total", "counter", "timeouts", NULL,
         "Connections ended by the idle timeout or the maximum duration."},
        {"process_restarts_total", "counter", "restarts", NULL,
         "Service processes restarted after they died."},
        {"process_crashes_total", "counter", "crashes", NULL,
         "Service processes killed by a signal."},
        {"service_uptime_seconds", "gauge", "uptime_sec", NULL,
         "Seconds since the service started (0 unless running)."},
};

static void put_up(FILE *f, const json_t *services)
{
	const json_t *svc;
	size_t i;

	put_family(f, "up", "gauge", "1 if the service is running, 0 otherwise.");
	for (i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		put_sample_start(f, "up", "", svc, NULL, NULL);
		fprintf(f, "%d\n", strcmp(j_str(svc, "state"), "running") == 0);
	}
}

static void put_simple(FILE *f, const json_t *services)
{
	const json_t *svc;
	size_t i;

	for (size_t k = 0; k < sizeof(simple) / sizeof(simple[0]); k++) {
		put_family(f, simple[k].name, simple[k].type, simple[k].help);
		for (i = 0; i < json_array_size(services); i++) {
			svc = json_array_get(services, i);
			put_sample_start(f, simple[k].name, "", svc, NULL, NULL);
			const json_t *v = json_object_get(svc, simple[k].field);
			if (json_is_real(v))
				fprintf(f, "%.3f\n", json_real_value(v));
			else
				fprintf(f, "%lld\n", j_int(svc, simple[k].field));
		}
	}
}

static void put_rejected(FILE *f, const json_t *services)
{
	const json_t *svc, *v;
	const char *reason;
	size_t i;

	put_family(f, "connections_rejected_total", "counter",
	           "Connections turned away, by reason.");
	for (i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		json_t *by = json_object_get(svc, "rejected_by_reason");
		for (void *it = json_object_iter(by); it; it = json_object_iter_next(by, it)) {
			reason = json_object_iter_key(it);
			v = json_object_iter_value(it);
			put_sample_start(f, "connections_rejected_total", "", svc, "reason",
			                 reason);
			fprintf(f, "%lld\n", (long long)json_integer_value(v));
		}
	}
}

/* Services with datagram listeners: packets received, answered, dropped by reason,
 * and their bytes (apart from the connections' bytes_*_total). */
static void put_datagrams(FILE *f, const json_t *services)
{
	static const struct {
		const char *name, *field, *help;
	} counts[] = {
	        {"datagrams_received_total", "received", "Datagrams received."},
	        {"datagrams_answered_total", "answered", "Datagrams answered."},
	        {"datagrams_unanswered_total", "unanswered",
	         "Datagrams the handler had no answer for (discard)."},
	        {"datagram_peer_errors_total", "peer_errors",
	         "ICMP errors reported on the socket about earlier answers."},
	        {"datagram_bytes_received_total", "bytes_in", "Bytes of datagrams received."},
	        {"datagram_bytes_sent_total", "bytes_out", "Bytes of datagram answers sent."},
	};
	const json_t *svc, *d;
	json_t *by;
	size_t i;

	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		put_family(f, counts[k].name, "counter", counts[k].help);
		for (i = 0; i < json_array_size(services); i++) {
			svc = json_array_get(services, i);
			if (!(d = json_object_get(svc, "datagrams")))
				continue;
			put_sample_start(f, counts[k].name, "", svc, NULL, NULL);
			fprintf(f, "%lld\n", j_int(d, counts[k].field));
		}
	}
	put_family(f, "datagrams_dropped_total", "counter",
	           "Datagrams dropped unanswered, by reason.");
	for (i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		by = json_object_get(json_object_get(svc, "datagrams"), "dropped_by_reason");
		for (void *it = json_object_iter(by); it; it = json_object_iter_next(by, it)) {
			put_sample_start(f, "datagrams_dropped_total", "", svc, "reason",
			                 json_object_iter_key(it));
			fprintf(f, "%lld\n",
			        (long long)json_integer_value(json_object_iter_value(it)));
		}
	}
}

static void put_processes(FILE *f, const json_t *services)
{
	static const char *const states[] = {"busy", "idle", "starting", "stopping"};
	const json_t *svc;
	size_t i;

	put_family(f, "processes", "gauge", "Service processes, by state.");
	for (i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
			put_sample_start(f, "processes", "", svc, "state", states[s]);
			fprintf(f, "%lld\n", j_int2(svc, "workers", states[s]));
		}
	}
}

static void put_queues(FILE *f, const json_t *services)
{
	static const struct {
		const char *name, *field, *help;
	} q[] = {
	        {"listen_queue_depth", "depth", "Connections waiting in the listen backlog."},
	        {"listen_queue_limit", "max", "Size of the listen backlog."},
	};
	const json_t *svc, *lq;
	size_t i, j;

	for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
		put_family(f, q[k].name, "gauge", q[k].help);
		for (i = 0; i < json_array_size(services); i++) {
			svc = json_array_get(services, i);
			const json_t *queues = json_object_get(svc, "listen_queue");
			for (j = 0; j < json_array_size(queues); j++) {
				lq = json_array_get(queues, j);
				/* Only TCP listeners report their queue. */
				if (!json_object_get(lq, q[k].field))
					continue;
				put_sample_start(f, q[k].name, "", svc, "address",
				                 j_str(lq, "address"));
				fprintf(f, "%lld\n", j_int(lq, q[k].field));
			}
		}
	}
}

static void put_histogram(FILE *f, const json_t *services)
{
	const char *name = "connection_duration_seconds";
	const json_t *svc, *b;
	char le[32];
	size_t i, j;

	put_family(f, name, "histogram", "How long connections lasted, in seconds.");
	for (i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		const json_t *dur = json_object_get(svc, "duration");
		long long cumulative = 0;
		for (j = 0; j < json_array_size(json_object_get(dur, "buckets")); j++) {
			b = json_array_get(json_object_get(dur, "buckets"), j);
			const json_t *bound = json_object_get(b, "le_usec");
			cumulative += j_int(b, "count");
			put_sample_start(
			        f, name, "_bucket", svc, "le",
			        json_is_integer(bound)
			                ? seconds((unsigned long long)json_integer_value(bound), le,
			                          sizeof(le))
			                : "+Inf");
			fprintf(f, "%lld\n", cumulative);
		}
		put_sample_start(f, name, "_sum", svc, NULL, NULL);
		fprintf(f, "%s\n",
		        seconds((unsigned long long)j_int(dur, "sum_usec"), le, sizeof(le)));
		put_sample_start(f, name, "_count", svc, NULL, NULL);
		fprintf(f, "%lld\n", cumulative);
	}
}

int cmd_metrics(struct superctl *sc)
{
	json_t *reply;
	int r = superctl_call(sc, "stats", NULL, &reply);

	if (r != SUPERCTL_OK)
		return r;
	if (sc->json) {
		r = superctl_print_json(reply);
		json_decref(reply);
		return r;
	}
	const json_t *services = json_object_get(reply, "services");
	put_up(stdout, services);
	put_simple(stdout, services);
	put_rejected(stdout, services);
	put_datagrams(stdout, services);
	put_processes(stdout, services);
	put_queues(stdout, services);
	put_histogram(stdout, services);
	runs_put_metrics(stdout, services, put_family, put_sample_start);
	upstream_put_metrics(stdout, services, put_family, put_sample_start);
	tls_put_metrics(stdout, services, put_family, put_sample_start);
	json_decref(reply);
	return SUPERCTL_OK;
}
