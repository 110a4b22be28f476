/* SIGHUP reload through the real daemon: services added, changed and removed while
 * another keeps serving without a refused connection; a bad file keeps the old
 * configuration; an unchanged service keeps its process. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static int p_steady, p_other;
static atomic_int stop_flag, ok_count, fail_count;

static void *steady_client(void *arg)
{
	/* Bounded in count and time. */
	long long end = h_now_ms() + 60000;
	for (int i = 0; i < 100000 && !atomic_load(&stop_flag) && h_now_ms() < end; i++) {
		char buf[32];
		ssize_t n =
		        h_exchange("127.0.0.1", p_steady, "ping\n", true, buf, sizeof(buf), 5000);
		if (n == 5 && memcmp(buf, "ping\n", 5) == 0)
			atomic_fetch_add(&ok_count, 1);
		else
			atomic_fetch_add(&fail_count, 1);
	}
	return NULL;
}

#define BASE "services:\n  steady: {listen: ['127.0.0.1:%d'], builtin: echo}\n"

START_TEST(reload_add_change_remove)
{
	struct daemon d = {0};
	pthread_t t;
	char buf[256];

	p_steady = h_free_port();
	p_other = h_free_port();
	ck_assert_int_eq(h_start(&d, BASE, p_steady), 0);
	pid_t steady_pid = h_only_child(d.pid);
	ck_assert_int_gt(steady_pid, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, steady_client, NULL), 0);
	ck_assert(H_DEADLINE_WAIT(atomic_load(&ok_count) > 10, 10000));

	/* Add. */
	ck_assert_int_eq(h_write_config(&d,
	                                BASE "  other: {listen: ['127.0.0.1:%d'], builtin: "
	                                     "daytime}\n",
	                                p_steady, p_other),
	                 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert_int_eq(h_exchange("127.0.0.1", p_other, NULL, false, buf, sizeof(buf), 5000), 26);

	/* Change: the same address now runs another built-in. */
	ck_assert_int_eq(h_write_config(&d,
	                                BASE "  other: {listen: ['127.0.0.1:%d'], builtin: "
	                                     "time}\n",
	                                p_steady, p_other),
	                 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert_int_eq(h_exchange("127.0.0.1", p_other, NULL, false, buf, sizeof(buf), 5000), 4);

	/* A broken file: the old configuration keeps serving and the error names the spot. */
	d.allowed_errors[0] = "superserverd.yaml:4:";
	d.allowed_errors[1] = "reload failed";
	ck_assert_int_eq(h_write_config(&d,
	                                BASE "  other: {listen: ['127.0.0.1:%d'], builtin: "
	                                     "nosuch}\n",
	                                p_steady, p_other),
	                 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(h_log_wait(&d, "superserverd.yaml:4:", 5000));
	ck_assert(h_log_wait(&d, "reload failed", 5000));
	ck_assert_ptr_nonnull(strstr(d.notify_seen, "STATUS=reload failed"));
	ck_assert_int_eq(h_exchange("127.0.0.1", p_other, NULL, false, buf, sizeof(buf), 5000), 4);

	/* Remove. */
	ck_assert_int_eq(h_write_config(&d, BASE, p_steady), 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(H_DEADLINE_WAIT(h_refused("127.0.0.1", p_other), 10000));

	int before = atomic_load(&ok_count);
	ck_assert(H_DEADLINE_WAIT(atomic_load(&ok_count) > before + 10, 10000));
	atomic_store(&stop_flag, 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(atomic_load(&fail_count), 0);
	/* The unchanged service was never restarted. */
	ck_assert(H_DEADLINE_WAIT(h_only_child(d.pid) == steady_pid, 5000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(bad_config_at_start)
{
	struct daemon d = {0};
	int port = h_free_port();
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n  x: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                           "bogus: 1}\n",
	                           port),
	                 0);
	ck_assert_int_eq(h_spawn(&d), 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 30000), -1);
	ck_assert_int_eq(d.pid, -1); /* it exited */
	ck_assert(WIFEXITED(d.exit_status) && WEXITSTATUS(d.exit_status) == 1);
	ck_assert(h_log_wait(&d, "superserverd.yaml:3:", 10000));
	ck_assert(h_log_wait(&d, "bogus", 10000));
	h_kill(&d);
}
END_TEST

START_TEST(address_in_use_at_start)
{
	struct daemon d = {0};
	int port = h_free_port();
	int blocker = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons(port),
	                          .sin_addr.s_addr = htonl(0x7f000001)};
	ck_assert_int_eq(bind(blocker, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(blocker, 1), 0);
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n  taken: {listen: ['127.0.0.1:%d'], builtin: "
	                           "echo}\n",
	                           port),
	                 0);
	ck_assert_int_eq(h_spawn(&d), 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 30000), -1);
	ck_assert(WIFEXITED(d.exit_status) && WEXITSTATUS(d.exit_status) == 1);
	ck_assert(h_log_wait(&d, "service 'taken'", 10000));
	ck_assert(h_log_wait(&d, "Address already in use", 10000));
	close(blocker);
	h_kill(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");
	tcase_add_test(tc, reload_add_change_remove);
	tcase_add_test(tc, bad_config_at_start);
	tcase_add_test(tc, address_in_use_at_start);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
