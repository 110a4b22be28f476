/*
 * The service keys that `defaults:` may set too (identity, environment, resource
 * limits, timeouts, MPM): each parsed once per map into a struct svc_part, so that an
 * error in `defaults:` is reported once and not once per service.
 */
#include <stdlib.h>
#include <string.h>

#include "superserverd/config_int.h"
#include "superserverd/units.h"

#define DURATION_MAX (365 * 86400 * USEC_PER_SEC)

const char *const config_part_keys[] = {
        "user",  "group",  "groups",         "capabilities",     "environment", "pass_environment",
        "umask", "nice",   "rlimits",        "shutdown_timeout", "limits",      "access",
        "mpm",   "banner", "banner_success", "banner_fail",      NULL,
};

struct pctx {
	struct loader *l;
	struct ydoc *yd;
	const char *path; /* of the value */
	bool in_defaults;
	struct svc_part *p;
};

/* Marks F as given at V; it stays BAD unless the parser reaches the end. */
static void begin(struct pctx *c, struct field *f, yaml_node_t *v)
{
	f->st = FIELD_BAD;
	f->pos = ypos(c->yd, v);
}

/* When the daemon is not root its own identity applies and defaults.user, group and
 * groups are ignored: the same file then works both ways. Only their shape is checked. */
static bool identity_ignored(struct pctx *c)
{
	return c->in_defaults && !c->l->root;
}

static void parse_user(struct pctx *c, yaml_node_t *v)
{
	struct svc_part *p = c->p;

	if (identity_ignored(c)) {
		ystring(c->yd, v, c->path, c->l->diag);
		return;
	}
	begin(c, &p->f_user, v);
	if (config_lookup_user(c->l, c->yd, v, c->path, &p->user_name, &p->uid, &p->user_gid) == 0)
		p->f_user.st = FIELD_SET;
}

static void parse_group(struct pctx *c, yaml_node_t *v)
{
	struct svc_part *p = c->p;

	if (identity_ignored(c)) {
		ystring(c->yd, v, c->path, c->l->diag);
		return;
	}
	begin(c, &p->f_group, v);
	if (config_lookup_group(c->l, c->yd, v, c->path, &p->group_name, &p->gid) == 0)
		p->f_group.st = FIELD_SET;
}

static void parse_groups(struct pctx *c, yaml_node_t *v)
{
	struct svc_part *p = c->p;
	char ipath[CONFIG_PATH_MAX];
	bool ok = true;
	size_t i = 0;

	if (!identity_ignored(c))
		begin(c, &p->f_groups, v);
	if (!yexpect(c->yd, v, YAML_SEQUENCE_NODE, c->path, c->l->diag))
		return;
	if (identity_ignored(c)) {
		ylist_for_each(v, it)
		{
			snprintf(ipath, sizeof(ipath), "%s[%zu]", c->path, i++);
			ystring(c->yd, ynode(c->yd, *it), ipath, c->l->diag);
		}
		return;
	}
	p->groups = calloc(ylist_len(v) + 1, sizeof(gid_t));
	if (!p->groups) {
		yerror(c->l->diag, c->yd, v, c->path, "out of memory");
		return;
	}
	ylist_for_each(v, it)
	{
		snprintf(ipath, sizeof(ipath), "%s[%zu]", c->path, i++);
		if (config_lookup_group(c->l, c->yd, ynode(c->yd, *it), ipath, NULL,
		                        &p->groups[p->n_groups]) < 0)
			ok = false;
		else
			p->n_groups++;
	}
	if (ok)
		p->f_groups.st = FIELD_SET;
}

static void parse_caps(struct pctx *c, yaml_node_t *v)
{
	struct svc_part *p = c->p;
	char ipath[CONFIG_PATH_MAX];
	bool ok = true;
	size_t i = 0;

	begin(c, &p->f_caps, v);
	if (!yexpect(c->yd, v, YAML_SEQUENCE_NODE, c->path, c->l->diag))
		return;
	p->caps = 0;
	ylist_for_each(v, it)
	{
		yaml_node_t *n = ynode(c->yd, *it);
		const char *s;
		int cap;

		snprintf(ipath, sizeof(ipath), "%s[%zu]", c->path, i++);
		s = ystring(c->yd, n, ipath, c->l->diag);
		if (!s) {
			ok = false;
		} else if (units_parse_capability(s, &cap) < 0) {
			yerror(c->l->diag, c->yd, n, ipath,
			       "unknown capability '%s' (expected a name such as "
			       "CAP_NET_BIND_SERVICE or net_bind_service)",
			       s);
			ok = false;
		} else {
			p->caps |= 1ULL << cap;
		}
	}
	if (ok)
		p->f_caps.st = FIELD_SET;
}

