/*
 * A certificate renewed in place under a running daemon, and TLS in bulk. Under each
 * model, the server's certificate and key are replaced on disk and the daemon reloaded
 * (SIGHUP, or `superctl reload`) while a TLS connection stays open and clients connect
 * throughout: the open connection goes on echoing and ends with close_notify, new
 * connections get the new certificate (by its serial number), no client is refused, the
 * listening socket stays the same socket, and the old processes exit once their
 * connection ends. A renewal caught half done (a new key, the old certificate) fails
 * the reload and leaves the service as it was. Then 1 GiB through a TLS echo under
 * event, written and read at once, with equal SHA-256 both ways.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_tls.h"

static const char *pki; /* made in main, before Check forks the test cases */

static const char *const models[] = {"event", "fork", "threadpool", "prefork"};

/* The inode of the socket listening on 127.0.0.1:PORT (from /proc/net/tcp), 0 if none
 * does. */
static unsigned long listener_inode(int port)
{
	FILE *f = fopen("/proc/net/tcp", "re");
	char line[512];
	unsigned long inode = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned addr, lport, st;
		unsigned long ino;

		if (sscanf(line, " %*d: %x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &addr,
		           &lport, &st, &ino) == 4 &&
		    addr == 0x0100007f && (int)lport == port && st == 0x0a)
			inode = ino;
	}
	fclose(f);
	return inode;
}

/* ------------------------------------------------------------ clients meanwhile */

struct prober {
	int port;
	atomic_bool stop;
	atomic_int ok, failed;
	atomic_long last_serial;
	char first_failure[256]; /* what the first failed client saw */
};

/* New TLS connections one after another, each echoing a line: bounded in count and
 * time. */
static void *probe(void *arg)
{
	struct prober *p = arg;
	long long end = h_now_ms() + 240000;
	sigset_t all;

	/* A signal for the process (the SIGCHLD of superctl's end, say) would otherwise
	 * be delivered here, and a read on a socket with a timeout fails with EINTR even
	 * when the signal is ignored. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	for (int i = 0; i < 5000 && !atomic_load(&p->stop) && h_now_ms() < end; i++) {
		struct ht_client c;
		bool ok = ht_connect(&c, p->port, "localhost") == 0 &&
		          ht_echo_on(&c, "probe\n", 6) && ht_finish(&c);

		if (ok) {
			atomic_store(&p->last_serial, ht_peer_serial(&c));
			atomic_fetch_add(&p->ok, 1);
		} else if (atomic_fetch_add(&p->failed, 1) == 0) {
			snprintf(p->first_failure, sizeof(p->first_failure), "%s", c.why);
		}
		ht_close(&c);
	}
	return NULL;
}

static long new_connection_serial(int port)
{
	struct ht_client c;
	long serial = ht_connect(&c, port, "localhost") == 0 ? ht_peer_serial(&c) : -1;

	ht_close(&c);
	return serial;
}

static void superctl_reload(struct daemon *d)
{
	const char *sc = getenv("SUPERCTL");
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s --socket %s reload >/dev/null", sc ? sc : "superctl",
	         d->control);
	h_notify_clear(d);
	ck_assert_int_eq(system(cmd), 0);
	/* Also reads the notify messages, lest their queue fill. */
	ck_assert_int_eq(h_wait_notify(d, "READY=1", 10000), 0);
}

/* The echo built-in under MPM on a TLS listener with srv.pem and srv.key, and MORE
 * (service keys, each line ending with a newline). */
static int start_echo(struct daemon *d, const char *mpm, int port, const char *more)
{
	return h_start(d,
	               "services:\n  s:\n    mpm: %s\n"
	               "    listen: [{address: '127.0.0.1:%d', tls: {certificate: %s/srv.pem, "
	               "key: %s/srv.key}}]\n"
	               "    builtin: echo\n%s",
	               mpm, port, pki, pki, more);
}

/* ------------------------------------------------------------ tests */

