/*
 * The xinetd.conf tokenizer and parser. A file is lines; a line is words split at
 * blanks; a line whose first word starts with '#' is a comment (as in xinetd, a '#'
 * later on a line is an ordinary character). Braces stand on lines of their own.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "superctl/imp_input.h"
#include "superctl/xinetd_parse.h"

/* Bounds that keep a loop of includes, or a hostile tree, from running away. */
enum { MAX_DEPTH = 8, MAX_FILE = 1 << 20, MAX_FILES = 1024 };

struct parser {
	struct xi_conf *conf;
	struct imp_report *rep;
	int files; /* read so far */
};

static int read_file(const char *path, char **text_r)
{
	FILE *f = imp_fopen_regular(path);
	if (!f)
		return -errno;
	char *buf = malloc(MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n = fread(buf, 1, MAX_FILE + 1, f);
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!err && n > MAX_FILE)
		err = -EFBIG;
	if (!err && memchr(buf, 0, n))
		err = -EILSEQ;
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = 0;
	*text_r = buf;
	return 0;
}

static void entry_free(struct xi_entry *e)
{
	for (size_t i = 0; i < e->n_attrs; i++) {
		free(e->attrs[i].name);
		imp_strv_clear(&e->attrs[i].values);
	}
	free(e->attrs);
	free(e->name);
	free(e->file);
}

void xi_conf_free(struct xi_conf *conf)
{
	for (size_t i = 0; i < conf->n; i++)
		entry_free(&conf->entries[i]);
	free(conf->entries);
	*conf = (struct xi_conf){0};
}

static int conf_push(struct xi_conf *conf, struct xi_entry *e)
{
	if (conf->n == conf->cap) {
		size_t cap = conf->cap ? conf->cap * 2 : 16;
		struct xi_entry *v = realloc(conf->entries, cap * sizeof(*v));
		if (!v)
			return -1;
		conf->entries = v;
		conf->cap = cap;
	}
	conf->entries[conf->n++] = *e;
	*e = (struct xi_entry){0};
	return 0;
}

/* Splits one line into words in place. Returns the count (at most max). */
static size_t split(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t\r\v\f", &save); t && n < max;
	     t = strtok_r(NULL, " \t\r\v\f", &save))
		w[n++] = t;
	return n;
}

/* An attribute line: NAME OP VALUE..., the operator also glued to its neighbours
 * ("port=69", "only_from+= 10.0.0.0"). Returns 0, 1 for a syntax error (*why set), -1
 * for memory. */
static int parse_attr(char **w, size_t n, int line, struct xi_entry *e, const char **why)
{
	char name[128];
	enum xi_op op = XI_SET;
	size_t first = 1;        /* first value word */
	const char *rest = NULL; /* value glued after the operator */
	char *eq = strchr(w[0], '=');

	if (eq) {
		size_t len = (size_t)(eq - w[0]);
		if (len > 0 && (w[0][len - 1] == '+' || w[0][len - 1] == '-')) {
			op = w[0][len - 1] == '+' ? XI_ADD : XI_DEL;
			len--;
		}
		if (len == 0 || len >= sizeof(name)) {
			*why = "expected an attribute name before the operator";
			return 1;
		}
		memcpy(name, w[0], len);
		name[len] = 0;
		if (eq[1])
			rest = eq + 1;
	} else {
		if (strlen(w[0]) >= sizeof(name)) {
			*why = "the attribute name is too long";
			return 1;
		}
		strcpy(name, w[0]);
		if (n < 2) {
			*why = "expected an operator (=, += or -=) after the attribute name";
			return 1;
		}
		const char *o = w[1];
		if (o[0] == '+' && o[1] == '=')
			op = XI_ADD;
		else if (o[0] == '-' && o[1] == '=')
			op = XI_DEL;
		else if (o[0] != '=') {
			*why = "expected an operator (=, += or -=) after the attribute name";
			return 1;
		}
		const char *after = o + (op == XI_SET ? 1 : 2);
		if (*after)
			rest = after;
		first = 2;
	}
	for (const char *c = name; *c; c++)
		if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9'))) {
			*why = "an attribute name is letters, digits and '_'";
			return 1;
		}
	struct xi_attr *a = realloc(e->attrs, (e->n_attrs + 1) * sizeof(*a));
	if (!a)
		return -1;
	e->attrs = a;
	a = &e->attrs[e->n_attrs];
	*a = (struct xi_attr){.op = op, .line = line};
	if (!(a->name = strdup(name)))
		return -1;
	e->n_attrs++;
	if (rest && imp_strv_push(&a->values, rest) < 0)
		return -1;
	for (size_t i = first; i < n; i++)
		if (imp_strv_push(&a->values, w[i]) < 0)
			return -1;
	return 0;
}

static int parse_path(struct parser *p, const char *path, int depth, const char *from,
                      int from_line);

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* includedir: every name without a '.' and not ending in '~', in C-locale order. */
static int include_dir(struct parser *p, const char *dir, int depth, const char *from, int line)
{
	struct imp_strv names = {0};
	int ret = 0;
	DIR *d = opendir(dir);
	if (!d) {
		imp_report_add(p->rep, from, line, IMP_ERROR, "includedir %s: cannot read it: %s",
		               dir, strerror(errno));
		return 0;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (strchr(de->d_name, '.') || (len && de->d_name[len - 1] == '~'))
			continue;
		if (imp_strv_push(&names, de->d_name) < 0) {
			ret = -1;
			break;
		}
	}
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), cmp_names);
	for (size_t i = 0; ret == 0 && i < names.n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
		/* xinetd reads regular files only: a directory, FIFO or device is passed over. */
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
			continue;
		ret = parse_path(p, path, depth, from, line);
	}
	imp_strv_clear(&names);
	return ret;
}

