/*
 * Banners as in xinetd, under every model: the exact bytes an admitted client reads
 * (banner, then banner_success, then the service), also when the greeting is larger
 * than what the socket takes at once; what a client turned away reads (banner, then
 * banner_fail, or limits.banner without one) for access lists, per_source, per-source
 * rates and overload: reject; a reload that picks up an edited file, and one that
 * keeps the old configuration when the file became unreadable.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* How each model serves a connection: a handler, or (fork) a program. */
static const struct {
	const char *mpm;
	const char *handler;
} models[] = {
        {"fork", "builtin: echo"},
        {"fork", "exec: /bin/cat"},
        {"{model: prefork, start: 2, max_workers: 8}", "builtin: echo"},
        {"{model: threadpool, processes: 1, threads: 4}", "builtin: echo"},
        {"{model: event, workers: 1}", "builtin: echo"},
};
#define N_MODELS (int)(sizeof(models) / sizeof(models[0]))

/* Larger than the socket's send buffer (the listener's send_buffer, 4K), so most of it
 * waits in the service while the client does not read. */
#define BIG_LEN 60000

static void put_file(const struct daemon *d, const char *name, const char *data, size_t len)
{
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void put_text(const struct daemon *d, const char *name, const char *text)
{
	put_file(d, name, text, strlen(text));
}

/* A client whose receive buffer is small: the service cannot send a big banner at once. */
static int connect_small(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), sz = 2048;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends MSG, half-closes and reads until EOF: what the client got, all of it. */
static ssize_t talk(int fd, const char *msg, char *buf, size_t cap)
{
	ssize_t n;

	if (fd < 0)
		return -1;
	if (msg && (h_write_all(fd, msg, strlen(msg)) < 0 || shutdown(fd, SHUT_WR) < 0)) {
		close(fd);
		return -1;
	}
	n = h_read_all(fd, buf, cap, 20000);
	close(fd);
	return n;
}

static void assert_got(const char *what, const char *buf, ssize_t n, const char *want,
                       size_t want_len)
{
	ck_assert_msg(n == (ssize_t)want_len, "%s: %zd bytes, expected %zu", what, n, want_len);
	ck_assert_msg(memcmp(buf, want, want_len) == 0, "%s: other bytes: '%.*s'", what,
	              (int)(n < 200 ? n : 200), buf);
}

START_TEST(greeting_every_model)
{
	struct daemon d = {0};
	int small = h_free_port(), big = h_free_port();
	static char bigdata[BIG_LEN], want[BIG_LEN + 64], buf[BIG_LEN + 256];
	ssize_t n;

	for (int i = 0; i < BIG_LEN; i++)
		bigdata[i] = (char)('a' + i % 26);
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	put_text(&d, "b", "welcome\r\n");
	put_text(&d, "s", "you are in\r\n");
	put_file(&d, "big", bigdata, BIG_LEN);
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  small: {listen: '127.0.0.1:%d', %s, mpm: %s,\n"
	                       "          banner: %s/b, banner_success: %s/s}\n"
	                       "  big: {listen: {address: '127.0.0.1:%d', send_buffer: 4K}, %s,\n"
	                       "        mpm: %s,\n"
	                       "        banner: %s/big, banner_success: %s/s}\n",
	                       small, models[_i].handler, models[_i].mpm, d.dir, d.dir, big,
	                       models[_i].handler, models[_i].mpm, d.dir, d.dir),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);

	n = talk(h_connect("127.0.0.1", small), "ping\n", buf, sizeof(buf));
	assert_got("small", buf, n, "welcome\r\nyou are in\r\nping\n", 26);

	/* The client reads nothing until it has written: the greeting waits meanwhile. */
	memcpy(want, bigdata, BIG_LEN);
	memcpy(want + BIG_LEN, "you are in\r\nping\n", 17);
	for (int k = 0; k < 3; k++) {
		n = talk(connect_small(big), "ping\n", buf, sizeof(buf));
		assert_got("big", buf, n, want, BIG_LEN + 17);
	}
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A relayed connection (forward) whose banner the socket did not take at once: the
 * rest reaches the client before the target's bytes, under every model. */
START_TEST(forward_after_big_banner)
{
	struct daemon d = {0};
	int target = h_free_port(), fw = h_free_port();
	static char bigdata[BIG_LEN], want[BIG_LEN + 64], buf[BIG_LEN + 256];
	ssize_t n;

	/* models[1] is a program: forward is a handler, so fork serves it as models[0]. */
	if (_i == 1)
		return;
	for (int i = 0; i < BIG_LEN; i++)
		bigdata[i] = (char)('A' + i % 26);
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	put_file(&d, "big", bigdata, BIG_LEN);
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  target: {listen: '127.0.0.1:%d', builtin: echo}\n"
	                       "  fw: {listen: {address: '127.0.0.1:%d', send_buffer: 4K},\n"
	                       "       builtin: forward, args: {target: '127.0.0.1:%d'},\n"
	                       "       mpm: %s, banner: %s/big}\n",
	                       target, fw, target, models[_i].mpm, d.dir),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);
	memcpy(want, bigdata, BIG_LEN);
	memcpy(want + BIG_LEN, "ping\n", 5);
	for (int k = 0; k < 3; k++) {
		n = talk(connect_small(fw), "ping\n", buf, sizeof(buf));
		assert_got("forward", buf, n, want, BIG_LEN + 5);
	}
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A refused client: EOF after exactly WANT. */
static void assert_refused(int port, const char *what, const char *want)
{
	char buf[256];
	ssize_t n = talk(h_connect("127.0.0.1", port), NULL, buf, sizeof(buf));

	assert_got(what, buf, n, want, strlen(want));
}

