/*
 * Who may connect and how much: only_from and no_access become access lists (with
 * xinetd's precedence of no_access kept), instances, per_source and cps become
 * limits.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "superctl/xinetd_addr.h"
#include "superctl/xinetd_map_int.h"
#include "superserverd/cidr.h"

static int map_access_list(struct xi_job *j, enum xi_attr_id a, struct imp_strv *out,
                           struct imp_strv *comments, size_t *unmapped)
{
	const struct xi_val *v = xi_val_of(j, a);
	for (size_t i = 0; v && i < v->v.n; i++) {
		const char *note;
		size_t before = out->n;
		int r = xi_addr_cidrs(v->v.v[i], out, &note);
		if (r < 0)
			return -1;
		if (r == 1) {
			(*unmapped)++;
			xi_say(j, a, IMP_DROPPED, "%s %s: %s: left out", xi_attr_name(a), v->v.v[i],
			       note);
			continue;
		}
		if (note)
			xi_say(j, a, IMP_NOTE, "%s %s: %s", xi_attr_name(a), v->v.v[i], note);
		for (size_t k = before; k < out->n; k++)
			if (imp_strv_push(comments,
			                  strcmp(out->v[k], v->v.v[i]) == 0 ? "" : v->v.v[i]) < 0)
				return -1;
	}
	return 0;
}

/* xinetd denies a client that any no_access entry matches, whatever only_from says;
 * superserverd lets the longest match win. An allow entry inside a deny entry would
 * admit what xinetd refused: it goes, reported. Returns how many went. */
static size_t drop_allowed_inside_denied(struct xi_job *j)
{
	struct imp_svc *s = j->s;
	size_t dropped = 0;

	for (size_t i = 0; i < s->allow.n;) {
		struct cidr a, d;
		bool inside = false;
		char err[128];

		if (cidr_parse(s->allow.v[i], &a, err, sizeof(err)) == 0)
			for (size_t k = 0; k < s->deny.n && !inside; k++)
				inside = cidr_parse(s->deny.v[k], &d, err, sizeof(err)) == 0 &&
				         d.prefix <= a.prefix &&
				         cidr_contains(&d, a.family, a.addr);
		if (!inside) {
			i++;
			continue;
		}
		xi_say(j, XA_ONLY_FROM, IMP_APPROXIMATED,
		       "only_from %s lies inside a no_access entry, which wins in xinetd: left out "
		       "(superserverd would let the longer match admit it)",
		       s->allow.v[i]);
		imp_strv_remove_at(&s->allow, i);
		imp_strv_remove_at(&s->allow_comments, i);
		dropped++;
	}
	return dropped;
}

int xi_map_access(struct xi_job *j)
{
	const struct xi_val *of = xi_val_of(j, XA_ONLY_FROM), *na = xi_val_of(j, XA_NO_ACCESS);
	size_t lost_allow = 0, lost_deny = 0;
	struct imp_svc *s = j->s;

	if (!of && !na)
		return 0;
	if (j->wait && !j->dgram) {
		xi_say(j, of ? XA_ONLY_FROM : XA_NO_ACCESS, IMP_DROPPED,
		       "only_from/no_access with wait = yes on a stream socket: the program "
		       "accepts "
		       "its connections itself, superserverd never sees a client: left out (use a "
		       "packet filter)");
		return 0;
	}
	s->access_set = true;
	if (map_access_list(j, XA_ONLY_FROM, &s->allow, &s->allow_comments, &lost_allow) < 0 ||
	    map_access_list(j, XA_NO_ACCESS, &s->deny, &s->deny_comments, &lost_deny) < 0)
		return -1;
	lost_allow += drop_allowed_inside_denied(j);
	if (of && s->allow.n == 0) {
		/* An only_from with nothing mappable (or written empty) admits nobody. */
		imp_strv_clear(&s->deny);
		imp_strv_clear(&s->deny_comments);
		if (imp_strv_push(&s->deny, "0.0.0.0/0") < 0 ||
		    imp_strv_push(&s->deny, "::/0") < 0 ||
		    imp_strv_push(&s->deny_comments, "only_from admits nobody") < 0 ||
		    imp_strv_push(&s->deny_comments, "") < 0)
			return -1;
		xi_say(j, XA_ONLY_FROM, lost_allow ? IMP_DROPPED : IMP_NOTE,
		       lost_allow ? "only_from has no address superserverd can match: the service "
		                    "admits nobody until you list addresses"
		                  : "only_from is empty: the service admits nobody, as in xinetd");
	}
	if (j->dgram && s->kind == IMP_EXEC)
		xi_say(j, of ? XA_ONLY_FROM : XA_NO_ACCESS, IMP_NOTE,
		       "the access lists are checked on the datagram that wakes the program; once "
		       "it runs, it reads every datagram itself");
	return 0;
}

