/*
 * TLS termination through the real daemon under the event and threadpool models, before
 * and around the handshake: admission judged first (a denied client told so in
 * plaintext, without a handshake), a PROXY header read before the handshake and the
 * client it names judged, a client that stalls mid-handshake timed out and holding no
 * thread, a plaintext client on a TLS port refused and counted. What goes through a
 * completed handshake is test_tls.c's. The certificates are made at test time
 * (harness_tls.h).
 */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"
#include "harness_tls.h"

static struct daemon d;
/* Echo under event and threadpool (the plaintext client); the stall services
 * (handshake_timeout 1s; tphold 60s, one thread); admission with banner_fail, without
 * and behind a PROXY header. */
static int p_ev, p_tp, p_evstall, p_tpstall, p_tphold, p_evdeny, p_tpdeny, p_evpx, p_tppx;

static void start(void)
{
	char tls[512];
	const char *pki = ht_pki();

	p_ev = h_free_port();
	p_tp = h_free_port();
	p_evstall = h_free_port();
	p_tpstall = h_free_port();
	p_tphold = h_free_port();
	p_evdeny = h_free_port();
	p_tpdeny = h_free_port();
	p_evpx = h_free_port();
	p_tppx = h_free_port();
	ht_tls_map(tls, sizeof(tls));
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n"
	                "  ev: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "mpm: {model: event, workers: 1}}\n"
	                "  tp: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "mpm: {model: threadpool, processes: 1, threads: 2}}\n"
	                "  evstall: {listen: [{address: '127.0.0.1:%d', tls: {%s, "
	                "handshake_timeout: 1s}}], builtin: echo, mpm: {model: event, workers: "
	                "1}}\n"
	                "  tpstall: {listen: [{address: '127.0.0.1:%d', tls: {%s, "
	                "handshake_timeout: 1s}}], builtin: echo, mpm: {model: threadpool, "
	                "processes: 1, threads: 1}}\n"
	                "  tphold: {listen: [{address: '127.0.0.1:%d', tls: {%s, "
	                "handshake_timeout: 60s}}], builtin: echo, mpm: {model: threadpool, "
	                "processes: 1, threads: 1, queue: 0}}\n"
	                "  evdeny: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "banner_fail: %s/refused, access: {deny: [127.0.0.0/8]}, mpm: {model: "
	                "event}}\n"
	                "  tpdeny: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "banner_fail: %s/refused, access: {deny: [127.0.0.0/8]}, mpm: {model: "
	                "threadpool}}\n"
	                "  evpx: {listen: [{address: '127.0.0.1:%d', tls: {%s}, proxy_protocol: "
	                "true, "
	                "trusted_proxies: [127.0.0.0/8]}], builtin: echo, banner_fail: %s/refused, "
	                "access: {deny: [192.0.2.0/24]}, mpm: {model: event}}\n"
	                "  tppx: {listen: [{address: '127.0.0.1:%d', tls: {%s}, proxy_protocol: "
	                "true, "
	                "trusted_proxies: [127.0.0.0/8]}], builtin: echo, banner_fail: %s/refused, "
	                "access: {deny: [192.0.2.0/24]}, mpm: {model: threadpool}}\n",
	                p_ev, tls, p_tp, tls, p_evstall, tls, p_tpstall, tls, p_tphold, tls,
	                p_evdeny, tls, pki, p_tpdeny, tls, pki, p_evpx, tls, pki, p_tppx, tls, pki),
	        0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

/* A client that sends BEFORE (NULL: nothing) is told "refused" (banner_fail) and closed,
 * without a handshake. */
static void told_refused(int port, const char *before)
{
	char buf[64];
	int fd = h_connect("127.0.0.1", port);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	if (before)
		ck_assert_int_eq(h_write_all(fd, before, strlen(before)), 0);
	n = h_read_all(fd, buf, sizeof(buf) - 1, 30000);
	ck_assert_int_eq(n, 9);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "refused\r\n");
	close(fd);
}

/* Admission comes before the handshake: a denied client, which sends nothing, is told so
 * at once (in plaintext) rather than waited for. */
