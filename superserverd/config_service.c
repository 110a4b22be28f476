/*
 * One service's own keys: where it listens, what serves it (builtin, exec or module)
 * and the handler's args. The keys it shares with `defaults:` go through
 * config_part.c and are merged by config_merge.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpm/mpm.h"
#include "services/args.h"
#include "services/builtins.h"
#include "superserverd/config_int.h"
#include "superserverd/units.h"

#define BACKLOG_DEFAULT       4096
#define PROXY_TIMEOUT_DEFAULT (5 * USEC_PER_SEC)
#define PROXY_TIMEOUT_MIN     USEC_PER_MSEC
#define PROXY_TIMEOUT_MAX     (60 * USEC_PER_SEC)
#define N_ALLOWED             32 /* room for every service key */

const char *const config_service_keys[] = {"listen", "builtin",         "exec", "module",
                                           "args",   "log_connections", NULL};

struct sctx {
	struct loader *l;
	struct ydoc *yd;
	struct service_conf *sc;
	const char *path; /* "services.NAME" */
	yaml_node_t *map; /* the service's map */
};

static int parse_bool(struct sctx *c, yaml_node_t *n, const char *path, bool *r)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);

	if (!s)
		return -1;
	if (units_parse_bool(s, r) < 0) {
		yerror(c->l->diag, c->yd, n, path, "expected true or false, got '%s'", s);
		return -1;
	}
	return 0;
}

/* A socket file's owner: a user name, or any numeric uid (it need not have an entry). */
static int parse_owner(struct sctx *c, yaml_node_t *n, const char *path, uid_t *uid_r)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);
	uint64_t id;
	char *name = NULL;
	gid_t gid;

	if (!s)
		return -1;
	if (units_parse_uint(s, UINT32_MAX - 1, &id) == 0) {
		*uid_r = (uid_t)id;
		return 0;
	}
	if (config_lookup_user(c->l, c->yd, n, path, &name, uid_r, &gid) < 0)
		return -1;
	free(name);
	return 0;
}

static int parse_socket_group(struct sctx *c, yaml_node_t *n, const char *path, gid_t *gid_r)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);
	uint64_t id;

	if (!s)
		return -1;
	if (units_parse_uint(s, UINT32_MAX - 1, &id) == 0) {
		*gid_r = (gid_t)id;
		return 0;
	}
	return config_lookup_group(c->l, c->yd, n, path, NULL, gid_r);
}

static void parse_address(struct sctx *c, yaml_node_t *n, const char *path, struct listen_conf *lc)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);
	char err[512];

	if (s && addr_parse_named(s, config_port_lookup, c->l, &lc->addr, err, sizeof(err)) < 0)
		yerror(c->l->diag, c->yd, n, path, "%s", err);
}

/*
 * proxy_protocol, trusted_proxies and proxy_timeout of listen map M. Each mistake is
 * reported once: a key that depends on a bad or misplaced proxy_protocol says nothing.
 */
static void parse_listen_proxy(struct sctx *c, yaml_node_t *m, const char *path,
                               struct listen_conf *lc)
{
	char kpath[CONFIG_PATH_MAX];
	yaml_node_t *pp, *ppk, *tp, *tpk, *pt, *ptk;
	bool pp_ok = true; /* proxy_protocol absent, or valid where it is */
	uint64_t usec;

