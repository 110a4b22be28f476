/*
 * The wait model on the real daemon: a program handed the listening socket (stream
 * and datagram) serves clients in turn and is started again on the next client; what
 * it is handed (fd 0, 1 and 3, LISTEN_*); a program that exits at once every time is
 * restarted only after the backoff, without disturbing another service; the timeout;
 * access on the waking datagram; stop and reload with a program running; the run
 * counters and records.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

static const char *prog(void)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/prog_wait", getenv("SS_TEST_PROG_DIR"));
	return path;
}

/* Sends MSG to 127.0.0.1:PORT from FROM (NULL: any) and reads one answer. Returns its
 * length, or -1 when none came within TIMEOUT_MS. *SRC_PORT_R (optional): our port. */
static ssize_t udp_ask(int port, const char *from, const char *msg, char *buf, size_t cap,
                       int timeout_ms, int *src_port_r)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in me = {.sin_family = AF_INET};
	socklen_t mlen = sizeof(me);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n = -1;

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (from) {
		inet_pton(AF_INET, from, &me.sin_addr);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	}
	ck_assert_int_eq(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof(to)),
	                 (ssize_t)strlen(msg));
	if (src_port_r && getsockname(fd, (struct sockaddr *)&me, &mlen) == 0)
		*src_port_r = ntohs(me.sin_port);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) == 1)
		n = recv(fd, buf, cap - 1, 0);
	if (n >= 0)
		buf[n] = '\0';
	close(fd);
	return n;
}

/* One line from a new connection to 127.0.0.1:PORT. */
static void tcp_ask(int port, char *buf, size_t cap)
{
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf, cap - 1, 30000);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
}

static int field(const char *line, const char *name)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof(key), "%s=", name);
	at = strstr(line, key);
	ck_assert_msg(at != NULL, "no %s in '%s'", name, line);
	return atoi(at + strlen(key));
}

/* What the program was handed: the socket on 0, 1 and 3, blocking, LISTEN_*. */
static void check_handed(const char *line, const char *name)
{
	char names[128];

	snprintf(names, sizeof(names), "names=%s ", name);
	ck_assert_msg(strstr(line, "fds=1 ") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "listen_pid_ok=1") != NULL, "%s", line);
	ck_assert_msg(strstr(line, names) != NULL, "%s", line);
	ck_assert_msg(strstr(line, "same_socket=1") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "blocking=1") != NULL, "%s", line);
	ck_assert_msg(strstr(line, " open=0,1,2,3\n") != NULL, "%s", line);
}

/* A field of the service's `runs` in a stats answer; -1 when there is none. */
static long long runs(struct daemon *d, const char *svc, const char *key)
{
	json_t *reply = hc_call(d, "stats", svc);
	long long v = -1;

	if (reply) {
		const json_t *r = json_object_get(hc_service(reply, svc), "runs");
		if (json_is_object(r))
			v = hc_int(r, key);
	}
	json_decref(reply);
	return v;
}

static long long workers(struct daemon *d, const char *svc, const char *state)
{
	json_t *reply = hc_call(d, "stats", svc);
	long long v = -1;

	if (reply)
		v = hc_int(json_object_get(hc_service(reply, svc), "workers"), state);
	json_decref(reply);
	return v;
}

