/* Per-connection records as JSON lines, field by field, for a known sequence of
 * connections: served, rejected and an exec'd program's exit status; and the file is
 * reopened on SIGUSR1 (logrotate). Datagram records: answered and denied datagrams over
 * UDP and a unix datagram socket, a flood of denied datagrams whose records stay
 * bounded with the rest counted as suppressed, and no records by default. */
#include <check.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

#define WAIT_MS 15000
/* mpm/dgramlog.h: drop records a second per process. */
#define DROPS_PER_SEC 10

static int connect_from(const char *src, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET},
	                   b = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, src, &a.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    connect(fd, (struct sockaddr *)&b, sizeof(b)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static json_t *line_of(const char *path, int want)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	json_t *o = NULL;
	for (int i = 0; f && fgets(buf, sizeof(buf), f); i++)
		if (i == want) {
			o = json_loads(buf, 0, NULL);
			break;
		}
	if (f)
		fclose(f);
	return o;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

START_TEST(json_records)
{
	struct daemon d = {0};
	char log[160], moved[170], buf[64], myaddr[64];
	int pe = h_free_port(), px = h_free_port();

	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	snprintf(log, sizeof(log), "%s/conns.jsonl", d.dir);
	ck_assert_int_eq(
	        h_write_config(
	                &d,
	                "log: {connections: 'json:%s'}\n"
	                "services:\n"
	                "  echo: {listen: ['0.0.0.0:%d'], builtin: echo,\n"
	                "         mpm: {model: event}, access: {deny: [127.0.0.3/32]}}\n"
	                "  prog: {listen: ['127.0.0.1:%d'], exec: [/bin/sh, -c, 'cat; exit 3']}\n",
	                log, pe, px),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);

	/* 1: served, 5 bytes each way. */
	int fd = connect_from("127.0.0.2", pe);
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	getsockname(fd, (struct sockaddr *)&me, &len);
	snprintf(myaddr, sizeof(myaddr), "127.0.0.2:%u", ntohs(me.sin_port));
	ck_assert_int_eq(h_write_all(fd, "hello", 5), 0);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 5);
	close(fd);
	ck_assert(H_DEADLINE_WAIT(h_count_lines(log) == 1, 5000));
	/* 2: refused by the access list. */
	fd = connect_from("127.0.0.3", pe);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 0);
	close(fd);
	ck_assert(H_DEADLINE_WAIT(h_count_lines(log) == 2, 5000));
	/* 3: an exec'd program that exits with status 3. */
	ck_assert_int_eq(h_exchange("127.0.0.1", px, "abc", true, buf, sizeof(buf), 5000), 3);
	ck_assert(H_DEADLINE_WAIT(h_count_lines(log) == 3, 5000));

	json_t *r = line_of(log, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(str(r, "service"), "echo");
	ck_assert_str_eq(str(r, "model"), "event");
	ck_assert_str_eq(str(r, "peer"), myaddr);
	ck_assert_ptr_nonnull(strstr(str(r, "local"), "127.0.0.1:"));
	ck_assert_str_eq(str(r, "outcome"), "completed");
	ck_assert_str_eq(str(r, "transport"), "stream");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "bytes_in")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "bytes_out")), 5);
	ck_assert(json_is_real(json_object_get(r, "duration_ms")));
	ck_assert_int_gt(json_integer_value(json_object_get(r, "pid")), 0);
	ck_assert_int_eq(strlen(str(r, "start")), 27); /* 2026-11-23T18:03:18.123456Z */
	json_decref(r);

	r = line_of(log, 1);
	ck_assert_str_eq(str(r, "outcome"), "rejected");
	ck_assert_str_eq(str(r, "reason"), "access");
	ck_assert_ptr_nonnull(strstr(str(r, "peer"), "127.0.0.3:"));
	ck_assert(json_is_null(json_object_get(r, "bytes_in")));
	json_decref(r);

	r = line_of(log, 2);
	ck_assert_str_eq(str(r, "service"), "prog");
	ck_assert_str_eq(str(r, "model"), "fork");
	ck_assert_str_eq(str(r, "outcome"), "exited");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "exit_status")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "bytes_in")), 3);
	json_decref(r);

	/* logrotate: the file is moved away, SIGUSR1, the next record starts a new file. */
	snprintf(moved, sizeof(moved), "%s.1", log);
	ck_assert_int_eq(rename(log, moved), 0);
	ck_assert_int_eq(kill(d.pid, SIGUSR1), 0);
	ck_assert(h_log_wait(&d, "SIGUSR1", 5000));
	ck_assert_int_eq(h_exchange("127.0.0.1", pe, "x", true, buf, sizeof(buf), 5000), 1);
	ck_assert(H_DEADLINE_WAIT(h_count_lines(log) == 1, 5000));
	ck_assert_int_eq(h_count_lines(moved), 3);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A UDP socket bound to SRC, or a unix datagram socket bound to SRC when it is a path. */
