/*
 * The importer's report: one formatted line per finding, kept sorted by file and line
 * (in the order found within one line; findings about no file last), and the exit
 * status they add up to.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superctl/imp_report.h"

struct finding {
	char *text; /* as printed */
	char *file; /* NULL: about the command line */
	int line;
};

struct imp_report {
	struct finding *f;
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
	for (size_t i = 0; i < r->n; i++) {
		free(r->f[i].text);
		free(r->f[i].file);
	}
	free(r->f);
	free(r);
}

/* a strictly before b: by file name (none last), then line. */
static bool goes_before(const struct finding *a, const struct finding *b)
{
	if (!a->file || !b->file)
		return a->file && !b->file;
	int c = strcmp(a->file, b->file);
	return c < 0 || (c == 0 && a->line < b->line);
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
		struct finding *f = realloc(r->f, cap * sizeof(*f));
		if (!f) {
			r->oom = 1;
			return;
		}
		r->f = f;
		r->cap = cap;
	}
	struct finding add = {.line = line};
	if (asprintf(&add.text, "%s: %s: %s", where, sev_names[sev], msg) < 0) {
		r->oom = 1;
		return;
	}
	if (file && !(add.file = strdup(file))) {
		free(add.text);
		r->oom = 1;
		return;
	}
	/* After every finding that sorts before it or with it: stable. */
	size_t at = r->n;
	while (at > 0 && goes_before(&add, &r->f[at - 1]))
		at--;
	memmove(&r->f[at + 1], &r->f[at], (r->n - at) * sizeof(*r->f));
	r->f[at] = add;
	r->n++;
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
	return i < r->n ? r->f[i].text : NULL;
}

int imp_report_print(const struct imp_report *r, FILE *f)
{
	for (size_t i = 0; i < r->n; i++)
		if (fprintf(f, "%s\n", r->f[i].text) < 0)
			return -1;
	if (r->oom &&
	    fprintf(f, "superctl import: error: out of memory: findings are missing\n") < 0)
		return -1;
	return 0;
}
