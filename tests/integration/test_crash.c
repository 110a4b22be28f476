/* A handler that crashes under the models that share a process between connections
 * (threadpool, event): the service's process is replaced and new connections succeed
 * within 2 s, and another service never notices. (fork and prefork, where only the
 * crashing connection dies, are covered in test_modules.) */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *const models[] = {
        "{model: threadpool, processes: 1, threads: 4}",
        "{model: event, workers: 1}",
};

START_TEST(crash_replaced)
{
	struct daemon d = {0};
	char mod[512];
	pid_t before[8], after[8];
	int p_crash = h_free_port(), p_other = h_free_port();
	const char *dir = getenv("SS_MODULE_DIR");

	ck_assert_ptr_nonnull(dir);
	snprintf(mod, sizeof(mod), "%s/crashtest.so", dir);
	d.allowed_errors[0] = "killed by signal";
	ck_assert_int_eq(h_start(&d,
	                         "services:\n"
	                         "  crashy: {listen: ['127.0.0.1:%d'], module: '%s', mpm: %s}\n"
	                         "  other: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: %s}\n",
	                         p_crash, mod, models[_i], p_other, models[_i]),
	                 0);
	ck_assert(H_DEADLINE_WAIT(h_children(d.pid, before, 8) == 2, 5000));

	/* A connection to the other service stays open across the crash. */
	int steady = h_connect("127.0.0.1", p_other);
	ck_assert_int_ge(steady, 0);
	ck_assert(h_echoes(steady, "before\n"));

	/* The crashing service has served once: it is proven, so no throttling. */
	int c = h_connect("127.0.0.1", p_crash);
	ck_assert_int_ge(c, 0);
	ck_assert(h_echoes(c, "fine\n"));
	close(c);

	int victim = h_connect("127.0.0.1", p_crash);
	ck_assert_int_ge(victim, 0);
	ck_assert_int_eq(h_write_all(victim, "crash\n", 6), 0);
	char buf[16];
	ck_assert_int_le(h_read_all(victim, buf, sizeof(buf), 5000), 0); /* EOF or reset */
	close(victim);

	long long t0 = h_now_ms();
	bool back = H_DEADLINE_WAIT(({
		                            int fd = h_connect("127.0.0.1", p_crash);
		                            bool ok = fd >= 0 && h_echoes(fd, "again\n");
		                            if (fd >= 0)
			                            close(fd);
		                            ok;
	                            }),
	                            5000);
	ck_assert(back);
	ck_assert_msg(h_now_ms() - t0 <= 2000, "new connections took %lld ms", h_now_ms() - t0);

	/* The other service never noticed: same process, same open connection. */
	ck_assert(h_echoes(steady, "after\n"));
	close(steady);
	int n = h_children(d.pid, after, 8);
	ck_assert_int_eq(n, 2);
	bool other_same = false;
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			other_same |= before[i] == after[j];
	ck_assert(other_same);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("crash");
	tcase_add_loop_test(tc, crash_replaced, 0, (int)(sizeof(models) / sizeof(models[0])));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
