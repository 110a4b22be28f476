/* systemd behaviour with real peers: systemd-socket-activate hands a named socket to
 * `systemd:NAME` (and stored sockets back under their fd-store names; stream and
 * datagram, as ListenStream= and ListenDatagram= do), and a real
 * datagram socket as NOTIFY_SOCKET receives READY=1, RELOADING=1 (with MONOTONIC_USEC),
 * STOPPING=1 and the FDSTORE=1/FDSTOREREMOVE=1 messages. */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define SOCKET_ACTIVATE "/usr/bin/systemd-socket-activate"

START_TEST(socket_activation_by_name)
{
	struct daemon d = {0};
	char listen_arg[64], buf[64];
	int port = h_free_port(), other = h_free_port();

	if (access(SOCKET_ACTIVATE, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed\n", SOCKET_ACTIVATE);
		return;
	}
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
	const char *wrapper[] = {SOCKET_ACTIVATE,
	                         "-l",
	                         listen_arg,
	                         "--fdname=echo",
	                         "-E",
	                         "NOTIFY_SOCKET",
	                         "-E",
	                         "ASAN_OPTIONS",
	                         "-E",
	                         "UBSAN_OPTIONS",
	                         NULL};
	d.wrapper = wrapper;
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n"
	                           "  echo: {listen: ['systemd:echo'], builtin: echo}\n"
	                           "  plain: {listen: ['127.0.0.1:%d'], builtin: time}\n",
	                           other),
	                 0);
	d.wrapper = wrapper;
	ck_assert_int_eq(h_spawn(&d), 0);
	/* systemd-socket-activate execs the daemon on the first connection, which waits in
	 * the backlog of the inherited socket meanwhile. */
	int fd = -1;
	ck_assert(H_DEADLINE_WAIT((fd = h_connect("127.0.0.1", port)) >= 0, 10000));
	h_write_all(fd, "activated\n", 10);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 15000), 0);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 10);
	ck_assert(memcmp(buf, "activated\n", 10) == 0);
	close(fd);
	ck_assert(h_log_wait(&d, "inherited 1 socket", 10000));
	ck_assert_int_eq(h_exchange("127.0.0.1", other, NULL, false, buf, sizeof(buf), 5000), 4);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Sends MSG in one datagram to 127.0.0.1:PORT from a socket of its own and waits up to
 * TIMEOUT_MS for one answer: its length in BUF, or -1. */
static ssize_t udp_exchange(int port, const char *msg, char *buf, size_t cap, int timeout_ms)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n = -1;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(send(fd, msg, strlen(msg), 0), (ssize_t)strlen(msg));
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, timeout_ms) == 1)
		n = recv(fd, buf, cap, MSG_DONTWAIT);
	close(fd);
	return n;
}

/* ListenDatagram= + FileDescriptorName=: the datagram that activates the daemon waits in
 * the passed socket and is answered once the service runs. */
