/*
 * The control socket's fairness through the real daemon: readers (control.group) of
 * many uids cannot take the slots kept for root, one uid cannot take more than its
 * share, the refusals make one log line per episode, a connection is kept only by
 * whole requests (not blank lines, not a request dribbled byte by byte), a stream of
 * blank lines or of refused requests takes neither the master nor the log, superctl
 * prints the daemon's "busy" when the daemon closed before superctl wrote, and the
 * answers' numbers carry no float noise.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

/* The daemon's limits (superserverd/control.h). */
#define MAX_CLIENTS 64
#define RESERVED    16
#define PER_UID     8

#define NOGROUP 65534
/* Readers: uids without a passwd entry, in the socket's group. */
#define READER_UID0 60001
#define N_READERS   8
#define TRIES       12 /* connections each reader tries to hold */

#define VERSION "{\"command\":\"version\"}\n"

static const char *superctl_path(void)
{
	const char *p = getenv("SUPERCTL");
	return p ? p : "./superctl";
}

static int start_with_group(struct daemon *d, int port)
{
	if (h_prepare(d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port) < 0 ||
	    h_write_config(d,
	                   "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                   "control: {socket: '%s', group: nogroup}\n",
	                   port, d->control) < 0)
		return -1;
	return h_launch(d);
}

/* A connection the daemon has taken on: it answered a request. -1 when it said busy. */
/* The refusals the log's episode-end lines count, summed: a stall of the machine
 * longer than the quiet time between two refusals splits them into two episodes. */
static int refused_in_log(const char *log, int *episodes)
{
	static const char tag[] = "no connection refused for 10 s; ";
	char line[1024];
	int sum = 0;
	FILE *f = fopen(log, "r");

	*episodes = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, tag);
		if (p) {
			sum += atoi(p + sizeof(tag) - 1);
			(*episodes)++;
		}
	}
	fclose(f);
	return sum;
}

static int hold_one(const char *path)
{
	char line[512];
	int fd = h_connect(path, 0);

	if (fd < 0)
		return -1;
	if (h_write_all(fd, VERSION, strlen(VERSION)) < 0 ||
	    hc_read_line(fd, line, sizeof(line), 10000) < 0 || !strstr(line, "\"ok\":true")) {
		close(fd);
		return -1;
	}
	return fd;
}

struct reader {
	pid_t pid;
	int report, release; /* pipes: its counts in, the word to leave out */
	int held, busy;
};

/*
 * A process as uid UID in control.group that tries TRIES connections, reports how many
 * the daemon took and how many it refused with "busy", then keeps them with a blank line
 * every 100 ms until told to leave.
 */
static void reader_start(struct reader *r, struct daemon *d, uid_t uid)
{
	int rep[2], rel[2];

	ck_assert_int_eq(pipe(rep), 0);
	ck_assert_int_eq(pipe(rel), 0);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		int fds[TRIES], held = 0, busy = 0;
		char line[512];
		close(rep[0]);
		close(rel[1]);
		signal(SIGPIPE, SIG_IGN);
		if (setgroups(0, NULL) < 0 || setgid(NOGROUP) < 0 || setuid(uid) < 0)
			_exit(1);
		for (int i = 0; i < TRIES; i++) {
			int fd = h_connect(d->control, 0);
			if (fd < 0)
				continue;
			/* Refused, the answer is there even when the send failed. */
			(void)send(fd, VERSION, strlen(VERSION), MSG_NOSIGNAL);
			if (hc_read_line(fd, line, sizeof(line), 10000) >= 0) {
				if (strstr(line, "\"ok\":true")) {
					fds[held++] = fd;
					continue;
				}
				busy += strstr(line, "\"code\":\"busy\"") != NULL;
			}
			close(fd);
		}
		dprintf(rep[1], "%d %d\n", held, busy);
		close(rep[1]); /* the end of the report */
		struct pollfd p = {.fd = rel[0], .events = POLLIN};
		while (poll(&p, 1, 100) == 0)
			for (int i = 0; i < held; i++)
				(void)send(fds[i], "\n", 1, MSG_NOSIGNAL);
		_exit(0);
	}
	close(rep[1]);
	close(rel[0]);
	r->report = rep[0];
	r->release = rel[1];
	char buf[32];
	ssize_t n = h_read_all(r->report, buf, sizeof(buf) - 1, 30000);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_int_eq(sscanf(buf, "%d %d", &r->held, &r->busy), 2);
}

