/*
 * The service's banners on TLS listeners under the blocking models, against the real
 * daemon on loopback: `banner` and `banner_success` reach an admitted client through
 * TLS after the handshake, before the first byte of the handler or program (fork and
 * prefork with a built-in, a program under fork), and not a byte of them reaches a
 * client whose handshake never happens; a client turned away gets `banner` and
 * `banner_fail` without a handshake, under all four models alike; and a program's
 * connection whose handshake failed is recorded and counted as a built-in's is
 * (peer-gone, timeout), not as a program that exited with status 0.
 *
 * event and threadpool's banners through TLS are in test_tls.c.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"
#include "harness_tls.h"

/* The blocking models' ways of serving a TLS connection: fork and prefork with a
 * built-in, a program under fork. */
static const char *const model[] = {"fork", "prefork", "fork"};
static const char *const what[] = {"builtin: echo", "builtin: echo",
                                   "exec: [/bin/sh, -c, 'echo prog; exec cat']"};

static int start_banners(struct daemon *d, int i, int port, const char *more)
{
	return h_start(d,
	               "services:\n  s:\n    mpm: %s\n"
	               "    listen: [{address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS "%s}}]\n"
	               "    banner: %s/banner\n    banner_success: %s/motd\n    %s\n",
	               model[i], port, ht_pki(), ht_pki(), more, ht_pki(), ht_pki(), what[i]);
}

/* The banners come through TLS, after the handshake, before the handler's or the
 * program's first byte. Sent in plaintext, they would fail the client's handshake. */
START_TEST(banners_through_tls)
{
	static const char *const want[] = {"hello\r\nwelcome\r\nping\n",
	                                   "hello\r\nwelcome\r\nping\n",
	                                   "hello\r\nwelcome\r\nprog\nping\n"};
	struct daemon d = {0};
	int port = h_free_port();
	char buf[256];

	ck_assert_int_eq(start_banners(&d, _i, port, ""), 0);
	ck_assert_msg(ht_talk(port, "localhost", "ping\n", buf, sizeof(buf)),
	              "no clean end (the handshake failed: plaintext before the ServerHello?)");
	ck_assert_str_eq(buf, want[_i]);
	ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, "s", NULL) == 1, 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A banner of many TLS records (64 KiB), through a program's relay: all of it, in
 * order, before the program's first byte, however the socket takes it. */
START_TEST(big_banner_before_program)
{
	static char want[64 * 1024 + 64], buf[sizeof(want) + 64];
	struct daemon d = {0};
	int port = h_free_port();
	char path[128];

	for (size_t i = 0; i < 64 * 1024; i++)
		want[i] = (char)('a' + i % 23);
	want[64 * 1024] = '\0';
	ht_pki_file("big", want);
	snprintf(path, sizeof(path), "%s/big", ht_pki());
	strcpy(want + 64 * 1024, "welcome\r\nprog\nping\n");
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    mpm: fork\n"
	                         "    listen: [{address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS "}}]\n"
	                         "    banner: %s\n    banner_success: %s/motd\n    %s\n",
	                         port, ht_pki(), ht_pki(), path, ht_pki(), what[2]),
	                 0);
	ck_assert(ht_talk(port, "localhost", "ping\n", buf, sizeof(buf)));
	ck_assert_uint_eq(strlen(buf), strlen(want));
	ck_assert(strcmp(buf, want) == 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A client that never begins its handshake sees nothing at all (not a byte of a
 * banner) until handshake_timeout closes it. */
START_TEST(silent_client_sees_no_banner)
{
	struct daemon d = {0};
	int port = h_free_port();
	char buf[64];

	ck_assert_int_eq(start_banners(&d, _i, port, ", handshake_timeout: 500ms"), 0);
	ck_assert_int_eq(h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf), 60000), 0);
	ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, "s", "timeout") == 1, 30000));
	ck_assert_int_eq(ht_tls_count(&d, "s", NULL), 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A client access turns away gets `banner` then `banner_fail`, at once and without a
 * handshake (it costs no cryptography), the same under every model: event and
 * threadpool, fork and prefork with a built-in, a program under fork. */
START_TEST(refused_gets_banner_fail_without_handshake)
{
	static const char *const models[] = {"event", "threadpool", "fork", "prefork", "fork"};
	static const char *const whats[] = {"builtin: echo", "builtin: echo", "builtin: echo",
	                                    "builtin: echo", "exec: [/bin/echo, served]"};
	struct daemon d = {0};
	int port = h_free_port();
	char buf[64];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    mpm: %s\n"
	                         "    listen: [{address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS "}}]\n"
	                         "    banner: %s/banner\n    banner_fail: %s/refused\n"
	                         "    access: {deny: [127.0.0.0/8]}\n    %s\n",
	                         models[_i], port, ht_pki(), ht_pki(), ht_pki(), ht_pki(),
	                         whats[_i]),
	                 0);
	ck_assert_int_eq(h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf), 60000), 16);
	buf[16] = '\0';
	ck_assert_str_eq(buf, "hello\r\nrefused\r\n");
	ck_assert(H_DEADLINE_WAIT(({
		                          json_t *r = hc_call(&d, "stats", "s");
		                          long long n =
		                                  hc_int(json_object_get(hc_service(r, "s"),
		                                                         "rejected_by_reason"),
		                                         "access");
		                          json_decref(r);
		                          n == 1;
	                          }),
	                          30000));
	ck_assert_int_eq(ht_tls_count(&d, "s", NULL), 0);
	ck_assert_int_eq(ht_tls_count(&d, "s", "not-tls"), 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The records of SERVICE in the JSON lines file PATH, in order. */
static json_t *records_of(const char *path, const char *service)
{
	json_t *all = json_array();
	char line[4096];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		if (o && !strcmp(json_string_value(json_object_get(o, "service")), service))
			json_array_append(all, o);
		json_decref(o);
	}
	if (f)
		fclose(f);
	return all;
}