START_TEST(datagram_activation_by_name)
{
	struct daemon d = {0};
	char listen_arg[64], buf[64];
	int port = h_free_port();

	if (access(SOCKET_ACTIVATE, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed\n", SOCKET_ACTIVATE);
		return;
	}
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
	const char *wrapper[] = {SOCKET_ACTIVATE,
	                         "--datagram",
	                         "-l",
	                         listen_arg,
	                         "--fdname=udpecho",
	                         "-E",
	                         "NOTIFY_SOCKET",
	                         "-E",
	                         "ASAN_OPTIONS",
	                         "-E",
	                         "UBSAN_OPTIONS",
	                         NULL};
	ck_assert_int_eq(h_prepare(&d, "services:\n"
	                               "  udpecho: {listen: ['systemd:udpecho'], builtin: echo, "
	                               "mpm: event}\n"),
	                 0);
	d.wrapper = wrapper;
	ck_assert_int_eq(h_spawn(&d), 0);
	/* Until systemd-socket-activate has bound the socket, a datagram goes nowhere. */
	ssize_t n = -1;
	ck_assert(H_DEADLINE_WAIT((n = udp_exchange(port, "activated", buf, sizeof(buf), 1000)) > 0,
	                          30000));
	ck_assert_int_eq(n, 9);
	ck_assert(memcmp(buf, "activated", 9) == 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 15000), 0);
	ck_assert(h_log_wait(&d, "inherited 1 socket", 10000));
	ck_assert_int_eq(udp_exchange(port, "again", buf, sizeof(buf), 10000), 5);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The type of a systemd: socket is known only when it is passed: a datagram socket for
 * a model that serves none is refused then, naming the service, address and models. */
START_TEST(datagram_socket_refused_by_model)
{
	struct daemon d = {0};
	char listen_arg[64], buf[16];
	int port = h_free_port();

	if (access(SOCKET_ACTIVATE, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed\n", SOCKET_ACTIVATE);
		return;
	}
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
	const char *wrapper[] = {
	        SOCKET_ACTIVATE, "--datagram", "-l",           listen_arg, "--fdname=dg",   "-E",
	        "NOTIFY_SOCKET", "-E",         "ASAN_OPTIONS", "-E",       "UBSAN_OPTIONS", NULL};
	d.allowed_errors[0] = "is a datagram socket";
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n"
	                           "  dg: {listen: ['systemd:dg'], builtin: echo, mpm: fork}\n"),
	                 0);
	d.wrapper = wrapper;
	ck_assert_int_eq(h_spawn(&d), 0);
	/* The first datagram starts the daemon (it is never answered). */
	ck_assert(H_DEADLINE_WAIT(
	        (udp_exchange(port, "x", buf, sizeof(buf), 200), h_log_wait(&d, "datagram", 1)),
	        30000));
	ck_assert(h_log_wait(&d,
	                     "service 'dg': systemd:dg is a datagram socket, which model 'fork' "
	                     "does not serve with a handler",
	                     10000));
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 10000), -1);
	h_kill(&d);
}
END_TEST

/* A datagram socket stored under its typed name comes back from systemd after a
 * restart and is served, not bound again (the bind would fail: it is bound). */
START_TEST(fd_store_restored_datagram)
{
	struct daemon d = {0};
	char l1[64], names[96], buf[64];
	int port = h_free_port();

	if (access(SOCKET_ACTIVATE, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed\n", SOCKET_ACTIVATE);
		return;
	}
	snprintf(l1, sizeof(l1), "127.0.0.1:%d", port);
	snprintf(names, sizeof(names), "--fdname=ssd-udp%%3A127.0.0.1%%3A%d", port);
	const char *wrapper[] = {
	        SOCKET_ACTIVATE, "--datagram", "-l",           l1,   names,           "-E",
	        "NOTIFY_SOCKET", "-E",         "ASAN_OPTIONS", "-E", "UBSAN_OPTIONS", NULL};
	ck_assert_int_eq(h_prepare(&d,
	                           "services:\n  e: {listen: ['udp:127.0.0.1:%d'], builtin: echo, "
	                           "mpm: event}\n",
	                           port),
	                 0);
	d.wrapper = wrapper;
	ck_assert_int_eq(h_spawn(&d), 0);
	ssize_t n = -1;
	ck_assert(H_DEADLINE_WAIT((n = udp_exchange(port, "restored", buf, sizeof(buf), 1000)) > 0,
	                          30000));
	ck_assert_int_eq(n, 8);
	ck_assert(memcmp(buf, "restored", 8) == 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 15000), 0);
	ck_assert(h_log_wait(&d, "inherited 1 socket", 10000));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(unused_inherited_socket_closed)
{
	struct daemon d = {0};
	char listen_arg[64];
	int port = h_free_port(), other = h_free_port();

	if (access(SOCKET_ACTIVATE, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed\n", SOCKET_ACTIVATE);
		return;
	}
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
	const char *wrapper[] = {
	        SOCKET_ACTIVATE, "-l", listen_arg, "--fdname=stray", "-E", "NOTIFY_SOCKET", "-E",
	        "ASAN_OPTIONS",  NULL};
	ck_assert_int_eq(
	        h_prepare(&d, "services:\n  t: {listen: ['127.0.0.1:%d'], builtin: time}\n", other),
	        0);
	d.wrapper = wrapper;
	ck_assert_int_eq(h_spawn(&d), 0);
	int fd = -1;
	ck_assert(H_DEADLINE_WAIT((fd = h_connect("127.0.0.1", port)) >= 0, 10000));
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 15000), 0);
	ck_assert(h_log_wait(&d, "systemd:stray", 10000));
	ck_assert(h_log_wait(&d, "not used by any service", 10000));
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(missing_systemd_socket_is_an_error)
{
	struct daemon d = {0};
	ck_assert_int_eq(h_prepare(&d, "services:\n  e: {listen: ['systemd:nothere'], builtin: "
	                               "echo}\n"),
	                 0);
	ck_assert_int_eq(h_spawn(&d), 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 30000), -1);
	ck_assert(WIFEXITED(d.exit_status) && WEXITSTATUS(d.exit_status) == 1);
	ck_assert(h_log_wait(&d, "FileDescriptorName", 10000));
	h_kill(&d);
}
END_TEST

