/* The event model through the real daemon: every built-in's bytes with many clients at
 * once, connections that end in their own open callback, the idle and duration limits,
 * bounded memory against slow readers, max_connections (the backlog waits), the SIGTERM
 * drain, and a killed worker coming back. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

enum { CLIENTS = 50 };

static struct daemon d = {0};
static int p_echo, p_discard, p_chargen, p_daytime, p_time;
static pthread_barrier_t start_line;

/* One daemon with the five built-ins under the event model, for the "bytes" tests. */
static void start_builtins(void)
{
	p_echo = h_free_port();
	p_discard = h_free_port();
	p_chargen = h_free_port();
	p_daytime = h_free_port();
	p_time = h_free_port();
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n"
	                "  echo: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: {model: event, "
	                "workers: 2}}\n"
	                "  discard: {listen: ['127.0.0.1:%d'], builtin: discard, mpm: {model: "
	                "event, workers: 2}}\n"
	                "  chargen: {listen: ['127.0.0.1:%d'], builtin: chargen, mpm: {model: "
	                "event, workers: 2}}\n"
	                "  daytime: {listen: ['127.0.0.1:%d'], builtin: daytime, mpm: {model: "
	                "event, workers: 2}}\n"
	                "  time: {listen: ['127.0.0.1:%d'], builtin: time, mpm: {model: event, "
	                "workers: 2}}\n",
	                p_echo, p_discard, p_chargen, p_daytime, p_time),
	        0);
}

static void stop_daemon(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

/* Runs fn(i) on CLIENTS threads released at the same moment; returns how many said 1. */
static int run_clients(void *(*fn)(void *))
{
	pthread_t t[CLIENTS];
	int ok = 0;

	ck_assert_int_eq(pthread_barrier_init(&start_line, NULL, CLIENTS), 0);
	for (long i = 0; i < CLIENTS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fn, (void *)(intptr_t)i), 0);
	for (int i = 0; i < CLIENTS; i++) {
		void *r;
		pthread_join(t[i], &r);
		ok += (int)(intptr_t)r;
	}
	pthread_barrier_destroy(&start_line);
	return ok;
}

static void *echo_client(void *arg)
{
	long i = (long)(intptr_t)arg;
	char msg[3000], buf[3100];
	int n = snprintf(msg, sizeof(msg), "client %ld\r\n\x01\xff", i);

	/* Long enough that some replies take more than one read or write. */
	for (int k = n; k < (int)sizeof(msg); k++)
		msg[k] = (char)('a' + (k * 7 + i) % 26);
	msg[sizeof(msg) - 1] = '\0';
	pthread_barrier_wait(&start_line);
	ssize_t got = h_exchange("127.0.0.1", p_echo, msg, true, buf, sizeof(buf), 10000);
	return (void *)(intptr_t)(got == (ssize_t)strlen(msg) &&
	                          memcmp(buf, msg, (size_t)got) == 0);
}

START_TEST(echo_bytes)
{
	ck_assert_int_eq(run_clients(echo_client), CLIENTS);
}
END_TEST

static void *discard_client(void *arg)
{
	char buf[64];

	pthread_barrier_wait(&start_line);
	ssize_t got = h_exchange("127.0.0.1", p_discard, "thrown away\r\n", true, buf, sizeof(buf),
	                         10000);
	return (void *)(intptr_t)(got == 0);
}

START_TEST(discard_bytes)
{
	ck_assert_int_eq(run_clients(discard_client), CLIENTS);
}
END_TEST

static void chargen_line(char *line, long k)
{
	for (int i = 0; i < 72; i++)
		line[i] = (char)(32 + (k + i) % 95);
	line[72] = '\r';
	line[73] = '\n';
}

static bool chargen_check(const char *got, long first_line, long lines)
{
	char want[74];

	for (long k = 0; k < lines; k++) {
		chargen_line(want, first_line + k);
		if (memcmp(got + k * 74, want, 74) != 0)
			return false;
	}
	return true;
}

static void *chargen_client(void *arg)
{
	enum { LINES = 300 };
	char *got = malloc(LINES * 74);
	bool ok;

	pthread_barrier_wait(&start_line);
	int fd = h_connect("127.0.0.1", p_chargen);
	ok = fd >= 0 && h_read_n(fd, got, LINES * 74, 10000) == 0 && chargen_check(got, 0, LINES);
	if (fd >= 0)
		close(fd);
	free(got);
	return (void *)(intptr_t)ok;
}