START_TEST(refusals_every_model)
{
	struct daemon d = {0};
	int deny = h_free_port(), ps = h_free_port(), rate = h_free_port(), full = h_free_port();
	int limb = h_free_port(), quiet = h_free_port();
	const char *h = models[_i].handler, *m = models[_i].mpm;
	char buf[256];

	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	put_text(&d, "b", "hello\r\n");
	put_text(&d, "s", "in\r\n");
	put_text(&d, "f", "go away\r\n");
	ck_assert_int_eq(
	        h_write_config(
	                &d,
	                "defaults: {user: nobody, banner: %s/b, banner_success: %s/s, "
	                "banner_fail: %s/f}\n"
	                "services:\n"
	                "  deny: {listen: '127.0.0.1:%d', %s, mpm: %s, access: {deny: "
	                "[127.0.0.0/8]}}\n"
	                "  ps: {listen: '127.0.0.1:%d', %s, mpm: %s, limits: {per_source: 1}}\n"
	                "  rate: {listen: '127.0.0.1:%d', %s, mpm: %s, limits: {per_source_rate: "
	                "1/h}}\n"
	                "  full: {listen: '127.0.0.1:%d', %s, mpm: %s, limits: {max_connections: "
	                "1, "
	                "overload: reject, banner: busy}}\n"
	                "  limb: {listen: '127.0.0.1:%d', %s, mpm: %s, banner_fail: '', limits: "
	                "{max_connections: 1, overload: reject, banner: busy}}\n"
	                "  quiet: {listen: '127.0.0.1:%d', %s, mpm: %s, banner_fail: '', access: "
	                "{deny: [127.0.0.0/8]}, limits: {banner: busy}}\n",
	                d.dir, d.dir, d.dir, deny, h, m, ps, h, m, rate, h, m, full, h, m, limb, h,
	                m, quiet, h, m),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);

	assert_refused(deny, "access", "hello\r\ngo away\r\n");

	int hold = h_connect("127.0.0.1", ps);
	ck_assert_int_eq(h_read_n(hold, buf, 11, 10000), 0);
	ck_assert(memcmp(buf, "hello\r\nin\r\n", 11) == 0);
	assert_refused(ps, "per_source", "hello\r\ngo away\r\n");
	close(hold);

	ck_assert_int_eq(talk(h_connect("127.0.0.1", rate), "x", buf, sizeof(buf)), 12);
	assert_refused(rate, "per_source_rate", "hello\r\ngo away\r\n");

	hold = h_connect("127.0.0.1", full);
	ck_assert_int_eq(h_read_n(hold, buf, 11, 10000), 0);
	assert_refused(full, "overload", "hello\r\ngo away\r\n");
	close(hold);

	/* Without banner_fail: limits.banner for an overload, nothing more for access. */
	hold = h_connect("127.0.0.1", limb);
	ck_assert_int_eq(h_read_n(hold, buf, 11, 10000), 0);
	assert_refused(limb, "overload, limits.banner", "hello\r\nbusy\r\n");
	close(hold);
	assert_refused(quiet, "access, limits.banner", "hello\r\n");
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(reload_rereads)
{
	struct daemon d = {0};
	int port = h_free_port();
	char buf[256], path[192];

	d.allowed_errors[0] = "cannot read the banner file";
	d.allowed_errors[1] = "reload failed";
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	put_text(&d, "b", "one\r\n");
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n  e: {listen: '127.0.0.1:%d', builtin: echo, "
	                                "mpm: event, banner: %s/b}\n",
	                                port, d.dir),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);
	assert_got("first", buf, talk(h_connect("127.0.0.1", port), "x", buf, sizeof(buf)),
	           "one\r\nx", 6);

	put_text(&d, "b", "two, longer\r\n");
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(H_DEADLINE_WAIT(talk(h_connect("127.0.0.1", port), "x", buf, sizeof(buf)) == 14 &&
	                                  memcmp(buf, "two, longer\r\nx", 14) == 0,
	                          10000));

	/* Unreadable now: the reload fails with the file's position, the old banner stays. */
	snprintf(path, sizeof(path), "%s/b", d.dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(h_log_wait(&d, "superserverd.yaml:3:", 10000));
	ck_assert(h_log_wait(&d, "services.e.banner: cannot read the banner file", 10000));
	assert_got("kept", buf, talk(h_connect("127.0.0.1", port), "x", buf, sizeof(buf)),
	           "two, longer\r\nx", 14);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("banners");
	TCase *tc = tcase_create("banners");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, greeting_every_model, 0, N_MODELS);
	tcase_add_loop_test(tc, refusals_every_model, 0, N_MODELS);
	tcase_add_loop_test(tc, forward_after_big_banner, 0, N_MODELS);
	tcase_add_test(tc, reload_rereads);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
