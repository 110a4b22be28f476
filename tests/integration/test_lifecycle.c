/* Stopping and supervision through the real daemon: SIGTERM drains open connections,
 * the shutdown timeout ends the ones that do not finish, a killed service process is
 * replaced, and --check-config judges files. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

START_TEST(sigterm_drains)
{
	struct daemon d = {0};
	char buf[64];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  cat:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/cat]\n    shutdown_timeout: 30s\n",
	                         port),
	                 0);
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	h_write_all(fd, "1", 1);
	ck_assert_int_eq(h_read_n(fd, buf, 1, 5000), 0);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert_int_eq(h_wait_notify(&d, "STOPPING=1", 5000), 0);
	/* New connections are refused once the listener is closed... */
	ck_assert(H_DEADLINE_WAIT(h_refused("127.0.0.1", port), 10000));
	/* ...while the open one is still served. */
	h_write_all(fd, "2", 1);
	ck_assert_int_eq(h_read_n(fd, buf, 1, 5000), 0);
	ck_assert_int_eq(buf[0], '2');
	ck_assert_int_gt(d.pid, 0);
	close(fd);
	/* The daemon leaves as soon as the last connection is gone, well before 30 s. */
	long long t0 = h_now_ms();
	ck_assert_int_eq(h_stop(&d), 0);
	ck_assert(h_now_ms() - t0 < 20000);
}
END_TEST

START_TEST(shutdown_timeout_kills)
{
	struct daemon d = {0};
	char buf[8];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  cat:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/cat]\n    shutdown_timeout: 300ms\n",
	                         port),
	                 0);
	int fd = h_connect("127.0.0.1", port);
	h_write_all(fd, "1", 1);
	ck_assert_int_eq(h_read_n(fd, buf, 1, 5000), 0);
	d.allowed_errors[0] = "shutdown timeout";
	/* h_stop waits for exit with a deadline; the held connection must not block it. */
	ck_assert_int_eq(h_stop(&d), 0);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 0); /* EOF: killed */
	close(fd);
}
END_TEST

START_TEST(killed_service_process_returns)
{
	struct daemon d = {0};
	char buf[64];
	pid_t pids[4];
	int port = h_free_port();
	ck_assert_int_eq(
	        h_start(&d, "services:\n  echo: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	ck_assert_int_eq(h_children(d.pid, pids, 4), 1);
	pid_t old = pids[0];
	d.allowed_errors[0] = "killed by signal";
	ck_assert_int_eq(kill(old, SIGKILL), 0);
	ck_assert(H_DEADLINE_WAIT(h_children(d.pid, pids, 4) == 1 && pids[0] != old, 10000));
	ck_assert(h_log_wait(&d, "restarting in", 10000));
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "back\n", true, buf, sizeof(buf), 5000), 5);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static int run_check(const char *yaml, char *out, size_t outlen)
{
	char dir[] = "/tmp/ss-check.XXXXXX", path[64];
	int pfd[2];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	FILE *f = fopen(path, "w");
	fputs(yaml, f);
	fclose(f);
	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execl(h_binary(), h_binary(), "--check-config", "-c", path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	ssize_t n = h_read_all(pfd[0], out, outlen - 1, 10000);
	out[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	unlink(path);
	rmdir(dir);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(check_config)
{
	char out[4096];
	ck_assert_int_eq(run_check("defaults: {user: nobody}\nservices:\n  e: {listen: "
	                           "['127.0.0.1:9'], builtin: echo}\n",
	                           out, sizeof(out)),
	                 0);
	ck_assert_ptr_nonnull(strstr(out, "configuration OK"));
	/* Every error, each with line:col. */
	ck_assert_int_eq(run_check("defaults: {user: nobody}\nservices:\n"
	                           "  a: {listen: ['127.0.0.1:9'], builtin: nosuch}\n"
	                           "  b: {listen: ['127.0.0.1:99999'], builtin: echo}\n",
	                           out, sizeof(out)),
	                 1);
	ck_assert_ptr_nonnull(strstr(out, "c.yaml:3:"));
	ck_assert_ptr_nonnull(strstr(out, "c.yaml:4:"));
	ck_assert_ptr_nonnull(strstr(out, "nosuch"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");
	tcase_add_test(tc, sigterm_drains);
	tcase_add_test(tc, shutdown_timeout_kills);
	tcase_add_test(tc, killed_service_process_returns);
	tcase_add_test(tc, check_config);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
