/*
 * Combining xinetd entries: operators, defaults, and the switches that turn services
 * off. Cumulative attributes (only_from, no_access, log_on_success, log_on_failure,
 * passenv, env) take `+=` and `-=`; in a service, `+=` and `-=` start from the
 * defaults' value, and `=` replaces it. The others take `=` once.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "superctl/xinetd_eval.h"

enum { LIST = 1, NODEL = 2, DEF = 4, DEFONLY = 8 };

#define XI_NAME(e, s) s,
static const char *const names[XA_COUNT] = {XI_ATTRS(XI_NAME)};
#undef XI_NAME

static int attr_flags(enum xi_attr_id a)
{
	switch (a) {
	case XA_ONLY_FROM:
	case XA_NO_ACCESS:
	case XA_LOG_ON_SUCCESS:
	case XA_LOG_ON_FAILURE:
	case XA_PASSENV:
		return LIST | DEF;
	case XA_ENV:
		return LIST | NODEL;
	case XA_ENABLED:
	case XA_DISABLED:
		return LIST | DEF | DEFONLY;
	case XA_LOG_TYPE:
	case XA_BIND:
	case XA_INTERFACE:
	case XA_PER_SOURCE:
	case XA_UMASK:
	case XA_INSTANCES:
	case XA_BANNER:
	case XA_BANNER_SUCCESS:
	case XA_BANNER_FAIL:
	case XA_GROUPS:
	case XA_CPS:
	case XA_MAX_LOAD:
	case XA_V6ONLY:
	case XA_DENY_TIME:
		return DEF;
	default:
		return 0;
	}
}

const char *xi_attr_name(enum xi_attr_id a)
{
	return a < XA_COUNT ? names[a] : "?";
}

/* interface is xinetd's other name for bind: one attribute, which the first of the two
 * sets. Returns the other name's id, or -1. */
static int twin_of(int a)
{
	return a == XA_BIND ? XA_INTERFACE : a == XA_INTERFACE ? XA_BIND : -1;
}

static int find_attr(const char *name)
{
	for (int i = 0; i < XA_COUNT; i++)
		if (strcasecmp(names[i], name) == 0)
			return i;
	return -1;
}

/* Adds the values not there yet (xinetd's lists are sets). */
static int add_values(struct xi_val *v, const struct imp_strv *add)
{
	for (size_t i = 0; i < add->n; i++)
		if (!imp_strv_has(&v->v, add->v[i]) && imp_strv_push(&v->v, add->v[i]) < 0)
			return -1;
	return 0;
}

static void val_clear(struct xi_val *v)
{
	imp_strv_clear(&v->v);
	*v = (struct xi_val){0};
}

/* One attribute line of an entry into vals (touched: which were written in this entry).
 * Returns 0, or -1 for memory. */
static int apply(struct xi_val *vals, bool *touched, const struct xi_val *defaults,
                 const struct xi_entry *e, const struct xi_attr *at, struct imp_report *rep)
{
	int a = find_attr(at->name);
	if (a < 0) {
		imp_report_add(rep, e->file, at->line, IMP_ERROR,
		               "unknown attribute '%s' (xinetd.conf(5) has no such attribute): "
		               "ignored",
		               at->name);
		return 0;
	}
	int fl = attr_flags(a);
	struct xi_val *v = &vals[a];
	if (e->is_defaults && !(fl & DEF)) {
		imp_report_add(rep, e->file, at->line, IMP_ERROR,
		               "'%s' cannot be set in defaults (xinetd.conf(5)): ignored",
		               at->name);
		return 0;
	}
	if (!e->is_defaults && (fl & DEFONLY)) {
		imp_report_add(rep, e->file, at->line, IMP_ERROR,
		               "'%s' belongs in defaults, not in a service: ignored", at->name);
		return 0;
	}
	if (!(fl & LIST)) {
		if (at->op != XI_SET) {
			imp_report_add(
			        rep, e->file, at->line, IMP_ERROR,
			        "'%s' takes only '=' (+= and -= are for only_from, no_access, "
			        "log_on_success, log_on_failure, passenv and env): ignored",
			        at->name);
			return 0;
		}
		int twin = twin_of(a);
		if (twin >= 0 && vals[twin].set) {
			imp_report_add(rep, e->file, at->line, IMP_NOTE,
			               "'%s' is a synonym of '%s', set at line %d: this one is "
			               "ignored (xinetd keeps the first)",
			               at->name, names[twin], vals[twin].line);
			return 0;
		}
		if (v->set) {
			imp_report_add(
			        rep, e->file, at->line, IMP_ERROR,
			        "'%s' is given twice (first at line %d): this one is ignored",
			        at->name, v->line);
			return 0;
		}
		v->set = true;
		v->line = at->line;
		v->file = e->file;
		return imp_strv_copy(&v->v, &at->values);
	}
	if (at->op == XI_DEL && (fl & NODEL)) {
		imp_report_add(rep, e->file, at->line, IMP_ERROR,
		               "'%s' does not take '-=' (xinetd.conf(5)): ignored", at->name);
		return 0;
	}
	bool first = !touched[a];
	touched[a] = true;
	v->line = at->line;
	v->file = e->file;
	if (e->is_defaults) {
		/* In defaults '=' accumulates like '+='. */
		v->set = true;
		if (at->op == XI_DEL) {
			for (size_t i = 0; i < at->values.n; i++)
				imp_strv_remove(&v->v, at->values.v[i]);
			return 0;
		}
		return add_values(v, &at->values);
	}
	/* In a service every '=' starts the list afresh, as xinetd's parsers do: a second
	 * only_from = narrows, never widens. */
	if (first || at->op == XI_SET) {
		imp_strv_clear(&v->v);
		if (first && at->op != XI_SET && defaults && defaults[a].set &&
		    imp_strv_copy(&v->v, &defaults[a].v) < 0)
			return -1;
	}
	v->set = true;
	if (at->op == XI_DEL) {
		for (size_t i = 0; i < at->values.n; i++)
			imp_strv_remove(&v->v, at->values.v[i]);
		return 0;
	}
	return add_values(v, &at->values);
}