START_TEST(stream_clients_in_turn)
{
	int port = h_free_port();
	struct daemon d = {0};
	char a[512], b[512], c[512], again[512], tag[128];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  w:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [%s, stream, '600000', '3']\n    mpm: wait\n",
	                         port, prog()),
	                 0);
	tcp_ask(port, a, sizeof(a));
	/* One program serves while it runs (it ends after its third client, never before);
	 * the slot says so. */
	ck_assert_int_eq(workers(&d, "w", "busy"), 1);
	ck_assert_int_eq(runs(&d, "w", "running"), 1);
	tcp_ask(port, b, sizeof(b));
	tcp_ask(port, c, sizeof(c));
	check_handed(a, "w");
	ck_assert_int_eq(field(a, "pid"), field(b, "pid"));
	ck_assert_int_eq(field(a, "pid"), field(c, "pid"));
	ck_assert_int_eq(field(c, "served"), 3);
	/* Its stderr, in the log under the service's name with its pid. */
	snprintf(tag, sizeof(tag), "w: [%d] prog_wait %d: started", field(a, "pid"),
	         field(a, "pid"));
	ck_assert(h_log_wait(&d, tag, 30000));
	/* Done, it exits; the socket is watched again and the next client starts another. */
	ck_assert(H_DEADLINE_WAIT(runs(&d, "w", "exited_ok") == 1, 60000));
	ck_assert(H_DEADLINE_WAIT(workers(&d, "w", "idle") == 1, 30000));
	tcp_ask(port, again, sizeof(again));
	ck_assert_int_ne(field(again, "pid"), field(a, "pid"));
	ck_assert_int_eq(field(again, "served"), 1);
	check_handed(again, "w");
	ck_assert_int_eq(runs(&d, "w", "started"), 2);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(datagrams_and_records)
{
	int port = h_free_port(), src = 0;
	struct daemon d = {0};
	char a[512], b[512], rec[128];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  u:\n    listen: ['udp:127.0.0.1:%d']\n"
	                         "    exec: [%s, dgram, '600000', '2']\n    mpm: wait\n",
	                         port, prog()),
	                 0);
	ck_assert_int_gt(udp_ask(port, NULL, "one", a, sizeof(a), 30000, &src), 0);
	ck_assert_int_gt(udp_ask(port, NULL, "two", b, sizeof(b), 30000, NULL), 0);
	check_handed(a, "u");
	ck_assert_int_eq(field(a, "pid"), field(b, "pid"));
	ck_assert_int_eq(field(b, "served"), 2);
	ck_assert(H_DEADLINE_WAIT(runs(&d, "u", "exited_ok") == 1, 60000));
	ck_assert_int_eq(runs(&d, "u", "running"), 0);
	ck_assert_int_eq(runs(&d, "u", "last_exit_status"), 0);
	ck_assert_int_gt(runs(&d, "u", "run_usec_sum"), 0);
	/* The run's record names the datagram that woke it. */
	snprintf(rec, sizeof(rec), "u: connection 127.0.0.1:%d exited", src);
	ck_assert(h_log_wait(&d, rec, 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Two sockets of one service, each with its program running: the second program gets
 * neither the first's socket nor its stderr pipe (which the service holds). */
START_TEST(programs_get_their_own_descriptors)
{
	int p1 = h_free_port(), p2 = h_free_port();
	struct daemon d = {0};
	char a[512], b[512];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  two:\n"
	                         "    listen: ['udp:127.0.0.1:%d', 'udp:127.0.0.1:%d']\n"
	                         "    exec: [%s, dgram, '600000']\n    mpm: wait\n",
	                         p1, p2, prog()),
	                 0);
	ck_assert_int_gt(udp_ask(p1, NULL, "one", a, sizeof(a), 30000, NULL), 0);
	ck_assert_int_gt(udp_ask(p2, NULL, "two", b, sizeof(b), 30000, NULL), 0);
	ck_assert_int_ne(field(a, "pid"), field(b, "pid"));
	ck_assert_int_eq(runs(&d, "two", "running"), 2);
	check_handed(a, "two");
	check_handed(b, "two");
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static pid_t service_pid(struct daemon *d, const char *svc)
{
	json_t *reply = hc_call(d, "stats", svc);
	pid_t pid = -1;

	if (reply)
		pid = (pid_t)hc_int(
		        json_array_get(json_object_get(hc_service(reply, svc), "processes"), 0),
		        "pid");
	json_decref(reply);
	return pid;
}

START_TEST(exits_at_once_backs_off)
{
	int port = h_free_port(), sport = h_free_port(), eport = h_free_port();
	struct daemon d = {0};
	char buf[64];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  bad:\n    listen: ['udp:127.0.0.1:%d']\n"
	                         "    exec: [/bin/true]\n    mpm: wait\n"
	                         "  bads:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/true]\n    mpm: wait\n"
	                         "  good:\n    listen: ['127.0.0.1:%d']\n"
	                         "    builtin: echo\n    mpm: event\n",
	                         port, sport, eport),
	                 0);
	long long t0 = h_now_ms();
	/* Never read: every run leaves the datagram there. */
	ck_assert_int_eq(udp_ask(port, NULL, "wake", buf, sizeof(buf), 0, NULL), -1);
	int pending = h_connect("127.0.0.1", sport);
	ck_assert_int_ge(pending, 0);
	/* Five runs are four restarts after 100, 200, 400 and 800 ms: not before (a load
	 * can only make them later), where a busy loop would run thousands of times. */
	ck_assert(H_DEADLINE_WAIT(runs(&d, "bad", "started") >= 5, 60000));
	long long elapsed = h_now_ms() - t0;
	ck_assert_msg(elapsed >= 1500, "5 runs after %lld ms", elapsed);
	ck_assert(h_log_wait(&d, "without reading what woke it (udp:", 30000));
	ck_assert(h_log_wait(&d, "watching it again in 800 ms", 30000));
	ck_assert(H_DEADLINE_WAIT(runs(&d, "bads", "started") >= 3, 60000));
	char want[128];
	snprintf(want, sizeof(want), "without reading what woke it (127.0.0.1:%d)", sport);
	ck_assert(h_log_wait(&d, want, 30000));
	/* Another service and the daemon are unaffected. */
	int fd = h_connect("127.0.0.1", eport);
	ck_assert_int_ge(fd, 0);
	ck_assert(h_echoes(fd, "still here"));
	close(fd);
	ck_assert(hc_wait_state(&d, "bad", "running", 10000));
	close(pending);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(timeout_ends_a_program)
{
	int port = h_free_port(), src = 0;
	struct daemon d = {0};
	char buf[64], rec[128];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    listen: ['udp:127.0.0.1:%d']\n"
	                         "    exec: [/bin/sleep, '1000']\n"
	                         "    mpm: {model: wait, timeout: 1s}\n",
	                         port),
	                 0);
	long long t0 = h_now_ms();
	ck_assert_int_eq(udp_ask(port, NULL, "wake", buf, sizeof(buf), 0, &src), -1);
	ck_assert(H_DEADLINE_WAIT(runs(&d, "s", "timeouts") >= 1, 60000));
	ck_assert_int_ge(h_now_ms() - t0, 1000);
	ck_assert_int_ge(runs(&d, "s", "killed"), 1);
	ck_assert(h_log_wait(&d, "still running after the timeout (1s): ending it", 30000));
	snprintf(rec, sizeof(rec), "s: connection 127.0.0.1:%d timeout", src);
	ck_assert(h_log_wait(&d, rec, 30000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(access_on_the_waking_datagram)
{
	int port = h_free_port();
	struct daemon d = {0};
	char buf[512];

	ck_assert_int_eq(h_start(&d,
	                         "log: {level: debug}\n"
	                         "services:\n  a:\n    listen: ['udp:127.0.0.1:%d']\n"
	                         "    exec: [%s, dgram, '500']\n    mpm: wait\n"
	                         "    access: {allow: [127.0.0.1/32]}\n",
	                         port, prog()),
	                 0);
	/* From 127.0.0.2: dropped before any program starts, and never reaches one. */
	ck_assert_int_eq(udp_ask(port, "127.0.0.2", "denied", buf, sizeof(buf), 0, NULL), -1);
	ck_assert(h_log_wait(&d, "datagram from 127.0.0.2:", 30000));
	ck_assert(h_log_wait(&d, "refused by the access list", 30000));
	ck_assert_int_eq(runs(&d, "a", "started"), 0);
	ck_assert_int_gt(udp_ask(port, "127.0.0.1", "allowed", buf, sizeof(buf), 30000, NULL), 0);
	/* The first datagram this program read is ours: the denied one was gone. */
	ck_assert_int_eq(field(buf, "served"), 1);
	ck_assert_int_eq(runs(&d, "a", "started"), 1);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(stop_and_reload_with_a_program_running)
{
	int port = h_free_port();
	struct daemon d = {0};
	char a[512], b[512];
#define RELOAD_CFG                                                                                 \
	"services:\n  r:\n    listen: ['udp:127.0.0.1:%d']\n"                                      \
	"    exec: [%s, dgram, '600000']\n    mpm: {model: wait%s}\n"                              \
	"    shutdown_timeout: 100s\n"

	ck_assert_int_eq(h_start(&d, RELOAD_CFG, port, prog(), ""), 0);
	ck_assert_int_gt(udp_ask(port, NULL, "one", a, sizeof(a), 30000, NULL), 0);
	pid_t first = field(a, "pid");
	/* A changed service: the old process goes, and its program with it (SIGTERM). */
	ck_assert_int_eq(h_write_config(&d, RELOAD_CFG, port, prog(), ", timeout: 10m"), 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(h_wait_gone(first, 30000));
	ck_assert_int_gt(udp_ask(port, NULL, "two", b, sizeof(b), 30000, NULL), 0);
	pid_t second = field(b, "pid");
	ck_assert_int_ne(second, first);
	/* Stop ends the running program long before shutdown_timeout. */
	long long t0 = h_now_ms();
	ck_assert_int_eq(h_stop(&d), 0);
	ck_assert_int_lt(h_now_ms() - t0, 50000);
	ck_assert(h_wait_gone(second, 30000));
}
END_TEST

/* Parent of process PID, or -1 when it is gone. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	int ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* Whether UDP port PORT on 127.0.0.1 can be bound (nobody holds it). */
static bool udp_port_free(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* A program's children end with it (its process group); one that left the group is
 * adopted by the service process and ended when the service stops. Either would
 * otherwise keep the socket: read what the next run is for, and hold the port. */
START_TEST(leftovers_end_with_the_program)
{
	int port = h_free_port(), sport = h_free_port();
	struct daemon d = {0};
	char a[512], b[512];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  g:\n    listen: ['udp:127.0.0.1:%d']\n"
	                         "    exec: [%s, dgram, '600000', '1', child]\n    mpm: wait\n"
	                         "  s:\n    listen: ['udp:127.0.0.1:%d']\n"
	                         "    exec: [%s, dgram, '600000', '1', setsid-child]\n"
	                         "    mpm: wait\n",
	                         port, prog(), sport, prog()),
	                 0);
	ck_assert_int_gt(udp_ask(port, NULL, "one", a, sizeof(a), 30000, NULL), 0);
	pid_t child = field(a, "child");
	ck_assert_int_gt(child, 0);
	ck_assert(H_DEADLINE_WAIT(runs(&d, "g", "exited_ok") == 1, 60000));
	ck_assert(h_wait_gone(child, 30000));
	/* The next datagram starts a new program: no leftover took it. */
	ck_assert_int_gt(udp_ask(port, NULL, "two", b, sizeof(b), 30000, NULL), 0);
	ck_assert_int_ne(field(b, "pid"), field(a, "pid"));
	ck_assert(h_wait_gone(field(b, "child"), 30000));

	ck_assert_int_gt(udp_ask(sport, NULL, "one", a, sizeof(a), 30000, NULL), 0);
	pid_t escaped = field(a, "child"), svc = -1, parent = -1;
	ck_assert_int_gt(escaped, 0);
	ck_assert(H_DEADLINE_WAIT(runs(&d, "s", "exited_ok") == 1, 60000));
	/* Out of the group, it lives on, but as the service process's child, not init's.
	 * The service's pid is asked again each time: a control answer lost to a loaded
	 * machine must not fail the check. */
	ck_assert_msg(H_DEADLINE_WAIT((svc = service_pid(&d, "s")) > 0 &&
	                                      (parent = parent_of(escaped)) == svc,
	                              30000),
	              "the escaped child %d has parent %d, the service process is %d", (int)escaped,
	              (int)parent, (int)svc);
	ck_assert_int_eq(h_stop(&d), 0);
	ck_assert(h_wait_gone(escaped, 30000));
	ck_assert(H_DEADLINE_WAIT(udp_port_free(port) && udp_port_free(sport), 30000));
}
END_TEST

/* fork + exec: what a connection's program leaves running is ended at stop. */
START_TEST(fork_program_leftovers_end_at_stop)
{
	int port = h_free_port();
	struct daemon d = {0};
	char buf[128];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  f:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [%s, conn-child]\n    mpm: fork\n",
	                         port, prog()),
	                 0);
	tcp_ask(port, buf, sizeof(buf));
	pid_t child = field(buf, "child");
	ck_assert_int_gt(child, 0);
	ck_assert_int_gt(parent_of(child), 0); /* alive, after its program */
	ck_assert_int_eq(h_stop(&d), 0);
	ck_assert(h_wait_gone(child, 30000));
}
END_TEST

/* A program leaves the socket blocking behind it: another model taking the address
 * in a reload must still serve (never block in accept). */
START_TEST(reload_from_wait_to_event)
{
	int port = h_free_port();
	struct daemon d = {0};
	char a[512];

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  w:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [%s, stream, '600000', '1']\n    mpm: wait\n",
	                         port, prog()),
	                 0);
	tcp_ask(port, a, sizeof(a));
	ck_assert(H_DEADLINE_WAIT(runs(&d, "w", "exited_ok") == 1, 60000));
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n  w:\n    listen: ['127.0.0.1:%d']\n"
	                                "    builtin: echo\n    mpm: event\n",
	                                port),
	                 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(hc_wait_state(&d, "w", "running", 30000));
	for (int i = 0; i < 3; i++) {
		int fd = h_connect("127.0.0.1", port);
		ck_assert_int_ge(fd, 0);
		ck_assert(h_echoes(fd, "after wait"));
		close(fd);
	}
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The wait process dies (SIGKILL) with a program running: the program dies with it,
 * and the counters say so once the master has restarted the process. */
