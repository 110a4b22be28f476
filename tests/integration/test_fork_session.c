/* Programs of the fork model each lead a session of its own (as under xinetd, or
 * systemd's Accept=yes: the scheduler's autogroups are per session), and still end
 * with the service when it is stopped. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

START_TEST(program_leads_its_session)
{
	struct daemon d = {0};
	char buf[128];
	long pid = 0, sid = -1;
	int port = h_free_port();

	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n  s:\n    listen: ['127.0.0.1:%d']\n"
	                "    exec: [/bin/sh, -c, 'set -- $(cat /proc/$$/stat); echo $1 $6']\n",
	                port),
	        0);
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf) - 1, 20000);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_int_eq(sscanf(buf, "%ld %ld", &pid, &sid), 2);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(sid, pid);
	ck_assert_int_ne(sid, (long)getsid(d.pid));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Ended: gone, or a zombie its new parent has not reaped yet. */
static bool ended(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	bool zombie = false;

	if (kill(pid, 0) < 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	if (fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');
		zombie = p && p[1] == ' ' && p[2] == 'Z';
	}
	fclose(f);
	return zombie;
}

/* Out of the service's process group, a program that outlasts shutdown_timeout is
 * still killed: with its acceptor. */
START_TEST(program_killed_at_stop)
{
	struct daemon d = {0};
	char buf[32];
	int port = h_free_port();

	d.allowed_errors[0] = "shutdown timeout";
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/sh, -c, 'echo $$; exec sleep 600']\n"
	                         "    shutdown_timeout: 1s\n",
	                         port),
	                 0);
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	size_t n = 0;
	/* The program's pid, one line. */
	while (n < sizeof(buf) - 1) {
		ck_assert_int_eq(h_read_n(fd, buf + n, 1, 20000), 0);
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	pid_t pid = (pid_t)atol(buf);
	ck_assert_int_gt(pid, 1);
	ck_assert_int_eq(h_stop(&d), 0);
	bool gone = H_DEADLINE_WAIT(ended(pid), 10000);
	if (!gone)
		kill(pid, SIGKILL);
	ck_assert(gone);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fork programs' sessions");
	TCase *tc = tcase_create("session");

	tcase_add_test(tc, program_leads_its_session);
	tcase_add_test(tc, program_killed_at_stop);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
