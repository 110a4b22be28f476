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
#include "superserverd/cidr.h"
#include "superserverd/tls.h"

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
	/* SO_RCVBUF / SO_SNDBUF in bytes (the kernel doubles it); 0 = the system's */
	int receive_buffer, send_buffer;
	bool reuseport;
	bool nodelay;
	bool keepalive;
	/* unix sockets only */
	bool has_mode, has_owner, has_group;
	mode_t mode;
	uid_t owner;
	gid_t group;
	/* Written explicitly: stream-only keys are refused on a datagram address. */
	bool has_backlog, has_nodelay, has_keepalive;
	/* PROXY protocol v1/v2 header expected first on every connection (TCP only) */
	bool proxy_protocol;
	struct cidr *trusted_proxies; /* required non-empty with proxy_protocol */
	size_t n_trusted_proxies;
	uint64_t proxy_timeout_usec; /* `proxy_timeout`, default 5 s */
	/* `tls`: its settings (defaults.tls merged in) and the server built from them by
	 * the master at load; both NULL: plaintext. tls_bad: a `tls` that was refused
	 * (the load fails). */
	struct tls_conf *tls_conf;
	struct tls_server *tls; /* NULL: plaintext */
	bool tls_bad;
	struct diag_pos pos;
};

enum rlimit_index { RLIM_NOFILE, RLIM_NPROC, RLIM_AS, RLIM_CPU, RLIM_CORE, RLIM_COUNT };

struct rlimit_conf {
	bool set;
	struct rlimit value; /* soft == hard unless the map form sets both */
};

enum overload_mode {
	OVERLOAD_WAIT,   /* at max_connections stop accepting: clients wait in the backlog */
	OVERLOAD_REJECT, /* accept, send the banner (if any), close */
};

struct limits_conf {
	uint64_t idle_timeout_usec; /* 0 = none */
	/* A module service's idle_timeout_usec is the default, which a handler declaring
	 * SS_HANDLER_SILENT_CLIENTS goes without: known only once its service process has
	 * loaded it (service.c). A built-in's flags are applied at load time. */
	bool idle_timeout_default;
	uint64_t max_duration_usec; /* 0 = none */
	uint64_t max_connections;   /* service-wide, across its processes; 0 = unlimited */
	enum overload_mode overload;
	char *banner;            /* sent (with CRLF) before a rejection closes; NULL = none */
	uint32_t per_source_max; /* concurrent connections per source; 0 = unlimited */
	unsigned ipv4_prefix;    /* a source is the peer address masked to this; default 32 */
	unsigned ipv6_prefix;    /* default 64 */
	double rate;             /* service-wide new connections per second; 0 = unlimited */
	double burst;            /* bucket size; default max(rate, 1) */
	double per_source_rate;  /* per source; 0 = unlimited */
	double per_source_burst; /* default max(per_source_rate, 1) */
	/* On datagram listeners the four rates above count packets, and an answer is at
	 * most max(request length, datagram_reply_max) bytes; 0 = the request's length. */
	uint32_t datagram_reply_max;
};

/* The largest datagram a handler is given (and answer it may send): a larger one is
 * dropped and counted for its size. Also datagram_reply_max's ceiling. */
#define CONFIG_DATAGRAM_MAX 16384

/* Who may connect. TCP: CIDR lists, longest match wins, deny by default once `allow`
 * has an entry. Unix sockets: peer uid/gid (SO_PEERCRED). */
struct access_conf {
	struct cidr *allow, *deny;
	size_t n_allow, n_deny;
	uid_t *allow_uids; /* `allow_users`: names or numbers */
	size_t n_allow_uids;
	gid_t *allow_gids; /* `allow_groups`: a peer whose primary gid matches */
	size_t n_allow_gids;
};

/* Where per-connection records go (log.connections, per service `log_connections`). */
enum connlog_mode {
	CONNLOG_DEFAULT, /* not configured: off for built-ins and modules, journal for exec */
	CONNLOG_OFF,
	CONNLOG_JOURNAL, /* one journal entry per connection (stderr line without a journal) */
	CONNLOG_JSON,    /* one JSON object per line appended to a file */
};

/* xinetd's banners: files read at load (and again at each reload), sent on connections. */
enum banner_kind {
	BANNER_CONNECT, /* `banner`: to every client on connect, admitted or turned away */
	BANNER_SUCCESS, /* `banner_success`: to an admitted client, after `banner` */
	BANNER_FAIL,    /* `banner_fail`: to a client turned away, after `banner` */
	BANNER_COUNT,
};

/* The largest banner file: it has to fit a fresh socket's buffer to be sent at once. */
#define CONFIG_BANNER_MAX (64 * 1024)

struct banner_conf {
	char *path; /* NULL: none */
	char *data; /* the file's bytes as read at load; NULL when it was empty */
	size_t len;
	struct diag_pos pos; /* of the key's value */
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
	char *builtin;          /* HANDLER_BUILTIN */
	char **exec_argv;       /* HANDLER_EXEC: NULL-terminated, argv[0] absolute */
	char *module_path;      /* HANDLER_MODULE */
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
	struct access_conf access;
	struct banner_conf banners[BANNER_COUNT];
	enum connlog_mode connlog; /* the service's `log_connections`, else log.connections */
	char *connlog_path;        /* CONNLOG_JSON */

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

	int log_level;             /* syslog priority: LOG_DEBUG .. LOG_ERR */
	enum connlog_mode connlog; /* log.connections */
	char *connlog_path;

	struct service_conf *services; /* in file order */
	size_t n_services;
};

/* Options that change how a file is judged, e.g. for tests. */
struct config_load_opts {
	/* The identity superserverd will run with; (uid_t)-1 means geteuid(). */
	uid_t daemon_uid;
	/* The services(5) file that names in listening addresses are looked up in; NULL
	 * means /etc/services. Only tests set it (the daemon always reads /etc/services). */
	const char *services_path;
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

struct iovec;
/*
 * What a client that SC turns away is sent, as up to 3 iovecs into IOV (returns how
 * many): `banner`, then `banner_fail`, or without a banner_fail limits.banner and CRLF
 * unless the refusal is by the access lists (ACCESS: those tell the peer nothing).
 */
int config_refusal_iov(const struct service_conf *sc, bool access, struct iovec iov[3]);
/* What a client SC lets in is sent first (`banner`, then `banner_success`), likewise. */
int config_greeting_iov(const struct service_conf *sc, struct iovec iov[2]);

/*
 * A datagram listener LC that service SC cannot serve (its model serves no datagrams
 * for its kind of handler, or its built-in has no datagram form): -1 with the error in
 * DIAG at LC's position, else 0. Loading checks every udp:/unixgram: address; a
 * systemd: socket's type is known only once passed, so starting the service checks it.
 */
int config_dgram_refused(const struct service_conf *sc, const struct listen_conf *lc,
                         struct diag *diag);

#endif
