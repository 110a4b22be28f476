/*
 * One service's own keys: where it listens (each entry parsed by config_listen.c), what
 * serves it (builtin, exec or module) and the handler's args. The keys it shares with
 * `defaults:` go through config_part.c and are merged by config_merge.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpm/mpm.h"
#include "services/args.h"
#include "services/builtins.h"
#include "superserverd/config_int.h"

#define N_ALLOWED 32 /* room for every service key */

const char *const config_service_keys[] = {"listen", "builtin",         "exec", "module",
                                           "args",   "log_connections", NULL};

struct sctx {
	struct loader *l;
	struct ydoc *yd;
	struct service_conf *sc;
	const char *path; /* "services.NAME" */
	yaml_node_t *map; /* the service's map */
};

/* A file named by an absolute path that exists; `what` is "program" or "module". Returns
 * 0 with *st filled, or -1 after reporting why not. */
static int check_abs_file(struct sctx *c, yaml_node_t *n, const char *path, const char *what,
                          const char *file, struct stat *st)
{
	if (file[0] != '/') {
		yerror(c->l->diag, c->yd, n, path,
		       "the %s '%s' is a relative path (expected an absolute path)", what, file);
		return -1;
	}
	if (stat(file, st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			yerror(c->l->diag, c->yd, n, path, "the %s '%s' does not exist", what,
			       file);
		else
			yerror(c->l->diag, c->yd, n, path, "cannot check the %s '%s': %s", what,
			       file, strerror(errno));
		return -1;
	}
	return 0;
}

static void check_program(struct sctx *c, yaml_node_t *n, const char *path, const char *prog)
{
	struct stat st;

	if (check_abs_file(c, n, path, "program", prog, &st) < 0)
		return;
	if (!S_ISREG(st.st_mode) || access(prog, X_OK) < 0)
		yerror(c->l->diag, c->yd, n, path, "the program '%s' is not executable%s", prog,
		       S_ISREG(st.st_mode) ? "" : " (not a regular file)");
}

static void parse_exec(struct sctx *c, yaml_node_t *v, const char *path)
{
	struct service_conf *sc = c->sc;
	char ipath[CONFIG_PATH_MAX];
	yaml_node_item_t one, *items, *end;
	size_t n = 0;
	bool ok = true;

	if (v->type == YAML_SCALAR_NODE && !yis_null(v)) {
		one = (yaml_node_item_t)(v - c->yd->doc.nodes.start) + 1;
		items = &one;
		end = items + 1;
	} else if (v->type == YAML_SEQUENCE_NODE && ylist_len(v) > 0) {
		items = v->data.sequence.items.start;
		end = v->data.sequence.items.top;
	} else {
		yerror(c->l->diag, c->yd, v, path,
		       "expected a program path or a non-empty list [program, arguments...], got "
		       "%s",
		       v->type == YAML_SEQUENCE_NODE ? "an empty list" : ytype_name(v));
		return;
	}
	sc->exec_argv = calloc((size_t)(end - items) + 1, sizeof(char *));
	if (!sc->exec_argv) {
		yerror(c->l->diag, c->yd, v, path, "out of memory");
		return;
	}
	for (yaml_node_item_t *it = items; it < end; it++) {
		yaml_node_t *node = ynode(c->yd, *it);
		const char *s;

		if (v->type == YAML_SEQUENCE_NODE)
			snprintf(ipath, sizeof(ipath), "%s[%zu]", path, (size_t)(it - items));
		else
			snprintf(ipath, sizeof(ipath), "%s", path);
		s = ystring(c->yd, node, ipath, c->l->diag);
		if (!s) {
			ok = false;
			continue;
		}
		if (it == items)
			check_program(c, node, path, s);
		if (ok && !(sc->exec_argv[n++] = strdup(s))) {
			yerror(c->l->diag, c->yd, node, ipath, "out of memory");
			ok = false;
		}
	}
}

static void parse_args(struct sctx *c, yaml_node_t *v, const char *path)
{
	struct service_conf *sc = c->sc;
	char kpath[CONFIG_PATH_MAX];

	if (!yexpect(c->yd, v, YAML_MAPPING_NODE, path, c->l->diag))
		return;
	ymap_check(c->yd, v, path, NULL, NULL, c->l->diag);
	sc->args = calloc((size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start) + 1,
	                  sizeof(*sc->args));
	if (!sc->args) {
		yerror(c->l->diag, c->yd, v, path, "out of memory");
		return;
	}
	ymap_for_each(v, p)
	{
		const char *key = ypair_key(c->yd, p), *value;
		struct config_kv *kv = &sc->args[sc->n_args];

		if (!key || !config_pair_is_first(c->yd, v, p))
			continue;
		config_subpath(kpath, path, key);
		value = ystring(c->yd, ynode(c->yd, p->value), kpath, c->l->diag);
		if (!value)
			continue;
		kv->key = strdup(key);
		kv->value = strdup(value);
		kv->pos = ypos(c->yd, ynode(c->yd, p->key));
		if (!kv->key || !kv->value) {
			free(kv->key);
			free(kv->value);
			yerror(c->l->diag, c->yd, v, kpath, "out of memory");
			continue;
		}
		sc->n_args++;
	}
}

static void parse_builtin(struct sctx *c, yaml_node_t *v, const char *path)
{
	const char *s = ystring(c->yd, v, path, c->l->diag);

	if (!s)
		return;
	if (!builtin_find(s)) {
		yerror(c->l->diag, c->yd, v, path, "unknown built-in '%s' (expected one of: %s)", s,
		       builtin_names());
		return;
	}
	c->sc->builtin = strdup(s);
	if (!c->sc->builtin)
		yerror(c->l->diag, c->yd, v, path, "out of memory");
}

/* The file must exist and be readable here; whether the service's user can read it,
 * and whether it is a handler at all, is found out when the service process loads it
 * (never in the master: a module's constructors must not run with its privileges). */
static void check_module_file(struct sctx *c, yaml_node_t *n, const char *path, const char *so)
{
	struct stat st;

	if (check_abs_file(c, n, path, "module", so, &st) < 0)
		return;
	if (!S_ISREG(st.st_mode))
		yerror(c->l->diag, c->yd, n, path, "the module '%s' is not a regular file", so);
	else if (access(so, R_OK) < 0)
		yerror(c->l->diag, c->yd, n, path, "the module '%s' is not readable: %s", so,
		       strerror(errno));
}

static void parse_module_path(struct sctx *c, yaml_node_t *n, const char *path)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);

	if (!s)
		return;
	check_module_file(c, n, path, s);
	c->sc->module_path = strdup(s);
	if (!c->sc->module_path)
		yerror(c->l->diag, c->yd, n, path, "out of memory");
}

