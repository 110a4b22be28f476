/* Checked node access for the configuration loader. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superserverd/yamlutil.h"

void ydoc_free(struct ydoc *yd)
{
	/* Before the document: its node count sizes the cache. */
	if (yd->firsts)
		for (size_t i = 0; i < (size_t)(yd->doc.nodes.top - yd->doc.nodes.start); i++)
			free(yd->firsts[i]);
	free(yd->firsts);
	yd->firsts = NULL;
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

struct key_ref {
	const char *key;
	int idx;
};

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int r = strcmp(x->key, y->key);
	return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * For each pair of map M, the index of the first pair with its key: found by sorting
 * the keys once rather than comparing each with those before it, which a map of many
 * keys would make quadratic. NULL without memory (every key then counts as first).
 */
static const int *map_firsts(struct ydoc *yd, yaml_node_t *m)
{
	size_t idx = (size_t)(m - yd->doc.nodes.start);
	size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start), nk = 0;
	struct key_ref *keys;
	int *firsts;

	if (!yd->firsts && !(yd->firsts = calloc((size_t)(yd->doc.nodes.top - yd->doc.nodes.start),
	                                         sizeof(int *))))
		return NULL;
	if (yd->firsts[idx])
		return yd->firsts[idx];
	firsts = malloc((n ? n : 1) * sizeof(*firsts));
	keys = malloc((n ? n : 1) * sizeof(*keys));
	if (!firsts || !keys) {
		free(firsts);
		free(keys);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *k = ypair_key(yd, &m->data.mapping.pairs.start[i]);
		firsts[i] = (int)i;
		if (k)
			keys[nk++] = (struct key_ref){k, (int)i};
	}
	qsort(keys, nk, sizeof(*keys), key_ref_cmp);
	for (size_t i = 1; i < nk; i++)
		if (strcmp(keys[i].key, keys[i - 1].key) == 0)
			firsts[keys[i].idx] = firsts[keys[i - 1].idx];
	free(keys);
	yd->firsts[idx] = firsts;
	return firsts;
}

bool ypair_is_first(struct ydoc *yd, yaml_node_t *m, const yaml_node_pair_t *p)
{
	const int *firsts = map_firsts(yd, m);
	int i = (int)(p - m->data.mapping.pairs.start);

	return !firsts || firsts[i] == i;
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
	const int *firsts = map_firsts(yd, m);

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
		if (first_visit && firsts &&
		    firsts[p - m->data.mapping.pairs.start] != p - m->data.mapping.pairs.start) {
			const yaml_node_pair_t *q = m->data.mapping.pairs.start +
			                            firsts[p - m->data.mapping.pairs.start];
			yaml_node_t *ok = ynode(yd, q->key);
			yerror(d, yd, k, path, "duplicate key '%s' (first at %d:%d)", key,
			       (int)ok->start_mark.line + 1, (int)ok->start_mark.column + 1);
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
