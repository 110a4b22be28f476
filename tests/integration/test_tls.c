/*
 * TLS termination through the real daemon under the event and threadpool models, what
 * goes through a completed handshake: echo with exact bytes both ways and 16 MiB with
 * equal SHA-256, banners after the handshake, the certificate SNI chooses, mutual TLS
 * (require, optional, a certificate from another CA) and close_notify at a clean end.
 * What happens before and around the handshake (admission, PROXY headers, stalls,
 * plaintext clients) is test_tls_admission.c's. The certificates are made at test time
 * (harness_tls.h); the client is OpenSSL's C API, and `openssl s_client` checks the
 * certificate SNI chooses as a real client sees it.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "harness.h"
#include "harness_tls.h"

#define BIG (16u * 1024 * 1024)

static struct daemon d;
/* Echo under event and threadpool, both with SNI; mutual TLS require (event) and
 * optional (threadpool); banners under both. */
static int p_ev, p_tp, p_req, p_opt, p_evb, p_tpb;

static void start(void)
{
	char tls[512], ca[256];
	const char *pki = ht_pki();

	p_ev = h_free_port();
	p_tp = h_free_port();
	p_req = h_free_port();
	p_opt = h_free_port();
	p_evb = h_free_port();
	p_tpb = h_free_port();
	ht_tls_map(tls, sizeof(tls));
	snprintf(ca, sizeof(ca), "client_ca: %s/ca.pem", pki);
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n"
	                "  ev: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "mpm: {model: event, workers: 1}}\n"
	                "  tp: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "mpm: {model: threadpool, processes: 1, threads: 2}}\n"
	                "  req: {listen: [{address: '127.0.0.1:%d', tls: {%s, %s, verify_client: "
	                "require}}], builtin: echo, mpm: {model: event, workers: 1}}\n"
	                "  opt: {listen: [{address: '127.0.0.1:%d', tls: {%s, %s, verify_client: "
	                "optional}}], builtin: echo, mpm: {model: threadpool, processes: 1, "
	                "threads: 2}}\n"
	                "  evb: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "banner: %s/banner, banner_success: %s/motd, mpm: {model: event}}\n"
	                "  tpb: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "banner: %s/banner, banner_success: %s/motd, mpm: {model: threadpool}}\n",
	                p_ev, tls, p_tp, tls, p_req, tls, ca, p_opt, tls, ca, p_evb, tls, pki, pki,
	                p_tpb, tls, pki, pki),
	        0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

static void big_echo(int port)
{
	unsigned char want[32], got_md[32];
	struct ht_client t;
	bool clean;

	ht_pattern_sha256(BIG, want);
	ck_assert(ht_open(&t, port, "localhost", NULL));
	ck_assert_uint_eq(ht_exchange(&t, NULL, BIG, NULL, 0, got_md, &clean), BIG);
	ck_assert(clean);
	ck_assert_mem_eq(got_md, want, sizeof(want));
	ht_close(&t);
}

START_TEST(echo_event)
{
	ck_assert(ht_echoes(p_ev, "localhost", NULL));
	ck_assert(ht_echoes(p_ev, NULL, NULL)); /* no SNI: the default certificate */
	big_echo(p_ev);
}
END_TEST

START_TEST(echo_threadpool)
{
	ck_assert(ht_echoes(p_tp, "localhost", NULL));
	big_echo(p_tp);
}
END_TEST

/* The banners go to a TLS client through TLS, after the handshake, before the echo. */
START_TEST(banners_through_tls)
{
	int ports[] = {p_evb, p_tpb};

	for (int i = 0; i < 2; i++) {
		char back[64];

		ck_assert(ht_talk(ports[i], "localhost", "ping\r\n", back, sizeof(back)));
		ck_assert_str_eq(back, "hello\r\nwelcome\r\nping\r\n");
	}
}
END_TEST

/* The subject CN of the certificate the server presents for SNI. */
static void peer_cn(int port, const char *sni, char *cn, size_t cap)
{
	struct ht_client t;
	X509 *x;

	ck_assert(ht_open(&t, port, sni, NULL));
	x = SSL_get1_peer_certificate(t.ssl);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_gt(
	        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cap),
	        0);
	X509_free(x);
	ht_close(&t);
}

START_TEST(sni_chooses_certificate)
{
	int ports[] = {p_ev, p_tp};
	char cn[64];

	for (int i = 0; i < 2; i++) {
		peer_cn(ports[i], "other.test", cn, sizeof(cn));
		ck_assert_str_eq(cn, "other.test");
		peer_cn(ports[i], "localhost", cn, sizeof(cn));
		ck_assert_str_eq(cn, "localhost");
		ck_assert(ht_echoes(ports[i], "other.test", NULL));
	}
}
END_TEST

/* The real client: openssl s_client sees the SNI certificate, verified. */
START_TEST(s_client_sni)
{
	char cmd[512], out[8192];

	snprintf(cmd, sizeof(cmd),
	         "timeout 60 openssl s_client -connect 127.0.0.1:%d -servername other.test "
	         "-CAfile %s/ca.pem -verify_return_error </dev/null 2>&1",
	         p_tp, ht_pki());
	ht_run(cmd, out, sizeof(out));
	ck_assert_msg(strstr(out, "subject=CN = other.test"), "%s", out);
	ck_assert_msg(strstr(out, "Verify return code: 0 (ok)"), "%s", out);
}
END_TEST

START_TEST(mutual_require)
{
	ck_assert(ht_echoes(p_req, "localhost", "alice"));
	ck_assert(!ht_echoes(p_req, "localhost", NULL));
	ck_assert(!ht_echoes(p_req, "localhost", "mallory"));
	ck_assert(ht_echoes(p_req, "localhost", "alice")); /* still served */
}
END_TEST

START_TEST(mutual_optional)
{
	ck_assert(ht_echoes(p_opt, "localhost", "alice"));
	ck_assert(ht_echoes(p_opt, "localhost", NULL));
	ck_assert(!ht_echoes(p_opt, "localhost", "mallory"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls (daemon)");
	TCase *tc = tcase_create("tls");

	ht_pki_make();
	ht_pki_cert("stranger-ca", NULL, false);
	ht_pki_cert("mallory", "stranger-ca", false);
	ht_pki_file("banner", "hello\r\n");
	ht_pki_file("motd", "welcome\r\n");
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(tc, echo_event);
	tcase_add_test(tc, echo_threadpool);
	tcase_add_test(tc, banners_through_tls);
	tcase_add_test(tc, sni_chooses_certificate);
	tcase_add_test(tc, s_client_sni);
	tcase_add_test(tc, mutual_require);
	tcase_add_test(tc, mutual_optional);
	suite_add_tcase(s, tc);

	return ht_run_suite(s) ? 1 : 0;
}
