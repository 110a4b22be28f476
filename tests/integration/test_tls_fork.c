/*
 * TLS under the fork and prefork models, against the real daemon on loopback: echo
 * with exact bytes under both, a program behind TLS under fork (16 MiB through
 * /bin/cat with equal digests and a half-close, the SSL_* environment with a client
 * certificate, `openssl s_client` against a responder), a stalled handshake ended by
 * handshake_timeout, a plaintext client refused and counted, and the TLS lines of
 * `superctl stats` and `superctl metrics`.
 *
 * The certificates are harness_tls's: srv for the daemon, alice for a client.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "harness_ctl.h"
#include "harness_tls.h"

/* ------------------------------------------------------------------ config */

static int start_one(struct daemon *d, const char *model, int port, const char *what)
{
	return h_start(d,
	               "services:\n  s:\n    mpm: %s\n"
	               "    listen: [{address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS "}}]\n"
	               "    %s\n",
	               model, port, ht_pki(), ht_pki(), what);
}

/* The service's `tls` object in a stats answer (the caller decrefs *reply). */
static json_t *tls_stats(struct daemon *d, const char *service, json_t **reply)
{
	*reply = hc_call(d, "stats", service);
	ck_assert_ptr_nonnull(*reply);
	return json_object_get(hc_service(*reply, service), "tls");
}

/* ------------------------------------------------------------------ tests */

static const char *const models[] = {"fork", "prefork"};

START_TEST(echo_over_tls)
{
	struct daemon d = {0};
	struct ht_client c;
	int port = h_free_port();
	char buf[64 * 1024 + 1];
	size_t len;
	json_t *reply, *t;

	ck_assert_int_eq(start_one(&d, models[_i], port, "builtin: echo"), 0);
	ck_assert_msg(ht_connect(&c, port, "localhost") == 0, "%s", c.why);
	ck_assert_str_eq(SSL_get_version(c.ssl), "TLSv1.3");
	for (size_t i = 0; i < sizeof(buf) - 1; i++)
		buf[i] = (char)(i * 7 + (i >> 8));
	ck_assert_int_eq(SSL_write(c.ssl, buf, sizeof(buf) - 1), sizeof(buf) - 1);
	char got[sizeof(buf)];
	ck_assert_int_eq(SSL_read_ex(c.ssl, got, 1, &len), 1);
	for (size_t have = len; have < sizeof(buf) - 1; have += len)
		ck_assert_int_eq(SSL_read_ex(c.ssl, got + have, sizeof(buf) - 1 - have, &len), 1);
	ck_assert_mem_eq(got, buf, sizeof(buf) - 1);
	/* Our close_notify ends the echo; the server answers with its own. */
	ck_assert_int_ge(SSL_shutdown(c.ssl), 0);
	ck_assert_msg(ht_read_to_end(&c, got, sizeof(got), &len), "%s", c.why);
	ck_assert_uint_eq(len, 0);
	ht_close(&c);
	ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, "s", NULL) == 1, 30000));
	t = tls_stats(&d, "s", &reply);
	ck_assert_str_eq(hc_str(json_array_get(json_object_get(t, "listeners"), 0), "path"),
	                 "in-process");
	json_decref(reply);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* 16 MiB through /bin/cat behind TLS, written and read at once (the relay holds a
 * buffer per direction: a client that only wrote would stall it). The client sends
 * close_notify after its last byte, and still receives everything, then the server's. */
