/*
 * ssbench --tls: the client side of TLS for the stream modes, non-blocking, driven by the
 * workers' epoll loops. TLS 1.3 only, the certificate not verified (the bench makes a
 * self-signed one), and no session resumption: every connection pays a full handshake,
 * which is what the handshakes-per-second load measures.
 */
#include "loadgen.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <sys/epoll.h>

static SSL_CTX *ctx;

int lg_tls_init(void)
{
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		ERR_print_errors_fp(stderr);
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	/* send()'s contract: a partial write is a result, and the next call may start anew. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}

void lg_tls_free(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}

struct ssl_st *lg_tls_new(int fd)
{
	SSL *ssl = SSL_new(ctx);
	if (ssl && SSL_set_fd(ssl, fd) == 1) {
		SSL_set_connect_state(ssl);
		return ssl;
	}
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

/* What a non-blocking call that returned R waits for: EPOLLIN or EPOLLOUT; -1 if it failed
 * (0 for a clean close_notify). The thread's error queue is emptied either way, so that one
 * connection's failure never shows up as another's. */
static int want(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ)
		return EPOLLIN;
	if (e == SSL_ERROR_WANT_WRITE)
		return EPOLLOUT;
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

int lg_tls_handshake(struct ssl_st *ssl)
{
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return 0;
	r = want(ssl, r);
	return r > 0 ? r : -1;
}

ssize_t lg_tls_send(struct ssl_st *ssl, const void *buf, size_t len)
{
	size_t n = 0;
	if (SSL_write_ex(ssl, buf, len, &n) == 1)
		return (ssize_t)n;
	if (want(ssl, 0) > 0) {
		errno = EAGAIN;
		return -1;
	}
	errno = EPIPE;
	return -1;
}

/* Reads until LEN bytes or until OpenSSL holds nothing more: with level-triggered epoll, a
 * record decrypted into OpenSSL's buffer but not yet returned would never wake the loop. A
 * read that needs to write (a key update) is not waited for: no server here asks one. */
ssize_t lg_tls_recv(struct ssl_st *ssl, void *buf, size_t len)
{
	size_t total = 0;
	while (total < len) {
		size_t n = 0;
		int r = SSL_read_ex(ssl, (char *)buf + total, len - total, &n);
		if (r == 1) {
			total += n;
			continue;
		}
		if (total > 0) {
			ERR_clear_error();
			return (ssize_t)total; /* an EOF or error shows on the next call */
		}
		r = want(ssl, r);
		if (r > 0) {
			errno = EAGAIN;
			return -1;
		}
		if (r < 0)
			errno = ECONNRESET;
		return r;
	}
	return (ssize_t)total;
}

void lg_tls_close(struct ssl_st *ssl)
{
	/* One try at close_notify: the socket is closed next, its answer never read. */
	if (SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
}
