/*
 * Hostile input on TLS listeners, under each of the four models: garbage where the
 * ClientHello belongs, a handshake cut short, SSLv3 and TLS 1.0 hellos, a plaintext
 * client, a renegotiation attempt and an oversized record after the handshake. Each is
 * counted by reason, closes that connection only, and leaves the service answering the
 * next client; a crowd of bad clients is logged once per episode, not once each. The
 * hellos are written byte by byte here, since no current TLS library sends them; the
 * rest uses OpenSSL's client.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "harness_ctl.h"
#include "harness_tls.h"

#define N_MODELS 4
static const char *const names[N_MODELS] = {"ev", "tp", "fk", "pf"};
static const char *const models[N_MODELS] = {
        "{model: event, workers: 1}", "{model: threadpool, processes: 1, threads: 2}",
        "{model: fork}", "{model: prefork, min_spare: 1, max_spare: 2}"};
static int ports[N_MODELS];
static struct daemon d;

/* handshake_timeout is the longest allowed, ten times ends()'s 30 s: a connection
 * ended in time was ended by what it sent, never by a timeout a server that missed the
 * garbage would also reach (and count as a failure). */
static void start(void)
{
	char yaml[4096];
	int off = snprintf(yaml, sizeof(yaml), "services:\n");

	for (int i = 0; i < N_MODELS; i++) {
		ports[i] = h_free_port();
		off += snprintf(yaml + off, sizeof(yaml) - off,
		                "  %s: {listen: [{address: '127.0.0.1:%d', tls: {certificate: "
		                "%s/srv.pem, key: %s/srv.key, handshake_timeout: 300s}}], builtin: "
		                "echo, mpm: %s}\n",
		                names[i], ports[i], ht_pki(), ht_pki(), models[i]);
	}
	ck_assert_int_lt(off, (int)sizeof(yaml));
	ck_assert_int_eq(h_start(&d, "%s", yaml), 0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

/* SERVICE's failed handshakes for REASON, or all of them (REASON NULL). */
static long long failures(const char *service, const char *reason)
{
	json_t *reply = hc_call(&d, "stats", service);
	json_t *f = json_object_get(json_object_get(hc_service(reply, service), "tls"), "failures");
	long long n = 0;
	const char *k;
	json_t *v;

	if (reason)
		n = hc_int(f, reason);
	else
		json_object_foreach(f, k, v) n += json_integer_value(v);
	json_decref(reply);
	return n;
}

/* A blocking TLS client (TLS 1.2 only when TLS12) on PORT, 30 s for any read or write:
 * the server's certificate is not what these tests are about. */
static SSL *client(int port, bool tls12, int *fd_r)
{
	struct timeval tv = {.tv_sec = 30};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	ck_assert_ptr_nonnull(ctx);
	if (tls12)
		ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION), 1);
	*fd_r = h_connect("127.0.0.1", port);
	ck_assert_int_ge(*fd_r, 0);
	ck_assert_int_eq(setsockopt(*fd_r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(setsockopt(*fd_r, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	ck_assert_ptr_nonnull(ssl);
	SSL_set_fd(ssl, *fd_r);
	ck_assert_int_eq(SSL_connect(ssl), 1);
	return ssl;
}

static bool ssl_echoes(SSL *ssl, const char *msg)
{
	char back[64];
	int len = (int)strlen(msg), got = 0, n;

	if (SSL_write(ssl, msg, len) != len)
		return false;
	while (got < len && (n = SSL_read(ssl, back + got, len - got)) > 0)
		got += n;
	return got == len && memcmp(back, msg, (size_t)len) == 0;
}

/* The service on PORT still answers a well-behaved TLS client. */
static bool still_serves(int port)
{
	int fd;
	SSL *ssl = client(port, false, &fd);
	bool ok = ssl_echoes(ssl, "still here\n");

	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return ok;
}

/* FD ends (EOF or a reset) within 30 s, whatever arrives first (an alert). */
static bool ends(int fd)
{
	struct timeval tv = {.tv_sec = 30};
	char buf[4096];
	long long end = h_now_ms() + 30000;
	ssize_t n;

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	while (h_now_ms() < end) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
	return false;
}

/* A ClientHello with record version REC and hello version HELLO, offering two TLS 1.2
 * era suites and no extensions (so no supported_versions: HELLO is all it speaks). */
static size_t hello(unsigned char *b, unsigned rec, unsigned hello_ver)
{
	size_t n = 0;

	b[n++] = 0x16, b[n++] = rec >> 8, b[n++] = rec & 0xff, b[n++] = 0, b[n++] = 47;
	b[n++] = 1, b[n++] = 0, b[n++] = 0, b[n++] = 43; /* ClientHello, 43 bytes */
	b[n++] = hello_ver >> 8, b[n++] = hello_ver & 0xff;
	for (int i = 0; i < 32; i++)
		b[n++] = (unsigned char)(i * 37 + 11); /* random */
	b[n++] = 0;                                    /* no session id */
	b[n++] = 0, b[n++] = 4, b[n++] = 0x00, b[n++] = 0x2f, b[n++] = 0xc0, b[n++] = 0x13;
	b[n++] = 1, b[n++] = 0; /* null compression only */
	return n;
}

/* Sends BYTES (LEN) on a new connection to model I's port, optionally half-closing;
 * the server must end the connection, count one more failure (for REASON, or any) and
 * go on serving. */
static void refused_raw(int i, const void *bytes, size_t len, bool shut, const char *reason)
{
	long long before = failures(names[i], reason);
	int fd = h_connect("127.0.0.1", ports[i]);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, bytes, len), 0);
	if (shut)
		ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_msg(ends(fd), "%s: connection not ended", names[i]);
	close(fd);
	ck_assert_msg(H_DEADLINE_WAIT(failures(names[i], reason) == before + 1, 30000),
	              "%s: %s not counted (%lld before)", names[i], reason ? reason : "failure",
	              before);
	ck_assert_msg(still_serves(ports[i]), "%s", names[i]);
}

START_TEST(garbage_instead_of_hello)
{
	/* A handshake record holding a message type TLS does not have. */
	static const unsigned char junk[] = "\x16\x03\x01\x00\x10\xfe\x00\x00\x0c"
	                                    "\xde\xad\xbe\xef\xde\xad\xbe\xef\xde\xad\xbe\xef";

	refused_raw(_i, junk, sizeof(junk) - 1, false, NULL);
}
END_TEST

START_TEST(truncated_hello)
{
	unsigned char b[64];
	size_t n = hello(b, 0x0301, 0x0303);

	ck_assert_uint_gt(n, 20);
	refused_raw(_i, b, 20, true, "closed");
}
END_TEST

START_TEST(ssl3_and_tls10_hellos)
{
	unsigned char b[64];
	size_t n = hello(b, 0x0300, 0x0300);

	refused_raw(_i, b, n, false, "protocol");
	n = hello(b, 0x0301, 0x0301);
	refused_raw(_i, b, n, false, "protocol");
}
END_TEST

START_TEST(plaintext_client)
{
	refused_raw(_i, "GET / HTTP/1.0\r\n\r\n", 18, false, "not-tls");
}
END_TEST

/* Model I's server ended the connection of SSL on FD (which goes), and serves others. */
static void ended_yet_serving(int i, SSL *ssl, int fd)
{
	ck_assert_msg(ends(fd), "%s", names[i]);
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	ck_assert_msg(still_serves(ports[i]), "%s", names[i]);
}

/* A TLS 1.2 client asks to renegotiate: refused, and the connection ends. */
START_TEST(renegotiation_refused)
{
	int fd;
	SSL *ssl = client(ports[_i], true, &fd);

	ck_assert(ssl_echoes(ssl, "before\n"));
	ck_assert_int_eq(SSL_renegotiate(ssl), 1);
	ck_assert_int_le(SSL_do_handshake(ssl), 0);
	ended_yet_serving(_i, ssl, fd);
}
END_TEST

/* After the handshake, a record header announcing more than TLS allows (2^14 plus
 * expansion): the server ends the connection instead of buffering it. */
START_TEST(oversized_record)
{
	static unsigned char rec[5 + 0x4800] = {0x17, 0x03, 0x03, 0x48, 0x00};
	int fd;
	SSL *ssl = client(ports[_i], false, &fd);

	ck_assert(ssl_echoes(ssl, "before\n"));
	/* The server may close before taking it all: a failed send is expected then. */
	(void)send(fd, rec, sizeof(rec), MSG_NOSIGNAL);
	ended_yet_serving(_i, ssl, fd);
}
END_TEST

/* Twenty plaintext clients at once: counted each, logged as one episode (a line when
 * it begins, one with the total when it ends), never a line per connection. */
START_TEST(crowd_logged_once)
{
	char total[160];
	int fds[20];

	for (int k = 0; k < 20; k++) {
		fds[k] = h_connect("127.0.0.1", ports[_i]);
		ck_assert_int_ge(fds[k], 0);
	}
	for (int k = 0; k < 20; k++)
		ck_assert_int_eq(h_write_all(fds[k], "hello\r\n", 7), 0);
	for (int k = 0; k < 20; k++) {
		ck_assert(ends(fds[k]));
		close(fds[k]);
	}
	ck_assert(H_DEADLINE_WAIT(failures(names[_i], "not-tls") == 20, 30000));
	ck_assert(h_log_wait(&d, "no more TLS handshakes failing (not a TLS client)", 30000));
	snprintf(total, sizeof(total),
	         "%s: no more TLS handshakes failing (not a TLS client): 20 in", names[_i]);
	/* A loaded machine may split the crowd into two episodes; a line each is a flood. */
	if (!h_log_wait(&d, total, 0)) {
		ck_assert_int_le(h_count_in_file(d.log, "TLS handshakes failing: not a TLS client"),
		                 2);
		ck_assert_int_le(h_count_in_file(d.log, "no more TLS handshakes failing"), 2);
	} else {
		ck_assert_int_eq(h_count_in_file(d.log, "TLS handshakes failing: not a TLS client"),
		                 1);
	}
	ck_assert(still_serves(ports[_i]));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls hostile input");
	TCase *tc = tcase_create("hostile");

	ht_pki_make();
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_loop_test(tc, garbage_instead_of_hello, 0, N_MODELS);
	tcase_add_loop_test(tc, truncated_hello, 0, N_MODELS);
	tcase_add_loop_test(tc, ssl3_and_tls10_hellos, 0, N_MODELS);
	tcase_add_loop_test(tc, plaintext_client, 0, N_MODELS);
	tcase_add_loop_test(tc, renegotiation_refused, 0, N_MODELS);
	tcase_add_loop_test(tc, oversized_record, 0, N_MODELS);
	tcase_add_loop_test(tc, crowd_logged_once, 0, N_MODELS);
	suite_add_tcase(s, tc);

	return ht_run_suite(s) ? 1 : 0;
}
