/*
 * The parts of a translation xinetd and inetd share: built-ins, identities, programs,
 * addresses, and the last checks before a service joins the import.
 */
#include <arpa/inet.h>
#include <grp.h>
#include <linux/capability.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "superctl/imp_map.h"

const char *const imp_root_capabilities[] = {
        "CAP_SETUID",           "CAP_SETGID", "CAP_SETPCAP",      "CAP_CHOWN",    "CAP_FOWNER",
        "CAP_NET_BIND_SERVICE", "CAP_KILL",   "CAP_SYS_RESOURCE", "CAP_SYS_NICE", NULL,
};
static const int root_capability_numbers[] = {
        CAP_SETUID,           CAP_SETGID, CAP_SETPCAP,      CAP_CHOWN,    CAP_FOWNER,
        CAP_NET_BIND_SERVICE, CAP_KILL,   CAP_SYS_RESOURCE, CAP_SYS_NICE,
};

static const char *const builtins[] = {"echo", "discard", "chargen", "daytime", "time", NULL};

bool imp_is_builtin(const char *name)
{
	for (size_t i = 0; builtins[i]; i++)
		if (strcmp(builtins[i], name) == 0)
			return true;
	return false;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

int imp_map_builtin(struct imp_ctx *c, struct imp_svc *s, const char *name, bool dgram,
                    const char *file, int line)
{
	if (dgram && strcmp(name, "chargen") == 0) {
		imp_report_add(c->rep, file, line, IMP_DROPPED,
		               "service %s: chargen over UDP is refused by superserverd (any "
		               "datagram, however small, would get up to 512 bytes back: a "
		               "reflection amplifier): not imported",
		               s->name);
		return 1;
	}
	s->kind = IMP_BUILTIN;
	s->mpm = "event";
	if (imp_set_str(&s->builtin, name) < 0 || imp_set_str(&s->user, "nobody") < 0)
		return -1;
	if (dgram && strcmp(name, "time") == 0) {
		s->datagram_reply_max = 4;
		imp_report_add(c->rep, file, line, IMP_NOTE,
		               "service %s: time over UDP answers any datagram, as rdate's empty "
		               "one, with its 4 bytes (limits.datagram_reply_max: 4)",
		               s->name);
	} else if (dgram && strcmp(name, "daytime") == 0) {
		imp_report_add(c->rep, file, line, IMP_APPROXIMATED,
		               "service %s: daytime over UDP answers only datagrams at least as "
		               "long as its answer (26 bytes), so that it cannot amplify; xinetd "
		               "answered any (limits.datagram_reply_max raises the bound)",
		               s->name);
	}
	return 0;
}

static int check_user(struct imp_ctx *c, const char *user, const char *file, int line)
{
	if (c->other_host)
		return 0;
	char *end;
	long uid = strtol(user, &end, 10);
	bool numeric = *user && !*end;
	if (numeric ? getpwuid((uid_t)uid) != NULL : getpwnam(user) != NULL)
		return 0;
	imp_report_add(c->rep, file, line, IMP_ERROR,
	               "user '%s' does not exist on this host (--other-host imports for "
	               "another machine)",
	               user);
	return 1;
}

static int check_group(struct imp_ctx *c, const char *group, const char *file, int line)
{
	if (c->other_host)
		return 0;
	char *end;
	long gid = strtol(group, &end, 10);
	bool numeric = *group && !*end;
	if (numeric ? getgrgid((gid_t)gid) != NULL : getgrnam(group) != NULL)
		return 0;
	imp_report_add(c->rep, file, line, IMP_ERROR,
	               "group '%s' does not exist on this host (--other-host imports for "
	               "another machine)",
	               group);
	return 1;
}

/* in.tftpd's -s (--secure), alone or in a cluster of short options: "-vs" is -v -s,
 * but in "-us" the s is -u's argument. */
static bool tftpd_secure(const struct imp_strv *exec)
{
	for (size_t i = 1; i < exec->n; i++) {
		const char *w = exec->v[i];
		if (strcmp(w, "--secure") == 0)
			return true;
		if (w[0] != '-' || w[1] == '-')
			continue;
		for (const char *o = w + 1; *o && !strchr("aBuUrtTRm", *o); o++)
			if (*o == 's')
				return true;
	}
	return false;
}

/* What `user = root` gave a program beyond the general list: in.tftpd -s chroots
 * into its directory (then drops to its -u user), and without CAP_SYS_CHROOT it
 * answers no request at all. Returns 0 or -1 (memory). */
static int root_program_needs(struct imp_ctx *c, struct imp_svc *s, const char *file, int line)
{
	if (s->kind != IMP_EXEC || s->exec.n == 0 ||
	    strcmp(base_name(s->exec.v[0]), "in.tftpd") != 0 || !tftpd_secure(&s->exec))
		return 0;
	if (!c->other_host && prctl(PR_CAPBSET_READ, CAP_SYS_CHROOT) != 1) {
		imp_report_add(c->rep, file, line, IMP_DROPPED,
		               "service %s: in.tftpd -s chroots and needs CAP_SYS_CHROOT, which "
		               "this process's capability bounding set lacks: left out, so "
		               "in.tftpd will fail until superserverd holds it",
		               s->name);
		return 0;
	}
	if (imp_strv_push(&s->capabilities, "CAP_SYS_CHROOT") < 0)
		return -1;
	imp_report_add(c->rep, file, line, IMP_NOTE,
	               "service %s: in.tftpd -s chroots: CAP_SYS_CHROOT is added to "
	               "capabilities:; superserverd's unit does not hold it: add "
	               "CapabilityBoundingSet=CAP_SYS_CHROOT in a drop-in (systemctl edit "
	               "superserverd)",
	               s->name);
	return 0;
}

int imp_map_user(struct imp_ctx *c, struct imp_svc *s, const char *user, const char *group,
                 const char *file, int line)
{
	if (check_user(c, user, file, line) || (group && check_group(c, group, file, line)))
		return 1;
	if (imp_set_str(&s->user, user) < 0 || imp_set_str(&s->group, group) < 0)
		return -1;
	if (strcmp(user, "root") != 0 && strcmp(user, "0") != 0)
		return 0;
	char list[512] = "";
	s->capabilities_set = true;
	for (size_t i = 0; imp_root_capabilities[i]; i++) {
		/* On this host, only what this process's bounding set still has: a daemon
		 * started here could hold no more. */
		if (!c->other_host && prctl(PR_CAPBSET_READ, root_capability_numbers[i]) != 1)
			continue;
		if (imp_strv_push(&s->capabilities, imp_root_capabilities[i]) < 0)
			return -1;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
		         *list ? ", " : "", imp_root_capabilities[i] + 4);
	}
	if (imp_set_str(&s->capabilities_comment,
	                "root as before, with every capability superserverd can hand on: "
	                "narrow this list") < 0)
		return -1;
	imp_report_add(c->rep, file, line, IMP_APPROXIMATED,
	               "service %s: user root keeps its meaning as far as superserverd can: root "
	               "with every capability the daemon holds (%s), listed in capabilities:; "
	               "others (DAC_OVERRIDE, SYS_CHROOT, ...) need adding here and to the "
	               "unit's CapabilityBoundingSet=. Narrow the list to what the program "
	               "needs (in.tftpd -s: SETUID, SETGID, SYS_CHROOT; most need none: "
	               "then use another user)",
	               s->name, list);
	return root_program_needs(c, s, file, line);
}

