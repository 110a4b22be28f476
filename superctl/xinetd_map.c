/*
 * xinetd to superserverd, attribute by attribute. The socket (socket_type, protocol,
 * wait, type, port, bind, flags) decides the listen addresses and the model; then the
 * program (server, server_args, redirect, or a built-in), the identity, the limits,
 * the access lists, the logging and the process settings follow. Anything without an
 * equivalent is reported at the line it came from.
 */
#include <grp.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "superctl/xinetd_addr.h"
#include "superserverd/cidr.h"
#include "superctl/xinetd_map.h"

struct job {
	struct imp_ctx *c;
	const struct xi_svc *x;
	struct imp_svc *s;
	bool dgram, wait, internal;
};

static const struct xi_val *A(const struct job *j, enum xi_attr_id a)
{
	return j->x->a[a].set ? &j->x->a[a] : NULL;
}

static void say(const struct job *j, enum xi_attr_id a, enum imp_sev sev, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void say(const struct job *j, enum xi_attr_id a, enum imp_sev sev, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	const struct xi_val *v = A(j, a);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	imp_report_add(j->c->rep, v ? v->file : j->x->file, v ? v->line : j->x->line, sev,
	               "service %s: %s", j->s->name, msg);
}

/* The one word of a single-valued attribute, or NULL (reported) when it has another
 * count. */
static const char *one(const struct job *j, enum xi_attr_id a)
{
	const struct xi_val *v = A(j, a);
	if (!v)
		return NULL;
	if (v->v.n == 1)
		return v->v.v[0];
	say(j, a, IMP_ERROR, "%s takes one value (got %zu)", xi_attr_name(a), v->v.n);
	return NULL;
}

static bool has_word(const struct xi_val *v, const char *w)
{
	if (!v)
		return false;
	for (size_t i = 0; i < v->v.n; i++)
		if (strcasecmp(v->v.v[i], w) == 0)
			return true;
	return false;
}

static bool number(const char *s, long min, long max, long *out)
{
	char *end;
	long x = strtol(s, &end, 10);
	if (!*s || *end || x < min || x > max)
		return false;
	*out = x;
	return true;
}

/* type: INTERNAL, UNLISTED; RPC and TCPMUX are not served. 0, or 1 to skip. */
static int map_type(struct job *j)
{
	const struct xi_val *t = A(j, XA_TYPE);
	for (size_t i = 0; t && i < t->v.n; i++) {
		const char *w = t->v.v[i];
		if (strcmp(w, "INTERNAL") == 0)
			j->internal = true;
		else if (strcmp(w, "UNLISTED") == 0)
			continue;
		else if (strcmp(w, "RPC") == 0) {
			say(j, XA_TYPE, IMP_DROPPED,
			    "type RPC: superserverd serves no Sun RPC services (no portmapper "
			    "registration): not imported");
			return 1;
		} else if (strcmp(w, "TCPMUX") == 0 || strcmp(w, "TCPMUXPLUS") == 0) {
			say(j, XA_TYPE, IMP_DROPPED,
			    "type %s: superserverd has no TCPMUX (RFC 1078) dispatcher: not "
			    "imported; "
			    "give the service a port of its own",
			    w);
			return 1;
		} else {
			say(j, XA_TYPE, IMP_ERROR,
			    "unknown type '%s' (INTERNAL, UNLISTED, RPC, "
			    "TCPMUX, TCPMUXPLUS): not imported",
			    w);
			return 1;
		}
	}
	if (j->internal && A(j, XA_SERVER))
		say(j, XA_SERVER, IMP_NOTE, "type INTERNAL: server is not used");
	return 0;
}

/* socket_type, protocol, wait. 0, or 1 to skip. */
static int map_socket(struct job *j)
{
	const char *st = one(j, XA_SOCKET_TYPE), *proto = one(j, XA_PROTOCOL), *w = one(j, XA_WAIT);
	if (!st) {
		if (!A(j, XA_SOCKET_TYPE))
			say(j, XA_SOCKET_TYPE, IMP_ERROR, "socket_type is missing: not imported");
		return 1;
	}
	if (strcmp(st, "raw") == 0 || strcmp(st, "seqpacket") == 0) {
		say(j, XA_SOCKET_TYPE, IMP_DROPPED,
		    "socket_type %s: superserverd serves stream and datagram sockets only: not "
		    "imported",
		    st);
		return 1;
	}
	if (strcmp(st, "stream") != 0 && strcmp(st, "dgram") != 0) {
		say(j, XA_SOCKET_TYPE, IMP_ERROR,
		    "unknown socket_type '%s' (stream, dgram): not "
		    "imported",
		    st);
		return 1;
	}
	j->dgram = st[0] == 'd';
	const char *want = j->dgram ? "udp" : "tcp";
	if (A(j, XA_PROTOCOL) && (!proto || strcmp(proto, want) != 0)) {
		if (proto)
			say(j, XA_PROTOCOL,
			    proto && (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0)
			            ? IMP_ERROR
			            : IMP_DROPPED,
			    "protocol %s with socket_type %s: superserverd serves %s only here: "
			    "not "
			    "imported",
			    proto, st, want);
		return 1;
	}
	if (!w) {
		if (!A(j, XA_WAIT))
			say(j, XA_WAIT, IMP_ERROR, "wait is missing (yes or no): not imported");
		return 1;
	}
	if (strcasecmp(w, "yes") != 0 && strcasecmp(w, "no") != 0) {
		say(j, XA_WAIT, IMP_ERROR, "wait takes yes or no, not '%s': not imported", w);
		return 1;
	}
	j->wait = strcasecmp(w, "yes") == 0;
	return 0;
}

/* flags: what each one becomes. 0, or 1 to skip the service. */
static int map_flags(struct job *j, bool *v4, bool *v6, bool *nodelay, bool *keepalive,
                     bool *nameinargs)
{
	const struct xi_val *f = A(j, XA_FLAGS);
	for (size_t i = 0; f && i < f->v.n; i++) {
		const char *w = f->v.v[i];
		if (strcmp(w, "IPv4") == 0)
			*v4 = true;
		else if (strcmp(w, "IPv6") == 0)
			*v6 = true;
		else if (strcmp(w, "NODELAY") == 0)
			*nodelay = true;
		else if (strcmp(w, "KEEPALIVE") == 0)
			*keepalive = true;
		else if (strcmp(w, "NAMEINARGS") == 0)
			*nameinargs = true;
		else if (strcmp(w, "REUSE") == 0 || strcmp(w, "NOLIBWRAP") == 0 ||
		         strcmp(w, "DISABLE") == 0)
			continue; /* REUSE is always on; no libwrap either way */
		else if (strcmp(w, "SENSOR") == 0) {
			say(j, XA_FLAGS, IMP_DROPPED,
			    "flags SENSOR: superserverd has no sensor that bans the addresses that "
			    "touch a port (use a packet filter, e.g. nftables sets with a "
			    "timeout): "
			    "not imported");
			return 1;
		} else if (strcmp(w, "INTERCEPT") == 0 || strcmp(w, "IDONLY") == 0 ||
		           strcmp(w, "LABELED") == 0) {
			say(j, XA_FLAGS, IMP_DROPPED, "flags %s: no equivalent, left out%s", w,
			    strcmp(w, "IDONLY") == 0 ? " (no RFC 1413 lookups)" : "");
		} else if (strcmp(w, "NORETRY") == 0) {
			say(j, XA_FLAGS, IMP_NOTE,
			    "flags NORETRY: superserverd never retries a "
			    "failed fork for a client; it backs off a failing "
			    "service");
		} else {
			say(j, XA_FLAGS, IMP_ERROR, "unknown flag '%s': left out", w);
		}
	}
	return 0;
}

/* port from the port attribute or the services file; bind; flags: the listen list. */
static int map_listen(struct job *j)
{
	bool v4 = false, v6 = false, nodelay = false, keepalive = false, nia = false;
	const char *proto = j->dgram ? "udp" : "tcp";
	char comment[160];
	int port = -1;

	if (map_flags(j, &v4, &v6, &nodelay, &keepalive, &nia))
		return 1;
	/* xinetd looks the name up with getservbyname, which knows names, not numbers. */
	bool digits = strspn(j->x->name, "0123456789") == strlen(j->x->name);
	int listed = digits ? -1 : imp_service_port(j->c->services, j->x->name, proto);
	bool unlisted = has_word(A(j, XA_TYPE), "UNLISTED");
	const char *ps = one(j, XA_PORT);
	if (A(j, XA_PORT) && !ps)
		return 1;
	if (ps) {
		long p;
		if (!number(ps, 1, 65535, &p)) {
			say(j, XA_PORT, IMP_ERROR, "port must be 1..65535, not '%s': not imported",
			    ps);
			return 1;
		}
		port = (int)p;
	}
	if (unlisted && port < 0) {
		say(j, XA_TYPE, IMP_ERROR,
		    "type UNLISTED without a port: xinetd refuses it (an unlisted service must "
		    "have a port entry): not imported; add port = N");
		return 1;
	}
	if (!unlisted && listed < 0) {
		say(j, XA_PORT, IMP_ERROR,
		    "'%s' is not a %s service of the services file and the service is not "
		    "UNLISTED: xinetd refuses it (service/protocol combination not in "
		    "/etc/services): not imported; add type = UNLISTED%s",
		    j->x->name, proto, ps ? "" : " and a port");
		return 1;
	}
	if (!unlisted && port > 0 && port != listed) {
		say(j, XA_PORT, IMP_ERROR,
		    "port %d is not the port of %s/%s in the services file (%d) and the service "
		    "is not UNLISTED: xinetd refuses it (expects port %d, not %d): not imported; "
		    "write port = %d, or add type = UNLISTED to keep port %d",
		    port, j->x->name, proto, listed, listed, port, listed, port);
		return 1;
	}
	if (port < 0)
		port = listed;
	imp_port_comment(j->c->services, port, proto, comment, sizeof(comment));

	/* xinetd_eval keeps at most one of the two names, the first. */
	enum xi_attr_id bind_attr = A(j, XA_INTERFACE) ? XA_INTERFACE : XA_BIND;
	const char *bind = one(j, bind_attr);
	if (A(j, bind_attr) && !bind)
		return 1;
	const char *hosts[2] = {NULL, NULL};
	char numeric[64];
	if (bind) {
		const char *why;
		if (imp_resolve_host(bind, numeric, sizeof(numeric), &why) < 0) {
			say(j, bind_attr, IMP_ERROR, "%s %s: cannot resolve it (%s): not imported",
			    xi_attr_name(bind_attr), bind, why);
			return 1;
		}
		if (strcmp(numeric, bind) != 0)
			say(j, bind_attr, IMP_NOTE, "%s %s is %s here: the address is written",
			    xi_attr_name(bind_attr), bind, numeric);
		hosts[0] = numeric;
	} else if (v6) {
		const char *v6only = one(j, XA_V6ONLY);
		hosts[0] = "::";
		/* xinetd's IPv6 socket also takes IPv4 clients unless v6only = yes. */
		if (!v6only || strcasecmp(v6only, "yes") != 0)
			hosts[1] = "0.0.0.0";
	}
	for (int i = 0; i < 2; i++) {
		if (i == 1 && !hosts[1])
			break;
		struct imp_listen *l = imp_add_ip_listen(j->s, j->dgram, hosts[i], port, comment);
		if (!l)
			return -1;
		if (!j->dgram) {
			l->nodelay = nodelay;
			l->keepalive = keepalive;
		}
	}
	if (j->dgram && (nodelay || keepalive))
		say(j, XA_FLAGS, IMP_NOTE,
		    "flags NODELAY and KEEPALIVE mean nothing on a "
		    "datagram socket (xinetd ignored them too)");
	return nia ? 2 : 0;
}

/* The program: a built-in, a redirect (the forward built-in) or server + server_args. */
static int map_program(struct job *j, bool nameinargs)
{
	struct imp_ctx *c = j->c;
	if (j->internal) {
		if (!imp_is_builtin(j->x->name)) {
			say(j, XA_TYPE, IMP_DROPPED,
			    "the internal service '%s' is not one superserverd has (echo, discard, "
			    "chargen, daytime, time): not imported",
			    j->x->name);
			return 1;
		}
		int r = imp_map_builtin(c, j->s, j->x->name, j->dgram, j->x->file, j->x->line);
		if (r == 0 && j->wait && !j->dgram)
			say(j, XA_WAIT, IMP_NOTE,
			    "wait = yes on an internal stream service: the "
			    "built-in serves every connection itself");
		return r;
	}
	const struct xi_val *rd = A(j, XA_REDIRECT);
	if (rd) {
		char host[64], target[160];
		const char *why;
		long port;
		if (j->dgram || rd->v.n != 2 || !number(rd->v.v[1], 1, 65535, &port)) {
			say(j, XA_REDIRECT, IMP_ERROR,
			    j->dgram ? "redirect is for stream (tcp) services: not imported"
			             : "redirect takes a host and a port: not imported");
			return 1;
		}
		if (imp_resolve_host(rd->v.v[0], host, sizeof(host), &why) < 0) {
			say(j, XA_REDIRECT, IMP_ERROR,
			    "redirect to %s: cannot resolve it (%s): not "
			    "imported",
			    rd->v.v[0], why);
			return 1;
		}
		snprintf(target, sizeof(target), strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host,
		         port);
		if (strcmp(host, rd->v.v[0]) != 0) {
			char cm[200];
			snprintf(cm, sizeof(cm), "redirect = %s %ld", rd->v.v[0], port);
			if (imp_set_str(&j->s->forward_comment, cm) < 0)
				return -1;
			say(j, XA_REDIRECT, IMP_NOTE,
			    "redirect to %s: resolved once, now, to %s (as xinetd did at its "
			    "start)",
			    rd->v.v[0], host);
		}
		if (A(j, XA_SERVER))
			say(j, XA_SERVER, IMP_NOTE, "redirect takes priority: server is not used");
		j->s->kind = IMP_FORWARD;
		j->s->mpm = "event";
		if (imp_set_str(&j->s->forward_target, target) < 0 ||
		    imp_set_str(&j->s->user, "nobody") < 0)
			return -1;
		if (j->wait)
			say(j, XA_WAIT, IMP_NOTE,
			    "wait = yes with redirect: every connection is "
			    "forwarded by superserverd itself");
		return 0;
	}
	const char *server = one(j, XA_SERVER);
	if (!server) {
		if (!A(j, XA_SERVER))
			say(j, XA_SERVER, IMP_ERROR,
			    "server is missing (and the service is not "
			    "INTERNAL and has no redirect): not imported");
		return 1;
	}
	const struct xi_val *sa = A(j, XA_SERVER_ARGS);
	struct imp_strv args = {0};
	const char *argv0 = NULL;
	size_t from = 0;
	if (nameinargs) {
		if (!sa || sa->v.n == 0) {
			say(j, XA_FLAGS, IMP_ERROR,
			    "flags NAMEINARGS without server_args: not "
			    "imported");
			return 1;
		}
		argv0 = sa->v.v[0];
		from = 1;
	}
	for (size_t i = from; sa && i < sa->v.n; i++)
		if (imp_strv_push(&args, sa->v.v[i]) < 0) {
			imp_strv_clear(&args);
			return -1;
		}
	const struct xi_val *sv = A(j, XA_SERVER);
	int r = imp_map_program(c, j->s, server, argv0, &args, sv->file, sv->line);
	imp_strv_clear(&args);
	if (r)
		return r;
	if (j->wait)
		j->s->mpm = "wait";
	else if (j->dgram) {
		j->s->mpm = "wait";
		say(j, XA_WAIT, IMP_APPROXIMATED,
		    "wait = no on a datagram socket has no equivalent (each datagram would start "
		    "a program): the program gets the socket as with wait = yes");
	}
	return 0;
}

static int map_identity(struct job *j)
{
	const char *user = one(j, XA_USER), *group = one(j, XA_GROUP);
	if (j->s->kind != IMP_EXEC) {
		if (user && strcmp(user, "nobody") != 0)
			say(j, XA_USER, IMP_NOTE,
			    "user %s: %s runs as nobody (it needs no "
			    "privileges)",
			    user, j->s->kind == IMP_BUILTIN ? "the built-in" : "forwarding");
		if (group)
			say(j, XA_GROUP, IMP_NOTE, "group %s: not needed, left out", group);
		return 0;
	}
	if (!user) {
		if (!A(j, XA_USER))
			say(j, XA_USER, IMP_ERROR,
			    "user is missing (xinetd requires it for a "
			    "program): not imported");
		return 1;
	}
	const struct xi_val *u = A(j, XA_USER);
	int r = imp_map_user(j->c, j->s, user, group, u->file, u->line);
	if (r)
		return r;
	const char *groups = one(j, XA_GROUPS);
	if (groups && strcasecmp(groups, "yes") == 0) {
		struct passwd *pw = j->c->other_host ? NULL : getpwnam(user);
		gid_t gl[256];
		int ng = 256;
		j->s->groups_set = true;
		if (!pw || getgrouplist(user, pw->pw_gid, gl, &ng) < 0) {
			say(j, XA_GROUPS, IMP_DROPPED,
			    "groups = yes: the groups of %s %s: groups: is left empty, list them",
			    user,
			    j->c->other_host ? "are not looked up with --other-host"
			                     : "cannot be listed here");
			return 0;
		}
		for (int i = 0; i < ng; i++) {
			struct group *g = getgrgid(gl[i]);
			if (gl[i] == pw->pw_gid || !g)
				continue;
			if (imp_strv_push(&j->s->groups, g->gr_name) < 0)
				return -1;
		}
		say(j, XA_GROUPS, IMP_NOTE,
		    "groups = yes: %s's supplementary groups on this host "
		    "are listed (superserverd adds none by itself)",
		    user);
	} else if (groups && strcasecmp(groups, "no") != 0) {
		say(j, XA_GROUPS, IMP_ERROR, "groups takes yes or no, not '%s'", groups);
	}
	return 0;
}

static int map_access_list(struct job *j, enum xi_attr_id a, struct imp_strv *out,
                           struct imp_strv *comments, size_t *unmapped)
{
	const struct xi_val *v = A(j, a);
	for (size_t i = 0; v && i < v->v.n; i++) {
		const char *note;
		size_t before = out->n;
		int r = xi_addr_cidrs(v->v.v[i], out, &note);
		if (r < 0)
			return -1;
		if (r == 1) {
			(*unmapped)++;
			say(j, a, IMP_DROPPED, "%s %s: %s: left out", xi_attr_name(a), v->v.v[i],
			    note);
			continue;
		}
		if (note)
			say(j, a, IMP_NOTE, "%s %s: %s", xi_attr_name(a), v->v.v[i], note);
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
static size_t drop_allowed_inside_denied(struct job *j)
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
		say(j, XA_ONLY_FROM, IMP_APPROXIMATED,
		    "only_from %s lies inside a no_access entry, which wins in xinetd: left out "
		    "(superserverd would let the longer match admit it)",
		    s->allow.v[i]);
		imp_strv_remove_at(&s->allow, i);
		imp_strv_remove_at(&s->allow_comments, i);
		dropped++;
	}
	return dropped;
}

static int map_access(struct job *j)
{
	const struct xi_val *of = A(j, XA_ONLY_FROM), *na = A(j, XA_NO_ACCESS);
	size_t lost_allow = 0, lost_deny = 0;
	struct imp_svc *s = j->s;

	if (!of && !na)
		return 0;
	if (j->wait && !j->dgram) {
		say(j, of ? XA_ONLY_FROM : XA_NO_ACCESS, IMP_DROPPED,
		    "only_from/no_access with wait = yes on a stream socket: the program accepts "
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
		say(j, XA_ONLY_FROM, lost_allow ? IMP_DROPPED : IMP_NOTE,
		    lost_allow ? "only_from has no address superserverd can match: the service "
		                 "admits nobody until you list addresses"
		               : "only_from is empty: the service admits nobody, as in xinetd");
	}
	if (j->dgram && s->kind == IMP_EXEC)
		say(j, of ? XA_ONLY_FROM : XA_NO_ACCESS, IMP_NOTE,
		    "the access lists are checked on the datagram that wakes the program; once "
		    "it runs, it reads every datagram itself");
	return 0;
}

static int map_limits(struct job *j)
{
	struct imp_svc *s = j->s;
	const char *inst = one(j, XA_INSTANCES), *ps = one(j, XA_PER_SOURCE);
	long n;
	bool stream_wait = j->wait && !j->dgram && s->kind == IMP_EXEC;

	if (inst && strcasecmp(inst, "UNLIMITED") != 0) {
		if (!number(inst, 1, 10000000, &n))
			say(j, XA_INSTANCES, IMP_ERROR,
			    "instances must be a number or UNLIMITED, not "
			    "'%s'",
			    inst);
		else if (s->kind == IMP_EXEC && j->wait)
			say(j, XA_INSTANCES, IMP_NOTE,
			    "instances: under wait one program runs per "
			    "socket at a time; left out");
		else if (j->dgram)
			say(j, XA_INSTANCES, IMP_NOTE,
			    "instances: a datagram built-in has no "
			    "instances (xinetd did not count them either)");
		else {
			s->max_connections = n;
			s->overload_reject = true;
		}
	}
	if (ps && strcasecmp(ps, "UNLIMITED") != 0) {
		if (!number(ps, 1, 1000000, &n))
			say(j, XA_PER_SOURCE, IMP_ERROR,
			    "per_source must be a number or UNLIMITED, "
			    "not '%s'",
			    ps);
		else if (stream_wait || j->dgram)
			say(j, XA_PER_SOURCE, j->dgram ? IMP_NOTE : IMP_DROPPED,
			    "per_source: %s: left out",
			    j->dgram
			            ? "a datagram service has no connections per source"
			            : "with wait = yes the program accepts its connections itself");
		else
			s->per_source = n;
	}
	const struct xi_val *cps = A(j, XA_CPS);
	if (cps) {
		long rate, secs = 10;
		if (cps->v.n < 1 || cps->v.n > 2 || !number(cps->v.v[0], 1, 1000000, &rate) ||
		    (cps->v.n == 2 && !number(cps->v.v[1], 0, 1000000, &secs))) {
			say(j, XA_CPS, IMP_ERROR, "cps takes a rate and a number of seconds");
		} else if (stream_wait) {
			say(j, XA_CPS, IMP_DROPPED,
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
			say(j, XA_CPS, IMP_APPROXIMATED,
			    "cps = %ld %ld becomes rate: %ld/s with burst: %ld: above the rate "
			    "clients wait in the backlog, the service is never switched off",
			    rate, secs, rate, rate);
		}
	}
	return 0;
}

static int map_logging(struct job *j)
{
	const struct xi_val *lt = A(j, XA_LOG_TYPE), *ok = A(j, XA_LOG_ON_SUCCESS),
	                    *ko = A(j, XA_LOG_ON_FAILURE);
	if (lt && lt->v.n > 0 && strcasecmp(lt->v.v[0], "FILE") == 0)
		say(j, XA_LOG_TYPE, IMP_DROPPED,
		    "log_type FILE: superserverd logs to the journal (or stderr); connection "
		    "records can go to a JSON-lines file (log_connections: json:PATH): left out");
	else if (lt && (lt->v.n < 1 || strcasecmp(lt->v.v[0], "SYSLOG") != 0))
		say(j, XA_LOG_TYPE, IMP_ERROR, "log_type is SYSLOG or FILE");
	for (int k = 0; k < 2; k++) {
		const struct xi_val *v = k ? ko : ok;
		for (size_t i = 0; v && i < v->v.n; i++) {
			const char *w = v->v.v[i];
			if (strcmp(w, "USERID") == 0)
				say(j, k ? XA_LOG_ON_FAILURE : XA_LOG_ON_SUCCESS, IMP_DROPPED,
				    "%s USERID: superserverd makes no RFC 1413 lookups: left out",
				    k ? "log_on_failure" : "log_on_success");
			else if (strcmp(w, "PID") && strcmp(w, "HOST") && strcmp(w, "EXIT") &&
			         strcmp(w, "DURATION") && strcmp(w, "TRAFFIC") &&
			         strcmp(w, "ATTEMPT"))
				say(j, k ? XA_LOG_ON_FAILURE : XA_LOG_ON_SUCCESS, IMP_ERROR,
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

static int map_process(struct job *j)
{
	struct imp_svc *s = j->s;
	bool exec = s->kind == IMP_EXEC;
	const struct xi_val *env = A(j, XA_ENV), *pe = A(j, XA_PASSENV);

	for (size_t i = 0; env && i < env->v.n; i++) {
		const char *w = env->v.v[i], *eq = strchr(w, '=');
		char name[128];
		if (!eq || !env_name(w, (size_t)(eq - w)) || (size_t)(eq - w) >= sizeof(name)) {
			say(j, XA_ENV, IMP_ERROR, "env '%s' is not NAME=value: left out", w);
			continue;
		}
		if (!exec) {
			say(j, XA_ENV, IMP_NOTE, "env: a built-in has no environment: left out");
			break;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - w), w);
		if (imp_svc_set_kv(&s->env, &s->n_env, name, eq + 1) < 0)
			return -1;
	}
	for (size_t i = 0; exec && pe && i < pe->v.n; i++) {
		if (!env_name(pe->v.v[i], strlen(pe->v.v[i])))
			say(j, XA_PASSENV, IMP_ERROR, "passenv '%s' is not a variable name",
			    pe->v.v[i]);
		else if (imp_strv_push(&s->pass_env, pe->v.v[i]) < 0)
			return -1;
	}
	if (exec && pe && pe->v.n == 0)
		say(j, XA_PASSENV, IMP_NOTE,
		    "passenv is empty: superserverd passes none of its "
		    "variables anyway");
	const char *um = one(j, XA_UMASK), *ni = one(j, XA_NICE);
	if (um) {
		char *end;
		long m = strtol(um, &end, 8);
		if (!*um || *end || m < 0 || m > 0777)
			say(j, XA_UMASK, IMP_ERROR, "umask is octal 0..777, not '%s'", um);
		else
			s->umask = (int)m;
	}
	if (ni) {
		long v;
		char *end;
		v = strtol(ni, &end, 10);
		if (!*ni || *end || v < -20 || v > 19)
			say(j, XA_NICE, IMP_ERROR, "nice is -20..19, not '%s'", ni);
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
		const char *v = one(j, rl[i].a);
		if (!v)
			continue;
		if (!rl[i].key) {
			say(j, rl[i].a, IMP_DROPPED,
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
				say(j, rl[i].a, IMP_ERROR, "rlimit_files UNLIMITED: give a number");
				continue;
			}
			snprintf(val, sizeof(val), "unlimited");
		} else if (rl[i].a == XA_RLIMIT_AS && len > 1 &&
		           (v[len - 1] == 'K' || v[len - 1] == 'M' || v[len - 1] == 'k' ||
		            v[len - 1] == 'm')) {
			char digits[24];
			snprintf(digits, sizeof(digits), "%.*s", (int)(len - 1), v);
			if (!number(digits, 1, 1L << 40, &n)) {
				say(j, rl[i].a, IMP_ERROR, "%s: not a size: '%s'",
				    xi_attr_name(rl[i].a), v);
				continue;
			}
			snprintf(val, sizeof(val), "%ld%c", n,
			         v[len - 1] == 'k' || v[len - 1] == 'K' ? 'K' : 'M');
		} else if (number(v, 1, 1L << 50, &n)) {
			snprintf(val, sizeof(val), "%ld", n);
		} else {
			say(j, rl[i].a, IMP_ERROR, "%s: not a number: '%s'", xi_attr_name(rl[i].a),
			    v);
			continue;
		}
		if (imp_svc_set_kv(&s->rlimits, &s->n_rlimits, rl[i].key, val) < 0)
			return -1;
	}
	return 0;
}

static int map_banners(struct job *j)
{
	static const enum xi_attr_id ids[] = {XA_BANNER, XA_BANNER_SUCCESS, XA_BANNER_FAIL};
	char **dst[] = {&j->s->banner, &j->s->banner_success, &j->s->banner_fail};
	for (int i = 0; i < 3; i++) {
		const char *v = one(j, ids[i]);
		if (!v)
			continue;
		const struct xi_val *a = A(j, ids[i]);
		if (j->dgram) {
			say(j, ids[i], IMP_NOTE,
			    "%s: a datagram service has no connection to greet: "
			    "left out (as in xinetd)",
			    xi_attr_name(ids[i]));
			continue;
		}
		if (j->wait && j->s->kind == IMP_EXEC) {
			say(j, ids[i], IMP_DROPPED,
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
static void map_reported(struct job *j)
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
		const struct xi_val *v = A(j, r[i].a);
		/* Inherited from defaults: reported once per service still, it applied to it. */
		if (v)
			say(j, r[i].a, r[i].a == XA_MDNS ? IMP_NOTE : IMP_DROPPED, "%s: %s",
			    xi_attr_name(r[i].a), r[i].why);
	}
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
	struct job j = {.c = c, .x = x, .s = s};
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
	if ((r = map_type(&j)) || (r = map_socket(&j)))
		goto skip;
	if ((nia = map_listen(&j)) < 0 || nia == 1) {
		r = nia;
		goto skip;
	}
	if ((r = map_program(&j, nia == 2)) || (r = map_identity(&j)) || (r = map_access(&j)) ||
	    (r = map_limits(&j)) || (r = map_logging(&j)) || (r = map_process(&j)) ||
	    (r = map_banners(&j)))
		goto skip;
	map_reported(&j);
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
