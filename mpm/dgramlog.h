/*
 * Records of datagrams served in-process: one connection record per datagram answered
 * or dropped (transport "datagram", duration 0, outcome "answered", "completed" when
 * the handler owes no answer, or "dropped" with the drop reason). Answered datagrams are
 * bounded by the service's packet rates; dropped ones are not (a flood of forged or
 * denied sources is exactly what is dropped), so at most DGRAMLOG_DROPS_PER_SEC drop
 * records a second leave each process, and the rest are summed into one "suppressed"
 * record at the end of that second. The records of one batch go to the master together
 * (connlog_hold).
 */
#ifndef SUPERSERVERD_DGRAMLOG_H
#define SUPERSERVERD_DGRAMLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mpm/connlog.h"

#define DGRAMLOG_DROPS_PER_SEC 10

/* What became of a datagram: one of these, or an enum dgram_drop_reason (>= 0). */
enum { DGRAMLOG_ANSWERED = -1, DGRAMLOG_UNANSWERED = -2 };

struct dgramlog {
	struct connlog *cl;
	uint64_t window_start; /* the second whose drop records are being counted */
	unsigned in_window;
	uint64_t suppressed; /* drop records left out, not yet summed in a record */
	uint64_t suppressed_since;
};

struct dgram_record {
	const struct sockaddr *peer, *local;
	socklen_t peer_len, local_len;
	uint64_t bytes_in, bytes_out;
	int result; /* DGRAMLOG_ANSWERED, DGRAMLOG_UNANSWERED or a drop reason */
};

void dgramlog_init(struct dgramlog *dl, struct connlog *cl);
static inline bool dgramlog_enabled(const struct dgramlog *dl)
{
	return connlog_enabled(dl->cl);
}
/* The record of a datagram received at NOW (CLOCK_MONOTONIC), or its count among the
 * suppressed. */
void dgramlog_write(struct dgramlog *dl, const struct dgram_record *r, uint64_t now);
/* When the suppressed count is due as a record; 0 when nothing is suppressed. */
uint64_t dgramlog_due(const struct dgramlog *dl);
/* The suppressed count as a record, if it is due at NOW (or at once with FORCE). */
void dgramlog_summary(struct dgramlog *dl, uint64_t now, bool force);

#endif
