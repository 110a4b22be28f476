/*
 * The `forward` built-in through the real daemon on loopback, under each model: bytes
 * both ways, half-closes passed on, bounded memory against a side that does not read,
 * targets that refuse or never answer, a client that resets or half-closes while the
 * target is slow to connect, PROXY headers out, a Unix-socket target, and more relays
 * held open at once than the threadpool has threads.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

static const char *const models[] = {"event", "threadpool", "fork", "prefork"};
#define N_MODELS 4

static struct daemon d = {0};
static int target = -1, blackhole = -1, unix_target = -1, slow = -1, slow_fill = -1;
static int target_port, refused_port, blackhole_port, slow_port;
static int port_fw[N_MODELS], port_refused[N_MODELS], port_bh[N_MODELS], port_slow[N_MODELS];
static int port_v1, port_v2, port_unix, port_t2, port_echo, port_ti, port_rc;
static char udir[64], upath[128], marks[128];
static int fill[4] = {-1, -1, -1, -1};

static int listener(int backlog, int *port_r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port_r = ntohs(sa.sin_port);
	return fd;
}

static void start(void)
{
	char svc[4096];
	size_t n = 0;
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int tmp;

	target = listener(64, &target_port);
	/* A port nobody listens on: bound, then closed. */
	close(listener(1, &refused_port));
	/* A target that never answers: a backlog of 0 holds one connection; once it is
	 * full the kernel drops further SYNs, so a connect waits (offline, on loopback). */
	blackhole = listener(0, &blackhole_port);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                         .sin_port = htons((uint16_t)blackhole_port)};
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		(void)connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	/* A target slow to connect: the same full backlog, with one connection the test
	 * can accept to make room, and the relay's connect completes at its next SYN. */
	slow = listener(0, &slow_port);
	slow_fill = h_connect("127.0.0.1", slow_port);
	ck_assert_int_ge(slow_fill, 0);
	strcpy(udir, "/tmp/fwtest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(udir));
	ck_assert_int_eq(chmod(udir, 0755), 0);
	snprintf(upath, sizeof(upath), "%s/t.sock", udir);
	strcpy(su.sun_path, upath);
	unix_target = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(unix_target, (struct sockaddr *)&su, sizeof(su)), 0);
	ck_assert_int_eq(chmod(upath, 0777), 0);
	ck_assert_int_eq(listen(unix_target, 16), 0);
	/* Where the relayclose module's close callback writes, as the service's user. */
	snprintf(marks, sizeof(marks), "%s/marks", udir);
	tmp = open(marks, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	ck_assert_int_ge(tmp, 0);
	close(tmp);
	ck_assert_int_eq(chmod(marks, 0666), 0);

	for (int m = 0; m < N_MODELS; m++) {
		port_fw[m] = h_free_port();
		port_refused[m] = h_free_port();
		port_bh[m] = h_free_port();
		port_slow[m] = h_free_port();
		n += (size_t)snprintf(
		        svc + n, sizeof(svc) - n,
		        "  f%d: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: %s, args: "
		        "{target: '127.0.0.1:%d'}}\n"
		        "  r%d: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: %s, args: "
		        "{target: '127.0.0.1:%d'}, limits: {banner: 'target down'}}\n"
		        "  b%d: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: %s, args: "
		        "{target: '127.0.0.1:%d', connect_timeout: 1s}}\n"
		        "  s%d: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: %s, args: "
		        "{target: '127.0.0.1:%d', connect_timeout: 120s}}\n",
		        m, port_fw[m], models[m], target_port, m, port_refused[m], models[m],
		        refused_port, m, port_bh[m], models[m], blackhole_port, m, port_slow[m],
		        models[m], slow_port);
	}
	port_v1 = h_free_port();
	port_v2 = h_free_port();
	port_unix = h_free_port();
	port_t2 = h_free_port();
	port_echo = h_free_port();
	port_ti = h_free_port();
	port_rc = h_free_port();
	tmp = h_start(&d,
	              "services:\n%s"
	              "  v1: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: event, args: "
	              "{target: '127.0.0.1:%d', proxy_protocol: v1}}\n"
	              "  v2: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: prefork, args: "
	              "{target: '127.0.0.1:%d', proxy_protocol: v2}}\n"
	              "  un: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: threadpool, args: "
	              "{target: 'unix:%s'}}\n"
	              "  t2: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: {model: threadpool, "
	              "threads: 2}, args: {target: '127.0.0.1:%d'}}\n"
	              "  echo: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: event}\n"
	              "  ti: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: {model: threadpool, "
	              "threads: 2}, limits: {idle_timeout: 3s}, args: {target: '127.0.0.1:%d'}}\n"
	              "  rc: {listen: ['127.0.0.1:%d'], mpm: {model: threadpool, threads: 2}, "
	              "module: {path: '%s/relayclose.so', args: {port: '%d', mark: '%s'}}}\n",
	              svc, port_v1, target_port, port_v2, target_port, port_unix, upath, port_t2,
	              port_echo, port_echo, port_ti, target_port, port_rc, getenv("SS_MODULE_DIR"),
	              port_echo, marks);
	ck_assert_int_eq(tmp, 0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
	close(target);
	close(blackhole);
	close(unix_target);
	close(slow);
	close(slow_fill);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	unlink(upath);
	unlink(marks);
	rmdir(udir);
}

/* The daemon's connection to a target listener, within MS. */
static int accept_within(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	ck_assert_int_eq(poll(&p, 1, ms), 1);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static int accept_from(int lfd)
{
	return accept_within(lfd, 10000);
}

/* Reads until end of input; returns the byte count (the bytes in buf), -1 when none came
 * within a deadline generous for a loaded sanitizer build (8 MiB each way included). */
#define READ_DEADLINE_MS 30000
static ssize_t read_to_eof(int fd, char *buf, size_t cap)
{
	return h_read_all(fd, buf, cap, READ_DEADLINE_MS);
}

static void fill_pattern(char *b, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (char)(x >> 16);
	}
}

/* A figure of the service's stats (-1 when it cannot be read). */
static long long stat_of(const char *svc, const char *key)
{
	json_t *reply = hc_call(&d, "stats", svc);
	long long v = reply ? hc_int(hc_service(reply, svc), key) : -1;

	json_decref(reply);
	return v;
}

static long long upstream(const char *svc, const char *key)
{
	json_t *reply = hc_call(&d, "stats", svc);
	long long v = -1;

	if (reply) {
		const json_t *u = json_object_get(hc_service(reply, svc), "upstream");
		if (json_is_object(u))
			v = hc_int(u, key);
	}
	json_decref(reply);
	return v;
}

/* Both ways at once, more than any buffer on the way: each side's writer is its own
 * process, and the client side is read to the end before the target side is read at
 * all, so a relay that couples the directions never finishes. */
START_TEST(bytes_both_ways)
{
	const size_t len = 8u << 20;
	char *up = malloc(len), *down = malloc(len), *in = malloc(len);
	int c = h_connect("127.0.0.1", port_fw[_i]);
	ck_assert_int_ge(c, 0);
	int t = accept_from(target);
	fill_pattern(up, len, 1);
	fill_pattern(down, len, 2);
	pid_t w1 = fork();
	if (w1 == 0)
		_exit(h_write_all(c, up, len) == 0 && shutdown(c, SHUT_WR) == 0 ? 0 : 1);
	pid_t w2 = fork();
	if (w2 == 0)
		_exit(h_write_all(t, down, len) == 0 && shutdown(t, SHUT_WR) == 0 ? 0 : 1);
	ck_assert_int_eq(read_to_eof(c, in, len + 1), (ssize_t)len);
	ck_assert(memcmp(in, down, len) == 0);
	ck_assert_int_eq(read_to_eof(t, in, len + 1), (ssize_t)len);
	ck_assert(memcmp(in, up, len) == 0);
	int st;
	ck_assert_int_eq(waitpid(w1, &st, 0), w1);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(waitpid(w2, &st, 0), w2);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(c);
	close(t);
	free(up);
	free(down);
	free(in);
}
END_TEST

/* The client shuts its write side: the target sees the end, and its answer still
 * reaches the client. */
START_TEST(half_close_client_first)
{
	char buf[64];
	int c = h_connect("127.0.0.1", port_fw[_i]);
	ck_assert_int_ge(c, 0);
	int t = accept_from(target);
	ck_assert_int_eq(h_write_all(c, "ping", 4), 0);
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	ck_assert_int_eq(read_to_eof(t, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "ping", 4) == 0);
	ck_assert_int_eq(h_write_all(t, "the rest", 8), 0);
	close(t);
	ck_assert_int_eq(read_to_eof(c, buf, sizeof(buf)), 8);
	ck_assert(memcmp(buf, "the rest", 8) == 0);
	close(c);
}
END_TEST

/* The target shuts its write side first: the client sees the end and can still send. */
START_TEST(half_close_target_first)
{
	char buf[64];
	int c = h_connect("127.0.0.1", port_fw[_i]);
	ck_assert_int_ge(c, 0);
	int t = accept_from(target);
	ck_assert_int_eq(h_write_all(t, "hello", 5), 0);
	ck_assert_int_eq(shutdown(t, SHUT_WR), 0);
	ck_assert_int_eq(read_to_eof(c, buf, sizeof(buf)), 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	ck_assert_int_eq(h_write_all(c, "more", 4), 0);
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	ck_assert_int_eq(read_to_eof(t, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "more", 4) == 0);
	close(c);
	close(t);
}
END_TEST

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The pid of the service's (first) process, from the stats answer. */
static pid_t service_pid(const char *svc)
{
	json_t *reply = hc_call(&d, "stats", svc);
	const json_t *procs = json_object_get(hc_service(reply, svc), "processes");
	pid_t pid = -1;
	for (size_t i = 0; i < json_array_size(procs) && pid <= 0; i++)
		pid = (pid_t)hc_int(json_array_get(procs, i), "pid");
	json_decref(reply);
	ck_assert_int_gt(pid, 0);
	return pid;
}

#define SLOW_TOTAL (50u << 20)

/* WRITER pushes 50 MiB towards READER, which reads nothing until WRITER stalls (no
 * room for 2 s): the service process must not have taken the bytes in. Then READER
 * reads them all, intact. */
static void slow_reader(const char *svc, int writer, int reader)
{
	static char chunk[64 * 1024];
	pid_t pid = service_pid(svc);
	long before = rss_kib(pid), after;
	size_t sent = 0;
	int fl = fcntl(writer, F_GETFL);

	fill_pattern(chunk, sizeof(chunk), 3);
	ck_assert_int_eq(fcntl(writer, F_SETFL, fl | O_NONBLOCK), 0);
	while (sent < SLOW_TOTAL) {
		ssize_t n = send(writer, chunk + sent % sizeof(chunk),
		                 sizeof(chunk) - sent % sizeof(chunk), MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		ck_assert(n < 0 && (errno == EAGAIN || errno == EINTR));
		struct pollfd p = {.fd = writer, .events = POLLOUT};
		if (poll(&p, 1, 2000) == 0)
			break; /* stalled: everything on the way is full */
	}
	ck_assert_msg(sent < SLOW_TOTAL, "all 50 MiB went into a side that reads nothing");
	after = rss_kib(pid);
	ck_assert_msg(after - before < 8 * 1024, "service RSS grew by %ld KiB", after - before);
	ck_assert_int_eq(fcntl(writer, F_SETFL, fl), 0);
	pid_t w = fork();
	if (w == 0) {
		size_t off = sent;
		while (off < SLOW_TOTAL) {
			size_t k = sizeof(chunk) - off % sizeof(chunk);
			if (k > SLOW_TOTAL - off)
				k = SLOW_TOTAL - off;
			if (h_write_all(writer, chunk + off % sizeof(chunk), k) < 0)
				_exit(1);
			off += k;
		}
		_exit(shutdown(writer, SHUT_WR) == 0 ? 0 : 1);
	}
	size_t got = 0;
	static char in[64 * 1024];
	for (;;) {
		ssize_t n = recv(reader, in, sizeof(in), 0);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		/* One assertion per read: Check reports every assertion to its parent. */
		bool same = true;
		for (ssize_t i = 0; i < n && same; i++)
			same = in[i] == chunk[(got + (size_t)i) % sizeof(chunk)];
		ck_assert_msg(same, "corrupt bytes after offset %zu", got);
		got += (size_t)n;
	}
	ck_assert_uint_eq(got, SLOW_TOTAL);
	int st;
	ck_assert_int_eq(waitpid(w, &st, 0), w);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

START_TEST(slow_target)
{
	const char *svc = _i == 0 ? "f0" : "f1";
	int c = h_connect("127.0.0.1", port_fw[_i]);
	ck_assert_int_ge(c, 0);
	int t = accept_from(target);
	struct timeval tv = {.tv_sec = 20};
	setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	slow_reader(svc, c, t);
	close(c);
	close(t);
}
END_TEST

START_TEST(slow_client)
{
	const char *svc = _i == 0 ? "f0" : "f1";
	int c = h_connect("127.0.0.1", port_fw[_i]);
	ck_assert_int_ge(c, 0);
	int t = accept_from(target);
	struct timeval tv = {.tv_sec = 20};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	slow_reader(svc, t, c);
	close(c);
	close(t);
}
END_TEST

/* A target that refuses: the client is closed at once, after the service's banner,
 * and the failure is counted. */
START_TEST(target_refuses)
{
	char buf[64], svc[8];
	long long t0 = h_now_ms();
	int c = h_connect("127.0.0.1", port_refused[_i]);
	ck_assert_int_ge(c, 0);
	ssize_t n = read_to_eof(c, buf, sizeof(buf));
	/* "At once" is a connect refused on loopback; this only catches a wait for some
	 * timeout (the default connect timeout is longer). */
	ck_assert_int_lt(h_now_ms() - t0, 5000);
	ck_assert_int_eq(n, 13);
	ck_assert(memcmp(buf, "target down\r\n", 13) == 0);
	close(c);
	snprintf(svc, sizeof(svc), "r%d", _i);
	ck_assert_int_eq(upstream(svc, "failed"), 1);
	ck_assert_int_eq(upstream(svc, "connected"), 0);
}
END_TEST

/* A target that never answers: the client is closed at the connect timeout (1 s), not
 * before, and the timeout is counted. The daemon's 1 s starts after the test's clock, so
 * a correct relay takes >= 1000 ms; the lower bound leaves room for timer rounding and
 * still catches a relay that gives up at a fraction of the timeout. The upper bound is
 * 10x. */
START_TEST(target_never_answers)
{
	char buf[64], svc[8];
	long long t0 = h_now_ms();
	int c = h_connect("127.0.0.1", port_bh[_i]);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(read_to_eof(c, buf, sizeof(buf)), 0);
	long long took = h_now_ms() - t0;
	ck_assert_msg(took >= 750, "closed after %lld ms, before the connect timeout", took);
	ck_assert_msg(took < 10000, "closed after %lld ms", took);
	close(c);
	snprintf(svc, sizeof(svc), "b%d", _i);
	ck_assert_int_eq(upstream(svc, "timeouts"), 1);
}
END_TEST

/* Waits (polling the stats) until the relay of service "s<m>" is connecting. */
static void wait_connecting(const char *svc)
{
	ck_assert_msg(H_DEADLINE_WAIT(upstream(svc, "attempts") == 1, 30000),
	              "%s: no connect attempt", svc);
}

/* A client that resets while the target is slow to connect ends the connection at
 * once, not at the connect timeout (120 s): the connection is counted as ended long
 * before, and no timeout is counted. */
START_TEST(slow_connect_client_resets)
{
	char svc[8];
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int c = h_connect("127.0.0.1", port_slow[_i]);

	ck_assert_int_ge(c, 0);
	snprintf(svc, sizeof(svc), "s%d", _i);
	wait_connecting(svc);
	ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(c);
	ck_assert_msg(H_DEADLINE_WAIT(stat_of(svc, "completed") == 1, 60000),
	              "%s: the reset client's connection did not end", svc);
	ck_assert_int_eq(stat_of(svc, "active"), 0);
	ck_assert_int_eq(upstream(svc, "timeouts"), 0);
}
END_TEST

/* A client that half-closes while the target is slow to connect (its request sent, or
 * nothing to send, as for daytime) is still served once the target takes it. _i: the
 * model (_i / 2) and whether a request is sent (_i % 2 == 0). */
START_TEST(slow_connect_client_half_closes)
{
	char svc[8], buf[64];
	int m = _i / 2;
	bool request = _i % 2 == 0;
	int c = h_connect("127.0.0.1", port_slow[m]);

	ck_assert_int_ge(c, 0);
	if (request)
		ck_assert_int_eq(h_write_all(c, "request", 7), 0);
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	snprintf(svc, sizeof(svc), "s%d", m);
	wait_connecting(svc);
	/* Room in the backlog: the relay's next SYN (the kernel's retries back off to
	 * seconds apart) gets in. */
	close(accept_from(slow));
	int t = accept_within(slow, 60000);
	ck_assert_int_eq(read_to_eof(t, buf, sizeof(buf)), request ? 7 : 0);
	ck_assert(!request || memcmp(buf, "request", 7) == 0);
	ck_assert_int_eq(h_write_all(t, "answer", 6), 0);
	close(t);
	ck_assert_int_eq(read_to_eof(c, buf, sizeof(buf)), 6);
	ck_assert(memcmp(buf, "answer", 6) == 0);
	close(c);
	ck_assert_int_eq(upstream(svc, "connected"), 1);
}
END_TEST

/* Threadpool with 2 threads: more relays than threads are open at once, every one
 * connected to its target (the echo service holds them all) and carrying bytes. A
 * relay that held a thread for its life would leave the third client waiting. */
#define TP_HELD 6
static void tp_open_held_on(const char *svc, int port, int *c)
{
	for (int i = 0; i < TP_HELD; i++) {
		c[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(c[i], 0);
	}
	ck_assert_msg(H_DEADLINE_WAIT(stat_of("echo", "active") == TP_HELD, 30000),
	              "%lld of %d relays reached the target", stat_of("echo", "active"), TP_HELD);
	ck_assert_int_eq(stat_of(svc, "active"), TP_HELD);
}

static void tp_open_held(int *c)
{
	tp_open_held_on("t2", port_t2, c);
}

START_TEST(threadpool_relays_beyond_threads)
{
	int c[TP_HELD];
	char msg[32], buf[32];

	tp_open_held(c);
	/* The last ones first: they were queued behind the first two. */
	for (int i = TP_HELD - 1; i >= 0; i--) {
		int n = snprintf(msg, sizeof(msg), "relay %d", i);
		ck_assert_int_eq(h_write_all(c[i], msg, (size_t)n), 0);
		ck_assert_int_eq(h_read_n(c[i], buf, (size_t)n, READ_DEADLINE_MS), 0);
		ck_assert(memcmp(buf, msg, (size_t)n) == 0);
	}
	for (int i = 0; i < TP_HELD; i++)
		close(c[i]);
	ck_assert(H_DEADLINE_WAIT(stat_of("t2", "completed") == TP_HELD, 30000));
}
END_TEST

/* The same relays each half-closed by the client: the echo service sees the end,
 * answers, and closes, and the client reads the answer and then the end. */
START_TEST(threadpool_relays_half_close)
{
	int c[TP_HELD];
	char msg[32], buf[32];

	tp_open_held(c);
	for (int i = TP_HELD - 1; i >= 0; i--) {
		int n = snprintf(msg, sizeof(msg), "half %d", i);
		ck_assert_int_eq(h_write_all(c[i], msg, (size_t)n), 0);
		ck_assert_int_eq(shutdown(c[i], SHUT_WR), 0);
		ck_assert_int_eq(read_to_eof(c[i], buf, sizeof(buf)), n);
		ck_assert(memcmp(buf, msg, (size_t)n) == 0);
		close(c[i]);
	}
	ck_assert(H_DEADLINE_WAIT(stat_of("t2", "completed") == TP_HELD, 30000));
	ck_assert_int_eq(stat_of("t2", "active"), 0);
}
END_TEST

/* Threadpool, a module's relay with a close callback: the relays still hold no thread
 * (six at once under threads: 2), and as each ends a thread runs the close callback,
 * once. */
START_TEST(threadpool_relay_close_callback)
{
	int c[TP_HELD];
	char buf[8];

	tp_open_held_on("rc", port_rc, c);
	for (int i = 0; i < TP_HELD; i++) {
		ck_assert_int_eq(h_write_all(c[i], "ok", 2), 0);
		ck_assert_int_eq(h_read_n(c[i], buf, 2, READ_DEADLINE_MS), 0);
		close(c[i]);
	}
	ck_assert(H_DEADLINE_WAIT(stat_of("rc", "completed") == TP_HELD, 30000));
	ck_assert_msg(H_DEADLINE_WAIT(h_count_lines(marks) == TP_HELD, 30000),
	              "%d close callbacks for %d relays", h_count_lines(marks), TP_HELD);
}
END_TEST

/* Threadpool: the poller keeps a relay's idle timeout. A relayed client that sends a
 * byte every 125 ms stays open well past the 3 s, while a silent one is closed (not
 * before its 3 s) and counted as a timeout. */
START_TEST(threadpool_relay_idle_timeout)
{
	char buf[8];
	long long t0 = h_now_ms(), silent_end = -1, next_send = t0;
	int talker = h_connect("127.0.0.1", port_ti), silent = h_connect("127.0.0.1", port_ti);
	int t1, t2;

	ck_assert_int_ge(talker, 0);
	ck_assert_int_ge(silent, 0);
	/* Which is which does not matter: the target only takes the bytes. */
	t1 = accept_from(target);
	t2 = accept_from(target);
	while ((h_now_ms() - t0 < 7000 || silent_end < 0) && h_now_ms() - t0 < 60000) {
		struct pollfd p[2] = {{.fd = talker, .events = POLLIN},
		                      {.fd = silent_end < 0 ? silent : -1, .events = POLLIN}};
		long long now = h_now_ms();

		if (now >= next_send) {
			ck_assert_int_eq(h_write_all(talker, "x", 1), 0);
			next_send = now + 125;
		}
		ck_assert_int_ge(poll(p, 2, (int)(next_send > now ? next_send - now : 0)), 0);
		ck_assert_msg(!p[0].revents, "the talker was closed after %lld ms",
		              h_now_ms() - t0);
		if (p[1].revents) {
			ck_assert_int_eq(recv(silent, buf, sizeof(buf), MSG_DONTWAIT), 0);
			silent_end = h_now_ms() - t0;
		}
	}
	ck_assert_msg(silent_end >= 0, "the silent relay was not closed");
	ck_assert_msg(silent_end >= 3000, "the silent relay was closed after %lld ms", silent_end);
	ck_assert(H_DEADLINE_WAIT(stat_of("ti", "timeouts") == 1, 30000));
	close(talker);
	close(silent);
	close(t1);
	close(t2);
}
END_TEST

static void local_ports(int c, unsigned *cport, unsigned *sport)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	ck_assert_int_eq(getsockname(c, (struct sockaddr *)&a, &len), 0);
	*cport = ntohs(a.sin_port);
	len = sizeof(a);
	ck_assert_int_eq(getpeername(c, (struct sockaddr *)&a, &len), 0);
	*sport = ntohs(a.sin_port);
}

START_TEST(proxy_v1_out)
{
	char want[128], buf[256];
	unsigned cp, sp;
	int c = h_connect("127.0.0.1", port_v1);
	ck_assert_int_ge(c, 0);
	local_ports(c, &cp, &sp);
	int t = accept_from(target);
	ck_assert_int_eq(h_write_all(c, "data", 4), 0);
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	int n = snprintf(want, sizeof(want), "PROXY TCP4 127.0.0.1 127.0.0.1 %u %u\r\ndata", cp,
	                 sp);
	ck_assert_int_eq(read_to_eof(t, buf, sizeof(buf)), n);
	ck_assert(memcmp(buf, want, (size_t)n) == 0);
	close(c);
	close(t);
}
END_TEST

START_TEST(proxy_v2_out)
{
	uint8_t want[64], buf[256];
	unsigned cp, sp;
	int c = h_connect("127.0.0.1", port_v2);
	ck_assert_int_ge(c, 0);
	local_ports(c, &cp, &sp);
	int t = accept_from(target);
	ck_assert_int_eq(h_write_all(c, "data", 4), 0);
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	static const uint8_t head[16] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
	                                 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C};
	memcpy(want, head, 16);
	const uint8_t addrs[8] = {127, 0, 0, 1, 127, 0, 0, 1};
	memcpy(want + 16, addrs, 8);
	want[24] = (uint8_t)(cp >> 8);
	want[25] = (uint8_t)cp;
	want[26] = (uint8_t)(sp >> 8);
	want[27] = (uint8_t)sp;
	memcpy(want + 28, "data", 4);
	ck_assert_int_eq(read_to_eof(t, (char *)buf, sizeof(buf)), 32);
	ck_assert(memcmp(buf, want, 32) == 0);
	close(c);
	close(t);
}
END_TEST

START_TEST(unix_target_bytes)
{
	char buf[64];
	int c = h_connect("127.0.0.1", port_unix);
	ck_assert_int_ge(c, 0);
	int t = accept_from(unix_target);
	ck_assert_int_eq(h_write_all(c, "over unix", 9), 0);
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	ck_assert_int_eq(read_to_eof(t, buf, sizeof(buf)), 9);
	ck_assert(memcmp(buf, "over unix", 9) == 0);
	ck_assert_int_eq(h_write_all(t, "answer", 6), 0);
	close(t);
	ck_assert_int_eq(read_to_eof(c, buf, sizeof(buf)), 6);
	ck_assert(memcmp(buf, "answer", 6) == 0);
	close(c);
	ck_assert_int_eq(upstream("un", "connected"), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("forward (daemon)");
	TCase *tc = tcase_create("forward");
	tcase_add_checked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, bytes_both_ways, 0, N_MODELS);
	tcase_add_loop_test(tc, half_close_client_first, 0, N_MODELS);
	tcase_add_loop_test(tc, half_close_target_first, 0, N_MODELS);
	/* The in-loop models: a blocking one holds one connection per process anyway. */
	tcase_add_loop_test(tc, slow_target, 0, 2);
	tcase_add_loop_test(tc, slow_client, 0, 2);
	tcase_add_loop_test(tc, target_refuses, 0, N_MODELS);
	tcase_add_loop_test(tc, target_never_answers, 0, N_MODELS);
	tcase_add_loop_test(tc, slow_connect_client_resets, 0, N_MODELS);
	tcase_add_loop_test(tc, slow_connect_client_half_closes, 0, 2 * N_MODELS);
	tcase_add_test(tc, threadpool_relays_beyond_threads);
	tcase_add_test(tc, threadpool_relays_half_close);
	tcase_add_test(tc, threadpool_relay_idle_timeout);
	tcase_add_test(tc, threadpool_relay_close_callback);
	tcase_add_test(tc, proxy_v1_out);
	tcase_add_test(tc, proxy_v2_out);
	tcase_add_test(tc, unix_target_bytes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
