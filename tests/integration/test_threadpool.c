/*
 * The threadpool model through the real daemon: the built-ins' exact bytes with many
 * concurrent clients, idle connections that hold no thread, back-pressure that makes
 * clients wait instead of failing, both timeouts, draining on SIGTERM and the restart
 * of a killed service process.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

enum kind { ECHO, DISCARD, CHARGEN, DAYTIME, TIME, N_KINDS };

static int ports[N_KINDS];

struct client {
	enum kind kind;
	int port;
	int id;
	pthread_t th;
	bool ok;
};

static void chargen_line(char *line, int k)
{
	for (int i = 0; i < 72; i++)
		line[i] = (char)(32 + (k + i) % 95);
	line[72] = '\r';
	line[73] = '\n';
}

static bool check_echo(const struct client *cl)
{
	char msg[2048], buf[2048];
	int len = snprintf(msg, sizeof(msg), "client %d ", cl->id);

	for (; len < 1500; len++)
		msg[len] = (char)((cl->id * 31 + len) & 0xff);
	int fd = h_connect("127.0.0.1", cl->port);
	if (fd < 0)
		return false;
	bool ok = h_write_all(fd, msg, (size_t)len) == 0 && shutdown(fd, SHUT_WR) == 0 &&
	          h_read_all(fd, buf, sizeof(buf), 20000) == len &&
	          memcmp(buf, msg, (size_t)len) == 0;
	close(fd);
	return ok;
}

static bool check_discard(const struct client *cl)
{
	char msg[4096], buf[16];
	int fd = h_connect("127.0.0.1", cl->port);

	if (fd < 0)
		return false;
	memset(msg, 'd', sizeof(msg));
	bool ok = h_write_all(fd, msg, sizeof(msg)) == 0 && shutdown(fd, SHUT_WR) == 0 &&
	          h_read_all(fd, buf, sizeof(buf), 20000) == 0;
	close(fd);
	return ok;
}

static bool check_chargen(const struct client *cl)
{
	enum { LINES = 40 };
	char got[LINES * 74], want[74];
	int fd = h_connect("127.0.0.1", cl->port);
	bool ok;

	if (fd < 0)
		return false;
	ok = h_read_n(fd, got, sizeof(got), 20000) == 0;
	close(fd);
	for (int k = 0; ok && k < LINES; k++) {
		chargen_line(want, k);
		ok = memcmp(got + k * 74, want, 74) == 0;
	}
	return ok;
}

/* The line's shape; how close it is to now is checked once, in the main thread
 * (daytime_is_now): mktime() is not safe to call from many threads. */
static bool daytime_line(const char *buf, ssize_t n, struct tm *tm)
{
	return n == 26 && buf[24] == '\r' && buf[25] == '\n' &&
	       strptime(buf, "%a %b %e %H:%M:%S %Y", tm) == buf + 24;
}

static bool check_daytime(const struct client *cl)
{
	char buf[64];
	struct tm tm = {0};
	ssize_t n = h_exchange("127.0.0.1", cl->port, NULL, false, buf, sizeof(buf) - 1, 20000);

	if (n < 0)
		return false;
	buf[n] = '\0';
	return daytime_line(buf, n, &tm);
}

static bool daytime_is_now(int port)
{
	char buf[64];
	struct tm tm = {0};
	time_t now = time(NULL);
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf, sizeof(buf) - 1, 5000);

	if (n < 0)
		return false;
	buf[n] = '\0';
	if (!daytime_line(buf, n, &tm))
		return false;
	tm.tm_isdst = -1;
	return labs((long)(mktime(&tm) - now)) <= 5;
}

static bool check_time(const struct client *cl)
{
	unsigned char b[8];
	ssize_t n = h_exchange("127.0.0.1", cl->port, NULL, false, (char *)b, sizeof(b), 20000);
	uint32_t now = (uint32_t)((uint64_t)time(NULL) + 2208988800ULL);

	if (n != 4)
		return false;
	uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return v - now + 30 <= 60;
}

static void *run_client(void *arg)
{
	struct client *cl = arg;
	static bool (*const check[N_KINDS])(const struct client *) = {
	        [ECHO] = check_echo,       [DISCARD] = check_discard, [CHARGEN] = check_chargen,
	        [DAYTIME] = check_daytime, [TIME] = check_time,
	};

	cl->ok = check[cl->kind](cl);
	return NULL;
}

