/*
 * A running service in the master: its configuration (one generation's), its
 * listening sockets, and the service processes the MPM asked for, supervised with
 * backoff. The master never touches client bytes; everything here is process
 * bookkeeping.
 */
#ifndef SUPERSERVERD_SERVICE_H
#define SUPERSERVERD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "superserverd/config.h"
#include "superserverd/listen.h"

enum service_state {
	SERVICE_RUNNING,
	SERVICE_FAILED,   /* crashed too often in a row; clients are turned away until it is
	                   * started again (start, restart, a reload) */
	SERVICE_STOPPING, /* going away: no longer accepting, connections finishing */
	SERVICE_STOPPED,
	SERVICE_DRAINING, /* told to stop accepting; its sockets stay open (backlog) */
	SERVICE_DRAINED,  /* drained: no processes, clients wait until it resumes */
	/* Reported by service_state() only: running, but every process died and waits
	 * out its restart backoff (clients wait in the backlog meanwhile). */
	SERVICE_RESTARTING,
};

struct service;

/* Called once a stopping service's last process is gone. */
typedef void (*service_gone_fn)(struct service *svc, void *userdata);

struct service_env {
	sd_event *event;
	struct listen_table *listeners;
	service_gone_fn gone;
	void *userdata;
	/* Every service's listening fds, so a service process can close the others'. */
};

/* Creates the service (acquiring its listening sockets) without starting processes.
 * On failure returns NULL and writes every problem to diag. cfg is referenced. */
struct service *service_new(const struct service_env *env, struct config *cfg,
                            const struct service_conf *sc, struct diag *diag);
int service_start(struct service *svc);
/* Stop accepting, let connections finish up to shutdown_timeout, then kill. Releases
 * the listening sockets at once (a removed service refuses new connections; a changed
 * one shares them with its successor). */
void service_stop(struct service *svc);
/* Kill every process now (second stop signal). */
void service_kill(struct service *svc);
/* Moves an unchanged service onto a new configuration generation; its processes and
 * sockets are not touched. `replacement` is the freshly created service for the new
 * generation, whose sockets are the same; it is consumed. */
void service_adopt(struct service *svc, struct service *replacement);
/* Stop accepting and let the connections in hand finish, keeping the listening
 * sockets open so new clients wait in the backlog; no timeout. */
void service_drain(struct service *svc);
/* Undo a drain: processes start again. Returns 0 or a negative errno. */
int service_resume(struct service *svc);
void service_free(struct service *svc);
/* SIGUSR1: reopen the connection-record file (logrotate moved it). */
void service_reopen_logs(struct service *svc);

const char *service_name(const struct service *svc);
const struct service_conf *service_conf(const struct service *svc);
enum service_state service_state(const struct service *svc);
size_t service_process_count(const struct service *svc);
const char *service_state_name(enum service_state s);
struct scoreboard *service_scoreboard(const struct service *svc);
/* CLOCK_MONOTONIC usec of the last start; 0 if never started. */
uint64_t service_started_usec(const struct service *svc);
size_t service_n_listeners(const struct service *svc);
const struct listener *service_listener(const struct service *svc, size_t i);

#endif
