/*
 * Which files are read and which services they hold: loading a document, `include:`
 * patterns (globbed relative to the including file, each file read once), and the list
 * of services in order with their names checked and each defined only once.
 */
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "superserverd/config_int.h"

#define SERVICE_NAME_MAX 64

struct ydoc *config_load_doc(struct loader *l, const char *path, bool included)
{
	const char *file = config_intern(l->ci, path);
	struct ydoc *yd, **v;

	if (!file) {
		diag_error(l->diag, NULL, "%s: out of memory", path);
		return NULL;
	}
	yd = calloc(1, sizeof(*yd));
	v = realloc(l->docs, (l->n_docs + 1) * sizeof(*v));
	if (!yd || !v) {
		free(yd);
		if (v)
			l->docs = v;
		diag_error(l->diag, NULL, "%s: out of memory", path);
		return NULL;
	}
	l->docs = v;
	if (ydoc_load(yd, path, file, included, &l->budget, l->diag) < 0) {
		free(yd);
		return NULL;
	}
	l->docs[l->n_docs++] = yd;
	return yd;
}

static bool valid_service_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > SERVICE_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

/* An entry of the tree of service names (struct loader's ref_names). */
struct ref_name {
	const char *name;
	size_t idx; /* into l->refs */
};

static int ref_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ref_name *)a)->name, ((const struct ref_name *)b)->name);
}

void config_free_ref_names(struct loader *l)
{
	tdestroy(l->ref_names, free);
	l->ref_names = NULL;
}

static void add_service_ref(struct loader *l, struct ydoc *yd, yaml_node_pair_t *p)
{
	yaml_node_t *k = ynode(yd, p->key);
	const char *name = ypair_key(yd, p);
	struct ref_name *rn = NULL, **slot = NULL;

	if (!name) {
		yerror(l->diag, yd, k, "services", "expected a service name, got %s",
		       ytype_name(k));
		return;
	}
	if (!valid_service_name(name)) {
		yerror(l->diag, yd, k, "services",
		       "invalid service name '%.80s' (expected 1 to 64 of A-Z a-z 0-9 _ . -)",
		       name);
		return;
	}
	if ((rn = malloc(sizeof(*rn))))
		*rn = (struct ref_name){name, l->n_refs};
	if (!rn || !(slot = tsearch(rn, &l->ref_names, ref_name_cmp))) {
		free(rn);
		yerror(l->diag, yd, k, "services", "out of memory");
		return;
	}
	if (*slot != rn) {
		const struct svc_ref *r = &l->refs[(*slot)->idx];
		struct diag_pos first = ypos(r->yd, r->key);
		struct diag_pos here = ypos(yd, k);
		free(rn);
		diag_error(l->diag, &here,
		           "service '%s' is defined twice (first defined at %s:%d:%d)", name,
		           first.file, first.line, first.col);
		return;
	}
	if (l->n_refs == l->cap_refs) {
		size_t cap = l->cap_refs ? 2 * l->cap_refs : 16;
		struct svc_ref *v = realloc(l->refs, cap * sizeof(*v));
		if (!v) {
			tdelete(rn, &l->ref_names, ref_name_cmp);
			free(rn);
			yerror(l->diag, yd, k, "services", "out of memory");
			return;
		}
		l->refs = v;
		l->cap_refs = cap;
	}
	l->refs[l->n_refs++] = (struct svc_ref){yd, k, ynode(yd, p->value), name};
}

void config_collect_services(struct loader *l, struct ydoc *yd, yaml_node_t *v)
{
	if (yis_null(v))
		return; /* "services:" with every service commented out */
	if (!yexpect(yd, v, YAML_MAPPING_NODE, "services", l->diag))
		return;
	ymap_for_each(v, p) add_service_ref(l, yd, p);
}

