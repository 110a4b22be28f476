/*
 * Control-socket helpers for the integration tests: a request is one JSON object on
 * one line and so is the answer (docs/control.md). Every read has a deadline.
 */
#ifndef SS_TEST_HARNESS_CTL_H
#define SS_TEST_HARNESS_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "harness.h"

/* Reads one line (without its newline) into buf. Returns its length, or -1 on EOF,
 * error or timeout before a whole line arrived. */
ssize_t hc_read_line(int fd, char *buf, size_t cap, int timeout_ms);
/* Sends `text` as is on fd and parses the answer line; NULL if none came. */
json_t *hc_exchange(int fd, const char *text, int timeout_ms);
/*
 * One request on a fresh connection to d's control socket. It first empties d's
 * notify socket: every start/stop/drain makes the daemon send a STATUS= datagram,
 * and with nobody reading them the daemon would block in sd_notify once the
 * socket's queue is full (net.unix.max_dgram_qlen, 10 by default).
 */
json_t *hc_call(struct daemon *d, const char *command, const char *service);
/* The service named `name` in a status or stats answer (borrowed), or NULL. */
json_t *hc_service(json_t *reply, const char *name);
long long hc_int(const json_t *o, const char *key);
const char *hc_str(const json_t *o, const char *key);
/* True when the answer has "ok": true. */
bool hc_ok(const json_t *reply);
/* Waits until `status` shows the service in `state`. */
bool hc_wait_state(struct daemon *d, const char *service, const char *state, int timeout_ms);

#endif
