/* The fork model with several acceptors (`acceptors: N`): each acceptor serves, and
 * max_children holds for the service as a whole, for built-ins and programs alike. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *const handlers[] = {
        "builtin: echo",
        "exec: [/bin/cat]",
};

/* Connection processes of each acceptor, in order of the acceptors' pids. */
static int per_acceptor(const pid_t *acceptors, int n, int *counts)
{
	int total = 0;

	for (int i = 0; i < n; i++) {
		pid_t kids[8];
		counts[i] = h_children(acceptors[i], kids, 8);
		total += counts[i];
	}
	return total;
}

START_TEST(max_children_across_acceptors)
{
	struct daemon d = {0};
	pid_t acc[4];
	int counts[2], fds[3];
	char buf[8];
	int port = h_free_port();

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    listen: ['127.0.0.1:%d']\n    %s\n"
	                         "    mpm: {model: fork, max_children: 3, acceptors: 2}\n",
	                         port, handlers[_i]),
	                 0);
	ck_assert(H_DEADLINE_WAIT(h_children(d.pid, acc, 4) == 2, 20000));

	/* Three clients are served at once: the acceptors' parts (2 and 1) add up to 3. */
	for (int i = 0; i < 3; i++) {
		char msg[2] = {(char)('a' + i), 0};
		fds[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fds[i], 0);
		ck_assert(h_echoes(fds[i], msg));
	}
	/* Each acceptor serves some of them: the one whose part is full left the rest to
	 * the other. */
	ck_assert(H_DEADLINE_WAIT(per_acceptor(acc, 2, counts) == 3, 20000));
	ck_assert_int_ge(counts[0], 1);
	ck_assert_int_ge(counts[1], 1);
	ck_assert(h_log_wait(&d, "max_children (3) reached", 20000));

	/* A fourth waits in the backlog while three are open, whichever acceptor it meets. */
	int late = h_connect("127.0.0.1", port);
	ck_assert_int_ge(late, 0);
	ck_assert_int_eq(h_write_all(late, "z", 1), 0);
	ck_assert_int_eq(h_read_n(late, buf, 1, 300), -1);
	ck_assert_int_eq(per_acceptor(acc, 2, counts), 3);

	/* One ends: the waiting client is served. */
	close(fds[0]);
	ck_assert_int_eq(h_read_n(late, buf, 1, 20000), 0);
	ck_assert_int_eq(buf[0], 'z');
	close(late);
	close(fds[1]);
	close(fds[2]);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The acceptors share the listeners: one that stops (killed here) leaves the clients
 * to the other until the master has started it again. */
START_TEST(acceptor_lost_others_serve)
{
	struct daemon d = {0};
	pid_t acc[4], now[4];
	char buf[64];
	int port = h_free_port();

	d.allowed_errors[0] = "killed by signal";
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    listen: ['127.0.0.1:%d']\n    %s\n"
	                         "    mpm: {model: fork, acceptors: 3}\n",
	                         port, handlers[_i]),
	                 0);
	ck_assert(H_DEADLINE_WAIT(h_children(d.pid, acc, 4) == 3, 20000));
	ck_assert_int_eq(kill(acc[0], SIGKILL), 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(
		        h_exchange("127.0.0.1", port, "x\n", true, buf, sizeof(buf), 20000), 2);
	ck_assert(H_DEADLINE_WAIT(h_children(d.pid, now, 4) == 3 && now[0] != acc[0] &&
	                                  now[1] != acc[0] && now[2] != acc[0],
	                          10000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fork acceptors");
	TCase *tc = tcase_create("acceptors");
	int n = (int)(sizeof(handlers) / sizeof(handlers[0]));

	tcase_add_loop_test(tc, max_children_across_acceptors, 0, n);
	tcase_add_loop_test(tc, acceptor_lost_others_serve, 0, n);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
