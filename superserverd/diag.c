/* The diagnostics list: formatted "FILE:LINE:COL: message" strings kept in order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superserverd/diag.h"

void diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
}

void diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	diag_init(d);
}

static int push(struct diag *d, char *msg)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char **v = realloc(d->msgs, cap * sizeof(*v));
		if (!v)
			return -1;
		d->msgs = v;
		d->cap = cap;
	}
	d->msgs[d->n++] = msg;
	return 0;
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
	char *text, *msg;
	int r;

	if (d->suppress) {
		d->dropped++;
		return;
	}
	if (d->n >= DIAG_MAX_MSGS - 1) {
		d->dropped++;
		if (d->over++ == 0 &&
		    (msg = strdup("more errors follow; only the first ones are shown")) &&
		    push(d, msg) < 0)
			free(msg);
		return;
	}
	r = vasprintf(&text, fmt, ap);
	if (r < 0)
		goto fail;
	if (!pos || !pos->file) {
		msg = text;
		text = NULL;
	} else if (pos->line <= 0) {
		r = asprintf(&msg, "%s: %s", pos->file, text);
	} else {
		r = asprintf(&msg, "%s:%d:%d: %s", pos->file, pos->line, pos->col, text);
	}
	free(text);
	if (r < 0)
		goto fail;
	if (push(d, msg) < 0) {
		free(msg);
		goto fail;
	}
	return;
fail:
	/* Out of memory: the error still counts, so a load cannot pass by accident. */
	d->dropped++;
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