/* `module: PATH` or `module: {path: PATH, args: {...}}`. Args may also be the service's
 * own `args:` (as for a builtin), but not both. */
static void parse_module(struct sctx *c, yaml_node_t *v, const char *path)
{
	static const char *const keys[] = {"path", "args", NULL};
	char where[CONFIG_PATH_MAX + 3], kpath[CONFIG_PATH_MAX];
	yaml_node_t *n, *kn;

	if (v->type == YAML_SCALAR_NODE && !yis_null(v)) {
		parse_module_path(c, v, path);
		return;
	}
	if (v->type != YAML_MAPPING_NODE) {
		yerror(c->l->diag, c->yd, v, path,
		       "expected a module path or a map with 'path' and 'args', got %s",
		       ytype_name(v));
		return;
	}
	snprintf(where, sizeof(where), "in %s", path);
	ymap_check(c->yd, v, path, where, keys, c->l->diag);
	if (!(n = ymap_get(c->yd, v, "path", NULL))) {
		yerror(c->l->diag, c->yd, v, path, "expected 'path' (the module's .so file)");
	} else {
		config_subpath(kpath, path, "path");
		parse_module_path(c, n, kpath);
	}
	if (!(n = ymap_get(c->yd, v, "args", &kn)))
		return;
	if (ymap_get(c->yd, c->map, "args", NULL)) {
		yerror(c->l->diag, c->yd, kn, path,
		       "args given twice (here and in the service): keep one");
		return;
	}
	config_subpath(kpath, path, "args");
	parse_args(c, n, kpath);
}

/* Which handler keys the service has, in file order; reports zero or several. */
static void check_handler(struct sctx *c, yaml_node_t *m)
{
	static const char *const kinds[] = {"builtin", "exec", "module"};
	const char *first = NULL;

	ymap_for_each(m, p)
	{
		const char *key = ypair_key(c->yd, p);
		if (!key || !config_pair_is_first(c->yd, m, p))
			continue;
		for (int k = 0; k < 3; k++) {
			if (strcmp(key, kinds[k]) != 0)
				continue;
			if (!first) {
				first = kinds[k];
				c->sc->kind = (enum handler_kind)k;
			} else {
				yerror(c->l->diag, c->yd, ynode(c->yd, p->key), "",
				       "service '%s' has both %s and %s (expected exactly one of "
				       "builtin, exec or module)",
				       c->sc->name, first, key);
			}
		}
	}
	if (!first)
		diag_error(c->l->diag, &c->sc->pos,
		           "service '%s' needs one of builtin, exec or module", c->sc->name);
}

static void parse_own_key(struct sctx *c, const char *key, yaml_node_t *kn, yaml_node_t *v,
                          struct svc_part *own)
{
	char kpath[CONFIG_PATH_MAX];

	config_subpath(kpath, c->path, key);
	if (strcmp(key, "listen") == 0) {
		config_listen_parse(c->l, c->yd, v, kpath, c->sc);
	} else if (strcmp(key, "builtin") == 0) {
		parse_builtin(c, v, kpath);
	} else if (strcmp(key, "exec") == 0) {
		parse_exec(c, v, kpath);
	} else if (strcmp(key, "module") == 0) {
		parse_module(c, v, kpath);
	} else if (strcmp(key, "args") == 0) {
		parse_args(c, v, kpath);
	} else if (strcmp(key, "log_connections") == 0) {
		config_connlog_parse(c->l, c->yd, v, kpath, &c->sc->connlog, &c->sc->connlog_path);
	} else {
		config_part_parse(c->l, c->yd, key, v, kpath, false, own);
	}
}

