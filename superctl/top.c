/*
 * superctl top: the status every second, busiest services first. Connection rates
 * come from the difference of `accepted` between two consecutive samples; the first
 * frame has no rate yet. On a terminal each frame overwrites the last (home, then
 * every line cleared to its end) on the alternate screen; otherwise frames follow
 * each other, for scripts (--iterations).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "superctl/format.h"
#include "superctl/runs.h"
#include "superctl/superctl.h"
#include "superctl/table.h"
#include "superctl/term.h"

#define INTERVAL_MS    1000
#define TOP_TIMEOUT_MS 2000

struct row {
	const char *name, *model, *state; /* point into the sample's JSON */
	long long active, accepted, busy, idle, procs, rejected, restarts;
	double rate; /* < 0: not known yet */
};

struct sample {
	json_t *reply; /* NULL: the daemon did not answer */
	long long at_ms;
	struct row *rows;
	size_t n;
	char error[256];
};

static void sample_free(struct sample *s)
{
	json_decref(s->reply);
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

static const struct row *find_row(const struct sample *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->rows[i].name, name) == 0)
			return &s->rows[i];
	return NULL;
}

static int by_activity(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->active != y->active)
		return x->active > y->active ? -1 : 1;
	if (x->rate != y->rate)
		return x->rate > y->rate ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Fills s from a status answer; rates against prev (which may be empty). */
static int sample_take(struct sample *s, json_t *reply, const struct sample *prev)
{
	const json_t *services = json_object_get(reply, "services"), *svc;
	size_t i;

	s->reply = reply;
	s->at_ms = client_now_ms();
	s->rows = calloc(json_array_size(services) + 1, sizeof(*s->rows));
	if (!s->rows)
		return -1;
	for (i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		struct row *r = &s->rows[s->n++];
		r->name = j_str(svc, "name");
		r->model = j_str(svc, "model");
		r->state = j_str(svc, "state");
		r->active = j_int(svc, "active");
		r->accepted = j_requests(svc);
		r->busy = j_int2(svc, "workers", "busy");
		r->idle = j_int2(svc, "workers", "idle");
		r->procs = j_int2(svc, "workers", "total");
		r->rejected = j_turned_away(svc);
		r->restarts = j_int(svc, "restarts");
		r->rate = -1;
		const struct row *p = prev->reply ? find_row(prev, r->name) : NULL;
		double dt = (double)(s->at_ms - prev->at_ms) / 1000.0;
		/* A restarted service starts counting from zero again. */
		if (p && dt > 0)
			r->rate = r->accepted >= p->accepted
			                  ? (double)(r->accepted - p->accepted) / dt
			                  : 0.0;
	}
	qsort(s->rows, s->n, sizeof(*s->rows), by_activity);
	return 0;
}

static const char *const top_headers[] = {"SERVICE",  "MODEL",    "STATE",     "ACTIVE",
                                          "CONN/S",   "TOTAL",    "BUSY/IDLE", "PROCS",
                                          "REJECTED", "RESTARTS", NULL};

/* One frame into f; rows/cols of the terminal, 0 when not one. */
static void render(FILE *f, const struct sample *s, bool colour, int rows, int cols)
{
	char up[32], clock[16];
	time_t now = time(NULL);
	struct tm tm;
	double total_rate = 0;
	long long total_active = 0;
	bool rates = false;

	strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&now, &tm));
	if (!s->reply) {
		fprintf(f, "superctl top  %s  (q quits)\n\n%s\n", clock, s->error);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		total_active += s->rows[i].active;
		if (s->rows[i].rate >= 0) {
			total_rate += s->rows[i].rate;
			rates = true;
		}
	}
	char rate[32] = "-";
	if (rates)
		snprintf(rate, sizeof(rate), "%.1f", total_rate);
	fprintf(f,
	        "superserverd %s  pid %lld  up %s  %zu service%s  active %lld  conn/s %s  %s  "
	        "(q quits)\n\n",
	        j_str(s->reply, "version"), j_int(s->reply, "pid"),
	        fmt_uptime(j_num(s->reply, "uptime_sec"), up, sizeof(up)), s->n,
	        s->n == 1 ? "" : "s", total_active, rate, clock);

	struct table *t = table_new(top_headers, "lllrrrrrrr");
	if (!t)
		return;
	/* Two header lines and the table's own header; the rest of the window is rows. */
	size_t max_rows = rows > 4 ? (size_t)(rows - 4) : s->n;
	for (size_t i = 0; i < s->n && i < max_rows; i++) {
		const struct row *r = &s->rows[i];
		table_row(t);
		table_cell(t, NULL, "%s", r->name);
		table_cell(t, NULL, "%s", r->model);
		table_cell(t, state_colour(r->state), "%s", r->state);
		table_cell(t, NULL, "%lld", r->active);
		if (r->rate < 0)
			table_cell(t, NULL, "-");
		else
			table_cell(t, NULL, "%.1f", r->rate);
		table_cell(t, NULL, "%lld", r->accepted);
		table_cell(t, NULL, "%lld/%lld", r->busy, r->idle);
		table_cell(t, NULL, "%lld", r->procs);
		table_cell(t, NULL, "%lld", r->rejected);
		table_cell(t, NULL, "%lld", r->restarts);
	}
	table_print(t, f, colour, 0, cols);
	table_free(t);
	if (s->n > max_rows)
		fprintf(f, "... %zu more (a taller window shows them)\n", s->n - max_rows);
	else if (rows <= 4 || (size_t)rows - 4 > s->n) /* room left: it must never scroll */
		runs_print_lines(f, json_object_get(s->reply, "services"),
		                 rows > 4 ? (size_t)rows - 4 - s->n : 0);
}

