/*
 * A services(5) file in memory: "name port/proto aliases... # comment" lines, looked
 * up by name (official or alias) or by port.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superctl/imp_services.h"

struct entry {
	char *names; /* the official name and its aliases, NUL-separated, "" at the end */
	int port;
	char proto[8];
};

struct imp_services {
	struct entry *e;
	size_t n, cap;
};

static int add_line(struct imp_services *s, char *line)
{
	char *save = NULL, *hash = strchr(line, '#');
	if (hash)
		*hash = 0;
	char *name = strtok_r(line, " \t\r\n", &save);
	char *pp = strtok_r(NULL, " \t\r\n", &save);
	if (!name || !pp)
		return 0;
	char *slash = strchr(pp, '/');
	if (!slash || strlen(slash + 1) >= sizeof(s->e[0].proto))
		return 0;
	*slash = 0;
	char *end;
	long port = strtol(pp, &end, 10);
	if (end == pp || *end || port < 1 || port > 65535)
		return 0;
	size_t len = strlen(name) + 2;
	char *al, *aliases[64];
	size_t na = 0;
	while ((al = strtok_r(NULL, " \t\r\n", &save)) && na < 64) {
		aliases[na++] = al;
		len += strlen(al) + 1;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct entry *e = realloc(s->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	char *names = malloc(len), *p = names;
	if (!names)
		return -ENOMEM;
	p = stpcpy(p, name) + 1;
	for (size_t i = 0; i < na; i++)
		p = stpcpy(p, aliases[i]) + 1;
	*p = 0;
	struct entry *e = &s->e[s->n++];
	e->names = names;
	e->port = (int)port;
	snprintf(e->proto, sizeof(e->proto), "%s", slash + 1);
	return 0;
}

int imp_services_load(const char *path, struct imp_services **r)
{
	struct imp_services *s = calloc(1, sizeof(*s));
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!s)
		return -ENOMEM;
	FILE *f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		goto out;
	}
	while (getline(&line, &cap, f) > 0)
		if ((ret = add_line(s, line)) < 0)
			break;
	if (ret == 0 && ferror(f))
		ret = -EIO;
	fclose(f);
out:
	free(line);
	if (ret < 0) {
		imp_services_free(s);
		return ret;
	}
	*r = s;
	return 0;
}

void imp_services_free(struct imp_services *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].names);
	free(s->e);
	free(s);
}

int imp_services_port(const struct imp_services *s, const char *name, const char *proto)
{
	char *end;
	long port = strtol(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end)
		return port >= 1 && port <= 65535 ? (int)port : -1;
	for (size_t i = 0; s && i < s->n; i++) {
		if (strcmp(s->e[i].proto, proto) != 0)
			continue;
		for (const char *n = s->e[i].names; *n; n += strlen(n) + 1)
			if (strcmp(n, name) == 0)
				return s->e[i].port;
	}
	return -1;
}

const char *imp_services_name(const struct imp_services *s, int port, const char *proto)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (s->e[i].port == port && strcmp(s->e[i].proto, proto) == 0)
			return s->e[i].names;
	return NULL;
}
