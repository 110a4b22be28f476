/*
 * The `upstream` part of a service's status and stats answers: the connects its relays
 * made towards their target (ss_conn_relay, the `forward` built-in), from the
 * scoreboard (docs/control.md).
 */
#ifndef SUPERSERVERD_UPSTREAM_JSON_H
#define SUPERSERVERD_UPSTREAM_JSON_H

#include <jansson.h>

#include "superserverd/scoreboard.h"

/* {"attempts", "connected", "failed", "timeouts", "connect_usec_sum",
 * "connect_usec_max"}, or NULL before the service has relayed any connection. */
json_t *upstream_json(struct scoreboard_counters *c);

#endif
