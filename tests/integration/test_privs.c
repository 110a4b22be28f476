/* Privilege drop, seen from inside an exec'd program's /proc/self/status. Needs root
 * (skipped with a message otherwise): services run as the daemon's user then. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "SKIP: privilege tests need root (running as uid %d)\n", (int)geteuid());
	return false;
}

static void field(const char *status, const char *name, char *out, size_t len)
{
	char key[32];
	snprintf(key, sizeof(key), "\n%s:", name);
	const char *p = strstr(status, key);
	ck_assert_msg(p != NULL, "no %s in status", name);
	p += strlen(key);
	p += strspn(p, " \t");
	snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
}

static void status_of(const char *service_yaml, char *buf, size_t len)
{
	struct daemon d = {0};
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/cat, /proc/self/status]\n%s",
	                         port, service_yaml),
	                 0);
	buf[0] = '\n';
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf + 1, len - 2, 5000);
	ck_assert_int_gt(n, 0);
	buf[n + 1] = '\0';
	ck_assert_int_eq(h_stop(&d), 0);
}

START_TEST(nobody_without_capabilities)
{
	char st[8192], v[128];
	if (!need_root())
		return;
	status_of("    user: nobody\n", st, sizeof(st));
	field(st, "Uid", v, sizeof(v));
	ck_assert_str_eq(v, "65534\t65534\t65534\t65534");
	field(st, "Gid", v, sizeof(v));
	ck_assert_str_eq(v, "65534\t65534\t65534\t65534");
	field(st, "Groups", v, sizeof(v));
	ck_assert_str_eq(v, "");
	field(st, "CapEff", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000000");
	field(st, "CapPrm", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000000");
	field(st, "CapBnd", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000000");
	field(st, "NoNewPrivs", v, sizeof(v));
	ck_assert_str_eq(v, "1");
}
END_TEST

START_TEST(keeps_exactly_net_bind_service)
{
	char st[8192], v[128];
	if (!need_root())
		return;
	status_of("    user: nobody\n    capabilities: [CAP_NET_BIND_SERVICE]\n", st, sizeof(st));
	field(st, "Uid", v, sizeof(v));
	ck_assert_str_eq(v, "65534\t65534\t65534\t65534");
	field(st, "CapEff", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000400");
	field(st, "CapPrm", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000400");
	field(st, "CapAmb", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000400");
	field(st, "CapBnd", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000400");
	field(st, "NoNewPrivs", v, sizeof(v));
	ck_assert_str_eq(v, "1");
}
END_TEST

START_TEST(defaults_user_applies)
{
	char st[8192], v[128];
	if (!need_root())
		return;
	struct daemon d = {0};
	int port = h_free_port();
	ck_assert_int_eq(h_start(&d,
	                         "defaults: {user: nobody, groups: [nogroup]}\nservices:\n"
	                         "  s:\n    listen: ['127.0.0.1:%d']\n"
	                         "    exec: [/bin/cat, /proc/self/status]\n",
	                         port),
	                 0);
	st[0] = '\n';
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, st + 1, sizeof(st) - 2, 5000);
	ck_assert_int_gt(n, 0);
	st[n + 1] = '\0';
	field(st, "Uid", v, sizeof(v));
	ck_assert_str_eq(v, "65534\t65534\t65534\t65534");
	field(st, "Groups", v, sizeof(v));
	ck_assert_str_eq(v, "65534 ");
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(root_without_user_is_refused)
{
	if (!need_root())
		return;
	struct daemon d = {0};
	ck_assert_int_eq(h_prepare(&d, "defaults: {shutdown_timeout: 1s}\nservices:\n  s: {listen: "
	                               "['127.0.0.1:9'], builtin: echo}\n"),
	                 0);
	ck_assert_int_eq(h_spawn(&d), 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 30000), -1);
	ck_assert(h_log_wait(&d, "would run as root", 10000));
	h_kill(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("privileges");
	TCase *tc = tcase_create("privileges");
	tcase_add_test(tc, nobody_without_capabilities);
	tcase_add_test(tc, keeps_exactly_net_bind_service);
	tcase_add_test(tc, defaults_user_applies);
	tcase_add_test(tc, root_without_user_is_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
