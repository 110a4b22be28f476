/*
 * The master process: the event loop (signals, child exits, timers, watchdog), the
 * set of running services, reload and shutdown.
 */
#ifndef SUPERSERVERD_MASTER_H
#define SUPERSERVERD_MASTER_H

#include <limits.h>

#include "superserverd/config.h"

/* What it takes to start this program again for an upgrade. */
struct master_exec {
	/* The binary's path when we started: after a package upgrade it names the new
	 * binary, while /proc/self/exe would name the deleted old one. */
	char exe[PATH_MAX];
	char *const *argv;
};

/* Runs the daemon on cfg (takes the reference) until it is told to stop. Returns the
 * process exit code: 0 after a clean stop, 1 when it cannot start. */
int master_run(struct config *cfg, const char *config_path, const struct config_load_opts *opts,
               const struct master_exec *self);

#endif
