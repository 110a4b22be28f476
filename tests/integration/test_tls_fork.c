/*
 * TLS under the fork and prefork models, against the real daemon on loopback: echo
 * with exact bytes under both, a program behind TLS under fork (16 MiB through
 * /bin/cat with equal digests and a half-close, the SSL_* environment with a client
 * certificate, `openssl s_client` against a responder), a stalled handshake ended by
 * handshake_timeout, a plaintext client refused and counted, and the TLS lines of
 * `superctl stats` and `superctl metrics`.
 *
 * Certificates are made once per test program with the openssl command (ECDSA P-256):
 * a CA, a server certificate for localhost and a client certificate under it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "harness_ctl.h"

static char pki[64];

static void pki_setup(void)
{
	char cmd[2048];

	snprintf(pki, sizeof(pki), "/tmp/ss-tlsfork.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(pki));
	snprintf(cmd, sizeof(cmd),
	         "cd %s && set -e\n"
	         "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	         "-out $1.key 2>/dev/null; }\n"
	         "key ca; openssl req -x509 -new -key ca.key -out ca.pem -days 3650 "
	         "-subj '/O=superserverd test/CN=test CA' 2>/dev/null\n"
	         "printf 'subjectAltName=DNS:localhost\\n' > san.ext\n"
	         "key srv; openssl req -new -key srv.key -out srv.csr -subj '/CN=localhost' "
	         "2>/dev/null\n"
	         "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "-extfile san.ext -out srv.pem -days 30 2>/dev/null\n"
	         "key cli; openssl req -new -key cli.key -out cli.csr "
	         "-subj '/O=superserverd test/CN=alice' 2>/dev/null\n"
	         "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "-out cli.pem -days 30 2>/dev/null\n"
	         "chmod 0644 *.key\n",
	         pki);
	ck_assert_int_eq(system(cmd), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void pki_teardown(void)
{
	nftw(pki, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------ client */

struct client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

/* A TLS client of 127.0.0.1:PORT that verifies the server against the test CA, with
 * SNI when SNI, and the client certificate when CERT, after sending PREFIX (a PROXY
 * header) when not NULL. 0 once the handshake is done. */
static int client_open_after(struct client *c, int port, const char *prefix, const char *sni,
                             bool cert)
{
	char path[128], key[128];
	struct timeval tv = {.tv_sec = 60};

	*c = (struct client){.fd = h_connect("127.0.0.1", port)};
	ck_assert_int_ge(c->fd, 0);
	if (prefix)
		ck_assert_int_eq(h_write_all(c->fd, prefix, strlen(prefix)), 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(c->ctx);
	snprintf(path, sizeof(path), "%s/ca.pem", pki);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(c->ctx, path, NULL), 1);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (cert) {
		snprintf(path, sizeof(path), "%s/cli.pem", pki);
		snprintf(key, sizeof(key), "%s/cli.key", pki);
		ck_assert_int_eq(SSL_CTX_use_certificate_file(c->ctx, path, SSL_FILETYPE_PEM), 1);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM), 1);
	}
	c->ssl = SSL_new(c->ctx);
	ck_assert_ptr_nonnull(c->ssl);
	if (sni)
		ck_assert_int_eq(SSL_set_tlsext_host_name(c->ssl, sni), 1);
	SSL_set_fd(c->ssl, c->fd);
	return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

static int client_open(struct client *c, int port, const char *sni, bool cert)
{
	return client_open_after(c, port, NULL, sni, cert);
}

static void client_close(struct client *c)
{
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	close(c->fd);
}

/* Everything the server sends until its close_notify (true) or another end. */
static bool client_read_all(struct client *c, char *buf, size_t cap, size_t *len_r)
{
	size_t len = 0;

	for (;;) {
		int n = SSL_read(c->ssl, buf + len, (int)(cap - len));
		if (n > 0) {
			len += (size_t)n;
			ck_assert_uint_lt(len, cap);
			continue;
		}
		*len_r = len;
		buf[len] = '\0';
		return SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN;
	}
}

static void client_write(struct client *c, const void *buf, size_t len)
{
	ck_assert_int_eq(SSL_write(c->ssl, buf, (int)len), (int)len);
}

/* ------------------------------------------------------------------ config */

#define TLS_KEYS "certificate: %s/srv.pem, key: %s/srv.key"

