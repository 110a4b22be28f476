/*
 * Internals of the configuration loader, shared by config*.c: the load-time state, and
 * the "part" of a service (the keys `defaults:` may also set) that is parsed once per
 * map and merged key by key into each service.
 */
#ifndef SUPERSERVERD_CONFIG_INT_H
#define SUPERSERVERD_CONFIG_INT_H

#include <sys/stat.h>

#include "superserverd/config.h"
#include "superserverd/yamlutil.h"

#define CONFIG_PATH_MAX 256 /* "services.NAME.listen[N].backlog" and the like */

/* The allocation behind a struct config: also owns the file names positions point to. */
struct config_impl {
	struct config pub;
	char **files;
	size_t n_files;
};

/* A mergeable value: not given, given and valid, or given and already reported bad
 * (which stops later checks from piling follow-up errors on the same mistake). */
enum field_state { FIELD_UNSET, FIELD_SET, FIELD_BAD };

struct field {
	enum field_state st;
	struct diag_pos pos;
};

struct svc_part {
	struct field f_user;
	char *user_name;
	uid_t uid;
	gid_t user_gid; /* the user's primary group */

	struct field f_group;
	char *group_name;
	gid_t gid;

	struct field f_groups;
	gid_t *groups;
	size_t n_groups;

	struct field f_caps;
	uint64_t caps;

	/* merged per variable name */
	struct config_kv *env;
	size_t n_env;

	struct field f_pass_env;
	char **pass_env;
	size_t n_pass_env;

	struct field f_umask;
	mode_t umask;
	struct field f_nice;
	int nice;

	/* merged per resource */
	struct field f_rlim[RLIM_COUNT];
	struct rlimit rlim_val[RLIM_COUNT];

	struct field f_shutdown;
	uint64_t shutdown_usec;

	/* `limits`, merged per key; rate and burst are one key (a burst belongs to its
	 * rate), and so are per_source_rate and per_source_burst */
	struct field f_idle;
	uint64_t idle_usec;
	struct field f_maxdur;
	uint64_t maxdur_usec;
	struct field f_maxconn;
	uint64_t maxconn;
	struct field f_overload;
	enum overload_mode overload;
	struct field f_banner;
	char *banner; /* NULL: none (also for an explicit "") */
	struct field f_per_source;
	uint32_t ps_max;
	unsigned ps_v4, ps_v6;
	struct field f_rate;
	double rate, burst; /* per second; burst 0: the default */
	struct field f_ps_rate;
	double ps_rate, ps_burst;
	struct field f_dgram_reply;
	uint64_t dgram_reply;

	struct field f_access; /* replaced whole */
	struct access_conf access;
	/* The first CIDR rule key and the first user/group rule key (NULL: none), for
	 * checking a service's own rules against its listeners. */
	const char *access_cidr_key, *access_unix_key;
	struct diag_pos access_cidr_pos, access_unix_pos;

	struct field f_banner_file[BANNER_COUNT]; /* banner, banner_success, banner_fail */
	struct banner_conf banner_file[BANNER_COUNT];

	struct field f_mpm; /* replaced whole */
	const struct mpm_ops *mpm_ops;
	void *mpm_options;
};

/* A service found in the main file or an include, before it is built. */
struct svc_ref {
	struct ydoc *yd;
	yaml_node_t *key;
	yaml_node_t *value;
	const char *name;
};

struct loader {
	struct config_impl *ci;
	struct diag *diag;
	size_t errors_before;

	uid_t daemon_uid;
	bool root;
	/* the identity every service has when the daemon is not root */
	char *daemon_user;
	char *daemon_group;
	gid_t daemon_gid;
	gid_t *daemon_groups;
	size_t n_daemon_groups;

	struct ydoc **docs;
	size_t n_docs;
	struct svc_ref *refs;
	size_t n_refs, cap_refs;
	void *ref_names; /* tsearch tree of the refs by name, for "defined twice" */
	struct ybudget budget;
	void *idents; /* tsearch tree of the users and groups looked up (config_ident.c) */
	/* the services file, read on the first service name (config_names.c) */
	const char *services_path;
	struct svcnames *svcnames;
	int svcnames_err;  /* its -errno once a read failed, so it is tried once per load */
	struct stat *seen; /* files read so far, so that none is read twice */
	size_t n_seen;

	struct svc_part defaults;
	struct tls_part *tls_defaults; /* `defaults.tls`; NULL: none (config_tls.c) */
};

/* Whether any error was reported since the load began. */
bool loader_failed(const struct loader *l);
/* A copy of FILE owned by the configuration, for diag positions; NULL without memory. */
const char *config_intern(struct config_impl *ci, const char *file);
/* "PATH.KEY" into buf (CONFIG_PATH_MAX bytes). */
void config_subpath(char *buf, const char *path, const char *key);
/* PATH without its last ".key" into buf (CONFIG_PATH_MAX bytes): where range errors
 * are reported, as in "services.echo: nice must be between -20 and 19". */
void config_parent_path(char *buf, const char *path);
/* True when pair P is the first with its key in M (later ones are duplicates). */
bool config_pair_is_first(struct ydoc *yd, yaml_node_t *m, const yaml_node_pair_t *p);

