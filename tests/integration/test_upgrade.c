/*
 * Zero-downtime upgrade: superserverd re-executes itself on SIGUSR2 or `superctl
 * upgrade` with every listening socket, while clients connect in a loop over TCP and a
 * unix socket under three models. Nothing may be refused or lost: the loops count
 * every connection, a connection open across the upgrade is served to its end by the
 * old generation, and the new process takes over the control socket and systemd's
 * MAINPID (on a real datagram NOTIFY_SOCKET). A new binary that cannot start leaves
 * the old one serving.
 *
 * The test process becomes a child subreaper so that the new master, orphaned when
 * the old one exits, becomes its child and is stopped and reaped by pid like any
 * other daemon of the harness.
 */
#include <check.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

#define LOOP_MAX_ATTEMPTS 200000
#define LOOP_MAX_MS       60000

struct loop {
	pthread_t thread;
	const char *host; /* or a unix socket path with port 0 */
	int port;
	atomic_bool stop;
	atomic_long ok, refused, wrong;
};

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	long long end = h_now_ms() + LOOP_MAX_MS;
	char want[64], got[64];

	for (long n = 0; n < LOOP_MAX_ATTEMPTS && !atomic_load(&l->stop) && h_now_ms() < end; n++) {
		int fd = h_connect(l->host, l->port);
		if (fd < 0) {
			atomic_fetch_add(&l->refused, 1);
			continue;
		}
		int len = snprintf(want, sizeof(want), "ping %ld\n", n);
		ssize_t k = -1;
		if (h_write_all(fd, want, (size_t)len) == 0 && shutdown(fd, SHUT_WR) == 0)
			k = h_read_all(fd, got, sizeof(got), 10000);
		close(fd);
		if (k == len && memcmp(got, want, (size_t)len) == 0)
			atomic_fetch_add(&l->ok, 1);
		else
			atomic_fetch_add(&l->wrong, 1);
	}
	return NULL;
}

static void loop_start(struct loop *l, const char *host, int port)
{
	l->host = host;
	l->port = port;
	ck_assert_int_eq(pthread_create(&l->thread, NULL, loop_main, l), 0);
}

static void loop_end(struct loop *l, const char *what)
{
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	fprintf(stderr, "%s: ok=%ld refused=%ld wrong=%ld\n", what, atomic_load(&l->ok),
	        atomic_load(&l->refused), atomic_load(&l->wrong));
	ck_assert_int_eq(atomic_load(&l->refused), 0);
	ck_assert_int_eq(atomic_load(&l->wrong), 0);
	ck_assert_int_gt(atomic_load(&l->ok), 0);
}

/* The fd-store name of an address key, written out independently of the daemon's code:
 * "ssd-" and the key with bytes outside [A-Za-z0-9._/-] as %XX. */
static int fdstore_name(const char *key, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "ssd-");
	for (const unsigned char *p = (const unsigned char *)key; *p && n + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '/' || *p == '-')
			out[n++] = (char)*p;
		else
			n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
	}
	out[n] = '\0';
	return 0;
}

/* The pid systemd is told to follow, from the notify messages. */
static pid_t wait_mainpid(struct daemon *d, int timeout_ms)
{
	if (h_wait_notify(d, "MAINPID=", timeout_ms) < 0)
		return -1;
	const char *p = strstr(d->notify_seen, "MAINPID=");
	return p ? (pid_t)atoi(p + 8) : -1;
}

/* Reaps OLD (our child) with a deadline; returns its wait status or -1. */
static int reap(pid_t old, int timeout_ms)
{
	int status;
	long long end = h_now_ms() + timeout_ms;
	do {
		if (waitpid(old, &status, WNOHANG) == old)
			return status;
		h_pause_ms(10);
	} while (h_now_ms() < end);
	return -1;
}

static void reap_old(struct daemon *d, pid_t old)
{
	int st = reap(old, 20000);
	if (st < 0)
		h_dump_log(d);
	ck_assert_msg(st >= 0, "the old master did not exit after the handover");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "old master: status 0x%x", st);
}