/* Runs n clients of each kind at once; returns how many failed. */
static int run_clients(const enum kind *kinds, int n_kinds, const int *kind_ports, int n)
{
	struct client *cl = calloc((size_t)(n * n_kinds), sizeof(*cl));
	int failed = 0, started = 0;

	ck_assert_ptr_nonnull(cl);
	for (int k = 0; k < n_kinds; k++)
		for (int i = 0; i < n; i++) {
			struct client *c = &cl[started];
			*c = (struct client){
			        .kind = kinds[k], .port = kind_ports[k], .id = started};
			ck_assert_int_eq(pthread_create(&c->th, NULL, run_client, c), 0);
			started++;
		}
	for (int i = 0; i < started; i++) {
		pthread_join(cl[i].th, NULL);
		if (!cl[i].ok) {
			fprintf(stderr, "client %d (kind %d) failed\n", i, cl[i].kind);
			failed++;
		}
	}
	free(cl);
	return failed;
}

#define TP "{model: threadpool, processes: 2, threads: 4}"

START_TEST(builtins_exact_bytes_concurrently)
{
	struct daemon d = {0};
	static const enum kind kinds[N_KINDS] = {ECHO, DISCARD, CHARGEN, DAYTIME, TIME};

	for (int k = 0; k < N_KINDS; k++)
		ports[k] = h_free_port();
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n"
	                "  echo: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: " TP "}\n"
	                "  discard: {listen: ['127.0.0.1:%d'], builtin: discard, mpm: " TP "}\n"
	                "  chargen: {listen: ['127.0.0.1:%d'], builtin: chargen, mpm: " TP "}\n"
	                "  daytime: {listen: ['127.0.0.1:%d'], builtin: daytime, mpm: " TP "}\n"
	                "  time: {listen: ['127.0.0.1:%d'], builtin: time, mpm: " TP "}\n",
	                ports[ECHO], ports[DISCARD], ports[CHARGEN], ports[DAYTIME], ports[TIME]),
	        0);
	ck_assert(daytime_is_now(ports[DAYTIME]));
	int failed = run_clients(kinds, N_KINDS, ports, 50);
	if (failed)
		h_dump_log(&d);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(large_echo_and_misbehaving_clients)
{
	struct daemon d = {0};
	int echo = h_free_port(), chargen = h_free_port();
	size_t len = 1 << 20;
	char *out = malloc(len), *in = malloc(len), buf[64];

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  echo: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: " TP "}\n"
	                         "  chargen: {listen: ['127.0.0.1:%d'], builtin: chargen, mpm: " TP
	                         "}\n",
	                         echo, chargen),
	                 0);
	/* More than the high-water mark both ways at once: a writer process, a reader here. */
	int fd = h_connect("127.0.0.1", echo);
	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(i * 7 + i / 251);
	pid_t pid = fork();
	if (pid == 0)
		_exit(h_write_all(fd, out, len) == 0 ? 0 : 1);
	ck_assert_int_eq(h_read_n(fd, in, len, 20000), 0);
	ck_assert(memcmp(in, out, len) == 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);

	/* Connect and vanish; reset a stream mid-way; a chargen client that never reads. */
	for (int i = 0; i < 20; i++) {
		fd = h_connect("127.0.0.1", echo);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	for (int i = 0; i < 5; i++) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		fd = h_connect("127.0.0.1", chargen);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
		ck_assert_int_eq(h_read_n(fd, buf, 10, 5000), 0);
		close(fd); /* RST */
	}
	int stalled = h_connect("127.0.0.1", chargen);
	ck_assert_int_ge(stalled, 0);
	/* Everything still answers. */
	ck_assert_int_eq(
	        h_exchange("127.0.0.1", echo, "still here\n", true, buf, sizeof(buf), 5000), 11);
	close(stalled);
	free(out);
	free(in);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Threads of process pid, from /proc. */
