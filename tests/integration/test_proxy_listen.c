/* PROXY protocol listeners through the real daemon, under every model (fork, prefork,
 * threadpool, event) and for an exec'd program under fork: the real client named by a
 * trusted proxy's header drives the access list and per-source limits; untrusted peers,
 * garbage, truncated and oversized headers and silence are refused and counted; the
 * application bytes after the header reach the handler intact; a slow or silent proxy
 * connection holds up nobody else; an exec'd env sees the proxied client; the one
 * combination not served (exec under prefork) refuses the configuration. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

/* Each model with options that leave room for the slow-client test: under prefork a
 * header being read holds a process, so two silent connections must leave some idle. */
static const struct {
	const char *name;
	const char *mpm;
} models[] = {
        {"fork", "fork"},
        {"prefork", "{model: prefork, start: 4}"},
        {"threadpool", "{model: threadpool, threads: 2}"},
        {"event", "{model: event, workers: 1}"},
};
#define N_MODELS (sizeof(models) / sizeof(models[0]))

/* Services: e (timeout 300 ms, access list), u (trusts nobody we are), p (per_source 1),
 * s (a long timeout, for the slow-client test). */
static int port_e, port_u, port_p, port_s;
static size_t model;
static struct daemon d;

static const char *const v1_ok = "PROXY TCP4 198.51.100.7 127.0.0.1 40000 7000\r\n";

static void start_model(size_t m)
{
	const char *mpm = models[m].mpm;

	model = m;
	port_e = h_free_port();
	port_u = h_free_port();
	port_p = h_free_port();
	port_s = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  e:\n"
	                         "    listen:\n"
	                         "      - {address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                         "         trusted_proxies: [127.0.0.0/8], proxy_timeout: 300ms}\n"
	                         "    builtin: echo\n"
	                         "    mpm: %s\n"
	                         "    access: {deny: [192.0.2.0/24]}\n"
	                         "  u:\n"
	                         "    listen:\n"
	                         "      - {address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                         "         trusted_proxies: [10.0.0.0/8]}\n"
	                         "    builtin: echo\n"
	                         "    mpm: %s\n"
	                         "  p:\n"
	                         "    listen:\n"
	                         "      - {address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                         "         trusted_proxies: [127.0.0.0/8]}\n"
	                         "    builtin: echo\n"
	                         "    mpm: %s\n"
	                         "    limits: {per_source: 1}\n"
	                         "  s:\n"
	                         "    listen:\n"
	                         "      - {address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                         "         trusted_proxies: [127.0.0.0/8], proxy_timeout: 30s}\n"
	                         "    builtin: echo\n"
	                         "    mpm: %s\n",
	                         port_e, mpm, port_u, mpm, port_p, mpm, port_s, mpm),
	                 0);
}

static void start_fork(void)
{
	start_model(0);
}

static void start_prefork(void)
{
	start_model(1);
}

static void start_threadpool(void)
{
	start_model(2);
}