static int parse_text(struct parser *p, const char *file, char *text, int depth)
{
	enum { TOP, WANT_BRACE, IN_ENTRY } state = TOP;
	struct xi_entry cur = {0};
	char *w[512];
	int lineno = 0, ret = 0;
	const char *why = NULL;
	char *next = text;

	while (next && ret == 0 && !why) {
		char *line = next;
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = 0;
		else if (!*line)
			break;
		lineno++;
		size_t n = split(line, w, sizeof(w) / sizeof(w[0]));
		if (n == 0 || w[0][0] == '#')
			continue;
		if (n == sizeof(w) / sizeof(w[0])) {
			why = "the line has too many words";
			break;
		}
		switch (state) {
		case TOP:
			if (strcasecmp(w[0], "service") == 0 || strcasecmp(w[0], "defaults") == 0) {
				bool defaults = strcasecmp(w[0], "defaults") == 0;
				size_t want = defaults ? 1 : 2;
				bool brace = n == want + 1 && strcmp(w[want], "{") == 0;
				if (!defaults && n < 2) {
					why = "expected a name after 'service'";
					break;
				}
				if (n != want && !brace) {
					why = defaults ? "expected nothing after 'defaults' (the "
					                 "'{' "
					                 "goes on the next line)"
					               : "expected one name after 'service' (the "
					                 "'{' "
					                 "goes on the next line)";
					break;
				}
				cur = (struct xi_entry){.is_defaults = defaults, .line = lineno};
				if (!(cur.file = strdup(file)) ||
				    (!defaults && !(cur.name = strdup(w[1])))) {
					ret = -1;
					break;
				}
				state = brace ? IN_ENTRY : WANT_BRACE;
			} else if (strcasecmp(w[0], "include") == 0 ||
			           strcasecmp(w[0], "includedir") == 0) {
				if (n != 2) {
					why = "expected one path after include or includedir";
					break;
				}
				if (strcasecmp(w[0], "include") == 0)
					ret = parse_path(p, w[1], depth + 1, file, lineno);
				else
					ret = include_dir(p, w[1], depth + 1, file, lineno);
			} else if (strcmp(w[0], "{") == 0 || strcmp(w[0], "}") == 0) {
				why = "a brace outside a service or defaults entry";
			} else {
				why = "expected 'service NAME', 'defaults', 'include FILE' or "
				      "'includedir DIR'";
			}
			break;
		case WANT_BRACE:
			if (n != 1 || strcmp(w[0], "{") != 0)
				why = "expected '{' on the line after the entry's name";
			else
				state = IN_ENTRY;
			break;
		case IN_ENTRY:
			if (strcmp(w[0], "}") == 0) {
				if (n != 1) {
					why = "expected nothing after '}'";
					break;
				}
				if (conf_push(p->conf, &cur) < 0)
					ret = -1;
				state = TOP;
			} else if (strcmp(w[0], "{") == 0) {
				why = "an entry cannot hold another '{'";
			} else if (strcasecmp(w[0], "service") == 0 ||
			           strcasecmp(w[0], "defaults") == 0) {
				why = "'}' is missing: a new entry starts inside this one";
			} else if (strcasecmp(w[0], "include") == 0 ||
			           strcasecmp(w[0], "includedir") == 0) {
				why = "include and includedir cannot be used inside an entry";
			} else {
				ret = parse_attr(w, n, lineno, &cur, &why);
				if (ret == 1)
					ret = 0;
			}
			break;
		}
	}
	if (!why && ret == 0 && state != TOP) {
		imp_report_add(p->rep, file, cur.line, IMP_ERROR,
		               "the entry that starts here has no closing '}' before the end of "
		               "the file: the entry is skipped");
	} else if (why) {
		imp_report_add(p->rep, file, lineno, IMP_ERROR,
		               "syntax error: %s; the rest of this file is skipped", why);
	}
	entry_free(&cur);
	return ret;
}

static int parse_path(struct parser *p, const char *path, int depth, const char *from,
                      int from_line)
{
	char *text = NULL;
	if (depth > MAX_DEPTH) {
		imp_report_add(p->rep, from, from_line, IMP_ERROR,
		               "include %s: includes nest more than %d deep (a loop?): not read",
		               path, MAX_DEPTH);
		return 0;
	}
	if (++p->files > MAX_FILES) {
		imp_report_add(p->rep, from, from_line, IMP_ERROR,
		               "include %s: more than %d files: not read", path, MAX_FILES);
		return 0;
	}
	int r = read_file(path, &text);
	if (r == -ENOMEM)
		return -1;
	if (r < 0) {
		const char *why = r == -EFBIG    ? "larger than 1 MiB"
		                  : r == -EILSEQ ? "it holds NUL bytes, not text"
		                  : r == -EINVAL ? "not a regular file"
		                                 : strerror(-r);
		if (from)
			imp_report_add(p->rep, from, from_line, IMP_ERROR,
			               "include %s: cannot read it: %s", path, why);
		else
			imp_report_add(p->rep, path, 0, IMP_ERROR, "cannot read it: %s", why);
		return 0;
	}
	r = parse_text(p, path, text, depth);
	free(text);
	return r;
}

int xi_parse_file(const char *path, struct xi_conf *conf, struct imp_report *rep)
{
	struct parser p = {.conf = conf, .rep = rep};
	return parse_path(&p, path, 0, NULL, 0);
}

int xi_parse_text(const char *file, const char *text, struct xi_conf *conf, struct imp_report *rep)
{
	struct parser p = {.conf = conf, .rep = rep};
	char *copy = strdup(text);
	if (!copy)
		return -1;
	int r = parse_text(&p, file, copy, 0);
	free(copy);
	return r;
}
