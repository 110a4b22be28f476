/*
 * Turning clients away from a failed service: the master accepts on its listening
 * sockets and closes each connection at once, after what the service sends a client it
 * turns away (banner, banner_fail, limits.banner), so that nobody waits for a service that is not
 * coming back by itself. The sockets themselves are not changed (still listening, still in
 * systemd's fd store and the upgrade hand-over), and no client byte is read. Datagrams that reach a
 * failed service are dropped unanswered (and counted the same way).
 */
#ifndef SUPERSERVERD_TURNAWAY_H
#define SUPERSERVERD_TURNAWAY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <systemd/sd-event.h>

struct turnaway;
struct scoreboard_dgram;

/* Starts watching FDS (listening sockets the caller keeps open until turnaway_free; they
 * are made non-blocking). The N_MSG iovecs MSG (copied) are sent before each close; each
 * client turned away adds one to COUNTER, each datagram dropped one to DGRAM's received
 * and dropped `failed` (NULL: none). The watch runs below every other
 * event source, so that a flood cannot starve the rest of the master. Returns 0 or a
 * negative errno; on failure nothing is watched. NAME is the service, for the log. */
int turnaway_start(sd_event *event, const int *fds, size_t n, const struct iovec *msg, int n_msg,
                   const char *name, _Atomic uint64_t *counter, struct scoreboard_dgram *dgram,
                   struct turnaway **t_r);
/* Stops watching; returns how many connections (and datagrams) were turned away. NULL
 * is fine. */
uint64_t turnaway_free(struct turnaway *t);

#endif
