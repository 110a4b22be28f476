/* A handler that crashes under the models that share a process between connections
 * (threadpool, event): the service's process is replaced and new connections succeed
 * within 2 s, and another service never notices. (fork and prefork, where only the
 * crashing connection dies, are covered in test_modules.) A service whose processes
 * never start: `restarting` while it waits out its backoff, then failed, and from then
 * on its clients are turned away at once until it is started again; also when its
 * program took the sockets over (exec + prefork), and never at the cost of the master
 * answering the control socket. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

static const char *const models[] = {
        "{model: threadpool, processes: 1, threads: 4}",
        "{model: event, workers: 1}",
};

START_TEST(crash_replaced)
{
	struct daemon d = {0};
	char mod[512];
	pid_t before[8], after[8];
	int p_crash = h_free_port(), p_other = h_free_port();
	const char *dir = getenv("SS_MODULE_DIR");

	ck_assert_ptr_nonnull(dir);
	snprintf(mod, sizeof(mod), "%s/crashtest.so", dir);
	d.allowed_errors[0] = "killed by signal";
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  crashy: {listen: ['127.0.0.1:%d'], module: '%s', mpm: %s}\n"
	                         "  other: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: %s}\n",
	                         p_crash, mod, models[_i], p_other, models[_i]),
	                 0);
	ck_assert(H_DEADLINE_WAIT(h_children(d.pid, before, 8) == 2, 5000));

	/* A connection to the other service stays open across the crash. */
	int steady = h_connect("127.0.0.1", p_other);
	ck_assert_int_ge(steady, 0);
	ck_assert(h_echoes(steady, "before\n"));

	/* The crashing service has served once: it is proven, so no throttling. */
	int c = h_connect("127.0.0.1", p_crash);
	ck_assert_int_ge(c, 0);
	ck_assert(h_echoes(c, "fine\n"));
	close(c);

	int victim = h_connect("127.0.0.1", p_crash);
	ck_assert_int_ge(victim, 0);
	ck_assert_int_eq(h_write_all(victim, "crash\n", 6), 0);
	char buf[16];
	ck_assert_int_le(h_read_all(victim, buf, sizeof(buf), 5000), 0); /* EOF or reset */
	close(victim);

	long long t0 = h_now_ms();
	bool back = H_DEADLINE_WAIT(({
		                            int fd = h_connect("127.0.0.1", p_crash);
		                            bool ok = fd >= 0 && h_echoes(fd, "again\n");
		                            if (fd >= 0)
			                            close(fd);
		                            ok;
	                            }),
	                            5000);
	ck_assert(back);
	ck_assert_msg(h_now_ms() - t0 <= 2000, "new connections took %lld ms", h_now_ms() - t0);

	/* The other service never noticed: same process, same open connection. */
	ck_assert(h_echoes(steady, "after\n"));
	close(steady);
	int n = h_children(d.pid, after, 8);
	ck_assert_int_eq(n, 2);
	bool other_same = false;
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			other_same |= before[i] == after[j];
	ck_assert(other_same);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Connected to a failed service: the banner, then EOF, well before the deadline (a
 * client left waiting would see neither). */
static void turned_away(int fd, const char *what)
{
	char buf[64];
	ssize_t n;

	ck_assert_msg(fd >= 0, "%s: cannot connect", what);
	n = h_read_all(fd, buf, sizeof(buf) - 1, 10000);
	ck_assert_msg(n >= 0, "%s: not turned away within 10 s", what);
	buf[n] = '\0';
	ck_assert_msg(strcmp(buf, "closed for repairs\r\n") == 0, "%s: got '%s'", what, buf);
	close(fd);
}

static const char *state_of(struct daemon *d, const char *name, long long *procs)
{
	static char state[32];
	json_t *st = hc_call(d, "status", NULL);
	json_t *svc = hc_service(st, name);

	snprintf(state, sizeof(state), "%s", svc ? hc_str(svc, "state") : "?");
	*procs = svc ? hc_int(json_object_get(svc, "workers"), "total") : -1;
	json_decref(st);
	return state;
}

/* Waits for a state that takes tens of seconds to come: polled every 100 ms, so the
 * daemon (slow under the sanitizers) is not kept busy answering. Dumps the log if the
 * state never comes. */
static bool slow_wait_state(struct daemon *d, const char *name, const char *want, int timeout_ms,
                            long long *procs)
{
	long long end = h_now_ms() + timeout_ms;

	for (;;) {
		if (strcmp(state_of(d, name, procs), want) == 0)
			return true;
		if (h_now_ms() >= end)
			break;
		h_pause_ms(100);
	}
	h_dump_log(d);
	return false;
}

static void write_quotes(const struct daemon *d)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/quotes.txt", d->dir);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs("back again\n", f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
}

