/*
 * Datagram services through the real daemon on loopback: the exact bytes of UDP echo,
 * daytime and time over IPv4, IPv6 and unix datagram sockets; the amplification bound
 * and datagram_reply_max; per-source rates against a flood while another source is
 * answered; access lists; oversized and empty datagrams; stream and datagram sockets on
 * one port number, in one service and in two; the counters in superctl; a reload that
 * keeps the socket.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"
#include "harness_dgram.h"

#define WAIT_MS 15000
/* What the flood's source may send before its bucket is empty (and never refills
 * during a test: 1/h). */
#define FLOOD_BURST 5
#define FLOOD_COUNT 60

static struct daemon d = {0};
static int p_echo, p_day, p_time, p_time4, p_flood, p_deny, p_shared;
static char echo_sock[128], time_sock[128], user_sock[128];

static void start(void)
{
	p_echo = h_free_port();
	p_day = h_free_port();
	p_time = h_free_port();
	p_time4 = h_free_port();
	p_flood = h_free_port();
	p_deny = h_free_port();
	p_shared = h_free_port();
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	snprintf(echo_sock, sizeof(echo_sock), "%s/echo.sock", d.dir);
	snprintf(time_sock, sizeof(time_sock), "%s/time.sock", d.dir);
	snprintf(user_sock, sizeof(user_sock), "%s/user.sock", d.dir);
	ck_assert_int_eq(
	        h_write_config(
	                &d,
	                "services:\n"
	                "  echo:\n"
	                "    listen: ['udp:127.0.0.1:%d', 'udp:[::1]:%d', '127.0.0.1:%d',\n"
	                "             {address: 'unixgram:%s', mode: '0666'}]\n"
	                "    builtin: echo\n"
	                "    mpm: {model: event, workers: 2}\n"
	                "  daytime: {listen: ['udp:127.0.0.1:%d', 'udp:[::1]:%d'], builtin: "
	                "daytime,\n"
	                "            mpm: event}\n"
	                "  time:\n"
	                "    listen: ['udp:127.0.0.1:%d', 'udp:[::1]:%d',\n"
	                "             {address: 'unixgram:%s', mode: '0666'}]\n"
	                "    builtin: time\n"
	                "    mpm: event\n"
	                "  time4: {listen: ['udp:127.0.0.1:%d'], builtin: time, mpm: event,\n"
	                "          limits: {datagram_reply_max: 4}}\n"
	                "  flood: {listen: ['udp:127.0.0.1:%d'], builtin: echo, mpm: event,\n"
	                "          limits: {per_source_rate: 1/h, per_source_burst: %d}}\n"
	                "  denied: {listen: ['udp:127.0.0.1:%d'], builtin: echo, mpm: event,\n"
	                "           access: {deny: [127.0.0.2/32]}}\n"
	                "  stream: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: event}\n"
	                "  dgram: {listen: ['udp:127.0.0.1:%d'], builtin: daytime, mpm: event}\n"
	                "  users: {listen: [{address: 'unixgram:%s', mode: '0666'}], builtin: "
	                "echo,\n"
	                "          mpm: event, access: {allow_users: ['%d']}}\n",
	                p_echo, p_echo, p_echo, echo_sock, p_day, p_day, p_time, p_time, time_sock,
	                p_time4, p_flood, FLOOD_BURST, p_deny, p_shared, p_shared, user_sock,
	                (int)getuid()),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

/* A client socket of FAMILY bound to BIND (NULL: any). */
static int client(int family, const char *bind_to)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	if (bind_to) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		ck_assert_int_eq(inet_pton(AF_INET, bind_to, &sin.sin_addr), 1);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	return fd;
}

static void send_to(int fd, const char *host, int port, const void *buf, size_t len)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;

	if (port == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", host);
		sl = sizeof(*sun);
	} else if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET6, host, &s6->sin6_addr), 1);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET, host, &s4->sin_addr), 1);
		sl = sizeof(*s4);
	}
	ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
}

