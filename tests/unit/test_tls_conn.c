/*
 * The TLS transport (mpm/tls_conn.c) against a real OpenSSL client on a socketpair:
 * the handshake driven by a poll loop, bytes both ways, partial writes under
 * back-pressure, close_notify both ways and truncation, each handshake failure's
 * reason, what was negotiated, the blocking helper, and the handler's accessors.
 */
#include <stdlib.h>

#include "mpm/conn.h"
#include "tests/unit/tls_harness.h"

static void pair_default(struct pair *p)
{
	pair_open(p, srv_ctx(SSL_VERIFY_NONE), cli_ctx(NULL));
}

START_TEST(handshake_and_what_was_negotiated)
{
	static const unsigned char alpn[] = "\x02h2\x04"
	                                    "echo";
	struct pair p;

	pair_default(&p);
	ck_assert_int_eq(SSL_set_tlsext_host_name(p.c, "svc.example"), 1);
	ck_assert_int_eq(SSL_set_alpn_protos(p.c, alpn, sizeof(alpn) - 1), 0);
	ck_assert_ptr_null(tls_conn_protocol(p.t));
	ck_assert_ptr_null(tls_conn_client_verify(p.t));
	pair_handshake(&p);
	ck_assert_int_eq(p.ss, TLS_DONE);
	ck_assert_int_eq(p.cerr, 0);
	ck_assert_int_eq(tls_conn_failure(p.t), TLS_FAIL_NONE);
	ck_assert_str_eq(tls_conn_protocol(p.t), "TLSv1.3");
	ck_assert_str_eq(tls_conn_cipher(p.t), SSL_get_cipher_name(p.c));
	ck_assert_str_eq(tls_conn_server_name(p.t), "svc.example");
	ck_assert_str_eq(tls_conn_alpn(p.t), "echo");
	ck_assert_ptr_null(tls_conn_peer_subject(p.t));
	ck_assert_str_eq(tls_conn_client_verify(p.t), "NONE");
	/* Another handshake call after the end is harmless. */
	ck_assert_int_eq(tls_conn_handshake(p.t), TLS_DONE);
	pair_close(&p);
}
END_TEST

START_TEST(tls12_without_sni_or_alpn)
{
	struct pair p;
	SSL_CTX *cctx = cli_ctx(NULL);

	ck_assert_int_eq(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION), 1);
	pair_open(&p, srv_ctx(SSL_VERIFY_NONE), cctx);
	pair_handshake(&p);
	ck_assert_int_eq(p.ss, TLS_DONE);
	ck_assert_str_eq(tls_conn_protocol(p.t), "TLSv1.2");
	ck_assert_ptr_null(tls_conn_server_name(p.t));
	ck_assert_ptr_null(tls_conn_alpn(p.t));
	pair_close(&p);
}
END_TEST

START_TEST(client_certificate_subject_and_verify)
{
	struct pair p;

	pair_open(&p, srv_ctx(SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
	          cli_ctx(&pki.client));
	pair_handshake(&p);
	ck_assert_int_eq(p.ss, TLS_DONE);
	ck_assert_str_eq(tls_conn_peer_subject(p.t), "CN=client,O=superserverd test");
	ck_assert_str_eq(tls_conn_client_verify(p.t), "SUCCESS");
	pair_close(&p);
}
END_TEST

/* `verify_client: optional` letting an unverified certificate through: the program
 * hears FAILED and why, and no subject it could take for a verified one. */
START_TEST(unverified_client_certificate_has_no_subject)
{
	struct pair p;
	SSL_CTX *sctx = srv_ctx(SSL_VERIFY_PEER);

	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, verify_anyway);
	pair_open(&p, sctx, cli_ctx(&pki.stranger));
	pair_handshake(&p);
	ck_assert_int_eq(p.ss, TLS_DONE);
	ck_assert_ptr_null(tls_conn_peer_subject(p.t));
	ck_assert_msg(strncmp(tls_conn_client_verify(p.t), "FAILED:", 7) == 0 &&
	                      strlen(tls_conn_client_verify(p.t)) > 7,
	              "%s", tls_conn_client_verify(p.t));
	pair_close(&p);
}
END_TEST

