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

struct ydoc {
	yaml_document_t doc;
	bool loaded;
	const char *file;       /* as printed in messages; owned by the caller */
	unsigned char *checked; /* per node: its duplicate keys are already reported */
};

/* Loads PATH (named FILE in messages). Returns 0, or -1 after reporting why. An empty
 * file loads as a document without a root. */
int ydoc_load(struct ydoc *yd, const char *path, const char *file, struct diag *d);
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