/* The process answering on the control socket. */
static long long control_pid(struct daemon *d)
{
	json_t *r = hc_call(d, "status", NULL);
	long long pid = hc_ok(r) ? hc_int(r, "pid") : -1;
	json_decref(r);
	return pid;
}

/* Upgrades d by SIGUSR2 and waits for the handover; d->pid becomes the new master.
 * Returns the old master, reaped unless KEEP_OLD (it drains until its connections end). */
static pid_t upgrade_by_signal(struct daemon *d, bool keep_old)
{
	pid_t old = d->pid;

	h_notify_clear(d);
	ck_assert_int_eq(kill(old, SIGUSR2), 0);
	/* The harness must not reap the old master while we wait: we do, below. */
	d->pid = -1;
	pid_t np = wait_mainpid(d, 30000);
	ck_assert_int_gt(np, 0);
	ck_assert_int_ne(np, old);
	d->pid = np;
	/* READY=1 from the new process, once the old one has confirmed. */
	ck_assert_int_eq(h_wait_notify(d, "READY=1", 10000), 0);
	ck_assert(H_DEADLINE_WAIT(control_pid(d) == np, 10000));
	if (!keep_old)
		reap_old(d, old);
	return old;
}

START_TEST(upgrade_under_load)
{
	struct daemon d = {0};
	struct loop tcp = {0}, ev = {0}, ux = {0};
	char sock[160], buf[64];
	int p1 = h_free_port(), p2 = h_free_port();

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	/* The unix socket lives in the daemon's directory, known once prepared. */
	snprintf(sock, sizeof(sock), "%s/echo.sock", d.dir);
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n"
	                                "  echo: {listen: ['127.0.0.1:%d'], builtin: echo,\n"
	                                "         mpm: {model: prefork, start: 2}}\n"
	                                "  echo-event: {listen: ['127.0.0.1:%d'], builtin: echo,\n"
	                                "               mpm: {model: event}}\n"
	                                "  echo-unix: {listen: ['unix:%s'], builtin: echo,\n"
	                                "              mpm: {model: threadpool}}\n",
	                                p1, p2, sock),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);

	/* A connection open across the upgrade: the old generation serves it to the end. */
	int held = h_connect("127.0.0.1", p1);
	ck_assert_int_ge(held, 0);
	ck_assert_int_eq(h_write_all(held, "before\n", 7), 0);
	ck_assert_int_eq(h_read_n(held, buf, 7, 5000), 0);

	loop_start(&tcp, "127.0.0.1", p1);
	loop_start(&ev, "127.0.0.1", p2);
	loop_start(&ux, sock, 0);
	ck_assert(H_DEADLINE_WAIT(atomic_load(&tcp.ok) > 20 && atomic_load(&ev.ok) > 20 &&
	                                  atomic_load(&ux.ok) > 20,
	                          10000));

	pid_t first = upgrade_by_signal(&d, true);
	ck_assert(h_log_wait(&d, "from the previous process (upgrade)", 10000));
	/* Served after the handover too. */
	long seen = atomic_load(&tcp.ok), seen_ev = atomic_load(&ev.ok),
	     seen_ux = atomic_load(&ux.ok);
	ck_assert(H_DEADLINE_WAIT(atomic_load(&tcp.ok) > seen + 20 &&
	                                  atomic_load(&ev.ok) > seen_ev + 20 &&
	                                  atomic_load(&ux.ok) > seen_ux + 20,
	                          10000));
	/* The held connection still echoes: no byte lost; then its old master may go. */
	ck_assert_int_eq(h_write_all(held, "after\n", 6), 0);
	ck_assert_int_eq(h_read_n(held, buf, 6, 5000), 0);
	ck_assert(memcmp(buf, "after\n", 6) == 0);
	close(held);
	reap_old(&d, first);
	/* And once more, from the new binary. */
	upgrade_by_signal(&d, false);
	seen = atomic_load(&tcp.ok);
	seen_ev = atomic_load(&ev.ok);
	seen_ux = atomic_load(&ux.ok);
	ck_assert_msg(
	        H_DEADLINE_WAIT(atomic_load(&tcp.ok) > seen + 20 &&
	                                atomic_load(&ev.ok) > seen_ev + 20 &&
	                                atomic_load(&ux.ok) > seen_ux + 20,
	                        10000),
	        "after the second upgrade: event ok %ld (was %ld) wrong %ld refused %ld, unix "
	        "ok %ld (was %ld) wrong %ld refused %ld",
	        atomic_load(&ev.ok), seen_ev, atomic_load(&ev.wrong), atomic_load(&ev.refused),
	        atomic_load(&ux.ok), seen_ux, atomic_load(&ux.wrong), atomic_load(&ux.refused));
	ck_assert_int_ne(d.pid, first);

	loop_end(&tcp, "tcp prefork");
	loop_end(&ev, "tcp event");
	loop_end(&ux, "unix threadpool");

	ck_assert_int_eq(access(sock, F_OK), 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static const char *superctl_path(void)
{
	const char *p = getenv("SUPERCTL");
	return p ? p : "./superctl";
}

/* Runs superctl A1 against d; returns its exit code, with stdout and stderr in out. */
static int superctl_rc(struct daemon *d, char *out, size_t cap, const char *a1)
{
	int pipefd[2], status = -1;
	size_t n = 0;

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(pipefd[1], 1) < 0 || dup2(pipefd[1], 2) < 0)
			_exit(127);
		execl(superctl_path(), "superctl", "--socket", d->control, "--timeout", "30", a1,
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		if (poll(&p, 1, 40000) <= 0)
			break;
		ssize_t k = read(pipefd[0], out + n, cap - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	out[n] = '\0';
	close(pipefd[0]);
	status = reap(pid, 40000);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* superctl upgrade: the new main pid (the old one in *OLD_R, which the caller reaps with
 * reap_old), superctl's output in OUT. */
static pid_t upgrade_by_superctl(struct daemon *d, char *out, size_t cap, pid_t *old_r)
{
	*old_r = d->pid;
	h_notify_clear(d);
	d->pid = -1; /* reaped by the caller, not by the harness */
	ck_assert_int_eq(superctl_rc(d, out, cap, "upgrade"), 0);
	pid_t np = wait_mainpid(d, 10000);
	ck_assert_int_gt(np, 0);
	return np;
}

START_TEST(upgrade_with_superctl)
{
	struct daemon d = {0};
	char out[4096], buf[64];
	int port = h_free_port();

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	pid_t old, np = upgrade_by_superctl(&d, out, sizeof(out), &old);
	char want[64];
	snprintf(want, sizeof(want), "upgraded: pid %d -> %d", (int)old, (int)np);
	ck_assert_msg(strstr(out, want), "superctl said: %s", out);
	reap_old(&d, old);
	d.pid = np;
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "x\n", true, buf, sizeof(buf), 5000), 2);
	/* The new process reloads like the old one did. */
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* One UDP echo datagram to 127.0.0.1:PORT and its answer (deadline). */
static bool udp_echoes(int fd, int port, const char *msg)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[64];
	size_t len = strlen(msg);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(fd, msg, len, 0, (struct sockaddr *)&sin, sizeof(sin)) != (ssize_t)len)
		return false;
	if (poll(&p, 1, 20000) <= 0)
		return false;
	return recv(fd, buf, sizeof(buf), 0) == (ssize_t)len && memcmp(buf, msg, len) == 0;
}

