/*
 * Merging `defaults:` into a service and resolving what depends on the result: the
 * identity rules (root or not), the MPM checks, access rules against the listeners, the
 * connection-record destination, the fingerprint. A key the service sets replaces the
 * default; environment, rlimits and limits merge per sub-key (a rate with its burst).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mpm/mpm.h"
#include "services/builtins.h"
#include "superserverd/config_int.h"
#include "superserverd/units.h"

#define SHUTDOWN_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define DEFAULT_MODEL            "fork"

/* A handler's connection that has heard nothing for a minute is let go unless the
 * configuration says otherwise (0: never) or the handler declares that its clients may
 * stay silent; a program owns its socket and its timeouts. */
#define IDLE_TIMEOUT_DEFAULT (60 * USEC_PER_SEC)

/* The part whose field at OFF is given: the service's own, else the defaults'. */
static const struct svc_part *pick(const struct svc_part *own, const struct svc_part *def,
                                   size_t off)
{
	const struct field *fo = (const struct field *)((const char *)own + off);
	const struct field *fd = (const struct field *)((const char *)def + off);

	if (fo->st != FIELD_UNSET)
		return own;
	if (fd->st != FIELD_UNSET)
		return def;
	return NULL;
}

#define PICK(own, def, f) pick(own, def, offsetof(struct svc_part, f))
#define IS_SET(part, f)   ((part) && (part)->f.st == FIELD_SET)

static void oom(struct loader *l, const struct service_conf *sc)
{
	diag_error(l->diag, &sc->pos, "service '%s': out of memory", sc->name);
}

static void identity_root(struct loader *l, struct service_conf *sc, const struct svc_part *own,
                          const struct svc_part *def)
{
	const struct svc_part *u = PICK(own, def, f_user), *g = PICK(own, def, f_group);
	const struct svc_part *gs = PICK(own, def, f_groups), *cp = PICK(own, def, f_caps);

	if (!u) {
		diag_error(l->diag, &sc->pos,
		           "service '%s' would run as root: set 'user:' (e.g. user: nobody, or "
		           "defaults.user) or write 'user: root' explicitly",
		           sc->name);
		return;
	}
	if (!IS_SET(u, f_user))
		return; /* reported where it was written */
	sc->user_explicit = true;
	sc->uid = u->uid;
	sc->gid = u->user_gid;
	if (!(sc->user = strdup(u->user_name)))
		oom(l, sc);
	if (IS_SET(g, f_group)) {
		sc->gid = g->gid;
		sc->group = strdup(g->group_name);
	} else if (!g) {
		sc->group = config_group_name(l, sc->gid);
	}
	if (!sc->group && !(g && g->f_group.st == FIELD_BAD))
		oom(l, sc);
	if (IS_SET(gs, f_groups) && gs->n_groups) {
		sc->groups = malloc(gs->n_groups * sizeof(gid_t));
		if (!sc->groups) {
			oom(l, sc);
			return;
		}
		memcpy(sc->groups, gs->groups, gs->n_groups * sizeof(gid_t));
		sc->n_groups = gs->n_groups;
	}
	if (IS_SET(cp, f_caps))
		sc->capabilities = cp->caps;
	config_caps_check(l, sc, cp, u);
}

static bool daemon_has_group(const struct loader *l, gid_t gid)
{
	if (gid == l->daemon_gid)
		return true;
	for (size_t i = 0; i < l->n_daemon_groups; i++)
		if (l->daemon_groups[i] == gid)
			return true;
	return false;
}

/* Not root: every service runs as the daemon. Asking for anything else is an error
 * rather than silently ignored, except in defaults (so one file serves both cases). */
