/* libyaml document loading and checked node access for the configuration loader. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "superserverd/yamlutil.h"

/* The reader (bad encoding) reports a byte offset, not a mark: count it out in F. */
static void offset_position(FILE *f, size_t offset, struct diag_pos *pos)
{
	int c;

	pos->line = 1;
	pos->col = 1;
	if (fseek(f, 0, SEEK_SET) < 0)
		return;
	for (size_t i = 0; i < offset && (c = getc(f)) != EOF; i++) {
		if (c == '\n') {
			pos->line++;
			pos->col = 1;
		} else if ((c & 0xc0) != 0x80) { /* not a UTF-8 continuation byte */
			pos->col++;
		}
	}
}

static void parser_error(const yaml_parser_t *p, FILE *f, const char *file, struct diag *d)
{
	struct diag_pos pos = {file, (int)p->problem_mark.line + 1,
	                       (int)p->problem_mark.column + 1};
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_READER_ERROR)
		offset_position(f, p->problem_offset, &pos);
	if (p->error == YAML_MEMORY_ERROR)
		diag_error(d, &pos, "out of memory");
	else if (p->context)
		diag_error(d, &pos, "%s (%s)", problem, p->context);
	else
		diag_error(d, &pos, "%s", problem);
}

int ydoc_load(struct ydoc *yd, const char *path, const char *file, struct diag *d)
{
	struct diag_pos fpos = {file, 0, 0};
	yaml_parser_t parser;
	yaml_document_t extra;
	struct stat st = {0};
	FILE *f;
	int r = -1;

	memset(yd, 0, sizeof(*yd));
	yd->file = file;
	f = fopen(path, "re");
	if (!f) {
		diag_error(d, &fpos, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || S_ISDIR(st.st_mode)) {
		/* fopen() opens a directory; reading it would fail with a vaguer message. */
		diag_error(d, &fpos, "cannot open: %s",
		           strerror(S_ISDIR(st.st_mode) ? EISDIR : errno));
		fclose(f);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		diag_error(d, &fpos, "out of memory");
		fclose(f);
		return -1;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &yd->doc)) {
		parser_error(&parser, f, file, d);
		goto out;
	}
	yd->loaded = true;
	if (!yaml_parser_load(&parser, &extra)) {
		parser_error(&parser, f, file, d);
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		struct diag_pos pos = {file, (int)extra.start_mark.line + 1,
		                       (int)extra.start_mark.column + 1};
		diag_error(d, &pos, "a configuration file holds one YAML document, found a second");
		yaml_document_delete(&extra);
		goto out;
	}
	yaml_document_delete(&extra);
	yd->checked = calloc((size_t)(yd->doc.nodes.top - yd->doc.nodes.start) + 1, 1);
	if (!yd->checked) {
		diag_error(d, &fpos, "out of memory");
		goto out;
	}
	r = 0;
out:
	yaml_parser_delete(&parser);
	fclose(f);
	if (r < 0)
		ydoc_free(yd);
	return r;
}

void ydoc_free(struct ydoc *yd)
{
	if (yd->loaded)
		yaml_document_delete(&yd->doc);
	free(yd->checked);
	yd->checked = NULL;
	yd->loaded = false;
}

yaml_node_t *ydoc_root(struct ydoc *yd)
{
	return yd->loaded ? yaml_document_get_root_node(&yd->doc) : NULL;
}

yaml_node_t *ynode(struct ydoc *yd, int id)
{
	return yaml_document_get_node(&yd->doc, id);
}

struct diag_pos ypos(const struct ydoc *yd, const yaml_node_t *n)
{
	struct diag_pos pos = {yd->file, 0, 0};
	if (n) {
		pos.line = (int)n->start_mark.line + 1;
		pos.col = (int)n->start_mark.column + 1;
	}
	return pos;
}

bool yis_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	       strcmp(v, "NULL") == 0;
}

const char *ytype_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return yis_null(n) ? "nothing (null)" : "a string";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a map";
	default:
		return "nothing";
	}
}

void yerror(struct diag *d, const struct ydoc *yd, const yaml_node_t *n, const char *path,
            const char *fmt, ...)
{
	struct diag_pos pos = ypos(yd, n);
	char *msg;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		diag_error(d, &pos, "%s%sout of memory", path, *path ? ": " : "");
		return;
	}
	diag_error(d, &pos, "%s%s%s", path, *path ? ": " : "", msg);
	free(msg);
}

const char *ystring(struct ydoc *yd, yaml_node_t *n, const char *path, struct diag *d)
{
	if (n->type != YAML_SCALAR_NODE || yis_null(n)) {
		yerror(d, yd, n, path, "expected a string, got %s", ytype_name(n));
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
		yerror(d, yd, n, path, "the value contains a NUL character");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

bool yexpect(struct ydoc *yd, yaml_node_t *n, yaml_node_type_t type, const char *path,
             struct diag *d)
{
	const char *what = type == YAML_MAPPING_NODE    ? "a map"
	                   : type == YAML_SEQUENCE_NODE ? "a list"
	                                                : "a string";
	if (n->type == type && !(type == YAML_SCALAR_NODE && yis_null(n)))
		return true;
	yerror(d, yd, n, path, "expected %s, got %s", what, ytype_name(n));
	return false;
}

const char *ypair_key(struct ydoc *yd, const yaml_node_pair_t *p)
{
	yaml_node_t *k = ynode(yd, p->key);
	return k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : NULL;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

void yunknown_key(struct diag *d, struct ydoc *yd, yaml_node_t *k, const char *key,
                  const char *where, const char *const *allowed)
{
	char expected[512];
	size_t off = 0;
	struct diag_pos pos = ypos(yd, k);

	expected[0] = '\0';
	for (const char *const *a = allowed; *a && off < sizeof(expected); a++) {
		int n = snprintf(expected + off, sizeof(expected) - off, "%s%s", off ? ", " : "",
		                 *a);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	diag_error(d, &pos, "unknown key '%s' %s (expected one of: %s)", key, where, expected);
}

void ymap_check(struct ydoc *yd, yaml_node_t *m, const char *path, const char *where,
                const char *const *allowed, struct diag *d)
{
	size_t idx = (size_t)(m - yd->doc.nodes.start);
	bool first_visit = !yd->checked[idx];

	yd->checked[idx] = 1;
	ymap_for_each(m, p)
	{
		yaml_node_t *k = ynode(yd, p->key);
		const char *key = ypair_key(yd, p);

		if (!key) {
			if (first_visit)
				yerror(d, yd, k, path, "expected a string as key, got %s",
				       ytype_name(k));
			continue;
		}
		if (first_visit)
			for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
				const char *other = ypair_key(yd, q);
				if (other && strcmp(other, key) == 0) {
					yaml_node_t *ok = ynode(yd, q->key);
					yerror(d, yd, k, path,
					       "duplicate key '%s' (first at %d:%d)", key,
					       (int)ok->start_mark.line + 1,
					       (int)ok->start_mark.column + 1);
					break;
				}
			}
		if (allowed && !in_list(allowed, key))
			yunknown_key(d, yd, k, key, where, allowed);
	}
}

yaml_node_t *ymap_get(struct ydoc *yd, yaml_node_t *m, const char *key, yaml_node_t **key_r)
{
	ymap_for_each(m, p)
	{
		const char *k = ypair_key(yd, p);
		if (k && strcmp(k, key) == 0) {
			if (key_r)
				*key_r = ynode(yd, p->key);
			return ynode(yd, p->value);
		}
	}
	return NULL;
}
