/*
 * Datagram services between their peers, through the real daemon: a local client that
 * never reads does not cost another its answers; a local user over its packet rate is
 * dropped while another user is answered; and the counters add up, exactly, after a
 * mixed batch (answered, empty, oversized, denied, over the rate, unanswered by
 * discard), bytes_in being the datagrams' real lengths.
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
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"
#include "harness_dgram.h"

#define WAIT_MS 15000
/* What a local user may send before its bucket is empty (and never refills during a
 * test: 1/h); the service-wide burst is larger, but smaller than one flood. */
#define USER_BURST    5
#define SERVICE_BURST 10
#define USER_FLOOD    20
#define BIG           20000
#define NOBODY        65534

static struct daemon d = {0};
static int p_count, p_discard;
static char slow_sock[128], rate_sock[128];

static void start(void)
{
	p_count = h_free_port();
	p_discard = h_free_port();
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	snprintf(slow_sock, sizeof(slow_sock), "%s/slow.sock", d.dir);
	snprintf(rate_sock, sizeof(rate_sock), "%s/rate.sock", d.dir);
	/* slow: rates out of the way, and room in the send buffer for a full queue of a
	 * client that does not read (net.unix.max_dgram_qlen answers). */
	ck_assert_int_eq(
	        h_write_config(
	                &d,
	                "services:\n"
	                "  slow:\n"
	                "    listen: [{address: 'unixgram:%s', mode: '0666', send_buffer: 4M}]\n"
	                "    builtin: echo\n"
	                "    mpm: {model: event, workers: 1}\n"
	                "    limits: {rate: 100000/s, burst: 100000, per_source_rate: 100000/s,\n"
	                "             per_source_burst: 100000}\n"
	                "  rate:\n"
	                "    listen: [{address: 'unixgram:%s', mode: '0666'}]\n"
	                "    builtin: echo\n"
	                "    mpm: {model: event, workers: 1}\n"
	                "    limits: {rate: 1/h, burst: %d, per_source_rate: 1/h,\n"
	                "             per_source_burst: %d}\n"
	                "  count:\n"
	                "    listen: ['udp:127.0.0.1:%d']\n"
	                "    builtin: echo\n"
	                "    mpm: {model: event, workers: 1}\n"
	                "    access: {deny: [127.0.0.2/32]}\n"
	                "    limits: {per_source_rate: 1/h, per_source_burst: 3}\n"
	                "  discard: {listen: ['udp:127.0.0.1:%d'], builtin: discard, mpm: event}\n",
	                slow_sock, rate_sock, SERVICE_BURST, USER_BURST, p_count, p_discard),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

static int udp_client(const char *addr)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static ssize_t send_unix(int fd, const char *path, const void *buf, size_t len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sun, sizeof(sun));
}

static void send_udp(int fd, int port, const void *buf, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr), 1);
	ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&sin, sizeof(sin)),
	                 (ssize_t)len);
}

