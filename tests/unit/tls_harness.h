/*
 * Test support for TLS: a small PKI made at test time (ECDSA P-256: a CA, a server and
 * a client certificate under it, and a client certificate from another CA), server and
 * client contexts, a socketpair with a tls_conn on one end and an OpenSSL client on
 * the other, and a poll loop that drives both without ever blocking.
 */
#ifndef SUPERSERVERD_TEST_TLS_HARNESS_H
#define SUPERSERVERD_TEST_TLS_HARNESS_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mpm/tls_conn.h"
#include "tests/unit/conn_harness.h"

struct pki_cert {
	EVP_PKEY *key;
	X509 *cert;
};

struct pki {
	struct pki_cert ca, server, client, other_ca, stranger;
};

/* Made once per test program, before Check forks the test cases. */
static struct pki pki;

static inline void pki_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for CN under O "superserverd test", signed by ISSUER (NULL: itself). */
static inline void pki_make(struct pki_cert *c, const char *cn, const struct pki_cert *issuer,
                            bool ca)
{
	static long serial = 1;
	X509_NAME *n;

	c->key = EVP_EC_gen("P-256");
	c->cert = X509_new();
	ck_assert(c->key && c->cert);
	ck_assert_int_eq(X509_set_version(c->cert, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(c->cert), serial++), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(c->cert), -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(c->cert), 86400));
	ck_assert_int_eq(X509_set_pubkey(c->cert, c->key), 1);
	n = X509_get_subject_name(c->cert);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	                                            (const unsigned char *)"superserverd test", -1,
	                                            -1, 0),
	                 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	                                            (const unsigned char *)cn, -1, -1, 0),
	                 1);
	ck_assert_int_eq(X509_set_issuer_name(
	                         c->cert, X509_get_subject_name(issuer ? issuer->cert : c->cert)),
	                 1);
	pki_ext(c->cert, issuer ? issuer->cert : c->cert, NID_basic_constraints,
	        ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		pki_ext(c->cert, c->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	ck_assert_int_gt(X509_sign(c->cert, issuer ? issuer->key : c->key, EVP_sha256()), 0);
}

static inline void pki_setup(void)
{
	/* The test's client writes to sockets the server may have closed. */
	signal(SIGPIPE, SIG_IGN);
	pki_make(&pki.ca, "test CA", NULL, true);
	pki_make(&pki.server, "server", &pki.ca, false);
	pki_make(&pki.client, "client", &pki.ca, false);
	pki_make(&pki.other_ca, "other CA", NULL, true);
	pki_make(&pki.stranger, "stranger", &pki.other_ca, false);
}

static inline void pki_cert_free(struct pki_cert *c)
{
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
}

static inline void pki_teardown(void)
{
	pki_cert_free(&pki.ca);
	pki_cert_free(&pki.server);
	pki_cert_free(&pki.client);
	pki_cert_free(&pki.other_ca);
	pki_cert_free(&pki.stranger);
}

/* Chooses "echo" when the client offers it. */
static inline int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
                              const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char want[] = "\x04"
	                                    "echo";

	if (SSL_select_next_proto((unsigned char **)out, outlen, want, sizeof(want) - 1, in,
	                          inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

static inline int verify_anyway(int ok, X509_STORE_CTX *ctx)
{
	return 1;
}

/* What the master would build: the server certificate, TLS 1.2 and 1.3, ALPN echo,
 * client certificates checked against the CA with VERIFY (SSL_VERIFY_*). */
static inline SSL_CTX *srv_ctx(int verify)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_use_certificate(ctx, pki.server.cert), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, pki.server.key), 1);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION), 1);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (verify != SSL_VERIFY_NONE) {
		ck_assert_int_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), pki.ca.cert), 1);
		SSL_CTX_set_verify(ctx, verify, NULL);
	}
	return ctx;
}

/* A client that trusts the test CA; CERT (may be NULL) is the one it presents. */
static inline SSL_CTX *cli_ctx(const struct pki_cert *cert)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), pki.ca.cert), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert) {
		ck_assert_int_eq(SSL_CTX_use_certificate(ctx, cert->cert), 1);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, cert->key), 1);
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

/* Both ends of one TLS connection under test. */
struct pair {
	SSL_CTX *sctx, *cctx;
	int sfd, cfd; /* the server's end, the client's */
	struct tls_conn *t;
	SSL *c;
	enum tls_status ss; /* the server's last handshake status */
	int cerr;           /* the client's: 0 done, SSL_ERROR_WANT_* or a failure */
};

static inline void pair_open(struct pair *p, SSL_CTX *sctx, SSL_CTX *cctx)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* The server's end stays blocking: tls_conn must never block on it anyway. */
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	*p = (struct pair){.sctx = sctx, .cctx = cctx, .sfd = sv[0], .cfd = sv[1]};
	p->t = tls_conn_new(sctx, p->sfd);
	ck_assert_ptr_nonnull(p->t);
	p->c = SSL_new(cctx);
	ck_assert_ptr_nonnull(p->c);
	ck_assert_int_eq(SSL_set_fd(p->c, p->cfd), 1);
	SSL_set_connect_state(p->c);
	p->ss = TLS_WANT_READ;
	p->cerr = SSL_ERROR_WANT_WRITE;
}

