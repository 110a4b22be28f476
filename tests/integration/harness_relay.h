/*
 * Relay helpers for the integration tests of `forward` and ss_conn_relay(): a target
 * listener on loopback, the daemon's connection to it, and a service's figures as
 * `stats` reports them.
 */
#ifndef SS_TEST_HARNESS_RELAY_H
#define SS_TEST_HARNESS_RELAY_H

#include "harness.h"

/* A TCP listener on 127.0.0.1 with BACKLOG, on a port the kernel picks (*port_r).
 * Fails the test if it cannot be made. */
int hr_listener(int backlog, int *port_r);
/* The daemon's connection to listener LFD, accepted within MS (fails the test
 * otherwise). */
int hr_accept(int lfd, int ms);
/* SERVICE's figure KEY in `stats` ("active", "completed", ...), -1 when it cannot be
 * read. */
long long hr_stat(struct daemon *d, const char *service, const char *key);
/* SERVICE's upstream figure KEY ("attempts", "connected", ...), -1 when absent. */
long long hr_upstream(struct daemon *d, const char *service, const char *key);

#endif