START_TEST(notify_sequence)
{
	struct daemon d = {0};
	int port = h_free_port();
	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	ck_assert_ptr_nonnull(strstr(d.notify_seen, "READY=1"));
	ck_assert_ptr_nonnull(strstr(d.notify_seen, "STATUS=1 service, 1 process"));
	h_notify_clear(&d);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert_int_eq(h_wait_notify(&d, "RELOADING=1", 5000), 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 5000), 0);
	ck_assert_ptr_nonnull(strstr(d.notify_seen, "MONOTONIC_USEC="));
	/* RELOADING comes before READY. */
	ck_assert(strstr(d.notify_seen, "RELOADING=1") < strstr(d.notify_seen, "READY=1"));
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert_int_eq(h_wait_notify(&d, "STOPPING=1", 5000), 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(watchdog_pings)
{
	struct daemon d = {0};
	int port = h_free_port();
	char wd[64];
	snprintf(wd, sizeof(wd), "WATCHDOG_USEC=%d", 200000);
	d.env[0] = wd;
	d.env[1] = NULL;
	ck_assert_int_eq(
	        h_prepare(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	d.env[0] = wd; /* h_prepare clears the record, not the configuration of the run */
	ck_assert_int_eq(h_launch(&d), 0);
	h_notify_clear(&d);
	ck_assert_int_eq(h_wait_notify(&d, "WATCHDOG=1", 5000), 0);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Sockets superserverd binds itself go to systemd's fd store, by a name that encodes the
 * address; one the configuration drops is removed from it; a stop leaves them there. */
START_TEST(fd_store_messages)
{
	struct daemon d = {0};
	char want[128];
	int port = h_free_port(), other = h_free_port();

	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                         "  t: {listen: ['127.0.0.1:%d'], builtin: time}\n",
	                         port, other),
	                 0);
	snprintf(want, sizeof(want), "FDSTORE=1\nFDNAME=ssd-127.0.0.1%%3A%d", port);
	ck_assert_int_eq(h_wait_notify(&d, want, 5000), 0);
	ck_assert_int_eq(h_wait_notify(&d, "FDSTORE=1\nFDNAME=ssd-control", 5000), 0);
	h_notify_clear(&d);
	ck_assert_int_eq(
	        h_write_config(&d, "services:\n  t: {listen: ['127.0.0.1:%d'], builtin: time}\n",
	                       other),
	        0);
	ck_assert_int_eq(h_reload(&d), 0);
	snprintf(want, sizeof(want), "FDSTOREREMOVE=1\nFDNAME=ssd-127.0.0.1%%3A%d", port);
	ck_assert_int_eq(h_wait_notify(&d, want, 5000), 0);
	h_notify_clear(&d);
	ck_assert_int_eq(h_stop(&d), 0);
	/* A stop leaves the store alone (and the messages of the stop were read). */
	ck_assert_ptr_nonnull(strstr(d.notify_seen, "STOPPING=1"));
	ck_assert_ptr_null(strstr(d.notify_seen, "FDSTOREREMOVE"));
}
END_TEST

/* What systemd gives back after a restart: the stored sockets under their names, here
 * from systemd-socket-activate. The daemon serves on the socket it is given instead of
 * binding the address (which would fail: the socket is bound), and closes and
 * removes from the store the one its configuration no longer names. */
START_TEST(fd_store_restored)
{
	struct daemon d = {0};
	char l1[64], l2[64], names[160], buf[64];
	int port = h_free_port(), gone = h_free_port();

	if (access(SOCKET_ACTIVATE, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed\n", SOCKET_ACTIVATE);
		return;
	}
	snprintf(l1, sizeof(l1), "127.0.0.1:%d", port);
	snprintf(l2, sizeof(l2), "127.0.0.1:%d", gone);
	snprintf(names, sizeof(names), "--fdname=ssd-127.0.0.1%%3A%d:ssd-127.0.0.1%%3A%d", port,
	         gone);
	const char *wrapper[] = {SOCKET_ACTIVATE,
	                         "-l",
	                         l1,
	                         "-l",
	                         l2,
	                         names,
	                         "-E",
	                         "NOTIFY_SOCKET",
	                         "-E",
	                         "ASAN_OPTIONS",
	                         "-E",
	                         "UBSAN_OPTIONS",
	                         NULL};
	ck_assert_int_eq(
	        h_prepare(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	d.wrapper = wrapper;
	ck_assert_int_eq(h_spawn(&d), 0);
	int fd = -1;
	ck_assert(H_DEADLINE_WAIT((fd = h_connect("127.0.0.1", port)) >= 0, 10000));
	ck_assert_int_eq(h_write_all(fd, "restored\n", 9), 0);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 15000), 0);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 9);
	ck_assert(memcmp(buf, "restored\n", 9) == 0);
	close(fd);
	ck_assert(h_log_wait(&d, "no longer configured: closing it", 10000));
	snprintf(buf, sizeof(buf), "FDSTOREREMOVE=1\nFDNAME=ssd-127.0.0.1%%3A%d", gone);
	ck_assert_int_eq(h_wait_notify(&d, buf, 5000), 0);
	ck_assert_int_eq(h_connect("127.0.0.1", gone), -1);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A stored unix socket comes back with the mode the configuration gives now (the
 * file was created by the previous process, with the mode of that time). */
START_TEST(fd_store_unix_mode_reapplied)
{
	struct daemon d = {0};
	char path[160], l1[180], names[400], key[200], buf[64];
	struct stat st;

	if (access(SOCKET_ACTIVATE, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed\n", SOCKET_ACTIVATE);
		return;
	}
	ck_assert_int_eq(h_prepare(&d, "services: {}\n"), 0);
	snprintf(path, sizeof(path), "%s/stored.sock", d.dir);
	snprintf(l1, sizeof(l1), "%s", path);
	/* The name the daemon gives unix:PATH: ':' is %3A, the rest of this path is plain. */
	snprintf(key, sizeof(key), "ssd-unix%%3A%s", path);
	snprintf(names, sizeof(names), "--fdname=%s", key);
	const char *wrapper[] = {
	        SOCKET_ACTIVATE, "-l", l1, names, "-E", "NOTIFY_SOCKET", "-E", "ASAN_OPTIONS", "-E",
	        "UBSAN_OPTIONS", NULL};
	ck_assert_int_eq(h_write_config(&d,
	                                "services:\n  e: {listen: [{address: 'unix:%s', mode: "
	                                "'0666'}], builtin: echo}\n",
	                                path),
	                 0);
	d.wrapper = wrapper;
	ck_assert_int_eq(h_spawn(&d), 0);
	int fd = -1;
	ck_assert(H_DEADLINE_WAIT((fd = h_connect(path, 0)) >= 0, 10000));
	ck_assert_int_eq(h_write_all(fd, "m\n", 2), 0);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 15000), 0);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 2);
	close(fd);
	ck_assert(h_log_wait(&d, "inherited 1 socket", 10000));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0666);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("systemd");
	TCase *tc = tcase_create("systemd");
	tcase_add_test(tc, socket_activation_by_name);
	tcase_add_test(tc, unused_inherited_socket_closed);
	tcase_add_test(tc, missing_systemd_socket_is_an_error);
	tcase_add_test(tc, notify_sequence);
	tcase_add_test(tc, watchdog_pings);
	tcase_add_test(tc, fd_store_messages);
	tcase_add_test(tc, fd_store_restored);
	tcase_add_test(tc, fd_store_unix_mode_reapplied);
	tcase_add_test(tc, datagram_activation_by_name);
	tcase_add_test(tc, datagram_socket_refused_by_model);
	tcase_add_test(tc, fd_store_restored_datagram);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
