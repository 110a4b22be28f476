/*
 * The `runs` part of a service's status and stats answers: what the programs of a
 * model that hands sockets to programs (MPM_DGRAM_EXEC: wait) did, from the
 * scoreboard's run counters (docs/control.md).
 */
#ifndef SUPERSERVERD_RUNS_JSON_H
#define SUPERSERVERD_RUNS_JSON_H

#include <jansson.h>

#include "superserverd/scoreboard.h"

/* {"started", "running", "exited_ok", "exited_error", "killed", "timeouts",
 *  "run_usec_sum", "last_exit_status", "last_signal"}; the last two null when not
 * applicable. */
json_t *runs_json(struct scoreboard *sb);

#endif