/* Nothing is waiting on fd now. */
static bool nothing_pending(int fd)
{
	char buf[64];

	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* Waits until the counter reaches WANT (another datagram's batch may be counted later). */
static void wait_count(const char *svc, const char *field, const char *reason, long long want)
{
	const char *what = reason ? reason : field;
	bool ok = H_DEADLINE_WAIT(hd_count(&d, svc, field, reason) >= want, WAIT_MS);

	ck_assert_msg(ok, "%s %s stayed at %lld (want %lld)", svc, what,
	              hd_count(&d, svc, field, reason), want);
}

START_TEST(echo_exact_bytes)
{
	static const char msg[] = "hello, datagram\r\n\x01\xff";
	char buf[128];
	int fd4 = client(AF_INET, NULL), fd6 = client(AF_INET6, NULL),
	    fdu = hd_unix_client(&d, "c1");

	send_to(fd4, "127.0.0.1", p_echo, msg, sizeof(msg) - 1);
	ck_assert_int_eq(hd_answer(fd4, buf, sizeof(buf), WAIT_MS), (ssize_t)sizeof(msg) - 1);
	ck_assert(memcmp(buf, msg, sizeof(msg) - 1) == 0);
	send_to(fd6, "::1", p_echo, msg, sizeof(msg) - 1);
	ck_assert_int_eq(hd_answer(fd6, buf, sizeof(buf), WAIT_MS), (ssize_t)sizeof(msg) - 1);
	ck_assert(memcmp(buf, msg, sizeof(msg) - 1) == 0);
	send_to(fdu, echo_sock, 0, msg, sizeof(msg) - 1);
	ck_assert_int_eq(hd_answer(fdu, buf, sizeof(buf), WAIT_MS), (ssize_t)sizeof(msg) - 1);
	ck_assert(memcmp(buf, msg, sizeof(msg) - 1) == 0);
	close(fd4);
	close(fd6);
	close(fdu);
}
END_TEST

/* "Tue Dec  8 10:11:12 2026\r\n": the stream form's line. */
static void assert_daytime(const char *buf, ssize_t n)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	bool day = false;

	ck_assert_int_eq(n, 26);
	for (int i = 0; i < 7; i++)
		day |= strncmp(buf, days[i], 3) == 0;
	ck_assert_msg(day, "%.*s", (int)n, buf);
	ck_assert(buf[3] == ' ' && buf[7] == ' ' && buf[13] == ':' && buf[16] == ':');
	ck_assert(buf[24] == '\r' && buf[25] == '\n');
}

START_TEST(daytime_exact_bytes)
{
	ssize_t n;
	char req[32], buf[128];
	int fd4 = client(AF_INET, NULL), fd6 = client(AF_INET6, NULL);

	memset(req, 'q', sizeof(req));
	send_to(fd4, "127.0.0.1", p_day, req, sizeof(req));
	n = hd_answer(fd4, buf, sizeof(buf), WAIT_MS);
	assert_daytime(buf, n);
	send_to(fd6, "::1", p_day, req, sizeof(req));
	n = hd_answer(fd6, buf, sizeof(buf), WAIT_MS);
	assert_daytime(buf, n);
	close(fd4);
	close(fd6);
}
END_TEST

static void assert_time(const unsigned char *buf, ssize_t n)
{
	ck_assert_int_eq(n, 4);
	uint32_t v =
	        (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	uint32_t now = (uint32_t)((uint64_t)time(NULL) + 2208988800u);
	/* A minute either way: the same clock, read moments apart. */
	ck_assert_msg(v - now + 60 <= 120, "time %u, now %u", v, now);
}

START_TEST(time_exact_bytes)
{
	ssize_t n;
	unsigned char buf[64];
	int fd4 = client(AF_INET, NULL), fd6 = client(AF_INET6, NULL),
	    fdu = hd_unix_client(&d, "c2");

	send_to(fd4, "127.0.0.1", p_time, "four", 4);
	n = hd_answer(fd4, buf, sizeof(buf), WAIT_MS);
	assert_time(buf, n);
	send_to(fd6, "::1", p_time, "four", 4);
	n = hd_answer(fd6, buf, sizeof(buf), WAIT_MS);
	assert_time(buf, n);
	send_to(fdu, time_sock, 0, "four", 4);
	n = hd_answer(fdu, buf, sizeof(buf), WAIT_MS);
	assert_time(buf, n);
	close(fd4);
	close(fd6);
	close(fdu);
}
END_TEST

/* A 1-byte request to time or daytime, an empty one to time: no answer larger than its
 * request, each counted for its size. */
START_TEST(never_larger_than_request)
{
	int fd = client(AF_INET, NULL);
	long long t0 = hd_count(&d, "time", NULL, "size"),
	          d0 = hd_count(&d, "daytime", NULL, "size");

	send_to(fd, "127.0.0.1", p_time, "x", 1);
	send_to(fd, "127.0.0.1", p_time, "", 0);
	send_to(fd, "127.0.0.1", p_day, "x", 1);
	wait_count("time", NULL, "size", t0 + 2);
	wait_count("daytime", NULL, "size", d0 + 1);
	/* An answer goes out before its batch is counted: none came. */
	ck_assert(nothing_pending(fd));
	close(fd);
}
END_TEST

/* rdate's empty request, answered where the operator allows 4 bytes. */
START_TEST(reply_max_lifts_bound)
{
	ssize_t n;
	unsigned char buf[64];
	int fd = client(AF_INET, NULL);

	send_to(fd, "127.0.0.1", p_time4, "", 0);
	n = hd_answer(fd, buf, sizeof(buf), WAIT_MS);
	assert_time(buf, n);
	send_to(fd, "127.0.0.1", p_time4, "x", 1);
	n = hd_answer(fd, buf, sizeof(buf), WAIT_MS);
	assert_time(buf, n);
	close(fd);
}
END_TEST

START_TEST(flood_from_one_source)
{
	char buf[64];
	int flood = client(AF_INET, "127.0.0.2"), other = client(AF_INET, "127.0.0.3");
	long long got = 0;

	for (int i = 0; i < FLOOD_COUNT; i++)
		send_to(flood, "127.0.0.1", p_flood, "flood", 5);
	wait_count("flood", "received", NULL, FLOOD_COUNT);
	while (hd_answer(flood, buf, sizeof(buf), 0) == 5)
		got++;
	ck_assert_int_ge(got, 1);
	ck_assert_int_le(got, FLOOD_BURST + 1);
	ck_assert_int_eq(hd_count(&d, "flood", NULL, "rate"), FLOOD_COUNT - got);
	ck_assert_int_eq(hd_count(&d, "flood", "answered", NULL), got);
	/* Another source has its own bucket. */
	send_to(other, "127.0.0.1", p_flood, "other", 5);
	ck_assert_int_eq(hd_answer(other, buf, sizeof(buf), WAIT_MS), 5);
	ck_assert(memcmp(buf, "other", 5) == 0);
	close(flood);
	close(other);
}
END_TEST

START_TEST(denied_source)
{
	char buf[64];
	int denied = client(AF_INET, "127.0.0.2"), allowed = client(AF_INET, "127.0.0.1");

	send_to(denied, "127.0.0.1", p_deny, "no", 2);
	wait_count("denied", NULL, "access", 1);
	send_to(allowed, "127.0.0.1", p_deny, "yes", 3);
	ck_assert_int_eq(hd_answer(allowed, buf, sizeof(buf), WAIT_MS), 3);
	ck_assert(nothing_pending(denied));
	/* Counted after the batch's answers are sent: the answer can come first. */
	wait_count("denied", "answered", NULL, 1);
	ck_assert_int_eq(hd_count(&d, "denied", "answered", NULL), 1);
	close(denied);
	close(allowed);
}
END_TEST

/* A datagram from the port of a service that answers by itself (chargen, 19) would
 * start a loop between two servers: never answered. */
START_TEST(loop_port_refused)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(19)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	long long a0 = hd_count(&d, "echo", NULL, "access");

	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.5", &sin.sin_addr), 1);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "loop_port_refused skipped: cannot bind 127.0.0.5:19: %s\n",
		        strerror(errno));
		close(fd);
		return;
	}
	send_to(fd, "127.0.0.1", p_echo, "loop", 4);
	wait_count("echo", NULL, "access", a0 + 1);
	ck_assert(nothing_pending(fd));
	close(fd);
}
END_TEST

