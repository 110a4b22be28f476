/*
 * One TLS connection over OpenSSL (see tls_conn.h): a socket BIO of our own that
 * never blocks nor raises SIGPIPE, the handshake with its cheap not-TLS check and its
 * failures sorted for the metrics, reads and writes that map OpenSSL's answers onto
 * the few statuses the loops act on, and what was negotiated, kept for the accessors.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "mpm/conn.h"
#include "mpm/driver.h"
#include "mpm/tls_conn.h"
#include "superserverd/scoreboard.h"

_Static_assert(TLS_FAIL_COUNT <= SCOREBOARD_TLS_FAIL_SLOTS, "the scoreboard counts every reason");

/* The first byte of a TLS record carrying a handshake message (a ClientHello). */
#define TLS_RECORD_HANDSHAKE 0x16
/* Longest ALPN protocol name (its length is one byte on the wire). */
#define TLS_ALPN_MAX 255

struct tls_conn {
	SSL *ssl;
	int fd;
	bool in_eof;      /* the socket read end of stream (the BIO's BIO_eof) */
	bool peeked;      /* the first byte was seen to be TLS */
	bool established; /* the handshake is done: what was negotiated is below */
	bool broken;      /* a fatal error: OpenSSL must not be asked to shut down */
	bool closing;     /* close_notify asked for: no more writes */
	enum tls_fail fail;
	const char *protocol, *cipher, *server_name;
	char *subject; /* verified client certificate's subject, or NULL */
	char alpn[TLS_ALPN_MAX + 1];
	char verify[128]; /* SSL_CLIENT_VERIFY */
};

/* --- the socket BIO ---------------------------------------------------------------- */

static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;

static int tls_bio_read(BIO *b, char *buf, int len)
{
	struct tls_conn *t = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = recv(t->fd, buf, (size_t)len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	if (n == 0)
		t->in_eof = true;
	return (int)n;
}

static int tls_bio_write(BIO *b, const char *buf, int len)
{
	struct tls_conn *t = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = send(t->fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_conn *t = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_EOF:
		/* How OpenSSL tells a stream cut short from a read that must be retried. */
		return t && t->in_eof;
	case BIO_CTRL_FLUSH:
		return 1; /* nothing is held here */
	default:
		return 0;
	}
}

static int tls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void tls_bio_make(void)
{
	BIO_METHOD *m =
	        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "superserverd socket");

	if (!m)
		return;
	if (!BIO_meth_set_read(m, tls_bio_read) || !BIO_meth_set_write(m, tls_bio_write) ||
	    !BIO_meth_set_ctrl(m, tls_bio_ctrl) || !BIO_meth_set_create(m, tls_bio_create)) {
		BIO_meth_free(m);
		return;
	}
	tls_bio_method = m;
}

/* --- life ---------------------------------------------------------------------------- */

struct tls_conn *tls_conn_new(SSL_CTX *ctx, int fd)
{
	struct tls_conn *t;
	BIO *bio;

	if (pthread_once(&tls_bio_once, tls_bio_make) != 0 || !tls_bio_method)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = fd;
	ERR_clear_error();
	t->ssl = SSL_new(ctx);
	bio = BIO_new(tls_bio_method);
	if (!t->ssl || !bio) {
		BIO_free(bio);
		tls_conn_free(t);
		return NULL;
	}
	BIO_set_data(bio, t);
	SSL_set_bio(t->ssl, bio, bio);
	/* Bounded memory: a write returns after a record (the caller keeps the rest, and
	 * may have moved it by the retry), and the buffers go back while idle. */
	SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                             SSL_MODE_RELEASE_BUFFERS);
	/* Whatever the context says: a renegotiation would make a read wait for writes
	 * and back, which the loops do not expect from the middle of a stream. */
	SSL_set_options(t->ssl, SSL_OP_NO_RENEGOTIATION);
	SSL_set_accept_state(t->ssl);
	ERR_clear_error();
	return t;
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t->subject);
	free(t);
	ERR_clear_error();
}

/* --- failures ------------------------------------------------------------------------ */

static enum tls_fail tls_reason(int reason)
{
	switch (reason) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
	case SSL_R_WRONG_SSL_VERSION:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_UNSUPPORTED_SSL_VERSION:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		return TLS_FAIL_PROTOCOL;
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
	case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY:
		return TLS_FAIL_CIPHER;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_NO_CERTIFICATES_RETURNED:
		return TLS_FAIL_CLIENT_CERT;
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
		return TLS_FAIL_NOT_TLS;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return TLS_FAIL_CLOSED;
	default:
		return TLS_FAIL_OTHER;
	}
}