/* The handler's view: the accessors through struct ss_conn, NULL in plaintext. */
START_TEST(handler_accessors)
{
	static const struct ss_handler h = {SS_HANDLER_HEADER("t")};
	static const unsigned char alpn[] = "\x04"
	                                    "echo";
	struct ss_conn c;
	struct pair p;

	conn_init(&c, -1, &h, NULL);
	ck_assert_ptr_null(ss_conn_tls_protocol(&c));
	ck_assert_ptr_null(ss_conn_tls_cipher(&c));
	ck_assert_ptr_null(ss_conn_tls_server_name(&c));
	ck_assert_ptr_null(ss_conn_tls_alpn(&c));
	ck_assert_ptr_null(ss_conn_tls_peer_subject(&c));

	pair_open(&p, srv_ctx(SSL_VERIFY_PEER), cli_ctx(&pki.client));
	ck_assert_int_eq(SSL_set_tlsext_host_name(p.c, "svc.example"), 1);
	ck_assert_int_eq(SSL_set_alpn_protos(p.c, alpn, sizeof(alpn) - 1), 0);
	pair_handshake(&p);
	ck_assert_int_eq(p.ss, TLS_DONE);
	c.tls = p.t;
	ck_assert_str_eq(ss_conn_tls_protocol(&c), "TLSv1.3");
	ck_assert_str_eq(ss_conn_tls_cipher(&c), tls_conn_cipher(p.t));
	ck_assert_str_eq(ss_conn_tls_server_name(&c), "svc.example");
	ck_assert_str_eq(ss_conn_tls_alpn(&c), "echo");
	ck_assert_str_eq(ss_conn_tls_peer_subject(&c), "CN=client,O=superserverd test");
	/* The connection owns its TLS state: destroying it frees it (the sanitizer build
	 * sees a leak otherwise). */
	conn_destroy(&c);
	ck_assert_ptr_null(c.tls);
	p.t = NULL;
	pair_close(&p);
}
END_TEST

#define BULK (1024 * 1024)

/* 1 MiB each way at once, both ends non-blocking, through one poll loop. */
START_TEST(bulk_both_ways)
{
	char *up = malloc(BULK), *down = malloc(BULK), *got_up = malloc(BULK),
	     *got_down = malloc(BULK);
	size_t s_out = 0, s_in = 0, c_out = 0, c_in = 0;
	struct pair p;

	ck_assert(up && down && got_up && got_down);
	fill(up, BULK, 1);
	fill(down, BULK, 2);
	pair_default(&p);
	pair_handshake(&p);
	ck_assert_int_eq(p.ss, TLS_DONE);
	while (s_out < BULK || s_in < BULK || c_out < BULK || c_in < BULK) {
		short sev = 0, cev = 0;
		bool moved = false;
		size_t n;
		enum tls_status s;
		int e;

		if (s_out < BULK) {
			s = tls_conn_write(p.t, down + s_out, BULK - s_out, &n);
			ck_assert_uint_eq(ERR_peek_error(), 0);
			if (s == TLS_DONE)
				s_out += n, moved = true;
			else
				sev |= srv_events(s);
			ck_assert(s == TLS_DONE || srv_waiting(s));
		}
		if (s_in < BULK) {
			s = tls_conn_read(p.t, got_up + s_in, BULK - s_in, &n);
			ck_assert_uint_eq(ERR_peek_error(), 0);
			if (s == TLS_DONE)
				s_in += n, moved = true;
			else
				sev |= srv_events(s);
			ck_assert(s == TLS_DONE || srv_waiting(s));
		}
		if (c_out < BULK) {
			if (SSL_write_ex(p.c, up + c_out, BULK - c_out, &n) == 1) {
				c_out += n;
				moved = true;
			} else {
				e = SSL_get_error(p.c, 0);
				ck_assert(cli_waiting(e));
				cev |= cli_events(e);
			}
		}
		if (c_in < BULK) {
			if (SSL_read_ex(p.c, got_down + c_in, BULK - c_in, &n) == 1) {
				c_in += n;
				moved = true;
			} else {
				e = SSL_get_error(p.c, 0);
				ck_assert(cli_waiting(e));
				cev |= cli_events(e);
			}
		}
		/* Wait only when nobody moved: every op above said what it waits for. */
		if (!moved)
			pair_wait(&p, sev != 0, sev, cev != 0, cev);
	}
	ck_assert_uint_eq(checksum(got_up, BULK), checksum(up, BULK));
	ck_assert_uint_eq(checksum(got_down, BULK), checksum(down, BULK));
	ck_assert_int_eq(memcmp(got_down, down, BULK), 0);
	pair_close(&p);
	free(up);
	free(down);
	free(got_up);
	free(got_down);
}
END_TEST