/* A datagram service is handed over like a stream one, and the stream socket on the
 * same port number stays apart from it (their hand-over names differ by type). */
START_TEST(upgrade_with_udp_echo)
{
	struct daemon d = {0};
	char out[4096], buf[64];
	int port = h_free_port(), fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n"
	                "  u: {listen: ['udp:127.0.0.1:%d', '127.0.0.1:%d'], builtin: echo,\n"
	                "      mpm: event}\n",
	                port, port),
	        0);
	ck_assert(udp_echoes(fd, port, "before"));
	pid_t old, np = upgrade_by_superctl(&d, out, sizeof(out), &old);
	reap_old(&d, old);
	d.pid = np;
	ck_assert(udp_echoes(fd, port, "after"));
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "tcp\n", true, buf, sizeof(buf), 5000), 4);
	ck_assert_int_eq(h_stop(&d), 0);
	close(fd);
}
END_TEST

START_TEST(failed_upgrade_keeps_serving)
{
	struct daemon d = {0};
	char out[4096], buf[64], sock[160];
	int port = h_free_port(), taken = h_free_port();

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	d.allowed_errors[0] = "upgrade failed";
	d.allowed_errors[1] = "superserverd.yaml:";
	d.allowed_errors[2] = "Address already in use"; /* the new process's bind */
	d.allowed_errors[3] = "cannot start";
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	snprintf(sock, sizeof(sock), "%s/e.sock", d.dir);
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  e: {listen: ['127.0.0.1:%d', 'unix:%s'], builtin: echo}\n",
	                       port, sock),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);

	/* The new binary reads the file itself: a broken one makes it exit at start. */
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n  e: {listen: ['127.0.0.1:%d', 'unix:%s'], "
	                                "builtin: nosuch}\n",
	                                port, sock),
	                 0);
	ck_assert_int_eq(superctl_rc(&d, out, sizeof(out), "upgrade"), 1);
	ck_assert_msg(strstr(out, "upgrade failed") && strstr(out, "exited with status 1"),
	              "superctl said: %s", out);
	ck_assert_int_eq(control_pid(&d), d.pid);
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "y\n", true, buf, sizeof(buf), 5000), 2);
	json_t *st = hc_call(&d, "status", NULL);
	json_t *up = json_object_get(st, "upgrade");
	ck_assert_str_eq(hc_str(up, "state"), "failed");
	json_decref(st);

	/* A new process that fails later, once it has taken the sockets over (an address
	 * it cannot bind): the old one's unix socket file must still be there. */
	int blocker = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)taken),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_ge(blocker, 0);
	ck_assert_int_eq(bind(blocker, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(blocker, 1), 0);
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  e: {listen: ['127.0.0.1:%d', 'unix:%s'], builtin: echo}\n"
	                       "  t: {listen: ['127.0.0.1:%d'], builtin: time}\n",
	                       port, sock, taken),
	        0);
	ck_assert_int_eq(superctl_rc(&d, out, sizeof(out), "upgrade"), 1);
	close(blocker);
	ck_assert_int_eq(access(sock, F_OK), 0);
	ck_assert_int_eq(h_exchange(sock, 0, "u\n", true, buf, sizeof(buf), 5000), 2);

	/* Still upgradable once the file is fixed. */
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  e: {listen: ['127.0.0.1:%d', 'unix:%s'], builtin: echo}\n",
	                       port, sock),
	        0);
	upgrade_by_signal(&d, false);
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "z\n", true, buf, sizeof(buf), 5000), 2);
	ck_assert_int_eq(h_exchange(sock, 0, "w\n", true, buf, sizeof(buf), 5000), 2);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A socket whose name would pass systemd's limit cannot travel by name: the upgrade is
 * refused with the reason, even though an earlier attempt to store the socket in the fd
 * store had failed on the same name (and must not leave half of one behind). */
