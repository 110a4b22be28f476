/*
 * TLS helpers for the integration tests: a directory of test certificates made with the
 * openssl command at test time (ECDSA P-256; the server's reissued in place, as a
 * renewal does), and two OpenSSL clients that verify the daemon against their CA: a
 * non-blocking one (harness_tls.c) that exchanges bytes and tells whether the end was
 * a clean close_notify, and a blocking one with deadlines (harness_tls_stream.c) that
 * echoes on one connection for as long as a test needs, up to a streamed echo never
 * held in memory.
 */
#ifndef SS_TEST_HARNESS_TLS_H
#define SS_TEST_HARNESS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <openssl/ssl.h>

/* The server certificate srv.pem's names: what a client may verify it as. */
#define HT_SERVER_NAMES "DNS:localhost,DNS:tls.test,IP:127.0.0.1"
/* The client certificate alice.pem's subject: two attributes, so that a test sees how
 * the daemon writes a distinguished name out. */
#define HT_ALICE_SUBJECT "/O=superserverd test/CN=alice"

struct daemon;

/* Makes the directory (once per program, before Check forks the test cases; mode 0755,
 * keys 0644: a service's user may read what is in it) with a CA "ca" and, issued by
 * it, "localhost" and "other.test" with their names as subjectAltName, "srv"
 * (CN=localhost, HT_SERVER_NAMES) with serial number 1, and the client certificate
 * "alice" (subject HT_ALICE_SUBJECT). Aborts on failure. */
void ht_pki_make(void);
const char *ht_pki(void); /* the directory */
/* Makes NAME.key and NAME.pem (CN=NAME) in it, issued by ISSUER (NULL: a CA of its
 * own), with NAME as subjectAltName too when SAN. */
void ht_pki_cert(const char *name, const char *issuer, bool san);
/* Replaces srv.pem and srv.key with a new key and a certificate of that serial number,
 * each by a rename (a reader sees the old file or the new one, never half of one). */
int ht_pki_renew(long serial);
/* Writes TEXT to the file NAME in it. */
void ht_pki_file(const char *name, const char *text);
void ht_pki_remove(void);
/* Runs the suite S (freeing it), then removes the directory: main()'s end in every TLS
 * test. Returns the number of tests that failed. */
int ht_run_suite(Suite *s);
/* The inside of a `tls:` map of srv's certificate and key, for a printf format taking
 * the directory twice. */
#define HT_SRV_KEYS "certificate: %s/srv.pem, key: %s/srv.key"
/* The inside of a `tls:` map: localhost's certificate, other.test's for that name. */
void ht_tls_map(char *buf, size_t cap);

/* SERVICE's TLS counter in d's stats: the handshakes (FAILURE NULL) or the failed
 * handshakes for the reason FAILURE. */
long long ht_tls_count(struct daemon *d, const char *service, const char *failure);
/* Runs the shell command CMD, its output into OUT (NUL-terminated, up to CAP - 1
 * bytes); fails the test unless it exits with status 0. */
void ht_run(const char *cmd, char *out, size_t cap);

struct ht_client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char why[160]; /* the blocking client's, after a failed call: what went wrong */
};

void ht_close(struct ht_client *t);
/* A client context that verifies the server against the CA and presents CERT's
 * certificate (NULL: none); NULL on failure. */
SSL_CTX *ht_client_ctx(const char *cert);

/* ---- the non-blocking client (harness_tls.c) */

/* A TLS client to PORT asking for SNI (NULL: none), verifying the server against the
 * CA, presenting CERT's certificate (NULL: none), after sending BEFORE (a PROXY header,
 * NULL: nothing) in plaintext. Returns whether the handshake completed (under TLS 1.3
 * a refused client certificate shows only at the first read); ht_close it either way. */
bool ht_open_after(struct ht_client *t, int port, const char *before, const char *sni,
                   const char *cert);
bool ht_open(struct ht_client *t, int port, const char *sni, const char *cert);
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
/* Opens a client as ht_open (no certificate), sends MSG and close_notify, and reads
 * everything into BUF, NUL-terminated (more than CAP - 1 bytes fails the test): true
 * when the server ended with close_notify, false too when the handshake failed. */
bool ht_talk(int port, const char *sni, const char *msg, char *buf, size_t cap);
/* One echo of exact bytes over TLS: true when they all came back, the end clean. */
bool ht_echoes(int port, const char *sni, const char *cert);

/* ---- the blocking client (harness_tls_stream.c) */

/* A TLS client of 127.0.0.1:PORT verifying the server against the CA, with SNI when
 * sni is not NULL, every read and write within 60 s. Returns 0 once the handshake is
 * done, -1 otherwise (the client is to be closed either way). */
int ht_connect(struct ht_client *c, int port, const char *sni);
/* The same after sending BEFORE (a PROXY header, NULL: nothing) in plaintext, with
 * CERT's certificate (NULL: none). */
int ht_connect_as(struct ht_client *c, int port, const char *before, const char *sni,
                  const char *cert);
/* Reads everything the server sends into buf (NUL-terminated, cap - 1 bytes at most,
 * more fails the test), its length into *len_r: true when it ended with close_notify. */
bool ht_read_to_end(struct ht_client *c, char *buf, size_t cap, size_t *len_r);
/* The serial number of the server's certificate, -1 without one. */
long ht_peer_serial(const struct ht_client *c);
/* Writes the n bytes of msg and reads the same bytes back. */
bool ht_echo_on(struct ht_client *c, const void *msg, size_t n);
/* Sends close_notify and reads until the server's: true when the server ended cleanly
 * with nothing more to say. */
bool ht_finish(struct ht_client *c);
/* Streams `total` bytes (a pattern numbering its chunks) through an echo, writing and
 * reading at once, and compares the SHA-256 of what was sent with that of what came
 * back. Returns true when they are equal, false with the reason in why on a TLS error
 * or when nothing moved either way for stall_ms. */
bool ht_stream_echo(struct ht_client *c, uint64_t total, long long stall_ms, char *why,
                    size_t whylen);
/* The same, but sends close_notify right after the last byte (a half-close: the echo
 * still owes all it has not sent back), then awaits everything and the server's. */
bool ht_stream_echo_half_close(struct ht_client *c, uint64_t total, long long stall_ms, char *why,
                               size_t whylen);

#endif