static void identity_unprivileged(struct loader *l, struct service_conf *sc,
                                  const struct svc_part *own)
{
	sc->uid = l->daemon_uid;
	sc->gid = l->daemon_gid;
	sc->user = strdup(l->daemon_user);
	sc->group = strdup(l->daemon_group);
	if (!sc->user || !sc->group)
		oom(l, sc);
	if (own->f_user.st == FIELD_SET) {
		sc->user_explicit = true;
		if (own->uid != l->daemon_uid)
			diag_error(l->diag, &own->f_user.pos,
			           "superserverd is not running as root (uid %u): service '%s' can "
			           "only run as its user '%s'",
			           (unsigned)l->daemon_uid, sc->name, l->daemon_user);
	}
	if (own->f_group.st == FIELD_SET && own->gid != l->daemon_gid)
		diag_error(l->diag, &own->f_group.pos,
		           "superserverd is not running as root (uid %u): service '%s' can only "
		           "run as its group '%s'",
		           (unsigned)l->daemon_uid, sc->name, l->daemon_group);
	if (own->f_groups.st == FIELD_SET)
		for (size_t i = 0; i < own->n_groups; i++)
			if (!daemon_has_group(l, own->groups[i])) {
				diag_error(l->diag, &own->f_groups.pos,
				           "superserverd is not running as root (uid %u): service "
				           "'%s' can only have the groups of user '%s'",
				           (unsigned)l->daemon_uid, sc->name, l->daemon_user);
				break;
			}
	if (own->f_caps.st == FIELD_SET && own->caps)
		diag_error(l->diag, &own->f_caps.pos,
		           "service '%s': capabilities need superserverd to be started as root",
		           sc->name);
}

