/*
 * The MPM interface: one table of operations per processing model (fork, prefork,
 * threadpool, event, wait), found by name. The core asks a model's flags and calls its
 * operations; it never names a particular model.
 *
 * Master side: the model's options are parsed from its key table by the configuration
 * loader, checked by validate(), and the service layer starts initial_workers()
 * service processes. Worker side: worker_main() runs inside each service process after
 * the privilege drop and the handler's setup.
 */
#ifndef SUPERSERVERD_MPM_H
#define SUPERSERVERD_MPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct diag;
struct service_conf;
struct ss_handler;

enum mpm_option_type {
	MPM_OPT_UINT,     /* uint64_t */
	MPM_OPT_DURATION, /* uint64_t microseconds */
	MPM_OPT_BOOL,     /* bool */
};

/* One row of a model's option table: key, type, where it goes, bounds and default. */
struct mpm_option {
	const char *key;
	enum mpm_option_type type;
	size_t offset;
	uint64_t min, max; /* inclusive, for UINT and DURATION */
	uint64_t def;
	const char *help; /* what it means, for error messages */
};

#define MPM_CAN_EXEC (1u << 0) /* `exec:` services may use this model */
#define MPM_THREADED (1u << 1) /* handlers run on several threads of one process */
#define MPM_PROXY    (1u << 2) /* reads PROXY protocol headers (listen proxy_protocol) */
/* ...for `exec:` services too: the header is read before the program is started for
 * its connection (a model whose programs accept connections themselves cannot). */
#define MPM_PROXY_EXEC (1u << 3)
/* Serves datagram listeners with a handler's datagram callback, in-process. */
#define MPM_DGRAM (1u << 4)
/* Serves `exec:` services on datagram listeners: the program is handed the socket
 * itself (inetd's wait = yes). */
#define MPM_DGRAM_EXEC (1u << 5)
/* Terminates TLS on listeners with `tls` for a handler (the handler sees plaintext)... */
#define MPM_TLS (1u << 6)
/* ...and for `exec:` services: the program is started for a connection whose
 * handshake superserverd does (a model whose programs accept connections themselves
 * cannot). */
#define MPM_TLS_EXEC (1u << 7)

struct scoreboard;
struct scoreboard_slot;

/* What a service process gets from the master. */
struct worker_ctx {
	const struct service_conf *conf;
	const int *listen_fds;           /* non-blocking, CLOEXEC, listening */
	const char *const *listen_names; /* per fd: the systemd name or the service name */
	const int *listen_types;         /* per fd: SOCK_STREAM or SOCK_DGRAM */
	size_t n_listen;
	const struct ss_handler *handler; /* NULL for exec services */
	void *handler_data;               /* from the handler's setup */
	unsigned index;                   /* this process's scoreboard slot */
	struct scoreboard *scoreboard;    /* the service's segment, mapped in this process */
	struct scoreboard_slot *slot;     /* &scoreboard->slots[index] */
	int connlog_fd; /* datagram socket to the master for JSON connection records, or -1 */
};

/*
 * What the master lets a model do with its service's processes from tick(). Slots
 * are the scoreboard's; a process's slot is its index.
 */
struct mpm_pool {
	const struct service_conf *conf;
	const void *options;
	struct scoreboard *scoreboard;
	unsigned (*running)(struct mpm_pool *pool); /* processes alive (any state) */
	int (*spawn)(struct mpm_pool *pool);        /* one more, in a free slot */
	/* Ask slot's process to leave gracefully: 0, or -ESRCH when the slot has no
	 * process, -EALREADY when it was asked before. */
	int (*retire)(struct mpm_pool *pool, unsigned slot);
	/* Slot's process was asked to leave and is not gone yet. */
	bool (*leaving)(struct mpm_pool *pool, unsigned slot);
	void *priv; /* the service's */
	/* The model's own bookkeeping between ticks (e.g. prefork's spawn rate); zeroed
	 * when the service starts. */
	uint64_t model_state[4];
};

/* A worker that leaves on its own with this exit code (e.g. recycled after
 * max_connections_per_worker) is not a failure: no backoff, no log at warning. */
#define MPM_EXIT_RECYCLE 0

struct mpm_ops {
	const char *name;
	unsigned flags;

	size_t options_size;
	const struct mpm_option *options;
	size_t n_options;

	/* Cross-field checks once the options are parsed (e.g. min <= max). Errors go to
	 * diag at the service's mpm position. Returns 0 or -1. Optional. */
	int (*validate)(const struct service_conf *sc, const void *options, struct diag *d);

	/* How many service processes start with the service. Without tick() the master
	 * keeps exactly this many running (restarting with backoff). */
	unsigned (*workers)(const struct service_conf *sc, const void *options);
	/* Upper bound of processes at once: the number of scoreboard slots. */
	unsigned (*max_workers)(const struct service_conf *sc, const void *options);
	/* Once a second in the master, and after a worker exits: grow or shrink the pool.
	 * Optional. */
	void (*tick)(struct mpm_pool *pool);

	/* Worker side: serve until told to stop (SIGTERM: stop accepting, finish the
	 * connections in hand, return). Returns a process exit code (0 = clean). */
	int (*worker_main)(const struct worker_ctx *ctx);
};

const struct mpm_ops *mpm_find(const char *name);
/* Comma-separated names of every model, and of those with a flag, for messages. */
const char *mpm_names(void);
void mpm_names_with_flag(unsigned flag, char *buf, size_t buflen);

#endif