START_TEST(upgrade_refuses_unnamable_socket)
{
	struct daemon d = {0};
	char out[4096], buf[64], sock[108];
	int port = h_free_port();

	d.allowed_errors[0] = "too long to be passed by name";
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	/* Each '+' is encoded as three bytes: some 80 of them pass systemd's 255. */
	int n = snprintf(sock, sizeof(sock), "%s/", d.dir);
	memset(sock + n, '+', sizeof(sock) - 1 - (size_t)n);
	sock[sizeof(sock) - 1] = '\0';
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  e: {listen: ['127.0.0.1:%d', 'unix:%s'], builtin: echo}\n",
	                       port, sock),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);
	ck_assert(h_log_wait(&d, "address too long for systemd's fd store", 5000));
	ck_assert_int_eq(superctl_rc(&d, out, sizeof(out), "upgrade"), 1);
	ck_assert_msg(strstr(out, "too long to be passed by name"), "superctl said: %s", out);
	ck_assert_int_eq(control_pid(&d), d.pid);
	ck_assert_int_eq(h_exchange(sock, 0, "u\n", true, buf, sizeof(buf), 5000), 2);
	ck_assert_int_eq(h_exchange("127.0.0.1", port, "v\n", true, buf, sizeof(buf), 5000), 2);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* An upgrade that drops addresses and adds one: once it has taken over, the new process
 * removes the dropped ones from systemd's fd store (a real datagram NOTIFY_SOCKET sees
 * the messages), closes them and their unix socket file, and stores the new one; the
 * dropped port can be bound again by a later reload. */