static void start_event(void)
{
	start_model(3);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

/* Connects, sends the header and the data, ends its output, reads to the end. */
static ssize_t via_proxy(int port, const void *hdr, size_t hlen, const char *data, char *buf,
                         size_t cap)
{
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	if (hlen)
		h_write_all(fd, hdr, hlen);
	if (data)
		h_write_all(fd, data, strlen(data));
	shutdown(fd, SHUT_WR);
	ssize_t n = h_read_all(fd, buf, cap, 5000);
	close(fd);
	return n;
}

/* The service's rejected_by_reason[reason]. */
static long long rejected(const char *service, const char *reason)
{
	json_t *reply = hc_call(&d, "stats", service);
	json_t *by = json_object_get(hc_service(reply, service), "rejected_by_reason");
	long long n = by ? hc_int(by, reason) : -1;

	json_decref(reply);
	return n;
}

#define EXPECT_REJECTED(service, reason, n)                                                        \
	ck_assert_msg(H_DEADLINE_WAIT(rejected(service, reason) == (n), 5000),                     \
	              "%s: %s: rejected %s is %lld, expected %d", models[model].name, service,     \
	              reason, rejected(service, reason), (n))

START_TEST(v1_real_client_allowed)
{
	char buf[64];
	ck_assert_int_eq(
	        via_proxy(port_e, v1_ok, strlen(v1_ok), "after the header", buf, sizeof(buf)), 16);
	ck_assert(memcmp(buf, "after the header", 16) == 0);
	/* UNKNOWN (a health check): the connection keeps its own addresses. */
	const char *unknown = "PROXY UNKNOWN\r\n";
	ck_assert_int_eq(via_proxy(port_e, unknown, strlen(unknown), "hi", buf, sizeof(buf)), 2);
	ck_assert(memcmp(buf, "hi", 2) == 0);
	EXPECT_REJECTED("e", "proxy", 0);
}
END_TEST

START_TEST(v1_real_client_denied)
{
	char buf[64];
	/* The TCP peer is 127.0.0.1 (not denied); the client the header names is. */
	const char *h = "PROXY TCP4 192.0.2.7 127.0.0.1 40000 7000\r\n";
	ck_assert_int_eq(via_proxy(port_e, h, strlen(h), "x", buf, sizeof(buf)), 0);
	EXPECT_REJECTED("e", "access", 1);
	EXPECT_REJECTED("e", "proxy", 0);
}
END_TEST

START_TEST(v2_header)
{
	static const unsigned char h[] = {
	        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11,
	        0x00, 0x0C, 198,  51,   100,  9,    127,  0,    0,    1,    0x9c, 0x40, 0x1b, 0x58};
	char buf[64];
	ck_assert_int_eq(via_proxy(port_e, h, sizeof(h), "v2!", buf, sizeof(buf)), 3);
	ck_assert(memcmp(buf, "v2!", 3) == 0);
}
END_TEST

START_TEST(data_after_header_intact)
{
	enum { N = 32 * 1024 };
	char *out = malloc(N), *in = malloc(N + 1);
	size_t hlen = strlen(v1_ok);

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < N; i++)
		out[i] = (char)('a' + i % 23);
	/* The header in two pieces, the second with the data behind it: the reader must
	 * resume where it stopped and leave every byte after the header to the handler. */
	int fd = h_connect("127.0.0.1", port_e);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, v1_ok, 10), 0);
	h_pause_ms(50); /* only makes the split likely; the outcome is the same without */
	char *rest = malloc(hlen - 10 + N);
	ck_assert_ptr_nonnull(rest);
	memcpy(rest, v1_ok + 10, hlen - 10);
	memcpy(rest + hlen - 10, out, N);
	ck_assert_int_eq(h_write_all(fd, rest, hlen - 10 + N), 0);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(h_read_all(fd, in, N + 1, 5000), N);
	ck_assert(memcmp(in, out, N) == 0);
	close(fd);
	free(rest);
	free(out);
	free(in);
}
END_TEST

START_TEST(refused_forms)
{
	char buf[64];
	/* Not a trusted proxy. */
	ck_assert_int_eq(via_proxy(port_u, v1_ok, strlen(v1_ok), "x", buf, sizeof(buf)), 0);
	EXPECT_REJECTED("u", "proxy", 1);
	/* Garbage, a truncated header, oversized v1 and v2 headers. */
	ck_assert_int_eq(via_proxy(port_e, "GET / HTTP/1.0\r\n", 16, NULL, buf, sizeof(buf)), 0);
	ck_assert_int_eq(via_proxy(port_e, "PROXY TCP4 1.2", 14, NULL, buf, sizeof(buf)), 0);
	char longv1[160] = "PROXY TCP4 ";
	memset(longv1 + 11, '1', sizeof(longv1) - 12);
	ck_assert_int_eq(via_proxy(port_e, longv1, strlen(longv1), NULL, buf, sizeof(buf)), 0);
	static const unsigned char longv2[] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55,
	                                       0x49, 0x54, 0x0A, 0x21, 0x11, 0xff, 0xff, 1,    2};
	ck_assert_int_eq(via_proxy(port_e, longv2, sizeof(longv2), NULL, buf, sizeof(buf)), 0);
	/* Silence past proxy_timeout. */
	int fd = h_connect("127.0.0.1", port_e);
	long long t0 = h_now_ms();
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 0);
	ck_assert_int_ge(h_now_ms() - t0, 250);
	close(fd);
	EXPECT_REJECTED("e", "proxy", 5);
	/* Still serving properly after all that. */
	ck_assert_int_eq(via_proxy(port_e, v1_ok, strlen(v1_ok), "ok", buf, sizeof(buf)), 2);
}
END_TEST

static int proxied(int port, const char *client)
{
	char h[128];
	int fd = h_connect("127.0.0.1", port);

	ck_assert_int_ge(fd, 0);
	snprintf(h, sizeof(h), "PROXY TCP4 %s 127.0.0.1 40000 7000\r\n", client);
	ck_assert_int_eq(h_write_all(fd, h, strlen(h)), 0);
	return fd;
}

