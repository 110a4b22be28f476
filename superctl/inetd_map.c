/*
 * inetd.conf lines translated into superserverd services: the protocol and host
 * prefix give the listen addresses, wait/nowait and the socket type the model,
 * "internal" a built-in, and the user field the identity.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superctl/imp_map.h"
#include "superctl/inetd_parse.h"

struct job {
	struct imp_ctx *c;
	const char *file;
	const struct inetd_entry *e;
	struct imp_svc *s;
};

static void say(const struct job *j, enum imp_sev sev, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void say(const struct job *j, enum imp_sev sev, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	imp_report_add(j->c->rep, j->file, j->e->line, sev, "service %s: %s", j->s->name, msg);
}

/* "64k" to "64K"; below 1K raised to 1K (superserverd's least). NULL: not a size. */
static const char *buffer_size(const struct job *j, const char *v, char *out, size_t size)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || n < 1 || (*end && (end[1] || !strchr("kKmM", *end))))
		return NULL;
	long bytes = n * (*end == 'k' || *end == 'K' ? 1024 : *end ? 1048576 : 1);
	if (bytes < 1024) {
		say(j, IMP_APPROXIMATED, "a socket buffer of %ld bytes is raised to 1K", bytes);
		return "1K";
	}
	snprintf(out, size, "%ld%s", n, *end == 'k' || *end == 'K' ? "K" : *end ? "M" : "");
	return out;
}

static int map_listen(struct job *j, bool dgram)
{
	const struct inetd_entry *e = j->e;
	const char *p = e->proto;
	bool v4 = true, v6 = true;
	char base[8], comment[160];

	if (strcmp(p, "unix") == 0) {
		char addr[160];
		if (e->service[0] != '/') {
			say(j, IMP_ERROR,
			    "a unix socket's service field is its absolute path: not "
			    "imported");
			return 1;
		}
		snprintf(addr, sizeof(addr), "%s:%s", dgram ? "unixgram" : "unix", e->service);
		return imp_svc_add_listen(j->s, addr, NULL) ? 0 : -1;
	}
	size_t len = strlen(p);
	if (len < 3 || len > 5 || (strncmp(p, "tcp", 3) != 0 && strncmp(p, "udp", 3) != 0) ||
	    (len > 3 && strcmp(p + 3, "4") != 0 && strcmp(p + 3, "6") != 0 &&
	     strcmp(p + 3, "46") != 0)) {
		say(j, IMP_ERROR,
		    "unknown protocol '%s' (tcp, udp, tcp4, udp4, tcp6, udp6, tcp46, "
		    "udp46, unix, rpc/tcp, rpc/udp): not imported",
		    p);
		return 1;
	}
	snprintf(base, sizeof(base), "%.3s", p);
	if ((strcmp(base, "udp") == 0) != dgram) {
		say(j, IMP_ERROR, "protocol %s with socket type %s: not imported", p, e->socktype);
		return 1;
	}
	if (strcmp(p + 3, "4") == 0)
		v6 = false;
	else if (strcmp(p + 3, "6") == 0)
		v4 = false;
	else if (strcmp(p + 3, "46") == 0)
		say(j, IMP_NOTE,
		    "%s (one socket for IPv4 and IPv6) becomes two sockets; the program "
		    "sees IPv4 clients as IPv4 addresses, not ::ffff:a.b.c.d",
		    p);
	int port = imp_service_port(j->c->services, e->service, base);
	if (port < 0) {
		say(j, IMP_ERROR,
		    "'%s' is not a %s service of the services file, nor a port: not "
		    "imported",
		    e->service, base);
		return 1;
	}
	imp_port_comment(j->c->services, port, base, comment, sizeof(comment));

	char *hosts = strdup(e->hosts), *save = NULL;
	if (!hosts)
		return -1;
	int ret = 0;
	for (char *h = strtok_r(hosts, ",", &save); h && ret == 0; h = strtok_r(NULL, ",", &save)) {
		char num[64];
		const char *why;
		const char *list[2] = {NULL, NULL};
		if (strcmp(h, "*") == 0) {
			if (v4)
				list[0] = "0.0.0.0";
			if (v6)
				list[v4 ? 1 : 0] = "::";
		} else if (imp_resolve_host(h, num, sizeof(num), &why) < 0) {
			say(j, IMP_ERROR, "host %s: cannot resolve it (%s): not imported", h, why);
			ret = 1;
			break;
		} else {
			if (strcmp(num, h) != 0)
				say(j, IMP_NOTE, "host %s is %s here: the address is written", h,
				    num);
			if ((strchr(num, ':') && !v6) || (!strchr(num, ':') && !v4)) {
				say(j, IMP_ERROR,
				    "host %s is not an address of protocol %s: not imported", h, p);
				ret = 1;
				break;
			}
			list[0] = num;
		}
		for (int i = 0; i < 2 && list[i] && ret == 0; i++) {
			struct imp_listen *l =
			        imp_add_ip_listen(j->s, dgram, list[i], port, comment);
			char b1[32], b2[32];
			const char *rb = NULL, *sb = NULL;
			if (!l)
				ret = -1;
			else if ((e->rcvbuf && !(rb = buffer_size(j, e->rcvbuf, b1, sizeof(b1)))) ||
			         (e->sndbuf && !(sb = buffer_size(j, e->sndbuf, b2, sizeof(b2))))) {
				say(j, IMP_ERROR,
				    "rcvbuf=/sndbuf= is a size such as 65536, 64k or 1m: "
				    "not imported");
				ret = 1;
			} else if (imp_set_str(&l->receive_buffer, rb) < 0 ||
			           imp_set_str(&l->send_buffer, sb) < 0)
				ret = -1;
		}
	}
	free(hosts);
	return ret;
}