static int dgram_client(const char *src)
{
	int fd;

	if (src[0] == '/') {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", src);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		ck_assert_int_eq(chmod(src, 0666), 0); /* the service runs as nobody */
		return fd;
	}
	struct sockaddr_in a = {.sin_family = AF_INET};
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, src, &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* FD's own address as a record shows it. */
static void my_addr(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_UNIX)
		snprintf(buf, cap, "unix:%s", ((struct sockaddr_un *)&ss)->sun_path);
	else
		snprintf(buf, cap, "127.0.0.%u:%u",
		         ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) & 0xff,
		         ntohs(((struct sockaddr_in *)&ss)->sin_port));
}

/* LEN bytes to the UDP PORT on 127.0.0.1, or to the unix socket PATH when PORT is 0. */
static void dgram_send(int fd, int port, const char *path, const void *buf, size_t len)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	if (port)
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&in, sizeof(in));
	else {
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&un, sizeof(un));
	}
	ck_assert_int_eq(n, (ssize_t)len);
}

/* The answer's length, or -1 when none came in time. */
static ssize_t dgram_answer(int fd, void *buf, size_t cap)
{
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return recv(fd, buf, cap, 0);
}

static long long dgram_dropped(struct daemon *d, const char *service, const char *reason)
{
	json_t *reply = hc_call(d, "stats", service);
	json_t *dg = json_object_get(hc_service(reply, service), "datagrams");
	long long v = hc_int(json_object_get(dg, "dropped_by_reason"), reason);

	json_decref(reply);
	return v;
}

/* Record LINE of PATH is a datagram's, from PEER, with these bytes and this outcome. */
static void assert_dgram_record(const char *path, int line, const char *peer, const char *local,
                                int in, int out, const char *outcome, const char *reason)
{
	json_t *r = line_of(path, line);

	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(str(r, "service"), "udp");
	ck_assert_str_eq(str(r, "model"), "event");
	ck_assert_str_eq(str(r, "transport"), "datagram");
	ck_assert_int_gt(json_integer_value(json_object_get(r, "pid")), 0);
	ck_assert_str_eq(str(r, "peer"), peer);
	ck_assert_str_eq(str(r, "local"), local);
	ck_assert_int_eq(strlen(str(r, "start")), 27);
	ck_assert(json_real_value(json_object_get(r, "duration_ms")) == 0.0);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "bytes_in")), in);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "bytes_out")), out);
	ck_assert_str_eq(str(r, "outcome"), outcome);
	if (reason)
		ck_assert_str_eq(str(r, "reason"), reason);
	else
		ck_assert_ptr_null(json_object_get(r, "reason"));
	ck_assert_ptr_null(json_object_get(r, "exit_status"));
	json_decref(r);
}

START_TEST(datagram_records)
{
	struct daemon d = {0};
	char log[160], srv[160], cli[160], peer[200], local[200], buf[64];
	int port = h_free_port();

	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	snprintf(log, sizeof(log), "%s/dgrams.jsonl", d.dir);
	snprintf(srv, sizeof(srv), "%s/udp.sock", d.dir);
	snprintf(cli, sizeof(cli), "%s/client.sock", d.dir);
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n"
	                                "  udp:\n"
	                                "    listen: ['udp:127.0.0.1:%d',\n"
	                                "             {address: 'unixgram:%s', mode: '0666'}]\n"
	                                "    builtin: echo\n"
	                                "    mpm: {model: event}\n"
	                                "    access: {deny: [127.0.0.3/32]}\n"
	                                "    log_connections: 'json:%s'\n",
	                                port, srv, log),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);

	/* 1: answered, 5 bytes each way. */
	int fd = dgram_client("127.0.0.2");
	dgram_send(fd, port, NULL, "hello", 5);
	ck_assert_int_eq(dgram_answer(fd, buf, sizeof(buf)), 5);
	ck_assert(H_DEADLINE_WAIT(h_count_lines(log) == 1, WAIT_MS));
	my_addr(fd, peer, sizeof(peer));
	snprintf(local, sizeof(local), "127.0.0.1:%d", port);
	assert_dgram_record(log, 0, peer, local, 5, 5, "answered", NULL);
	close(fd);

	/* 2: denied by the access list, never answered. */
	fd = dgram_client("127.0.0.3");
	dgram_send(fd, port, NULL, "no", 2);
	ck_assert(H_DEADLINE_WAIT(h_count_lines(log) == 2, WAIT_MS));
	my_addr(fd, peer, sizeof(peer));
	assert_dgram_record(log, 1, peer, local, 2, 0, "dropped", "access");
	close(fd);

	/* 3: over a unix datagram socket, from a named client. */
	fd = dgram_client(cli);
	dgram_send(fd, 0, srv, "unix!", 5);
	ck_assert_int_eq(dgram_answer(fd, buf, sizeof(buf)), 5);
	ck_assert(H_DEADLINE_WAIT(h_count_lines(log) == 3, WAIT_MS));
	my_addr(fd, peer, sizeof(peer));
	snprintf(local, sizeof(local), "unix:%s", srv);
	assert_dgram_record(log, 2, peer, local, 5, 5, "answered", NULL);
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Sums the drop records and the suppressed counts of PATH. */
static void count_drops(const char *path, long long *records, long long *summaries,
                        long long *suppressed)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	*records = *summaries = *suppressed = 0;
	while (f && fgets(line, sizeof(line), f)) {
		json_t *r = json_loads(line, 0, NULL);
		const char *o = str(r, "outcome");

		if (o && !strcmp(o, "dropped"))
			(*records)++;
		else if (o && !strcmp(o, "suppressed")) {
			(*summaries)++;
			*suppressed += json_integer_value(json_object_get(r, "suppressed"));
		}
		json_decref(r);
	}
	if (f)
		fclose(f);
}