/* disable as xinetd's parser takes it: exactly "yes" switches the service off and
 * "no" leaves it on; any other word is a parse error, and xinetd disables a service
 * with one; another number of words is ignored with a warning. */
static void check_disable(struct xi_svc *s, const struct xi_entry *e, struct imp_report *rep)
{
	const struct xi_val *v = &s->a[XA_DISABLE];

	if (!v->set)
		return;
	if (v->v.n != 1) {
		imp_report_add(rep, e->file, v->line, IMP_ERROR,
		               "disable takes one value, yes or no: xinetd ignores this line, the "
		               "service stays enabled");
		return;
	}
	if (strcasecmp(v->v.v[0], "no") == 0)
		return;
	s->off_file = v->file;
	s->off_line = v->line;
	if (strcasecmp(v->v.v[0], "yes") == 0) {
		s->off = "disable = yes";
		return;
	}
	s->off = "xinetd rejects the value of disable";
	s->off_reported = true;
	imp_report_add(rep, e->file, v->line, IMP_ERROR,
	               "service %s: disable = %s: xinetd takes only yes or no (in any case) "
	               "and disables a service whose attribute it cannot parse: not imported; "
	               "write disable = no to import it",
	               s->id, v->v.v[0]);
}

void xi_services_free(struct xi_services *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->s[i].name);
		for (int a = 0; a < XA_COUNT; a++)
			val_clear(&s->s[i].a[a]);
	}
	free(s->s);
	*s = (struct xi_services){0};
}

int xi_eval(const struct xi_conf *conf, struct xi_services *out, struct imp_report *rep)
{
	struct xi_val defaults[XA_COUNT] = {0};
	bool touched[XA_COUNT];
	const struct xi_entry *first_defaults = NULL;
	int ret = 0;

	*out = (struct xi_services){0};
	for (size_t i = 0; i < conf->n && ret == 0; i++) {
		const struct xi_entry *e = &conf->entries[i];
		if (!e->is_defaults)
			continue;
		if (first_defaults)
			imp_report_add(
			        rep, e->file, e->line, IMP_NOTE,
			        "a second defaults entry (the first is at %s:%d): both apply",
			        first_defaults->file, first_defaults->line);
		else
			first_defaults = e;
		memset(touched, 0, sizeof(touched));
		for (size_t j = 0; j < e->n_attrs && ret == 0; j++)
			ret = apply(defaults, touched, NULL, e, &e->attrs[j], rep);
	}
	size_t n_svc = 0;
	for (size_t i = 0; i < conf->n; i++)
		n_svc += !conf->entries[i].is_defaults;
	if (ret == 0 && n_svc && !(out->s = calloc(n_svc, sizeof(*out->s))))
		ret = -1;
	for (size_t i = 0; i < conf->n && ret == 0; i++) {
		const struct xi_entry *e = &conf->entries[i];
		if (e->is_defaults)
			continue;
		struct xi_svc *s = &out->s[out->n++];
		s->file = e->file;
		s->line = e->line;
		if (!(s->name = strdup(e->name))) {
			ret = -1;
			break;
		}
		memset(touched, 0, sizeof(touched));
		for (size_t j = 0; j < e->n_attrs && ret == 0; j++)
			ret = apply(s->a, touched, defaults, e, &e->attrs[j], rep);
		for (int a = 0; a < XA_COUNT && ret == 0; a++) {
			int twin = twin_of(a);
			if (s->a[a].set || !defaults[a].set || (attr_flags(a) & DEFONLY) ||
			    (twin >= 0 && s->a[twin].set))
				continue;
			s->a[a].set = true;
			s->a[a].line = defaults[a].line;
			s->a[a].file = defaults[a].file;
			ret = imp_strv_copy(&s->a[a].v, &defaults[a].v);
		}
		s->id = s->a[XA_ID].set && s->a[XA_ID].v.n == 1 ? s->a[XA_ID].v.v[0] : s->name;
		if (s->a[XA_ID].set && s->a[XA_ID].v.n != 1)
			imp_report_add(rep, e->file, s->a[XA_ID].line, IMP_ERROR,
			               "id takes one word: the service's name '%s' is used",
			               s->name);
		const struct xi_val *fl = &s->a[XA_FLAGS];
		check_disable(s, e, rep);
		if (s->off) {
			/* disable said so */
		} else if (fl->set && imp_strv_has_nocase(&fl->v, "DISABLE")) {
			s->off = "flags DISABLE";
			s->off_file = fl->file;
			s->off_line = fl->line;
		} else if (defaults[XA_DISABLED].set &&
		           imp_strv_has_nocase(&defaults[XA_DISABLED].v, s->id)) {
			s->off = "listed in the defaults' disabled";
			s->off_file = defaults[XA_DISABLED].file;
			s->off_line = defaults[XA_DISABLED].line;
		} else if (defaults[XA_ENABLED].set &&
		           !imp_strv_has_nocase(&defaults[XA_ENABLED].v, s->id)) {
			s->off = "not listed in the defaults' enabled";
			s->off_file = defaults[XA_ENABLED].file;
			s->off_line = defaults[XA_ENABLED].line;
		}
	}
	for (int a = 0; a < XA_COUNT; a++)
		val_clear(&defaults[a]);
	if (ret < 0)
		xi_services_free(out);
	return ret;
}
