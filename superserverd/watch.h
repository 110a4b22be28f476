/*
 * The master's look, once a second, at a service's failure counters in its scoreboard:
 * connections turned away (by reason) and TLS handshakes that failed (by reason). Each
 * is logged once per episode: one line when failures begin, one with the total when a
 * second passes without any. A flood of bad clients must not flood the journal too,
 * and a single one must still be seen.
 */
#ifndef SUPERSERVERD_WATCH_H
#define SUPERSERVERD_WATCH_H

#include <stdint.h>

#include "mpm/tls_conn.h"
#include "superserverd/scoreboard.h"

struct watch_episode {
	uint64_t last;  /* the counter at the previous look */
	uint64_t start; /* when the episode began (usec); 0 = none going on */
	uint64_t count; /* increases during it */
};

enum watch_step {
	WATCH_QUIET, /* no episode, nothing new */
	WATCH_BEGAN, /* *n_r: the increase since the previous look */
	WATCH_GOING, /* still increasing */
	WATCH_ENDED, /* *n_r: the episode's total, *usec_r: how long it lasted */
};

/* Looks at CUR, the counter's value at NOW (usec, monotonic). */
enum watch_step watch_episode_look(struct watch_episode *e, uint64_t cur, uint64_t now,
                                   uint64_t *n_r, uint64_t *usec_r);

struct service_watch {
	struct watch_episode rejected[REJECT_REASON_COUNT];
	struct watch_episode tls_failed[TLS_FAIL_COUNT];
};

/* One look at SB's counters, logging for service NAME what began and what ended. */
void service_watch_look(struct service_watch *w, struct scoreboard *sb, const char *name,
                        uint64_t now);

#endif