static int kv_copy(struct config_kv *dst, const struct config_kv *src)
{
	dst->key = strdup(src->key);
	dst->value = strdup(src->value);
	dst->pos = src->pos;
	if (dst->key && dst->value)
		return 0;
	free(dst->key);
	free(dst->value);
	return -1;
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void merge_environment(struct loader *l, struct service_conf *sc, const struct svc_part *own,
                              const struct svc_part *def)
{
	size_t cap = own->n_env + def->n_env;
	const char **own_keys;

	if (!cap)
		return;
	sc->environment = calloc(cap, sizeof(*sc->environment));
	/* The service's own names, sorted: both lists may be long. */
	own_keys = malloc((own->n_env ? own->n_env : 1) * sizeof(*own_keys));
	if (!sc->environment || !own_keys) {
		free(own_keys);
		oom(l, sc);
		return;
	}
	for (size_t i = 0; i < own->n_env; i++)
		own_keys[i] = own->env[i].key;
	qsort(own_keys, own->n_env, sizeof(*own_keys), str_ptr_cmp);
	for (size_t i = 0; i < def->n_env; i++) {
		if (bsearch(&def->env[i].key, own_keys, own->n_env, sizeof(*own_keys), str_ptr_cmp))
			continue;
		if (kv_copy(&sc->environment[sc->n_environment], &def->env[i]) < 0)
			goto oom;
		sc->n_environment++;
	}
	for (size_t i = 0; i < own->n_env; i++) {
		if (kv_copy(&sc->environment[sc->n_environment], &own->env[i]) < 0)
			goto oom;
		sc->n_environment++;
	}
	free(own_keys);
	return;
oom:
	free(own_keys);
	oom(l, sc);
}

static void merge_pass_environment(struct loader *l, struct service_conf *sc,
                                   const struct svc_part *pe)
{
	if (!IS_SET(pe, f_pass_env) || !pe->n_pass_env)
		return;
	sc->pass_environment = calloc(pe->n_pass_env, sizeof(char *));
	if (!sc->pass_environment) {
		oom(l, sc);
		return;
	}
	for (size_t i = 0; i < pe->n_pass_env; i++) {
		if (!(sc->pass_environment[i] = strdup(pe->pass_env[i]))) {
			oom(l, sc);
			return;
		}
		sc->n_pass_environment++;
	}
}

static void merge_scalars(struct service_conf *sc, const struct svc_part *own,
                          const struct svc_part *def)
{
	const struct svc_part *p;

	if ((p = PICK(own, def, f_umask)) && IS_SET(p, f_umask)) {
		sc->has_umask = true;
		sc->umask = p->umask;
	}
	if ((p = PICK(own, def, f_nice)) && IS_SET(p, f_nice)) {
		sc->has_nice = true;
		sc->nice = p->nice;
	}
	for (int i = 0; i < RLIM_COUNT; i++) {
		p = own->f_rlim[i].st != FIELD_UNSET ? own : def;
		if (p->f_rlim[i].st == FIELD_SET) {
			sc->rlimits[i].set = true;
			sc->rlimits[i].value = p->rlim_val[i];
		}
	}
	sc->shutdown_timeout_usec = SHUTDOWN_TIMEOUT_DEFAULT;
	if ((p = PICK(own, def, f_shutdown)) && IS_SET(p, f_shutdown))
		sc->shutdown_timeout_usec = p->shutdown_usec;
}

/* A bucket holds at least one connection, and by default one second's worth. */
static double default_burst(double rate, double burst)
{
	return burst > 0 ? burst : rate > 1 ? rate : 1;
}

static void merge_limits(struct loader *l, struct service_conf *sc, const struct svc_part *own,
                         const struct svc_part *def)
{
	struct limits_conf *lim = &sc->limits;
	const struct svc_part *p;

	lim->overload = OVERLOAD_WAIT;
	lim->ipv4_prefix = 32;
	lim->ipv6_prefix = 64;
	if ((p = PICK(own, def, f_idle)) && IS_SET(p, f_idle))
		lim->idle_timeout_usec = p->idle_usec;
	else if (sc->kind != HANDLER_EXEC) {
		const struct ss_handler *h =
		        sc->kind == HANDLER_BUILTIN ? builtin_find(sc->builtin) : NULL;

		lim->idle_timeout_usec = IDLE_TIMEOUT_DEFAULT;
		/* A module is loaded only in its service processes, which decide. */
		lim->idle_timeout_default = sc->kind == HANDLER_MODULE;
		if (h && (h->flags & SS_HANDLER_SILENT_CLIENTS))
			lim->idle_timeout_usec = 0;
	}
	if ((p = PICK(own, def, f_maxdur)) && IS_SET(p, f_maxdur))
		lim->max_duration_usec = p->maxdur_usec;
	if ((p = PICK(own, def, f_maxconn)) && IS_SET(p, f_maxconn))
		lim->max_connections = p->maxconn;
	if ((p = PICK(own, def, f_overload)) && IS_SET(p, f_overload))
		lim->overload = p->overload;
	if ((p = PICK(own, def, f_banner)) && IS_SET(p, f_banner) && p->banner &&
	    !(lim->banner = strdup(p->banner)))
		oom(l, sc);
	if ((p = PICK(own, def, f_per_source)) && IS_SET(p, f_per_source)) {
		lim->per_source_max = p->ps_max;
		lim->ipv4_prefix = p->ps_v4;
		lim->ipv6_prefix = p->ps_v6;
	}
	if ((p = PICK(own, def, f_rate)) && IS_SET(p, f_rate)) {
		lim->rate = p->rate;
		lim->burst = default_burst(p->rate, p->burst);
	}
	if ((p = PICK(own, def, f_ps_rate)) && IS_SET(p, f_ps_rate)) {
		lim->per_source_rate = p->ps_rate;
		lim->per_source_burst = default_burst(p->ps_rate, p->ps_burst);
	}
	if ((p = PICK(own, def, f_dgram_reply)) && IS_SET(p, f_dgram_reply))
		lim->datagram_reply_max = (uint32_t)p->dgram_reply;
}

static void *dup_array(const void *src, size_t n, size_t size, bool *failed)
{
	void *d;

	if (!n)
		return NULL;
	if (!(d = malloc(n * size))) {
		*failed = true;
		return NULL;
	}
	memcpy(d, src, n * size);
	return d;
}

/*
 * A rule that can never apply is a mistake, so the service's own rules are checked
 * against its listeners: CIDR rules need a TCP listener, uid/gid rules a unix one
 * (systemd: sockets may be either). Rules inherited from defaults are not: one
 * defaults block serves TCP and unix services alike, each using the rules that apply.
 */
static void check_access(struct loader *l, struct service_conf *sc, const struct svc_part *own)
{
	bool has_unix = false, has_inet = false;

	for (size_t i = 0; i < sc->n_listen; i++) {
		const struct addr *a = &sc->listen[i].addr;
		if (!a->key[0])
			return; /* a bad address was reported; its kind is unknown */
		has_unix |= a->kind == ADDR_UNIX || a->kind == ADDR_SYSTEMD;
		has_inet |= a->kind != ADDR_UNIX;
	}
	if (!sc->n_listen)
		return;
	if (own->access_unix_key && !has_unix)
		diag_error(l->diag, &own->access_unix_pos,
		           "services.%s.access: %s applies to unix: listeners only (service '%s' "
		           "has none)",
		           sc->name, own->access_unix_key, sc->name);
	if (own->access_cidr_key && !has_inet)
		diag_error(l->diag, &own->access_cidr_pos,
		           "services.%s.access: %s applies to TCP listeners only (service '%s' "
		           "listens on unix: sockets only)",
		           sc->name, own->access_cidr_key, sc->name);
}

static void merge_access(struct loader *l, struct service_conf *sc, const struct svc_part *own,
                         const struct svc_part *def)
{
	const struct svc_part *p = PICK(own, def, f_access);
	const struct access_conf *src;
	struct access_conf *a = &sc->access;
	bool failed = false;

	if (!IS_SET(p, f_access))
		return;
	src = &p->access;
	a->allow = dup_array(src->allow, src->n_allow, sizeof(*src->allow), &failed);
	a->n_allow = src->n_allow;
	a->deny = dup_array(src->deny, src->n_deny, sizeof(*src->deny), &failed);
	a->n_deny = src->n_deny;
	a->allow_uids = dup_array(src->allow_uids, src->n_allow_uids, sizeof(uid_t), &failed);
	a->n_allow_uids = src->n_allow_uids;
	a->allow_gids = dup_array(src->allow_gids, src->n_allow_gids, sizeof(gid_t), &failed);
	a->n_allow_gids = src->n_allow_gids;
	if (failed)
		oom(l, sc);
	if (p == own)
		check_access(l, sc, own);
}

/* The service's own log_connections, else log.connections, else CONNLOG_DEFAULT (the
 * runtime decides by handler kind). */
static void merge_connlog(struct loader *l, struct service_conf *sc)
{
	const struct config *cfg = &l->ci->pub;

	if (sc->connlog != CONNLOG_DEFAULT || cfg->connlog == CONNLOG_DEFAULT)
		return;
	sc->connlog = cfg->connlog;
	if (cfg->connlog_path && !(sc->connlog_path = strdup(cfg->connlog_path)))
		oom(l, sc);
}

/*
 * A PROXY or TLS listener the service's model cannot serve: refused rather than handing
 * the header or the handshake to the handler or program as if it were the client's
 * bytes. Models say what they serve by flags: FLAG with a handler, FLAG_EXEC with exec.
 */
struct refusal {
	const char *key; /* of the listen entry */
	unsigned flag, flag_exec;
	const char *done;     /* what superserverd did before the program starts */
	const char *mistaken; /* what a program accepting itself would do wrong */
};

static const struct refusal proxy_refusal = {"proxy_protocol", MPM_PROXY, MPM_PROXY_EXEC,
                                             "header superserverd has read",
                                             " and would take the header for the client's bytes"};
static const struct refusal tls_refusal = {"tls", MPM_TLS, MPM_TLS_EXEC,
                                           "handshake superserverd has done", ""};

static void model_refused(const struct service_conf *sc, const struct listen_conf *lc,
                          const struct refusal *r, struct diag *diag)
{
	char handler_models[128], exec_models[128];
	bool exec = sc->kind == HANDLER_EXEC;

	if (sc->mpm.ops->flags & (exec ? r->flag_exec : r->flag))
		return;
	mpm_names_with_flag(r->flag, handler_models, sizeof(handler_models));
	mpm_names_with_flag(r->flag_exec, exec_models, sizeof(exec_models));
	if (exec)
		diag_error(diag, &lc->pos,
		           "service '%s': %s with exec is served by %s (the program is started "
		           "for a connection whose %s); not by %s, where the program accepts "
		           "connections itself%s. With a built-in or module handler these models "
		           "serve it: %s",
		           sc->name, r->key, exec_models[0] ? exec_models : "no model", r->done,
		           sc->mpm.ops->name, r->mistaken,
		           handler_models[0] ? handler_models : "none");
	else
		diag_error(diag, &lc->pos,
		           "service '%s': %s with a handler is served by %s; not by %s", sc->name,
		           r->key, handler_models[0] ? handler_models : "no model",
		           sc->mpm.ops->name);
}

int config_dgram_refused(const struct service_conf *sc, const struct listen_conf *lc,
                         struct diag *diag)
{
	bool exec = sc->kind == HANDLER_EXEC;
	unsigned need = exec ? MPM_DGRAM_EXEC : MPM_DGRAM;
	char models[128];
	const char *why;

	if (!(sc->mpm.ops->flags & need)) {
		mpm_names_with_flag(need, models, sizeof(models));
		diag_error(diag, &lc->pos,
		           "service '%s': %s is a datagram socket, which model '%s' does not serve "
		           "with %s (models that do: %s)",
		           sc->name, lc->addr.key, sc->mpm.ops->name,
		           exec ? "a program (exec)" : "a handler", models[0] ? models : "none");
		return -1;
	}
	if (sc->kind == HANDLER_BUILTIN && (why = builtin_no_datagram_reason(sc->builtin))) {
		diag_error(diag, &lc->pos, "service '%s': builtin '%s' on %s: %s", sc->name,
		           sc->builtin, lc->addr.key, why);
		return -1;
	}
	return config_banner_dgram_refused(sc, lc, diag);
}

static void merge_mpm(struct loader *l, struct service_conf *sc, const struct svc_part *own,
                      const struct svc_part *def)
{
	const struct svc_part *p = PICK(own, def, f_mpm);
	char models[256];

	if (!p) {
		sc->mpm.ops = mpm_find(DEFAULT_MODEL);
		sc->mpm.pos = sc->pos;
		if (!sc->mpm.ops) {
			diag_error(l->diag, &sc->pos,
			           "service '%s': the default model '%s' is missing", sc->name,
			           DEFAULT_MODEL);
			return;
		}
		sc->mpm.options = config_mpm_options_new(sc->mpm.ops);
	} else if (p->f_mpm.st == FIELD_SET) {
		sc->mpm.ops = p->mpm_ops;
		sc->mpm.pos = p->f_mpm.pos;
		sc->mpm.options = config_mpm_options_dup(p->mpm_ops, p->mpm_options);
	} else {
		return; /* reported where it was written */
	}
	if (!sc->mpm.options) {
		sc->mpm.ops = NULL;
		oom(l, sc);
		return;
	}
	if (sc->kind == HANDLER_EXEC && sc->exec_argv && !(sc->mpm.ops->flags & MPM_CAN_EXEC)) {
		mpm_names_with_flag(MPM_CAN_EXEC, models, sizeof(models));
		diag_error(l->diag, &sc->mpm.pos,
		           "service '%s' runs a program (exec), which model '%s' cannot do (models "
		           "that can: %s)",
		           sc->name, sc->mpm.ops->name, models);
	}
	for (size_t i = 0; i < sc->n_listen; i++) {
		if (sc->listen[i].proxy_protocol)
			model_refused(sc, &sc->listen[i], &proxy_refusal, l->diag);
		if (sc->listen[i].tls_conf)
			model_refused(sc, &sc->listen[i], &tls_refusal, l->diag);
		if (sc->listen[i].addr.socktype == SOCK_DGRAM)
			config_dgram_refused(sc, &sc->listen[i], l->diag);
	}
	if (sc->mpm.ops->validate)
		sc->mpm.ops->validate(sc, sc->mpm.options, l->diag);
}

void config_service_merge(struct loader *l, struct service_conf *sc, struct svc_part *own)
{
	const struct svc_part *def = &l->defaults;

	if (l->root)
		identity_root(l, sc, own, def);
	else
		identity_unprivileged(l, sc, own);
	merge_environment(l, sc, own, def);
	merge_pass_environment(l, sc, PICK(own, def, f_pass_env));
	merge_scalars(sc, own, def);
	merge_limits(l, sc, own, def);
	merge_access(l, sc, own, def);
	merge_connlog(l, sc);
	config_banner_merge(l, sc, own);
	merge_mpm(l, sc, own, def);
	if (sc->mpm.ops)
		config_banner_check(l, sc);
	/* Even under a model that refused it: every mistake in the files is said at once. */
	config_tls_build(l, sc);
	sc->fingerprint = config_fingerprint(sc);
	if (!sc->fingerprint)
		oom(l, sc);
}
