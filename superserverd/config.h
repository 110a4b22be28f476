/*
 * The configuration: the YAML file (and its includes) turned into an immutable,
 * validated tree of plain structs. Every value remembers where it came from so that
 * errors and later runtime messages can name FILE:LINE:COL.
 *
 * A loaded configuration is never modified; a reload builds a new one beside the old
 * and the master switches over only when the new one is complete. It is reference
 * counted because stopping services outlive the generation that started them.
 */
#ifndef SUPERSERVERD_CONFIG_H
#define SUPERSERVERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "superserverd/diag.h"
#include "superserverd/addr.h"

struct mpm_ops;

enum handler_kind {
	HANDLER_BUILTIN,
	HANDLER_EXEC,
	HANDLER_MODULE,
};

struct config_kv {
	char *key;
	char *value;
	struct diag_pos pos;
};

struct listen_conf {
	struct addr addr; /* parsed address (kind, sockaddr, systemd name, canonical key) */
	int backlog;      /* default 4096 (the kernel caps it at net.core.somaxconn) */
	bool reuseport;
	bool nodelay;
	bool keepalive;
	/* unix sockets only */
	bool has_mode, has_owner, has_group;
	mode_t mode;
	uid_t owner;
	gid_t group;
	struct diag_pos pos;
};

enum rlimit_index { RLIM_NOFILE, RLIM_NPROC, RLIM_AS, RLIM_CPU, RLIM_CORE, RLIM_COUNT };

struct rlimit_conf {
	bool set;
	struct rlimit value; /* soft == hard unless the map form sets both */
};

struct limits_conf {
	uint64_t idle_timeout_usec; /* 0 = none */
	uint64_t max_duration_usec; /* 0 = none */
};

struct mpm_conf {
	const struct mpm_ops *ops; /* found by name in the MPM table */
	void *options;             /* ops->options_size bytes, filled from ops->option_keys */
	struct diag_pos pos;
};

struct service_conf {
	char *name;
	struct diag_pos pos; /* where the service's key is */

	struct listen_conf *listen;
	size_t n_listen;

	enum handler_kind kind;
	char *builtin;     /* HANDLER_BUILTIN */
	char **exec_argv;  /* HANDLER_EXEC: NULL-terminated, argv[0] absolute */
	char *module_path; /* HANDLER_MODULE */
	struct config_kv *args; /* `args:` map (scalars), for builtin and module */
	size_t n_args;

	struct mpm_conf mpm;

	/* identity: resolved at load time; the daemon's own when it is not root */
	bool user_explicit; /* `user:` given for this service (or in defaults) */
	char *user;
	uid_t uid;
	gid_t gid;
	char *group;
	gid_t *groups; /* supplementary, resolved */
	size_t n_groups;
	uint64_t capabilities; /* bit n = capability n */

	struct config_kv *environment; /* in file order, later keys override earlier */
	size_t n_environment;
	char **pass_environment; /* names of daemon variables handed on */
	size_t n_pass_environment;

	bool has_umask;
	mode_t umask;
	bool has_nice;
	int nice;
	struct rlimit_conf rlimits[RLIM_COUNT];
	uint64_t shutdown_timeout_usec; /* default 10 s */
	struct limits_conf limits;

	/* A canonical rendering of everything that went into this service (its own keys
	 * and the defaults merged into it). Two generations' services with equal
	 * fingerprints are the same service: a reload leaves it running. */
	char *fingerprint;
};

struct config {
	unsigned refs;
	char *path; /* the main file as given */

	char *control_socket; /* NULL = the built-in default */
	char *control_group;
	char *control_admin_group;

	int log_level; /* syslog priority: LOG_DEBUG .. LOG_ERR */

	struct service_conf *services; /* in file order */
	size_t n_services;
};

/* Options that change how a file is judged, e.g. for tests. */
struct config_load_opts {
	/* The identity superserverd will run with; (uid_t)-1 means geteuid(). */
	uid_t daemon_uid;
};

/*
 * Loads and validates PATH. Returns 0 and a configuration with one reference, or -1
 * with every problem found appended to diag (FILE:LINE:COL: message). Never both.
 */
int config_load(const char *path, const struct config_load_opts *opts, struct config **cfg_r,
		struct diag *diag);

struct config *config_ref(struct config *cfg);
struct config *config_unref(struct config *cfg); /* returns NULL */

const struct service_conf *config_find_service(const struct config *cfg, const char *name);

/* The value of `args` key, or NULL. */
const char *config_args_get(const struct service_conf *sc, const char *key);

#endif
