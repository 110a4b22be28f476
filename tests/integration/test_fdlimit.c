/* Descriptor limits: threadpool and event processes raise their soft limit (unless the
 * service sets rlimits.nofile), a fork acceptor does not (its programs would inherit
 * it); and a fork acceptor out of descriptors leaves clients in the backlog rather than
 * accepting and dropping them, and serves them once descriptors are free. A process
 * out of descriptors never spins on its listener. */
#include <check.h>
#include <dirent.h>
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
	pid_t pid;

	ck_assert(H_DEADLINE_WAIT((pid = h_only_child(d->pid)) > 0, 5000));
	return pid;
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
			/* Room for max_connections and a margin, within the hard limit. */
			ck_assert_msg(got >= (saved.rlim_max < want ? saved.rlim_max : want) &&
			                      got <= saved.rlim_max,
			              "%s: soft limit %llu", cases[i].mpm, got);
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
		/* The first in the backlog is the first accepted: it must be served, however
		 * long a loaded machine takes; the others get a short look (one served late
		 * is read below with the waiting ones). */
		if (h_read_n(fds[i], buf, 4, i == 0 ? 10000 : 300) == 0) {
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

/* Descriptors open in pid. */
static int count_fds(pid_t pid)
{
	char path[64];
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The lowest descriptor number free in pid: the one its next open() gets. */
static int lowest_free_fd(pid_t pid)
{
	char path[64];

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if (access(path, F_OK) < 0)
			return fd;
	}
	return -1;
}

#define SHORT_YAML                                                                                 \
	"log: {level: debug}\n" /* every retry, not only the first, is in the log */               \
	"services:\n"                                                                              \
	"  e: {listen: ['127.0.0.1:%d'], builtin: echo, rlimits: {nofile: %d}, mpm: %s}\n"

static const char *const one_process[] = {
        "{model: prefork, start: 1, min_spare: 1, max_spare: 1, max_workers: 1}",
        "{model: threadpool, processes: 1, threads: 2}",
        "{model: event, workers: 1}",
};

/* A service process without a spare descriptor: accept fails, and the process pauses
 * between tries instead of spinning on a listener that stays readable. */
START_TEST(out_of_descriptors_no_spin)
{
	const char *mpm = one_process[_i];
	struct daemon d = {0};
	int port = h_free_port(), base;

	/* First, which descriptors the process holds when idle: one fewer than while it
	 * serves a connection. */
	ck_assert_int_eq(h_start(&d, SHORT_YAML, port, 64, mpm), 0);
	pid_t w = service_pid(&d);
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert(h_echoes(fd, "x\n"));
	int serving = count_fds(w);
	ck_assert_int_gt(serving, 1);
	close(fd);
	ck_assert(H_DEADLINE_WAIT(count_fds(w) == serving - 1, 5000));
	/* The limit bounds descriptor numbers: at the lowest free one, none is left. */
	base = lowest_free_fd(w);
	ck_assert_int_gt(base, 2);
	ck_assert_int_eq(h_stop(&d), 0);

	/* Then a limit that leaves it none: the next connection cannot be accepted. */
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(h_start(&d, SHORT_YAML, port, base, mpm), 0);
	fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(h_log_wait(&d, "cannot accept a connection: Too many open files", 5000), "%s",
	              mpm);
	int first = h_count_in_file(d.log, "cannot accept a connection");
	long long t0 = h_now_ms();
	/* Still trying (giving up would log no more)... */
	ck_assert_msg(
	        H_DEADLINE_WAIT(h_count_in_file(d.log, "cannot accept a connection") >= first + 2,
	                        10000),
	        "%s: stopped retrying", mpm);
	/* ...but not spinning: over a window of at least 500 ms, pausing every 100 ms logs
	 * one try per 100 ms, spinning thousands. Judged against the time that really
	 * passed, which a loaded machine stretches. */
	h_pause_ms(500);
	int later = h_count_in_file(d.log, "cannot accept a connection");
	long long ms = h_now_ms() - t0;
	ck_assert_msg(later - first <= ms / 50 + 2, "%s: %d more tries in %lld ms", mpm,
	              later - first, ms);
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("descriptor limits");
	TCase *tc = tcase_create("fdlimit");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, raised_by_model);
	tcase_add_test(tc, fork_exec_out_of_descriptors);
	tcase_add_loop_test(tc, out_of_descriptors_no_spin, 0,
	                    (int)(sizeof(one_process) / sizeof(one_process[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
