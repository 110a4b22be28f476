/* The inetd.conf parser: lines into fields, with their line numbers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superctl/imp_input.h"
#include "superctl/inetd_parse.h"

void inetd_entry_free(struct inetd_entry *e)
{
	free(e->hosts);
	free(e->service);
	free(e->socktype);
	free(e->proto);
	free(e->sndbuf);
	free(e->rcvbuf);
	free(e->user);
	free(e->group);
	free(e->server);
	imp_strv_clear(&e->args);
	*e = (struct inetd_entry){0};
}

void inetd_conf_free(struct inetd_conf *conf)
{
	for (size_t i = 0; i < conf->n; i++)
		inetd_entry_free(&conf->e[i]);
	free(conf->e);
	free(conf->file);
	*conf = (struct inetd_conf){0};
}

static int dup_n(char **dst, const char *s, size_t n)
{
	*dst = strndup(s, n);
	return *dst ? 0 : -1;
}

/* The host of "HOST:" or "HOST:service" (from s up to end), without the brackets an
 * IPv6 address is written in. */
static int dup_host(char **dst, const char *s, const char *end)
{
	if (end - s >= 2 && s[0] == '[' && end[-1] == ']') {
		s++;
		end--;
	}
	return dup_n(dst, s, (size_t)(end - s));
}

/* protocol[,sndbuf=N][,rcvbuf=N] */
static int parse_proto(const char *w, struct inetd_entry *e, const char **why)
{
	const char *comma = strchr(w, ',');
	if (dup_n(&e->proto, w, comma ? (size_t)(comma - w) : strlen(w)) < 0)
		return -1;
	while (comma) {
		const char *opt = comma + 1;
		comma = strchr(opt, ',');
		size_t len = comma ? (size_t)(comma - opt) : strlen(opt);
		char **dst = NULL;
		if (len > 7 && strncmp(opt, "sndbuf=", 7) == 0)
			dst = &e->sndbuf;
		else if (len > 7 && strncmp(opt, "rcvbuf=", 7) == 0)
			dst = &e->rcvbuf;
		if (!dst) {
			*why = "after the protocol only ,sndbuf=SIZE and ,rcvbuf=SIZE may follow";
			return 2;
		}
		free(*dst);
		if (dup_n(dst, opt + 7, len - 7) < 0)
			return -1;
	}
	return 0;
}