static bool valid_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void parse_env(struct pctx *c, yaml_node_t *v)
{
	struct svc_part *p = c->p;
	char epath[CONFIG_PATH_MAX];

	if (!yexpect(c->yd, v, YAML_MAPPING_NODE, c->path, c->l->diag))
		return;
	ymap_check(c->yd, v, c->path, NULL, NULL, c->l->diag);
	p->env = calloc((size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start) + 1,
	                sizeof(*p->env));
	if (!p->env) {
		yerror(c->l->diag, c->yd, v, c->path, "out of memory");
		return;
	}
	ymap_for_each(v, pair)
	{
		const char *name = ypair_key(c->yd, pair), *value;
		yaml_node_t *kn = ynode(c->yd, pair->key), *vn = ynode(c->yd, pair->value);
		struct config_kv *kv = &p->env[p->n_env];

		if (!name || !config_pair_is_first(c->yd, v, pair))
			continue;
		config_subpath(epath, c->path, name);
		if (!valid_env_name(name)) {
			yerror(c->l->diag, c->yd, kn, c->path,
			       "invalid variable name '%s' (expected letters, digits and _, not "
			       "starting with a digit)",
			       name);
			continue;
		}
		if (yis_null(vn)) {
			yerror(c->l->diag, c->yd, vn, epath,
			       "expected a string, got nothing (write '' for an empty value)");
			continue;
		}
		value = ystring(c->yd, vn, epath, c->l->diag);
		if (!value)
			continue;
		kv->key = strdup(name);
		kv->value = strdup(value);
		kv->pos = ypos(c->yd, kn);
		if (!kv->key || !kv->value) {
			free(kv->key);
			free(kv->value);
			yerror(c->l->diag, c->yd, vn, epath, "out of memory");
			continue;
		}
		p->n_env++;
	}
}

static void parse_pass_env(struct pctx *c, yaml_node_t *v)
{
	struct svc_part *p = c->p;
	char ipath[CONFIG_PATH_MAX];
	bool ok = true;
	size_t i = 0;

	begin(c, &p->f_pass_env, v);
	if (!yexpect(c->yd, v, YAML_SEQUENCE_NODE, c->path, c->l->diag))
		return;
	p->pass_env = calloc(ylist_len(v) + 1, sizeof(char *));
	if (!p->pass_env) {
		yerror(c->l->diag, c->yd, v, c->path, "out of memory");
		return;
	}
	ylist_for_each(v, it)
	{
		yaml_node_t *n = ynode(c->yd, *it);
		const char *s;

		snprintf(ipath, sizeof(ipath), "%s[%zu]", c->path, i++);
		s = ystring(c->yd, n, ipath, c->l->diag);
		if (s && !valid_env_name(s)) {
			yerror(c->l->diag, c->yd, n, ipath,
			       "invalid variable name '%s' (expected letters, digits and _, not "
			       "starting with a digit)",
			       s);
			s = NULL;
		}
		if (!s) {
			ok = false;
			continue;
		}
		p->pass_env[p->n_pass_env] = strdup(s);
		if (!p->pass_env[p->n_pass_env]) {
			yerror(c->l->diag, c->yd, n, ipath, "out of memory");
			ok = false;
			continue;
		}
		p->n_pass_env++;
	}
	if (ok)
		p->f_pass_env.st = FIELD_SET;
}

static void parse_umask(struct pctx *c, yaml_node_t *v)
{
	const char *s;
	unsigned m;

	begin(c, &c->p->f_umask, v);
	s = ystring(c->yd, v, c->path, c->l->diag);
	if (!s)
		return;
	if (units_parse_mode(s, &m) < 0 || m > 0777) {
		yerror(c->l->diag, c->yd, v, c->path,
		       "expected an octal umask between 0000 and 0777 such as 0022, got '%s'", s);
		return;
	}
	c->p->umask = (mode_t)m;
	c->p->f_umask.st = FIELD_SET;
}