int imp_map_program(struct imp_ctx *c, struct imp_svc *s, const char *program, const char *argv0,
                    const struct imp_strv *args, const char *file, int line)
{
	char real[4096];

	if (strcmp(base_name(program), "tcpd") == 0) {
		if (!argv0 || !*argv0) {
			imp_report_add(c->rep, file, line, IMP_ERROR,
			               "service %s: tcpd without the program it wraps", s->name);
			return 1;
		}
		if (argv0[0] == '/')
			snprintf(real, sizeof(real), "%s", argv0);
		else
			snprintf(real, sizeof(real), "/usr/sbin/%s", argv0);
		imp_report_add(c->rep, file, line, IMP_DROPPED,
		               "service %s: the tcpd wrapper is taken off, %s runs directly: "
		               "superserverd does not read /etc/hosts.allow and /etc/hosts.deny; "
		               "write their rules for %s as access: allow/deny",
		               s->name, real, base_name(real));
		program = real;
		argv0 = NULL;
	}
	if (program[0] != '/') {
		imp_report_add(c->rep, file, line, IMP_ERROR,
		               "service %s: the program '%s' is not an absolute path", s->name,
		               program);
		return 1;
	}
	if (argv0 && strcmp(base_name(argv0), base_name(program)) != 0)
		imp_report_add(c->rep, file, line, IMP_APPROXIMATED,
		               "service %s: the program gets its path %s as argv[0], not '%s'",
		               s->name, program, argv0);
	if (!c->other_host) {
		struct stat st;
		if (stat(program, &st) < 0 || !S_ISREG(st.st_mode) || access(program, X_OK) < 0) {
			imp_report_add(c->rep, file, line, IMP_ERROR,
			               "service %s: the program %s is not an executable file on "
			               "this host (--other-host imports for another machine)",
			               s->name, program);
			return 1;
		}
	}
	s->kind = IMP_EXEC;
	imp_strv_clear(&s->exec);
	if (imp_strv_push(&s->exec, program) < 0)
		return -1;
	for (size_t i = 0; args && i < args->n; i++)
		if (imp_strv_push(&s->exec, args->v[i]) < 0)
			return -1;
	return 0;
}

