/* The prefork model through the real daemon: the pool grows under load (up to
 * max_workers under slow clients) and shrinks back when idle, recycles after
 * max_connections_per_worker, and hands the listening socket to long-running programs (exec +
 * prefork, the systemd Accept=no way). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static int count_children(struct daemon *d)
{
	pid_t pids[256];
	return h_children(d->pid, pids, 256);
}

START_TEST(serves_builtins)
{
	struct daemon d = {0};
	char buf[64];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  e:\n    listen: ['127.0.0.1:%d']\n"
	                         "    builtin: echo\n    mpm: {model: prefork, start: 2}\n",
	                         port),
	                 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(
		        h_exchange("127.0.0.1", port, "pre\n", true, buf, sizeof(buf), 5000), 4);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(grows_and_shrinks)
{
	enum { HELD = 6 };
	struct daemon d = {0};
	int fds[HELD];
	char c;
	int port = h_free_port();
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n  e:\n    listen: ['127.0.0.1:%d']\n    builtin: echo\n"
	                "    mpm: {model: prefork, start: 1, min_spare: 1, max_spare: 2, "
	                "max_workers: 10}\n",
	                port),
	        0);
	ck_assert(H_DEADLINE_WAIT(count_children(&d) == 1, 5000));
	/* Each held connection occupies a process; the pool must grow to keep a spare. */
	for (int i = 0; i < HELD; i++) {
		fds[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(h_write_all(fds[i], "x", 1), 0);
		ck_assert_msg(h_read_n(fds[i], &c, 1, 15000) == 0, "held connection %d not served",
		              i);
	}
	ck_assert(H_DEADLINE_WAIT(count_children(&d) >= HELD + 1, 15000));
	for (int i = 0; i < HELD; i++)
		close(fds[i]);
	/* Idle again: retired one per second down to max_spare. */
	ck_assert(H_DEADLINE_WAIT(count_children(&d) <= 2, 20000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static int most_children;

static bool children_at(struct daemon *d, int want)
{
	int n = count_children(d);
	if (n > most_children)
		most_children = n;
	return n == want;
}

/* Slow clients hold every process: the pool grows to max_workers and no further, says
 * so once, and gives the processes back once the clients are gone. (How fast is the
 * ramp's unit test and the slowloris benchmark, never a deadline here.) */
START_TEST(held_pool_reaches_max_workers)
{
	enum { MAX = 32, HELD = 48 };
	struct daemon d = {0};
	int fds[HELD];
	int port = h_free_port();
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n  e:\n    listen: ['127.0.0.1:%d']\n    builtin: echo\n"
	                "    limits: {idle_timeout: 0}\n"
	                "    mpm: {model: prefork, start: 2, min_spare: 1, max_spare: 2, "
	                "max_workers: %d}\n",
	                port, MAX),
	        0);
	ck_assert(H_DEADLINE_WAIT(count_children(&d) == 2, 5000));
	/* Connected and silent: each one the pool accepts holds a process for good; the
	 * rest wait in the backlog. */
	for (int i = 0; i < HELD; i++) {
		fds[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fds[i], 0);
	}
	most_children = 0;
	ck_assert_msg(H_DEADLINE_WAIT(children_at(&d, MAX), 60000), "%d processes, not %d",
	              count_children(&d), MAX);
	ck_assert(h_log_wait(&d, "all 32 processes are busy (max_workers)", 10000));
	ck_assert_int_le(most_children, MAX);
	for (int i = 0; i < HELD; i++)
		close(fds[i]);
	ck_assert_msg(H_DEADLINE_WAIT(children_at(&d, 2), 60000), "%d processes, not 2",
	              count_children(&d));
	ck_assert_int_le(most_children, MAX);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(recycles_after_max_connections)
{
	struct daemon d = {0};
	pid_t first[4], now[4];
	char buf[16];
	int port = h_free_port();
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n  e:\n    listen: ['127.0.0.1:%d']\n    builtin: echo\n"
	                "    mpm: {model: prefork, start: 1, min_spare: 0, max_spare: 1, "
	                "max_workers: 1, max_connections_per_worker: 3}\n",
	                port),
	        0);
	ck_assert(H_DEADLINE_WAIT(h_children(d.pid, first, 4) == 1, 5000));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(h_exchange("127.0.0.1", port, "r\n", true, buf, sizeof(buf), 5000),
		                 2);
	/* The worker leaves after its third connection and a successor takes over. */
	ck_assert(H_DEADLINE_WAIT(h_children(d.pid, now, 4) == 1 && now[0] != first[0], 10000));
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "r\n", true, buf, sizeof(buf), 5000), 2);
	/* Recycling is not a failure. */
	ck_assert(!h_log_wait(&d, "restarting in", 0));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(exec_gets_listen_fds)
{
	struct daemon d = {0};
	char buf[256], prog[512];
	int port = h_free_port();
	const char *dir = getenv("SS_TEST_PROG_DIR");
	ck_assert_ptr_nonnull(dir);
	snprintf(prog, sizeof(prog), "%s/prog_listenfds", dir);
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  activated:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [%s, '3']\n    mpm: {model: prefork, start: 2}\n",
	                         port, prog),
	                 0);
	/* 10 connections: each copy leaves after 3, so the pool replaces copies on the way. */
	for (int i = 0; i < 10; i++) {
		ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf) - 1, 10000);
		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		ck_assert_msg(strstr(buf, "fds=1 names=activated\n") != NULL, "answer: %s", buf);
	}
	ck_assert(H_DEADLINE_WAIT(count_children(&d) == 2, 5000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(prefork_exec_accepted_unknown_model_refused)
{
	struct daemon d = {0};
	int port = h_free_port();
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n  x:\n    listen: ['127.0.0.1:%d']\n"
	                           "    exec: [/bin/cat]\n    mpm: {model: prefork}\n"
	                           "  y:\n    listen: ['127.0.0.1:%d']\n    exec: [/bin/cat]\n"
	                           "    mpm: {model: nosuch}\n",
	                           port, port + 1),
	                 0);
	ck_assert_int_eq(h_spawn(&d), 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 30000), -1);
	/* Only the unknown model is an error; exec + prefork is valid. */
	ck_assert(h_log_wait(&d, "superserverd.yaml:10:", 10000));
	ck_assert(h_log_wait(&d, "1 error", 10000));
	h_kill(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("prefork");
	TCase *tc = tcase_create("prefork");
	tcase_add_test(tc, serves_builtins);
	tcase_add_test(tc, grows_and_shrinks);
	tcase_add_test(tc, held_pool_reaches_max_workers);
	tcase_add_test(tc, recycles_after_max_connections);
	tcase_add_test(tc, exec_gets_listen_fds);
	tcase_add_test(tc, prefork_exec_accepted_unknown_model_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
