/*
 * The connection object behind the handler's opaque struct ss_conn: the socket, the
 * output buffer, the handler's pointers and the end/close state. Shared by every
 * driver; drivers do the I/O, this module does the bookkeeping.
 */
#ifndef SUPERSERVERD_CONN_H
#define SUPERSERVERD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "services/handler.h"

/* Hard cap on buffered output: a handler that keeps writing without flow control is
 * stopped with -ENOBUFS instead of growing memory without bound. */
#define CONN_OUTPUT_MAX (4 * 1024 * 1024)

/* What ss_conn_relay asked for, until the model's relay takes it (mpm/relay.h). */
struct conn_relay_req {
	struct sockaddr_storage target;
	socklen_t target_len;
	uint64_t connect_timeout_usec;
	size_t prefix_len;
	char prefix[]; /* sent to the target before any client byte */
};

struct tls_conn;

struct ss_conn {
	int fd;
	struct tls_conn *tls; /* NULL: plaintext; owned (freed by conn_destroy) */
	short tls_wait;       /* POLLIN/POLLOUT TLS needs besides what the I/O asked for */
	int tls_failure;      /* enum tls_fail of a failed handshake, kept past conn_destroy */
	/* A completed handshake, kept past conn_destroy for the scoreboard: how long it
	 * took (at least 1: 0 means none completed) and whether it resumed a session. */
	uint64_t tls_handshake_usec;
	bool tls_resumed;
	const struct ss_handler *handler;
	void *service_data;
	void *user; /* ss_conn_set_data */

	char *out; /* output buffer: bytes [out_off, out_len) are pending */
	size_t out_off, out_len, out_cap;

	bool ended;         /* ss_conn_end called: flush then close */
	bool want_writable; /* handler asked for writable callbacks */
	bool closed;        /* handler close callback has run */
	bool failed;        /* a callback returned < 0 */
	bool opening;       /* the open callback is running */

	struct conn_relay_req *relay_req; /* ss_conn_relay was called; owned here */

	/* Read on first use (ss_conn_peer/local) unless the model set the peer from
	 * accept: see addr_known. */
	struct sockaddr_storage peer, local;
	socklen_t peer_len, local_len;
	unsigned addr_known; /* CONN_PEER_KNOWN | CONN_LOCAL_KNOWN */

	uint64_t bytes_in, bytes_out;
	uint64_t start_usec;    /* CLOCK_MONOTONIC */
	uint64_t activity_usec; /* last byte from the peer */
};

#define CONN_PEER_KNOWN  1u
#define CONN_LOCAL_KNOWN 2u

/* Prepares c for an accepted socket. Addresses are read when first asked for. */
void conn_init(struct ss_conn *c, int fd, const struct ss_handler *h, void *service_data);
/* The peer address accept() already gave us, saving a getpeername later. */
void conn_set_peer(struct ss_conn *c, const struct sockaddr *sa, socklen_t len);
/* The local address a PROXY header named. */
void conn_set_local(struct ss_conn *c, const struct sockaddr *sa, socklen_t len);
/* Writes pending output. Returns 0 when all is sent, 1 when the socket would block,
 * or a negative errno. */
int conn_flush(struct ss_conn *c);
/*
 * Reads what the peer sent, through TLS when c->tls: the bytes read, 0 at the end of
 * the peer's stream (a TLS stream cut short without close_notify ends the same way),
 * -EAGAIN for nothing now (see c->tls_wait), or another -errno (-EPROTO: TLS failed).
 */
ssize_t conn_recv(struct ss_conn *c, void *buf, size_t cap);
/* TLS holds input already read from the socket: read it without waiting for a
 * readiness that will not come for it. */
bool conn_recv_buffered(const struct ss_conn *c);
/* At a clean end of a TLS connection, once the output is flushed: sends close_notify.
 * 0 (also on a plaintext connection), 1 when the socket cannot take it now, -errno. */
int conn_tls_end(struct ss_conn *c);
/* Runs the handler's close callback if it has not run yet. */
void conn_call_close(struct ss_conn *c);
/* Frees the buffer and closes the socket (calls conn_call_close first). */
void conn_destroy(struct ss_conn *c);

/* Dispatchers: call the handler's callback if it has one, record failure. */
int conn_call_open(struct ss_conn *c);
int conn_call_data(struct ss_conn *c, const void *buf, size_t len);
int conn_call_writable(struct ss_conn *c);

uint64_t conn_now_usec(void);

#endif