START_TEST(refused_before_handshake)
{
	int ports[] = {p_evdeny, p_tpdeny};

	for (int i = 0; i < 2; i++)
		told_refused(ports[i], NULL);
}
END_TEST

/* A PROXY header comes first, then admission for the client it names, then the handshake. */
START_TEST(proxy_header_then_handshake)
{
	static const char msg[] = "behind a proxy\r\n";
	static const char denied[] = "PROXY TCP4 192.0.2.9 127.0.0.1 4000 443\r\n";
	int ports[] = {p_evpx, p_tppx};

	for (int i = 0; i < 2; i++) {
		char back[sizeof(msg)] = "";
		unsigned char md[32];
		struct ht_client t;
		bool clean;

		ck_assert(ht_open_after(&t, ports[i],
		                        "PROXY TCP4 198.51.100.7 127.0.0.1 4000 443\r\n",
		                        "localhost", NULL));
		ck_assert_uint_eq(ht_exchange(&t, msg, sizeof(msg), back, sizeof(back), md, &clean),
		                  sizeof(msg));
		ck_assert_mem_eq(back, msg, sizeof(msg));
		ht_close(&t);
		/* The client it names is denied: told so before any handshake. */
		told_refused(ports[i], denied);
	}
}
END_TEST

/* Connects and sends the start of a TLS record, then nothing. */
static int stall(int port)
{
	static const char part[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
	int fd = h_connect("127.0.0.1", port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, part, sizeof(part)), 0);
	return fd;
}

/* The server closed FD without a byte: EOF or a reset, seen before the deadline. */
static bool closed_silently(int fd, int timeout_ms)
{
	char buf[64];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* handshake_timeout: 1s closes a stalled handshake, under both models. */
START_TEST(stalled_handshake_times_out)
{
	int ports[] = {p_evstall, p_tpstall};

	for (int i = 0; i < 2; i++) {
		int fd = stall(ports[i]);
		ck_assert_msg(closed_silently(fd, 30000), "port %d", ports[i]);
		close(fd);
		ck_assert(ht_echoes(ports[i], "localhost", NULL));
	}
}
END_TEST

/* One thread, no queue, and stalled handshakes that could last a minute: clients are
 * served while they wait, so none holds the thread. */
START_TEST(stalled_handshake_holds_no_thread)
{
	int fds[4];

	for (int i = 0; i < 4; i++)
		fds[i] = stall(p_tphold);
	for (int i = 0; i < 3; i++)
		ck_assert(ht_echoes(p_tphold, "localhost", NULL));
	for (int i = 0; i < 4; i++) {
		ck_assert(!closed_silently(fds[i], 0)); /* still in their handshake */
		close(fds[i]);
	}
}
END_TEST

/* A plaintext client on a TLS port is closed without an answer, and counted as not-tls;
 * TLS clients go on, and their handshakes are counted. */
START_TEST(plaintext_refused)
{
	int ports[] = {p_ev, p_tp};
	const char *names[] = {"ev", "tp"};

	for (int i = 0; i < 2; i++) {
		int fd = h_connect("127.0.0.1", ports[i]);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(h_write_all(fd, "hello\r\n", 7), 0);
		ck_assert_msg(closed_silently(fd, 30000), "port %d", ports[i]);
		close(fd);
		ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, names[i], "not-tls") == 1, 30000));
		ck_assert(ht_echoes(ports[i], "localhost", NULL));
		ck_assert(H_DEADLINE_WAIT(ht_tls_count(&d, names[i], NULL) == 1, 30000));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls admission (daemon)");
	TCase *tc = tcase_create("tls_admission");

	ht_pki_make();
	ht_pki_file("refused", "refused\r\n");
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(tc, refused_before_handshake);
	tcase_add_test(tc, proxy_header_then_handshake);
	tcase_add_test(tc, stalled_handshake_times_out);
	tcase_add_test(tc, stalled_handshake_holds_no_thread);
	tcase_add_test(tc, plaintext_refused);
	suite_add_tcase(s, tc);

	return ht_run_suite(s) ? 1 : 0;
}
