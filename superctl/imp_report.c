/*
 * The importer's report: one formatted line per finding, kept in the order found, and
 * the exit status they add up to.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superctl/imp_report.h"

struct imp_report {
	char **lines;
	enum imp_sev *sev;
	size_t n, cap;
	size_t count[IMP_ERROR + 1];
	int oom; /* a line could not be stored: reported as an error at the end */
};

static const char *const sev_names[] = {"note", "approximated", "dropped", "error"};

struct imp_report *imp_report_new(void)
{
	return calloc(1, sizeof(struct imp_report));
}

void imp_report_free(struct imp_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r->sev);
	free(r);
}

void imp_report_add(struct imp_report *r, const char *file, int line, enum imp_sev sev,
                    const char *fmt, ...)
{
	char msg[1024], where[600];
	va_list ap;

	r->count[sev]++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!file)
		snprintf(where, sizeof(where), "superctl import");
	else if (line > 0)
		snprintf(where, sizeof(where), "%s:%d", file, line);
	else
		snprintf(where, sizeof(where), "%s", file);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		char **l = realloc(r->lines, cap * sizeof(*l));
		if (!l) {
			r->oom = 1;
			return;
		}
		r->lines = l;
		enum imp_sev *s = realloc(r->sev, cap * sizeof(*s));
		if (!s) {
			r->oom = 1;
			return;
		}
		r->sev = s;
		r->cap = cap;
	}
	char *text;
	if (asprintf(&text, "%s: %s: %s", where, sev_names[sev], msg) < 0) {
		r->oom = 1;
		return;
	}
	r->lines[r->n] = text;
	r->sev[r->n++] = sev;
}

int imp_report_status(const struct imp_report *r)
{
	if (r->count[IMP_ERROR] || r->oom)
		return 2;
	if (r->count[IMP_APPROXIMATED] || r->count[IMP_DROPPED])
		return 1;
	return 0;
}

size_t imp_report_count(const struct imp_report *r, enum imp_sev sev)
{
	return r->count[sev];
}

size_t imp_report_size(const struct imp_report *r)
{
	return r->n;
}

const char *imp_report_line(const struct imp_report *r, size_t i)
{
	return i < r->n ? r->lines[i] : NULL;
}

int imp_report_print(const struct imp_report *r, FILE *f)
{
	for (size_t i = 0; i < r->n; i++)
		if (fprintf(f, "%s\n", r->lines[i]) < 0)
			return -1;
	if (r->oom &&
	    fprintf(f, "superctl import: error: out of memory: findings are missing\n") < 0)
		return -1;
	return 0;
}