static void reader_stop(struct reader *r)
{
	int st;
	/* A byte, not the end: later readers inherited this pipe's writing end. */
	ck_assert_int_eq(write(r->release, "x", 1), 1);
	close(r->release);
	close(r->report);
	ck_assert_int_eq(waitpid(r->pid, &st, 0), r->pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

START_TEST(readers_cannot_take_every_slot)
{
	struct daemon d = {0};
	struct reader readers[N_READERS];
	int port = h_free_port(), mine[RESERVED + 1], n_mine = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: the fairness test needs root (running as uid %d)\n",
		        (int)geteuid());
		return;
	}
	if (!getgrgid(NOGROUP)) {
		fprintf(stderr, "SKIP: the fairness test needs the group nogroup\n");
		return;
	}
	ck_assert_int_eq(start_with_group(&d, port), 0);

	/* One after the other: each takes PER_UID until the readers' share is gone. */
	int share = MAX_CLIENTS - RESERVED, refused = 0;
	for (int i = 0; i < N_READERS; i++) {
		reader_start(&readers[i], &d, READER_UID0 + i);
		int expect = share >= PER_UID ? PER_UID : share;
		ck_assert_msg(readers[i].held == expect, "reader %d holds %d, expected %d", i,
		              readers[i].held, expect);
		ck_assert_int_eq(readers[i].busy, TRIES - expect);
		share -= expect;
		refused += TRIES - expect;
	}

	/* Root still gets answers, to reading and to changing. */
	json_t *reply = hc_call(&d, "status", NULL);
	ck_assert_msg(hc_ok(reply), "status: %s", hc_str(reply, "error"));
	json_decref(reply);
	reply = hc_call(&d, "reload", NULL);
	ck_assert_msg(hc_ok(reply), "reload: %s", hc_str(reply, "error"));
	json_decref(reply);
	/* The reserved slots are root's, all of them, and then there are no more. */
	for (; n_mine < RESERVED; n_mine++) {
		mine[n_mine] = hold_one(d.control);
		ck_assert_msg(mine[n_mine] >= 0, "root's connection %d was refused", n_mine);
	}
	mine[n_mine] = h_connect(d.control, 0);
	ck_assert_int_ge(mine[n_mine], 0);
	char line[512]; /* unasked: a refused client gets its one line at once */
	ck_assert_int_gt(hc_read_line(mine[n_mine++], line, sizeof(line), 5000), 0);
	ck_assert_msg(strstr(line, "\"code\":\"busy\"") != NULL, "answer: %s", line);
	refused++;

	/* All those refusals: one line per episode (one, unless the machine stalled for
	 * the 10 s quiet time in between), not one per refusal. Each episode's end: one
	 * more, with its count; together they count every refusal. */
	int starts = h_count_in_file(d.log, "control: refusing connections");
	ck_assert_msg(starts >= 1 && starts <= 3, "%d episode starts for %d refusals", starts,
	              refused);
	for (int i = 0; i < N_READERS; i++)
		reader_stop(&readers[i]);
	for (int i = 0; i < n_mine; i++)
		close(mine[i]);
	int episodes = 0;
	ck_assert_msg(H_DEADLINE_WAIT(refused_in_log(d.log, &episodes) == refused, 30000),
	              "the episode ends count %d refusals in %d lines, not %d",
	              refused_in_log(d.log, &episodes), episodes, refused);
	ck_assert_int_eq(h_count_in_file(d.log, "control: refusing connections"), episodes);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/*
 * Three connections, each with one whole request first: one then sends blank lines,
 * one a request a byte at a time that never ends, one a whole request every second.
 * The first two are closed about 10 s after their request; the third stays.
 */
START_TEST(only_whole_requests_keep_a_connection)
{
	struct daemon d = {0};
	int port = h_free_port();
	char line[512];
	static const char partial[] = "{\"command\":                                      ";

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	/* Each idle clock starts after the moment taken before its request. */
	long long since[2];
	since[0] = h_now_ms();
	int blank = hold_one(d.control);
	since[1] = h_now_ms();
	int dribble = hold_one(d.control), live = hold_one(d.control);
	ck_assert(blank >= 0 && dribble >= 0 && live >= 0);
	long long t0 = h_now_ms(), closed[2] = {0, 0}, last_live = t0;
	size_t sent = 0;
	/* A byte every 100 ms, against a 10 s idle timer (pacing, not waiting). */
	while ((!closed[0] || !closed[1]) && h_now_ms() < t0 + 30000) {
		h_pause_ms(100);
		int fds[2] = {blank, dribble};
		for (int i = 0; i < 2; i++) {
			if (closed[i])
				continue;
			const char *b = i == 0 ? "\n" : &partial[sent % (sizeof(partial) - 1)];
			struct pollfd p = {.fd = fds[i], .events = POLLIN};
			if (poll(&p, 1, 0) > 0 &&
			    recv(fds[i], line, sizeof(line), MSG_DONTWAIT) <= 0)
				closed[i] = h_now_ms();
			else if (send(fds[i], b, 1, MSG_NOSIGNAL) < 0)
				closed[i] = h_now_ms();
		}
		sent++;
		if (h_now_ms() - last_live >= 1000) {
			json_t *r = hc_exchange(live, VERSION, 5000);
			ck_assert_msg(hc_ok(r),
			              "the connection with a request every second was closed");
			json_decref(r);
			last_live = h_now_ms();
		}
	}
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(closed[i], "%s kept its connection for 30 s",
		              i ? "a request dribbled a byte at a time" : "blank lines");
		ck_assert_msg(closed[i] - since[i] >= 9500 && closed[i] - t0 < 20000,
		              "%s: closed after %lld ms", i ? "dribble" : "blank",
		              closed[i] - since[i]);
	}
	json_t *r = hc_exchange(live, VERSION, 5000);
	ck_assert(hc_ok(r));
	json_decref(r);
	close(blank);
	close(dribble);
	close(live);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The CPU time PID has used, in clock ticks: utime + stime of /proc/PID/stat. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold anything */
	ck_assert_ptr_nonnull(p);
	/* After the name: state, then fields 4 to 13, then utime and stime. */
	ck_assert_int_eq(
	        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st),
	        2);
	return (long long)(ut + st);
}

