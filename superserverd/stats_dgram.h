/*
 * The datagram part of a service's entry in the control socket's status and stats
 * answers: what its datagram listeners received, answered and dropped (by reason), and
 * their bytes, from the scoreboard.
 */
#ifndef SUPERSERVERD_STATS_DGRAM_H
#define SUPERSERVERD_STATS_DGRAM_H

#include <jansson.h>

struct service;

/* {"received", "answered", "dropped", "dropped_by_reason": {...}, "bytes_in",
 * "bytes_out"}, or NULL when SVC has no datagram listener (nothing to say). */
json_t *stats_dgram_json(const struct service *svc);

#endif
