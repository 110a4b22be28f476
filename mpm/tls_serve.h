/*
 * TLS for the blocking models (fork, prefork): a connection accepted on a TLS
 * listener gets its tls_conn and the listener's handshake timeout before the driver
 * runs it, and its handshake is counted in the service's scoreboard once it is over.
 * The PROXY header and admission come before (the caller's order), so a refused
 * client costs no crypto.
 */
#ifndef SUPERSERVERD_TLS_SERVE_H
#define SUPERSERVERD_TLS_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "mpm/conn.h"
#include "mpm/driver.h"
#include "mpm/tls_conn.h"

struct listen_conf;
struct scoreboard;

/*
 * When LC is a TLS listener: gives C (conn_init'ed) a tls_conn on its socket and sets
 * LIM's handshake timeout. Returns 0 (also for a plaintext listener), or -ENOMEM: C
 * must not be served then (it would be plaintext on a TLS port).
 */
int tls_serve_attach(struct ss_conn *c, const struct listen_conf *lc, struct driver_limits *lim);

/* Counts C's handshake, after driver_serve, when C was a TLS connection: completed
 * (with its time and resumption) or failed by its reason. A connection stopped before
 * its handshake ended is not counted. */
void tls_serve_count(struct scoreboard *sb, const struct ss_conn *c);

/* Counts the handshake of T, a TLS connection served without the driver (a program's
 * relay): R is tls_conn_handshake_blocking's result, USEC its duration. */
void tls_serve_count_conn(struct scoreboard *sb, const struct tls_conn *t, int r, uint64_t usec);

#endif
