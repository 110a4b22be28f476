/*
 * Loadable handler modules through the real daemon: the qotd example under fork and
 * prefork (CRLF, the 512-character cut, a quote per connection), modules that must be
 * refused (missing file at load time, wrong ABI, no handler symbol, a setup that fails
 * with the service's identity), and a crashing handler taking down only what its
 * model puts at risk. The modules come from the build tree ($SS_MODULE_DIR).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/handler.h"

#include "harness.h"

#define N_CLIENTS 5

static const char *module(const char *name)
{
	static char path[4][512];
	static unsigned next;
	const char *dir = getenv("SS_MODULE_DIR");
	char *p = path[next++ % 4];

	ck_assert_msg(dir != NULL, "SS_MODULE_DIR is not set (run the tests through ctest)");
	snprintf(p, sizeof(path[0]), "%s/%s.so", dir, name);
	ck_assert_msg(access(p, R_OK) == 0, "%s: %s", p, strerror(errno));
	return p;
}

static void write_file(const struct daemon *d, const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* N different free ports: asked one after the other, the kernel may offer the same one
 * again. */
static void free_ports(int *ports, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int tries = 0;
		bool again;

		do {
			ck_assert_int_lt(tries++, 100);
			ports[i] = h_free_port();
			again = ports[i] <= 0;
			for (size_t k = 0; k < i; k++)
				again = again || ports[k] == ports[i];
		} while (again);
	}
}

/* ------------------------------------------------------------------ qotd */

/* Fortune format, with the blank lines and LF-only endings a hand-edited file has. */
static const char fortune_file[] = "\n"
                                   "First quote.\n"
                                   "%\n"
                                   "Second quote,\n"
                                   "\n"
                                   "  on three lines.\n"
                                   "\n"
                                   "%\n"
                                   "%\n"
                                   "Third.\n";
static const char *const fortune_quotes[] = {
        "First quote.\r\n",
        "Second quote,\r\n\r\n  on three lines.\r\n",
        "Third.\r\n",
};

/* Without a "%" line: one quote per line; CRLF in the file is not doubled. */
static const char lines_file[] = "one\r\ntwo\n\nthree";
static const char *const lines_quotes[] = {"one\r\n", "two\r\n", "three\r\n"};

/* Reads quotes from the service until every one of `want` was seen; each answer must be
 * exactly one of them, followed by EOF. */
static void expect_quotes(int port, const char *const *want, size_t n_want)
{
	bool seen[8] = {false};
	size_t n_seen = 0;
	char buf[1024];

	ck_assert_uint_le(n_want, 8);
	/* Three quotes picked at random: 200 connections miss one with odds of 1e-35. */
	for (int i = 0; i < 200 && n_seen < n_want; i++) {
		ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf) - 1, 5000);
		size_t k;

		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		for (k = 0; k < n_want; k++)
			if (strcmp(buf, want[k]) == 0)
				break;
		ck_assert_msg(k < n_want, "not one of the quotes: '%s'", buf);
		if (!seen[k]) {
			seen[k] = true;
			n_seen++;
		}
	}
	ck_assert_uint_eq(n_seen, n_want);
}

static void qotd_under(const char *mpm)
{
	struct daemon d = {0};
	char buf[1024], longq[2048] = "", want_long[1024] = "", hugeq[1024] = "x",
	                want_huge[1024] = "x";
	int port[4];
	ssize_t n;

	/* 20 lines of 40 characters: 12 of them (504 bytes with CRLFs) fit in 512. */
	for (int i = 0; i < 20; i++) {
		char line[41];
		snprintf(line, sizeof(line), "%02d", i);
		memset(line + 2, '-', 38);
		line[40] = '\0';
		strcat(longq, line);
		strcat(longq, "\n");
		if (i < 12) {
			strcat(want_long, line);
			strcat(want_long, "\r\n");
		}
	}
	strcat(longq, "%\n"); /* fortune format: one quote of 20 lines */
	/* One line of 601 bytes: byte 510 is inside a two-byte character, so the cut falls
	 * before it, at 509 bytes. */
	for (int i = 0; i < 300; i++)
		strcat(hugeq, "\xc3\xa9");
	for (int i = 0; i < 254; i++)
		strcat(want_huge, "\xc3\xa9");
	strcat(want_huge, "\r\n");

	free_ports(port, 4);
	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	write_file(&d, "fortunes.txt", fortune_file, 0644);
	write_file(&d, "lines.txt", lines_file, 0644);
	write_file(&d, "long.txt", longq, 0644);
	write_file(&d, "huge.txt", hugeq, 0644);
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  qotd:\n"
	                       "    listen: ['127.0.0.1:%d']\n"
	                       "    module: {path: '%s', args: {file: '%s/fortunes.txt'}}\n"
	                       "    mpm: %s\n"
	                       "  lines:\n"
	                       "    listen: ['127.0.0.1:%d']\n"
	                       "    module: '%s'\n"
	                       "    args: {file: '%s/lines.txt'}\n"
	                       "    mpm: %s\n"
	                       "  long:\n"
	                       "    listen: ['127.0.0.1:%d']\n"
	                       "    module: {path: '%s', args: {file: '%s/long.txt'}}\n"
	                       "    mpm: %s\n"
	                       "  huge:\n"
	                       "    listen: ['127.0.0.1:%d']\n"
	                       "    module: {path: '%s', args: {file: '%s/huge.txt'}}\n"
	                       "    mpm: %s\n",
	                       port[0], module("qotd"), d.dir, mpm, port[1], module("qotd"), d.dir,
	                       mpm, port[2], module("qotd"), d.dir, mpm, port[3], module("qotd"),
	                       d.dir, mpm),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);

	expect_quotes(port[0], fortune_quotes, 3);
	expect_quotes(port[1], lines_quotes, 3);
	n = h_exchange("127.0.0.1", port[2], NULL, false, buf, sizeof(buf) - 1, 5000);
	ck_assert_int_eq(n, 504);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want_long);
	n = h_exchange("127.0.0.1", port[3], NULL, false, buf, sizeof(buf) - 1, 5000);
	ck_assert_int_eq(n, 511);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want_huge);
	ck_assert_int_eq(h_stop(&d), 0);
}