int xi_map_limits(struct xi_job *j)
{
	struct imp_svc *s = j->s;
	const char *inst = xi_one(j, XA_INSTANCES), *ps = xi_one(j, XA_PER_SOURCE);
	long n;
	bool stream_wait = j->wait && !j->dgram && s->kind == IMP_EXEC;

	if (inst && strcasecmp(inst, "UNLIMITED") != 0) {
		if (!xi_number(inst, 1, 10000000, &n))
			xi_say(j, XA_INSTANCES, IMP_ERROR,
			       "instances must be a number or UNLIMITED, not "
			       "'%s'",
			       inst);
		else if (s->kind == IMP_EXEC && j->wait)
			xi_say(j, XA_INSTANCES, IMP_NOTE,
			       "instances: under wait one program runs per "
			       "socket at a time; left out");
		else if (j->dgram)
			xi_say(j, XA_INSTANCES, IMP_NOTE,
			       "instances: a datagram built-in has no "
			       "instances (xinetd did not count them either)");
		else {
			s->max_connections = n;
			s->overload_reject = true;
		}
	}
	if (ps && strcasecmp(ps, "UNLIMITED") != 0) {
		if (!xi_number(ps, 1, 1000000, &n))
			xi_say(j, XA_PER_SOURCE, IMP_ERROR,
			       "per_source must be a number or UNLIMITED, "
			       "not '%s'",
			       ps);
		else if (stream_wait || j->dgram)
			xi_say(j, XA_PER_SOURCE, j->dgram ? IMP_NOTE : IMP_DROPPED,
			       "per_source: %s: left out",
			       j->dgram ? "a datagram service has no connections per source"
			                : "with wait = yes the program accepts its connections "
			                  "itself");
		else
			s->per_source = n;
	}
	const struct xi_val *cps = xi_val_of(j, XA_CPS);
	if (cps) {
		long rate, secs = 10;
		if (cps->v.n < 1 || cps->v.n > 2 || !xi_number(cps->v.v[0], 1, 1000000, &rate) ||
		    (cps->v.n == 2 && !xi_number(cps->v.v[1], 0, 1000000, &secs))) {
			xi_say(j, XA_CPS, IMP_ERROR, "cps takes a rate and a number of seconds");
		} else if (stream_wait) {
			xi_say(j, XA_CPS, IMP_DROPPED,
			       "cps with wait = yes: the program accepts its "
			       "connections itself: left out");
		} else {
			char r[32], cm[200];
			snprintf(r, sizeof(r), "%ld/s", rate);
			snprintf(cm, sizeof(cm),
			         "xinetd cps = %ld %ld switched the service off for %ld s above "
			         "%ld/s; here accepting slows down to the rate instead",
			         rate, secs, secs, rate);
			if (imp_set_str(&s->rate, r) < 0 || imp_set_str(&s->rate_comment, cm) < 0)
				return -1;
			s->burst = rate;
			xi_say(j, XA_CPS, IMP_APPROXIMATED,
			       "cps = %ld %ld becomes rate: %ld/s with burst: %ld: above the rate "
			       "clients wait in the backlog, the service is never switched off",
			       rate, secs, rate, rate);
		}
	}
	return 0;
}