static int start_one(struct daemon *d, const char *model, int port, const char *what)
{
	return h_start(d,
	               "services:\n  s:\n    mpm: %s\n"
	               "    listen: [{address: '127.0.0.1:%d', tls: {" TLS_KEYS "}}]\n"
	               "    %s\n",
	               model, port, pki, pki, what);
}

/* The service's `tls` object in a stats answer (the caller decrefs *reply). */
static json_t *tls_stats(struct daemon *d, const char *service, json_t **reply)
{
	*reply = hc_call(d, "stats", service);
	ck_assert_ptr_nonnull(*reply);
	return json_object_get(hc_service(*reply, service), "tls");
}

static long long tls_failures(struct daemon *d, const char *reason)
{
	json_t *reply, *t = tls_stats(d, "s", &reply);
	long long n = hc_int(json_object_get(t, "failures"), reason);

	json_decref(reply);
	return n;
}

/* ------------------------------------------------------------------ tests */

static const char *const models[] = {"fork", "prefork"};

START_TEST(echo_over_tls)
{
	struct daemon d = {0};
	struct client c;
	int port = h_free_port();
	char buf[64 * 1024 + 1];
	size_t len;
	json_t *reply, *t;

	ck_assert_int_eq(start_one(&d, models[_i], port, "builtin: echo"), 0);
	ck_assert_int_eq(client_open(&c, port, "localhost", false), 0);
	ck_assert_str_eq(SSL_get_version(c.ssl), "TLSv1.3");
	for (size_t i = 0; i < sizeof(buf) - 1; i++)
		buf[i] = (char)(i * 7 + (i >> 8));
	client_write(&c, buf, sizeof(buf) - 1);
	char got[sizeof(buf)];
	ck_assert_int_eq(SSL_read_ex(c.ssl, got, 1, &len), 1);
	for (size_t have = len; have < sizeof(buf) - 1; have += len)
		ck_assert_int_eq(SSL_read_ex(c.ssl, got + have, sizeof(buf) - 1 - have, &len), 1);
	ck_assert_mem_eq(got, buf, sizeof(buf) - 1);
	/* Our close_notify ends the echo; the server answers with its own. */
	ck_assert_int_ge(SSL_shutdown(c.ssl), 0);
	ck_assert(client_read_all(&c, got, sizeof(got), &len));
	ck_assert_uint_eq(len, 0);
	client_close(&c);
	ck_assert(H_DEADLINE_WAIT(({
		                          t = tls_stats(&d, "s", &reply);
		                          long long n = hc_int(t, "handshakes");
		                          json_decref(reply);
		                          n == 1;
	                          }),
	                          30000));
	t = tls_stats(&d, "s", &reply);
	ck_assert_str_eq(hc_str(json_array_get(json_object_get(t, "listeners"), 0), "path"),
	                 "in-process");
	json_decref(reply);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* 16 MiB through /bin/cat behind TLS, written and read at once without blocking (the
 * relay holds a buffer per direction: a client that only wrote would stall it). The
 * client then sends close_notify, and still receives everything, then the server's. */
START_TEST(cat_16mib_half_close)
{
	struct daemon d = {0};
	struct client c;
	int port = h_free_port();
	const size_t total = 16u << 20;
	unsigned char in_md[32], out_md[32], chunk[16384], rbuf[16384];
	EVP_MD_CTX *sent = EVP_MD_CTX_new(), *got = EVP_MD_CTX_new();
	size_t off = 0, recvd = 0, n;
	bool closed = false;
	long long deadline = h_now_ms() + 240000;

	ck_assert_int_eq(start_one(&d, "fork", port, "exec: [/bin/cat]"), 0);
	ck_assert_int_eq(client_open(&c, port, "localhost", false), 0);
	ck_assert_int_eq(fcntl(c.fd, F_SETFL, O_NONBLOCK), 0);
	SSL_set_mode(c.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	EVP_DigestInit_ex(sent, EVP_sha256(), NULL);
	EVP_DigestInit_ex(got, EVP_sha256(), NULL);
	size_t chunk_len = 0, chunk_off = 0;
	while (!closed) {
		struct pollfd p = {.fd = c.fd, .events = POLLIN};
		int progress = 0;

		ck_assert_msg(h_now_ms() < deadline, "stalled at %zu sent, %zu received", off,
		              recvd);
		if (off < total) {
			if (chunk_off == chunk_len) {
				for (size_t i = 0; i < sizeof(chunk); i++)
					chunk[i] = (unsigned char)((off + i) * 2654435761u >> 13);
				chunk_len =
				        total - off < sizeof(chunk) ? total - off : sizeof(chunk);
				chunk_off = 0;
				EVP_DigestUpdate(sent, chunk, chunk_len);
			}
			if (SSL_write_ex(c.ssl, chunk + chunk_off, chunk_len - chunk_off, &n) ==
			    1) {
				chunk_off += n;
				off += n;
				progress = 1;
				if (off == total) /* the half-close: nothing more from us */
					ck_assert_int_ge(SSL_shutdown(c.ssl), 0);
			} else {
				p.events |= POLLOUT;
			}
		}
		for (;;) {
			int r = SSL_read_ex(c.ssl, rbuf, sizeof(rbuf), &n);
			if (r == 1) {
				EVP_DigestUpdate(got, rbuf, n);
				recvd += n;
				progress = 1;
				continue;
			}
			int e = SSL_get_error(c.ssl, 0);
			if (e == SSL_ERROR_ZERO_RETURN)
				closed = true;
			else
				ck_assert_int_eq(e, SSL_ERROR_WANT_READ);
			break;
		}
		if (!progress && !closed)
			poll(&p, 1, 1000);
	}
	ck_assert_uint_eq(off, total);
	ck_assert_uint_eq(recvd, total);
	EVP_DigestFinal_ex(sent, in_md, NULL);
	EVP_DigestFinal_ex(got, out_md, NULL);
	ck_assert_mem_eq(in_md, out_md, 32);
	EVP_MD_CTX_free(sent);
	EVP_MD_CTX_free(got);
	client_close(&c);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* mod_ssl's variables beside the TCP ones: with a verified client certificate and
 * SNI, and (another listener) without either, where the two are unset. */
START_TEST(program_environment)
{
	struct daemon d = {0};
	struct client c;
	int port = h_free_port(), port2 = h_free_port();
	char buf[16384];
	size_t len;

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    listen:\n"
	                         "      - {address: '127.0.0.1:%d', tls: {" TLS_KEYS
	                         ", client_ca: %s/ca.pem, verify_client: require}}\n"
	                         "      - {address: '127.0.0.1:%d', tls: {" TLS_KEYS "}}\n"
	                         "    exec: [/bin/sh, -c, 'env | sort']\n",
	                         port, pki, pki, pki, port2, pki, pki),
	                 0);
	ck_assert_int_eq(client_open(&c, port, "localhost", true), 0);
	ck_assert(client_read_all(&c, buf, sizeof(buf), &len));
	client_close(&c);
	ck_assert_msg(strstr(buf, "\nSSL_PROTOCOL=TLSv1.3\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_CIPHER=TLS_"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_SERVER_NAME=localhost\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_CLIENT_S_DN=CN=alice,O=superserverd test\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_CLIENT_VERIFY=SUCCESS\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nTCPREMOTEIP=127.0.0.1\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nPROTO=TCP\n"), "%s", buf);

	/* Without a certificate, require refuses the client. */
	ck_assert_int_eq(client_open(&c, port, "localhost", false) == 0 &&
	                         client_read_all(&c, buf, sizeof(buf), &len),
	                 0);
	client_close(&c);

	ck_assert_int_eq(client_open(&c, port2, NULL, false), 0);
	ck_assert(client_read_all(&c, buf, sizeof(buf), &len));
	client_close(&c);
	ck_assert_msg(strstr(buf, "\nSSL_CLIENT_VERIFY=NONE\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_PROTOCOL=TLSv1.3\n"), "%s", buf);
	ck_assert_msg(!strstr(buf, "SSL_SERVER_NAME="), "%s", buf);
	ck_assert_msg(!strstr(buf, "SSL_CLIENT_S_DN="), "%s", buf);
	ck_assert(H_DEADLINE_WAIT(tls_failures(&d, "client-certificate") == 1, 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The connection's process ends as its program did: the acceptor logs the program's
 * exit status, as for a program without TLS. */
START_TEST(program_exit_status)
{
	struct daemon d = {0};
	struct client c;
	int port = h_free_port();
	char buf[64];
	size_t len;

	ck_assert_int_eq(start_one(&d, "fork", port, "exec: [/bin/sh, -c, 'echo bye; exit 3']"), 0);
	ck_assert_int_eq(client_open(&c, port, "localhost", false), 0);
	ck_assert(client_read_all(&c, buf, sizeof(buf), &len));
	ck_assert_str_eq(buf, "bye\n");
	client_close(&c);
	ck_assert(h_log_wait(&d, "exited with status 3", 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A real client: openssl s_client, verifying the server, against a program. */
START_TEST(s_client_against_program)
{
	struct daemon d = {0};
	int port = h_free_port();
	char cmd[512], out[4096];
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(
	        start_one(&d, "fork", port,
	                  "exec: [/bin/sh, -c, 'read l; echo \"got $l over $SSL_PROTOCOL\"']"),
	        0);
	snprintf(cmd, sizeof(cmd),
	         "printf 'hello\\n' | timeout 120 openssl s_client -quiet -connect 127.0.0.1:%d "
	         "-servername localhost -CAfile %s/ca.pem -verify_return_error 2>/dev/null",
	         port, pki);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (len < sizeof(out) - 1 && fgets(out + len, (int)(sizeof(out) - len), f))
		len = strlen(out);
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_str_eq(out, "got hello over TLSv1.3\n");
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A client that starts a handshake and stalls: closed at handshake_timeout, counted
 * (without an idle timeout, which would close it too). */
START_TEST(stalled_handshake_times_out)
{
	struct daemon d = {0};
	int port = h_free_port(), fd;
	char buf[64];
	/* The start of a TLS handshake record: TLS, but never more. */
	static const char hello[] = {0x16, 0x03, 0x01, 0x01, 0x00};

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    mpm: %s\n"
	                         "    listen: [{address: '127.0.0.1:%d', tls: {" TLS_KEYS
	                         ", handshake_timeout: 300ms}}]\n"
	                         "    builtin: echo\n    limits: {idle_timeout: 0}\n",
	                         models[_i], port, pki, pki),
	                 0);
	fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, hello, sizeof(hello)), 0);
	/* The server closes it: end of stream (or a reset), well before our deadline. */
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 60000), 0);
	close(fd);
	ck_assert(H_DEADLINE_WAIT(tls_failures(&d, "timeout") == 1, 30000));
	ck_assert_int_eq(tls_failures(&d, "not-tls"), 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Plaintext on a TLS port: closed without an answer, counted as not-tls. */
START_TEST(plaintext_refused_and_counted)
{
	struct daemon d = {0};
	int port = h_free_port();
	char buf[64];

	ck_assert_int_eq(start_one(&d, models[_i], port, "builtin: echo"), 0);
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "GET / HTTP/1.0\r\n\r\n", false, buf,
	                            sizeof(buf), 60000),
	                 0);
	ck_assert(H_DEADLINE_WAIT(tls_failures(&d, "not-tls") == 1, 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The PROXY header is read before the handshake, and admission judges the client it
 * names: one that access denies gets no handshake at all. */
START_TEST(proxy_header_then_admission_then_handshake)
{
	struct daemon d = {0};
	struct client c;
	int port = h_free_port();
	char buf[256];
	size_t len;
	json_t *reply, *t;

	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n  s:\n    mpm: %s\n"
	                "    listen: [{address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                "              trusted_proxies: [127.0.0.0/8], tls: {" TLS_KEYS "}}]\n"
	                "    access: {deny: [198.51.100.0/24]}\n"
	                "    %s\n",
	                models[_i], port, pki, pki,
	                _i == 0 ? "exec: [/bin/sh, -c, 'echo $TCPREMOTEIP']" : "builtin: echo"),
	        0);
	ck_assert_int_eq(client_open_after(&c, port,
	                                   "PROXY TCP4 192.0.2.7 127.0.0.1 40000 7000\r\n",
	                                   "localhost", false),
	                 0);
	if (_i == 0) {
		ck_assert(client_read_all(&c, buf, sizeof(buf), &len));
		ck_assert_str_eq(buf, "192.0.2.7\n");
	} else {
		client_write(&c, "hello\n", 6);
		ck_assert_int_eq(SSL_read_ex(c.ssl, buf, sizeof(buf), &len), 1);
		ck_assert_uint_eq(len, 6);
		ck_assert_mem_eq(buf, "hello\n", 6);
	}
	client_close(&c);
	/* Denied by access after the header: closed, no handshake begun. */
	ck_assert_int_ne(client_open_after(&c, port,
	                                   "PROXY TCP4 198.51.100.7 127.0.0.1 40000 7000\r\n",
	                                   "localhost", false),
	                 0);
	client_close(&c);
	ck_assert(H_DEADLINE_WAIT(({
		                          t = hc_service(reply = hc_call(&d, "stats", "s"), "s");
		                          long long n =
		                                  hc_int(json_object_get(t, "rejected_by_reason"),
		                                         "access");
		                          json_decref(reply);
		                          n == 1;
	                          }),
	                          30000));
	t = tls_stats(&d, "s", &reply);
	ck_assert_int_eq(hc_int(t, "handshakes"), 1);
	const char *reason;
	json_t *v;
	json_object_foreach(json_object_get(t, "failures"), reason, v)
	{
		ck_assert_msg(json_integer_value(v) == 0, "%s: %lld", reason,
		              (long long)json_integer_value(v));
	}
	json_decref(reply);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static long long cert_not_after(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	struct tm tm;

	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), 1);
	X509_free(x);
	return (long long)timegm(&tm);
}

static void run_superctl(struct daemon *d, const char *what, char *out, size_t cap)
{
	const char *sc = getenv("SUPERCTL");
	char cmd[512];
	size_t len = 0, n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --socket %s %s", sc ? sc : "./superctl", d->control, what);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (len < cap - 1 && (n = fread(out + len, 1, cap - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	ck_assert_int_eq(pclose(f), 0);
}

/* superctl stats and metrics: the certificate's expiry, the path, the handshakes. */
START_TEST(stats_and_metrics)
{
	struct daemon d = {0};
	struct client c;
	int port = h_free_port(), fd;
	char path[128], want[512], out[65536];
	size_t len;
	long long not_after;

	ck_assert_int_eq(start_one(&d, "fork", port, "exec: [/bin/echo, hi]"), 0);
	ck_assert_int_eq(client_open(&c, port, "localhost", false), 0);
	ck_assert(client_read_all(&c, out, sizeof(out), &len));
	ck_assert_str_eq(out, "hi\n");
	client_close(&c);
	fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, "plain\n", 6), 0);
	ck_assert_int_eq(h_read_all(fd, out, sizeof(out), 60000), 0);
	close(fd);
	ck_assert(H_DEADLINE_WAIT(tls_failures(&d, "not-tls") == 1, 30000));

	snprintf(path, sizeof(path), "%s/srv.pem", pki);
	not_after = cert_not_after(path);
	run_superctl(&d, "metrics", out, sizeof(out));
	snprintf(want, sizeof(want),
	         "\nsuperserverd_tls_certificate_expiry_seconds{service=\"s\",listener=\"127.0.0.1:"
	         "%d\","
	         "certificate=\"%s\"} %lld\n",
	         port, path, not_after);
	ck_assert_msg(strstr(out, want), "no line %s", want);
	ck_assert_msg(strstr(out, "\n# TYPE superserverd_tls_certificate_expiry_seconds gauge\n"),
	              "%s", out);
	ck_assert_msg(strstr(out, "\nsuperserverd_tls_handshakes_total{service=\"s\"} 1\n"), "%s",
	              out);
	ck_assert_msg(strstr(out, "\nsuperserverd_tls_handshake_failures_total{service=\"s\","
	                          "reason=\"not-tls\"} 1\n"),
	              "%s", out);
	ck_assert_msg(strstr(out, "\nsuperserverd_tls_handshake_failures_total{service=\"s\","
	                          "reason=\"timeout\"} 0\n"),
	              "%s", out);

	run_superctl(&d, "stats s", out, sizeof(out));
	snprintf(want, sizeof(want), "tls listener     127.0.0.1:%d (relay)\n", port);
	ck_assert_msg(strstr(out, want), "%s", out);
	ck_assert_msg(strstr(out, "certificate    CN=localhost\n"), "%s", out);
	ck_assert_msg(strstr(out, "days left)\n"), "%s", out);
	ck_assert_msg(strstr(out, "tls failures     not-tls 1\n"), "%s", out);
	ck_assert_msg(strstr(out, "tls              1 handshakes, 0 resumed"), "%s", out);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tls_fork");
	TCase *tc = tcase_create("tls");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, echo_over_tls, 0, 2);
	tcase_add_test(tc, cat_16mib_half_close);
	tcase_add_test(tc, program_environment);
	tcase_add_test(tc, s_client_against_program);
	tcase_add_test(tc, program_exit_status);
	tcase_add_loop_test(tc, stalled_handshake_times_out, 0, 2);
	tcase_add_loop_test(tc, plaintext_refused_and_counted, 0, 2);
	tcase_add_test(tc, stats_and_metrics);
	tcase_add_loop_test(tc, proxy_header_then_admission_then_handshake, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	/* A client the server closes on (refused, denied) must not die writing to it. */
	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
