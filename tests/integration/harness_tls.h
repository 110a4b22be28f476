/*
 * TLS helpers for the integration tests: a test CA and server certificates made with
 * the openssl command at test time (reissued in place, as a renewal does), and a TLS
 * client on OpenSSL's C API whose every wait has a deadline, with a streaming echo
 * check that never holds the whole stream in memory.
 */
#ifndef SS_TEST_HARNESS_TLS_H
#define SS_TEST_HARNESS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* The server certificate's names: what a client may verify it as. */
#define HT_SERVER_NAMES "DNS:localhost,DNS:tls.test,IP:127.0.0.1"

/* A directory (mode 0755, keys 0644: a service's user may read them) holding ca.pem and
 * ca.key (an ECDSA P-256 CA), and srv.pem and srv.key (CN=localhost, HT_SERVER_NAMES)
 * with serial number 1. Returns 0 or -1. */
int ht_pki_make(char *dir, size_t cap);
/* Replaces srv.pem and srv.key with a new key and a certificate of that serial number,
 * each by a rename (a reader sees the old file or the new one, never half of one). */
int ht_pki_renew(const char *dir, long serial);
void ht_pki_remove(const char *dir);

struct ht_client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char why[160]; /* after a failed call: what went wrong */
};

/* A TLS client of 127.0.0.1:PORT verifying the server against DIR/ca.pem, with SNI
 * when sni is not NULL. Returns 0 once the handshake is done, -1 otherwise (the client
 * is to be closed either way). */
int ht_open(struct ht_client *c, int port, const char *dir, const char *sni);
void ht_close(struct ht_client *c);
/* The serial number of the server's certificate, -1 without one. */
long ht_peer_serial(const struct ht_client *c);
/* Writes the n bytes of msg and reads the same bytes back. */
bool ht_echoes(struct ht_client *c, const void *msg, size_t n);
/* Sends close_notify and reads until the server's: true when the server ended cleanly
 * with nothing more to say. */
bool ht_finish(struct ht_client *c);
/* Streams `total` bytes (a pattern numbering its chunks) through an echo, writing and
 * reading at once, and compares the SHA-256 of what was sent with that of what came
 * back. Returns true when they are equal, false with the reason in why on a TLS error
 * or when nothing moved either way for stall_ms. */
bool ht_stream_echo(struct ht_client *c, uint64_t total, long long stall_ms, char *why,
                    size_t whylen);

#endif