	if ((pp = ymap_get(c->yd, m, "proxy_protocol", &ppk))) {
		config_subpath(kpath, path, "proxy_protocol");
		pp_ok = parse_bool(c, pp, kpath, &lc->proxy_protocol) == 0;
		/* An address that failed to parse has no key: it was reported already. */
		if (pp_ok && lc->proxy_protocol && lc->addr.key[0] &&
		    (lc->addr.kind == ADDR_UNIX || lc->addr.socktype == SOCK_DGRAM)) {
			yerror(c->l->diag, c->yd, ppk, path,
			       "proxy_protocol is only for TCP addresses (%s is not one)",
			       lc->addr.key);
			pp_ok = false;
		}
		if (!pp_ok)
			lc->proxy_protocol = false;
	}
	if ((tp = ymap_get(c->yd, m, "trusted_proxies", &tpk)) && pp_ok) {
		config_subpath(kpath, path, "trusted_proxies");
		if (!lc->proxy_protocol)
			yerror(c->l->diag, c->yd, tpk, path,
			       "trusted_proxies needs proxy_protocol: true");
		else if (config_cidr_list(c->l, c->yd, tp, kpath, &lc->trusted_proxies,
		                          &lc->n_trusted_proxies) == 0 &&
		         !lc->n_trusted_proxies)
			yerror(c->l->diag, c->yd, tp, path,
			       "proxy_protocol needs trusted_proxies: the peers allowed to send "
			       "the "
			       "header");
	} else if (lc->proxy_protocol && !tp) {
		yerror(c->l->diag, c->yd, ppk, path,
		       "proxy_protocol needs trusted_proxies: the peers allowed to send the "
		       "header");
	}
	if ((pt = ymap_get(c->yd, m, "proxy_timeout", &ptk)) && pp_ok) {
		config_subpath(kpath, path, "proxy_timeout");
		if (!lc->proxy_protocol) {
			yerror(c->l->diag, c->yd, ptk, path,
			       "proxy_timeout needs proxy_protocol: true");
		} else if (config_duration(c->l, c->yd, pt, kpath, "proxy_timeout", &usec) == 0) {
			if (usec >= PROXY_TIMEOUT_MIN && usec <= PROXY_TIMEOUT_MAX)
				lc->proxy_timeout_usec = usec;
			else
				yerror(c->l->diag, c->yd, pt, path,
				       "proxy_timeout must be between 1ms and 60s (got %s)",
				       (const char *)pt->data.scalar.value);
		}
	}
}

/* receive_buffer / send_buffer KEY of listen map M: a size, at most INT_MAX / 2 (the
 * kernel doubles it). */
static void parse_buffer(struct sctx *c, yaml_node_t *m, const char *path, const char *key,
                         int *bytes_r)
{
	char kpath[CONFIG_PATH_MAX];
	yaml_node_t *n = ymap_get(c->yd, m, key, NULL);
	const char *s;
	uint64_t v;

	if (!n)
		return;
	config_subpath(kpath, path, key);
	if (!(s = ystring(c->yd, n, kpath, c->l->diag)))
		return;
	if (units_parse_size(s, &v) < 0)
		yerror(c->l->diag, c->yd, n, kpath, "expected a size such as 256K or 4M, got '%s'",
		       s);
	else if (v < 1024 || v > INT_MAX / 2)
		yerror(c->l->diag, c->yd, n, kpath, "%s must be between 1K and 1G (got %s)", key,
		       s);
	else
		*bytes_r = (int)v;
}

/* Keys that mean something only for a stream socket, on a datagram address: refused
 * rather than ignored, since the operator expected them to do something. */
static void stream_only(struct sctx *c, yaml_node_t *m, const char *path,
                        const struct listen_conf *lc)
{
	static const char *const keys[] = {"backlog", "nodelay", "keepalive"};
	yaml_node_t *kn;

	if (lc->addr.socktype != SOCK_DGRAM)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (ymap_get(c->yd, m, keys[i], &kn))
			yerror(c->l->diag, c->yd, kn, path,
			       "%s is only for stream sockets (%s is a datagram socket)", keys[i],
			       lc->addr.key);
}

static void parse_listen_map(struct sctx *c, yaml_node_t *m, const char *path,
                             struct listen_conf *lc)
{
	static const char *const keys[] = {
	        "address",        "backlog",         "reuseport",     "nodelay", "keepalive",
	        "receive_buffer", "send_buffer",     "mode",          "owner",   "group",
	        "proxy_protocol", "trusted_proxies", "proxy_timeout", NULL};
	static const char *const unix_only[] = {"mode", "owner", "group"};
	char where[CONFIG_PATH_MAX + 3], kpath[CONFIG_PATH_MAX];
	yaml_node_t *n, *kn;
	const char *s;

