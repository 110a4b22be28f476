/*
 * The blocking TLS client of the integration tests (harness_tls.h): one connection
 * echoing for as long as a test needs, its certificate's serial, a clean end, and an
 * echo streamed both ways at once with SHA-256 on each side, with or without a
 * half-close.
 */
#include "harness_tls.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "harness.h"

/* Notes in c->why what made a call on c fail (r: its return value); false. */
static bool failed(struct ht_client *c, const char *what, int r)
{
	int e = errno;
	unsigned long err = ERR_peek_last_error();

	snprintf(c->why, sizeof(c->why), "%s: SSL error %d, errno %d (%s), %s", what,
	         c->ssl ? SSL_get_error(c->ssl, r) : -1, e, strerror(e),
	         err ? ERR_reason_error_string(err) : "no OpenSSL error");
	ERR_clear_error();
	return false;
}

int ht_connect_as(struct ht_client *c, int port, const char *before, const char *sni,
                  const char *cert)
{
	struct timeval tv = {.tv_sec = 60};

	*c = (struct ht_client){.fd = h_connect("127.0.0.1", port)};
	const char *step = "connect";
	int r = 0;

	if (c->fd < 0)
		goto fail;
	step = "setup";
	if (before && h_write_all(c->fd, before, strlen(before)) < 0)
		goto fail;
	/* A blocking client whose every read and write has a deadline. */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;
	if (!(c->ctx = ht_client_ctx(cert)))
		goto fail;
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || (sni && SSL_set_tlsext_host_name(c->ssl, sni) != 1) ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		goto fail;
	step = "handshake";
	if ((r = SSL_connect(c->ssl)) == 1)
		return 0;
fail:
	failed(c, step, r);
	return -1;
}

int ht_connect(struct ht_client *c, int port, const char *sni)
{
	return ht_connect_as(c, port, NULL, sni, NULL);
}

bool ht_read_to_end(struct ht_client *c, char *buf, size_t cap, size_t *len_r)
{
	size_t len = 0, n;

	while (SSL_read_ex(c->ssl, buf + len, cap - 1 - len, &n) == 1) {
		len += n;
		ck_assert_uint_lt(len, cap - 1);
	}
	*len_r = len;
	buf[len] = '\0';
	if (SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN)
		return true;
	return failed(c, "reading to the end", 0);
}

long ht_peer_serial(const struct ht_client *c)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	long serial = x ? ASN1_INTEGER_get(X509_get0_serialNumber(x)) : -1;

	X509_free(x);
	return serial;
}

bool ht_echo_on(struct ht_client *c, const void *msg, size_t n)
{
	char got[4096];
	size_t have = 0, len;
	int r;

	if (n > sizeof(got))
		return false;
	if ((r = SSL_write_ex(c->ssl, msg, n, &len)) != 1 || len != n)
		return failed(c, "write", r);
	while (have < n) {
		if ((r = SSL_read_ex(c->ssl, got + have, n - have, &len)) != 1)
			return failed(c, "read", r);
		have += len;
	}
	if (memcmp(got, msg, n) != 0)
		snprintf(c->why, sizeof(c->why), "other bytes came back");
	return memcmp(got, msg, n) == 0;
}

bool ht_finish(struct ht_client *c)
{
	char buf[256];
	size_t len;
	int r;

	if ((r = SSL_shutdown(c->ssl)) < 0)
		return failed(c, "sending close_notify", r);
	if (SSL_read_ex(c->ssl, buf, sizeof(buf), &len) == 1) {
		/* Bytes after our close_notify: not an echo's clean end. */
		snprintf(c->why, sizeof(c->why), "%zu bytes after close_notify", len);
		return false;
	}
	if (SSL_get_error(c->ssl, 0) != SSL_ERROR_ZERO_RETURN)
		return failed(c, "awaiting close_notify", 0);
	return true;
}

/* ------------------------------------------------------------ streaming echo */

struct stream {
	struct ht_client *c;
	uint64_t total, sent, recvd;
	unsigned char chunk[16384];
	size_t chunk_len, chunk_off;
	EVP_MD_CTX *out, *in;
	bool want_write;  /* the last write could not go on: wait for room */
	bool half_close;  /* close_notify after the last byte */
	bool shut, ended; /* ours sent, the server's received */
};

/* The next chunk: a fixed pseudo-random block with its offset in its first bytes, so
 * that a chunk lost, repeated or reordered changes the digest. */
static void next_chunk(struct stream *s)
{
	static unsigned char block[sizeof(s->chunk)];
	static bool made;
	uint64_t left = s->total - s->sent;

	if (!made) {
		uint32_t x = 2463534242u;
		for (size_t i = 0; i < sizeof(block); i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			block[i] = (unsigned char)x;
		}
		made = true;
	}
	memcpy(s->chunk, block, sizeof(block));
	memcpy(s->chunk, &s->sent, sizeof(s->sent));
	s->chunk_len = left < sizeof(s->chunk) ? (size_t)left : sizeof(s->chunk);
	s->chunk_off = 0;
	EVP_DigestUpdate(s->out, s->chunk, s->chunk_len);
}

