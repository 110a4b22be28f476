/* superctl status and version: one line per service, and who is answering. */
#include <stdio.h>

#include "superctl/format.h"
#include "superctl/runs.h"
#include "superctl/superctl.h"
#include "superctl/table.h"
#include "version.h"

static const char *const status_headers[] = {"SERVICE",  "MODEL",  "STATE",    "LISTEN",
                                             "ACTIVE",   "TOTAL",  "REJECTED", "BUSY/IDLE",
                                             "RESTARTS", "UPTIME", NULL};

/* "127.0.0.1:7007+2": the first address, and how many more. */
static void listen_cell(struct table *t, const json_t *svc)
{
	const json_t *listen = json_object_get(svc, "listen");
	size_t n = json_array_size(listen);
	const char *first = json_string_value(json_array_get(listen, 0));

	if (n > 1)
		table_cell(t, NULL, "%s+%zu", first ? first : "?", n - 1);
	else
		table_cell(t, NULL, "%s", first ? first : "-");
}

int cmd_status(struct superctl *sc)
{
	json_t *reply, *svc;
	char up[32];
	size_t i;
	int r = superctl_call(sc, "status", NULL, &reply);

	if (r != SUPERCTL_OK)
		return r;
	if (sc->json) {
		r = superctl_print_json(reply);
		json_decref(reply);
		return r;
	}
	struct table *t = table_new(status_headers, "llllrrrrrr");
	if (!t) {
		json_decref(reply);
		return SUPERCTL_FAILED;
	}
	for (i = 0; i < json_array_size(json_object_get(reply, "services")); i++) {
		svc = json_array_get(json_object_get(reply, "services"), i);
		const char *state = j_str(svc, "state");
		table_row(t);
		table_cell(t, NULL, "%s", j_str(svc, "name"));
		table_cell(t, NULL, "%s", j_str(svc, "model"));
		table_cell(t, state_colour(state), "%s", state);
		listen_cell(t, svc);
		table_cell(t, NULL, "%lld", j_int(svc, "active"));
		table_cell(t, NULL, "%lld", j_requests(svc));
		table_cell(t, NULL, "%lld", j_turned_away(svc));
		table_cell(t, NULL, "%lld/%lld", j_int2(svc, "workers", "busy"),
		           j_int2(svc, "workers", "idle"));
		table_cell(t, NULL, "%lld", j_int(svc, "restarts"));
		table_cell(t, NULL, "%s",
		           j_num(svc, "uptime_sec") > 0
		                   ? fmt_uptime(j_num(svc, "uptime_sec"), up, sizeof(up))
		                   : "-");
	}
	printf("superserverd %s, pid %lld, up %s, configuration %s (generation %lld)\n\n",
	       j_str(reply, "version"), j_int(reply, "pid"),
	       fmt_uptime(j_num(reply, "uptime_sec"), up, sizeof(up)), j_str(reply, "config"),
	       j_int(reply, "generation"));
	table_print(t, stdout, colour_wanted(stdout), 0, 0);
	table_free(t);
	runs_print_lines(stdout, json_object_get(reply, "services"), 0);
	json_decref(reply);
	return SUPERCTL_OK;
}

int cmd_version(struct superctl *sc)
{
	json_t *reply;
	int r = superctl_call(sc, "version", NULL, &reply);

	if (r != SUPERCTL_OK)
		return r;
	if (sc->json)
		r = superctl_print_json(reply);
	else
		printf("superctl %s\nsuperserverd %s (pid %lld)\n", SUPERSERVERD_VERSION,
		       j_str(reply, "version"), j_int(reply, "pid"));
	json_decref(reply);
	return r;
}