/* An included file: services only. */
static void load_include(struct loader *l, const char *path)
{
	struct ydoc *yd = config_load_doc(l, path, true);
	yaml_node_t *root;

	if (!yd || !(root = ydoc_root(yd)))
		return;
	if (!yexpect(yd, root, YAML_MAPPING_NODE, "", l->diag))
		return;
	ymap_check(yd, root, "", NULL, NULL, l->diag);
	ymap_for_each(root, p)
	{
		const char *key = ypair_key(yd, p);
		yaml_node_t *kn = ynode(yd, p->key);

		if (!key || !config_pair_is_first(yd, root, p))
			continue;
		if (strcmp(key, "services") == 0)
			config_collect_services(l, yd, ynode(yd, p->value));
		else if (strcmp(key, "include") == 0)
			yerror(l->diag, yd, kn, "",
			       "include is only allowed in the main file (includes do not nest)");
		else
			yerror(l->diag, yd, kn, "",
			       "'%s' is not allowed in an included file (only services)", key);
	}
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static void include_pattern(struct loader *l, struct ydoc *yd, yaml_node_t *n, const char *path)
{
	const char *pattern = ystring(yd, n, path, l->diag);
	char *dir_copy = NULL, *full = NULL;
	glob_t g = {0};
	int r;

	if (!pattern)
		return;
	if (pattern[0] == '/' || !strchr(yd->file, '/')) {
		full = strdup(pattern);
	} else {
		dir_copy = strdup(yd->file);
		const char *d = dir_copy ? dirname(dir_copy) : NULL;
		if (d && asprintf(&full, "%s%s%s", d, strcmp(d, "/") ? "/" : "", pattern) < 0)
			full = NULL;
	}
	if (!full) {
		yerror(l->diag, yd, n, path, "out of memory");
		goto out;
	}
	/* GLOB_MARK: directories end in '/', so a pattern that also matches a subdirectory
	 * skips it rather than failing to parse it. */
	r = glob(full, GLOB_MARK, NULL, &g);
	if (r == GLOB_NOMATCH)
		goto out;
	if (r != 0) {
		yerror(l->diag, yd, n, path, "cannot expand '%s': %s", full,
		       r == GLOB_NOSPACE ? "out of memory" : "read error");
		goto out;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *match = g.gl_pathv[i];
		struct stat st, *v;
		bool dup = false;

		if (match[0] && match[strlen(match) - 1] == '/')
			continue;
		if (stat(match, &st) < 0) {
			struct diag_pos pos = {config_intern(l->ci, match), 0, 0};
			diag_error(l->diag, pos.file ? &pos : NULL, "cannot open: %s",
			           strerror(errno));
			continue;
		}
		/* The main file (a "*.yaml" beside it) or a file two patterns match is
		 * read once. */
		for (size_t j = 0; j < l->n_seen; j++)
			dup = dup || same_file(&l->seen[j], &st);
		if (dup)
			continue;
		if (l->budget.files == YDOC_MAX_FILES) {
			yerror(l->diag, yd, n, path,
			       "the include patterns match more than %d files, the most a "
			       "configuration may include",
			       YDOC_MAX_FILES);
			break;
		}
		l->budget.files++;
		v = realloc(l->seen, (l->n_seen + 1) * sizeof(*v));
		if (!v) {
			yerror(l->diag, yd, n, path, "out of memory");
			break;
		}
		l->seen = v;
		v[l->n_seen++] = st;
		load_include(l, match);
	}
out:
	globfree(&g);
	free(full);
	free(dir_copy);
}

void config_process_include(struct loader *l, struct ydoc *yd, yaml_node_t *v)
{
	char ipath[CONFIG_PATH_MAX];
	size_t i = 0;

	if (v->type == YAML_SEQUENCE_NODE) {
		ylist_for_each(v, it)
		{
			snprintf(ipath, sizeof(ipath), "include[%zu]", i++);
			if (i > YDOC_MAX_FILES) {
				yerror(l->diag, yd, ynode(yd, *it), ipath,
				       "more than %d include patterns", YDOC_MAX_FILES);
				break;
			}
			include_pattern(l, yd, ynode(yd, *it), ipath);
		}
	} else if (v->type == YAML_SCALAR_NODE && !yis_null(v)) {
		include_pattern(l, yd, v, "include");
	} else {
		yerror(l->diag, yd, v, "include",
		       "expected a file pattern or a list of patterns, got %s", ytype_name(v));
	}
}