START_TEST(chargen_bytes)
{
	ck_assert_int_eq(run_clients(chargen_client), CLIENTS);
}
END_TEST

static bool daytime_ok(const char *buf, ssize_t n)
{
	char line[32];
	struct tm tm = {0};

	if (n != 26 || buf[24] != '\r' || buf[25] != '\n')
		return false;
	memcpy(line, buf, 24);
	line[24] = '\0';
	char *end = strptime(line, "%a %b %e %H:%M:%S %Y", &tm);
	tm.tm_isdst = -1;
	return end == line + 24 && labs((long)(mktime(&tm) - time(NULL))) <= 5;
}

static void *daytime_client(void *arg)
{
	char buf[64];

	pthread_barrier_wait(&start_line);
	ssize_t n = h_exchange("127.0.0.1", p_daytime, NULL, false, buf, sizeof(buf), 10000);
	return (void *)(intptr_t)daytime_ok(buf, n);
}

START_TEST(daytime_bytes)
{
	ck_assert_int_eq(run_clients(daytime_client), CLIENTS);
}
END_TEST

static void *time_client(void *arg)
{
	unsigned char buf[16];

	pthread_barrier_wait(&start_line);
	ssize_t n = h_exchange("127.0.0.1", p_time, NULL, false, (char *)buf, sizeof(buf), 10000);
	if (n != 4)
		return (void *)0;
	uint32_t v =
	        (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	uint32_t now = (uint32_t)((uint64_t)time(NULL) + 2208988800ULL);
	return (void *)(intptr_t)(v - now + 5 <= 10);
}

START_TEST(time_bytes)
{
	ck_assert_int_eq(run_clients(time_client), CLIENTS);
}
END_TEST

/* daytime and time end their connection inside their own open callback: many in a row
 * (records reused over and over), each with its bytes and a prompt EOF. */
START_TEST(ends_from_open_in_a_row)
{
	char buf[64];

	for (int i = 0; i < 300; i++) {
		ssize_t n = h_exchange("127.0.0.1", i % 2 ? p_time : p_daytime, NULL, false, buf,
		                       sizeof(buf), 5000);
		if (i % 2)
			ck_assert_int_eq(n, 4);
		else
			ck_assert_msg(daytime_ok(buf, n), "connection %d: %zd bytes", i, n);
	}
}
END_TEST

/* Clients that vanish, reset mid-stream or send and leave, mixed with good ones: the
 * workers survive and keep answering. */
START_TEST(misbehaving_clients)
{
	char buf[128];
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	for (int round = 0; round < 20; round++) {
		int quiet = h_connect("127.0.0.1", p_echo);
		int reset = h_connect("127.0.0.1", p_chargen);
		int leave = h_connect("127.0.0.1", p_echo);
		ck_assert_int_ge(quiet, 0);
		ck_assert_int_ge(reset, 0);
		ck_assert_int_ge(leave, 0);
		ck_assert_int_eq(h_read_n(reset, buf, 100, 5000), 0);
		setsockopt(reset, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(reset); /* RST with output queued */
		h_write_all(leave, "unread reply\n", 13);
		setsockopt(leave, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(leave);
		close(quiet);
		ssize_t n = h_exchange("127.0.0.1", p_echo, "still here\n", true, buf, sizeof(buf),
		                       5000);
		ck_assert_int_eq(n, 11);
	}
	ck_assert_int_eq(h_exchange("127.0.0.1", p_time, NULL, false, buf, sizeof(buf), 5000), 4);
}
END_TEST

/* A silent client is closed after idle_timeout; one that keeps talking is not. */
START_TEST(idle_timeout)
{
	char buf[16];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  echo:\n    listen: ['127.0.0.1:%d']\n"
	                         "    builtin: echo\n    mpm: {model: event, workers: 2}\n"
	                         "    limits: {idle_timeout: 3s}\n",
	                         port),
	                 0);
	long long t0 = h_now_ms();
	int silent = h_connect("127.0.0.1", port);
	int talker = h_connect("127.0.0.1", port);
	ck_assert_int_ge(silent, 0);
	ck_assert_int_ge(talker, 0);
	/* The talker sends every 100 ms for 7 s: over twice the timeout, never idle for it
	 * (a 2.9 s stall of a loaded machine would be needed to fail it). */
	for (int i = 0; i < 70; i++) {
		ck_assert_int_eq(h_write_all(talker, "t", 1), 0);
		ck_assert_int_eq(h_read_n(talker, buf, 1, 10000), 0);
		h_pause_ms(100);
	}
	ck_assert_int_eq(h_read_all(silent, buf, sizeof(buf), 10000), 0);
	long long silent_ms = h_now_ms() - t0;
	ck_assert_int_ge(silent_ms, 2950);
	/* Then the talker goes quiet too, and is closed in its turn. */
	long long t1 = h_now_ms();
	ck_assert_int_eq(h_read_all(talker, buf, sizeof(buf), 10000), 0);
	ck_assert_int_ge(h_now_ms() - t1, 1500);
	ck_assert_int_ge(h_now_ms() - t0, 7000);
	close(silent);
	close(talker);
	stop_daemon();
}
END_TEST

/* An endless chargen reader is cut off at max_duration, though it is never idle. */
START_TEST(max_duration)
{
	static char buf[65536];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  chargen:\n    listen: ['127.0.0.1:%d']\n"
	                         "    builtin: chargen\n    mpm: {model: event}\n"
	                         "    limits: {max_duration: 500ms}\n",
	                         port),
	                 0);
	long long t0 = h_now_ms();
	int fd = h_connect("127.0.0.1", port);
	size_t total = 0;
	ck_assert_int_ge(fd, 0);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ck_assert_msg(h_now_ms() - t0 < 5000, "no EOF after 5 s (%zu bytes)", total);
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		ck_assert_int_gt(n, 0);
		total += (size_t)n;
	}
	long long took = h_now_ms() - t0;
	ck_assert_int_ge(took, 450);
	ck_assert_uint_gt(total, 100000); /* it was streaming the whole time */
	close(fd);
	stop_daemon();
}
END_TEST

