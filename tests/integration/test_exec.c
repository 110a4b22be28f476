/* exec services through the real daemon: the connection on fd 0/1, the ucspi and
 * systemd environment, stderr to the log and never to the client, max_children. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

START_TEST(cat_echoes)
{
	struct daemon d = {0};
	char buf[128];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  cat:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/cat]\n",
	                         port),
	                 0);
	ssize_t n = h_exchange("127.0.0.1", port, "through cat\n", true, buf, sizeof(buf), 5000);
	ck_assert_int_eq(n, 12);
	ck_assert(memcmp(buf, "through cat\n", 12) == 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static const char *env_value(const char *env, const char *name, char *out, size_t len)
{
	char key[64];
	snprintf(key, sizeof(key), "\n%s=", name);
	const char *p = strstr(env, key);
	if (!p)
		return NULL;
	p += strlen(key);
	size_t n = strcspn(p, "\n");
	snprintf(out, len, "%.*s", (int)n, p);
	return out;
}

START_TEST(env_vars)
{
	struct daemon d = {0};
	char buf[8192], v[128];
	int port = h_free_port();
	setenv("SS_TEST_PASSED", "through", 1);
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  env:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/usr/bin/env]\n"
	                         "    environment: {GREETING: hello, OVERRIDE: first}\n"
	                         "    pass_environment: [SS_TEST_PASSED, SS_TEST_UNSET]\n",
	                         port),
	                 0);
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	getsockname(fd, (struct sockaddr *)&me, &len);
	buf[0] = '\n';
	ssize_t n = h_read_all(fd, buf + 1, sizeof(buf) - 2, 5000);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n + 1] = '\0';
	char myport[16], theirport[16];
	snprintf(myport, sizeof(myport), "%d", ntohs(me.sin_port));
	snprintf(theirport, sizeof(theirport), "%d", port);
	ck_assert_str_eq(env_value(buf, "PROTO", v, sizeof(v)), "TCP");
	ck_assert_str_eq(env_value(buf, "TCPREMOTEIP", v, sizeof(v)), "127.0.0.1");
	ck_assert_str_eq(env_value(buf, "TCPREMOTEPORT", v, sizeof(v)), myport);
	ck_assert_str_eq(env_value(buf, "TCPLOCALIP", v, sizeof(v)), "127.0.0.1");
	ck_assert_str_eq(env_value(buf, "TCPLOCALPORT", v, sizeof(v)), theirport);
	ck_assert_str_eq(env_value(buf, "REMOTE_ADDR", v, sizeof(v)), "127.0.0.1");
	ck_assert_str_eq(env_value(buf, "REMOTE_PORT", v, sizeof(v)), myport);
	ck_assert_str_eq(env_value(buf, "GREETING", v, sizeof(v)), "hello");
	ck_assert_str_eq(env_value(buf, "SS_TEST_PASSED", v, sizeof(v)), "through");
	ck_assert_ptr_null(env_value(buf, "SS_TEST_UNSET", v, sizeof(v)));
	ck_assert_ptr_nonnull(env_value(buf, "PATH", v, sizeof(v)));
	/* Nothing of the daemon's own environment leaks unless passed. */
	ck_assert_ptr_null(env_value(buf, "NOTIFY_SOCKET", v, sizeof(v)));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(stderr_goes_to_log)
{
	struct daemon d = {0};
	char buf[256];
	int port = h_free_port();
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n  noisy:\n    listen: ['127.0.0.1:%d']\n"
	                "    exec: [/bin/sh, -c, 'echo secret-diagnostic >&2; i=0; "
	                "while [ $i -lt 400 ]; do echo noise-line-$i >&2; i=$((i+1)); done; "
	                "printf %%05000d 7 >&2; echo >&2; echo last-line >&2; echo out']\n",
	                port),
	        0);
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf) - 1, 5000);
	ck_assert_int_eq(n, 4);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "out\n");
	ck_assert(h_log_wait(&d, "noisy: [", 30000));
	ck_assert(h_log_wait(&d, "secret-diagnostic", 30000));
	/* Past the relay's first read (2 KiB): many lines, and one longer than its buffer.
	 * Generous: 400 lines through a sanitizer build on a loaded machine took over 10 s. */
	ck_assert(h_log_wait(&d, "noise-line-0\n", 30000));
	ck_assert(h_log_wait(&d, "noise-line-399\n", 30000));
	ck_assert(h_log_wait(&d, "00007\n", 30000));
	ck_assert(h_log_wait(&d, "last-line", 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A program gets its connection and its stderr, and none of the descriptors the
 * acceptor holds for the other programs running (their sockets, their pipes). */
START_TEST(program_gets_three_descriptors)
{
	struct daemon d = {0};
	char buf[256];
	int port = h_free_port(), held[4];
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  fds:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/sh, -c, 'echo ready; read x; "
	                         "[ \"$x\" = list ] && ls /proc/$$/fd']\n",
	                         port),
	                 0);
	for (int i = 0; i < 4; i++) {
		held[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(held[i], 0);
		ck_assert_int_eq(h_read_n(held[i], buf, 6, 10000), 0); /* its program runs */
	}
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, "list\n", 5), 0);
	ssize_t n = h_read_all(fd, buf, sizeof(buf) - 1, 10000);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "ready\n0\n1\n2\n");
	for (int i = 0; i < 4; i++)
		close(held[i]);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(max_children_queues)
{
	struct daemon d = {0};
	char buf[16];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  cat:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/cat]\n    mpm: {model: fork, max_children: 2}\n",
	                         port),
	                 0);
	int a = h_connect("127.0.0.1", port), b = h_connect("127.0.0.1", port);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	/* Both slots are taken once each has answered. */
	h_write_all(a, "a", 1);
	h_write_all(b, "b", 1);
	ck_assert_int_eq(h_read_n(a, buf, 1, 5000), 0);
	ck_assert_int_eq(h_read_n(b, buf, 1, 5000), 0);
	/* The third client is accepted by the kernel (backlog), not refused, and is not
	 * served while the limit holds. */
	int c = h_connect("127.0.0.1", port);
	ck_assert_int_ge(c, 0);
	h_write_all(c, "c", 1);
	ck_assert_int_eq(h_read_n(c, buf, 1, 300), -1);
	/* A slot frees: the waiting client is served. */
	close(a);
	ck_assert_int_eq(h_read_n(c, buf, 1, 5000), 0);
	ck_assert_int_eq(buf[0], 'c');
	close(b);
	close(c);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(unix_socket_service)
{
	struct daemon d = {0};
	char buf[1024], path[128];
	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	snprintf(path, sizeof(path), "%s/cat.sock", d.dir);
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n  cat:\n    listen: [{address: 'unix:%s', "
	                                "mode: '0666'}]\n    exec: [/usr/bin/env]\n",
	                                path),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);
	ssize_t n = h_exchange(path, 0, NULL, false, buf, sizeof(buf) - 1, 5000);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "PROTO=UNIX"));
	/* The peer's credentials: this test process's. */
	char want[64];
	snprintf(want, sizeof(want), "\nUNIXREMOTEPID=%d\n", (int)getpid());
	ck_assert_ptr_nonnull(strstr(buf, want));
	snprintf(want, sizeof(want), "\nUNIXREMOTEEUID=%u\n", (unsigned)geteuid());
	ck_assert_ptr_nonnull(strstr(buf, want));
	snprintf(want, sizeof(want), "\nUNIXREMOTEEGID=%u\n", (unsigned)getegid());
	ck_assert_ptr_nonnull(strstr(buf, want));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("exec services");
	TCase *tc = tcase_create("exec");
	tcase_add_test(tc, cat_echoes);
	tcase_add_test(tc, env_vars);
	tcase_add_test(tc, stderr_goes_to_log);
	tcase_add_test(tc, program_gets_three_descriptors);
	tcase_add_test(tc, max_children_queues);
	tcase_add_test(tc, unix_socket_service);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
