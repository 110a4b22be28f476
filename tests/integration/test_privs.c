/* Privilege drop, seen from inside an exec'd program's /proc/self/status, and the
 * capability checks at load (a daemon started with a reduced bounding set, as under the
 * shipped unit). Needs root (skipped with a message otherwise): services run as the
 * daemon's user then. */
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
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, buf + 1, len - 2, 20000);
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
	ssize_t n = h_exchange("127.0.0.1", port, NULL, false, st + 1, sizeof(st) - 2, 20000);
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

/* What `setpriv --bounding-set -net_admin superserverd ...` does: a daemon without
 * CAP_NET_ADMIN anywhere, as under a unit's CapabilityBoundingSet=. */
static const char *const no_net_admin[] = {"/usr/bin/setpriv", "--bounding-set", "-net_admin",
                                           NULL};

static bool have_setpriv(void)
{
	if (access(no_net_admin[0], X_OK) == 0)
		return true;
	fprintf(stderr, "SKIP: %s (util-linux) is missing\n", no_net_admin[0]);
	return false;
}

/* Line 6 column 19: the list, after the `defaults:` line h_prepare puts first. */
#define CAP_YAML                                                                                   \
	"services:\n  s:\n    listen: ['127.0.0.1:%d']\n    builtin: echo\n"                       \
	"    capabilities: [%s]\n"
#define NOT_HELD                                                                                   \
	"superserverd.yaml:6:19: service 's': capability CAP_NET_ADMIN is not in superserverd's "  \
	"capability bounding set"

START_TEST(capability_not_held_refused_at_start)
{
	if (!need_root() || !have_setpriv())
		return;
	struct daemon d = {0};
	d.wrapper = no_net_admin;
	ck_assert_int_eq(h_prepare(&d, CAP_YAML, h_free_port(), "CAP_NET_ADMIN"), 0);
	ck_assert_int_eq(h_spawn(&d), 0);
	ck_assert_int_eq(h_wait_notify(&d, "READY=1", 5000), -1);
	ck_assert(h_log_wait(&d, NOT_HELD, 30000));
	ck_assert(h_log_wait(&d, "CapabilityBoundingSet=", 10000));
	h_kill(&d);
}
END_TEST

START_TEST(capability_not_held_refused_on_reload)
{
	if (!need_root() || !have_setpriv())
		return;
	struct daemon d = {0};
	int port = h_free_port();
	d.wrapper = no_net_admin;
	d.allowed_errors[0] = "capability CAP_NET_ADMIN";
	d.allowed_errors[1] = "reload failed";
	ck_assert_int_eq(h_start(&d, CAP_YAML, port, "CAP_NET_BIND_SERVICE"), 0);
	ck_assert_int_eq(h_write_config(&d, CAP_YAML, port, "CAP_NET_ADMIN"), 0);
	ck_assert_int_eq(h_reload(&d), 0);
	ck_assert(h_log_wait(&d, NOT_HELD, 30000));
	ck_assert(h_log_wait(&d, "keeping the running configuration", 30000));
	/* The old configuration serves on. */
	int fd = h_connect("127.0.0.1", port);
	ck_assert(h_echoes(fd, "still here\n"));
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* `superserverd --check-config` with WRAP (NULL: none) in front; its stderr into out. */
static int check_config(const struct daemon *d, const char *wrap, char *out, size_t len)
{
	char cmd[1024], path[160];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/check.err", d->dir);
	snprintf(cmd, sizeof(cmd), "%s '%s' --check-config -c '%s' >/dev/null 2>'%s'",
	         wrap ? wrap : "", h_binary(), d->config, path);
	int st = system(cmd);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(check_config_judges_its_own_capabilities)
{
	if (!need_root() || !have_setpriv())
		return;
	struct daemon d = {0};
	char err[2048];
	ck_assert_int_eq(h_prepare(&d, CAP_YAML, h_free_port(), "CAP_NET_ADMIN"), 0);
	ck_assert_int_eq(check_config(&d, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(
	        check_config(&d, "/usr/bin/setpriv --bounding-set -net_admin", err, sizeof(err)),
	        1);
	ck_assert_msg(strstr(err, NOT_HELD), "%s", err);
	h_kill(&d);
}
END_TEST

/* What an xinetd migrant writes for sshd: root, and no capabilities. */
START_TEST(root_program_without_capabilities_warns)
{
	if (!need_root())
		return;
	struct daemon d = {0};
	char err[2048];
#define ROOT_YAML                                                                                  \
	"services:\n  sshd:\n    listen: ['127.0.0.1:%d']\n    exec: [/bin/cat]\n    user: "       \
	"root\n%s"
	ck_assert_int_eq(h_prepare(&d, ROOT_YAML, h_free_port(), ""), 0);
	ck_assert_int_eq(check_config(&d, NULL, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "superserverd.yaml:6:11: warning: service 'sshd' runs its "
	                          "program as root with no capabilities"),
	              "%s", err);
	/* Said explicitly: no warning. */
	ck_assert_int_eq(h_write_config(&d, ROOT_YAML, h_free_port(), "    capabilities: []\n"), 0);
	ck_assert_int_eq(check_config(&d, NULL, err, sizeof(err)), 0);
	ck_assert_msg(!strstr(err, "warning"), "%s", err);
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
	tcase_add_test(tc, capability_not_held_refused_at_start);
	tcase_add_test(tc, capability_not_held_refused_on_reload);
	tcase_add_test(tc, check_config_judges_its_own_capabilities);
	tcase_add_test(tc, root_program_without_capabilities_warns);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
