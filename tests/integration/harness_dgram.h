/*
 * Datagram helpers for the integration tests: a unix datagram client the service can
 * answer, one answer awaited with a deadline, and a service's datagram counters as
 * `stats` reports them.
 */
#ifndef SS_TEST_HARNESS_DGRAM_H
#define SS_TEST_HARNESS_DGRAM_H

#include <sys/types.h>

#include "harness.h"

/* A unix datagram socket bound to NAME in D's directory, writable by the service's
 * user (mode 0666). Fails the test if it cannot be made. */
int hd_unix_client(const struct daemon *d, const char *name);
/* One datagram on FD within TIMEOUT_MS: its length (0 for an empty one), or -1. */
ssize_t hd_answer(int fd, void *buf, size_t cap, int timeout_ms);
/* SERVICE's datagram counter FIELD ("received", "answered", ...), or with REASON set
 * the drop reason's; -1 when the answer lacks it. */
long long hd_count(struct daemon *d, const char *service, const char *field, const char *reason);

#endif