static long long counter(struct daemon *d, const char *service, const char *key)
{
	json_t *reply = hc_call(d, "stats", service);
	long long n = hc_int(hc_service(reply, service), key);

	json_decref(reply);
	return n;
}

/* A handshake that fails under fork: with a program (which never runs) the connection
 * is recorded and counted as with a built-in, peer-gone for a plaintext client and
 * timeout for one that stalls, never as a program's exit. */
START_TEST(failed_handshake_recorded_as_for_builtin)
{
	static const char *const services[] = {"prog", "blt"};
	static const char hello[] = {0x16, 0x03, 0x01, 0x01, 0x00}; /* a record's start only */
	struct daemon d = {0};
	int port[2] = {h_free_port(), h_free_port()};
	char log[160], buf[64];

	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	snprintf(log, sizeof(log), "%s/conns.jsonl", d.dir);
	ck_assert_int_eq(h_write_config(&d,
	                                "log: {connections: 'json:%s'}\n"
	                                "services:\n"
	                                "  prog:\n    mpm: fork\n    exec: [/bin/echo, served]\n"
	                                "    listen: [{address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS
	                                ", handshake_timeout: 300ms}}]\n"
	                                "    limits: {idle_timeout: 0}\n"
	                                "  blt:\n    mpm: fork\n    builtin: echo\n"
	                                "    listen: [{address: '127.0.0.1:%d', tls: {" HT_SRV_KEYS
	                                ", handshake_timeout: 300ms}}]\n"
	                                "    limits: {idle_timeout: 0}\n",
	                                log, port[0], ht_pki(), ht_pki(), port[1], ht_pki(),
	                                ht_pki()),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);
	for (int i = 0; i < 2; i++) {
		int fd;

		/* Plaintext: not-tls. */
		ck_assert_int_eq(h_exchange("127.0.0.1", port[i], "GET / HTTP/1.0\r\n\r\n", false,
		                            buf, sizeof(buf), 60000),
		                 0);
		ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, services[i], "not-tls") == 1, 30000));
		/* A handshake begun and stalled: timed out. */
		fd = h_connect("127.0.0.1", port[i]);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(h_write_all(fd, hello, sizeof(hello)), 0);
		ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 60000), 0);
		close(fd);
		ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, services[i], "timeout") == 1, 30000));
	}
	ck_assert(H_DEADLINE_WAIT(h_count_lines(log) == 4, 30000));
	for (int i = 0; i < 2; i++) {
		json_t *recs = records_of(log, services[i]);
		static const char *const outcome[] = {"peer-gone", "timeout"};

		ck_assert_uint_eq(json_array_size(recs), 2);
		for (size_t k = 0; k < 2; k++) {
			json_t *r = json_array_get(recs, k);
			ck_assert_msg(!strcmp(json_string_value(json_object_get(r, "outcome")),
			                      outcome[k]),
			              "%s record %zu: %s", services[i], k,
			              json_string_value(json_object_get(r, "outcome")));
			ck_assert_ptr_null(json_object_get(r, "exit_status"));
		}
		json_decref(recs);
		ck_assert(H_DEADLINE_WAIT(counter(&d, services[i], "completed") == 2, 30000));
		ck_assert_int_eq(counter(&d, services[i], "timeouts"), 1);
		ck_assert_int_eq(counter(&d, services[i], "handler_errors"), 0);
		ck_assert_int_eq(ht_tls_count(&d, services[i], NULL), 0);
	}
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tls_banner");
	TCase *tc = tcase_create("tls_banner");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, banners_through_tls, 0, 3);
	tcase_add_test(tc, big_banner_before_program);
	tcase_add_loop_test(tc, silent_client_sees_no_banner, 0, 3);
	tcase_add_loop_test(tc, refused_gets_banner_fail_without_handshake, 0, 5);
	tcase_add_test(tc, failed_handshake_recorded_as_for_builtin);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* A client the server closes on must not die writing to it. */
	signal(SIGPIPE, SIG_IGN);
	ht_pki_make();
	ht_pki_file("banner", "hello\r\n");
	ht_pki_file("motd", "welcome\r\n");
	ht_pki_file("refused", "refused\r\n");
	return ht_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