START_TEST(renewed_certificate_reload)
{
	const char *model = models[_i];
	struct daemon d = {0};
	struct ht_client c;
	struct prober p = {.port = h_free_port()};
	pid_t old[64];
	int n_old;
	pthread_t t;
	char why[256];
	const long serial = 1000 + _i;

	ck_assert_int_eq(ht_pki_renew(serial), 0);
	/* A drain that outlasts the test: an old process that exits did so because its
	 * connection ended, not because the shutdown timeout killed it. */
	ck_assert_int_eq(start_echo(&d, model, p.port, "    shutdown_timeout: 600s\n"), 0);
	unsigned long inode = listener_inode(p.port);
	ck_assert_uint_ne(inode, 0);
	ck_assert_int_eq(ht_connect(&c, p.port, "localhost"), 0);
	ck_assert_int_eq(ht_peer_serial(&c), serial);
	ck_assert(ht_echo_on(&c, "before\n", 7));
	n_old = h_children(d.pid, old, 64);
	ck_assert_int_gt(n_old, 0);

	ck_assert_int_eq(pthread_create(&t, NULL, probe, &p), 0);
	ck_assert(H_DEADLINE_WAIT(atomic_load(&p.ok) >= 3, 60000));
	ck_assert_int_eq(ht_pki_renew(serial + 100), 0);
	if (_i % 2)
		superctl_reload(&d);
	else
		ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(h_log_wait(&d, "configuration changed: restarting", 10000));
	int ok_at_reload = atomic_load(&p.ok);

	/* New connections: the new certificate, while the old one still echoes. */
	ck_assert(H_DEADLINE_WAIT(new_connection_serial(p.port) == serial + 100, 60000));
	ck_assert(H_DEADLINE_WAIT(atomic_load(&p.last_serial) == serial + 100, 60000));
	ck_assert(H_DEADLINE_WAIT(atomic_load(&p.ok) >= ok_at_reload + 5, 60000));
	atomic_store(&p.stop, true);
	pthread_join(t, NULL);
	int failed = atomic_load(&p.failed);
	if (failed)
		h_dump_log(&d);
	ck_assert_msg(failed == 0, "%d clients failed, the first: %s", failed, p.first_failure);
	ck_assert_uint_eq(listener_inode(p.port), inode);

	ck_assert(ht_echo_on(&c, "after\n", 6));
	ck_assert_msg(ht_stream_echo(&c, 4u << 20, 60000, why, sizeof(why)), "%s", why);
	ck_assert_int_eq(ht_peer_serial(&c), serial);
	ck_assert(ht_finish(&c));
	ht_close(&c);
	/* Its connection ended, the old generation drains out. */
	for (int i = 0; i < n_old; i++)
		ck_assert_msg(h_wait_gone(old[i], 60000), "old process %d still there",
		              (int)old[i]);
	ck_assert_uint_eq(listener_inode(p.port), inode);
	ck_assert_int_eq(new_connection_serial(p.port), serial + 100);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A renewal caught half done (a new key beside the old certificate): the reload fails,
 * and the running service, untouched, goes on with the old pair. */
START_TEST(half_renewed_reload_keeps_running)
{
	struct daemon d = {0};
	struct ht_client c;
	int port = h_free_port();
	char cmd[512];

	ck_assert_int_eq(ht_pki_renew(3000), 0);
	ck_assert_int_eq(start_echo(&d, "event", port, ""), 0);
	pid_t pid = h_only_child(d.pid);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(ht_connect(&c, port, "localhost"), 0);
	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	         "-out srv.key.new 2>/dev/null && chmod 0644 srv.key.new && mv srv.key.new srv.key",
	         pki);
	ck_assert_int_eq(system(cmd), 0);
	d.allowed_errors[0] = "does not match the certificate";
	d.allowed_errors[1] = "reload failed";
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(h_log_wait(&d, "does not match the certificate", 10000));
	ck_assert_msg(strstr(d.notify_seen, "STATUS=reload failed"), "%s", d.notify_seen);
	ck_assert(ht_echo_on(&c, "still\n", 6));
	ck_assert(ht_finish(&c));
	ht_close(&c);
	ck_assert_int_eq(new_connection_serial(port), 3000);
	ck_assert_int_eq(h_only_child(d.pid), pid);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The words: 1 GiB through a TLS echo, with equal SHA-256. */
START_TEST(one_gib_echo)
{
	struct daemon d = {0};
	struct ht_client c;
	int port = h_free_port();
	char why[256];
	long long t0;

	ck_assert_int_eq(ht_pki_renew(4000), 0);
	ck_assert_int_eq(start_echo(&d, "{model: event, workers: 1}", port, ""), 0);
	ck_assert_int_eq(ht_connect(&c, port, "localhost"), 0);
	t0 = h_now_ms();
	ck_assert_msg(ht_stream_echo(&c, 1ull << 30, 120000, why, sizeof(why)), "%s", why);
	/* For the report, not a judgement. */
	fprintf(stderr, "1 GiB through the TLS echo in %lld ms\n", h_now_ms() - t0);
	ck_assert(ht_finish(&c));
	ht_close(&c);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls_reload");
	TCase *tc = tcase_create("tls_reload");

	/* A client the server closes on must not die writing to it. */
	signal(SIGPIPE, SIG_IGN);
	ht_pki_make();
	pki = ht_pki();
	tcase_add_loop_test(tc, renewed_certificate_reload, 0, 4);
	tcase_add_test(tc, half_renewed_reload_keeps_running);
	tcase_add_test(tc, one_gib_echo);
	suite_add_tcase(s, tc);
	return ht_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
