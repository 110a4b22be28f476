/*
 * The `forward` built-in while something waits, through the real daemon on loopback: a
 * target slow to connect (a client that resets meanwhile ends at once under every
 * model; one that half-closes is still served), and under threadpool more relays held
 * open at once than it has threads (bytes, half-closes, the idle timeout, a module's
 * close callback).
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "harness_relay.h"

static const char *const models[] = {"event", "threadpool", "fork", "prefork"};
#define N_MODELS 4

static struct daemon d = {0};
static int target = -1, slow = -1, slow_fill = -1;
static int target_port, slow_port;
static int port_slow[N_MODELS], port_t2, port_echo, port_ti, port_rc;
static char udir[64], marks[128];

static void start(void)
{
	char svc[2048];
	size_t n = 0;
	int fd;

	target = hr_listener(64, &target_port);
	/* A target slow to connect: a backlog of 0 holds one connection; once it is full
	 * the kernel drops further SYNs, so a connect waits (offline, on loopback) until
	 * the test accepts that one and the relay's next SYN gets in. */
	slow = hr_listener(0, &slow_port);
	slow_fill = h_connect("127.0.0.1", slow_port);
	ck_assert_int_ge(slow_fill, 0);
	/* Where the relayclose module's close callback writes, as the service's user. */
	strcpy(udir, "/tmp/fwwait.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(udir));
	ck_assert_int_eq(chmod(udir, 0755), 0);
	snprintf(marks, sizeof(marks), "%s/marks", udir);
	fd = open(marks, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(chmod(marks, 0666), 0);

	for (int m = 0; m < N_MODELS; m++) {
		port_slow[m] = h_free_port();
		n += (size_t)snprintf(
		        svc + n, sizeof(svc) - n,
		        "  s%d: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: %s, "
		        "args: {target: '127.0.0.1:%d', connect_timeout: 120s}}\n",
		        m, port_slow[m], models[m], slow_port);
	}
	port_t2 = h_free_port();
	port_echo = h_free_port();
	port_ti = h_free_port();
	port_rc = h_free_port();
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n%s"
	                "  t2: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: {model: "
	                "threadpool, "
	                "threads: 2}, args: {target: '127.0.0.1:%d'}}\n"
	                "  echo: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: event}\n"
	                "  ti: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: {model: "
	                "threadpool, "
	                "threads: 2}, limits: {idle_timeout: 3s}, args: {target: '127.0.0.1:%d'}}\n"
	                "  rc: {listen: ['127.0.0.1:%d'], mpm: {model: threadpool, threads: 2}, "
	                "module: {path: '%s/relayclose.so', args: {port: '%d', mark: '%s'}}}\n",
	                svc, port_t2, port_echo, port_echo, port_ti, target_port, port_rc,
	                getenv("SS_MODULE_DIR"), port_echo, marks),
	        0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
	close(target);
	close(slow);
	close(slow_fill);
	unlink(marks);
	rmdir(udir);
}

/* For a read to the end or of a given length: generous for a loaded sanitizer build. */
#define READ_DEADLINE_MS 30000

static long long stat_of(const char *svc, const char *key)
{
	return hr_stat(&d, svc, key);
}

static long long upstream(const char *svc, const char *key)
{
	return hr_upstream(&d, svc, key);
}

/* Waits (polling the stats) until the relay of service "s<m>" is connecting. */
static void wait_connecting(const char *svc)
{
	ck_assert_msg(H_DEADLINE_WAIT(upstream(svc, "attempts") == 1, 30000),
	              "%s: no connect attempt", svc);
}

/* A client that resets while the target is slow to connect ends the connection at
 * once, not at the connect timeout (120 s): the connection is counted as ended long
 * before, and no timeout is counted. */