START_TEST(killed_service_process_counted)
{
	int port = h_free_port();
	struct daemon d = {0};
	char a[512], b[512];

	d.allowed_errors[0] = "killed by signal 9";
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  k:\n    listen: ['udp:127.0.0.1:%d']\n"
	                         "    exec: [%s, dgram, '600000']\n    mpm: wait\n",
	                         port, prog()),
	                 0);
	ck_assert_int_gt(udp_ask(port, NULL, "one", a, sizeof(a), 30000, NULL), 0);
	ck_assert_int_eq(runs(&d, "k", "running"), 1);
	pid_t svc = service_pid(&d, "k");
	ck_assert_int_gt(svc, 0);
	ck_assert_int_eq(kill(svc, SIGKILL), 0);
	ck_assert(h_wait_gone(field(a, "pid"), 30000));
	ck_assert(H_DEADLINE_WAIT(service_pid(&d, "k") > 0 && service_pid(&d, "k") != svc, 60000));
	ck_assert(H_DEADLINE_WAIT(runs(&d, "k", "running") == 0, 30000));
	ck_assert_int_eq(runs(&d, "k", "killed"), 1);
	ck_assert_int_gt(udp_ask(port, NULL, "two", b, sizeof(b), 30000, NULL), 0);
	ck_assert_int_eq(runs(&d, "k", "running"), 1);
	ck_assert_int_eq(runs(&d, "k", "started"), 2);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