static int thread_count(pid_t pid)
{
	char path[64], line[256];
	int n = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

START_TEST(idle_connections_hold_no_thread)
{
	enum { N = 200 };
	struct daemon d = {0};
	int port = h_free_port(), fds[N];
	pid_t pid;

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  echo: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: {model: threadpool, threads: 4, queue: 0}}\n",
	                         port),
	                 0);
	ck_assert_int_eq(h_children(d.pid, &pid, 1), 1);
	/* Once one client is served the pool is complete: poller + 4 workers (and any
	 * thread a sanitizer runtime adds). */
	char buf[8];
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "hi\n", true, buf, sizeof(buf), 5000), 3);
	int threads = thread_count(pid);
	ck_assert_int_ge(threads, 1 + 4);
	for (int i = 0; i < N; i++) {
		fds[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fds[i], 0);
	}
	/* If an idle connection kept a thread, the first four would keep all of them and
	 * the last client would never be served: it goes first. */
	for (int i = N - 1; i >= 0; i--) {
		char msg[32], line[32];
		int len = snprintf(msg, sizeof(msg), "line %d\n", i);
		ck_assert_int_eq(h_write_all(fds[i], msg, (size_t)len), 0);
		ck_assert_int_eq(h_read_n(fds[i], line, (size_t)len, 5000), 0);
		ck_assert(memcmp(line, msg, (size_t)len) == 0);
	}
	/* 200 open connections, and not one thread more. */
	ck_assert_int_eq(thread_count(pid), threads);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static void *ping_pong_client(void *arg)
{
	struct client *cl = arg;
	char out[4096], in[4096], end[8];
	int fd = h_connect("127.0.0.1", cl->port);

	cl->ok = fd >= 0;
	/* Many round trips: each one needs a turn of the single thread. */
	for (int r = 0; cl->ok && r < 16; r++) {
		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (char)(cl->id + r + (int)i);
		cl->ok = h_write_all(fd, out, sizeof(out)) == 0 &&
		         h_read_n(fd, in, sizeof(in), 20000) == 0 &&
		         memcmp(in, out, sizeof(in)) == 0;
	}
	if (cl->ok)
		cl->ok = shutdown(fd, SHUT_WR) == 0 && h_read_all(fd, end, sizeof(end), 20000) == 0;
	if (fd >= 0)
		close(fd);
	return NULL;
}