START_TEST(slow_connect_client_resets)
{
	char svc[8];
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int c = h_connect("127.0.0.1", port_slow[_i]);

	ck_assert_int_ge(c, 0);
	snprintf(svc, sizeof(svc), "s%d", _i);
	wait_connecting(svc);
	ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(c);
	ck_assert_msg(H_DEADLINE_WAIT(stat_of(svc, "completed") == 1, 60000),
	              "%s: the reset client's connection did not end", svc);
	/* Under fork the connection's process counts it completed before it exits; its
	 * acceptor takes it off "active" only once it has reaped it. */
	ck_assert_msg(H_DEADLINE_WAIT(stat_of(svc, "active") == 0, 30000), "%s: still active", svc);
	ck_assert_int_eq(upstream(svc, "timeouts"), 0);
}
END_TEST

/* A client that half-closes while the target is slow to connect (its request sent, or
 * nothing to send, as for daytime) is still served once the target takes it. _i: the
 * model (_i / 2) and whether a request is sent (_i % 2 == 0). */
START_TEST(slow_connect_client_half_closes)
{
	char svc[8], buf[64];
	int m = _i / 2;
	bool request = _i % 2 == 0;
	int c = h_connect("127.0.0.1", port_slow[m]);

	ck_assert_int_ge(c, 0);
	if (request)
		ck_assert_int_eq(h_write_all(c, "request", 7), 0);
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	snprintf(svc, sizeof(svc), "s%d", m);
	wait_connecting(svc);
	/* Room in the backlog: the relay's next SYN (the kernel's retries back off to
	 * seconds apart) gets in. */
	close(hr_accept(slow, 10000));
	int t = hr_accept(slow, 60000);
	ck_assert_int_eq(h_read_all(t, buf, sizeof(buf), READ_DEADLINE_MS), request ? 7 : 0);
	ck_assert(!request || memcmp(buf, "request", 7) == 0);
	ck_assert_int_eq(h_write_all(t, "answer", 6), 0);
	close(t);
	ck_assert_int_eq(h_read_all(c, buf, sizeof(buf), READ_DEADLINE_MS), 6);
	ck_assert(memcmp(buf, "answer", 6) == 0);
	close(c);
	ck_assert_int_eq(upstream(svc, "connected"), 1);
}
END_TEST

/* Threadpool with 2 threads: more relays than threads are open at once, every one
 * connected to its target (the echo service holds them all) and carrying bytes. A
 * relay that held a thread for its life would leave the third client waiting. */