/* Writes what it can; false on an error other than a full socket. */
static bool stream_write(struct stream *s, bool *progress)
{
	size_t n;

	s->want_write = false;
	while (s->sent < s->total) {
		if (s->chunk_off == s->chunk_len)
			next_chunk(s);
		if (SSL_write_ex(s->c->ssl, s->chunk + s->chunk_off, s->chunk_len - s->chunk_off,
		                 &n) != 1) {
			int e = SSL_get_error(s->c->ssl, 0);
			s->want_write = e == SSL_ERROR_WANT_WRITE;
			return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ;
		}
		s->chunk_off += n;
		s->sent += n;
		*progress = true;
	}
	if (s->half_close && !s->shut) {
		int r = SSL_shutdown(s->c->ssl);
		if (r < 0) {
			int e = SSL_get_error(s->c->ssl, r);
			s->want_write = e == SSL_ERROR_WANT_WRITE;
			return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ;
		}
		s->shut = true;
		*progress = true;
	}
	return true;
}

/* Reads what has come; false on an error or an end before everything came back. */
static bool stream_read(struct stream *s, bool *progress)
{
	unsigned char buf[16384];
	size_t n;

	while (SSL_read_ex(s->c->ssl, buf, sizeof(buf), &n) == 1) {
		EVP_DigestUpdate(s->in, buf, n);
		s->recvd += n;
		*progress = true;
	}
	if (s->shut && SSL_get_error(s->c->ssl, 0) == SSL_ERROR_ZERO_RETURN) {
		s->ended = true;
		*progress = true;
		return s->recvd == s->total;
	}
	return SSL_get_error(s->c->ssl, 0) == SSL_ERROR_WANT_READ;
}

static bool stream_echo(struct ht_client *c, uint64_t total, bool half_close, long long stall_ms,
                        char *why, size_t whylen)
{
	struct stream *s = calloc(1, sizeof(*s));
	unsigned char md_out[32], md_in[32];
	long long deadline = h_now_ms() + stall_ms;
	bool ok = false;
	int fl = fcntl(c->fd, F_GETFL);

	snprintf(why, whylen, "setup failed");
	if (!s || fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto cleanup;
	*s = (struct stream){.c = c, .total = total, .half_close = half_close};
	s->out = EVP_MD_CTX_new();
	s->in = EVP_MD_CTX_new();
	if (!s->out || !s->in || EVP_DigestInit_ex(s->out, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(s->in, EVP_sha256(), NULL) != 1)
		goto cleanup;
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	while (s->recvd < total || (half_close && !s->ended)) {
		bool progress = false;
		struct pollfd p = {.fd = c->fd, .events = POLLIN};

		if (h_now_ms() > deadline) {
			snprintf(why, whylen,
			         "stalled (nothing moved for %lld ms): %llu sent, %llu received",
			         stall_ms, (unsigned long long)s->sent,
			         (unsigned long long)s->recvd);
			goto cleanup;
		}
		if (!stream_write(s, &progress) || !stream_read(s, &progress)) {
			snprintf(why, whylen, "TLS error after %llu sent, %llu received",
			         (unsigned long long)s->sent, (unsigned long long)s->recvd);
			goto cleanup;
		}
		if (s->recvd > s->sent) {
			snprintf(why, whylen, "more came back (%llu) than was sent (%llu)",
			         (unsigned long long)s->recvd, (unsigned long long)s->sent);
			goto cleanup;
		}
		if (progress)
			deadline = h_now_ms() + stall_ms;
		if (s->want_write)
			p.events |= POLLOUT;
		if (!progress && poll(&p, 1, 1000) < 0)
			goto cleanup;
	}
	EVP_DigestFinal_ex(s->out, md_out, NULL);
	EVP_DigestFinal_ex(s->in, md_in, NULL);
	ok = memcmp(md_out, md_in, sizeof(md_out)) == 0;
	if (!ok)
		snprintf(why, whylen, "SHA-256 of the %llu bytes sent and received differ",
		         (unsigned long long)total);
	if (fcntl(c->fd, F_SETFL, fl) < 0)
		ok = false;
cleanup:
	if (s) {
		EVP_MD_CTX_free(s->out);
		EVP_MD_CTX_free(s->in);
	}
	free(s);
	return ok;
}

bool ht_stream_echo(struct ht_client *c, uint64_t total, long long stall_ms, char *why,
                    size_t whylen)
{
	return stream_echo(c, total, false, stall_ms, why, whylen);
}

bool ht_stream_echo_half_close(struct ht_client *c, uint64_t total, long long stall_ms, char *why,
                               size_t whylen)
{
	return stream_echo(c, total, true, stall_ms, why, whylen);
}