static void parse_nice(struct pctx *c, yaml_node_t *v)
{
	char parent[CONFIG_PATH_MAX];
	const char *s;
	int64_t n;

	begin(c, &c->p->f_nice, v);
	s = ystring(c->yd, v, c->path, c->l->diag);
	if (!s)
		return;
	if (units_parse_int(s, INT64_MIN, INT64_MAX, &n) < 0) {
		yerror(c->l->diag, c->yd, v, c->path, "expected a number, got '%s'", s);
		return;
	}
	if (n < -20 || n > 19) {
		config_parent_path(parent, c->path);
		yerror(c->l->diag, c->yd, v, parent, "nice must be between -20 and 19 (got %s)", s);
		return;
	}
	c->p->nice = (int)n;
	c->p->f_nice.st = FIELD_SET;
}

/* A duration setting, at most a year so that adding it to a clock cannot overflow. */
int config_duration(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                    const char *key, uint64_t *usec_r)
{
	const char *s = ystring(yd, v, path, l->diag);
	char parent[CONFIG_PATH_MAX];

	if (!s)
		return -1;
	if (units_parse_duration(s, usec_r) < 0) {
		yerror(l->diag, yd, v, path,
		       "expected a duration such as 500ms, 30s, 5m or 1h, got '%s'", s);
		return -1;
	}
	if (*usec_r > DURATION_MAX) {
		config_parent_path(parent, path);
		yerror(l->diag, yd, v, parent, "%s must be at most 365d (got %s)", key, s);
		return -1;
	}
	return 0;
}

static void parse_shutdown(struct pctx *c, yaml_node_t *v)
{
	begin(c, &c->p->f_shutdown, v);
	if (config_duration(c->l, c->yd, v, c->path, "shutdown_timeout", &c->p->shutdown_usec) == 0)
		c->p->f_shutdown.st = FIELD_SET;
}

static void parse_limits(struct pctx *c, yaml_node_t *v)
{
	config_limits_parse(c->l, c->yd, v, c->path, c->p);
}

static void parse_access(struct pctx *c, yaml_node_t *v)
{
	config_access_parse(c->l, c->yd, v, c->path, c->p);
}

static const char *const rlimit_names[RLIM_COUNT] = {
        [RLIM_NOFILE] = "nofile", [RLIM_NPROC] = "nproc", [RLIM_AS] = "as",
        [RLIM_CPU] = "cpu",       [RLIM_CORE] = "core",
};

static int rlimit_value(struct pctx *c, int res, yaml_node_t *v, const char *path, rlim_t *r)
{
	bool bytes = res == RLIM_AS || res == RLIM_CORE;
	const char *s = ystring(c->yd, v, path, c->l->diag);
	uint64_t n;
	int ok;

	if (!s)
		return -1;
	ok = bytes ? units_parse_size(s, &n) : units_parse_uint(s, UINT64_MAX, &n);
	if (ok < 0 && (strcmp(s, "unlimited") == 0 || strcmp(s, "infinity") == 0)) {
		n = UINT64_MAX;
		ok = 0;
	}
	if (ok < 0) {
		yerror(c->l->diag, c->yd, v, path, "expected %s or unlimited, got '%s'",
		       bytes             ? "a size such as 64M"
		       : res == RLIM_CPU ? "seconds"
		                         : "a number",
		       s);
		return -1;
	}
	if (n == UINT64_MAX && res == RLIM_NOFILE) {
		char parent[CONFIG_PATH_MAX];
		config_parent_path(parent, path);
		yerror(c->l->diag, c->yd, v, parent,
		       "nofile cannot be unlimited (the kernel caps it at fs.nr_open)");
		return -1;
	}
	*r = n == UINT64_MAX ? RLIM_INFINITY : (rlim_t)n;
	return 0;
}

