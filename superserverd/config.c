/*
 * config_load: the main file and its includes into a struct config. Owns the top-level
 * keys (control, log, defaults), the order of the stages, the checks that span services
 * (addresses), and the configuration's lifetime.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "mpm/mpm.h"
#include "superserverd/config_int.h"
#include "superserverd/svcnames.h"

static const char *const top_keys[] = {"control", "log", "defaults", "include", "services", NULL};

bool loader_failed(const struct loader *l)
{
	return l->diag->n + l->diag->dropped > l->errors_before;
}

const char *config_intern(struct config_impl *ci, const char *file)
{
	char **v;

	for (size_t i = 0; i < ci->n_files; i++)
		if (strcmp(ci->files[i], file) == 0)
			return ci->files[i];
	v = realloc(ci->files, (ci->n_files + 1) * sizeof(*v));
	if (!v)
		return NULL;
	ci->files = v;
	if (!(v[ci->n_files] = strdup(file)))
		return NULL;
	return v[ci->n_files++];
}

void config_subpath(char *buf, const char *path, const char *key)
{
	snprintf(buf, CONFIG_PATH_MAX, "%s%s%s", path, *path ? "." : "", key);
}

void config_parent_path(char *buf, const char *path)
{
	const char *dot = strrchr(path, '.');

	snprintf(buf, CONFIG_PATH_MAX, "%.*s", dot ? (int)(dot - path) : 0, path);
}

bool config_pair_is_first(struct ydoc *yd, yaml_node_t *m, const yaml_node_pair_t *p)
{
	return ypair_is_first(yd, m, p);
}

static char *control_group(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path)
{
	char *name = NULL;
	gid_t gid;

	if (config_lookup_group(l, yd, v, path, &name, &gid) < 0)
		return NULL;
	return name;
}

static void parse_control(struct loader *l, struct ydoc *yd, yaml_node_t *v)
{
	static const char *const keys[] = {"socket", "group", "admin_group", NULL};
	struct config *cfg = &l->ci->pub;
	struct sockaddr_un sun;
	yaml_node_t *n;
	const char *s;

	if (!yexpect(yd, v, YAML_MAPPING_NODE, "control", l->diag))
		return;
	ymap_check(yd, v, "control", "in control", keys, l->diag);
	if ((n = ymap_get(yd, v, "socket", NULL)) &&
	    (s = ystring(yd, n, "control.socket", l->diag))) {
		if (s[0] != '/')
			yerror(l->diag, yd, n, "control.socket",
			       "expected an absolute path, got '%s'", s);
		else if (strlen(s) >= sizeof(sun.sun_path))
			yerror(l->diag, yd, n, "control.socket",
			       "the path is too long for a unix socket (%zu bytes, at most %zu)",
			       strlen(s), sizeof(sun.sun_path) - 1);
		else if (!(cfg->control_socket = strdup(s)))
			yerror(l->diag, yd, n, "control.socket", "out of memory");
	}
	if ((n = ymap_get(yd, v, "group", NULL)))
		cfg->control_group = control_group(l, yd, n, "control.group");
	if ((n = ymap_get(yd, v, "admin_group", NULL)))
		cfg->control_admin_group = control_group(l, yd, n, "control.admin_group");
}

static void parse_log(struct loader *l, struct ydoc *yd, yaml_node_t *v)
{
	static const char *const keys[] = {"level", "connections", NULL};
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"debug", LOG_DEBUG},
	              {"info", LOG_INFO},
	              {"notice", LOG_NOTICE},
	              {"warning", LOG_WARNING},
	              {"error", LOG_ERR}};
	yaml_node_t *n;
	const char *s;

	if (!yexpect(yd, v, YAML_MAPPING_NODE, "log", l->diag))
		return;
	ymap_check(yd, v, "log", "in log", keys, l->diag);
	if ((n = ymap_get(yd, v, "connections", NULL)))
		config_connlog_parse(l, yd, n, "log.connections", &l->ci->pub.connlog,
		                     &l->ci->pub.connlog_path);
	if (!(n = ymap_get(yd, v, "level", NULL)) || !(s = ystring(yd, n, "log.level", l->diag)))
		return;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(levels[i].name, s) == 0) {
			l->ci->pub.log_level = levels[i].level;
			return;
		}
	yerror(l->diag, yd, n, "log.level",
	       "unknown level '%s' (expected one of: debug, info, notice, warning, error)", s);
}

static void validate_default_mpm(struct loader *l)
{
	struct svc_part *d = &l->defaults;
	struct service_conf sc = {.name = "(defaults)", .pos = d->f_mpm.pos};
	size_t before = l->diag->n + l->diag->dropped;

	if (d->f_mpm.st != FIELD_SET || !d->mpm_ops->validate)
		return;
	sc.mpm.ops = d->mpm_ops;
	sc.mpm.options = d->mpm_options;
	sc.mpm.pos = d->f_mpm.pos;
	d->mpm_ops->validate(&sc, d->mpm_options, l->diag);
	/* Reported once here; services inheriting it are not checked again. */
	if (l->diag->n + l->diag->dropped > before)
		d->f_mpm.st = FIELD_BAD;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static void parse_defaults(struct loader *l, struct ydoc *yd, yaml_node_t *v)
{
	char kpath[CONFIG_PATH_MAX];

	if (!yexpect(yd, v, YAML_MAPPING_NODE, "defaults", l->diag))
		return;
	ymap_check(yd, v, "defaults", NULL, NULL, l->diag);
	ymap_for_each(v, p)
	{
		const char *key = ypair_key(yd, p);
		yaml_node_t *kn = ynode(yd, p->key);

		if (!key || !config_pair_is_first(yd, v, p))
			continue;
		config_subpath(kpath, "defaults", key);
		if (strcmp(key, "tls") == 0)
			config_tls_defaults(l, yd, ynode(yd, p->value));
		else if (in_list(config_service_keys, key))
			yerror(l->diag, yd, kn, "", "'%s' cannot be set in defaults", key);
		else if (!config_part_parse(l, yd, key, ynode(yd, p->value), kpath, true,
		                            &l->defaults))
			yunknown_key(l->diag, yd, kn, key, "in defaults", config_part_keys);
	}
	if (!l->root && l->defaults.f_caps.st == FIELD_SET && l->defaults.caps) {
		diag_error(l->diag, &l->defaults.f_caps.pos,
		           "defaults.capabilities: capabilities need superserverd to be started as "
		           "root");
		l->defaults.f_caps.st = FIELD_BAD;
	}
	validate_default_mpm(l);
}