START_TEST(per_source_counts_real_client)
{
	char buf[8];
	/* One connection of client A, known admitted once its echo comes back. */
	int a = proxied(port_p, "198.51.100.1");
	ck_assert_int_eq(h_write_all(a, "a", 1), 0);
	ck_assert_int_eq(h_read_n(a, buf, 1, 5000), 0);
	/* Through the same proxy address: A's second is refused, B is served. */
	int a2 = proxied(port_p, "198.51.100.1");
	ck_assert_int_eq(h_write_all(a2, "x", 1), 0);
	shutdown(a2, SHUT_WR);
	ck_assert_int_eq(h_read_all(a2, buf, sizeof(buf), 5000), 0);
	close(a2);
	int b = proxied(port_p, "198.51.100.2");
	ck_assert_int_eq(h_write_all(b, "b", 1), 0);
	shutdown(b, SHUT_WR);
	ck_assert_int_eq(h_read_all(b, buf, sizeof(buf), 5000), 1);
	ck_assert_int_eq(buf[0], 'b');
	close(b);
	close(a);
	EXPECT_REJECTED("p", "per_source", 1);
}
END_TEST

START_TEST(slow_proxy_stalls_nobody)
{
	char buf[64];
	/* One connection with half a header, one with nothing: each may wait 30 s. */
	int half = h_connect("127.0.0.1", port_s);
	int silent = h_connect("127.0.0.1", port_s);
	ck_assert_int_ge(half, 0);
	ck_assert_int_ge(silent, 0);
	ck_assert_int_eq(h_write_all(half, "PROXY TCP4 198.51.", 18), 0);
	/* Meanwhile others are served at once. */
	for (int i = 0; i < 3; i++) {
		long long t0 = h_now_ms();
		ck_assert_int_eq(via_proxy(port_s, v1_ok, strlen(v1_ok), "fast", buf, sizeof(buf)),
		                 4);
		ck_assert(memcmp(buf, "fast", 4) == 0);
		ck_assert_msg(h_now_ms() - t0 < 3000,
		              "%s: a client waited %lld ms behind a slow proxy", models[model].name,
		              h_now_ms() - t0);
	}
	/* And the slow one, once its header is complete, is served as well. */
	const char *rest = "100.7 127.0.0.1 40000 7000\r\nslow";
	ck_assert_int_eq(h_write_all(half, rest, strlen(rest)), 0);
	shutdown(half, SHUT_WR);
	ck_assert_int_eq(h_read_all(half, buf, sizeof(buf), 5000), 4);
	ck_assert(memcmp(buf, "slow", 4) == 0);
	close(half);
	/* Ends its header wait (refused: no header) rather than leaving it to the stop. */
	close(silent);
	EXPECT_REJECTED("s", "proxy", 1);
}
END_TEST

START_TEST(stop_with_a_header_on_its_way)
{
	/* Half a header, still open when the fixture stops the daemon: the connection is
	 * one in hand, refused at its deadline (300 ms), and the stop completes cleanly. */
	int fd = h_connect("127.0.0.1", port_e);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, "PROXY TCP6 2001:db8", 19), 0);
}
END_TEST

/* ---- an exec'd program under fork ---- */

static int port_x, port_xu;

static void start_exec(void)
{
	port_x = h_free_port();
	port_xu = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  x:\n"
	                         "    listen:\n"
	                         "      - {address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                         "         trusted_proxies: [127.0.0.0/8], proxy_timeout: 30s}\n"
	                         "    exec: [/usr/bin/env]\n"
	                         "    mpm: fork\n"
	                         "  xu:\n"
	                         "    listen:\n"
	                         "      - {address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                         "         trusted_proxies: [10.0.0.0/8]}\n"
	                         "    exec: [/usr/bin/env]\n"
	                         "    mpm: fork\n",
	                         port_x, port_xu),
	                 0);
	model = 0;
}

static void expect_var(const char *env, const char *var)
{
	char line[128];
	snprintf(line, sizeof(line), "\n%s\n", var);
	ck_assert_msg(strstr(env, line) != NULL, "no %s in the program's environment:\n%s", var,
	              env);
}

/* The program's output (its environment) for a connection with this header. */
static ssize_t env_via(int port, const void *hdr, size_t hlen, char *buf, size_t cap)
{
	/* A leading newline lets expect_var match the first variable as a whole line. */
	ssize_t n = via_proxy(port, hdr, hlen, NULL, buf + 1, cap - 2);
	buf[0] = '\n';
	buf[n > 0 ? n + 1 : 1] = '\0';
	return n;
}

