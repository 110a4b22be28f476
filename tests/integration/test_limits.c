/* Limits and access through the real daemon, under every model: max_connections
 * (wait and reject), per_source from several loopback sources with slots coming back
 * however a connection ends, per-source rate under a flood, access lists. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static const char *const models[] = {
        "{model: fork}",
        "{model: prefork, start: 4, max_workers: 8}",
        "{model: threadpool, processes: 2, threads: 4}",
        "{model: event, workers: 2}",
};
#define N_MODELS (int)(sizeof(models) / sizeof(models[0]))

/* Connects from a chosen loopback source (127.0.0.2, ...). */
static int connect_from(const char *src, const char *dst, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET},
	                   b = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, src, &a.sin_addr);
	inet_pton(AF_INET, dst, &b.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    connect(fd, (struct sockaddr *)&b, sizeof(b)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One byte out, the same byte back: the connection is being served. */
static bool served(int fd, int timeout_ms)
{
	char c;
	return fd >= 0 && h_write_all(fd, "@", 1) == 0 && h_read_n(fd, &c, 1, timeout_ms) == 0 &&
	       c == '@';
}

/* Rejected: EOF (after an optional banner) without an echo of the probe. */
static bool rejected(int fd, char *banner, size_t len)
{
	if (fd < 0)
		return true;
	h_write_all(fd, "@", 1);
	ssize_t n = h_read_all(fd, banner, len - 1, 5000);
	if (n < 0)
		return false;
	banner[n] = '\0';
	return strchr(banner, '@') == NULL;
}

START_TEST(max_connections_wait)
{
	struct daemon d = {0};
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: %s, limits: {max_connections: 2}}\n",
	                         port, models[_i]),
	                 0);
	int a = h_connect("127.0.0.1", port), b = h_connect("127.0.0.1", port);
	ck_assert(served(a, 5000));
	ck_assert(served(b, 5000));
	/* The third is queued by the kernel, not refused, and not served while full. */
	int c = h_connect("127.0.0.1", port);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(h_write_all(c, "c", 1), 0);
	char ch;
	ck_assert_int_eq(h_read_n(c, &ch, 1, 300), -1);
	close(a);
	ck_assert_int_eq(h_read_n(c, &ch, 1, 5000), 0);
	ck_assert_int_eq(ch, 'c');
	close(b);
	close(c);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(max_connections_reject)
{
	struct daemon d = {0};
	char banner[128];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: %s, limits: {max_connections: 1, overload: reject, "
	                         "banner: 'busy, try later'}}\n",
	                         port, models[_i]),
	                 0);
	int a = h_connect("127.0.0.1", port);
	ck_assert(served(a, 5000));
	int b = h_connect("127.0.0.1", port);
	ck_assert(rejected(b, banner, sizeof(banner)));
	ck_assert_str_eq(banner, "busy, try later\r\n");
	close(b);
	close(a);
	/* The slot is free again. */
	ck_assert(H_DEADLINE_WAIT(({
		                          int fd = h_connect("127.0.0.1", port);
		                          bool ok = served(fd, 2000);
		                          if (fd >= 0)
			                          close(fd);
		                          ok;
	                          }),
	                          5000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(per_source)
{
	struct daemon d = {0};
	char banner[64];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  e: {listen: ['0.0.0.0:%d'], builtin: echo, "
	                         "mpm: %s, limits: {per_source: 2}}\n",
	                         port, models[_i]),
	                 0);
	int a1 = connect_from("127.0.0.2", "127.0.0.1", port);
	int a2 = connect_from("127.0.0.2", "127.0.0.1", port);
	ck_assert(served(a1, 5000));
	ck_assert(served(a2, 5000));
	/* A third from the same source is turned away; another source is not affected. */
	int a3 = connect_from("127.0.0.2", "127.0.0.1", port);
	ck_assert(rejected(a3, banner, sizeof(banner)));
	close(a3);
	int b1 = connect_from("127.0.0.3", "127.0.0.1", port);
	ck_assert(served(b1, 5000));
	/* Killed mid-connection (reset): the slot comes back. */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(a1, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(a1);
	ck_assert(H_DEADLINE_WAIT(({
		                          int fd = connect_from("127.0.0.2", "127.0.0.1", port);
		                          bool ok = served(fd, 1000);
		                          if (fd >= 0)
			                          close(fd);
		                          ok;
	                          }),
	                          5000));
	close(a2);
	close(b1);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A handler crash ends the connection (and under threadpool/event the process):
 * the source's slot still comes back. */
START_TEST(per_source_after_crash)
{
	struct daemon d = {0};
	char mod[512], buf[16];
	int port = h_free_port();
	const char *dir = getenv("SS_MODULE_DIR");
	ck_assert_ptr_nonnull(dir);
	snprintf(mod, sizeof(mod), "%s/crashtest.so", dir);
	d.allowed_errors[0] = "killed by signal";
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  c: {listen: ['0.0.0.0:%d'], module: '%s', "
	                         "mpm: %s, limits: {per_source: 1}}\n",
	                         port, mod, models[_i]),
	                 0);
	int a = connect_from("127.0.0.2", "127.0.0.1", port);
	ck_assert(served(a, 5000));
	ck_assert_int_eq(h_write_all(a, "crash\n", 6), 0);
	ck_assert_int_le(h_read_all(a, buf, sizeof(buf), 5000), 0);
	close(a);
	ck_assert(H_DEADLINE_WAIT(({
		                          int fd = connect_from("127.0.0.2", "127.0.0.1", port);
		                          bool ok = served(fd, 500);
		                          if (fd >= 0)
			                          close(fd);
		                          ok;
	                          }),
	                          10000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(per_source_rate_flood)
{
	struct daemon d = {0};
	int port = h_free_port();
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n  t: {listen: ['0.0.0.0:%d'], builtin: time, "
	                "mpm: %s, limits: {per_source_rate: 50/s, per_source_burst: 20}}\n",
	                port, models[_i]),
	        0);
	/* A flood of connect attempts from one source (bounded: 3000 or 10 s). */
	int flood_ok = 0, flood_no = 0, other_ok = 0;
	long long end = h_now_ms() + 10000;
	for (int i = 0; i < 3000 && h_now_ms() < end; i++) {
		char buf[8];
		int fd = connect_from("127.0.0.2", "127.0.0.1", port);
		ssize_t n = fd >= 0 ? h_read_all(fd, buf, sizeof(buf), 2000) : -1;
		if (fd >= 0)
			close(fd);
		if (n == 4)
			flood_ok++;
		else
			flood_no++;
		/* Meanwhile another source, well within its own rate, is served every time. */
		if (i % 200 == 0) {
			fd = connect_from("127.0.0.3", "127.0.0.1", port);
			n = fd >= 0 ? h_read_all(fd, buf, sizeof(buf), 10000) : -1;
			if (fd >= 0)
				close(fd);
			other_ok += n == 4;
			ck_assert_int_eq(n, 4);
		}
	}
	ck_assert_int_gt(flood_no, flood_ok);
	ck_assert_int_gt(other_ok, 0);
	/* The flood is over: soon the flooding source is served again. */
	long long t0 = h_now_ms();
	ck_assert(H_DEADLINE_WAIT(({
		                          char buf[8];
		                          int fd = connect_from("127.0.0.2", "127.0.0.1", port);
		                          ssize_t n =
		                                  fd >= 0 ? h_read_all(fd, buf, sizeof(buf), 1000)
		                                          : -1;
		                          if (fd >= 0)
			                          close(fd);
		                          n == 4;
	                          }),
	                          10000));
	/* The bucket refills a token every 20 ms: served again "soon", with room for a
	 * loaded machine; a source banned for good fails the wait. */
	ck_assert_int_le(h_now_ms() - t0, 5000);
	ck_assert(h_log_wait(&d, "rejecting connections over a source's connection rate", 5000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(access_lists)
{
	struct daemon d = {0};
	char buf[8];
	int p4 = h_free_port(), p6 = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  v4: {listen: ['0.0.0.0:%d'], builtin: time, mpm: %s,\n"
	                         "       access: {allow: [127.0.0.0/8], deny: [127.0.0.3/32]}}\n"
	                         "  v6: {listen: ['[::1]:%d'], builtin: time, mpm: %s,\n"
	                         "       access: {deny: ['::1/128']}}\n",
	                         p4, models[_i], p6, models[_i]),
	                 0);
	int fd = connect_from("127.0.0.2", "127.0.0.1", p4);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 4);
	close(fd);
	/* The longest match (the /32 deny) wins over the /8 allow; a refusal says nothing. */
	fd = connect_from("127.0.0.3", "127.0.0.1", p4);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 0);
	close(fd);
	fd = h_connect("::1", p6);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 0);
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("limits and access");
	TCase *tc = tcase_create("limits");
	tcase_add_loop_test(tc, max_connections_wait, 0, N_MODELS);
	tcase_add_loop_test(tc, max_connections_reject, 0, N_MODELS);
	tcase_add_loop_test(tc, per_source, 0, N_MODELS);
	tcase_add_loop_test(tc, per_source_after_crash, 0, N_MODELS);
	tcase_add_loop_test(tc, per_source_rate_flood, 0, N_MODELS);
	tcase_add_loop_test(tc, access_lists, 0, N_MODELS);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
