/*
 * Per-connection records: one structured record when a connection ends — service,
 * model, process, peer and local address, start, duration, bytes (or unknown) and the
 * outcome — to the journal (fields SERVICE=, REMOTE_ADDR=, ...) or as one JSON object
 * per line in a file. The file belongs to the master (services run unprivileged and
 * could neither open nor reopen it): service processes send each line as one datagram
 * and the master appends it, and reopens the file on SIGUSR1 (logrotate). Off by
 * default for built-ins and modules, on (journal) for exec'd programs.
 */
#ifndef SUPERSERVERD_CONNLOG_H
#define SUPERSERVERD_CONNLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "superserverd/config.h"
#include "superserverd/scoreboard.h"

struct connlog {
	enum connlog_mode mode; /* resolved: OFF, JOURNAL or JSON */
	const struct service_conf *conf;
	struct scoreboard *sb;
	int fd; /* JSON: the datagram socket to the master (not ours to close) */
};

struct conn_record {
	const struct sockaddr *peer;
	socklen_t peer_len;
	const struct sockaddr *local; /* NULL: read from fd if >= 0 */
	socklen_t local_len;
	int fd;
	uint64_t start_usec; /* CLOCK_MONOTONIC */
	bool bytes_known;
	uint64_t bytes_in, bytes_out;
	const char *outcome; /* "completed", "rejected", "timeout", "handler-error", "peer-gone",
	                        "exited", "killed" */
	const char *reason;  /* rejected: the reason; else NULL */
	int exit_status;     /* exited: the status; killed: the signal; else -1 */
};

/* fd: the worker's connlog_fd. */
void connlog_open(struct connlog *cl, const struct service_conf *sc, struct scoreboard *sb, int fd);
/* The mode a service's setting resolves to (DEFAULT becomes OFF or JOURNAL). */
enum connlog_mode connlog_mode_of(const struct service_conf *sc);
static inline bool connlog_enabled(const struct connlog *cl)
{
	return cl->mode != CONNLOG_OFF;
}
void connlog_write(struct connlog *cl, const struct conn_record *r);
void connlog_close(struct connlog *cl);
struct ss_conn;
/* The record of a connection a handler served, from the connection itself (its
 * addresses as cached or, while the socket is open, read; its byte counts). */
void connlog_conn_done(struct connlog *cl, const struct ss_conn *c, int driver_outcome);
/* The record of a connection admission turned away (no-op when records are off). */
void connlog_rejected(struct connlog *cl, const struct sockaddr *peer, socklen_t peer_len, int fd,
                      int reason);
/* "completed", "timeout", ... for a driver outcome. */
const char *connlog_outcome(int driver_outcome);

#endif