static int map_one(struct imp_ctx *c, const char *file, const struct inetd_entry *e,
                   const char *name, struct imp_set *set)
{
	char cm[600];
	struct imp_svc *s = imp_svc_new(name, file, e->line);
	if (!s)
		return -1;
	struct job j = {.c = c, .file = file, .e = e, .s = s};
	int r = 0;
	bool dgram = strcmp(e->socktype, "dgram") == 0;

	snprintf(cm, sizeof(cm), "from %s:%d (inetd.conf: %s %s %s)", file, e->line, e->service,
	         e->socktype, e->proto);
	if (imp_strv_push(&s->comments, cm) < 0)
		goto oom;
	if (e->off) {
		say(&j, IMP_NOTE, "switched off (#<off>#, update-inetd): not imported");
		goto skip;
	}
	if (strncmp(e->proto, "rpc/", 4) == 0) {
		say(&j, IMP_DROPPED, "%s: superserverd serves no Sun RPC services: not imported",
		    e->proto);
		goto skip;
	}
	if (!dgram && strcmp(e->socktype, "stream") != 0) {
		say(&j,
		    strcmp(e->socktype, "raw") == 0 || strcmp(e->socktype, "seqpacket") == 0
		            ? IMP_DROPPED
		            : IMP_ERROR,
		    "socket type %s: superserverd serves stream and dgram sockets: not imported",
		    e->socktype);
		goto skip;
	}
	if ((r = map_listen(&j, dgram)))
		goto skip;
	if (strcmp(e->server, "internal") == 0) {
		const char *b = e->service;
		char *end;
		long port = strtol(b, &end, 10);
		if (!*end && end != b)
			b = imp_service_name(c->services, (int)port, dgram ? "udp" : "tcp");
		if (!b || !imp_is_builtin(b)) {
			say(&j, IMP_DROPPED,
			    "internal service '%s': superserverd has echo, discard, "
			    "chargen, daytime and time: not imported",
			    e->service);
			goto skip;
		}
		if ((r = imp_map_builtin(c, s, b, dgram, file, e->line)))
			goto skip;
		if (strcmp(e->user, "nobody") != 0)
			say(&j, IMP_NOTE,
			    "user %s: the built-in runs as nobody (it needs no "
			    "privileges)",
			    e->user);
	} else {
		struct imp_strv args = {0};
		for (size_t i = 1; i < e->args.n; i++)
			if (imp_strv_push(&args, e->args.v[i]) < 0) {
				imp_strv_clear(&args);
				goto oom;
			}
		r = imp_map_program(c, s, e->server, e->args.n ? e->args.v[0] : NULL, &args, file,
		                    e->line);
		imp_strv_clear(&args);
		if (r || (r = imp_map_user(c, s, e->user, e->group, file, e->line)))
			goto skip;
		if (e->wait)
			s->mpm = "wait";
		else if (dgram) {
			s->mpm = "wait";
			say(&j, IMP_APPROXIMATED,
			    "nowait on a datagram socket has no equivalent (each datagram would "
			    "start "
			    "a program): the program gets the socket as with wait");
		}
	}
	if (e->max) {
		char rate[32], rc[200];
		if (strcmp(s->mpm, "wait") == 0) {
			say(&j, IMP_DROPPED,
			    ".%ld: a wait service starts one program per socket at a "
			    "time: left out",
			    e->max);
		} else {
			snprintf(rate, sizeof(rate), "%ld/m", e->max);
			snprintf(rc, sizeof(rc),
			         "inetd's .%ld switched the service off for 10 minutes above %ld "
			         "starts a "
			         "minute; here accepting slows down instead",
			         e->max, e->max);
			if (imp_set_str(&s->rate, rate) < 0 ||
			    imp_set_str(&s->rate_comment, rc) < 0)
				goto oom;
			s->burst = e->max;
			say(&j, IMP_APPROXIMATED,
			    ".%ld becomes rate: %ld/m with burst: %ld: above it "
			    "clients wait, the service is never switched off",
			    e->max, e->max, e->max);
		}
	}
	return imp_finish(c, set, s);
skip:
	imp_svc_free(s);
	return r < 0 ? -1 : 0;
oom:
	imp_svc_free(s);
	return -1;
}

/* The service's name in the YAML: the inetd name, with -tcp or -udp when the file has
 * that name on more than one line. */
static void entry_name(const struct inetd_conf *conf, size_t i, char *out, size_t size)
{
	const struct inetd_entry *e = &conf->e[i];
	const char *svc = e->service;
	if (svc[0] == '/') {
		const char *b = strrchr(svc, '/') + 1;
		svc = *b ? b : "unix";
	}
	size_t len = strcspn(svc, "/");
	int same = 0;
	for (size_t k = 0; k < conf->n; k++)
		same += strcmp(conf->e[k].service, e->service) == 0 && !conf->e[k].off;
	if (same > 1)
		snprintf(out, size, "%.*s-%s", (int)len, svc, e->proto);
	else
		snprintf(out, size, "%.*s", (int)len, svc);
	imp_fix_name(out);
}

int inetd_import(struct imp_ctx *c, const char *path, struct imp_set *set)
{
	struct inetd_conf conf;
	int r = inetd_parse_file(path, &conf, c->rep);
	for (size_t i = 0; r == 0 && i < conf.n; i++) {
		char name[80];
		entry_name(&conf, i, name, sizeof(name));
		r = map_one(c, conf.file, &conf.e[i], name, set);
	}
	inetd_conf_free(&conf);
	return r;
}
