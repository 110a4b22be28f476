/*
 * Internals of the TLS servers, shared by tls_*.c: the built server, and the helpers
 * each file owns (reading PEM files, selecting by SNI and ALPN, ticket keys).
 */
#ifndef SUPERSERVERD_TLS_INT_H
#define SUPERSERVERD_TLS_INT_H

#include <openssl/ssl.h>

#include "superserverd/tls.h"

/* One certificate with its context: the default, or an sni entry's. */
struct tls_cert {
	SSL_CTX *ctx;
	char *path;
	char *subject;
	const char *const *names; /* a copy of the sni entry's names, owned; none for [0] */
	size_t n_names;
	int64_t not_after;
};

struct tls_server {
	struct tls_cert *certs; /* [0] the default, then the sni entries in file order */
	size_t n_certs;
	unsigned char *alpn; /* wire form: length-prefixed names; NULL: no ALPN */
	size_t alpn_len;
	uint64_t handshake_timeout_usec;
	unsigned char ticket_secret[32];
	EVP_KDF *kdf; /* HKDF, fetched once in the master */
	/* SHA-256 over every file read (path and bytes): a reload that finds a renewed
	 * certificate or key sees another digest. */
	unsigned char digest[32];
	/* Every server built in this process, for tls_server_keep_only (tls_ctx.c). */
	struct tls_server *reg_prev, *reg_next;
};

/* The server a context belongs to (set on every context of the server). */
const struct tls_server *tls_ctx_server(const SSL_CTX *ctx);
int tls_ctx_attach(SSL_CTX *ctx, const struct tls_server *ts);

/* PEM reading (tls_pem.c). Each returns 0, or -1 after reporting at F's position; the
 * file's path and bytes go into MD (the server's digest). */
int tls_pem_certs(const struct tls_file_conf *f, EVP_MD_CTX *md, struct diag *d,
                  STACK_OF(X509) * *certs_r);
int tls_pem_key(const struct tls_file_conf *f, EVP_MD_CTX *md, struct diag *d, EVP_PKEY **key_r);
/* Warns when X (read from F) has expired or expires within TLS_EXPIRY_WARN_SEC; its
 * notAfter in *not_after_r. */
void tls_pem_expiry(const struct tls_file_conf *f, X509 *x, struct diag *d, int64_t *not_after_r);

/* Selection callbacks (tls_select.c), set on every context of TS. */
void tls_select_install(SSL_CTX *ctx, const struct tls_server *ts);

/* Session tickets (tls_ticket.c): makes TS's secret; installs the key callback. */
int tls_ticket_init(struct tls_server *ts);
void tls_ticket_install(SSL_CTX *ctx);

#endif