struct imp_listen *imp_add_ip_listen(struct imp_svc *s, bool udp, const char *host, int port,
                                     const char *comment)
{
	char addr[128];
	bool v6 = host && strchr(host, ':');
	snprintf(addr, sizeof(addr), "%s%s%s%s:%d", udp ? "udp:" : "", v6 ? "[" : "",
	         host ? host : "0.0.0.0", v6 ? "]" : "", port);
	return imp_svc_add_listen(s, addr, comment);
}

int imp_service_port(const struct svcnames *s, const char *name, const char *proto)
{
	char *end;
	long port = strtol(name, &end, 10);
	unsigned listed;

	if (*name >= '0' && *name <= '9' && !*end)
		return port >= 1 && port <= 65535 ? (int)port : -1;
	if (s && svcnames_lookup(s, name, proto, &listed) == SVCNAMES_FOUND)
		return (int)listed;
	return -1;
}

const char *imp_service_name(const struct svcnames *s, int port, const char *proto)
{
	return s && port > 0 ? svcnames_name(s, (unsigned)port, proto) : NULL;
}

void imp_port_comment(const struct svcnames *s, int port, const char *proto, char *out, size_t size)
{
	const char *name = imp_service_name(s, port, proto);
	if (name)
		snprintf(out, size, "%s/%s", name, proto);
	else
		snprintf(out, size, "port %d/%s", port, proto);
}

int imp_resolve_host(const char *host, char *out, size_t size, const char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int r = getaddrinfo(host, NULL, &hints, &ai);
	if (r != 0) {
		*why = gai_strerror(r);
		return -1;
	}
	r = getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (r != 0) {
		*why = gai_strerror(r);
		return -1;
	}
	return 0;
}

int imp_check_file(struct imp_ctx *c, const char *what, const char *path, const char *file,
                   int line)
{
	struct stat st;
	if (path[0] != '/') {
		imp_report_add(c->rep, file, line, IMP_ERROR, "%s: '%s' is not an absolute path",
		               what, path);
		return 1;
	}
	if (c->other_host || (stat(path, &st) == 0 && S_ISREG(st.st_mode)))
		return 0;
	imp_report_add(c->rep, file, line, IMP_ERROR,
	               "%s: %s is not a file on this host (--other-host imports for another "
	               "machine)",
	               what, path);
	return 1;
}