#define TP_HELD 6
static void tp_open_held_on(const char *svc, int port, int *c)
{
	for (int i = 0; i < TP_HELD; i++) {
		c[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(c[i], 0);
	}
	ck_assert_msg(H_DEADLINE_WAIT(stat_of("echo", "active") == TP_HELD, 30000),
	              "%lld of %d relays reached the target", stat_of("echo", "active"), TP_HELD);
	ck_assert_int_eq(stat_of(svc, "active"), TP_HELD);
}

static void tp_open_held(int *c)
{
	tp_open_held_on("t2", port_t2, c);
}

START_TEST(threadpool_relays_beyond_threads)
{
	int c[TP_HELD];
	char msg[32], buf[32];

	tp_open_held(c);
	/* The last ones first: they were queued behind the first two. */
	for (int i = TP_HELD - 1; i >= 0; i--) {
		int n = snprintf(msg, sizeof(msg), "relay %d", i);
		ck_assert_int_eq(h_write_all(c[i], msg, (size_t)n), 0);
		ck_assert_int_eq(h_read_n(c[i], buf, (size_t)n, READ_DEADLINE_MS), 0);
		ck_assert(memcmp(buf, msg, (size_t)n) == 0);
	}
	for (int i = 0; i < TP_HELD; i++)
		close(c[i]);
	ck_assert(H_DEADLINE_WAIT(stat_of("t2", "completed") == TP_HELD, 30000));
}
END_TEST

/* The same relays each half-closed by the client: the echo service sees the end,
 * answers, and closes, and the client reads the answer and then the end. */
START_TEST(threadpool_relays_half_close)
{
	int c[TP_HELD];
	char msg[32], buf[32];

	tp_open_held(c);
	for (int i = TP_HELD - 1; i >= 0; i--) {
		int n = snprintf(msg, sizeof(msg), "half %d", i);
		ck_assert_int_eq(h_write_all(c[i], msg, (size_t)n), 0);
		ck_assert_int_eq(shutdown(c[i], SHUT_WR), 0);
		ck_assert_int_eq(h_read_all(c[i], buf, sizeof(buf), READ_DEADLINE_MS), n);
		ck_assert(memcmp(buf, msg, (size_t)n) == 0);
		close(c[i]);
	}
	/* Counted completed and taken off "active" are two updates: wait for both. */
	ck_assert(H_DEADLINE_WAIT(
	        stat_of("t2", "completed") == TP_HELD && stat_of("t2", "active") == 0, 30000));
}
END_TEST

/* Threadpool, a module's relay with a close callback: the relays still hold no thread
 * (six at once under threads: 2), and as each ends a thread runs the close callback,
 * once. */
START_TEST(threadpool_relay_close_callback)
{
	int c[TP_HELD];
	char buf[8];

	tp_open_held_on("rc", port_rc, c);
	for (int i = 0; i < TP_HELD; i++) {
		ck_assert_int_eq(h_write_all(c[i], "ok", 2), 0);
		ck_assert_int_eq(h_read_n(c[i], buf, 2, READ_DEADLINE_MS), 0);
		close(c[i]);
	}
	ck_assert(H_DEADLINE_WAIT(stat_of("rc", "completed") == TP_HELD, 30000));
	ck_assert_msg(H_DEADLINE_WAIT(h_count_lines(marks) == TP_HELD, 30000),
	              "%d close callbacks for %d relays", h_count_lines(marks), TP_HELD);
}
END_TEST

/* Threadpool: the poller keeps a relay's idle timeout. A relayed client that sends a
 * byte every 125 ms stays open well past the 3 s, while a silent one is closed (not
 * before its 3 s) and counted as a timeout. */
START_TEST(threadpool_relay_idle_timeout)
{
	char buf[8];
	long long t0 = h_now_ms(), silent_end = -1, next_send = t0;
	int talker = h_connect("127.0.0.1", port_ti), silent = h_connect("127.0.0.1", port_ti);
	int t1, t2;

	ck_assert_int_ge(talker, 0);
	ck_assert_int_ge(silent, 0);
	/* Which is which does not matter: the target only takes the bytes. */
	t1 = hr_accept(target, 10000);
	t2 = hr_accept(target, 10000);
	while ((h_now_ms() - t0 < 7000 || silent_end < 0) && h_now_ms() - t0 < 60000) {
		struct pollfd p[2] = {{.fd = talker, .events = POLLIN},
		                      {.fd = silent_end < 0 ? silent : -1, .events = POLLIN}};
		long long now = h_now_ms();

		if (now >= next_send) {
			ck_assert_int_eq(h_write_all(talker, "x", 1), 0);
			next_send = now + 125;
		}
		ck_assert_int_ge(poll(p, 2, (int)(next_send > now ? next_send - now : 0)), 0);
		ck_assert_msg(!p[0].revents, "the talker was closed after %lld ms",
		              h_now_ms() - t0);
		if (p[1].revents) {
			ck_assert_int_eq(recv(silent, buf, sizeof(buf), MSG_DONTWAIT), 0);
			silent_end = h_now_ms() - t0;
		}
	}
	ck_assert_msg(silent_end >= 0, "the silent relay was not closed");
	ck_assert_msg(silent_end >= 3000, "the silent relay was closed after %lld ms", silent_end);
	ck_assert(H_DEADLINE_WAIT(stat_of("ti", "timeouts") == 1, 30000));
	close(talker);
	close(silent);
	close(t1);
	close(t2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("forward while waiting (daemon)");
	TCase *tc = tcase_create("forward_wait");
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_loop_test(tc, slow_connect_client_resets, 0, N_MODELS);
	tcase_add_loop_test(tc, slow_connect_client_half_closes, 0, 2 * N_MODELS);
	tcase_add_test(tc, threadpool_relays_beyond_threads);
	tcase_add_test(tc, threadpool_relays_half_close);
	tcase_add_test(tc, threadpool_relay_close_callback);
	tcase_add_test(tc, threadpool_relay_idle_timeout);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