/* The identity services get when the daemon is not root. */
static int daemon_identity(struct loader *l)
{
	struct passwd *pw = getpwuid(l->daemon_uid);
	struct group *gr;
	int n = 0;

	if (pw) {
		l->daemon_user = strdup(pw->pw_name);
		l->daemon_gid = pw->pw_gid;
		/* The groups an unprivileged daemon started by that user normally has. */
		getgrouplist(pw->pw_name, pw->pw_gid, NULL, &n);
		if (n > 0 && (l->daemon_groups = calloc((size_t)n, sizeof(gid_t))) &&
		    getgrouplist(pw->pw_name, pw->pw_gid, l->daemon_groups, &n) >= 0)
			l->n_daemon_groups = (size_t)n;
	} else {
		l->daemon_gid = getegid();
		if (asprintf(&l->daemon_user, "%u", (unsigned)l->daemon_uid) < 0)
			l->daemon_user = NULL;
	}
	gr = getgrgid(l->daemon_gid);
	if (gr)
		l->daemon_group = strdup(gr->gr_name);
	else if (asprintf(&l->daemon_group, "%u", (unsigned)l->daemon_gid) < 0)
		l->daemon_group = NULL;
	return l->daemon_user && l->daemon_group ? 0 : -1;
}

static void process_main(struct loader *l, struct ydoc *yd, const struct stat *main_st)
{
	yaml_node_t *root = ydoc_root(yd), *defaults = NULL;

	if (!root)
		return; /* an empty file: no services */
	if (root->type != YAML_MAPPING_NODE) {
		yerror(l->diag, yd, root, "",
		       "expected a map at the top level (control, log, defaults, include, "
		       "services), got %s",
		       ytype_name(root));
		return;
	}
	/* A pattern matching the main file (a "*.yaml" beside it) does not read it again. */
	if (main_st && (l->seen = malloc(sizeof(*l->seen)))) {
		l->seen[0] = *main_st;
		l->n_seen = 1;
	}
	ymap_check(yd, root, "", "at the top level", top_keys, l->diag);
	ymap_for_each(root, p)
	{
		const char *key = ypair_key(yd, p);
		yaml_node_t *v = ynode(yd, p->value);

		if (!key || !config_pair_is_first(yd, root, p))
			continue;
		if (strcmp(key, "control") == 0)
			parse_control(l, yd, v);
		else if (strcmp(key, "log") == 0)
			parse_log(l, yd, v);
		else if (strcmp(key, "defaults") == 0)
			defaults = v;
		else if (strcmp(key, "include") == 0)
			config_process_include(l, yd, v);
		else if (strcmp(key, "services") == 0)
			config_collect_services(l, yd, v);
	}
	if (defaults)
		parse_defaults(l, yd, defaults);
}

struct listener_ref {
	const struct listen_conf *lc;
	size_t svc;   /* index of its service */
	size_t order; /* in the order of the configuration */
	size_t first; /* order of the first listener with its address */
};

static int listener_cmp(const void *a, const void *b)
{
	const struct listener_ref *x = a, *y = b;
	int r = strcmp(x->lc->addr.key, y->lc->addr.key);
	return r ? r : (x->order > y->order) - (x->order < y->order);
}

static int listener_order_cmp(const void *a, const void *b)
{
	const struct listener_ref *x = a, *y = b;
	return (x->order > y->order) - (x->order < y->order);
}

/* Two listeners with one canonical address would be one socket: an error, wherever
 * they are. Found by sorting, as a configuration may have many listeners. */