START_TEST(failed_turns_clients_away)
{
	struct daemon d = {0};
	char mod[512], sock[128], buf[64];
	int p4 = h_free_port(), p6 = h_free_port(), p2 = h_free_port();
	const char *dir = getenv("SS_MODULE_DIR");
	long long procs = -1;

	ck_assert_ptr_nonnull(dir);
	snprintf(mod, sizeof(mod), "%s/qotd.so", dir);
	d.allowed_errors[0] = "setup failed";
	d.allowed_errors[1] = "marking the service failed";
	/* The quotes file is missing: every process of both fails its setup. */
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n"
	                           "  q:\n"
	                           "    listen: ['127.0.0.1:%d', '[::1]:%d', 'unix:%s/q.sock']\n"
	                           "    module: {path: '%s', args: {file: '%s/quotes.txt'}}\n"
	                           "    mpm: {model: event, workers: 1}\n"
	                           "    limits: {banner: closed for repairs}\n"
	                           "  q2:\n"
	                           "    listen: ['127.0.0.1:%d']\n"
	                           "    module: {path: '%s', args: {file: '%s/quotes.txt'}}\n"
	                           "    limits: {banner: closed for repairs}\n",
	                           p4, p6, d.dir, mod, d.dir, p2, mod, d.dir),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);
	snprintf(sock, sizeof(sock), "%s/q.sock", d.dir);

	/* Between two attempts: restarting, with no process (not running with 0/0). */
	ck_assert_msg(slow_wait_state(&d, "q", "restarting", 20000, &procs), "never restarting: %s",
	              state_of(&d, "q", &procs));
	ck_assert_int_eq(procs, 0);
	/* Clients that queue in the backlog before the service fails. */
	int pending4 = h_connect("127.0.0.1", p4), pending6 = h_connect("::1", p6),
	    pending_unix = h_connect(sock, 0);

	/* 9 early deaths take 25.5 s of backoff. */
	ck_assert_msg(slow_wait_state(&d, "q", "failed", 120000, &procs), "q never failed: %s",
	              state_of(&d, "q", &procs));
	ck_assert(h_log_wait(&d, "that is 9 early deaths in a row (8 restarts)", 5000));
	turned_away(pending4, "pending on 127.0.0.1");
	turned_away(pending6, "pending on ::1");
	turned_away(pending_unix, "pending on the unix socket");
	turned_away(h_connect("127.0.0.1", p4), "new on 127.0.0.1");
	turned_away(h_connect("::1", p6), "new on ::1");
	turned_away(h_connect(sock, 0), "new on the unix socket");

	/* Fixed, and started again: served on the very same sockets. */
	write_quotes(&d);
	json_t *r = hc_call(&d, "start", "q");
	ck_assert(hc_ok(r));
	json_decref(r);
	ck_assert_int_eq(h_exchange("127.0.0.1", p4, NULL, false, buf, sizeof(buf), 10000), 12);
	ck_assert_int_eq(h_exchange("::1", p6, NULL, false, buf, sizeof(buf), 10000), 12);
	ck_assert_int_eq(h_exchange(sock, 0, NULL, false, buf, sizeof(buf), 10000), 12);
	ck_assert(memcmp(buf, "back again\r\n", 12) == 0);

	/* The other failed service still turns clients away; a reload starts it. */
	ck_assert_msg(slow_wait_state(&d, "q2", "failed", 120000, &procs), "q2 never failed: %s",
	              state_of(&d, "q2", &procs));
	turned_away(h_connect("127.0.0.1", p2), "q2 before the reload");
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert_int_eq(h_exchange("127.0.0.1", p2, NULL, false, buf, sizeof(buf), 10000), 12);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* exec + prefork hands the program blocking sockets that share their file description
 * with the master's: turning clients away must not leave the master blocked in accept. */
START_TEST(failed_exec_turns_clients_away)
{
	struct daemon d = {0};
	char prog[512], marker[160], buf[256];
	int port = h_free_port();
	const char *dir = getenv("SS_TEST_PROG_DIR");
	long long procs = -1;

	ck_assert_ptr_nonnull(dir);
	snprintf(prog, sizeof(prog), "%s/prog_listenfds", dir);
	d.allowed_errors[0] = "marking the service failed";
	/* The program runs only once the marker exists: until then it fails at once. */
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n"
	                           "  x:\n"
	                           "    listen: ['127.0.0.1:%d']\n"
	                           "    exec: [/bin/sh, -c, 'test -e %s/ok && exec %s || exit 1']\n"
	                           "    mpm: {model: prefork, start: 1}\n"
	                           "    limits: {banner: closed for repairs}\n",
	                           port, d.dir, prog),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);
	ck_assert_msg(slow_wait_state(&d, "x", "failed", 120000, &procs), "x never failed: %s",
	              state_of(&d, "x", &procs));

	/* One client empties the queue; the next wake-up must find it empty, not wait. */
	turned_away(h_connect("127.0.0.1", port), "first client");
	json_t *r = hc_call(&d, "version", NULL);
	ck_assert_msg(hc_ok(r), "no answer on the control socket after turning a client away");
	json_decref(r);
	turned_away(h_connect("127.0.0.1", port), "second client");
	r = hc_call(&d, "stats", "x");
	ck_assert(hc_ok(r));
	json_t *by = json_object_get(hc_service(r, "x"), "rejected_by_reason");
	ck_assert_msg(by && hc_int(by, "failed") == 2, "rejected_by_reason.failed is not 2");
	json_decref(r);

	/* Started again: the program gets its socket blocking, as before the failure. */
	snprintf(marker, sizeof(marker), "%s/ok", d.dir);
	FILE *f = fopen(marker, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fclose(f), 0);
	r = hc_call(&d, "start", "x");
	ck_assert(hc_ok(r));
	json_decref(r);
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf) - 1, 10000);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "blocking=1 ") != NULL, "answer: %s", buf);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("crash");
	tcase_add_loop_test(tc, crash_replaced, 0, (int)(sizeof(models) / sizeof(models[0])));
	suite_add_tcase(s, tc);
	TCase *failed_tc = tcase_create("failed");
	tcase_add_test(failed_tc, failed_turns_clients_away);
	tcase_add_test(failed_tc, failed_exec_turns_clients_away);
	suite_add_tcase(s, failed_tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