/* The answers already waiting on FD. */
static int drain(int fd)
{
	char buf[64];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

/* Waits until SERVICE has received WANT datagrams: their fates are counted with them. */
static void wait_received(const char *service, long long want)
{
	bool ok = H_DEADLINE_WAIT(hd_count(&d, service, "received", NULL) >= want, WAIT_MS);

	ck_assert_msg(ok, "%s received stayed at %lld (want %lld)", service,
	              hd_count(&d, service, "received", NULL), want);
}

static pid_t only_process(const char *service)
{
	json_t *reply = hc_call(&d, "stats", service);
	json_t *procs = json_object_get(hc_service(reply, service), "processes");
	pid_t pid;

	ck_assert_int_eq(json_array_size(procs), 1);
	pid = (pid_t)hc_int(json_array_get(procs, 0), "pid");
	json_decref(reply);
	return pid;
}

static int max_dgram_qlen(void)
{
	FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
	int q = -1;

	if (f) {
		if (fscanf(f, "%d", &q) != 1)
			q = -1;
		fclose(f);
	}
	return q;
}

/*
 * A client whose queue is full (it never reads) and another that reads, their
 * datagrams in one batch: the worker is stopped while they queue, so that it reads
 * them all at once. The reader gets every answer; the non-reader's are dropped.
 */
START_TEST(non_reader_costs_nobody_else)
{
	int q = max_dgram_qlen(), pairs = 3, got = 0;
	int mute = hd_unix_client(&d, "mute"), reader = hd_unix_client(&d, "reader");
	char buf[64];
	pid_t worker;
	long long r0;

	ck_assert_int_gt(q, 2 * pairs);
	if (q > 4096) {
		fprintf(stderr, "non_reader_costs_nobody_else skipped: max_dgram_qlen %d\n", q);
		return;
	}
	/* The mute client's queue holds q + 1 datagrams; one more proves it full. */
	for (int i = 0; i < q + 2; i++)
		ck_assert_int_eq(send_unix(mute, slow_sock, "fill", 4), 4);
	wait_received("slow", q + 2);
	ck_assert_int_ge(hd_count(&d, "slow", NULL, "error"), 1);
	worker = only_process("slow");
	ck_assert_int_gt(worker, 0);
	ck_assert_int_eq(kill(worker, SIGSTOP), 0);
	r0 = hd_count(&d, "slow", "received", NULL);
	for (int i = 0; i < pairs; i++) {
		ck_assert_int_eq(send_unix(mute, slow_sock, "mute", 4), 4);
		ck_assert_int_eq(send_unix(reader, slow_sock, "read", 4), 4);
	}
	ck_assert_int_eq(kill(worker, SIGCONT), 0);
	wait_received("slow", r0 + 2 * pairs);
	while (got < pairs && hd_answer(reader, buf, sizeof(buf), WAIT_MS) == 4) {
		ck_assert(memcmp(buf, "read", 4) == 0);
		got++;
	}
	ck_assert_int_eq(got, pairs);
	close(mute);
	close(reader);
}
END_TEST

/* A local user's datagrams from a child running as NOBODY: answered? Exit status 0 if
 * so, 1 if not, 2 on a setup failure. */
static int nobody_asks(void)
{
	char path[128], buf[64];
	pid_t pid;
	int st;

	snprintf(path, sizeof(path), "%s/nobody", d.dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
		    chmod(path, 0666) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(2);
		if (send_unix(fd, rate_sock, "them", 4) != 4)
			_exit(2);
		_exit(hd_answer(fd, buf, sizeof(buf), WAIT_MS) == 4 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* One local user floods past its own rate (and past the service's burst): it gets its
 * burst and no more, and another user is still answered. */
START_TEST(local_user_has_own_rate)
{
	int fd = hd_unix_client(&d, "flood"), got;

	if (getuid() != 0) {
		fprintf(stderr, "local_user_has_own_rate skipped: another user needs root\n");
		close(fd);
		return;
	}
	for (int i = 0; i < USER_FLOOD; i++)
		ck_assert_int_eq(send_unix(fd, rate_sock, "mine", 4), 4);
	wait_received("rate", USER_FLOOD);
	got = drain(fd);
	ck_assert_int_eq(got, USER_BURST);
	ck_assert_int_eq(hd_count(&d, "rate", NULL, "rate"), USER_FLOOD - USER_BURST);
	ck_assert_int_eq(nobody_asks(), 0);
	ck_assert_int_eq(hd_count(&d, "rate", "answered", NULL), USER_BURST + 1);
	close(fd);
}
END_TEST

/* Every datagram is counted once by what became of it, and bytes_in is what arrived. */
START_TEST(counts_add_up)
{
	char *big = malloc(BIG), buf[64];
	int me = udp_client("127.0.0.1"), denied = udp_client("127.0.0.2");
	int fast = udp_client("127.0.0.3"), dis = udp_client("127.0.0.1");
	long long dropped = 0;
	json_t *reply, *dg, *by;

	ck_assert_ptr_nonnull(big);
	memset(big, 'b', BIG);
	send_udp(me, p_count, "abc", 3);
	send_udp(me, p_count, "", 0);
	send_udp(me, p_count, big, BIG);
	send_udp(me, p_count, "de", 2);
	send_udp(denied, p_count, "no", 2);
	for (int i = 0; i < 5; i++) /* a burst of 3 */
		send_udp(fast, p_count, "f", 1);
	for (int i = 0; i < 4; i++)
		send_udp(dis, p_discard, "gone", 4);
	wait_received("count", 10);
	wait_received("discard", 4);

	/* The empty datagram's answer is an empty datagram. */
	ck_assert_int_eq(hd_answer(me, buf, sizeof(buf), WAIT_MS), 3);
	ck_assert_int_eq(hd_answer(me, buf, sizeof(buf), WAIT_MS), 0);
	ck_assert_int_eq(hd_answer(me, buf, sizeof(buf), WAIT_MS), 2);
	ck_assert_int_eq(drain(fast), 3);
	ck_assert_int_eq(drain(denied), 0);

	reply = hc_call(&d, "stats", "count");
	dg = json_object_get(hc_service(reply, "count"), "datagrams");
	by = json_object_get(dg, "dropped_by_reason");
	ck_assert_int_eq(hc_int(dg, "received"), 10);
	ck_assert_int_eq(hc_int(dg, "answered"), 6);
	ck_assert_int_eq(hc_int(dg, "unanswered"), 0);
	ck_assert_int_eq(hc_int(by, "size"), 1);
	ck_assert_int_eq(hc_int(by, "access"), 1);
	ck_assert_int_eq(hc_int(by, "rate"), 2);
	for (void *it = json_object_iter(by); it; it = json_object_iter_next(by, it))
		dropped += json_integer_value(json_object_iter_value(it));
	ck_assert_int_eq(hc_int(dg, "dropped"), dropped);
	ck_assert_int_eq(hc_int(dg, "received"),
	                 hc_int(dg, "answered") + hc_int(dg, "unanswered") + dropped);
	ck_assert_int_eq(hc_int(dg, "bytes_in"), 3 + 0 + BIG + 2 + 2 + 5);
	ck_assert_int_eq(hc_int(dg, "bytes_out"), 3 + 0 + 2 + 3);
	ck_assert_int_eq(hc_int(dg, "peer_errors"), 0);
	json_decref(reply);

	/* discard answers nothing, and says so. */
	reply = hc_call(&d, "stats", "discard");
	dg = json_object_get(hc_service(reply, "discard"), "datagrams");
	ck_assert_int_eq(hc_int(dg, "received"), 4);
	ck_assert_int_eq(hc_int(dg, "unanswered"), 4);
	ck_assert_int_eq(hc_int(dg, "answered"), 0);
	ck_assert_int_eq(hc_int(dg, "dropped"), 0);
	ck_assert_int_eq(drain(dis), 0);
	json_decref(reply);
	free(big);
	close(me);
	close(denied);
	close(fast);
	close(dis);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("datagram_fair");
	TCase *tc = tcase_create("peers");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, non_reader_costs_nobody_else);
	tcase_add_test(tc, local_user_has_own_rate);
	tcase_add_test(tc, counts_add_up);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