START_TEST(one_thread_no_queue_serves_everyone)
{
	enum { N = 50 };
	struct daemon d = {0};
	struct client cl[N];
	int port = h_free_port(), failed = 0;

	ck_assert_int_eq(h_start(&d,
	                         "log: {level: debug}\n"
	                         "services:\n  echo: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: {model: threadpool, threads: 1, queue: 0}}\n",
	                         port),
	                 0);
	for (int i = 0; i < N; i++) {
		cl[i] = (struct client){.port = port, .id = i};
		ck_assert_int_eq(pthread_create(&cl[i].th, NULL, ping_pong_client, &cl[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(cl[i].th, NULL);
		failed += !cl[i].ok;
	}
	if (failed)
		h_dump_log(&d);
	ck_assert_int_eq(failed, 0);
	/* The single thread was taken, so the listener was left to the backlog... */
	ck_assert(h_log_wait(&d, "pause accepting", 10000));
	/* ...and nobody was turned away for it. */
	ck_assert(!h_log_wait(&d, "cannot accept", 0));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Reads and throws away until EOF; returns the bytes read, -1 on error or deadline. */
static long long read_to_eof(int fd, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms, total = 0;
	char buf[65536];

	for (;;) {
		long long left = end - h_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			return total;
		if (n < 0)
			return -1;
		total += n;
	}
}

START_TEST(idle_timeout)
{
	struct daemon d = {0};
	int echo = h_free_port(), chargen = h_free_port();
	char buf[8];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  echo: {listen: ['127.0.0.1:%d'], builtin: echo, limits: "
	                         "{idle_timeout: 3s}, mpm: {model: threadpool, threads: 2}}\n"
	                         "  chargen: {listen: ['127.0.0.1:%d'], builtin: chargen, limits: "
	                         "{idle_timeout: 3s}, mpm: {model: threadpool, threads: 2}}\n",
	                         echo, chargen),
	                 0);
	long long t0 = h_now_ms();
	int silent = h_connect("127.0.0.1", echo);
	int talker = h_connect("127.0.0.1", echo);
	ck_assert_int_ge(silent, 0);
	ck_assert_int_ge(talker, 0);
	/* For 7 s at least, and until the silent one is closed (60 s at most): a byte from
	 * the talker every 100 ms (its echo must come back, and it must stay open, well past
	 * the 3 s), while the silent one is closed. The margin (a 2.9 s stall of this
	 * process) keeps a loaded machine from failing it. */
	long long silent_end = -1, next_send = t0;
	int sent = 0, echoed = 0;
	while ((h_now_ms() - t0 < 7000 || silent_end < 0) && h_now_ms() - t0 < 60000) {
		struct pollfd p[2] = {{.fd = talker, .events = POLLIN},
		                      {.fd = silent_end < 0 ? silent : -1, .events = POLLIN}};
		long long now = h_now_ms();
		if (now >= next_send) {
			ck_assert_int_eq(h_write_all(talker, "x", 1), 0);
			sent++;
			next_send = now + 100;
		}
		ck_assert_int_ge(poll(p, 2, (int)(next_send - now)), 0);
		if (p[0].revents) {
			ssize_t n = recv(talker, buf, sizeof(buf), MSG_DONTWAIT);
			ck_assert_msg(n > 0, "the talker was closed after %lld ms",
			              h_now_ms() - t0);
			echoed += (int)n;
		}
		if (p[1].revents) {
			ck_assert_int_eq(recv(silent, buf, sizeof(buf), MSG_DONTWAIT), 0);
			silent_end = h_now_ms() - t0;
		}
	}
	ck_assert_int_ge(silent_end, 2990); /* not before its time */
	ck_assert_int_ge(sent, 20);
	ck_assert_int_eq(h_read_n(talker, buf, (size_t)(sent - echoed), 10000), 0);
	/* Output does not count: a client that only reads is idle too. */
	int reader = h_connect("127.0.0.1", chargen);
	ck_assert_int_ge(reader, 0);
	t0 = h_now_ms();
	ck_assert_int_gt(read_to_eof(reader, 30000), 0);
	ck_assert_int_ge(h_now_ms() - t0, 2950);
	close(silent);
	close(talker);
	close(reader);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(max_duration)
{
	struct daemon d = {0};
	int port = h_free_port();

	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  chargen: {listen: ['127.0.0.1:%d'], builtin: chargen, limits: "
	                         "{max_duration: 500ms}, mpm: {model: threadpool, threads: 1}}\n",
	                         port),
	                 0);
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	long long t0 = h_now_ms();
	/* A reader that keeps up forever: only the duration limit ends it. */
	ck_assert_int_gt(read_to_eof(fd, 5000), 0);
	ck_assert_int_ge(h_now_ms() - t0, 450);
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(sigterm_drains)
{
	struct daemon d = {0};
	char buf[8];
	int port = h_free_port();

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  echo:\n    listen: ['127.0.0.1:%d']\n"
	                         "    builtin: echo\n    shutdown_timeout: 30s\n"
	                         "    mpm: {model: threadpool, processes: 2, threads: 2}\n",
	                         port),
	                 0);
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, "1", 1), 0);
	ck_assert_int_eq(h_read_n(fd, buf, 1, 5000), 0);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert_int_eq(h_wait_notify(&d, "STOPPING=1", 5000), 0);
	ck_assert(H_DEADLINE_WAIT(h_refused("127.0.0.1", port), 10000));
	/* The open connection is still served while the service drains... */
	ck_assert_int_eq(h_write_all(fd, "2", 1), 0);
	ck_assert_int_eq(h_read_n(fd, buf, 1, 5000), 0);
	ck_assert_int_eq(buf[0], '2');
	close(fd);
	/* ...and once it is gone, the daemon leaves well before the 30 s. */
	long long t0 = h_now_ms();
	ck_assert_int_eq(h_stop(&d), 0);
	ck_assert(h_now_ms() - t0 < 10000);
}
END_TEST

START_TEST(killed_process_is_restarted)
{
	struct daemon d = {0};
	char buf[16];
	pid_t old;
	int port = h_free_port();

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  echo: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: {model: threadpool, threads: 2}}\n",
	                         port),
	                 0);
	ck_assert_int_eq(h_children(d.pid, &old, 1), 1);
	d.allowed_errors[0] = "killed by signal";
	long long t0 = h_now_ms();
	ck_assert_int_eq(kill(old, SIGKILL), 0);
	ck_assert(h_wait_gone(old, 5000));
	/* The listener stays open in the master: this client waits in the backlog for
	 * the new process instead of being refused. */
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "back\n", true, buf, sizeof(buf), 10000), 5);
	ck_assert_int_lt(h_now_ms() - t0, 5000);
	ck_assert(h_log_wait(&d, "restarting", 10000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("threadpool (daemon)");
	TCase *tc = tcase_create("threadpool");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, builtins_exact_bytes_concurrently);
	tcase_add_test(tc, large_echo_and_misbehaving_clients);
	tcase_add_test(tc, idle_connections_hold_no_thread);
	tcase_add_test(tc, one_thread_no_queue_serves_everyone);
	tcase_add_test(tc, idle_timeout);
	tcase_add_test(tc, max_duration);
	tcase_add_test(tc, sigterm_drains);
	tcase_add_test(tc, killed_process_is_restarted);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
