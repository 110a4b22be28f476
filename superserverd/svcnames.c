/*
 * services(5) files: "NAME PORT/PROTO [ALIAS...] [# comment]" per line. Read directly
 * rather than through getservbyname_r so that a load is judged against one file that
 * tests (and the configuration options) can name, with no NSS module in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "superserverd/svcnames.h"

#define FILE_MAX (4u << 20) /* Debian's is 12 KiB; anything near this is not one */

struct entry {
	const char *name; /* into the copy of the text */
	const char *proto;
	unsigned port;
};

struct svcnames {
	char *text; /* NUL-separated words */
	struct entry *entries;
	size_t n, cap;
};

void svcnames_free(struct svcnames *db)
{
	if (!db)
		return;
	free(db->text);
	free(db->entries);
	free(db);
}

static int add(struct svcnames *db, const char *name, const char *proto, unsigned port)
{
	if (db->n == db->cap) {
		size_t cap = db->cap ? db->cap * 2 : 256;
		struct entry *e = realloc(db->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		db->entries = e;
		db->cap = cap;
	}
	db->entries[db->n++] = (struct entry){.name = name, .proto = proto, .port = port};
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The next word at *P (ending it with a NUL), or NULL at the end of the line. */
static char *next_word(char **p)
{
	char *s = *p, *w;

	while (is_space(*s))
		s++;
	if (*s == '\0')
		return NULL;
	w = s;
	while (*s && !is_space(*s))
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

/* "PORT/PROTO" into its parts, ending PORT with a NUL. */
static bool split_port(char *w, unsigned *port_r, const char **proto_r)
{
	char *slash = strchr(w, '/'), *end;
	unsigned long v;

	if (!slash || slash == w || slash[1] == '\0' || w[0] < '0' || w[0] > '9')
		return false;
	*slash = '\0';
	errno = 0;
	v = strtoul(w, &end, 10);
	if (errno || *end || v < 1 || v > 65535) /* port 0 is no port to listen on */
		return false;
	*port_r = (unsigned)v;
	*proto_r = slash + 1;
	return true;
}

/* One line at LINE (NUL-terminated by the caller, comment cut off). */
static int parse_line(struct svcnames *db, char *line)
{
	char *p = line, *name = next_word(&p), *port = name ? next_word(&p) : NULL, *alias;
	const char *proto;
	unsigned num;
	int r;

	if (!port || !split_port(port, &num, &proto))
		return 0;
	r = add(db, name, proto, num);
	while (r == 0 && (alias = next_word(&p)))
		r = add(db, alias, proto, num);
	return r;
}

int svcnames_parse(const char *text, size_t len, struct svcnames **db_r)
{
	struct svcnames *db = calloc(1, sizeof(*db));
	char *line;
	int r = 0;

	*db_r = NULL;
	if (!db || !(db->text = malloc(len + 1))) {
		free(db);
		return -ENOMEM;
	}
	memcpy(db->text, text, len);
	db->text[len] = '\0';
	/* A NUL inside the text ends it, as it would end a line for the C library. */
	for (line = db->text; r == 0 && line;) {
		char *nl = strchr(line, '\n'), *hash;

		if (nl)
			*nl = '\0';
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		r = parse_line(db, line);
		line = nl ? nl + 1 : NULL;
	}
	if (r < 0) {
		svcnames_free(db);
		return r;
	}
	*db_r = db;
	return 0;
}

int svcnames_load(const char *path, struct svcnames **db_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	char *buf = NULL;
	size_t got = 0, cap = 0;

	*db_r = NULL;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (got == cap) {
			char *b;
			if (cap >= FILE_MAX) {
				r = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			if (!(b = realloc(buf, cap))) {
				r = -ENOMEM;
				goto out;
			}
			buf = b;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	r = svcnames_parse(buf ? buf : "", got, db_r);
out:
	free(buf);
	close(fd);
	return r;
}

enum svcnames_result svcnames_lookup(const struct svcnames *db, const char *name, const char *proto,
                                     unsigned *port_r)
{
	enum svcnames_result res = SVCNAMES_UNKNOWN;

	for (size_t i = 0; i < db->n; i++) {
		const struct entry *e = &db->entries[i];
		if (strcmp(e->name, name) != 0)
			continue;
		if (strcmp(e->proto, proto) == 0) {
			*port_r = e->port;
			return SVCNAMES_FOUND;
		}
		res = SVCNAMES_OTHER_PROTO;
	}
	return res;
}

const char *svcnames_name(const struct svcnames *db, unsigned port, const char *proto)
{
	/* A line's official name is entered before its aliases. */
	for (size_t i = 0; i < db->n; i++)
		if (db->entries[i].port == port && strcmp(db->entries[i].proto, proto) == 0)
			return db->entries[i].name;
	return NULL;
}