START_TEST(qotd_fork)
{
	qotd_under("fork");
}
END_TEST

START_TEST(qotd_prefork)
{
	qotd_under("{model: prefork, start: 2}");
}
END_TEST

/* setup runs after the privilege drop: the service, not the daemon, must read the file. */
START_TEST(qotd_setup_errors)
{
	struct daemon d = {0};
	int port[2];
	bool root = geteuid() == 0;

	free_ports(port, 2);
	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	write_file(&d, "secret.txt", "only root reads this\n", 0600);
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n"
	                                "  noargs:\n"
	                                "    listen: ['127.0.0.1:%d']\n"
	                                "    module: '%s'\n"
	                                "  secret:\n"
	                                "    listen: ['127.0.0.1:%d']\n"
	                                "    module: {path: '%s', args: {file: '%s/%s'}}\n",
	                                port[0], module("qotd"), port[1], module("qotd"), d.dir,
	                                root ? "secret.txt" : "missing.txt"),
	                 0);
	d.allowed_errors[0] = "setup failed";
	d.allowed_errors[1] = "marking the service failed";
	ck_assert_int_eq(h_launch(&d), 0);
	ck_assert(h_log_wait(&d,
	                     "noargs: handler 'qotd' setup failed: qotd needs the quotes file: "
	                     "args: {file: /path/to/quotes}",
	                     5000));
	if (root)
		ck_assert(h_log_wait(&d,
		                     "secret.txt: Permission denied (the service's user must be "
		                     "able to read it)",
		                     5000));
	else
		ck_assert(h_log_wait(&d, "missing.txt: No such file or directory", 5000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* ------------------------------------------------------------------ refused modules */

START_TEST(nonexistent_module_is_a_config_error)
{
	struct daemon d = {0};
	int port = h_free_port();

	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n"
	                           "  m:\n"
	                           "    listen: ['127.0.0.1:%d']\n"
	                           "    module: {path: /nonexistent/x.so}\n",
	                           port),
	                 0);
	ck_assert_int_eq(h_spawn(&d), 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 5000), -1);
	ck_assert_int_eq(d.pid, -1);
	ck_assert(WIFEXITED(d.exit_status) && WEXITSTATUS(d.exit_status) == 1);
	/* Line 1 is the harness's defaults line. */
	ck_assert(h_log_wait(&d,
	                     "superserverd.yaml:5:20: services.m.module.path: the module "
	                     "'/nonexistent/x.so' does not exist",
	                     1000));
	h_kill(&d);
}
END_TEST

START_TEST(wrong_abi_and_no_symbol_fail_setup)
{
	struct daemon d = {0};
	int port[3];
	char want[768], buf[16];
	const char *bad = module("badabi"), *nosym = module("nosym");

	free_ports(port, 3);
	d.allowed_errors[0] = "cannot load the handler module";
	d.allowed_errors[1] = "marking the service failed";
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  bad:\n"
	                         "    listen: ['127.0.0.1:%d']\n"
	                         "    module: '%s'\n"
	                         "  nosym:\n"
	                         "    listen: ['127.0.0.1:%d']\n"
	                         "    module: '%s'\n"
	                         "  fine:\n"
	                         "    listen: ['127.0.0.1:%d']\n"
	                         "    builtin: echo\n",
	                         port[0], bad, port[1], nosym, port[2]),
	                 0);
	snprintf(want, sizeof(want),
	         "bad: cannot load the handler module: %s: built for handler ABI 99.0, "
	         "superserverd provides %d.%d",
	         bad, SS_HANDLER_ABI_MAJOR, SS_HANDLER_ABI_MINOR);
	ck_assert(h_log_wait(&d, want, 5000));
	snprintf(want, sizeof(want),
	         "nosym: cannot load the handler module: %s: no symbol 'superserverd_handler' "
	         "(is it a superserverd handler module?)",
	         nosym);
	ck_assert(h_log_wait(&d, want, 5000));
	/* The master says why the process left, and restarts it later rather than at once. */
	ck_assert(h_log_wait(&d, "bad: service process", 5000));
	ck_assert(h_log_wait(&d, "(handler setup failed)", 5000));
	/* The other services are not affected. */
	ck_assert_int_eq(h_exchange("127.0.0.1", port[2], "ok", true, buf, sizeof(buf), 5000), 2);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A module built before datagrams (no datagram callback) on a datagram listener: its
 * service process says so and leaves; the other services go on. */
