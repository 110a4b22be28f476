/*
 * xinetd to superserverd, one service at a time: the job each part works on, the
 * helpers they share, and the order of the parts (socket and listen addresses, then
 * program and identity, access and limits, logging, process settings and banners).
 * Anything without an equivalent is reported at the line it came from. Also the whole
 * import: parse, evaluate, map.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "superctl/xinetd_map_int.h"

const struct xi_val *xi_val_of(const struct xi_job *j, enum xi_attr_id a)
{
	return j->x->a[a].set ? &j->x->a[a] : NULL;
}

void xi_say(const struct xi_job *j, enum xi_attr_id a, enum imp_sev sev, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	const struct xi_val *v = xi_val_of(j, a);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	imp_report_add(j->c->rep, v ? v->file : j->x->file, v ? v->line : j->x->line, sev,
	               "service %s: %s", j->s->name, msg);
}

/* The one word of a single-valued attribute, or NULL (reported) when it has another
 * count. */
const char *xi_one(const struct xi_job *j, enum xi_attr_id a)
{
	const struct xi_val *v = xi_val_of(j, a);
	if (!v)
		return NULL;
	if (v->v.n == 1)
		return v->v.v[0];
	xi_say(j, a, IMP_ERROR, "%s takes one value (got %zu)", xi_attr_name(a), v->v.n);
	return NULL;
}

bool xi_has_word(const struct xi_val *v, const char *w)
{
	if (!v)
		return false;
	for (size_t i = 0; i < v->v.n; i++)
		if (strcasecmp(v->v.v[i], w) == 0)
			return true;
	return false;
}

bool xi_number(const char *s, long min, long max, long *out)
{
	char *end;
	long x = strtol(s, &end, 10);
	if (!*s || *end || x < min || x > max)
		return false;
	*out = x;
	return true;
}

static int map_one(struct imp_ctx *c, const struct xi_svc *x, struct imp_set *set)
{
	char name[80];
	if (x->off && x->off_reported)
		return 0;
	if (x->off) {
		imp_report_add(c->rep, x->off_file ? x->off_file : x->file,
		               x->off_line ? x->off_line : x->line, IMP_NOTE,
		               "service %s (%s:%d): disabled (%s): not imported", x->id, x->file,
		               x->line, x->off);
		return 0;
	}
	snprintf(name, sizeof(name), "%s", x->id);
	imp_fix_name(name);
	if (strcmp(name, x->id) != 0)
		imp_report_add(
		        c->rep, x->file, x->line, IMP_NOTE,
		        "service %s is named %s (letters, digits, '_', '.', '-', at most 64)",
		        x->id, name);
	struct imp_svc *s = imp_svc_new(name, x->file, x->line);
	if (!s)
		return -1;
	struct xi_job j = {.c = c, .x = x, .s = s};
	int r, nia;
	char cm[600];
	if (strcmp(x->id, x->name) != 0)
		snprintf(cm, sizeof(cm), "from %s:%d (xinetd service %s, id %s)", x->file, x->line,
		         x->name, x->id);
	else
		snprintf(cm, sizeof(cm), "from %s:%d (xinetd service %s)", x->file, x->line,
		         x->name);
	if (imp_strv_push(&s->comments, cm) < 0)
		goto oom;
	if ((r = xi_map_type(&j)) || (r = xi_map_socket(&j)))
		goto skip;
	if ((nia = xi_map_listen(&j)) < 0 || nia == 1) {
		r = nia;
		goto skip;
	}
	if ((r = xi_map_program(&j, nia == 2)) || (r = xi_map_identity(&j)) ||
	    (r = xi_map_access(&j)) || (r = xi_map_limits(&j)) || (r = xi_map_logging(&j)) ||
	    (r = xi_map_process(&j)) || (r = xi_map_banners(&j)))
		goto skip;
	xi_map_reported(&j);
	return imp_finish(c, set, s);
skip:
	imp_svc_free(s);
	return r < 0 ? -1 : 0;
oom:
	imp_svc_free(s);
	return -1;
}

int xi_map(struct imp_ctx *c, const struct xi_services *xs, struct imp_set *set)
{
	for (size_t i = 0; i < xs->n; i++)
		if (map_one(c, &xs->s[i], set) < 0)
			return -1;
	return 0;
}

int xi_import(struct imp_ctx *c, const char *path, struct imp_set *set)
{
	struct xi_conf conf = {0};
	struct xi_services xs = {0};
	int r = xi_parse_file(path, &conf, c->rep);
	if (r == 0)
		r = xi_eval(&conf, &xs, c->rep);
	if (r == 0)
		r = xi_map(c, &xs, set);
	xi_services_free(&xs);
	xi_conf_free(&conf);
	return r;
}
