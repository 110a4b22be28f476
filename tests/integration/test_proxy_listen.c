/* PROXY protocol listeners through the real daemon (prefork, the model that reads the
 * header in this version): the real client named by a trusted proxy's header drives
 * the access list; untrusted peers, garbage and silence are refused; the application
 * bytes after the header reach the handler intact; models that do not read the header
 * refuse the configuration. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static int port_ok, port_untrusted;
static struct daemon d;

static void start(void)
{
	port_ok = h_free_port();
	port_untrusted = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  e:\n"
	                         "    listen:\n"
	                         "      - {address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                         "         trusted_proxies: [127.0.0.0/8], proxy_timeout: 300ms}\n"
	                         "    builtin: echo\n"
	                         "    mpm: {model: prefork, start: 2}\n"
	                         "    access: {deny: [192.0.2.0/24]}\n"
	                         "  u:\n"
	                         "    listen:\n"
	                         "      - {address: '127.0.0.1:%d', proxy_protocol: true,\n"
	                         "         trusted_proxies: [10.0.0.0/8]}\n"
	                         "    builtin: echo\n"
	                         "    mpm: {model: prefork, start: 1}\n",
	                         port_ok, port_untrusted),
	                 0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

static ssize_t via_proxy(int port, const void *hdr, size_t hlen, const char *data, char *buf,
                         size_t cap)
{
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	if (hlen)
		h_write_all(fd, hdr, hlen);
	if (data)
		h_write_all(fd, data, strlen(data));
	shutdown(fd, SHUT_WR);
	ssize_t n = h_read_all(fd, buf, cap, 5000);
	close(fd);
	return n;
}

START_TEST(v1_real_client_allowed)
{
	char buf[64];
	const char *h = "PROXY TCP4 198.51.100.7 127.0.0.1 40000 7000\r\n";
	ck_assert_int_eq(via_proxy(port_ok, h, strlen(h), "after the header", buf, sizeof(buf)),
	                 16);
	ck_assert(memcmp(buf, "after the header", 16) == 0);
}
END_TEST

START_TEST(v1_real_client_denied)
{
	char buf[64];
	/* The TCP peer is 127.0.0.1 (not denied); the client the header names is. */
	const char *h = "PROXY TCP4 192.0.2.7 127.0.0.1 40000 7000\r\n";
	ck_assert_int_eq(via_proxy(port_ok, h, strlen(h), "x", buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(v2_header)
{
	static const unsigned char h[] = {
	        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11,
	        0x00, 0x0C, 198,  51,   100,  9,    127,  0,    0,    1,    0x9c, 0x40, 0x1b, 0x58};
	char buf[64];
	ck_assert_int_eq(via_proxy(port_ok, h, sizeof(h), "v2!", buf, sizeof(buf)), 3);
	ck_assert(memcmp(buf, "v2!", 3) == 0);
}
END_TEST

START_TEST(refused_forms)
{
	char buf[64];
	const char *h = "PROXY TCP4 198.51.100.7 127.0.0.1 40000 7000\r\n";
	/* Not a trusted proxy. */
	ck_assert_int_eq(via_proxy(port_untrusted, h, strlen(h), "x", buf, sizeof(buf)), 0);
	/* Garbage, a truncated header, and silence past proxy_timeout. */
	ck_assert_int_eq(via_proxy(port_ok, "GET / HTTP/1.0\r\n", 16, NULL, buf, sizeof(buf)), 0);
	ck_assert_int_eq(via_proxy(port_ok, "PROXY TCP4 1.2", 14, NULL, buf, sizeof(buf)), 0);
	int fd = h_connect("127.0.0.1", port_ok);
	long long t0 = h_now_ms();
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 0);
	ck_assert_int_ge(h_now_ms() - t0, 250);
	close(fd);
	/* Still serving properly after all that. */
	ck_assert_int_eq(via_proxy(port_ok, h, strlen(h), "ok", buf, sizeof(buf)), 2);
}
END_TEST

START_TEST(models_without_it_refuse)
{
	struct daemon x = {0};
	int port = h_free_port();
	ck_assert_int_eq(h_prepare(&x,
	                           "services:\n  e:\n    listen:\n      - {address: "
	                           "'127.0.0.1:%d', proxy_protocol: true, trusted_proxies: "
	                           "[127.0.0.0/8]}\n    builtin: echo\n    mpm: event\n",
	                           port),
	                 0);
	ck_assert_int_eq(h_spawn(&x), 0);
	ck_assert_int_eq(h_wait_notify(&x, "READY=1", 3000), -1);
	ck_assert(h_log_wait(
	        &x, "proxy_protocol is served by these models in this version: prefork", 1000));
	h_kill(&x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("PROXY protocol listeners");
	TCase *tc = tcase_create("proxy");
	tcase_add_checked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, v1_real_client_allowed);
	tcase_add_test(tc, v1_real_client_denied);
	tcase_add_test(tc, v2_header);
	tcase_add_test(tc, refused_forms);
	suite_add_tcase(s, tc);
	TCase *tc2 = tcase_create("refusal");
	tcase_set_timeout(tc2, 60);
	tcase_add_test(tc2, models_without_it_refuse);
	suite_add_tcase(s, tc2);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
