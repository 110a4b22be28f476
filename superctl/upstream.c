/* Relayed services' connects in superctl's views (see upstream.h). */
#include <stdint.h>
#include <stdio.h>

#include "superctl/format.h"
#include "superctl/upstream.h"

void upstream_print_stats(const json_t *svc)
{
	const json_t *u = json_object_get(svc, "upstream");
	char mean[32], max[32];
	long long connected;

	if (!json_is_object(u))
		return;
	connected = j_int(u, "connected");
	printf("  %-16s %lld connects: %lld connected, %lld failed, %lld timed out\n", "upstream",
	       j_int(u, "attempts"), connected, j_int(u, "failed"), j_int(u, "timeouts"));
	if (connected > 0)
		printf("  %-16s mean %s, max %s\n", "connect time",
		       fmt_duration_usec((uint64_t)(j_int(u, "connect_usec_sum") / connected), mean,
		                         sizeof(mean)),
		       fmt_duration_usec((uint64_t)j_int(u, "connect_usec_max"), max, sizeof(max)));
}

void upstream_put_metrics(FILE *f, const json_t *services, fmt_family_fn *family,
                          fmt_sample_fn *sample)
{
	static const struct {
		const char *name, *type, *field, *help;
	} plain[] = {
	        {"upstream_connects_total", "counter", "attempts",
	         "Connects towards a relay's target (builtin forward)."},
	        {"upstream_connected_total", "counter", "connected",
	         "Connects towards a relay's target that succeeded."},
	        {"upstream_connect_failures_total", "counter", "failed",
	         "Connects towards a relay's target refused or failed (client closed at once)."},
	        {"upstream_connect_timeouts_total", "counter", "timeouts",
	         "Connects towards a relay's target given up at the connect timeout."},
	        {"upstream_connect_seconds_total", "counter", "connect_usec_sum",
	         "Time spent connecting to a relay's target, over the connects that succeeded."},
	};

	for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
		family(f, plain[k].name, plain[k].type, plain[k].help);
		for (size_t i = 0; i < json_array_size(services); i++) {
			const json_t *svc = json_array_get(services, i);
			const json_t *u = json_object_get(svc, "upstream");
			if (!json_is_object(u))
				continue;
			sample(f, plain[k].name, "", svc, NULL, NULL);
			if (k == 4)
				fprintf(f, "%.6f\n", (double)j_int(u, plain[k].field) / 1e6);
			else
				fprintf(f, "%lld\n", j_int(u, plain[k].field));
		}
	}
}