static long vm_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static pid_t only_worker(void)
{
	pid_t pids[4];

	ck_assert_int_eq(h_children(d.pid, pids, 4), 1);
	return pids[0];
}

/* Holds the stalled clients for about a second and returns the worker's largest RSS
 * growth over base seen meanwhile. */
static long hold_and_measure(const char *what, pid_t worker, long base)
{
	long worst = 0;
	long long end = h_now_ms() + 1000;

	while (h_now_ms() < end) {
		long rss = vm_rss_kib(worker);
		ck_assert_int_gt(rss, 0);
		if (rss - base > worst)
			worst = rss - base;
		h_pause_ms(50);
	}
	fprintf(stderr, "%s: worker RSS %ld KiB, grew by at most %ld KiB\n", what, base, worst);
	return worst;
}

enum { SLOW = 10, GROWTH_LIMIT_KIB = 8 * 1024 };

/* Under AddressSanitizer every free goes to a quarantine of up to 256 MiB, which would
 * be measured here as growth; a small one keeps the figure about the model. Options
 * already given are kept (later ones win). No effect on a normal build. */
static void small_quarantine(void)
{
	static char opts[512];
	const char *old = getenv("ASAN_OPTIONS");

	snprintf(opts, sizeof(opts), "ASAN_OPTIONS=%s%squarantine_size_mb=1", old ? old : "",
	         old && *old ? ":" : "");
	d.env[0] = opts;
}

/* chargen readers that stop reading: the worker stops refilling and its memory stays
 * put; without flow control each would queue up to the 4 MiB output cap. The streams
 * then resume where they stopped. */
START_TEST(chargen_slow_readers_bounded)
{
	enum { LINES = 20000 };
	char *got = malloc((size_t)LINES * 74);
	int fds[SLOW];
	int port = h_free_port();
	small_quarantine();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  chargen: {listen: ['127.0.0.1:%d'], builtin: "
	                         "chargen, mpm: {model: event}}\n",
	                         port),
	                 0);
	pid_t worker = only_worker();
	ck_assert_int_eq(h_read_n(fds[0] = h_connect("127.0.0.1", port), got, 74, 5000), 0);
	close(fds[0]); /* warmed up: the worker has served one */
	long base = vm_rss_kib(worker);
	ck_assert_int_gt(base, 0);
	for (int i = 0; i < SLOW; i++) {
		fds[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(h_read_n(fds[i], got, 74, 5000), 0); /* it is streaming */
	}
	long growth = hold_and_measure("chargen", worker, base);
	ck_assert_msg(growth < GROWTH_LIMIT_KIB, "worker grew by %ld KiB", growth);
	/* Each stream picks up exactly where it stalled (it had sent line 0 already). */
	for (int i = 0; i < SLOW; i++) {
		ck_assert_int_eq(h_read_n(fds[i], got, (size_t)LINES * 74, 20000), 0);
		ck_assert_msg(chargen_check(got, 1, LINES), "stream %d corrupted", i);
		close(fds[i]);
	}
	free(got);
	stop_daemon();
}
END_TEST