START_TEST(stream_module_on_datagram_listener)
{
	struct daemon d = {0};
	int port[2];
	char want[768], buf[16];
	const char *qotd = module("qotd");

	free_ports(port, 2);
	d.allowed_errors[0] = "has no datagram callback";
	d.allowed_errors[1] = "marking the service failed";
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  q: {listen: ['udp:127.0.0.1:%d'], module: '%s', mpm: event}\n"
	                         "  fine: {listen: ['127.0.0.1:%d'], builtin: echo}\n",
	                         port[0], qotd, port[1]),
	                 0);
	snprintf(want, sizeof(want),
	         "q: module %s (handler 'qotd') has no datagram callback (handler ABI 1.2), so it "
	         "cannot serve the datagram socket udp:127.0.0.1:%d",
	         qotd, port[0]);
	ck_assert(h_log_wait(&d, want, 10000));
	ck_assert(h_log_wait(&d, "(handler setup failed)", 10000));
	ck_assert_int_eq(h_exchange("127.0.0.1", port[1], "ok", true, buf, sizeof(buf), 10000), 2);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The module is loaded after the privilege drop: its constructors already run as the
 * service's user (nobody when the test runs as root). */
START_TEST(constructors_run_unprivileged)
{
	struct daemon d = {0};
	char buf[32], want[32];
	int port = h_free_port();
	ssize_t n;

	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  ctor:\n"
	                         "    listen: ['127.0.0.1:%d']\n"
	                         "    module: '%s'\n",
	                         port, module("ctorid")),
	                 0);
	n = h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf) - 1, 5000);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "%u\r\n", geteuid() == 0 ? 65534u : (unsigned)geteuid());
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* ------------------------------------------------------------------ crashes */

/* EOF or a reset within the deadline; not a timeout, and no data. */
static bool closed_by_peer(int fd, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	char c;

	while (h_now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = recv(fd, &c, 1, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n > 0 || (errno != EINTR && errno != EAGAIN))
			return false;
	}
	return false;
}

static void crash_under(const char *mpm)
{
	struct daemon d = {0};
	int port = h_free_port(), fds[N_CLIENTS];
	char msg[32];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  crashy:\n"
	                         "    listen: ['127.0.0.1:%d']\n"
	                         "    module: '%s'\n"
	                         "    mpm: %s\n",
	                         port, module("crashtest"), mpm),
	                 0);
	/* Every client is being served (answered once) before one of them crashes it. */
	for (int i = 0; i < N_CLIENTS; i++) {
		fds[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fds[i], 0);
		snprintf(msg, sizeof(msg), "hello %d\n", i);
		ck_assert_msg(h_echoes(fds[i], msg), "client %d not served", i);
	}
	ck_assert_int_eq(h_write_all(fds[2], "please crash\n", 13), 0);
	ck_assert(closed_by_peer(fds[2], 5000));
	close(fds[2]);
	for (int i = 0; i < N_CLIENTS; i++) {
		if (i == 2)
			continue;
		snprintf(msg, sizeof(msg), "still here %d\n", i);
		ck_assert_msg(h_echoes(fds[i], msg), "client %d lost with the crash", i);
	}
	ck_assert(h_log_wait(&d, "killed by signal 11", 5000));
	/* And new connections are still served. */
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert(h_echoes(fd, "afterwards\n"));
	close(fd);
	for (int i = 0; i < N_CLIENTS; i++)
		if (i != 2)
			close(fds[i]);
	ck_assert_int_eq(h_stop(&d), 0);
}

START_TEST(crash_fork)
{
	crash_under("fork");
}
END_TEST

START_TEST(crash_prefork)
{
	crash_under("{model: prefork, start: 4}");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("handler modules");
	TCase *q = tcase_create("qotd"), *bad = tcase_create("refused"),
	      *crash = tcase_create("crash");

	tcase_add_test(q, qotd_fork);
	tcase_add_test(q, qotd_prefork);
	tcase_add_test(q, qotd_setup_errors);
	suite_add_tcase(s, q);
	tcase_add_test(bad, nonexistent_module_is_a_config_error);
	tcase_add_test(bad, wrong_abi_and_no_symbol_fail_setup);
	tcase_add_test(bad, constructors_run_unprivileged);
	tcase_add_test(bad, stream_module_on_datagram_listener);
	suite_add_tcase(s, bad);
	tcase_add_test(crash, crash_fork);
	tcase_add_test(crash, crash_prefork);
	suite_add_tcase(s, crash);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