/* Loads PATH (the main file, or an INCLUDED one) within the load's budget and keeps it
 * for the rest of the load; NULL after reporting why. */
struct ydoc *config_load_doc(struct loader *l, const char *path, bool included);
void config_free_ref_names(struct loader *l);
/* Adds the services of map V (the value of `services:`) to l->refs. */
void config_collect_services(struct loader *l, struct ydoc *yd, yaml_node_t *v);
/* `include:` in the main file YD: a pattern or a list of them. */
void config_process_include(struct loader *l, struct ydoc *yd, yaml_node_t *v);

/* The keys a service shares with `defaults:`, and those only a service may have;
 * NULL-terminated. */
extern const char *const config_part_keys[];
extern const char *const config_service_keys[];
/* Parses one such key into P. Returns false when KEY is not one of them. */
bool config_part_parse(struct loader *l, struct ydoc *yd, const char *key, yaml_node_t *v,
                       const char *path, bool in_defaults, struct svc_part *p);
void config_part_free(struct svc_part *p);

/* A duration of at most a year at V (KEY names it in range messages). Returns 0, or -1
 * after reporting. */
int config_duration(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                    const char *key, uint64_t *usec_r);
/* `limits:` and `access:` maps into P (config_limits.c). */
void config_limits_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         struct svc_part *p);
void config_access_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         struct svc_part *p);
/* A list of CIDR strings. Returns 0, or -1 after reporting each bad item; the list is
 * allocated either way (free it). */
int config_cidr_list(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                     struct cidr **list_r, size_t *n_r);
/* `journal`, `off` or `json:/absolute/path`. Returns 0, or -1 after reporting. */
int config_connlog_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         enum connlog_mode *mode_r, char **path_r);
void config_access_free(struct access_conf *a);

/* The banner files (config_banner.c): KIND's key at V read into P; merged into SC, and
 * checked against SC's model and listeners (after its MPM is known). */
extern const char *const config_banner_keys[BANNER_COUNT];
void config_banner_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         enum banner_kind kind, struct svc_part *p);
void config_banner_merge(struct loader *l, struct service_conf *sc, const struct svc_part *own);
void config_banner_check(struct loader *l, const struct service_conf *sc);
/* SC has banners and LC is a datagram listener: -1 with the error in DIAG at LC. */
int config_banner_dgram_refused(const struct service_conf *sc, const struct listen_conf *lc,
                                struct diag *diag);
void config_banner_free(struct banner_conf *b);

/* `mpm:` (a model name or {model: NAME, options...}) into P's mpm fields. */
void config_mpm_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                      struct svc_part *p);
/* OPS's options with every default filled in, or NULL without memory. */
void *config_mpm_options_new(const struct mpm_ops *ops);
/* A copy of an options blob of OPS, or NULL without memory. */
void *config_mpm_options_dup(const struct mpm_ops *ops, const void *options);

/* User and group lookups: "name" or a numeric id, each asked once per load
 * (config_ident.c). Return 0, or -1 after reporting. */
int config_lookup_user(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                       char **name_r, uid_t *uid_r, gid_t *gid_r);
int config_lookup_group(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                        char **name_r, gid_t *gid_r);
void config_ident_free(struct loader *l);
/* An addr_port_lookup with the loader as context: service names through the services
 * file, read once per load (config_names.c). */
int config_port_lookup(void *loader, const char *name, int socktype, unsigned *port_r, char *err,
                       size_t errlen);
void config_names_free(struct loader *l);
/* The name of group GID (its number when it has none), looked up through the same
 * cache; NULL without memory. */
char *config_group_name(struct loader *l, gid_t gid);

/* `listen:` at V (an address, a map, or a list of them) into SC->listen
 * (config_listen.c). Reports every mistake; SC->listen is allocated either way. */
void config_listen_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         struct service_conf *sc);
/* TLS (config_tls.c): `defaults.tls` map V; a listen map M's `tls` into LC (merged with
 * the defaults); the TLS servers of SC's listeners, built once its model is known. */
struct tls_part;
void config_tls_defaults(struct loader *l, struct ydoc *yd, yaml_node_t *v);
void config_tls_loader_free(struct loader *l);
void config_tls_listen(struct loader *l, struct ydoc *yd, yaml_node_t *m, const char *path,
                       struct listen_conf *lc);
void config_tls_build(struct loader *l, struct service_conf *sc);
void config_tls_listen_free(struct listen_conf *lc);

/* Builds service REF into SC (its own keys, the defaults, identity, MPM). */
void config_service_build(struct loader *l, const struct svc_ref *ref, struct service_conf *sc);
/* Merges the defaults and OWN into SC and resolves everything that depends on both. */
void config_service_merge(struct loader *l, struct service_conf *sc, struct svc_part *own);
/* SC's capabilities against what superserverd holds; warns about a program run as root
 * without any. CAPS and USER: the parts the merged values came from (NULL: none). */
void config_caps_check(struct loader *l, const struct service_conf *sc, const struct svc_part *caps,
                       const struct svc_part *user);
void config_service_free(struct service_conf *sc);

/* The canonical rendering of SC's settings (positions excluded), or NULL. */
char *config_fingerprint(const struct service_conf *sc);

#endif