/* allow_users on a unix datagram socket: the sender's credentials come with each
 * datagram. Ours are allowed; another user's datagram is dropped. */
START_TEST(unixgram_allow_users)
{
	char buf[64];
	int fd = hd_unix_client(&d, "c3");

	send_to(fd, user_sock, 0, "me", 2);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 2);
	close(fd);
	if (getuid() != 0) {
		fprintf(stderr, "unixgram_allow_users: another user's datagram needs root\n");
		return;
	}
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		int c = socket(AF_UNIX, SOCK_DGRAM, 0);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", user_sock);
		if (c < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(1);
		_exit(sendto(c, "them", 4, 0, (struct sockaddr *)&sun, sizeof(sun)) == 4 ? 0 : 2);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	wait_count("users", NULL, "access", 1);
	ck_assert_int_eq(hd_count(&d, "users", "answered", NULL), 1);
}
END_TEST

/* Larger than the buffer: dropped, never answered from a truncated copy; empty: echo
 * sends an empty datagram back. The service goes on. */
START_TEST(oversized_and_empty)
{
	size_t big = 20000;
	char *req = malloc(big), buf[64];
	int fd = client(AF_INET, NULL);
	long long s0 = hd_count(&d, "echo", NULL, "size"),
	          r0 = hd_count(&d, "echo", "received", NULL);

	memset(req, 'b', big);
	send_to(fd, "127.0.0.1", p_echo, req, big);
	send_to(fd, "127.0.0.1", p_echo, "", 0);
	wait_count("echo", "received", NULL, r0 + 2);
	wait_count("echo", NULL, "size", s0 + 1);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 0);
	ck_assert(nothing_pending(fd));
	send_to(fd, "127.0.0.1", p_echo, "after", 5);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 5);
	free(req);
	close(fd);
}
END_TEST

