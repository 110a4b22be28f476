/*
 * Per-connection records: one structured record when a connection ends — service,
 * model, process, peer and local address, start, duration, bytes (or unknown) and the
 * outcome — to the journal (fields SERVICE=, REMOTE_ADDR=, ...) or as one JSON object
 * per line in a file. The file belongs to the master (services run unprivileged and
 * could neither open nor reopen it): service processes send each line as one datagram
 * and the master appends it, and reopens the file on SIGUSR1 (logrotate). Off by
 * default for built-ins and modules, on (journal) for exec'd programs.
 *
 * A process that writes many records at once (a batch of datagrams) holds them and
 * sends them together: several lines in one datagram, never split across two.
 */
#ifndef SUPERSERVERD_CONNLOG_H
#define SUPERSERVERD_CONNLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "superserverd/config.h"
#include "superserverd/scoreboard.h"

/* The largest datagram of records the master reads at once. */
#define CONNLOG_DGRAM_MAX 8192

struct connlog {
	enum connlog_mode mode; /* resolved: OFF, JOURNAL or JSON */
	const struct service_conf *conf;
	struct scoreboard *sb;
	int fd;       /* JSON: the datagram socket to the master (not ours to close) */
	bool holding; /* between connlog_hold and connlog_flush */
	char *held;   /* JSON lines held (CONNLOG_DGRAM_MAX bytes), allocated at first hold */
	size_t held_len;
	unsigned held_n; /* records in held */
};

struct conn_record {
	const struct sockaddr *peer;
	socklen_t peer_len;
	const struct sockaddr *local; /* NULL: read from fd if >= 0 */
	socklen_t local_len;
	int fd;
	uint64_t start_usec; /* CLOCK_MONOTONIC */
	uint64_t end_usec;   /* 0: now */
	bool datagram;       /* transport: a datagram socket's (else a stream's) */
	bool bytes_known;
	uint64_t bytes_in, bytes_out;
	const char *outcome; /* "completed", "rejected", "timeout", "handler-error", "peer-gone",
	                        "exited", "killed"; a datagram's "answered", "completed"
	                        (no answer due), "dropped"; "suppressed" */
	const char *reason;  /* rejected, dropped: the reason; else NULL */
	int exit_status;     /* exited: the status; killed: the signal; else -1 */
	uint64_t suppressed; /* "suppressed": how many records were left out */
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
/* Records written from now on are held (JSON) until connlog_flush sends them, as few
 * datagrams as they fit in. */
void connlog_hold(struct connlog *cl);
void connlog_flush(struct connlog *cl);
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