START_TEST(cat_16mib_half_close)
{
	struct daemon d = {0};
	struct ht_client c;
	int port = h_free_port();
	char why[256];

	ck_assert_int_eq(start_one(&d, "fork", port, "exec: [/bin/cat]"), 0);
	ck_assert_msg(ht_connect(&c, port, "localhost") == 0, "%s", c.why);
	ck_assert_msg(ht_stream_echo_half_close(&c, 16u << 20, 120000, why, sizeof(why)), "%s",
	              why);
	ht_close(&c);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* mod_ssl's variables beside the TCP ones: with a verified client certificate and
 * SNI, and (another listener) without either, where the two are unset. */
START_TEST(program_environment)
{
	struct daemon d = {0};
	struct ht_client c;
	int port = h_free_port(), port2 = h_free_port();
	char buf[16384];
	size_t len;

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    listen:\n"
	                         "      - {address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS
	                         ", client_ca: %s/ca.pem, verify_client: require}}\n"
	                         "      - {address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS "}}\n"
	                         "    exec: [/bin/sh, -c, 'env | sort']\n",
	                         port, ht_pki(), ht_pki(), ht_pki(), port2, ht_pki(), ht_pki()),
	                 0);
	ck_assert_msg(ht_connect_as(&c, port, NULL, "localhost", "alice") == 0, "%s", c.why);
	ck_assert_msg(ht_read_to_end(&c, buf, sizeof(buf), &len), "%s", c.why);
	ht_close(&c);
	ck_assert_msg(strstr(buf, "\nSSL_PROTOCOL=TLSv1.3\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_CIPHER=TLS_"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_SERVER_NAME=localhost\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_CLIENT_S_DN=CN=alice,O=superserverd test\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_CLIENT_VERIFY=SUCCESS\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nTCPREMOTEIP=127.0.0.1\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nPROTO=TCP\n"), "%s", buf);

	/* Without a certificate, require refuses the client. */
	ck_assert(!(ht_connect(&c, port, "localhost") == 0 &&
	            ht_read_to_end(&c, buf, sizeof(buf), &len)));
	ht_close(&c);

	ck_assert_msg(ht_connect(&c, port2, NULL) == 0, "%s", c.why);
	ck_assert_msg(ht_read_to_end(&c, buf, sizeof(buf), &len), "%s", c.why);
	ht_close(&c);
	ck_assert_msg(strstr(buf, "\nSSL_CLIENT_VERIFY=NONE\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "\nSSL_PROTOCOL=TLSv1.3\n"), "%s", buf);
	ck_assert_msg(!strstr(buf, "SSL_SERVER_NAME="), "%s", buf);
	ck_assert_msg(!strstr(buf, "SSL_CLIENT_S_DN="), "%s", buf);
	ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, "s", "client-certificate") == 1, 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The connection's process ends as its program did: the acceptor logs the program's
 * exit status, as for a program without TLS. */
START_TEST(program_exit_status)
{
	struct daemon d = {0};
	struct ht_client c;
	int port = h_free_port();
	char buf[64];
	size_t len;

	ck_assert_int_eq(start_one(&d, "fork", port, "exec: [/bin/sh, -c, 'echo bye; exit 3']"), 0);
	ck_assert_msg(ht_connect(&c, port, "localhost") == 0, "%s", c.why);
	ck_assert_msg(ht_read_to_end(&c, buf, sizeof(buf), &len), "%s", c.why);
	ck_assert_str_eq(buf, "bye\n");
	ht_close(&c);
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

	ck_assert_int_eq(
	        start_one(&d, "fork", port,
	                  "exec: [/bin/sh, -c, 'read l; echo \"got $l over $SSL_PROTOCOL\"']"),
	        0);
	snprintf(cmd, sizeof(cmd),
	         "printf 'hello\\n' | timeout 120 openssl s_client -quiet -connect 127.0.0.1:%d "
	         "-servername localhost -CAfile %s/ca.pem -verify_return_error 2>/dev/null",
	         port, ht_pki());
	ht_run(cmd, out, sizeof(out));
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
	                         "    listen: [{address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS
	                         ", handshake_timeout: 300ms}}]\n"
	                         "    builtin: echo\n    limits: {idle_timeout: 0}\n",
	                         models[_i], port, ht_pki(), ht_pki()),
	                 0);
	fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, hello, sizeof(hello)), 0);
	/* The server closes it: end of stream (or a reset), well before our deadline. */
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 60000), 0);
	close(fd);
	ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, "s", "timeout") == 1, 30000));
	ck_assert_int_eq(ht_tls_count(&d, "s", "not-tls"), 0);
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
	ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, "s", "not-tls") == 1, 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The PROXY header is read before the handshake, and admission judges the client it
 * names: one that access denies gets no handshake at all. */
START_TEST(proxy_header_then_admission_then_handshake)
{
	struct daemon d = {0};
	struct ht_client c;
	int port = h_free_port();
	char buf[256];
	size_t len;
	json_t *reply, *t;

	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n  s:\n    mpm: %s\n"
	                "    listen: [{address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                "              trusted_proxies: [127.0.0.0/8], tls: {" HT_SRV_KEYS "}}]\n"
	                "    access: {deny: [198.51.100.0/24]}\n"
	                "    %s\n",
	                models[_i], port, ht_pki(), ht_pki(),
	                _i == 0 ? "exec: [/bin/sh, -c, 'echo $TCPREMOTEIP']" : "builtin: echo"),
	        0);
	ck_assert_msg(ht_connect_as(&c, port, "PROXY TCP4 192.0.2.7 127.0.0.1 40000 7000\r\n",
	                            "localhost", NULL) == 0,
	              "%s", c.why);
	if (_i == 0) {
		ck_assert_msg(ht_read_to_end(&c, buf, sizeof(buf), &len), "%s", c.why);
		ck_assert_str_eq(buf, "192.0.2.7\n");
	} else {
		ck_assert_int_eq(SSL_write(c.ssl, "hello\n", 6), 6);
		ck_assert_int_eq(SSL_read_ex(c.ssl, buf, sizeof(buf), &len), 1);
		ck_assert_uint_eq(len, 6);
		ck_assert_mem_eq(buf, "hello\n", 6);
	}
	ht_close(&c);
	/* Denied by access after the header: closed, no handshake begun. */
	ck_assert_int_ne(ht_connect_as(&c, port, "PROXY TCP4 198.51.100.7 127.0.0.1 40000 7000\r\n",
	                               "localhost", NULL),
	                 0);
	ht_close(&c);
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

	snprintf(cmd, sizeof(cmd), "%s --socket %s %s", sc ? sc : "./superctl", d->control, what);
	ht_run(cmd, out, cap);
}

/* superctl stats and metrics: the certificate's expiry, the path, the handshakes. */
START_TEST(stats_and_metrics)
{
	struct daemon d = {0};
	struct ht_client c;
	int port = h_free_port(), fd;
	char path[128], want[512], out[65536];
	size_t len;
	long long not_after;

	ck_assert_int_eq(start_one(&d, "fork", port, "exec: [/bin/echo, hi]"), 0);
	ck_assert_msg(ht_connect(&c, port, "localhost") == 0, "%s", c.why);
	ck_assert_msg(ht_read_to_end(&c, out, sizeof(out), &len), "%s", c.why);
	ck_assert_str_eq(out, "hi\n");
	ht_close(&c);
	fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, "plain\n", 6), 0);
	ck_assert_int_eq(h_read_all(fd, out, sizeof(out), 60000), 0);
	close(fd);
	ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, "s", "not-tls") == 1, 30000));

	snprintf(path, sizeof(path), "%s/srv.pem", ht_pki());
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
	/* A client the server closes on (refused, denied) must not die writing to it. */
	signal(SIGPIPE, SIG_IGN);
	ht_pki_make();
	return ht_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
