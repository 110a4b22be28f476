/*
 * The `forward` built-in through the real daemon on loopback, under each model: bytes
 * both ways, half-closes passed on, bounded memory against a side that does not read,
 * targets that refuse or never answer, PROXY headers out, a Unix-socket target.
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
#include "harness_relay.h"

static const char *const models[] = {"event", "threadpool", "fork", "prefork"};
#define N_MODELS 4

static struct daemon d = {0};
static int target = -1, blackhole = -1, unix_target = -1;
static int target_port, refused_port, blackhole_port;
static int port_fw[N_MODELS], port_refused[N_MODELS], port_bh[N_MODELS];
static int port_v1, port_v2, port_unix;
static char udir[64], upath[128];
static int fill[4] = {-1, -1, -1, -1};

static void start(void)
{
	char svc[4096];
	size_t n = 0;
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int tmp;

	target = hr_listener(64, &target_port);
	/* A port nobody listens on: bound, then closed. */
	close(hr_listener(1, &refused_port));
	/* A target that never answers: a backlog of 0 holds one connection; once it is
	 * full the kernel drops further SYNs, so a connect waits (offline, on loopback). */
	blackhole = hr_listener(0, &blackhole_port);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                         .sin_port = htons((uint16_t)blackhole_port)};
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		(void)connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	strcpy(udir, "/tmp/fwtest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(udir));
	ck_assert_int_eq(chmod(udir, 0755), 0);
	snprintf(upath, sizeof(upath), "%s/t.sock", udir);
	strcpy(su.sun_path, upath);
	unix_target = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(unix_target, (struct sockaddr *)&su, sizeof(su)), 0);
	ck_assert_int_eq(chmod(upath, 0777), 0);
	ck_assert_int_eq(listen(unix_target, 16), 0);

	for (int m = 0; m < N_MODELS; m++) {
		port_fw[m] = h_free_port();
		port_refused[m] = h_free_port();
		port_bh[m] = h_free_port();
		n += (size_t)snprintf(
		        svc + n, sizeof(svc) - n,
		        "  f%d: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: %s, args: "
		        "{target: '127.0.0.1:%d'}}\n"
		        "  r%d: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: %s, args: "
		        "{target: '127.0.0.1:%d'}, limits: {banner: 'target down'}}\n"
		        "  b%d: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: %s, args: "
		        "{target: '127.0.0.1:%d', connect_timeout: 1s}}\n",
		        m, port_fw[m], models[m], target_port, m, port_refused[m], models[m],
		        refused_port, m, port_bh[m], models[m], blackhole_port);
	}
	port_v1 = h_free_port();
	port_v2 = h_free_port();
	port_unix = h_free_port();
	tmp = h_start(&d,
	              "services:\n%s"
	              "  v1: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: event, args: "
	              "{target: '127.0.0.1:%d', proxy_protocol: v1}}\n"
	              "  v2: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: prefork, args: "
	              "{target: '127.0.0.1:%d', proxy_protocol: v2}}\n"
	              "  un: {listen: ['127.0.0.1:%d'], builtin: forward, mpm: threadpool, args: "
	              "{target: 'unix:%s'}}\n",
	              svc, port_v1, target_port, port_v2, target_port, port_unix, upath);
	ck_assert_int_eq(tmp, 0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
	close(target);
	close(blackhole);
	close(unix_target);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	unlink(upath);
	rmdir(udir);
}

/* The daemon's connection to a target listener. */
static int accept_from(int lfd)
{
	return hr_accept(lfd, 10000);
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

static long long upstream(const char *svc, const char *key)
{
	return hr_upstream(&d, svc, key);
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
