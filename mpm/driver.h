/*
 * The blocking connection driver shared by the fork, prefork and threadpool models:
 * runs one connection from open to close with poll(), enforcing the idle timeout and
 * the maximum duration, and calling the handler's callbacks.
 */
#ifndef SUPERSERVERD_DRIVER_H
#define SUPERSERVERD_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "mpm/conn.h"
#include "superserverd/scoreboard.h"

struct driver_limits {
	uint64_t idle_timeout_usec; /* 0 = none */
	uint64_t max_duration_usec; /* 0 = none */
	/* A TLS connection's handshake, which also counts against the two above. 0 =
	 * none of its own. */
	uint64_t handshake_timeout_usec;
};

enum driver_outcome {
	DRIVER_COMPLETED,     /* ended by the handler or the peer, output flushed */
	DRIVER_PEER_GONE,     /* reset or write error */
	DRIVER_IDLE_TIMEOUT,  /* no byte from the peer for idle_timeout */
	DRIVER_DURATION,      /* max_duration reached */
	DRIVER_HANDLER_ERROR, /* a callback failed */
	DRIVER_STOPPED,       /* *stop became non-zero */
};

/*
 * Serves c (already conn_init'ed) to the end; closes the socket, runs the handler's
 * close callback exactly once. With c->tls, the handshake comes first (a failure ends
 * the connection without the handler: DRIVER_PEER_GONE, or DRIVER_IDLE_TIMEOUT /
 * DRIVER_DURATION past a deadline; tls_conn_failure says why), and a clean end sends
 * close_notify. `stop`, when not NULL, is polled between waits (a worker
 * that must stop abandons the connection). Returns the outcome.
 */
enum driver_outcome driver_serve(struct ss_conn *c, const struct driver_limits *lim,
                                 volatile int *stop);
const char *driver_outcome_name(enum driver_outcome o);
/* poll()'s timeout: milliseconds from NOW until the nearer of two deadlines (0: not
 * set), -1 for none; CAPPED: at most the quarter second after which a blocking loop
 * looks at its stop flag. */
int driver_wait_ms(uint64_t now, uint64_t at1, uint64_t at2, bool capped);
/* The deadline (conn_now_usec clock) of a TLS handshake that started at START under
 * LIM: the nearest of its own timeout, the idle timeout and the maximum duration; 0:
 * none. */
uint64_t driver_handshake_deadline(uint64_t start, const struct driver_limits *lim);
/* How a connection ended whose handshake, started at START with deadline AT under LIM,
 * failed with R (tls_conn_handshake_blocking's). */
enum driver_outcome driver_handshake_outcome(int r, uint64_t start, uint64_t at,
                                             const struct driver_limits *lim);
/* The outcome as the scoreboard counts it. */
enum conn_result driver_result(enum driver_outcome o);

#endif
