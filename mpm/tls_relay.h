/*
 * The plaintext relay for a program behind TLS (`exec:` under `fork`): the connection
 * process holds the TLS connection and a socketpair whose other end is the program's
 * fd 0 and 1, and moves bytes between the two. The shape of mpm/relay.h: a step does
 * the non-blocking work both sides allow and says what it waits for next, and
 * tls_relay_run_blocking() runs steps from poll().
 *
 * Each direction holds at most one buffer of bytes, and a side is read only when
 * what was read from it before has been written: a program that does not read stops
 * the client through TCP's flow control, a client that does not read stops the
 * program. Half-closes cross over: the program closing its output becomes
 * close_notify and a shutdown of the TLS socket's write half; the client's
 * close_notify (or a bare end of stream, counted as a truncation) becomes
 * shutdown(SHUT_WR) on the socketpair. The relay is done when both directions are.
 */
#ifndef SUPERSERVERD_TLS_RELAY_H
#define SUPERSERVERD_TLS_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "mpm/driver.h"
#include "mpm/relay.h"
#include "mpm/tls_conn.h"

struct iovec;
struct tls_relay;

/*
 * A relay between T (its handshake done; T and its socket stay the caller's) and
 * PROG, the caller's end of the program's socketpair (non-blocking or not: it is used
 * with MSG_DONTWAIT; stays the caller's). NOW starts the idle and duration clocks.
 * Returns NULL without memory.
 */
struct tls_relay *tls_relay_new(struct tls_conn *t, int tls_fd, int prog, uint64_t now);
void tls_relay_free(struct tls_relay *r);
/* Before the first step: N (at most 2) pieces of a greeting (the service's banners)
 * that reach the client through TLS ahead of the program's first byte; the program's
 * output is not read until they are written. The bytes stay the caller's and must
 * outlive R; they are not counted in tls_relay_bytes_out. */
void tls_relay_greet(struct tls_relay *r, const struct iovec *iov, int n);

/* One step: READY is the readiness seen on the TLS socket, PROG_READY on the
 * program's (RELAY_IN/OUT and any other poll or epoll bit; RELAY_ANY: try anyway; 0:
 * nothing seen). */
enum relay_status tls_relay_step(struct tls_relay *r, uint32_t ready, uint32_t prog_ready,
                                 uint64_t now);
/* What to wait for on each side; 0: leave that side out of the wait (see relay.h). */
uint32_t tls_relay_want(const struct tls_relay *r);
uint32_t tls_relay_prog_want(const struct tls_relay *r);
/* The client's stream ended without close_notify. */
bool tls_relay_truncated(const struct tls_relay *r);
/* Plaintext bytes from the client to the program, and back. */
uint64_t tls_relay_bytes_in(const struct tls_relay *r);
uint64_t tls_relay_bytes_out(const struct tls_relay *r);

/*
 * The whole relay in the calling thread: poll() on both sockets until done, a limit
 * of LIM passed (the idle time counts from the last byte either way), or STOP (when
 * not NULL) returns true, looked at every quarter second. Does not free R.
 */
enum driver_outcome tls_relay_run_blocking(struct tls_relay *r, const struct driver_limits *lim,
                                           bool (*stop)(void *arg), void *arg);

#endif
