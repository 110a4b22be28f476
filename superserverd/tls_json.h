/*
 * The `tls` part of a service's stats answer (docs/control.md): per TLS listener the
 * certificates it presents (subject, SNI names, expiry) and the path its plaintext
 * takes, and the handshakes of the service's processes from the scoreboard.
 */
#ifndef SUPERSERVERD_TLS_JSON_H
#define SUPERSERVERD_TLS_JSON_H

#include <stdint.h>

#include <jansson.h>

#include "superserverd/config.h"
#include "superserverd/scoreboard.h"

/* {"listeners": [...], "handshakes", "resumed", "handshake_usec_sum", "failures":
 * {reason: n}}, or NULL when SC has no TLS listener. NOW (seconds since the epoch)
 * gives each certificate's days_left. */
json_t *tls_json(const struct service_conf *sc, struct scoreboard_counters *c, int64_t now);

#endif