/* One port number, a stream and a datagram socket: in one service (echo) and in two
 * (stream: echo over TCP, dgram: daytime over UDP). */
START_TEST(stream_and_datagram_same_port)
{
	ssize_t n;
	char buf[128];
	int fd = client(AF_INET, NULL);

	ck_assert_int_eq(h_exchange("127.0.0.1", p_echo, "tcp", true, buf, sizeof(buf), WAIT_MS),
	                 3);
	ck_assert(memcmp(buf, "tcp", 3) == 0);
	ck_assert_int_eq(h_exchange("127.0.0.1", p_shared, "tcp!", true, buf, sizeof(buf), WAIT_MS),
	                 4);
	ck_assert(memcmp(buf, "tcp!", 4) == 0);
	send_to(fd, "127.0.0.1", p_shared, "a request long enough for daytime", 33);
	n = hd_answer(fd, buf, sizeof(buf), WAIT_MS);
	assert_daytime(buf, n);
	close(fd);
}
END_TEST

/* superctl's words for the counters: stats and metrics. */
static void run_superctl(const char *cmd, const char *arg, char *out, size_t cap)
{
	int pfd[2];
	size_t n = 0;
	const char *p = getenv("SUPERCTL");

	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		execl(p ? p : "./superctl", "superctl", "--socket", d.control, cmd, arg,
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd pl = {.fd = pfd[0], .events = POLLIN};
		ssize_t k;
		if (poll(&pl, 1, WAIT_MS) <= 0 || (k = read(pfd[0], out + n, cap - 1 - n)) <= 0)
			break;
		n += (size_t)k;
	}
	out[n] = '\0';
	close(pfd[0]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "superctl %s: %s", cmd, out);
}

START_TEST(superctl_shows_counters)
{
	static char out[65536];
	char want[256];
	int fd = client(AF_INET, "127.0.0.2");
	long long a0 = hd_count(&d, "denied", NULL, "access");

	send_to(fd, "127.0.0.1", p_deny, "no", 2);
	wait_count("denied", NULL, "access", a0 + 1);
	long long rec = hd_count(&d, "denied", "received", NULL),
	          ans = hd_count(&d, "denied", "answered", NULL);
	run_superctl("stats", "denied", out, sizeof(out));
	snprintf(
	        want, sizeof(want),
	        "datagrams        received %lld, answered %lld, unanswered 0, dropped %lld (access "
	        "%lld, rate 0, size 0, error 0, failed 0), peer errors 0\n",
	        rec, ans, a0 + 1, a0 + 1);
	ck_assert_msg(strstr(out, want), "want %s in:\n%.3000s", want, out);
	run_superctl("metrics", NULL, out, sizeof(out));
	snprintf(
	        want, sizeof(want),
	        "superserverd_datagrams_dropped_total{service=\"denied\",reason=\"access\"} %lld\n",
	        a0 + 1);
	ck_assert_msg(strstr(out, want), "want %s in:\n%.3000s", want, out);
	snprintf(want, sizeof(want),
	         "superserverd_datagrams_received_total{service=\"denied\"} %lld\n", rec);
	ck_assert_msg(strstr(out, want), "want %s in:\n%.3000s", want, out);
	snprintf(want, sizeof(want),
	         "superserverd_datagrams_answered_total{service=\"denied\"} %lld\n", ans);
	ck_assert_msg(strstr(out, want), "want %s in:\n%.3000s", want, out);
	/* A stream-only service has no datagram counters to show. */
	ck_assert(!strstr(out, "superserverd_datagrams_received_total{service=\"stream\"}"));
	close(fd);
}
END_TEST

