/*
 * Packet rates on datagram listeners: a service-wide token bucket and one bucket per
 * source, so that a flood — from one address or from spoofed ones — cannot make a
 * service answer faster than its rate. The numbers are the service's `limits:` rate,
 * burst, per_source_rate and per_source_burst, counted in packets; without them the
 * defaults below apply. The state is private to one service process (no lock, no
 * shared memory): with several processes reading one socket, each takes its share of
 * the rates (rate / share), so together they stay within them.
 *
 * Sources live in a fixed, hashed table: memory never grows. An entry whose bucket has
 * refilled carries no state and is reused; when a probe window holds only live
 * entries, the one seen least recently is evicted (its source starts again with a full
 * bucket). A flood of spoofed sources thus churns the table, but every packet still
 * passes the service-wide bucket, which no table state can bypass.
 */
#ifndef SUPERSERVERD_DGRAM_LIMIT_H
#define SUPERSERVERD_DGRAM_LIMIT_H

#include <stdint.h>

#include "superserverd/config.h"

/* Defaults when the service gives no rate: a client of echo, daytime or time sends a
 * handful of packets; a reflection attack needs thousands. */
#define DGRAM_LIMIT_RATE     2000.0 /* packets per second, service-wide */
#define DGRAM_LIMIT_BURST    2000.0
#define DGRAM_LIMIT_PS_RATE  20.0 /* per source */
#define DGRAM_LIMIT_PS_BURST 40.0

#define DGRAM_LIMIT_TABLE  4096 /* sources per process, a power of two */
#define DGRAM_LIMIT_PROBES 8

struct dgram_source {
	double tokens;
	uint64_t at; /* last refill: when the source was last seen; 0 = never used */
	uint8_t family;
	uint8_t key[16];
};

struct dgram_limit {
	double rate, burst, ps_rate, ps_burst; /* this process's share */
	double tokens;                         /* the service-wide bucket */
	uint64_t at;
	uint32_t seed;
	struct dgram_source *table; /* DGRAM_LIMIT_TABLE entries */
	uint64_t evictions;         /* live entries given to another source */
};

enum dgram_verdict {
	DGRAM_PASS,
	DGRAM_OVER_SOURCE,  /* the source's own rate */
	DGRAM_OVER_SERVICE, /* the service-wide rate */
};

/* Rates from LIM (or the defaults), divided by SHARE (the processes reading the same
 * sockets, at least 1). Returns 0 or -ENOMEM. */
int dgram_limit_init(struct dgram_limit *dl, const struct limits_conf *lim, unsigned share);
void dgram_limit_free(struct dgram_limit *dl);

/*
 * One packet at NOW (microseconds, monotonic; the caller reads the clock once per
 * batch) from the source KEY of FAMILY (AF_INET or AF_INET6, masked already; AF_UNIX
 * for a local sender, keyed by its uid), or from no known source at all (FAMILY 0:
 * the service-wide bucket only). The
 * source's bucket is charged first, so a source over its own rate does not spend the
 * service's tokens that other sources need.
 */
enum dgram_verdict dgram_limit_take(struct dgram_limit *dl, int family, const uint8_t key[16],
                                    uint64_t now);

#endif