int inetd_parse_line(const char *line, char **default_hosts, struct inetd_entry *e,
                     const char **why)
{
	char *copy, *w[256], *save = NULL;
	size_t n = 0;
	int ret = 0;

	*e = (struct inetd_entry){0};
	while (*line == ' ' || *line == '\t')
		line++;
	if (strncmp(line, "#<off>#", 7) == 0) {
		e->off = true;
		line += 7;
	} else if (*line == '#') {
		return 1;
	}
	if (!(copy = strdup(line)))
		return -1;
	for (char *t = strtok_r(copy, " \t\r\n", &save); t && n < 256;
	     t = strtok_r(NULL, " \t\r\n", &save))
		w[n++] = t;
	if (n == 0 || (e->off && n < 6)) {
		ret = 1;
		goto out;
	}
	if (n == 1 && w[0][strlen(w[0]) - 1] == ':') {
		/* "HOST:" alone: the prefix of the lines that follow. */
		char *h;
		if (dup_host(&h, w[0], w[0] + strlen(w[0]) - 1) < 0) {
			ret = -1;
			goto out;
		}
		free(*default_hosts);
		*default_hosts = h;
		ret = 1;
		goto out;
	}
	if (n < 6) {
		*why = "expected at least 6 fields: service, socket type, protocol, wait or "
		       "nowait, user, server program (and its arguments)";
		ret = 2;
		goto out;
	}
	/* HOST:service; a bracketed IPv6 host keeps its colons. */
	const char *svc = w[0], *colon = NULL;
	if (w[0][0] == '[') {
		const char *rb = strchr(w[0], ']');
		if (rb && rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = strrchr(w[0], ':');
	}
	if (colon) {
		if (dup_host(&e->hosts, w[0], colon) < 0) {
			ret = -1;
			goto out;
		}
		svc = colon + 1;
	} else if (!(e->hosts = strdup(*default_hosts ? *default_hosts : "*"))) {
		ret = -1;
		goto out;
	}
	if (!*svc || !*e->hosts) {
		*why = "an empty service name or host";
		ret = 2;
		goto out;
	}
	if (!(e->service = strdup(svc)) || !(e->socktype = strdup(w[1]))) {
		ret = -1;
		goto out;
	}
	if ((ret = parse_proto(w[2], e, why)) != 0)
		goto out;
	const char *wt = w[3], *dot = strchr(wt, '.');
	size_t wlen = dot ? (size_t)(dot - wt) : strlen(wt);
	if (wlen == 4 && strncmp(wt, "wait", 4) == 0)
		e->wait = true;
	else if (!(wlen == 6 && strncmp(wt, "nowait", 6) == 0)) {
		*why = "the fourth field is wait or nowait (optionally .MAX)";
		ret = 2;
		goto out;
	}
	if (dot) {
		char *end;
		e->max = strtol(dot + 1, &end, 10);
		if (end == dot + 1 || *end || e->max < 1 || e->max > 1000000) {
			*why = "wait.MAX / nowait.MAX: MAX is a number of starts a minute "
			       "(1..1000000)";
			ret = 2;
			goto out;
		}
	}
	const char *u = w[4], *sep = strchr(u, ':');
	if (!sep)
		sep = strchr(u, '.');
	if (dup_n(&e->user, u, sep ? (size_t)(sep - u) : strlen(u)) < 0 ||
	    (sep && !(e->group = strdup(sep + 1)))) {
		ret = -1;
		goto out;
	}
	if (!*e->user || (e->group && !*e->group)) {
		*why = "the user field is USER, USER:GROUP or USER.GROUP";
		ret = 2;
		goto out;
	}
	if (!(e->server = strdup(w[5]))) {
		ret = -1;
		goto out;
	}
	for (size_t i = 6; i < n; i++)
		if (imp_strv_push(&e->args, w[i]) < 0) {
			ret = -1;
			goto out;
		}
	if (n == 256) {
		*why = "too many fields";
		ret = 2;
	}
out:
	free(copy);
	if (ret != 0)
		inetd_entry_free(e);
	return ret;
}

int inetd_parse_file(const char *path, struct inetd_conf *conf, struct imp_report *rep)
{
	char *line = NULL, *hosts = NULL;
	size_t cap = 0;
	int lineno = 0, ret = 0;

	*conf = (struct inetd_conf){0};
	if (!(conf->file = strdup(path)))
		return -1;
	FILE *f = imp_fopen_regular(path);
	if (!f) {
		imp_report_add(rep, path, 0, IMP_ERROR, "cannot read it: %s",
		               errno == EINVAL ? "not a regular file" : strerror(errno));
		return 0;
	}
	while (ret == 0 && getline(&line, &cap, f) > 0) {
		struct inetd_entry e;
		const char *why = NULL;
		lineno++;
		int r = inetd_parse_line(line, &hosts, &e, &why);
		if (r < 0) {
			ret = -1;
		} else if (r == 2) {
			imp_report_add(rep, path, lineno, IMP_ERROR,
			               "syntax error: %s: line skipped", why);
		} else if (r == 0) {
			struct inetd_entry *v = realloc(conf->e, (conf->n + 1) * sizeof(*v));
			if (!v) {
				inetd_entry_free(&e);
				ret = -1;
				break;
			}
			e.line = lineno;
			conf->e = v;
			conf->e[conf->n++] = e;
		}
	}
	if (ret == 0 && ferror(f))
		imp_report_add(rep, path, lineno, IMP_ERROR, "read error: %s", strerror(errno));
	fclose(f);
	free(line);
	free(hosts);
	return ret;
}