#define SOCKET_ACTIVATE "/usr/bin/systemd-socket-activate"

/* A unix datagram socket from systemd carries no credentials: allow_users cannot be
 * checked on it, so the service refuses to start rather than let anyone in. */
START_TEST(ids_refused_on_inherited_unix_datagram)
{
	struct daemon d = {0};
	char path[128], listen_arg[160];

	if (access(SOCKET_ACTIVATE, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed\n", SOCKET_ACTIVATE);
		return;
	}
	d.allowed_errors[0] = "allow_users/allow_groups cannot be checked";
	d.allowed_errors[1] = "cannot start watching the sockets";
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n  x:\n    listen: ['systemd:x']\n"
	                           "    exec: [%s, dgram, '600000']\n    mpm: wait\n"
	                           "    access: {allow_users: [root]}\n",
	                           prog()),
	                 0);
	snprintf(path, sizeof(path), "%s/x.sock", d.dir);
	snprintf(listen_arg, sizeof(listen_arg), "%s", path);
	const char *wrapper[] = {
	        SOCKET_ACTIVATE, "--datagram", "-l",           listen_arg, "--fdname=x",    "-E",
	        "NOTIFY_SOCKET", "-E",         "ASAN_OPTIONS", "-E",       "UBSAN_OPTIONS", NULL};
	d.wrapper = wrapper;
	ck_assert_int_eq(h_spawn(&d), 0);
	struct sockaddr_un to = {.sun_family = AF_UNIX};
	snprintf(to.sun_path, sizeof(to.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	/* The first datagram starts the daemon (systemd-socket-activate binds first). */
	ck_assert(H_DEADLINE_WAIT(sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) == 1,
	                          30000));
	close(fd);
	ck_assert(h_log_wait(&d,
	                     "x: systemd:x: allow_users/allow_groups cannot be checked on a unix "
	                     "datagram socket",
	                     30000));
	ck_assert_int_eq(runs(&d, "x", "started"), 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("wait");
	tcase_add_test(tc, stream_clients_in_turn);
	tcase_add_test(tc, datagrams_and_records);
	tcase_add_test(tc, programs_get_their_own_descriptors);
	tcase_add_test(tc, exits_at_once_backs_off);
	tcase_add_test(tc, timeout_ends_a_program);
	tcase_add_test(tc, access_on_the_waking_datagram);
	tcase_add_test(tc, stop_and_reload_with_a_program_running);
	tcase_add_test(tc, leftovers_end_with_the_program);
	tcase_add_test(tc, fork_program_leftovers_end_at_stop);
	tcase_add_test(tc, reload_from_wait_to_event);
	tcase_add_test(tc, killed_service_process_counted);
	tcase_add_test(tc, ids_refused_on_inherited_unix_datagram);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