/* A flood of denied datagrams: a bounded number of records a second, every other drop
 * counted in a "suppressed" record, and the flood's drops all accounted for. */
START_TEST(datagram_drop_records_bounded)
{
	enum { FLOOD = 400 };
	struct daemon d = {0};
	char log[160];
	int port = h_free_port();
	long long records, summaries, suppressed, dropped;

	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	snprintf(log, sizeof(log), "%s/dgrams.jsonl", d.dir);
	ck_assert_int_eq(h_write_config(&d,
	                                "log: {connections: 'json:%s'}\n"
	                                "services:\n"
	                                "  udp: {listen: ['udp:127.0.0.1:%d'], builtin: echo,\n"
	                                "        mpm: {model: event}, access: {deny: "
	                                "[127.0.0.3/32]}}\n",
	                                log, port),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);

	long long t0 = h_now_ms();
	int fd = dgram_client("127.0.0.3");
	for (int i = 0; i < FLOOD; i++)
		dgram_send(fd, port, NULL, "flood", 5);
	close(fd);
	/* What the socket's buffer kept is counted; every such drop is a record or is
	 * counted in a summary, which comes at the end of its second. */
	ck_assert(H_DEADLINE_WAIT((dropped = dgram_dropped(&d, "udp", "access")) > 0 &&
	                                  (count_drops(log, &records, &summaries, &suppressed),
	                                   records + suppressed == dropped),
	                          WAIT_MS));
	long long secs = (h_now_ms() - t0) / 1000 + 1;
	ck_assert_msg(dropped > 2 * DROPS_PER_SEC, "only %lld datagrams were received", dropped);
	ck_assert_int_ge(records, 1);
	ck_assert_msg(records <= DROPS_PER_SEC * (secs + 1), "%lld drop records in %lld s", records,
	              secs);
	ck_assert_int_ge(summaries, 1);
	ck_assert_int_le(summaries, secs + 1);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Built-ins keep no records unless told to: a datagram service with records (journal:
 * a line in the log) beside one without. */
START_TEST(datagram_records_off_by_default)
{
	struct daemon d = {0};
	char buf[64];
	int quiet = h_free_port(), loud = h_free_port();

	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n"
	                "  quiet: {listen: ['udp:127.0.0.1:%d'], builtin: echo, mpm: "
	                "event}\n"
	                "  loud: {listen: ['udp:127.0.0.1:%d'], builtin: echo, mpm: event,\n"
	                "         log_connections: journal}\n",
	                quiet, loud),
	        0);
	int fd = dgram_client("127.0.0.2");
	/* The second answer means the first datagram's batch, records and all, is done. */
	for (int i = 0; i < 2; i++) {
		dgram_send(fd, quiet, NULL, "hush", 4);
		ck_assert_int_eq(dgram_answer(fd, buf, sizeof(buf)), 4);
	}
	dgram_send(fd, loud, NULL, "hey", 3);
	ck_assert_int_eq(dgram_answer(fd, buf, sizeof(buf)), 3);
	ck_assert(h_log_wait(&d, "loud: datagram 127.0.0.2:", WAIT_MS));
	ck_assert(h_log_wait(&d, "answered after 0 ms", WAIT_MS));
	ck_assert_int_eq(h_count_in_file(d.log, "quiet: datagram"), 0);
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("connection records");
	TCase *tc = tcase_create("records");
	tcase_add_test(tc, json_records);
	tcase_add_test(tc, datagram_records);
	tcase_add_test(tc, datagram_drop_records_bounded);
	tcase_add_test(tc, datagram_records_off_by_default);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