/*
 * A client that does not read: each write takes a record at most, the server's
 * (blocking!) socket fills and the write says WANT_WRITE rather than blocking; once
 * the client reads, the same bytes offered again go on from there.
 */
START_TEST(partial_writes_under_back_pressure)
{
	char *down = malloc(BULK), *got = malloc(BULK);
	size_t off = 0, n, got_n, rounds = 0;
	enum tls_status s;

	ck_assert(down && got);
	fill(down, BULK, 3);
	struct pair p;
	pair_default(&p);
	pair_handshake(&p);
	ck_assert_int_eq(p.ss, TLS_DONE);
	ck_assert_int_eq(tls_conn_write(p.t, down, 64 * 1024, &n), TLS_DONE);
	ck_assert_msg(n > 0 && n <= 16384, "one record at most, wrote %zu", n);
	off = n;
	for (;;) {
		s = tls_conn_write(p.t, down + off, BULK - off, &n);
		ck_assert_uint_eq(ERR_peek_error(), 0);
		if (s != TLS_DONE)
			break;
		off += n;
		ck_assert_uint_lt(off, BULK);
		ck_assert_uint_lt(++rounds, 10000);
	}
	ck_assert_int_eq(s, TLS_WANT_WRITE);
	/* The client reads in a thread-free way: a poll loop drains it while the server
	 * offers the rest again, from a moved copy of the buffer. */
	char *moved = malloc(BULK);
	ck_assert_ptr_nonnull(moved);
	memcpy(moved, down, BULK);
	got_n = 0;
	while (got_n < BULK) {
		short sev = 0;
		int e;

		if (off < BULK) {
			s = tls_conn_write(p.t, moved + off, BULK - off, &n);
			if (s == TLS_DONE)
				off += n;
			else
				sev = srv_events(s);
		}
		if (SSL_read_ex(p.c, got + got_n, BULK - got_n, &n) == 1) {
			got_n += n;
			continue;
		}
		e = SSL_get_error(p.c, 0);
		ck_assert(cli_waiting(e));
		if (off < BULK && !sev)
			continue;
		pair_wait(&p, off < BULK, sev, true, cli_events(e));
	}
	ck_assert_uint_eq(checksum(got, BULK), checksum(down, BULK));
	pair_close(&p);
	free(down);
	free(got);
	free(moved);
}
END_TEST

