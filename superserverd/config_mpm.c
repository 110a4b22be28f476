/*
 * `mpm:` parsing driven by the model's own option table (mpm/mpm.h): the loader knows
 * no model by name, so a new model brings its options without touching this file.
 */
#include <stdlib.h>
#include <string.h>

#include "mpm/mpm.h"
#include "superserverd/config_int.h"
#include "superserverd/units.h"

void *config_mpm_options_new(const struct mpm_ops *ops)
{
	unsigned char *o = calloc(1, ops->options_size ? ops->options_size : 1);

	if (!o)
		return NULL;
	for (size_t i = 0; i < ops->n_options; i++) {
		const struct mpm_option *opt = &ops->options[i];
		if (opt->type == MPM_OPT_BOOL) {
			bool b = opt->def != 0;
			memcpy(o + opt->offset, &b, sizeof(b));
		} else {
			memcpy(o + opt->offset, &opt->def, sizeof(opt->def));
		}
	}
	return o;
}

void *config_mpm_options_dup(const struct mpm_ops *ops, const void *options)
{
	size_t size = ops->options_size ? ops->options_size : 1;
	void *o = malloc(size);

	if (o)
		memcpy(o, options, size);
	return o;
}

static void range_error(struct loader *l, struct ydoc *yd, yaml_node_t *n, const char *path,
                        const struct mpm_option *opt, const char *given)
{
	char lo[32], hi[32];

	if (opt->type == MPM_OPT_DURATION) {
		units_format_duration(opt->min, lo, sizeof(lo));
		units_format_duration(opt->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)opt->min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)opt->max);
	}
	yerror(l->diag, yd, n, path, "%s must be between %s and %s (got %s)", opt->key, lo, hi,
	       given);
}

/* One option value into the blob. PATH is the mpm map's, for range messages. */
static int parse_option(struct loader *l, struct ydoc *yd, yaml_node_t *n, const char *path,
                        const struct mpm_option *opt, unsigned char *o)
{
	char kpath[CONFIG_PATH_MAX];
	const char *s;
	uint64_t v;
	bool b;

	config_subpath(kpath, path, opt->key);
	s = ystring(yd, n, kpath, l->diag);
	if (!s)
		return -1;
	switch (opt->type) {
	case MPM_OPT_BOOL:
		if (units_parse_bool(s, &b) < 0) {
			yerror(l->diag, yd, n, kpath, "expected true or false, got '%s'", s);
			return -1;
		}
		memcpy(o + opt->offset, &b, sizeof(b));
		return 0;
	case MPM_OPT_UINT:
		if (units_parse_uint(s, UINT64_MAX, &v) < 0) {
			yerror(l->diag, yd, n, kpath, "expected a number, got '%s'", s);
			return -1;
		}
		break;
	case MPM_OPT_DURATION:
		if (units_parse_duration(s, &v) < 0) {
			yerror(l->diag, yd, n, kpath,
			       "expected a duration such as 500ms, 30s or 5m, got '%s'", s);
			return -1;
		}
		break;
	default:
		yerror(l->diag, yd, n, kpath, "option of an unknown type in model table");
		return -1;
	}
	if (v < opt->min || v > opt->max) {
		range_error(l, yd, n, path, opt, s);
		return -1;
	}
	memcpy(o + opt->offset, &v, sizeof(v));
	return 0;
}

static void parse_options(struct loader *l, struct ydoc *yd, yaml_node_t *m, const char *path,
                          const struct mpm_ops *ops, struct svc_part *p)
{
	const char **allowed = calloc(ops->n_options + 2, sizeof(*allowed));
	char where[CONFIG_PATH_MAX + 3];
	bool ok = true;

	if (!allowed) {
		yerror(l->diag, yd, m, path, "out of memory");
		return;
	}
	allowed[0] = "model";
	for (size_t i = 0; i < ops->n_options; i++)
		allowed[i + 1] = ops->options[i].key;
	snprintf(where, sizeof(where), "in %s", path);
	ymap_check(yd, m, path, where, allowed, l->diag);
	free(allowed);
	for (size_t i = 0; i < ops->n_options; i++) {
		yaml_node_t *n = ymap_get(yd, m, ops->options[i].key, NULL);
		if (n && parse_option(l, yd, n, path, &ops->options[i], p->mpm_options) < 0)
			ok = false;
	}
	if (ok)
		p->f_mpm.st = FIELD_SET;
}

void config_mpm_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                      struct svc_part *p)
{
	yaml_node_t *model = v, *map = NULL;
	const struct mpm_ops *ops;
	const char *name;

	p->f_mpm.st = FIELD_BAD;
	p->f_mpm.pos = ypos(yd, v);
	if (v->type == YAML_MAPPING_NODE) {
		map = v;
		model = ymap_get(yd, map, "model", NULL);
		if (!model) {
			yerror(l->diag, yd, v, path, "expected 'model' (one of: %s)", mpm_names());
			ymap_check(yd, map, path, NULL, NULL, l->diag);
			return;
		}
	} else if (v->type != YAML_SCALAR_NODE || yis_null(v)) {
		yerror(l->diag, yd, v, path, "expected a model name or a map with 'model', got %s",
		       ytype_name(v));
		return;
	}
	name = ystring(yd, model, path, l->diag);
	if (!name)
		return;
	ops = mpm_find(name);
	if (!ops) {
		yerror(l->diag, yd, model, path, "unknown model '%s' (expected one of: %s)", name,
		       mpm_names());
		if (map)
			ymap_check(yd, map, path, NULL, NULL, l->diag);
		return;
	}
	p->mpm_ops = ops;
	p->mpm_options = config_mpm_options_new(ops);
	if (!p->mpm_options) {
		yerror(l->diag, yd, v, path, "out of memory");
		return;
	}
	if (map)
		parse_options(l, yd, map, path, ops, p);
	else
		p->f_mpm.st = FIELD_SET;
}