static inline void pair_close(struct pair *p)
{
	tls_conn_free(p->t);
	SSL_free(p->c);
	if (p->sfd >= 0)
		close(p->sfd);
	if (p->cfd >= 0)
		close(p->cfd);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	ERR_clear_error();
}

static inline bool cli_waiting(int e)
{
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

static inline short cli_events(int e)
{
	return e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
}

static inline short srv_events(enum tls_status s)
{
	return s == TLS_WANT_WRITE ? POLLOUT : POLLIN;
}

static inline bool srv_waiting(enum tls_status s)
{
	return s == TLS_WANT_READ || s == TLS_WANT_WRITE;
}

/* Waits (poll, with the generous deadline) for one of the two ends' wants. */
static inline void pair_wait(struct pair *p, bool srv, short sev, bool cli, short cev)
{
	struct pollfd pfd[2] = {{.fd = srv ? p->sfd : -1, .events = sev},
	                        {.fd = cli ? p->cfd : -1, .events = cev}};

	ck_assert_msg(poll(pfd, 2, TEST_WAIT_MS) > 0, "neither end made progress");
}

/*
 * Runs both handshakes, non-blocking, until each has finished or failed (the client is
 * not waited for once the server failed). The error queue is checked empty after each
 * server call: nothing may be left for the next connection.
 */
static inline void pair_handshake(struct pair *p)
{
	for (;;) {
		if (srv_waiting(p->ss)) {
			p->ss = tls_conn_handshake(p->t);
			ck_assert_uint_eq(ERR_peek_error(), 0);
		}
		if (cli_waiting(p->cerr)) {
			int r = SSL_do_handshake(p->c);
			p->cerr = r == 1 ? 0 : SSL_get_error(p->c, r);
			ERR_clear_error();
		}
		if (p->ss == TLS_ERROR || (!srv_waiting(p->ss) && !cli_waiting(p->cerr)))
			return;
		pair_wait(p, srv_waiting(p->ss), srv_events(p->ss), cli_waiting(p->cerr),
		          cli_events(p->cerr));
	}
}

/* Reads from the server until it has LEN bytes or a status other than DONE; returns
 * that status (TLS_DONE when all came). */
static inline enum tls_status srv_read_n(struct pair *p, char *buf, size_t len, size_t *got)
{
	*got = 0;
	while (*got < len) {
		size_t n;
		enum tls_status s = tls_conn_read(p->t, buf + *got, len - *got, &n);

		ck_assert_uint_eq(ERR_peek_error(), 0);
		if (s == TLS_DONE) {
			*got += n;
			continue;
		}
		if (!srv_waiting(s))
			return s;
		pair_wait(p, true, srv_events(s), false, 0);
	}
	return TLS_DONE;
}

/* The client reads LEN bytes, or up to its end: returns 0 when all came, else the
 * SSL_get_error of what stopped it (SSL_ERROR_ZERO_RETURN at close_notify). */
static inline int cli_read_n(SSL *c, int fd, char *buf, size_t len, size_t *got)
{
	*got = 0;
	while (*got < len) {
		size_t n;
		int e;

		if (SSL_read_ex(c, buf + *got, len - *got, &n) == 1) {
			*got += n;
			continue;
		}
		e = SSL_get_error(c, 0);
		ERR_clear_error();
		if (!cli_waiting(e))
			return e;
		struct pollfd pfd = {.fd = fd, .events = cli_events(e)};
		ck_assert_msg(poll(&pfd, 1, TEST_WAIT_MS) > 0, "the client got nothing");
	}
	return 0;
}

/* The client reads WANT and then, when END is not 0, stops with that SSL error
 * (SSL_ERROR_ZERO_RETURN: the server's close_notify). */
static inline void cli_expect(struct pair *p, const char *want, int end)
{
	char buf[64];
	size_t got, len = strlen(want);

	ck_assert_int_eq(cli_read_n(p->c, p->cfd, buf, end ? sizeof(buf) : len, &got), end);
	ck_assert_uint_eq(got, len);
	ck_assert_int_eq(memcmp(buf, want, len), 0);
}

/* The client writes all of BUF. */
static inline void cli_write_all(SSL *c, int fd, const void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t n;
		int e;

		if (SSL_write_ex(c, (const char *)buf + off, len - off, &n) == 1) {
			off += n;
			continue;
		}
		e = SSL_get_error(c, 0);
		ERR_clear_error();
		ck_assert_msg(cli_waiting(e), "client write failed: %d", e);
		struct pollfd pfd = {.fd = fd, .events = cli_events(e)};
		ck_assert_msg(poll(&pfd, 1, TEST_WAIT_MS) > 0, "the client cannot write");
	}
}

/* The client's close_notify, sent whole. */
static inline void cli_shutdown(SSL *c, int fd)
{
	for (;;) {
		int r = SSL_shutdown(c), e;

		if (r >= 0)
			return;
		e = SSL_get_error(c, r);
		ERR_clear_error();
		ck_assert_msg(cli_waiting(e), "client shutdown failed: %d", e);
		struct pollfd pfd = {.fd = fd, .events = cli_events(e)};
		ck_assert(poll(&pfd, 1, TEST_WAIT_MS) > 0);
	}
}

/* Deterministic bytes, and a checksum (FNV-1a) to compare them by. */
static inline void fill(char *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed | 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (char)x;
	}
}

static inline uint64_t checksum(const char *buf, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)buf[i]) * 1099511628211ull;
	return h;
}

#endif