/* echo clients that send and never read: the worker stops reading them once its
 * output is queued (back-pressure), rather than growing; then every byte comes back. */
START_TEST(echo_slow_readers_bounded)
{
	static char chunk[65536];
	int fds[SLOW];
	size_t sent[SLOW] = {0};
	int port = h_free_port();
	small_quarantine();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  echo: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: {model: event}}\n",
	                         port),
	                 0);
	pid_t worker = only_worker();
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "warm\n", true, chunk, sizeof(chunk), 5000),
	                 5);
	long base = vm_rss_kib(worker);
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(i % 251);
	for (int i = 0; i < SLOW; i++) {
		fds[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(fcntl(fds[i], F_SETFL, O_NONBLOCK), 0);
		/* Send until the whole path is full and stays full for 300 ms. */
		for (;;) {
			size_t off = sent[i] % 251;
			ssize_t n = send(fds[i], chunk + off, sizeof(chunk) - 251, MSG_NOSIGNAL);
			if (n > 0) {
				sent[i] += (size_t)n;
				ck_assert_msg(sent[i] < 256u << 20, "the server never pushed back");
				continue;
			}
			ck_assert_msg(n < 0 && errno == EAGAIN, "send: %s", strerror(errno));
			struct pollfd p = {.fd = fds[i], .events = POLLOUT};
			if (poll(&p, 1, 300) == 0)
				break;
		}
	}
	long growth = hold_and_measure("echo", worker, base);
	ck_assert_msg(growth < GROWTH_LIMIT_KIB, "worker grew by %ld KiB", growth);
	for (int i = 0; i < SLOW; i++) {
		char *back = malloc(sent[i]);
		ck_assert_int_eq(fcntl(fds[i], F_SETFL, 0), 0);
		ck_assert_int_eq(h_read_n(fds[i], back, sent[i], 20000), 0);
		for (size_t k = 0; k < sent[i]; k++)
			if (back[k] != (char)(k % 251))
				ck_abort_msg("client %d: byte %zu differs", i, k);
		free(back);
		close(fds[i]);
	}
	stop_daemon();
}
END_TEST

/* With max_connections: 2 a third client waits in the backlog, unanswered, and is
 * served as soon as one of the first two leaves. */
START_TEST(max_connections_backlog)
{
	char c;
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  echo: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: {model: event, workers: 1, max_connections: 2}}\n",
	                         port),
	                 0);
	int a = h_connect("127.0.0.1", port), b = h_connect("127.0.0.1", port);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(h_write_all(a, "a", 1), 0);
	ck_assert_int_eq(h_read_n(a, &c, 1, 5000), 0);
	ck_assert_int_eq(h_write_all(b, "b", 1), 0);
	ck_assert_int_eq(h_read_n(b, &c, 1, 5000), 0);
	int third = h_connect("127.0.0.1", port); /* completes in the kernel's backlog */
	ck_assert_int_ge(third, 0);
	ck_assert_int_eq(h_write_all(third, "c", 1), 0);
	struct pollfd p = {.fd = third, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 400), 0); /* neither an answer nor a refusal */
	/* The first two still work meanwhile. */
	ck_assert_int_eq(h_write_all(b, "B", 1), 0);
	ck_assert_int_eq(h_read_n(b, &c, 1, 5000), 0);
	ck_assert_int_eq(c, 'B');
	close(a);
	ck_assert_int_eq(h_read_n(third, &c, 1, 5000), 0);
	ck_assert_int_eq(c, 'c');
	close(b);
	close(third);
	/* Back below the limit, new clients are served at once. */
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "again\n", true, &c, 1, 5000), 1);
	stop_daemon();
}
END_TEST

/* SIGTERM: the listeners close in every worker, an open connection keeps being served
 * until its client leaves, then the daemon exits 0 on its own. */