START_TEST(upgrade_drops_and_adds_addresses)
{
	struct daemon d = {0};
	char sock[160], want[300], name[300], buf[64];
	int p1 = h_free_port(), p2 = h_free_port(), p3 = h_free_port();

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	snprintf(sock, sizeof(sock), "%s/u.sock", d.dir);
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  a: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                       "  b: {listen: ['127.0.0.1:%d', 'unix:%s'], builtin: echo}\n",
	                       p1, p2, sock),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n"
	                                "  a: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                                "  c: {listen: ['127.0.0.1:%d'], builtin: echo}\n",
	                                p1, p3),
	                 0);
	/* By hand rather than upgrade_by_signal: its status requests empty the notify
	 * record, and the messages are what this test reads. */
	pid_t old = d.pid;
	h_notify_clear(&d);
	ck_assert_int_eq(kill(old, SIGUSR2), 0);
	d.pid = -1;
	pid_t np = wait_mainpid(&d, 30000);
	ck_assert_int_gt(np, 0);
	d.pid = np;
	snprintf(want, sizeof(want), "FDSTOREREMOVE=1\nFDNAME=ssd-127.0.0.1%%3A%d", p2);
	ck_assert_int_eq(h_wait_notify(&d, want, 5000), 0);
	snprintf(want, sizeof(want), "unix:%s", sock);
	ck_assert_int_eq(fdstore_name(want, name, sizeof(name)), 0);
	snprintf(want, sizeof(want), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	ck_assert_int_eq(h_wait_notify(&d, want, 5000), 0);
	snprintf(want, sizeof(want), "FDSTORE=1\nFDNAME=ssd-127.0.0.1%%3A%d", p3);
	ck_assert_int_eq(h_wait_notify(&d, want, 5000), 0);
	/* In that order: removals and stores once it is the main process, then READY. */
	const char *mp = strstr(d.notify_seen, "MAINPID=");
	const char *rm = strstr(d.notify_seen, "FDSTOREREMOVE=1");
	ck_assert(mp && rm && mp < rm);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 10000), 0);
	reap_old(&d, old);
	ck_assert_int_eq(access(sock, F_OK), -1);
	/* The dropped port stops being served. Waited for: under load a connection to it
	 * was, once in some 40 runs, accepted and reset within a millisecond after all
	 * the above (a copy of the socket outliving the new process's close briefly; not
	 * another program: it happened in port slots no other program uses). One that is
	 * never closed still fails here. */
	ck_assert(H_DEADLINE_WAIT(h_refused("127.0.0.1", p2), 10000));
	ck_assert_int_eq(h_exchange("127.0.0.1", p3, "n\n", true, buf, sizeof(buf), 5000), 2);
	/* The dropped port is free again. */
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n"
	                                "  a: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                                "  b: {listen: ['127.0.0.1:%d'], builtin: echo}\n",
	                                p1, p2),
	                 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert_int_eq(h_exchange("127.0.0.1", p2, "b\n", true, buf, sizeof(buf), 5000), 2);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("upgrade");
	TCase *tc = tcase_create("upgrade");
	tcase_add_test(tc, upgrade_under_load);
	tcase_add_test(tc, upgrade_with_superctl);
	tcase_add_test(tc, upgrade_with_udp_echo);
	tcase_add_test(tc, failed_upgrade_keeps_serving);
	tcase_add_test(tc, upgrade_refuses_unnamable_socket);
	tcase_add_test(tc, upgrade_drops_and_adds_addresses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
