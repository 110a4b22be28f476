/* Descriptor limits: threadpool and event processes raise their soft limit (unless the
 * service sets rlimits.nofile), a fork acceptor does not (its programs would inherit
 * it); and a fork acceptor out of descriptors leaves clients in the backlog rather than
 * accepting and dropping them, and serves them once descriptors are free. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

/* The soft "Max open files" of pid, or 0. */
static unsigned long long soft_nofile(pid_t pid)
{
	char path[64], line[256];
	unsigned long long soft = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Max open files", 14) == 0)
			soft = strtoull(line + 14, NULL, 10);
	fclose(f);
	return soft;
}

/* The one service process of a daemon with one service. */
static pid_t service_pid(struct daemon *d)
{
	pid_t kids[4];

	ck_assert(H_DEADLINE_WAIT(h_children(d->pid, kids, 4) == 1, 5000));
	return kids[0];
}

START_TEST(raised_by_model)
{
	static const struct {
		const char *mpm, *extra;
		bool raised;
	} cases[] = {
	        {"{model: threadpool, processes: 1, threads: 2}", "", true},
	        {"{model: event, workers: 1, max_connections: 2000}", "", true},
	        {"{model: threadpool, processes: 1, threads: 2}", "rlimits: {nofile: 300}, ",
	         false},
	        {"{model: fork}", "", false},
	};
	struct rlimit saved, low;
	int port = h_free_port();

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max <= 256) {
		fprintf(stderr, "SKIP: the hard descriptor limit (%llu) leaves nothing to raise\n",
		        (unsigned long long)saved.rlim_max);
		return;
	}
	/* The daemon inherits this soft limit; the hard one stays. */
	low = saved;
	low.rlim_cur = 256;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct daemon d = {0};
		unsigned long long got, want;

		ck_assert_int_eq(
		        h_start(&d,
		                "services:\n"
		                "  s: {listen: ['127.0.0.1:%d'], builtin: echo, %smpm: %s}\n",
		                port, cases[i].extra, cases[i].mpm),
		        0);
		/* A connection proves the process has finished its setup. */
		int fd = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fd, 0);
		ck_assert(h_echoes(fd, "x\n"));
		close(fd);
		got = soft_nofile(service_pid(&d));
		if (!cases[i].raised)
			want = cases[i].extra[0] ? 300 : 256;
		else if (strstr(cases[i].mpm, "event"))
			want = 2000; /* max_connections and a margin: at least that */
		else
			want = saved.rlim_max == RLIM_INFINITY || saved.rlim_max > (1u << 20)
			               ? 1u << 20
			               : saved.rlim_max;
		if (strstr(cases[i].mpm, "event"))
			ck_assert_msg(got >= want && got <= saved.rlim_max, "%s: soft limit %llu",
			              cases[i].mpm, got);
		else
			ck_assert_msg(got == want, "%s %s: soft limit %llu, expected %llu",
			              cases[i].mpm, cases[i].extra, got, want);
		ck_assert_int_eq(h_stop(&d), 0);
	}
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
}
END_TEST

START_TEST(fork_exec_out_of_descriptors)
{
	enum { N = 12 };
	struct daemon d = {0};
	int port = h_free_port(), fds[N], served = 0;
	bool answered[N] = {false};

	/* 16 descriptors: the acceptor's own few, then two per running program. */
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  cat: {listen: ['127.0.0.1:%d'], exec: [/bin/cat],\n"
	                         "        rlimits: {nofile: 16}, mpm: {model: fork}}\n",
	                         port),
	                 0);
	for (int i = 0; i < N; i++) {
		fds[i] = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fds[i], 0);
	}
	ck_assert(h_log_wait(&d, "cannot accept a connection: Too many open files", 5000));
	/* Some are served; the rest wait, connected, in the backlog: none is dropped. */
	for (int i = 0; i < N; i++) {
		char msg[16], buf[16];
		snprintf(msg, sizeof(msg), "m%02d\n", i);
		ck_assert_int_eq(h_write_all(fds[i], msg, 4), 0);
		if (h_read_n(fds[i], buf, 4, 300) == 0) {
			ck_assert(memcmp(buf, msg, 4) == 0);
			answered[i] = true;
			served++;
		}
	}
	ck_assert_int_ge(served, 1);
	ck_assert_int_lt(served, N);
	/* Freeing them lets the others in, each with what it sent while waiting. */
	for (int i = 0; i < N; i++)
		if (answered[i]) {
			close(fds[i]);
			fds[i] = -1;
		}
	for (int i = 0; i < N; i++) {
		char buf[16], msg[16];
		if (fds[i] < 0)
			continue;
		snprintf(msg, sizeof(msg), "m%02d\n", i);
		ck_assert_msg(h_read_n(fds[i], buf, 4, 10000) == 0, "client %d never served", i);
		ck_assert(memcmp(buf, msg, 4) == 0);
		close(fds[i]);
	}
	ck_assert(h_log_wait(&d, "accepting connections again", 5000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("descriptor limits");
	TCase *tc = tcase_create("fdlimit");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, raised_by_model);
	tcase_add_test(tc, fork_exec_out_of_descriptors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