START_TEST(exec_env_shows_proxied_client)
{
	char env[8192];
	/* A slow proxy holds its header back the whole time: nobody waits for it. */
	int slow = h_connect("127.0.0.1", port_x);
	ck_assert_int_ge(slow, 0);
	ck_assert_int_eq(h_write_all(slow, "PROXY TCP4 198.51.100.99 ", 25), 0);

	const char *v1 = "PROXY TCP4 198.51.100.7 203.0.113.9 40000 7000\r\n";
	ck_assert_int_gt(env_via(port_x, v1, strlen(v1), env, sizeof(env)), 0);
	expect_var(env, "PROTO=TCP");
	expect_var(env, "TCPREMOTEIP=198.51.100.7");
	expect_var(env, "TCPREMOTEPORT=40000");
	expect_var(env, "REMOTE_ADDR=198.51.100.7");
	expect_var(env, "REMOTE_PORT=40000");
	expect_var(env, "TCPLOCALIP=203.0.113.9");
	expect_var(env, "TCPLOCALPORT=7000");

	/* v2, TCP over IPv6: 2001:db8::7 port 40001 to 2001:db8::1 port 7001. */
	static const unsigned char v2[] = {
	        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21,
	        0x21, 0x00, 0x24, 0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0,    0,
	        0,    0,    0,    0,    0,    0x07, 0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,
	        0,    0,    0,    0,    0,    0,    0,    0,    0x01, 0x9c, 0x41, 0x1b, 0x59};
	ck_assert_int_gt(env_via(port_x, v2, sizeof(v2), env, sizeof(env)), 0);
	expect_var(env, "TCPREMOTEIP=2001:db8::7");
	expect_var(env, "TCPREMOTEPORT=40001");
	expect_var(env, "REMOTE_ADDR=2001:db8::7");
	expect_var(env, "TCPLOCALIP=2001:db8::1");
	expect_var(env, "TCPLOCALPORT=7001");

	/* The same header from an untrusted source: refused, no program run. */
	ck_assert_int_eq(env_via(port_xu, v1, strlen(v1), env, sizeof(env)), 0);
	/* Truncated, oversized and garbage headers: refused. */
	ck_assert_int_eq(env_via(port_x, "PROXY TCP4 198.51", 17, env, sizeof(env)), 0);
	char longv1[200] = "PROXY TCP4 ";
	memset(longv1 + 11, '9', sizeof(longv1) - 12);
	ck_assert_int_eq(env_via(port_x, longv1, strlen(longv1), env, sizeof(env)), 0);
	ck_assert_int_eq(env_via(port_x, "\x16\x03\x01\x02\x00\x01", 6, env, sizeof(env)), 0);
	EXPECT_REJECTED("xu", "proxy", 1);
	EXPECT_REJECTED("x", "proxy", 3);

	/* Without disturbing the connection still on its way. */
	const char *rest = "127.0.0.1 5555 7000\r\n";
	ck_assert_int_eq(h_write_all(slow, rest, strlen(rest)), 0);
	shutdown(slow, SHUT_WR);
	ssize_t n = h_read_all(slow, env + 1, sizeof(env) - 2, 5000);
	ck_assert_int_gt(n, 0);
	env[0] = '\n';
	env[n + 1] = '\0';
	expect_var(env, "TCPREMOTEIP=198.51.100.99");
	expect_var(env, "TCPREMOTEPORT=5555");
	close(slow);
}
END_TEST

START_TEST(exec_under_prefork_refused)
{
	struct daemon x = {0};
	int port = h_free_port();
	ck_assert_int_eq(h_prepare(&x,
	                           "services:\n  e:\n    listen:\n      - {address: "
	                           "'127.0.0.1:%d', proxy_protocol: true, trusted_proxies: "
	                           "[127.0.0.0/8]}\n    exec: [/usr/bin/env]\n    mpm: prefork\n",
	                           port),
	                 0);
	ck_assert_int_eq(h_spawn(&x), 0);
	ck_assert_int_eq(h_wait_notify(&x, "READY=1", 30000), -1);
	ck_assert(h_log_wait(&x, "proxy_protocol with exec is served by fork", 10000));
	ck_assert(h_log_wait(&x, "not by prefork, where the program accepts connections itself",
	                     1000));
	h_kill(&x);
}
END_TEST

int main(void)
{
	void (*const starts[N_MODELS])(void) = {start_fork, start_prefork, start_threadpool,
	                                        start_event};
	Suite *s = suite_create("PROXY protocol listeners");

	for (size_t m = 0; m < N_MODELS; m++) {
		TCase *tc = tcase_create(models[m].name);
		tcase_add_checked_fixture(tc, starts[m], stop);
		tcase_add_test(tc, v1_real_client_allowed);
		tcase_add_test(tc, v1_real_client_denied);
		tcase_add_test(tc, v2_header);
		tcase_add_test(tc, data_after_header_intact);
		tcase_add_test(tc, refused_forms);
		tcase_add_test(tc, per_source_counts_real_client);
		tcase_add_test(tc, slow_proxy_stalls_nobody);
		tcase_add_test(tc, stop_with_a_header_on_its_way);
		suite_add_tcase(s, tc);
	}
	TCase *tx = tcase_create("exec under fork");
	tcase_add_checked_fixture(tx, start_exec, stop);
	tcase_add_test(tx, exec_env_shows_proxied_client);
	suite_add_tcase(s, tx);
	TCase *tr = tcase_create("refusal");
	tcase_add_test(tr, exec_under_prefork_refused);
	suite_add_tcase(s, tr);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