START_TEST(sigterm_drains)
{
	char buf[64];
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  echo:\n    listen: ['127.0.0.1:%d']\n"
	                         "    builtin: echo\n    mpm: {model: event, workers: 2}\n"
	                         "    shutdown_timeout: 30s\n",
	                         port),
	                 0);
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, "1", 1), 0);
	ck_assert_int_eq(h_read_n(fd, buf, 1, 5000), 0);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert_int_eq(h_wait_notify(&d, "STOPPING=1", 5000), 0);
	ck_assert(H_DEADLINE_WAIT(h_refused("127.0.0.1", port), 10000));
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(h_write_all(fd, "drain\n", 6), 0);
		ck_assert_int_eq(h_read_n(fd, buf, 6, 5000), 0);
		ck_assert(memcmp(buf, "drain\n", 6) == 0);
	}
	close(fd);
	/* Gone without the 30 s shutdown timeout: its last line comes within seconds. */
	ck_assert(h_log_wait(&d, "all services stopped", 10000));
	ck_assert(!h_log_wait(&d, "killing", 0));
	stop_daemon();
}
END_TEST

/* A worker killed with SIGKILL is replaced; the service keeps answering. */
START_TEST(killed_worker_returns)
{
	char buf[64];
	pid_t pids[4], old;
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  echo: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: {model: event, workers: 2}}\n",
	                         port),
	                 0);
	ck_assert_int_eq(h_children(d.pid, pids, 4), 2);
	old = pids[0];
	d.allowed_errors[0] = "killed by signal";
	ck_assert_int_eq(kill(old, SIGKILL), 0);
	ck_assert(h_wait_gone(old, 5000));
	long long t0 = h_now_ms();
	ck_assert(H_DEADLINE_WAIT(
	        h_exchange("127.0.0.1", port, "back\n", true, buf, sizeof(buf), 500) == 5, 10000));
	ck_assert(h_now_ms() - t0 < 5000);
	ck_assert(h_log_wait(&d, "restarting", 5000));
	ck_assert(H_DEADLINE_WAIT(
	        h_children(d.pid, pids, 4) == 2 && pids[0] != old && pids[1] != old, 5000));
	/* Both workers serve: enough clients that each gets some. */
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(
		        h_exchange("127.0.0.1", port, "back\n", true, buf, sizeof(buf), 5000), 5);
	stop_daemon();
}
END_TEST

static bool daemon_exited(void)
{
	int st;

	if (waitpid(d.pid, &st, WNOHANG) != d.pid)
		return false;
	d.exit_status = st;
	d.pid = 0;
	return true;
}

/* exec is refused under event by the configuration loader, with the reason. */
START_TEST(exec_refused)
{
	int port = h_free_port();
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n  cat: {listen: ['127.0.0.1:%d'], exec: [/bin/cat], "
	                           "mpm: event}\n",
	                           port),
	                 0);
	ck_assert_int_eq(h_spawn(&d), 0);
	ck_assert(H_DEADLINE_WAIT(daemon_exited(), 10000));
	ck_assert(!WIFEXITED(d.exit_status) || WEXITSTATUS(d.exit_status) != 0);
	ck_assert(h_log_wait(&d, "which model 'event' cannot do", 0));
	h_kill(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("event model (daemon)");
	TCase *bytes = tcase_create("bytes");
	tcase_add_unchecked_fixture(bytes, start_builtins, stop_daemon);
	tcase_add_test(bytes, echo_bytes);
	tcase_add_test(bytes, discard_bytes);
	tcase_add_test(bytes, chargen_bytes);
	tcase_add_test(bytes, daytime_bytes);
	tcase_add_test(bytes, time_bytes);
	tcase_add_test(bytes, ends_from_open_in_a_row);
	tcase_add_test(bytes, misbehaving_clients);
	suite_add_tcase(s, bytes);

	TCase *limits = tcase_create("limits");
	tcase_add_test(limits, idle_timeout);
	tcase_add_test(limits, max_duration);
	tcase_add_test(limits, chargen_slow_readers_bounded);
	tcase_add_test(limits, echo_slow_readers_bounded);
	tcase_add_test(limits, max_connections_backlog);
	suite_add_tcase(s, limits);

	TCase *life = tcase_create("lifecycle");
	tcase_add_test(life, sigterm_drains);
	tcase_add_test(life, killed_worker_returns);
	tcase_add_test(life, exec_refused);
	suite_add_tcase(s, life);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