/* --json: the status answer, one line per frame, each service with its rate. */
static void show_json(const struct sample *s)
{
	json_t *services = json_object_get(s->reply, "services");

	if (!s->reply) {
		printf("{\"ok\":false,\"error\":\"%s\"}\n", "the daemon is not reachable");
		fflush(stdout);
		return;
	}
	for (size_t i = 0; i < json_array_size(services); i++) {
		json_t *svc = json_array_get(services, i);
		const struct row *r = find_row(s, j_str(svc, "name"));
		json_object_set_new(svc, "conn_per_sec",
		                    r && r->rate >= 0 ? json_real(r->rate) : json_null());
	}
	if (json_dumpf(s->reply, stdout, JSON_COMPACT | SUPERCTL_REAL_PRECISION) == 0)
		fputc('\n', stdout);
	fflush(stdout);
}

/* Writes a frame: over the previous one on a terminal, after it otherwise. */
static void show(struct term *term, const struct sample *s)
{
	int rows, cols;
	char *text = NULL;
	size_t len = 0;
	FILE *m;

	term_size(&rows, &cols);
	m = open_memstream(&text, &len);
	if (!m)
		return;
	render(m, s, term->out_tty && colour_wanted(stdout), rows, cols);
	fclose(m);
	if (!term->out_tty) {
		fputs(text, stdout);
		fputc('\n', stdout);
	} else {
		/* Home, each line cleared to its end, then the rest of the screen: no flash
		 * of an empty screen between frames. Lines are cut at the window's width
		 * (table lines already are) and the last one gets no newline, so that the
		 * window never scrolls. */
		fputs("\033[H", stdout);
		for (char *line = text, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl)
				break;
			int n = (int)(nl - line);
			if (cols > 0 && n > cols && !memchr(line, '\033', (size_t)n))
				n = cols;
			fwrite(line, 1, (size_t)n, stdout);
			fputs(nl[1] ? "\033[K\n" : "\033[K", stdout);
		}
		fputs("\033[J", stdout);
	}
	fflush(stdout);
	free(text);
}

int cmd_top(struct superctl *sc)
{
	struct sample prev = {0}, cur = {0};
	struct term term;
	json_t *reply;
	long frames = 0;
	int r;

	/* The first sample decides whether there is anything to watch at all. */
	r = superctl_call(sc, "status", NULL, &reply);
	if (r != SUPERCTL_OK)
		return r;
	if (sample_take(&cur, reply, &prev) < 0) {
		sample_free(&cur);
		return SUPERCTL_FAILED;
	}
	/* From here on a slow answer must not keep 'q' waiting long. */
	if (sc->client.timeout_ms > TOP_TIMEOUT_MS)
		sc->client.timeout_ms = TOP_TIMEOUT_MS;
	r = term_open(&term, !sc->json);
	if (r < 0) {
		term_close(&term);
		sample_free(&cur);
		fprintf(stderr, "superctl: cannot set up the terminal: %s\n", strerror(-r));
		return SUPERCTL_FAILED;
	}
	for (;;) {
		if (sc->json)
			show_json(&cur);
		else
			show(&term, &cur);
		if (sc->iterations && ++frames >= sc->iterations)
			break;
		long long next = cur.at_ms + INTERVAL_MS;
		enum term_event ev = TERM_REDRAW;
		while (ev == TERM_REDRAW) {
			long long left = next - client_now_ms();
			ev = term_wait(&term, left > 0 ? (int)left : 0);
			if (ev == TERM_REDRAW && !sc->json)
				show(&term, &cur);
		}
		if (ev == TERM_QUIT)
			break;
		/* Keep watching through a daemon restart: say so, and try again. */
		reply = NULL;
		int cr = client_call(&sc->client, "status", NULL, &reply);
		if (cur.reply) {
			sample_free(&prev);
			prev = cur;
		} else {
			sample_free(&cur);
		}
		memset(&cur, 0, sizeof(cur));
		if (cr == 0 && json_is_true(json_object_get(reply, "ok"))) {
			if (sample_take(&cur, reply, &prev) < 0)
				break;
		} else {
			cur.at_ms = client_now_ms();
			snprintf(cur.error, sizeof(cur.error), "superserverd at %s: %s",
			         sc->client.path,
			         cr == -ETIMEDOUT ? "no answer in time, asking again"
			         : cr < 0         ? "not reachable, trying again every second"
			                          : j_str(reply, "error"));
			json_decref(reply);
		}
	}
	term_close(&term);
	sample_free(&prev);
	sample_free(&cur);
	return SUPERCTL_OK;
}