static void check_addresses(struct loader *l)
{
	struct config *cfg = &l->ci->pub;
	struct listener_ref *v;
	size_t n = 0, total = 0;

	for (size_t s = 0; s < cfg->n_services; s++)
		total += cfg->services[s].n_listen;
	if (!total)
		return;
	if (!(v = calloc(total, sizeof(*v)))) {
		diag_error(l->diag, NULL, "%s: out of memory", cfg->path);
		return;
	}
	for (size_t s = 0; s < cfg->n_services; s++)
		for (size_t i = 0; i < cfg->services[s].n_listen; i++)
			if (cfg->services[s].listen[i].addr.key[0]) {
				v[n] = (struct listener_ref){&cfg->services[s].listen[i], s, n, n};
				n++;
			}
	qsort(v, n, sizeof(*v), listener_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i].lc->addr.key, v[i - 1].lc->addr.key) == 0)
			v[i].first = v[i - 1].first;
	/* Reported in the order of the file; the first of an address is at v[first]
	 * once the list is back in that order. */
	qsort(v, n, sizeof(*v), listener_order_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct listener_ref *o = &v[v[i].first];
		if (v[i].first == i)
			continue;
		diag_error(l->diag, &v[i].lc->pos,
		           "address '%s' of service '%s' is already used by service '%s' (at "
		           "%s:%d:%d)",
		           v[i].lc->addr.key, cfg->services[v[i].svc].name,
		           cfg->services[o->svc].name, o->lc->pos.file, o->lc->pos.line,
		           o->lc->pos.col);
	}
	free(v);
}

static void config_free(struct config_impl *ci)
{
	struct config *cfg = &ci->pub;

	for (size_t i = 0; i < cfg->n_services; i++)
		config_service_free(&cfg->services[i]);
	free(cfg->services);
	free(cfg->path);
	free(cfg->control_socket);
	free(cfg->control_group);
	free(cfg->control_admin_group);
	free(cfg->connlog_path);
	for (size_t i = 0; i < ci->n_files; i++)
		free(ci->files[i]);
	free(ci->files);
	free(ci);
}

static void loader_free(struct loader *l)
{
	for (size_t i = 0; i < l->n_docs; i++) {
		ydoc_free(l->docs[i]);
		free(l->docs[i]);
	}
	free(l->docs);
	free(l->refs);
	config_free_ref_names(l);
	config_ident_free(l);
	config_names_free(l);
	free(l->seen);
	config_part_free(&l->defaults);
	config_tls_loader_free(l);
	free(l->daemon_user);
	free(l->daemon_group);
	free(l->daemon_groups);
}

int config_load(const char *path, const struct config_load_opts *opts, struct config **cfg_r,
                struct diag *diag)
{
	struct loader l = {.diag = diag, .errors_before = diag->n + diag->dropped};
	struct stat main_st;
	bool have_st;
	struct ydoc *yd;

	*cfg_r = NULL;
	l.daemon_uid = opts && opts->daemon_uid != (uid_t)-1 ? opts->daemon_uid : geteuid();
	l.root = l.daemon_uid == 0;
	l.services_path = opts && opts->services_path ? opts->services_path : SVCNAMES_DEFAULT_PATH;
	l.ci = calloc(1, sizeof(*l.ci));
	if (!l.ci || !(l.ci->pub.path = strdup(path)) || (!l.root && daemon_identity(&l) < 0)) {
		diag_error(diag, NULL, "%s: out of memory", path);
		goto fail;
	}
	l.ci->pub.refs = 1;
	l.ci->pub.log_level = LOG_INFO;
	have_st = stat(path, &main_st) == 0;
	yd = config_load_doc(&l, path, false);
	if (yd)
		process_main(&l, yd, have_st ? &main_st : NULL);
	if (l.n_refs) {
		l.ci->pub.services = calloc(l.n_refs, sizeof(struct service_conf));
		if (!l.ci->pub.services) {
			diag_error(diag, NULL, "%s: out of memory", path);
			goto fail;
		}
	}
	for (size_t i = 0; i < l.n_refs; i++)
		config_service_build(&l, &l.refs[i], &l.ci->pub.services[l.ci->pub.n_services++]);
	check_addresses(&l);
	if (loader_failed(&l))
		goto fail;
	loader_free(&l);
	*cfg_r = &l.ci->pub;
	return 0;
fail:
	loader_free(&l);
	if (l.ci)
		config_free(l.ci);
	return -1;
}

struct config *config_ref(struct config *cfg)
{
	if (cfg)
		cfg->refs++;
	return cfg;
}

struct config *config_unref(struct config *cfg)
{
	if (cfg && --cfg->refs == 0)
		config_free((struct config_impl *)cfg);
	return NULL;
}

const struct service_conf *config_find_service(const struct config *cfg, const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->n_services; i++)
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	return NULL;
}

const char *config_args_get(const struct service_conf *sc, const char *key)
{
	for (size_t i = 0; sc && key && i < sc->n_args; i++)
		if (strcmp(sc->args[i].key, key) == 0)
			return sc->args[i].value;
	return NULL;
}
