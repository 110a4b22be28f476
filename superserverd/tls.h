/*
 * TLS servers: the settings of a listen entry's `tls:` (parsed by config_tls.c) and the
 * OpenSSL 3 server contexts built from them in the master, when the configuration is
 * loaded (at start, --check-config and each reload). Service processes inherit the built
 * contexts over fork and never open a certificate or key file themselves.
 *
 * A struct tls_server is one listen entry's TLS: its default context (the one to
 * SSL_new() from), one context per `sni` entry (switched to by the server-name callback
 * the default context carries), ALPN selection and session-ticket keys shared by every
 * process of the service (derived from a secret made at load, so no process talks to
 * another to agree on them). It is immutable once built and owned by the configuration
 * generation that built it.
 */
#ifndef SUPERSERVERD_TLS_H
#define SUPERSERVERD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "superserverd/diag.h"

enum tls_verify {
	TLS_VERIFY_NONE,     /* no client certificate asked for */
	TLS_VERIFY_OPTIONAL, /* asked for; one that is presented must verify */
	TLS_VERIFY_REQUIRE,  /* a client without a verified certificate is refused */
};

#define TLS_PROTO_TLS12 (1u << 0)
#define TLS_PROTO_TLS13 (1u << 1)

/* A value as written: the key's configuration path ("defaults.tls.key") and where. */
struct tls_where {
	char *key;
	struct diag_pos pos;
};

struct tls_file_conf {
	char *path; /* NULL: not given */
	struct tls_where at;
};

struct tls_sni_conf {
	char **names; /* lower case; "*.example.org" matches one label in front */
	size_t n_names;
	struct tls_where *names_at; /* per name */
	struct tls_file_conf certificate, key, chain;
};

/* A listen entry's TLS settings, defaults.tls merged in. */
struct tls_conf {
	struct tls_file_conf certificate, key, chain, client_ca;
	enum tls_verify verify_client;
	struct tls_where verify_at;
	unsigned protocols; /* TLS_PROTO_* bits, at least one */
	char *ciphers;      /* TLS 1.2 cipher list; NULL: OpenSSL's default */
	struct tls_where ciphers_at;
	char *ciphersuites; /* TLS 1.3; NULL: OpenSSL's default */
	struct tls_where ciphersuites_at;
	char **alpn; /* in the server's order of preference */
	size_t n_alpn;
	uint64_t handshake_timeout_usec; /* default 10 s */
	struct tls_sni_conf *sni;
	size_t n_sni;
};

void tls_conf_free(struct tls_conf *tc);

/* A certificate expiring within this many seconds is warned about at load. */
#define TLS_EXPIRY_WARN_SEC (14 * 86400)

struct tls_server;

/*
 * Builds the contexts for TC, reading every file (as the master: root-only key files
 * are fine). Problems go to DIAG at the position of the value at fault, errors and
 * warnings (a certificate expired or expiring within 14 days). Returns 0 and the
 * server, or -1 (nothing built) when any error was reported.
 */
int tls_server_build(const struct tls_conf *tc, struct diag *diag, struct tls_server **ts_r);
struct tls_server *tls_server_free(struct tls_server *ts); /* returns NULL */

/*
 * In a service process just forked from the master: frees the contexts (and so the
 * private keys) and the ticket secret of every server this process holds except the
 * N_KEEP in KEEP, so that a service never holds another's keys. The others stay as
 * empty husks (no certificate: tls_server_n_certs is 0; not to be served with), freed
 * with their configuration as before. Returns how many were emptied.
 */
size_t tls_server_keep_only(struct tls_server *const *keep, size_t n_keep);

/* The context to SSL_new() from: SNI switching, ALPN selection, tickets included. */
SSL_CTX *tls_server_ctx(const struct tls_server *ts);
uint64_t tls_server_handshake_timeout_usec(const struct tls_server *ts);

/* One certificate a server presents, for statistics and metrics. */
struct tls_cert_info {
	const char *path;         /* the certificate file */
	const char *subject;      /* RFC 2253 form */
	const char *const *names; /* the sni entry's names; none for the default */
	size_t n_names;
	int64_t not_after; /* seconds since the epoch */
};

/* How many certificates TS presents (the default first, then each sni entry's). */
size_t tls_server_n_certs(const struct tls_server *ts);
/* Certificate I (< tls_server_n_certs); the strings live as long as TS. */
void tls_server_cert(const struct tls_server *ts, size_t i, struct tls_cert_info *info_r);

/* SHA-256 over every file TS was built from (paths and contents), as 64 hex digits and
 * a NUL: differs after a certificate, key, chain or CA file changed. */
void tls_server_digest(const struct tls_server *ts, char hex_r[65]);

/*
 * The session-ticket key of the time window holding T (seconds since the epoch): the
 * same in every process inheriting TS, another for another server or window. A
 * ticket is accepted during its window and the next. For tests and statistics.
 */
#define TLS_TICKET_WINDOW_SEC 3600
#define TLS_TICKET_NAME_LEN   16
#define TLS_TICKET_KEY_LEN    80 /* name, AES-256 key, HMAC-SHA256 key */
int tls_server_ticket_key(const struct tls_server *ts, int64_t t,
                          unsigned char key_r[TLS_TICKET_KEY_LEN]);

#endif