/* After everything above, the daemon and another service still answer. */
START_TEST(survives)
{
	char buf[64];

	ck_assert_int_eq(kill(d.pid, 0), 0);
	ck_assert_int_eq(
	        h_exchange("127.0.0.1", p_shared, "still", true, buf, sizeof(buf), WAIT_MS), 5);
	ck_assert(hc_wait_state(&d, "echo", "running", WAIT_MS));
}
END_TEST

/* A reload that leaves the datagram service as it was keeps its socket and processes: a
 * datagram sent while the reload runs is answered. */
START_TEST(reload_keeps_socket)
{
	struct daemon r = {0};
	char buf[64];
	int port = h_free_port(), other = h_free_port(), fd = client(AF_INET, NULL);

	ck_assert_int_eq(h_start(&r,
	                         "services:\n"
	                         "  u: {listen: ['udp:127.0.0.1:%d'], builtin: echo, mpm: event}\n",
	                         port),
	                 0);
	send_to(fd, "127.0.0.1", port, "before", 6);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 6);
	pid_t worker = h_only_child(r.pid);
	ck_assert_int_gt(worker, 0);
	ck_assert_int_eq(h_write_config(&r,
	                                "services:\n"
	                                "  u: {listen: ['udp:127.0.0.1:%d'], builtin: echo, mpm: "
	                                "event}\n"
	                                "  t: {listen: ['127.0.0.1:%d'], builtin: echo}\n",
	                                port, other),
	                 0);
	h_notify_clear(&r);
	ck_assert_int_eq(kill(r.pid, SIGHUP), 0);
	send_to(fd, "127.0.0.1", port, "during", 6);
	ck_assert_int_eq(h_wait_notify(&r, "READY=1", WAIT_MS), 0);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 6);
	ck_assert(memcmp(buf, "during", 6) == 0);
	/* The same process, not one draining beside a new one. */
	json_t *reply = hc_call(&r, "stats", "u");
	json_t *procs = json_object_get(hc_service(reply, "u"), "processes");
	ck_assert_int_eq(json_array_size(procs), 1);
	ck_assert_int_eq(hc_int(json_array_get(procs, 0), "pid"), worker);
	ck_assert_str_eq(hc_str(json_array_get(procs, 0), "state"), "idle");
	json_decref(reply);
	send_to(fd, "127.0.0.1", port, "after", 5);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 5);
	close(fd);
	ck_assert_int_eq(h_stop(&r), 0);
}
END_TEST

/* A datagram service that has answered is proven, as a stream service that has
 * completed a connection is: a process killed after that is an incident, restarted
 * at the first backoff step every time (never doubling towards "failed"). */
