/*
 * What an xinetd service runs and as whom: a built-in (type INTERNAL), a redirect
 * (the forward built-in) or server with server_args; then user, group and groups.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "superctl/xinetd_map_int.h"

/* The program: a built-in, a redirect (the forward built-in) or server + server_args. */
int xi_map_program(struct xi_job *j, bool nameinargs)
{
	struct imp_ctx *c = j->c;
	if (j->internal) {
		if (!imp_is_builtin(j->x->name)) {
			xi_say(j, XA_TYPE, IMP_DROPPED,
			       "the internal service '%s' is not one superserverd has (echo, "
			       "discard, "
			       "chargen, daytime, time): not imported",
			       j->x->name);
			return 1;
		}
		int r = imp_map_builtin(c, j->s, j->x->name, j->dgram, j->x->file, j->x->line);
		if (r == 0 && j->wait && !j->dgram)
			xi_say(j, XA_WAIT, IMP_NOTE,
			       "wait = yes on an internal stream service: the "
			       "built-in serves every connection itself");
		return r;
	}
	const struct xi_val *rd = xi_val_of(j, XA_REDIRECT);
	if (rd) {
		char host[64], target[160];
		const char *why;
		long port;
		if (j->dgram || rd->v.n != 2 || !xi_number(rd->v.v[1], 1, 65535, &port)) {
			xi_say(j, XA_REDIRECT, IMP_ERROR,
			       j->dgram ? "redirect is for stream (tcp) services: not imported"
			                : "redirect takes a host and a port: not imported");
			return 1;
		}
		if (imp_resolve_host(rd->v.v[0], host, sizeof(host), &why) < 0) {
			xi_say(j, XA_REDIRECT, IMP_ERROR,
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
			xi_say(j, XA_REDIRECT, IMP_NOTE,
			       "redirect to %s: resolved once, now, to %s (as xinetd did at its "
			       "start)",
			       rd->v.v[0], host);
		}
		if (xi_val_of(j, XA_SERVER))
			xi_say(j, XA_SERVER, IMP_NOTE,
			       "redirect takes priority: server is not used");
		j->s->kind = IMP_FORWARD;
		j->s->mpm = "event";
		if (imp_set_str(&j->s->forward_target, target) < 0 ||
		    imp_set_str(&j->s->user, "nobody") < 0)
			return -1;
		if (j->wait)
			xi_say(j, XA_WAIT, IMP_NOTE,
			       "wait = yes with redirect: every connection is "
			       "forwarded by superserverd itself");
		return 0;
	}
	const char *server = xi_one(j, XA_SERVER);
	if (!server) {
		if (!xi_val_of(j, XA_SERVER))
			xi_say(j, XA_SERVER, IMP_ERROR,
			       "server is missing (and the service is not "
			       "INTERNAL and has no redirect): not imported");
		return 1;
	}
	const struct xi_val *sa = xi_val_of(j, XA_SERVER_ARGS);
	struct imp_strv args = {0};
	const char *argv0 = NULL;
	size_t from = 0;
	if (nameinargs) {
		if (!sa || sa->v.n == 0) {
			xi_say(j, XA_FLAGS, IMP_ERROR,
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
	const struct xi_val *sv = xi_val_of(j, XA_SERVER);
	int r = imp_map_program(c, j->s, server, argv0, &args, sv->file, sv->line);
	imp_strv_clear(&args);
	if (r)
		return r;
	if (j->wait)
		j->s->mpm = "wait";
	else if (j->dgram) {
		j->s->mpm = "wait";
		xi_say(j, XA_WAIT, IMP_APPROXIMATED,
		       "wait = no on a datagram socket has no equivalent (each datagram would "
		       "start "
		       "a program): the program gets the socket as with wait = yes");
	}
	return 0;
}

int xi_map_identity(struct xi_job *j)
{
	const char *user = xi_one(j, XA_USER), *group = xi_one(j, XA_GROUP);
	if (j->s->kind != IMP_EXEC) {
		if (user && strcmp(user, "nobody") != 0)
			xi_say(j, XA_USER, IMP_NOTE,
			       "user %s: %s runs as nobody (it needs no "
			       "privileges)",
			       user, j->s->kind == IMP_BUILTIN ? "the built-in" : "forwarding");
		if (group)
			xi_say(j, XA_GROUP, IMP_NOTE, "group %s: not needed, left out", group);
		return 0;
	}
	if (!user) {
		if (!xi_val_of(j, XA_USER))
			xi_say(j, XA_USER, IMP_ERROR,
			       "user is missing (xinetd requires it for a "
			       "program): not imported");
		return 1;
	}
	const struct xi_val *u = xi_val_of(j, XA_USER);
	int r = imp_map_user(j->c, j->s, user, group, u->file, u->line);
	if (r)
		return r;
	const char *groups = xi_one(j, XA_GROUPS);
	if (groups && strcasecmp(groups, "yes") == 0) {
		struct passwd *pw = j->c->other_host ? NULL : getpwnam(user);
		gid_t gl[256];
		int ng = 256;
		j->s->groups_set = true;
		if (!pw || getgrouplist(user, pw->pw_gid, gl, &ng) < 0) {
			xi_say(j, XA_GROUPS, IMP_DROPPED,
			       "groups = yes: the groups of %s %s: groups: is left empty, list "
			       "them",
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
		xi_say(j, XA_GROUPS, IMP_NOTE,
		       "groups = yes: %s's supplementary groups on this host "
		       "are listed (superserverd adds none by itself)",
		       user);
	} else if (groups && strcasecmp(groups, "no") != 0) {
		xi_say(j, XA_GROUPS, IMP_ERROR, "groups takes yes or no, not '%s'", groups);
	}
	return 0;
}
