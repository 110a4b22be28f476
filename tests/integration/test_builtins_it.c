/* The five built-ins through the real daemon on loopback: the exact bytes, many clients
 * at once, and clients that misbehave. */
#include <check.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d = {0};
static int p_echo, p_discard, p_chargen, p_daytime, p_time;

static void start(void)
{
	p_echo = h_free_port();
	p_discard = h_free_port();
	p_chargen = h_free_port();
	p_daytime = h_free_port();
	p_time = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  echo: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                         "  discard: {listen: ['127.0.0.1:%d'], builtin: discard}\n"
	                         "  chargen: {listen: ['127.0.0.1:%d'], builtin: chargen}\n"
	                         "  daytime: {listen: ['127.0.0.1:%d'], builtin: daytime}\n"
	                         "  time: {listen: ['127.0.0.1:%d'], builtin: time}\n",
	                         p_echo, p_discard, p_chargen, p_daytime, p_time),
	                 0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

START_TEST(echo_bytes)
{
	char buf[256];
	ssize_t n = h_exchange("127.0.0.1", p_echo, "hello, world\r\n\x01\xff", true, buf,
	                       sizeof(buf), 5000);
	ck_assert_int_eq(n, 16);
	ck_assert(memcmp(buf, "hello, world\r\n\x01\xff", 16) == 0);
}
END_TEST

START_TEST(echo_large)
{
	/* More than the driver's high-water mark in both directions at once. */
	size_t len = 1 << 20;
	char *out = malloc(len), *in = malloc(len);
	int fd = h_connect("127.0.0.1", p_echo);
	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(i * 7 + i / 251);
	pid_t pid = fork();
	if (pid == 0) {
		_exit(h_write_all(fd, out, len) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(h_read_n(fd, in, len, 20000), 0);
	ck_assert(memcmp(in, out, len) == 0);
	int st;
	waitpid(pid, &st, 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
	free(out);
	free(in);
}
END_TEST

START_TEST(discard_bytes)
{
	char buf[64];
	ssize_t n = h_exchange("127.0.0.1", p_discard, "anything at all\n", true, buf, sizeof(buf),
	                       5000);
	ck_assert_int_eq(n, 0);
}
END_TEST

static void chargen_expect(char *line, int k)
{
	for (int i = 0; i < 72; i++)
		line[i] = (char)(32 + (k + i) % 95);
	line[72] = '\r';
	line[73] = '\n';
}

START_TEST(chargen_bytes)
{
	enum { LINES = 200 };
	static char got[LINES * 74];
	char want[74];
	int fd = h_connect("127.0.0.1", p_chargen);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_read_n(fd, got, sizeof(got), 5000), 0);
	close(fd);
	for (int k = 0; k < LINES; k++) {
		chargen_expect(want, k);
		ck_assert_msg(memcmp(got + k * 74, want, 74) == 0, "line %d differs", k);
	}
}
END_TEST

START_TEST(daytime_bytes)
{
	char buf[128];
	struct tm tm = {0};
	time_t now = time(NULL);
	ssize_t n = h_exchange("127.0.0.1", p_daytime, NULL, false, buf, sizeof(buf) - 1, 5000);
	ck_assert_int_eq(n, 26); /* "Mon Nov 23 16:29:27 2026\r\n" */
	buf[n] = '\0';
	ck_assert(buf[24] == '\r' && buf[25] == '\n');
	char *end = strptime(buf, "%a %b %e %H:%M:%S %Y", &tm);
	ck_assert_ptr_nonnull(end);
	ck_assert_ptr_eq(end, buf + 24);
	tm.tm_isdst = -1;
	ck_assert(labs((long)(mktime(&tm) - now)) <= 5);
}
END_TEST

START_TEST(time_bytes)
{
	unsigned char buf[16];
	ssize_t n = h_exchange("127.0.0.1", p_time, NULL, false, (char *)buf, sizeof(buf), 5000);
	ck_assert_int_eq(n, 4);
	uint32_t v =
	        (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	uint32_t now = (uint32_t)((uint64_t)time(NULL) + 2208988800ULL);
	ck_assert(v - now + 5 <= 10);
}
END_TEST

static void *echo_client(void *arg)
{
	char msg[64], buf[64];
	snprintf(msg, sizeof(msg), "client %ld says hi\n", (long)(intptr_t)arg);
	ssize_t n = h_exchange("127.0.0.1", p_echo, msg, true, buf, sizeof(buf), 10000);
	return (void *)(intptr_t)(n == (ssize_t)strlen(msg) && memcmp(buf, msg, (size_t)n) == 0);
}

START_TEST(many_clients)
{
	enum { N = 50 };
	pthread_t t[N];
	int ok = 0;
	for (long i = 0; i < N; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, echo_client, (void *)(intptr_t)i), 0);
	for (int i = 0; i < N; i++) {
		void *r;
		pthread_join(t[i], &r);
		ok += (int)(intptr_t)r;
	}
	ck_assert_int_eq(ok, N);
}
END_TEST

START_TEST(misbehaving_clients)
{
	char buf[64];
	/* Connect and vanish; reset mid-stream; a chargen client that never reads. */
	for (int i = 0; i < 20; i++) {
		int fd = h_connect("127.0.0.1", p_echo);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	for (int i = 0; i < 5; i++) {
		int fd = h_connect("127.0.0.1", p_chargen);
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		ck_assert_int_ge(fd, 0);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		ck_assert_int_eq(h_read_n(fd, buf, 10, 5000), 0);
		close(fd); /* RST */
	}
	int idle = h_connect("127.0.0.1", p_chargen);
	ck_assert_int_ge(idle, 0);
	int garbage = h_connect("127.0.0.1", p_daytime);
	ck_assert_int_ge(garbage, 0);
	h_write_all(garbage, "\x00\xff\xfe garbage \r\n\r\n", 16);
	close(garbage);
	/* Everything still answers. */
	ssize_t n = h_exchange("127.0.0.1", p_echo, "still here\n", true, buf, sizeof(buf), 5000);
	ck_assert_int_eq(n, 11);
	n = h_exchange("127.0.0.1", p_time, NULL, false, buf, sizeof(buf), 5000);
	ck_assert_int_eq(n, 4);
	close(idle);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builtins (daemon)");
	TCase *tc = tcase_create("bytes");
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(tc, echo_bytes);
	tcase_add_test(tc, echo_large);
	tcase_add_test(tc, discard_bytes);
	tcase_add_test(tc, chargen_bytes);
	tcase_add_test(tc, daytime_bytes);
	tcase_add_test(tc, time_bytes);
	tcase_add_test(tc, many_clients);
	tcase_add_test(tc, misbehaving_clients);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
