/*
 * libyaml document helpers for the configuration loader: loading one file as a node
 * tree, node positions, type checks with "expected ..." messages, and map access that
 * catches what libyaml lets through (duplicate keys) and what we reject (unknown keys).
 *
 * Every message takes a PATH ("services.echo.listen[0]") that is printed before it, so
 * the user sees where in the tree a value sits as well as its line and column.
 */
#ifndef SUPERSERVERD_YAMLUTIL_H
#define SUPERSERVERD_YAMLUTIL_H

#include <stdbool.h>
#include <yaml.h>

#include "superserverd/diag.h"

/*
 * The bounds of one configuration load, over the main file and its includes together
 * (docs/configuration.md, "Limits"). Within them no input costs the loader more than a
 * fraction of a second; past them the load fails with FILE:LINE:COL.
 */
#define YDOC_MAX_FILE_BYTES  (1u << 20)  /* one file */
#define YDOC_MAX_TOTAL_BYTES (4u << 20)  /* every file */
#define YDOC_MAX_FILES       256         /* included files */
#define YDOC_MAX_DEPTH       32          /* lists and maps inside each other */
#define YDOC_MAX_NODES       200000u     /* values, each alias counting as a copy */
#define YDOC_MAX_TEXT_BYTES  (16u << 20) /* bytes of strings, likewise */

/* What a load has used so far; zero it before the first file. */
struct ybudget {
	size_t bytes, files, nodes, text;
};

struct ydoc {
	yaml_document_t doc;
	bool loaded;
	const char *file;       /* as printed in messages; owned by the caller */
	unsigned char *checked; /* per node: its duplicate keys are already reported */
	int **firsts;           /* per map node, once asked: see ypair_first() */
};

/* Loads PATH (named FILE in messages) within budget B (yamlload.c). An INCLUDED file
 * must be a regular file. Returns 0, or -1 after reporting why. An empty file loads as
 * a document without a root. */
int ydoc_load(struct ydoc *yd, const char *path, const char *file, bool included, struct ybudget *b,
              struct diag *d);
void ydoc_free(struct ydoc *yd);

yaml_node_t *ydoc_root(struct ydoc *yd);
yaml_node_t *ynode(struct ydoc *yd, int id);
struct diag_pos ypos(const struct ydoc *yd, const yaml_node_t *n);

/* A plain "", "~" or "null": YAML's null, which no setting accepts as a value. */
bool yis_null(const yaml_node_t *n);
/* "a string", "a list", "a map" or "null", for "expected X, got Y". */
const char *ytype_name(const yaml_node_t *n);

/* Reports "PATH: message" at N (PATH may be empty). */
void yerror(struct diag *d, const struct ydoc *yd, const yaml_node_t *n, const char *path,
            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The scalar's text, or NULL after reporting "PATH: expected a string, got ...". */
const char *ystring(struct ydoc *yd, yaml_node_t *n, const char *path, struct diag *d);
/* True for a node of TYPE; otherwise reports "PATH: expected WHAT, got ..." */
bool yexpect(struct ydoc *yd, yaml_node_t *n, yaml_node_type_t type, const char *path,
             struct diag *d);

/*
 * Checks map M: every key a string, no key twice (reported once per node even when
 * aliases make us visit it again), and, when ALLOWED (NULL-terminated) is given, no
 * other key: "unknown key 'k' WHERE (expected one of: ...)", WHERE being
 * e.g. "in service 'echo'" or "at the top level".
 */
void ymap_check(struct ydoc *yd, yaml_node_t *m, const char *path, const char *where,
                const char *const *allowed, struct diag *d);
/* Reports "unknown key 'KEY' WHERE (expected one of: ALLOWED)" at key node K. */
void yunknown_key(struct diag *d, struct ydoc *yd, yaml_node_t *k, const char *key,
                  const char *where, const char *const *allowed);
/* The value of KEY (its first occurrence) and optionally its key node, or NULL. */
yaml_node_t *ymap_get(struct ydoc *yd, yaml_node_t *m, const char *key, yaml_node_t **key_r);
/* True when pair P of map M has the first occurrence of its key (or a key that is not a
 * string); false for a later duplicate. Costs O(n log n) once per map, then O(1). */
bool ypair_is_first(struct ydoc *yd, yaml_node_t *m, const yaml_node_pair_t *p);
/* The key text of a pair, or NULL when the key is not a scalar. */
const char *ypair_key(struct ydoc *yd, const yaml_node_pair_t *p);

#define ymap_for_each(m, p)                                                                        \
	for (yaml_node_pair_t *p = (m)->data.mapping.pairs.start; p < (m)->data.mapping.pairs.top; \
	     p++)
#define ylist_for_each(s, it)                                                                      \
	for (yaml_node_item_t *it = (s)->data.sequence.items.start;                                \
	     it < (s)->data.sequence.items.top; it++)
#define ylist_len(s) ((size_t)((s)->data.sequence.items.top - (s)->data.sequence.items.start))

#endif
