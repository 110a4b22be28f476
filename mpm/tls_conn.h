/*
 * TLS on one accepted connection: the transport under the connection's reads and
 * writes. A tls_conn wraps a stream socket and an SSL_CTX the master built; every
 * operation is one non-blocking attempt that says what it waits for next, so an epoll
 * loop, the threadpool's poller and a blocking driver's poll() can all drive the
 * handshake, the bytes and the close without a thread waiting in OpenSSL.
 *
 * The socket is read and written with MSG_DONTWAIT | MSG_NOSIGNAL whatever its flags:
 * a blocking socket handed over by a blocking model never blocks here, and a vanished
 * peer is an error, not a SIGPIPE. Memory per connection stays bounded: writes are
 * partial (one record at a time, the caller keeps the rest), OpenSSL's buffers are
 * given back while the connection is idle, and nothing is read ahead.
 *
 * Each call starts with an empty OpenSSL error queue and leaves it empty, so that
 * one connection's errors are never taken for the next one's in the same thread.
 */
#ifndef SUPERSERVERD_TLS_CONN_H
#define SUPERSERVERD_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

enum tls_status {
	TLS_DONE,       /* the operation finished (read/write: *n_r bytes, never 0) */
	TLS_WANT_READ,  /* call again once the socket is readable */
	TLS_WANT_WRITE, /* call again once the socket is writable */
	TLS_EOF,        /* read: the peer sent close_notify, a clean end of its stream */
	TLS_TRUNCATED,  /* read: the stream ended without close_notify */
	TLS_ERROR,      /* the connection is unusable; see tls_conn_failure() */
};

/* Why a handshake failed, as the metrics count it. */
enum tls_fail {
	TLS_FAIL_NONE,        /* no failure (yet) */
	TLS_FAIL_PROTOCOL,    /* no protocol version both sides accept */
	TLS_FAIL_CIPHER,      /* no shared cipher (or group, or signature algorithm) */
	TLS_FAIL_CLIENT_CERT, /* a required client certificate missing, or not verified */
	TLS_FAIL_TIMEOUT,     /* the caller's deadline passed (tls_conn_set_timed_out) */
	TLS_FAIL_NOT_TLS,     /* the first byte is not a TLS handshake record's */
	TLS_FAIL_CLOSED,      /* the peer left before finishing (a probe, a health check) */
	TLS_FAIL_OTHER,
	TLS_FAIL_COUNT, /* scoreboard.h's SCOREBOARD_TLS_FAIL_SLOTS is at least this */
};

struct tls_conn;

/*
 * A server-side TLS connection on FD (not owned: tls_conn_free leaves it open) with
 * CTX's settings (CTX must outlive it). Returns NULL without memory.
 */
struct tls_conn *tls_conn_new(SSL_CTX *ctx, int fd);
/* Frees the state; sends nothing (see tls_conn_shutdown) and closes nothing. NULL is
 * fine. */
void tls_conn_free(struct tls_conn *t);

/*
 * One step of the handshake. Before OpenSSL sees anything, the first byte is peeked
 * at: one that cannot begin a TLS record fails at once with TLS_FAIL_NOT_TLS (a
 * plaintext client on a TLS port costs no crypto). TLS_DONE once established; after
 * TLS_ERROR, tls_conn_failure() says why.
 */
enum tls_status tls_conn_handshake(struct tls_conn *t);
/* The caller's handshake deadline passed: the failure is counted as a timeout. */
void tls_conn_set_timed_out(struct tls_conn *t);
enum tls_fail tls_conn_failure(const struct tls_conn *t);
/* "protocol", "cipher", "client-certificate", "timeout", "not-tls", "closed", "other"
 * ("none" for TLS_FAIL_NONE): the metrics' label values. */
const char *tls_fail_name(enum tls_fail f);

/*
 * Reads up to CAP plaintext bytes into BUF (after the handshake). TLS_DONE with *n_r >
 * 0; TLS_EOF at the peer's close_notify (the connection may still be written to: a
 * half-close), TLS_TRUNCATED when the stream ended without it.
 */
enum tls_status tls_conn_read(struct tls_conn *t, void *buf, size_t cap, size_t *n_r);
/* Decrypted bytes, or a record's rest, wait inside: read again without waiting for
 * the socket, which may never become readable for them. */
bool tls_conn_pending(const struct tls_conn *t);
/*
 * Writes from BUF, at most LEN bytes, at least one record's worth when LEN allows:
 * TLS_DONE with *n_r (possibly < LEN; the caller keeps the rest). After TLS_WANT_READ
 * or TLS_WANT_WRITE the next write must offer the same bytes again first (from any
 * address: the buffer may move), at least as many.
 */
enum tls_status tls_conn_write(struct tls_conn *t, const void *buf, size_t len, size_t *n_r);
/*
 * Sends close_notify: TLS_DONE once it is on its way (the peer's is not waited for;
 * reading goes on until TLS_EOF if the caller wants the rest). Writing is over after
 * it. The caller then does shutdown(SHUT_WR) or close on the socket.
 */
enum tls_status tls_conn_shutdown(struct tls_conn *t);

/*
 * What was negotiated, valid once the handshake is done (NULL before, and NULL when
 * there is none): the protocol ("TLSv1.3"), the cipher (OpenSSL's name), the name the
 * client asked for with SNI, the ALPN protocol chosen, and the subject of the client's
 * certificate in RFC 2253 form (mod_ssl's SSL_CLIENT_S_DN since Apache 2.3.11:
 * "CN=alice,O=Example"), given only when the certificate was verified.
 */
const char *tls_conn_protocol(const struct tls_conn *t);
const char *tls_conn_cipher(const struct tls_conn *t);
const char *tls_conn_server_name(const struct tls_conn *t);
const char *tls_conn_alpn(const struct tls_conn *t);
const char *tls_conn_peer_subject(const struct tls_conn *t);
/* mod_ssl's SSL_CLIENT_VERIFY: "NONE" (no client certificate), "SUCCESS" or
 * "FAILED:reason" (accepted anyway, by a `verify_client: optional` that lets an
 * unverified certificate through). NULL before the handshake is done. */
const char *tls_conn_client_verify(const struct tls_conn *t);
/* The handshake resumed a session (a ticket), for the scoreboard's `resumed`. */
bool tls_conn_resumed(const struct tls_conn *t);

/*
 * The whole handshake in the calling thread, for the blocking drivers: poll() on the
 * socket until done, DEADLINE (CLOCK_MONOTONIC usec as conn_now_usec, 0: none) or STOP
 * (when not NULL) returns true (looked at every quarter second). Returns 0,
 * -ETIMEDOUT (counted as TLS_FAIL_TIMEOUT), -ECANCELED (stopped), -EPROTO (failed:
 * see tls_conn_failure) or another -errno from poll.
 */
int tls_conn_handshake_blocking(struct tls_conn *t, uint64_t deadline, bool (*stop)(void *arg),
                                void *arg);

#endif
