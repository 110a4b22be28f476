/* Per-connection records as JSON lines, field by field, for a known sequence of
 * connections: served, rejected and an exec'd program's exit status; and the file is
 * reopened on SIGUSR1 (logrotate). */
#include <check.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

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

int main(void)
{
	Suite *s = suite_create("connection records");
	TCase *tc = tcase_create("records");
	tcase_add_test(tc, json_records);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