#define FLOOD_BYTES (32 << 20)

/*
 * A client streaming blank lines ("\n" and "\r\n") as fast as the daemon takes them,
 * FLOOD_BYTES in all (a request every 64 KiB): another client's status is answered meanwhile, and
 * the master spends little CPU on them (each blank line once cost a move of the rest of the buffer,
 * and the stream kept the master reading that client alone).
 */
START_TEST(blank_lines_do_not_take_the_master)
{
	struct daemon d = {0};
	int port = h_free_port(), go[2];
	char line[65536];

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	int probe = hold_one(d.control), flood = hold_one(d.control);
	ck_assert(probe >= 0 && flood >= 0);
	ck_assert_int_eq(pipe(go), 0);
	long long cpu0 = cpu_ticks(d.pid);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Blank lines, then a request: a sign of life, so the idle timer does not
		 * end the stream early (its answers, unread, stay well under the limit). */
		static char chunk[3 * 21838 + sizeof(VERSION) - 1];
		for (size_t i = 0; i < 3 * 21838; i += 3)
			memcpy(chunk + i, "\r\n\n", 3);
		memcpy(chunk + 3 * 21838, VERSION, sizeof(VERSION) - 1);
		close(go[0]);
		size_t sent = 0;
		bool told = false;
		/* Ends when all is sent or the daemon closes (idle: blanks are no requests). */
		while (sent < FLOOD_BYTES) {
			ssize_t n = send(flood, chunk, sizeof(chunk), MSG_NOSIGNAL);
			if (n <= 0)
				break;
			sent += (size_t)n;
			if (!told && sent >= 4 * sizeof(chunk)) {
				told = write(go[1], "x", 1) == 1;
				close(go[1]);
			}
		}
		_exit(0);
	}
	close(go[1]);
	close(flood);
	/* The daemon is busy with the stream (four buffers' worth went in): now ask. */
	char x;
	ck_assert_int_eq(h_read_all(go[0], &x, 1, 30000), 1);
	close(go[0]);
	long long t0 = h_now_ms();
	ck_assert_int_eq(h_write_all(probe, "{\"command\":\"status\"}\n", 21), 0);
	ck_assert_msg(hc_read_line(probe, line, sizeof(line), 20000) > 0,
	              "no status answer in 20 s while another client streamed blank lines");
	ck_assert_msg(strstr(line, "\"ok\":true"), "status: %s", line);
	fprintf(stderr, "status answered in %lld ms during the stream\n", h_now_ms() - t0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	/* Everything sent is in the daemon's socket buffer or read: one more answer on the
	 * probe comes after the daemon had turns enough to have read the rest. */
	json_t *r = hc_exchange(probe, VERSION, 20000);
	ck_assert(hc_ok(r));
	json_decref(r);
	long long cpu = cpu_ticks(d.pid) - cpu0, hz = sysconf(_SC_CLK_TCK);
	fprintf(stderr, "master CPU for %d MiB of blank lines: %lld ms\n", FLOOD_BYTES >> 20,
	        cpu * 1000 / hz);
	/* Linear: well under a second, even sanitized; quadratic: over ten seconds. */
	ck_assert_msg(cpu < 4 * hz, "the master spent %lld ms of CPU on blank lines",
	              cpu * 1000 / hz);
	close(probe);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* More requests in one write than a turn answers: all are answered, without the client
 * having to send anything more. */
START_TEST(a_long_pipeline_is_answered)
{
	struct daemon d = {0};
	int port = h_free_port();
	char req[40 * sizeof(VERSION)] = "", line[512];

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	int fd = h_connect(d.control, 0);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 40; i++)
		strcat(req, VERSION);
	ck_assert_int_eq(h_write_all(fd, req, strlen(req)), 0);
	for (int i = 0; i < 40; i++) {
		ck_assert_msg(hc_read_line(fd, line, sizeof(line), 20000) > 0,
		              "answer %d of 40 did not come", i + 1);
		ck_assert_msg(strstr(line, "\"ok\":true"), "answer %d: %s", i + 1, line);
	}
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

#define N_BAD 50

/*
 * A reader sends N_BAD requests it may not make and N_BAD that are not JSON: each gets
 * its error answer, and the log holds one line for the first of each kind and one with
 * the counts when the connection ends, not a line per request.
 */
START_TEST(refused_requests_are_logged_once_per_connection)
{
	struct daemon d = {0};
	int port = h_free_port(), st;

	if (geteuid() != 0 || !getgrgid(NOGROUP)) {
		fprintf(stderr, "SKIP: the refusal log test needs root and the group nogroup\n");
		return;
	}
	ck_assert_int_eq(start_with_group(&d, port), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char line[512];
		if (setgroups(0, NULL) < 0 || setgid(NOGROUP) < 0 || setuid(READER_UID0) < 0)
			_exit(1);
		int fd = h_connect(d.control, 0);
		if (fd < 0)
			_exit(2);
		for (int i = 0; i < N_BAD; i++) {
			static const char reqs[] = "{\"command\":\"reload\"}\n{\"command\"\n";
			if (h_write_all(fd, reqs, sizeof(reqs) - 1) < 0)
				_exit(3);
			for (int k = 0; k < 2; k++)
				if (hc_read_line(fd, line, sizeof(line), 10000) < 0 ||
				    !strstr(line, k ? "\"bad-request\"" : "\"permission-denied\""))
					_exit(4);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the reader failed (%d)", st);
	char end[96];
	snprintf(end, sizeof(end), "left after %d malformed and %d refused requests", N_BAD, N_BAD);
	ck_assert_msg(h_log_wait(&d, end, 30000), "no '%s' in the log", end);
	ck_assert_int_eq(h_count_in_file(d.log, "control: malformed request"), 1);
	ck_assert_int_eq(h_count_in_file(d.log, "refused to uid"), 1);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static int pidfd_getfd_of(pid_t pid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -1;
	int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	return copy;
}

/* True when FD is a unix socket connected to PATH. */
static bool connected_to(int fd, const char *path)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	return getpeername(fd, (struct sockaddr *)&sun, &len) == 0 && sun.sun_family == AF_UNIX &&
	       strcmp(sun.sun_path, path) == 0;
}

/*
 * Runs `superctl --socket PATH status` with stdout and stderr in OUT, holding it (ptrace)
 * at its first sendto() on the control socket until the daemon has closed the other end:
 * the daemon then has answered "busy" and hung up before superctl wrote its request.
 * Returns superctl's exit status, or -1.
 */
static int superctl_held_at_send(const char *path, char *out, size_t cap)
{
	int pfd[2], st;

	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		if (dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0 ||
		    ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0 || raise(SIGSTOP) < 0)
			_exit(127);
		execl(superctl_path(), superctl_path(), "--socket", path, "status", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSTOPPED(st));
	ck_assert_int_eq(ptrace(PTRACE_SETOPTIONS, pid, NULL,
	                        (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)),
	                 0);
	bool held = false;
	int sig = 0;
	while (!held) {
		ck_assert_int_eq(ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig), 0);
		sig = 0;
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFSTOPPED(st), "superctl ended before it sent anything");
		if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
			/* The exec's SIGTRAP is ours; any other signal is superctl's. */
			sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
			continue;
		}
		struct __ptrace_syscall_info info;
		ck_assert_int_gt(ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info),
		                 0);
		if (info.op != PTRACE_SYSCALL_INFO_ENTRY || info.entry.nr != SYS_sendto)
			continue;
		int fd = pidfd_getfd_of(pid, (int)info.entry.args[0]);
		ck_assert_int_ge(fd, 0);
		if (connected_to(fd, path)) {
			struct pollfd p = {.fd = fd, .events = POLLRDHUP};
			ck_assert_msg(poll(&p, 1, 20000) == 1 &&
			                      (p.revents & (POLLHUP | POLLRDHUP)),
			              "the daemon did not close superctl's connection");
			held = true;
		}
		close(fd);
	}
	ck_assert_int_eq(ptrace(PTRACE_DETACH, pid, NULL, NULL), 0);
	ssize_t n = h_read_all(pfd[0], out, cap - 1, 30000);
	close(pfd[0]);
	out[n > 0 ? n : 0] = '\0';
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(superctl_prints_busy)
{
	struct daemon d = {0};
	int port = h_free_port(), fds[MAX_CLIENTS];
	char out[4096];

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		fds[i] = hold_one(d.control);
		ck_assert_msg(fds[i] >= 0, "connection %d was refused", i);
	}
	int st = superctl_held_at_send(d.control, out, sizeof(out));
	ck_assert_msg(strstr(out, "too many control clients") && strstr(out, "(busy)"),
	              "superctl said: %s", out);
	ck_assert_msg(!strstr(out, "Broken pipe"), "superctl said: %s", out);
	ck_assert_int_eq(st, 1); /* refused, not unreachable (3) */
	for (int i = 0; i < MAX_CLIENTS; i++)
		close(fds[i]);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/*
 * The numbers with a fraction in TEXT (JSON), outside strings: each has at most 15
 * significant digits. Returns how many there are.
 */