/* The built-in's own reading of its args, at the key at fault (or at `args`, or at the
 * service when a required key is missing). */
static void check_builtin_args(struct loader *l, const struct svc_ref *ref,
                               const struct service_conf *sc, yaml_node_t *m, const char *path)
{
	struct ss_args args;
	const char *key;
	char err[512];
	yaml_node_t *kn;

	args_view(&args, sc->args, sc->n_args);
	if (builtin_check_args(sc->builtin, &args, &key, err, sizeof(err)) == 0)
		return;
	for (size_t i = 0; key && i < sc->n_args; i++)
		if (strcmp(sc->args[i].key, key) == 0) {
			diag_error(l->diag, &sc->args[i].pos, "%s.args.%s: %s", path, key, err);
			return;
		}
	if (ymap_get(ref->yd, m, "args", &kn))
		yerror(l->diag, ref->yd, kn, path, "%s", err);
	else
		diag_error(l->diag, &sc->pos, "%s: %s", path, err);
}

void config_service_build(struct loader *l, const struct svc_ref *ref, struct service_conf *sc)
{
	const char *allowed[N_ALLOWED];
	char path[CONFIG_PATH_MAX], where[CONFIG_PATH_MAX + 16];
	struct sctx c = {.l = l, .yd = ref->yd, .sc = sc, .path = path, .map = ref->value};
	struct svc_part own = {0};
	yaml_node_t *m = ref->value, *kn;
	size_t n = 0;

	sc->pos = ypos(ref->yd, ref->key);
	sc->name = strdup(ref->name);
	if (!sc->name) {
		diag_error(l->diag, &sc->pos, "out of memory");
		return;
	}
	config_subpath(path, "services", ref->name);
	if (!yexpect(ref->yd, m, YAML_MAPPING_NODE, path, l->diag))
		return;

	for (size_t i = 0; config_service_keys[i] && n + 1 < N_ALLOWED; i++)
		allowed[n++] = config_service_keys[i];
	for (size_t i = 0; config_part_keys[i] && n + 1 < N_ALLOWED; i++)
		allowed[n++] = config_part_keys[i];
	allowed[n] = NULL;
	snprintf(where, sizeof(where), "in service '%s'", sc->name);
	ymap_check(ref->yd, m, path, where, allowed, l->diag);

	check_handler(&c, m);
	ymap_for_each(m, p)
	{
		const char *key = ypair_key(ref->yd, p);
		if (key && config_pair_is_first(ref->yd, m, p))
			parse_own_key(&c, key, ynode(ref->yd, p->key), ynode(ref->yd, p->value),
			              &own);
	}
	if (!ymap_get(ref->yd, m, "listen", NULL))
		diag_error(l->diag, &sc->pos,
		           "service '%s' needs listen (an address or a list of addresses)",
		           sc->name);
	if (sc->kind == HANDLER_EXEC && ymap_get(ref->yd, m, "args", &kn))
		yerror(l->diag, ref->yd, kn, path,
		       "args are for module services (a program takes its arguments in exec)");
	/* A typo is never silently ignored; neither is an option no built-in reads. */
	if (sc->kind == HANDLER_BUILTIN && ymap_get(ref->yd, m, "args", &kn)) {
		const struct ss_handler *h = builtin_find(sc->builtin);
		if (h && !h->setup)
			yerror(l->diag, ref->yd, kn, path, "the built-in '%s' takes no args",
			       sc->builtin);
	}
	if (sc->kind == HANDLER_BUILTIN && sc->builtin)
		check_builtin_args(l, ref, sc, m, path);
	config_service_merge(l, sc, &own);
	config_part_free(&own);
}

void config_service_free(struct service_conf *sc)
{
	free(sc->name);
	for (size_t i = 0; i < sc->n_listen; i++) {
		free(sc->listen[i].trusted_proxies);
		config_tls_listen_free(&sc->listen[i]);
	}
	free(sc->listen);
	free(sc->builtin);
	if (sc->exec_argv)
		for (char **a = sc->exec_argv; *a; a++)
			free(*a);
	free(sc->exec_argv);
	free(sc->module_path);
	for (size_t i = 0; i < sc->n_args; i++) {
		free(sc->args[i].key);
		free(sc->args[i].value);
	}
	free(sc->args);
	free(sc->mpm.options);
	free(sc->user);
	free(sc->group);
	free(sc->groups);
	for (size_t i = 0; i < sc->n_environment; i++) {
		free(sc->environment[i].key);
		free(sc->environment[i].value);
	}
	free(sc->environment);
	for (size_t i = 0; i < sc->n_pass_environment; i++)
		free(sc->pass_environment[i]);
	free(sc->pass_environment);
	free(sc->limits.banner);
	for (int k = 0; k < BANNER_COUNT; k++)
		config_banner_free(&sc->banners[k]);
	config_access_free(&sc->access);
	free(sc->connlog_path);
	free(sc->fingerprint);
	memset(sc, 0, sizeof(*sc));
}
