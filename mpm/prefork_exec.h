/*
 * A prefork process that becomes the configured program, handed the listening
 * sockets from fd 3 the way systemd does for Accept=no services.
 */
#ifndef SUPERSERVERD_PREFORK_EXEC_H
#define SUPERSERVERD_PREFORK_EXEC_H

#include "mpm/mpm.h"

/* Execs the program; returns an exit code only if that failed. */
int prefork_exec_program(const struct worker_ctx *ctx);

#endif