START_TEST(answered_is_proven)
{
	struct daemon r = {0};
	char buf[64];
	int port = h_free_port(), fd = client(AF_INET, NULL);
	pid_t worker;

	r.allowed_errors[0] = "killed by signal";
	ck_assert_int_eq(h_start(&r,
	                         "services:\n"
	                         "  u: {listen: ['udp:127.0.0.1:%d'], builtin: echo, mpm: event}\n",
	                         port),
	                 0);
	send_to(fd, "127.0.0.1", port, "once", 4);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 4);
	/* Counted just after the answer is sent: a kill in between would lose the count. */
	ck_assert(H_DEADLINE_WAIT(hd_count(&r, "u", "answered", NULL) == 1, WAIT_MS));
	for (int i = 0; i < 3; i++) {
		ck_assert(H_DEADLINE_WAIT((worker = h_only_child(r.pid)) > 0, WAIT_MS));
		ck_assert_int_eq(kill(worker, SIGKILL), 0);
		ck_assert(H_DEADLINE_WAIT(h_only_child(r.pid) > 0 && h_only_child(r.pid) != worker,
		                          WAIT_MS));
	}
	send_to(fd, "127.0.0.1", port, "again", 5);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 5);
	ck_assert(h_log_wait(&r, "restarting in 100 ms", WAIT_MS));
	ck_assert_msg(!h_log_wait(&r, "restarting in 200 ms", 0),
	              "a proven service's restarts were delayed as for a crash loop");
	close(fd);
	ck_assert_int_eq(h_stop(&r), 0);
}
END_TEST

/* On a socket bound to every address, the answer leaves from the address the client
 * sent to: a client connected to 127.0.0.2 (which accepts datagrams from that address
 * alone) gets its echo, though routing alone would answer 127.0.0.1 from 127.0.0.1.
 * The connection record names 127.0.0.2 as the local address. Only loopback sources
 * are allowed while the wildcard socket exists. */
START_TEST(wildcard_answers_from_asked_address)
{
	struct daemon r = {0};
	char buf[4096], rec[256], want[64];
	int port = h_free_port(), fd = client(AF_INET, "127.0.0.1");
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	FILE *f;

	ck_assert_int_eq(h_prepare(&r, "services: {}\n"), 0);
	snprintf(rec, sizeof(rec), "%s/records.jsonl", r.dir);
	ck_assert_int_eq(
	        h_write_config(&r,
	                       "services:\n"
	                       "  u: {listen: ['udp:0.0.0.0:%d'], builtin: echo, mpm: event,\n"
	                       "      access: {allow: [127.0.0.0/8]},\n"
	                       "      log_connections: 'json:%s'}\n",
	                       port, rec),
	        0);
	ck_assert_int_eq(h_launch(&r), 0);
	/* The service process asks for each datagram's address when it starts: one
	 * answered datagram shows it has (one sent before may come without). */
	int warm = client(AF_INET, NULL);
	send_to(warm, "127.0.0.1", port, "up?", 3);
	ck_assert_int_eq(hd_answer(warm, buf, sizeof(buf), WAIT_MS), 3);
	close(warm);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.2", &to.sin_addr), 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	ck_assert_int_eq(send(fd, "where", 5, 0), 5);
	ck_assert_int_eq(hd_answer(fd, buf, sizeof(buf), WAIT_MS), 5);
	ck_assert(memcmp(buf, "where", 5) == 0);
	ck_assert(H_DEADLINE_WAIT(h_count_lines(rec) == 2, WAIT_MS));
	f = fopen(rec, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	snprintf(want, sizeof(want), "\"local\":\"127.0.0.2:%d\"", port);
	ck_assert_msg(strstr(buf, want), "the record does not name %s: %s", want, buf);
	close(fd);
	ck_assert_int_eq(h_stop(&r), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("datagram");
	TCase *tc = tcase_create("builtins");
	TCase *tr = tcase_create("reload");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, start, stop);
	tcase_add_test(tc, echo_exact_bytes);
	tcase_add_test(tc, daytime_exact_bytes);
	tcase_add_test(tc, time_exact_bytes);
	tcase_add_test(tc, never_larger_than_request);
	tcase_add_test(tc, reply_max_lifts_bound);
	tcase_add_test(tc, flood_from_one_source);
	tcase_add_test(tc, denied_source);
	tcase_add_test(tc, oversized_and_empty);
	tcase_add_test(tc, loop_port_refused);
	tcase_add_test(tc, unixgram_allow_users);
	tcase_add_test(tc, stream_and_datagram_same_port);
	tcase_add_test(tc, superctl_shows_counters);
	tcase_add_test(tc, survives);
	suite_add_tcase(s, tc);
	tcase_add_test(tr, reload_keeps_socket);
	tcase_add_test(tr, answered_is_proven);
	tcase_add_test(tr, wildcard_answers_from_asked_address);
	suite_add_tcase(s, tr);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