/* Sorts OpenSSL's queued errors into one reason, and empties the queue. */
static enum tls_fail tls_classify(void)
{
	enum tls_fail f = TLS_FAIL_OTHER;
	unsigned long e;

	while ((e = ERR_get_error()) != 0) {
		if (f == TLS_FAIL_OTHER && ERR_GET_LIB(e) == ERR_LIB_SSL)
			f = tls_reason(ERR_GET_REASON(e));
	}
	return f;
}

static const char *const tls_fail_names[] = {
        [TLS_FAIL_NONE] = "none",       [TLS_FAIL_PROTOCOL] = "protocol",
        [TLS_FAIL_CIPHER] = "cipher",   [TLS_FAIL_CLIENT_CERT] = "client-certificate",
        [TLS_FAIL_TIMEOUT] = "timeout", [TLS_FAIL_NOT_TLS] = "not-tls",
        [TLS_FAIL_CLOSED] = "closed",   [TLS_FAIL_OTHER] = "other",
};

const char *tls_fail_name(enum tls_fail f)
{
	if ((unsigned)f >= sizeof(tls_fail_names) / sizeof(tls_fail_names[0]))
		return "other";
	return tls_fail_names[f];
}

enum tls_fail tls_conn_failure(const struct tls_conn *t)
{
	return t->fail;
}

void tls_conn_set_timed_out(struct tls_conn *t)
{
	if (!t->established)
		t->fail = TLS_FAIL_TIMEOUT;
}

/* --- the handshake ------------------------------------------------------------------- */

/* Looks at the first byte without taking it. Returns TLS_DONE when it may begin a TLS
 * record, a want, or TLS_ERROR with the failure set. */
static enum tls_status tls_peek_first(struct tls_conn *t)
{
	unsigned char b;
	ssize_t n;

	do
		n = recv(t->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return TLS_WANT_READ;
	if (n <= 0) {
		t->fail = TLS_FAIL_CLOSED;
		return TLS_ERROR;
	}
	/* A handshake record, or the high bit of an SSLv2-style hello's length, which
	 * OpenSSL answers itself. Anything else is a plaintext client. */
	if (b != TLS_RECORD_HANDSHAKE && !(b & 0x80)) {
		t->fail = TLS_FAIL_NOT_TLS;
		return TLS_ERROR;
	}
	t->peeked = true;
	return TLS_DONE;
}

static void tls_note_verify(struct tls_conn *t)
{
	X509 *peer = SSL_get1_peer_certificate(t->ssl);
	long v;

	if (!peer) {
		snprintf(t->verify, sizeof(t->verify), "NONE");
		return;
	}
	v = SSL_get_verify_result(t->ssl);
	if (v != X509_V_OK) {
		snprintf(t->verify, sizeof(t->verify), "FAILED:%s",
		         X509_verify_cert_error_string(v));
	} else {
		BIO *m = BIO_new(BIO_s_mem());
		char *p;
		long len;

		snprintf(t->verify, sizeof(t->verify), "SUCCESS");
		/* RFC 2253 with UTF-8 left as is, as mod_ssl writes SSL_CLIENT_S_DN. */
		if (m && X509_NAME_print_ex(m, X509_get_subject_name(peer), 0,
		                            XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
			len = BIO_get_mem_data(m, &p);
			t->subject = len >= 0 ? strndup(p, (size_t)len) : NULL;
		}
		BIO_free(m);
	}
	X509_free(peer);
}

static void tls_note_established(struct tls_conn *t)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;

	t->established = true;
	t->protocol = SSL_get_version(t->ssl);
	t->cipher = SSL_get_cipher_name(t->ssl);
	t->server_name = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
	SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
	if (alpn && alpn_len) {
		memcpy(t->alpn, alpn, alpn_len);
		t->alpn[alpn_len] = '\0';
	}
	tls_note_verify(t);
}

/* After an I/O call's RET <= 0: the status, the failure (for a handshake) recorded. */
static enum tls_status tls_after(struct tls_conn *t, int ret, bool handshaking)
{
	int saved = errno;
	int err = SSL_get_error(t->ssl, ret);
	enum tls_fail f;