/* The server ends first; the client may still send (a half-close), then ends too. */
START_TEST(close_notify_server_first)
{
	char buf[16];
	size_t got;
	struct pair p;

	pair_default(&p);
	pair_handshake(&p);
	ck_assert_int_eq(tls_conn_write(p.t, "bye", 3, &got), TLS_DONE);
	ck_assert_int_eq(tls_conn_shutdown(p.t), TLS_DONE);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	ck_assert_int_eq(cli_read_n(p.c, p.cfd, buf, sizeof(buf), &got), SSL_ERROR_ZERO_RETURN);
	ck_assert_uint_eq(got, 3);
	ck_assert_int_eq(memcmp(buf, "bye", 3), 0);
	/* No more writing once close_notify is sent. */
	ck_assert_int_eq(tls_conn_write(p.t, "x", 1, &got), TLS_ERROR);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	cli_write_all(p.c, p.cfd, "late", 4);
	cli_shutdown(p.c, p.cfd);
	ck_assert_int_eq(srv_read_n(&p, buf, sizeof(buf), &got), TLS_EOF);
	ck_assert_uint_eq(got, 4);
	ck_assert_int_eq(memcmp(buf, "late", 4), 0);
	pair_close(&p);
}
END_TEST

/* The client ends first: the server sees a clean end, answers, and ends. */
START_TEST(close_notify_client_first)
{
	char buf[16];
	size_t got;
	struct pair p;

	pair_default(&p);
	pair_handshake(&p);
	cli_write_all(p.c, p.cfd, "question", 8);
	cli_shutdown(p.c, p.cfd);
	ck_assert_int_eq(srv_read_n(&p, buf, sizeof(buf), &got), TLS_EOF);
	ck_assert_uint_eq(got, 8);
	ck_assert_int_eq(tls_conn_write(p.t, "answer", 6, &got), TLS_DONE);
	ck_assert_int_eq(tls_conn_shutdown(p.t), TLS_DONE);
	ck_assert_int_eq(cli_read_n(p.c, p.cfd, buf, sizeof(buf), &got), SSL_ERROR_ZERO_RETURN);
	ck_assert_uint_eq(got, 6);
	ck_assert_int_eq(memcmp(buf, "answer", 6), 0);
	pair_close(&p);
}
END_TEST

/* The client's stream ends without close_notify: reported as a truncation, whether
 * it ends with a FIN or (closed with the session tickets unread) a reset. */
START_TEST(missing_close_notify_is_truncation)
{
	char buf[16];
	size_t got;
	struct pair p;

	pair_default(&p);
	pair_handshake(&p);
	cli_write_all(p.c, p.cfd, "cut", 3);
	if (_i == 0) {
		ck_assert_int_eq(shutdown(p.cfd, SHUT_WR), 0);
	} else {
		ck_assert_int_eq(close(p.cfd), 0);
		p.cfd = -1;
	}
	ck_assert_int_eq(srv_read_n(&p, buf, sizeof(buf), &got), TLS_TRUNCATED);
	ck_assert_uint_eq(got, 3);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	/* Nothing more from a broken stream. */
	ck_assert_int_eq(tls_conn_read(p.t, buf, sizeof(buf), &got), TLS_ERROR);
	pair_close(&p);
}
END_TEST

/* A handshake that must fail, and the reason it must be counted under. */
struct failure_case {
	const char *name;
	int verify;              /* the server's SSL_VERIFY_* */
	int srv_min, srv_max;    /* protocol bounds, 0: the context's */
	int cli_min, cli_max;    /* the client's, 0: its default */
	const char *srv_ciphers; /* TLS 1.2 cipher lists, NULL: default */
	const char *cli_ciphers;
	const struct pki_cert *cert; /* the client's, or NULL */
	const char *plaintext;       /* sent instead of a ClientHello */
	bool hang_up;                /* the client goes before saying anything */
	enum tls_fail want;
};