	snprintf(where, sizeof(where), "in %s", path);
	ymap_check(c->yd, m, path, where, keys, c->l->diag);
	n = ymap_get(c->yd, m, "address", NULL);
	if (!n) {
		yerror(c->l->diag, c->yd, m, path, "expected 'address'");
	} else {
		config_subpath(kpath, path, "address");
		parse_address(c, n, kpath, lc);
	}
	if ((n = ymap_get(c->yd, m, "backlog", NULL))) {
		uint64_t v;
		config_subpath(kpath, path, "backlog");
		s = ystring(c->yd, n, kpath, c->l->diag);
		if (s && units_parse_uint(s, UINT64_MAX, &v) < 0)
			yerror(c->l->diag, c->yd, n, kpath, "expected a number, got '%s'", s);
		else if (s && (v < 1 || v > 65535))
			yerror(c->l->diag, c->yd, n, path,
			       "backlog must be between 1 and 65535 (got %s)", s);
		else if (s) {
			lc->backlog = (int)v;
			lc->has_backlog = true;
		}
	}
	parse_buffer(c, m, path, "receive_buffer", &lc->receive_buffer);
	parse_buffer(c, m, path, "send_buffer", &lc->send_buffer);
	if ((n = ymap_get(c->yd, m, "reuseport", NULL))) {
		config_subpath(kpath, path, "reuseport");
		parse_bool(c, n, kpath, &lc->reuseport);
	}
	if ((n = ymap_get(c->yd, m, "nodelay", NULL))) {
		config_subpath(kpath, path, "nodelay");
		lc->has_nodelay = parse_bool(c, n, kpath, &lc->nodelay) == 0;
	}
	if ((n = ymap_get(c->yd, m, "keepalive", NULL))) {
		config_subpath(kpath, path, "keepalive");
		lc->has_keepalive = parse_bool(c, n, kpath, &lc->keepalive) == 0;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!(n = ymap_get(c->yd, m, unix_only[i], &kn)))
			continue;
		/* An address that failed to parse has no key: it was reported already. */
		if (lc->addr.kind != ADDR_UNIX && lc->addr.key[0]) {
			yerror(c->l->diag, c->yd, kn, path,
			       "%s is only for unix: addresses (%s is not one)", unix_only[i],
			       lc->addr.key);
			continue;
		}
		config_subpath(kpath, path, unix_only[i]);
		if (i == 0) {
			unsigned mode;
			s = ystring(c->yd, n, kpath, c->l->diag);
			if (s && units_parse_mode(s, &mode) < 0)
				yerror(c->l->diag, c->yd, n, kpath,
				       "expected an octal mode such as '0660', got '%s'", s);
			else if (s) {
				lc->mode = (mode_t)mode;
				lc->has_mode = true;
			}
		} else if (i == 1) {
			lc->has_owner = parse_owner(c, n, kpath, &lc->owner) == 0;
		} else {
			lc->has_group = parse_socket_group(c, n, kpath, &lc->group) == 0;
		}
	}
	parse_listen_proxy(c, m, path, lc);
	stream_only(c, m, path, lc);
}

static void parse_listen(struct sctx *c, yaml_node_t *v, const char *path)
{
	struct service_conf *sc = c->sc;
	char ipath[CONFIG_PATH_MAX];
	yaml_node_item_t one = 0, *items, *end;

	/* A single item, an address or a map, is a list of one. */
	if ((v->type == YAML_SCALAR_NODE && !yis_null(v)) || v->type == YAML_MAPPING_NODE) {
		one = (yaml_node_item_t)(v - c->yd->doc.nodes.start) + 1;
		items = &one;
		end = items + 1;
	} else if (v->type == YAML_SEQUENCE_NODE && ylist_len(v) > 0) {
		items = v->data.sequence.items.start;
		end = v->data.sequence.items.top;
	} else {
		yerror(c->l->diag, c->yd, v, path,
		       "expected an address or a non-empty list of addresses, got %s",
		       v->type == YAML_SEQUENCE_NODE ? "an empty list" : ytype_name(v));
		return;
	}
	sc->listen = calloc((size_t)(end - items), sizeof(*sc->listen));
	if (!sc->listen) {
		yerror(c->l->diag, c->yd, v, path, "out of memory");
		return;
	}
	for (yaml_node_item_t *it = items; it < end; it++) {
		yaml_node_t *n = ynode(c->yd, *it);
		struct listen_conf *lc = &sc->listen[sc->n_listen++];

		lc->backlog = BACKLOG_DEFAULT;
		lc->proxy_timeout_usec = PROXY_TIMEOUT_DEFAULT;
		lc->pos = ypos(c->yd, n);
		if (v->type == YAML_SEQUENCE_NODE)
			snprintf(ipath, sizeof(ipath), "%s[%zu]", path, (size_t)(it - items));
		else
			snprintf(ipath, sizeof(ipath), "%s", path);
		if (n->type == YAML_MAPPING_NODE)
			parse_listen_map(c, n, ipath, lc);
		else if (n->type == YAML_SCALAR_NODE && !yis_null(n))
			parse_address(c, n, ipath, lc);
		else
			yerror(c->l->diag, c->yd, n, ipath,
			       "expected an address or a map with 'address', got %s",
			       ytype_name(n));
	}
}

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
		parse_listen(c, v, kpath);
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
	for (size_t i = 0; i < sc->n_listen; i++)
		free(sc->listen[i].trusted_proxies);
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