	switch (err) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		if (!handshaking)
			return TLS_EOF;
		t->fail = TLS_FAIL_CLOSED;
		return TLS_ERROR;
	case SSL_ERROR_SYSCALL:
		/* Without an OpenSSL error, the socket's own: the peer went (an end of
		 * stream, a reset) or something stranger. */
		if (ERR_peek_error())
			f = tls_classify();
		else if (t->in_eof || saved == 0 || saved == ECONNRESET || saved == EPIPE)
			f = TLS_FAIL_CLOSED;
		else
			f = TLS_FAIL_OTHER;
		break;
	default:
		f = tls_classify();
		break;
	}
	t->broken = true;
	ERR_clear_error();
	if (handshaking) {
		t->fail = f;
		return TLS_ERROR;
	}
	/* An end of stream or a reset: the peer went without close_notify. */
	return f == TLS_FAIL_CLOSED ? TLS_TRUNCATED : TLS_ERROR;
}

enum tls_status tls_conn_handshake(struct tls_conn *t)
{
	int r;

	if (t->established)
		return TLS_DONE;
	if (t->broken || t->fail != TLS_FAIL_NONE)
		return TLS_ERROR;
	if (!t->peeked) {
		enum tls_status s = tls_peek_first(t);
		if (s != TLS_DONE)
			return s;
	}
	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		tls_note_established(t);
		ERR_clear_error();
		return TLS_DONE;
	}
	return tls_after(t, r, true);
}

/* --- bytes --------------------------------------------------------------------------- */

enum tls_status tls_conn_read(struct tls_conn *t, void *buf, size_t cap, size_t *n_r)
{
	size_t n = 0;

	*n_r = 0;
	if (t->broken || !t->established)
		return TLS_ERROR;
	ERR_clear_error();
	if (SSL_read_ex(t->ssl, buf, cap, &n) == 1) {
		*n_r = n;
		return TLS_DONE;
	}
	return tls_after(t, 0, false);
}

bool tls_conn_pending(const struct tls_conn *t)
{
	return !t->broken && SSL_has_pending(t->ssl);
}

enum tls_status tls_conn_write(struct tls_conn *t, const void *buf, size_t len, size_t *n_r)
{
	size_t n = 0;

	*n_r = 0;
	if (t->broken || !t->established || t->closing)
		return TLS_ERROR;
	if (len == 0)
		return TLS_DONE;
	ERR_clear_error();
	if (SSL_write_ex(t->ssl, buf, len, &n) == 1) {
		*n_r = n;
		return TLS_DONE;
	}
	return tls_after(t, 0, false);
}

enum tls_status tls_conn_shutdown(struct tls_conn *t)
{
	int r;

	if (t->broken || !t->established)
		return TLS_ERROR;
	t->closing = true;
	ERR_clear_error();
	r = SSL_shutdown(t->ssl);
	if (r >= 0) {
		ERR_clear_error();
		return TLS_DONE;
	}
	return tls_after(t, r, false);
}

/* --- what was negotiated -------------------------------------------------------------- */

const char *tls_conn_protocol(const struct tls_conn *t)
{
	return t->established ? t->protocol : NULL;
}

const char *tls_conn_cipher(const struct tls_conn *t)
{
	return t->established ? t->cipher : NULL;
}

const char *tls_conn_server_name(const struct tls_conn *t)
{
	return t->established ? t->server_name : NULL;
}

const char *tls_conn_alpn(const struct tls_conn *t)
{
	return t->established && t->alpn[0] ? t->alpn : NULL;
}

bool tls_conn_resumed(const struct tls_conn *t)
{
	return t->established && SSL_session_reused(t->ssl);
}

const char *tls_conn_peer_subject(const struct tls_conn *t)
{
	return t->established ? t->subject : NULL;
}

const char *tls_conn_client_verify(const struct tls_conn *t)
{
	return t->established ? t->verify : NULL;
}

/* --- blocking ------------------------------------------------------------------------ */

int tls_conn_handshake_blocking(struct tls_conn *t, uint64_t deadline, bool (*stop)(void *arg),
                                void *arg)
{
	for (;;) {
		enum tls_status s = tls_conn_handshake(t);
		struct pollfd p = {.fd = t->fd};
		uint64_t now;
		int n;

		if (s == TLS_DONE)
			return 0;
		if (s == TLS_ERROR)
			return -EPROTO;
		if (stop && stop(arg))
			return -ECANCELED;
		now = conn_now_usec();
		if (deadline && now >= deadline) {
			tls_conn_set_timed_out(t);
			return -ETIMEDOUT;
		}
		p.events = s == TLS_WANT_WRITE ? POLLOUT : POLLIN;
		n = poll(&p, 1, driver_wait_ms(now, deadline, 0, stop != NULL));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0 && (p.revents & POLLNVAL))
			return -EBADF;
		/* Ready, a hangup (the next step sees it), a timeout or a signal: the loop's
		 * top sorts them out. */
	}
}
