/*
 * TLS helpers for the integration tests of TLS termination under the event and
 * threadpool models: a directory of test certificates made with the openssl command
 * (ECDSA P-256) and a non-blocking OpenSSL client that verifies the daemon against
 * their CA, exchanges bytes and tells whether the end was a clean close_notify.
 */
#ifndef SS_TEST_HARNESS_TLS_H
#define SS_TEST_HARNESS_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* Makes the directory (once per program, before Check forks the test cases) with a
 * CA "ca" and, issued by it with their names as subjectAltName, "localhost" and
 * "other.test". */
void ht_pki_make(void);
const char *ht_pki(void); /* the directory */
/* Makes NAME.key and NAME.pem (CN=NAME) in it, issued by ISSUER (NULL: a CA of its
 * own), with NAME as subjectAltName too when SAN. */
void ht_pki_cert(const char *name, const char *issuer, bool san);
/* Writes TEXT to the file NAME in it. */
void ht_pki_file(const char *name, const char *text);
void ht_pki_remove(void);
/* The inside of a `tls:` map: localhost's certificate, other.test's for that name. */
void ht_tls_map(char *buf, size_t cap);

struct ht_client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

/* A TLS client to PORT asking for SNI (NULL: none), verifying the server against the
 * CA, presenting CERT's certificate (NULL: none), after sending BEFORE (a PROXY header,
 * NULL: nothing) in plaintext. Returns whether the handshake completed (under TLS 1.3
 * a refused client certificate shows only at the first read); ht_close it either way. */
bool ht_open_after(struct ht_client *t, int port, const char *before, const char *sni,
                   const char *cert);
bool ht_open(struct ht_client *t, int port, const char *sni, const char *cert);
void ht_close(struct ht_client *t);
/*
 * Sends LEN bytes of BUF (NULL: LEN bytes of ht_pattern's) while reading what comes
 * back into OUT (OUT_CAP bytes; NULL: only hashed into SHA-256 MD_R), then sends
 * close_notify and reads to the end. Returns the bytes read; *clean_r tells whether
 * the server ended with close_notify.
 */
size_t ht_exchange(struct ht_client *t, const char *buf, size_t len, char *out, size_t out_cap,
                   unsigned char md_r[32], bool *clean_r);
/* The SHA-256 of the first LEN bytes ht_exchange sends for a NULL BUF. */
void ht_pattern_sha256(size_t len, unsigned char md_r[32]);
/* One echo of exact bytes over TLS: true when they all came back, the end clean. */
bool ht_echoes(int port, const char *sni, const char *cert);

#endif