void imp_fix_name(char *name)
{
	size_t n = 0;
	for (char *p = name; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			*p = '_';
	if (n > 64)
		name[64] = 0;
}

/* An IP listen address taken apart: "udp:" or "", the host, the port. 0 or -1 (not IP). */
static int split_addr(const char *addr, bool *udp, char *host, size_t hsize, int *port)
{
	*udp = strncmp(addr, "udp:", 4) == 0;
	const char *a = *udp ? addr + 4 : addr;
	if (strncmp(a, "unix", 4) == 0 || strncmp(a, "systemd:", 8) == 0)
		return -1;
	const char *colon = strrchr(a, ':');
	if (!colon)
		return -1;
	const char *h = a, *he = colon;
	if (*h == '[') {
		h++;
		if (he[-1] == ']')
			he--;
	}
	snprintf(host, hsize, "%.*s", (int)(he - h), h);
	*port = atoi(colon + 1);
	return 0;
}

static bool wildcard(const char *host)
{
	return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* Two addresses that cannot both be bound: the same, or one the wildcard of the other's
 * family on the same port. */
static bool clash(const char *a, const char *b)
{
	bool ua, ub;
	char ha[64], hb[64];
	int pa, pb;
	if (strcmp(a, b) == 0)
		return true;
	if (split_addr(a, &ua, ha, sizeof(ha), &pa) < 0 ||
	    split_addr(b, &ub, hb, sizeof(hb), &pb) < 0)
		return false;
	if (ua != ub || pa != pb || (strchr(ha, ':') != NULL) != (strchr(hb, ':') != NULL))
		return false;
	return strcmp(ha, hb) == 0 || wildcard(ha) || wildcard(hb);
}

static int override(struct imp_ctx *c, struct imp_svc *s)
{
	int port = 0;
	size_t len = strlen(s->name);
	for (size_t i = 0; c->ports && i < c->ports->n; i++)
		if (strncmp(c->ports->v[i], s->name, len) == 0 && c->ports->v[i][len] == '=')
			port = atoi(c->ports->v[i] + len + 1);
	if (!port && !c->bind)
		return 0;
	size_t j = 0;
	for (size_t i = 0; i < s->n_listen; i++) {
		struct imp_listen *l = &s->listen[i];
		bool udp;
		char host[64], addr[128];
		int p;
		if (split_addr(l->address, &udp, host, sizeof(host), &p) == 0) {
			const char *h = c->bind ? c->bind : host;
			bool v6 = strchr(h, ':') != NULL;
			snprintf(addr, sizeof(addr), "%s%s%s%s:%d", udp ? "udp:" : "",
			         v6 ? "[" : "", h, v6 ? "]" : "", port ? port : p);
			if (imp_set_str(&l->address, addr) < 0)
				return -1;
		}
		bool dup = false;
		for (size_t k = 0; k < j; k++)
			dup = dup || strcmp(s->listen[k].address, l->address) == 0;
		if (dup) {
			free(l->address);
			free(l->comment);
			free(l->receive_buffer);
			free(l->send_buffer);
		} else {
			s->listen[j++] = *l;
		}
	}
	s->n_listen = j;
	return 0;
}

int imp_finish(struct imp_ctx *c, struct imp_set *set, struct imp_svc *s)
{
	if (override(c, s) < 0) {
		imp_svc_free(s);
		return -1;
	}
	struct imp_svc *old = imp_set_find(set, s->name);
	if (old) {
		imp_report_add(c->rep, s->file, s->line, IMP_ERROR,
		               "service %s is defined twice (first at %s:%d): this one is left out",
		               s->name, old->file, old->line);
		imp_svc_free(s);
		return 0;
	}
	for (size_t i = 0; i < set->n; i++)
		for (size_t a = 0; a < set->svc[i]->n_listen; a++)
			for (size_t b = 0; b < s->n_listen; b++) {
				const char *x = set->svc[i]->listen[a].address;
				if (!clash(x, s->listen[b].address))
					continue;
				imp_report_add(
				        c->rep, s->file, s->line, IMP_ERROR,
				        "service %s: its address %s clashes with %s of service "
				        "%s (%s:%d): this one is left out",
				        s->name, s->listen[b].address, x, set->svc[i]->name,
				        set->svc[i]->file, set->svc[i]->line);
				imp_svc_free(s);
				return 0;
			}
	return imp_set_add(set, s);
}
