/* The privilege drop names what it cannot do: a capability the process does not hold
 * is found before anything changes, and named the way the configuration names it. */
#include <check.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "superserverd/privs.h"

START_TEST(names)
{
	char buf[64];

	privs_cap_name(CAP_NET_BIND_SERVICE, buf, sizeof(buf));
	ck_assert_str_eq(buf, "CAP_NET_BIND_SERVICE");
	privs_cap_name(CAP_SYS_ADMIN, buf, 8);
	ck_assert_str_eq(buf, "CAP_SYS");
	privs_cap_name(63, buf, sizeof(buf));
	ck_assert_str_eq(buf, "capability 63");
	ck_assert_str_eq(privs_cap_missing(63, false), "not known to the running kernel");
}
END_TEST

/* In a child that gave CAP_NET_ADMIN up: what a daemon under a unit's
 * CapabilityBoundingSet= without it does when a service asks for it anyway. */
START_TEST(missing_capability_is_named)
{
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root\n");
		return;
	}
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct service_conf sc = {.name = (char *)"s",
		                          .uid = 65534,
		                          .gid = 65534,
		                          .capabilities = 1ULL << CAP_NET_ADMIN};
		int cap = -2;
		if (prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) < 0)
			_exit(10);
		if (strcmp(privs_cap_missing(CAP_NET_ADMIN, true) ?: "",
		           "not in superserverd's capability bounding set") != 0)
			_exit(11);
		if (privs_cap_missing(CAP_NET_BIND_SERVICE, true) != NULL)
			_exit(12);
		if (privs_drop(&sc, &cap) != PRIVS_CAPS)
			_exit(13);
		if (cap != CAP_NET_ADMIN)
			_exit(14);
		/* Nothing was changed before the refusal. */
		_exit(getuid() == 0 ? 0 : 15);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exit %d", WEXITSTATUS(st));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("privs");
	TCase *tc = tcase_create("privs");
	tcase_add_test(tc, names);
	tcase_add_test(tc, missing_capability_is_named);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