static int check_reals(const char *text)
{
	int reals = 0;

	for (const char *p = text; *p;) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			p += *p != '\0';
			continue;
		}
		if (!(isdigit((unsigned char)*p) || *p == '-')) {
			p++;
			continue;
		}
		const char *start = p;
		bool real = false, leading = true;
		int digits = 0;
		for (; *p && strchr("-+0123456789.eE", *p); p++) {
			if (*p == '.' || *p == 'e' || *p == 'E')
				real = true;
			if (*p == 'e' || *p == 'E')
				leading = false,
				digits += 100; /* the exponent's digits do not count */
			if (isdigit((unsigned char)*p) && digits < 100 && !(leading && *p == '0')) {
				leading = false;
				digits++;
			}
		}
		if (!real)
			continue;
		reals++;
		ck_assert_msg(digits % 100 <= 15, "float noise: %.*s", (int)(p - start), start);
	}
	return reals;
}

START_TEST(numbers_without_float_noise)
{
	struct daemon d = {0};
	int port = h_free_port();
	char line[65536];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo, "
	                         "mpm: prefork}\n",
	                         port),
	                 0);
	int c = h_connect("127.0.0.1", port);
	ck_assert(h_echoes(c, "x"));
	close(c);
	int fd = h_connect(d.control, 0);
	ck_assert_int_ge(fd, 0);
	const char *reqs[] = {"{\"command\":\"status\"}\n", "{\"command\":\"stats\"}\n"};
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(h_write_all(fd, reqs[i], strlen(reqs[i])), 0);
		ck_assert_int_gt(hc_read_line(fd, line, sizeof(line), 5000), 0);
		/* status: the daemon's and the service's uptime; stats: idle_sec too */
		ck_assert_int_ge(check_reals(line), 2 + (int)i);
	}
	close(fd);

	/* superctl --json prints them as the daemon sent them. */
	int pfd[2], st;
	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(pfd[1], 1) < 0)
			_exit(127);
		execl(superctl_path(), superctl_path(), "--socket", d.control, "--json", "stats",
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	ssize_t n = h_read_all(pfd[0], line, sizeof(line) - 1, 30000);
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_gt(n, 0);
	line[n] = '\0';
	ck_assert_int_ge(check_reals(line), 3);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control_fair");
	TCase *tc = tcase_create("control_fair");
	tcase_add_test(tc, readers_cannot_take_every_slot);
	tcase_add_test(tc, only_whole_requests_keep_a_connection);
	tcase_add_test(tc, blank_lines_do_not_take_the_master);
	tcase_add_test(tc, a_long_pipeline_is_answered);
	tcase_add_test(tc, refused_requests_are_logged_once_per_connection);
	tcase_add_test(tc, superctl_prints_busy);
	tcase_add_test(tc, numbers_without_float_noise);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