static const struct failure_case failures[] = {
        {"tls1.1 client", .cli_min = TLS1_VERSION, .cli_max = TLS1_1_VERSION,
         .want = TLS_FAIL_PROTOCOL},
        {"tls1.2 client, tls1.3 server", .srv_min = TLS1_3_VERSION, .cli_max = TLS1_2_VERSION,
         .want = TLS_FAIL_PROTOCOL},
        {"no shared cipher", .srv_max = TLS1_2_VERSION, .cli_max = TLS1_2_VERSION,
         .srv_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256",
         .cli_ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305", .want = TLS_FAIL_CIPHER},
        {"no client certificate", .verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
         .want = TLS_FAIL_CLIENT_CERT},
        {"client certificate from another CA",
         .verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, .cert = &pki.stranger,
         .want = TLS_FAIL_CLIENT_CERT},
        {"plaintext client", .plaintext = "GET / HTTP/1.0\r\n\r\n", .want = TLS_FAIL_NOT_TLS},
        {"plaintext line", .plaintext = "hello\n", .want = TLS_FAIL_NOT_TLS},
        {"hang up", .hang_up = true, .want = TLS_FAIL_CLOSED},
};

START_TEST(handshake_failure_reasons)
{
	const struct failure_case *f = &failures[_i];
	SSL_CTX *sctx = srv_ctx(f->verify), *cctx = cli_ctx(f->cert);
	struct pair p;

	if (f->srv_min)
		ck_assert_int_eq(SSL_CTX_set_min_proto_version(sctx, f->srv_min), 1);
	if (f->srv_max)
		ck_assert_int_eq(SSL_CTX_set_max_proto_version(sctx, f->srv_max), 1);
	if (f->cli_min) {
		/* Old protocols need the client's security level down as well. */
		SSL_CTX_set_security_level(cctx, 0);
		ck_assert_int_eq(SSL_CTX_set_min_proto_version(cctx, f->cli_min), 1);
	}
	if (f->cli_max)
		ck_assert_int_eq(SSL_CTX_set_max_proto_version(cctx, f->cli_max), 1);
	if (f->srv_ciphers)
		ck_assert_int_eq(SSL_CTX_set_cipher_list(sctx, f->srv_ciphers), 1);
	if (f->cli_ciphers)
		ck_assert_int_eq(SSL_CTX_set_cipher_list(cctx, f->cli_ciphers), 1);
	pair_open(&p, sctx, cctx);
	if (f->plaintext) {
		ck_assert_int_eq(write(p.cfd, f->plaintext, strlen(f->plaintext)),
		                 (ssize_t)strlen(f->plaintext));
		p.cerr = SSL_ERROR_SSL; /* the client does not speak TLS */
	} else if (f->hang_up) {
		ck_assert_int_eq(shutdown(p.cfd, SHUT_WR), 0);
		p.cerr = SSL_ERROR_SSL;
	}
	pair_handshake(&p);
	ck_assert_msg(p.ss == TLS_ERROR, "%s: the handshake did not fail", f->name);
	ck_assert_msg(tls_conn_failure(p.t) == f->want, "%s: failure %s, expected %s", f->name,
	              tls_fail_name(tls_conn_failure(p.t)), tls_fail_name(f->want));
	ck_assert_uint_eq(ERR_peek_error(), 0);
	/* Failed is failed: nothing else works, nothing is left behind. */
	ck_assert_int_eq(tls_conn_handshake(p.t), TLS_ERROR);
	ck_assert_ptr_null(tls_conn_protocol(p.t));
	if (f->plaintext) {
		/* Not one byte was taken from a plaintext client: cheap to tell. */
		char buf[64];
		ck_assert_int_eq(recv(p.sfd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK),
		                 (ssize_t)strlen(f->plaintext));
	}
	pair_close(&p);
}
END_TEST

START_TEST(failure_names)
{
	ck_assert_str_eq(tls_fail_name(TLS_FAIL_PROTOCOL), "protocol");
	ck_assert_str_eq(tls_fail_name(TLS_FAIL_CIPHER), "cipher");
	ck_assert_str_eq(tls_fail_name(TLS_FAIL_CLIENT_CERT), "client-certificate");
	ck_assert_str_eq(tls_fail_name(TLS_FAIL_TIMEOUT), "timeout");
	ck_assert_str_eq(tls_fail_name(TLS_FAIL_NOT_TLS), "not-tls");
	ck_assert_str_eq(tls_fail_name(TLS_FAIL_CLOSED), "closed");
	ck_assert_str_eq(tls_fail_name(TLS_FAIL_OTHER), "other");
	ck_assert_str_eq(tls_fail_name((enum tls_fail)99), "other");
}
END_TEST

/* A client in a thread, blocking, as a real one would be. */
static void *blocking_client(void *arg)
{
	struct pair *p = arg;
	int fl = fcntl(p->cfd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(p->cfd, F_SETFL, fl & ~O_NONBLOCK);
	if (SSL_connect(p->c) == 1) {
		(void)SSL_write(p->c, "hi", 2);
		(void)SSL_shutdown(p->c);
	}
	ERR_clear_error();
	return NULL;
}

static bool never(void *arg)
{
	return false;
}

static bool always(void *arg)
{
	return true;
}

START_TEST(blocking_handshake)
{
	char buf[8];
	size_t got;
	pthread_t th;
	struct pair p;

	pair_default(&p);
	ck_assert_int_eq(pthread_create(&th, NULL, blocking_client, &p), 0);
	ck_assert_int_eq(tls_conn_handshake_blocking(p.t, conn_now_usec() + TEST_WAIT_MS * 1000ull,
	                                             never, NULL),
	                 0);
	ck_assert_int_eq(srv_read_n(&p, buf, sizeof(buf), &got), TLS_EOF);
	ck_assert_uint_eq(got, 2);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	pair_close(&p);
}
END_TEST

/* A client that says nothing: the caller's deadline ends it, counted as a timeout. */
START_TEST(blocking_handshake_times_out)
{
	uint64_t start = conn_now_usec();
	struct pair p;

	pair_default(&p);
	ck_assert_int_eq(tls_conn_handshake_blocking(p.t, start + 50000, NULL, NULL), -ETIMEDOUT);
	ck_assert_uint_ge(conn_now_usec(), start + 50000);
	ck_assert_int_eq(tls_conn_failure(p.t), TLS_FAIL_TIMEOUT);
	pair_close(&p);
}
END_TEST

START_TEST(blocking_handshake_stops)
{
	struct pair p;

	pair_default(&p);
	ck_assert_int_eq(tls_conn_handshake_blocking(p.t, 0, always, NULL), -ECANCELED);
	pair_close(&p);
}
END_TEST

START_TEST(blocking_handshake_failure)
{
	struct pair p;

	pair_default(&p);
	ck_assert_int_eq(write(p.cfd, "SSH-2.0-x\r\n", 11), 11);
	ck_assert_int_eq(tls_conn_handshake_blocking(p.t, 0, NULL, NULL), -EPROTO);
	ck_assert_int_eq(tls_conn_failure(p.t), TLS_FAIL_NOT_TLS);
	pair_close(&p);
}
END_TEST

static Suite *tls_conn_suite(void)
{
	Suite *s = suite_create("tls_conn");
	TCase *tc = tcase_create("tls_conn");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_add_test(tc, handshake_and_what_was_negotiated);
	tcase_add_test(tc, tls12_without_sni_or_alpn);
	tcase_add_test(tc, client_certificate_subject_and_verify);
	tcase_add_test(tc, unverified_client_certificate_has_no_subject);
	tcase_add_test(tc, handler_accessors);
	tcase_add_test(tc, bulk_both_ways);
	tcase_add_test(tc, partial_writes_under_back_pressure);
	tcase_add_test(tc, close_notify_server_first);
	tcase_add_test(tc, close_notify_client_first);
	tcase_add_loop_test(tc, missing_close_notify_is_truncation, 0, 2);
	tcase_add_loop_test(tc, handshake_failure_reasons, 0,
	                    (int)(sizeof(failures) / sizeof(failures[0])));
	tcase_add_test(tc, failure_names);
	tcase_add_test(tc, blocking_handshake);
	tcase_add_test(tc, blocking_handshake_times_out);
	tcase_add_test(tc, blocking_handshake_stops);
	tcase_add_test(tc, blocking_handshake_failure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tls_conn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
