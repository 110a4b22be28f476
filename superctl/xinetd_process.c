/*
 * The rest of an xinetd service: logging, the program's process (env, passenv, umask,
 * nice, rlimits), banners, and the attributes with no equivalent, only reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "superctl/xinetd_map_int.h"

int xi_map_logging(struct xi_job *j)
{
	const struct xi_val *lt = xi_val_of(j, XA_LOG_TYPE), *ok = xi_val_of(j, XA_LOG_ON_SUCCESS),
	                    *ko = xi_val_of(j, XA_LOG_ON_FAILURE);
	if (lt && lt->v.n > 0 && strcasecmp(lt->v.v[0], "FILE") == 0)
		xi_say(j, XA_LOG_TYPE, IMP_DROPPED,
		       "log_type FILE: superserverd logs to the journal (or stderr); connection "
		       "records can go to a JSON-lines file (log_connections: json:PATH): left "
		       "out");
	else if (lt && (lt->v.n < 1 || strcasecmp(lt->v.v[0], "SYSLOG") != 0))
		xi_say(j, XA_LOG_TYPE, IMP_ERROR, "log_type is SYSLOG or FILE");
	for (int k = 0; k < 2; k++) {
		const struct xi_val *v = k ? ko : ok;
		for (size_t i = 0; v && i < v->v.n; i++) {
			const char *w = v->v.v[i];
			if (strcasecmp(w, "USERID") == 0)
				xi_say(j, k ? XA_LOG_ON_FAILURE : XA_LOG_ON_SUCCESS, IMP_DROPPED,
				       "%s USERID: superserverd makes no RFC 1413 lookups: left "
				       "out",
				       k ? "log_on_failure" : "log_on_success");
			else if (strcasecmp(w, "PID") && strcasecmp(w, "HOST") &&
			         strcasecmp(w, "EXIT") && strcasecmp(w, "DURATION") &&
			         strcasecmp(w, "TRAFFIC") && strcasecmp(w, "ATTEMPT"))
				xi_say(j, k ? XA_LOG_ON_FAILURE : XA_LOG_ON_SUCCESS, IMP_ERROR,
				       "unknown %s value '%s'",
				       k ? "log_on_failure" : "log_on_success", w);
		}
	}
	if ((ok && ok->v.n) || (ko && ko->v.n))
		j->s->log_connections = "journal";
	else if (ok || ko)
		j->s->log_connections = "off";
	return 0;
}

static bool env_name(const char *s, size_t len)
{
	if (!len || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

int xi_map_process(struct xi_job *j)
{
	struct imp_svc *s = j->s;
	bool exec = s->kind == IMP_EXEC;
	const struct xi_val *env = xi_val_of(j, XA_ENV), *pe = xi_val_of(j, XA_PASSENV);

	for (size_t i = 0; env && i < env->v.n; i++) {
		const char *w = env->v.v[i], *eq = strchr(w, '=');
		char name[128];
		if (!eq || !env_name(w, (size_t)(eq - w)) || (size_t)(eq - w) >= sizeof(name)) {
			xi_say(j, XA_ENV, IMP_ERROR, "env '%s' is not NAME=value: left out", w);
			continue;
		}
		if (!exec) {
			xi_say(j, XA_ENV, IMP_NOTE, "env: a built-in has no environment: left out");
			break;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - w), w);
		if (imp_svc_set_kv(&s->env, &s->n_env, name, eq + 1) < 0)
			return -1;
	}
	for (size_t i = 0; exec && pe && i < pe->v.n; i++) {
		if (!env_name(pe->v.v[i], strlen(pe->v.v[i])))
			xi_say(j, XA_PASSENV, IMP_ERROR, "passenv '%s' is not a variable name",
			       pe->v.v[i]);
		else if (imp_strv_push(&s->pass_env, pe->v.v[i]) < 0)
			return -1;
	}
	if (exec && pe && pe->v.n == 0)
		xi_say(j, XA_PASSENV, IMP_NOTE,
		       "passenv is empty: superserverd passes none of its "
		       "variables anyway");
	const char *um = xi_one(j, XA_UMASK), *ni = xi_one(j, XA_NICE);
	if (um) {
		char *end;
		long m = strtol(um, &end, 8);
		if (!*um || *end || m < 0 || m > 0777)
			xi_say(j, XA_UMASK, IMP_ERROR, "umask is octal 0..777, not '%s'", um);
		else
			s->umask = (int)m;
	}
	if (ni) {
		long v;
		char *end;
		v = strtol(ni, &end, 10);
		if (!*ni || *end || v < -20 || v > 19)
			xi_say(j, XA_NICE, IMP_ERROR, "nice is -20..19, not '%s'", ni);
		else {
			s->nice_set = true;
			s->nice = (int)v;
		}
	}
	static const struct {
		enum xi_attr_id a;
		const char *key; /* NULL: no equivalent */
	} rl[] = {{XA_RLIMIT_AS, "as"},   {XA_RLIMIT_FILES, "nofile"}, {XA_RLIMIT_CPU, "cpu"},
	          {XA_RLIMIT_DATA, NULL}, {XA_RLIMIT_RSS, NULL},       {XA_RLIMIT_STACK, NULL}};
	for (size_t i = 0; i < sizeof(rl) / sizeof(rl[0]); i++) {
		const char *v = xi_one(j, rl[i].a);
		if (!v)
			continue;
		if (!rl[i].key) {
			xi_say(j, rl[i].a, IMP_DROPPED,
			       "%s: superserverd sets nofile, nproc, as, cpu "
			       "and core only: left out (rlimit_as bounds "
			       "memory best)",
			       xi_attr_name(rl[i].a));
			continue;
		}
		char val[32];
		long n;
		size_t len = strlen(v);
		if (strcasecmp(v, "UNLIMITED") == 0) {
			if (rl[i].a == XA_RLIMIT_FILES) {
				xi_say(j, rl[i].a, IMP_ERROR,
				       "rlimit_files UNLIMITED: give a number");
				continue;
			}
			snprintf(val, sizeof(val), "unlimited");
		} else if (rl[i].a == XA_RLIMIT_AS && len > 1 &&
		           (v[len - 1] == 'K' || v[len - 1] == 'M' || v[len - 1] == 'k' ||
		            v[len - 1] == 'm')) {
			char digits[24];
			snprintf(digits, sizeof(digits), "%.*s", (int)(len - 1), v);
			if (!xi_number(digits, 1, 1L << 40, &n)) {
				xi_say(j, rl[i].a, IMP_ERROR, "%s: not a size: '%s'",
				       xi_attr_name(rl[i].a), v);
				continue;
			}
			snprintf(val, sizeof(val), "%ld%c", n,
			         v[len - 1] == 'k' || v[len - 1] == 'K' ? 'K' : 'M');
		} else if (xi_number(v, 1, 1L << 50, &n)) {
			snprintf(val, sizeof(val), "%ld", n);
		} else {
			xi_say(j, rl[i].a, IMP_ERROR, "%s: not a number: '%s'",
			       xi_attr_name(rl[i].a), v);
			continue;
		}
		if (imp_svc_set_kv(&s->rlimits, &s->n_rlimits, rl[i].key, val) < 0)
			return -1;
	}
	return 0;
}

