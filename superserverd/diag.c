/* The diagnostics lists: formatted "FILE:LINE:COL: message" strings kept in order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superserverd/diag.h"
#include "superserverd/log.h"

void diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
}

void diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	for (size_t i = 0; i < d->n_warnings; i++)
		free(d->warnings[i]);
	free(d->warnings);
	diag_init(d);
}

static int push(char ***v_r, size_t *n_r, size_t *cap_r, char *msg)
{
	if (*n_r == *cap_r) {
		size_t cap = *cap_r ? *cap_r * 2 : 8;
		char **v = realloc(*v_r, cap * sizeof(*v));
		if (!v)
			return -1;
		*v_r = v;
		*cap_r = cap;
	}
	(*v_r)[(*n_r)++] = msg;
	return 0;
}

/* "FILE:LINE:COL: KIND" + the message, or NULL without memory. */
static char *__attribute__((format(printf, 3, 0)))
format(const struct diag_pos *pos, const char *kind, const char *fmt, va_list ap)
{
	char *text, *msg;
	int r = vasprintf(&text, fmt, ap);

	if (r < 0)
		return NULL;
	if (!pos || !pos->file)
		r = asprintf(&msg, "%s%s", kind, text);
	else if (pos->line <= 0)
		r = asprintf(&msg, "%s: %s%s", pos->file, kind, text);
	else
		r = asprintf(&msg, "%s:%d:%d: %s%s", pos->file, pos->line, pos->col, kind, text);
	free(text);
	return r < 0 ? NULL : msg;
}

void diag_error(struct diag *d, const struct diag_pos *pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_verror(d, pos, fmt, ap);
	va_end(ap);
}

void diag_verror(struct diag *d, const struct diag_pos *pos, const char *fmt, va_list ap)
{
	char *msg;

	if (d->suppress) {
		d->dropped++;
		return;
	}
	if (d->n >= DIAG_MAX_MSGS - 1) {
		d->dropped++;
		if (d->over++ == 0 &&
		    (msg = strdup("more errors follow; only the first ones are shown")) &&
		    push(&d->msgs, &d->n, &d->cap, msg) < 0)
			free(msg);
		return;
	}
	msg = format(pos, "", fmt, ap);
	if (msg && push(&d->msgs, &d->n, &d->cap, msg) == 0)
		return;
	free(msg);
	/* Out of memory: the error still counts, so a load cannot pass by accident. */
	d->dropped++;
}

void diag_warning(struct diag *d, const struct diag_pos *pos, const char *fmt, ...)
{
	char *msg;
	va_list ap;

	if (d->suppress || d->n_warnings >= DIAG_MAX_MSGS)
		return;
	va_start(ap, fmt);
	msg = format(pos, "warning: ", fmt, ap);
	va_end(ap);
	if (msg && push(&d->warnings, &d->n_warnings, &d->cap_warnings, msg) < 0)
		free(msg);
}

static bool holds(char *const *v, size_t n, const char *msg)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], msg) == 0)
			return true;
	return false;
}

void diag_add_new(struct diag *to, const struct diag *from)
{
	for (size_t i = 0; i < from->n; i++)
		if (!holds(to->msgs, to->n, from->msgs[i]))
			diag_error(to, NULL, "%s", from->msgs[i]);
	to->dropped += from->dropped;
	for (size_t i = 0; i < from->n_warnings; i++) {
		char *w;
		if (holds(to->warnings, to->n_warnings, from->warnings[i]) ||
		    to->n_warnings >= DIAG_MAX_MSGS || !(w = strdup(from->warnings[i])))
			continue;
		if (push(&to->warnings, &to->n_warnings, &to->cap_warnings, w) < 0)
			free(w);
	}
}

size_t diag_count(const struct diag *d)
{
	return d->n - (d->over ? 1 : 0) + d->over;
}

char *diag_join(const struct diag *d)
{
	size_t len = 0, off = 0;
	char *s;

	if (d->n == 0)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		len += strlen(d->msgs[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		size_t l = strlen(d->msgs[i]);
		memcpy(s + off, d->msgs[i], l);
		off += l;
		s[off++] = i + 1 < d->n ? '\n' : '\0';
	}
	return s;
}

void diag_report_warnings(const struct diag *d, FILE *to)
{
	for (size_t i = 0; i < d->n_warnings; i++)
		if (to)
			fprintf(to, "%s\n", d->warnings[i]);
		else
			log_warning(NULL, "%s", d->warnings[i]);
}
