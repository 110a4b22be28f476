/*
 * The master process: the event loop (signals, child exits, timers, watchdog), the
 * set of running services, reload and shutdown.
 */
#ifndef SUPERSERVERD_MASTER_H
#define SUPERSERVERD_MASTER_H

#include "superserverd/config.h"

/* Runs the daemon on cfg (takes the reference) until it is told to stop. Returns the
 * process exit code: 0 after a clean stop, 1 when it cannot start. */
int master_run(struct config *cfg, const char *config_path, const struct config_load_opts *opts);

#endif