int xi_map_banners(struct xi_job *j)
{
	static const enum xi_attr_id ids[] = {XA_BANNER, XA_BANNER_SUCCESS, XA_BANNER_FAIL};
	char **dst[] = {&j->s->banner, &j->s->banner_success, &j->s->banner_fail};
	for (int i = 0; i < 3; i++) {
		const char *v = xi_one(j, ids[i]);
		if (!v)
			continue;
		const struct xi_val *a = xi_val_of(j, ids[i]);
		if (j->dgram) {
			xi_say(j, ids[i], IMP_NOTE,
			       "%s: a datagram service has no connection to greet: "
			       "left out (as in xinetd)",
			       xi_attr_name(ids[i]));
			continue;
		}
		if (j->wait && j->s->kind == IMP_EXEC) {
			xi_say(j, ids[i], IMP_DROPPED,
			       "%s: with wait = yes the program accepts its "
			       "connections itself: left out",
			       xi_attr_name(ids[i]));
			continue;
		}
		if (imp_check_file(j->c, xi_attr_name(ids[i]), v, a->file, a->line))
			continue;
		if (imp_set_str(dst[i], v) < 0)
			return -1;
	}
	return 0;
}

/* Attributes reported and not translated. */
void xi_map_reported(struct xi_job *j)
{
	static const struct {
		enum xi_attr_id a;
		const char *why;
	} r[] = {
	        {XA_ACCESS_TIMES, "no time-of-day access: left out (a systemd timer that "
	                          "runs superctl stop/start can do it)"},
	        {XA_MAX_LOAD, "no load-average cut-off: left out (max_connections and rate "
	                      "bound the load a service makes)"},
	        {XA_DENY_TIME, "only for SENSOR, which superserverd has not: left out"},
	        {XA_LIBWRAP, "superserverd does not use libwrap (hosts.allow): left out; write "
	                     "the rules as access: allow/deny"},
	        {XA_MDNS, "no mDNS registration: left out"},
	        {XA_RPC_VERSION, "RPC services are not served: left out"},
	        {XA_RPC_NUMBER, "RPC services are not served: left out"},
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		const struct xi_val *v = xi_val_of(j, r[i].a);
		/* Inherited from defaults: reported once per service still, it applied to it. */
		if (v)
			xi_say(j, r[i].a, r[i].a == XA_MDNS ? IMP_NOTE : IMP_DROPPED, "%s: %s",
			       xi_attr_name(r[i].a), r[i].why);
	}
}