static void parse_one_rlimit(struct pctx *c, int res, yaml_node_t *v, const char *path)
{
	static const char *const keys[] = {"soft", "hard", NULL};
	struct rlimit *rl = &c->p->rlim_val[res];
	char where[CONFIG_PATH_MAX + 3], kpath[CONFIG_PATH_MAX];
	yaml_node_t *soft, *hard;
	bool ok = true;

	begin(c, &c->p->f_rlim[res], v);
	if (v->type != YAML_MAPPING_NODE) {
		if (rlimit_value(c, res, v, path, &rl->rlim_cur) == 0) {
			rl->rlim_max = rl->rlim_cur;
			c->p->f_rlim[res].st = FIELD_SET;
		}
		return;
	}
	snprintf(where, sizeof(where), "in %s", path);
	ymap_check(c->yd, v, path, where, keys, c->l->diag);
	soft = ymap_get(c->yd, v, "soft", NULL);
	hard = ymap_get(c->yd, v, "hard", NULL);
	if (!soft || !hard) {
		yerror(c->l->diag, c->yd, v, path, "expected both soft and hard");
		return;
	}
	config_subpath(kpath, path, "soft");
	ok = rlimit_value(c, res, soft, kpath, &rl->rlim_cur) == 0;
	config_subpath(kpath, path, "hard");
	ok = rlimit_value(c, res, hard, kpath, &rl->rlim_max) == 0 && ok;
	if (!ok)
		return;
	if (rl->rlim_cur > rl->rlim_max) {
		yerror(c->l->diag, c->yd, soft, path,
		       "the soft limit %s is above the hard limit %s",
		       (const char *)soft->data.scalar.value,
		       (const char *)hard->data.scalar.value);
		return;
	}
	c->p->f_rlim[res].st = FIELD_SET;
}

static void parse_rlimits(struct pctx *c, yaml_node_t *v)
{
	static const char *const keys[] = {"nofile", "nproc", "as", "cpu", "core", NULL};
	char where[CONFIG_PATH_MAX + 3], kpath[CONFIG_PATH_MAX];

	if (!yexpect(c->yd, v, YAML_MAPPING_NODE, c->path, c->l->diag))
		return;
	snprintf(where, sizeof(where), "in %s", c->path);
	ymap_check(c->yd, v, c->path, where, keys, c->l->diag);
	for (int res = 0; res < RLIM_COUNT; res++) {
		yaml_node_t *n = ymap_get(c->yd, v, rlimit_names[res], NULL);
		if (!n)
			continue;
		config_subpath(kpath, c->path, rlimit_names[res]);
		parse_one_rlimit(c, res, n, kpath);
	}
}

static void parse_mpm(struct pctx *c, yaml_node_t *v)
{
	config_mpm_parse(c->l, c->yd, v, c->path, c->p);
}

static void parse_banner_file(struct pctx *c, yaml_node_t *v, enum banner_kind kind)
{
	config_banner_parse(c->l, c->yd, v, c->path, kind, c->p);
}

static void parse_banner(struct pctx *c, yaml_node_t *v)
{
	parse_banner_file(c, v, BANNER_CONNECT);
}

static void parse_banner_success(struct pctx *c, yaml_node_t *v)
{
	parse_banner_file(c, v, BANNER_SUCCESS);
}

static void parse_banner_fail(struct pctx *c, yaml_node_t *v)
{
	parse_banner_file(c, v, BANNER_FAIL);
}

static const struct {
	const char *key;
	void (*parse)(struct pctx *c, yaml_node_t *v);
} part_parsers[] = {
        {"user", parse_user},
        {"group", parse_group},
        {"groups", parse_groups},
        {"capabilities", parse_caps},
        {"environment", parse_env},
        {"pass_environment", parse_pass_env},
        {"umask", parse_umask},
        {"nice", parse_nice},
        {"rlimits", parse_rlimits},
        {"shutdown_timeout", parse_shutdown},
        {"limits", parse_limits},
        {"access", parse_access},
        {"mpm", parse_mpm},
        {"banner", parse_banner},
        {"banner_success", parse_banner_success},
        {"banner_fail", parse_banner_fail},
};

bool config_part_parse(struct loader *l, struct ydoc *yd, const char *key, yaml_node_t *v,
                       const char *path, bool in_defaults, struct svc_part *p)
{
	struct pctx c = {.l = l, .yd = yd, .path = path, .in_defaults = in_defaults, .p = p};

	for (size_t i = 0; i < sizeof(part_parsers) / sizeof(part_parsers[0]); i++)
		if (strcmp(part_parsers[i].key, key) == 0) {
			part_parsers[i].parse(&c, v);
			return true;
		}
	return false;
}

void config_part_free(struct svc_part *p)
{
	free(p->user_name);
	free(p->group_name);
	free(p->groups);
	for (size_t i = 0; i < p->n_env; i++) {
		free(p->env[i].key);
		free(p->env[i].value);
	}
	free(p->env);
	for (size_t i = 0; i < p->n_pass_env; i++)
		free(p->pass_env[i]);
	free(p->pass_env);
	free(p->mpm_options);
	free(p->banner);
	for (int k = 0; k < BANNER_COUNT; k++)
		config_banner_free(&p->banner_file[k]);
	config_access_free(&p->access);
	memset(p, 0, sizeof(*p));
}
