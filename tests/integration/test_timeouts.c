/* limits.idle_timeout and limits.max_duration under every model, through the real
 * daemon: a silent client and an endless chargen reader are both closed, not before
 * their time. (The event and threadpool suites test these in more detail.) */
#include <check.h>
#include <stdio.h>
#include <unistd.h>

#include "harness.h"

static const char *const models[] = {
        "{model: fork}",
        "{model: prefork, start: 2}",
        "{model: threadpool, threads: 2}",
        "{model: event}",
};

START_TEST(timeouts)
{
	struct daemon d = {0};
	static char buf[1 << 16];
	int pe = h_free_port(), pc = h_free_port();

	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n"
	                "  echo: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: %s,\n"
	                "         limits: {idle_timeout: 1s}}\n"
	                "  chargen: {listen: ['127.0.0.1:%d'], builtin: chargen, mpm: %s,\n"
	                "            limits: {max_duration: 1s}}\n",
	                pe, models[_i], pc, models[_i]),
	        0);
	long long t0 = h_now_ms();
	int silent = h_connect("127.0.0.1", pe);
	ck_assert_int_ge(silent, 0);
	ck_assert_int_eq(h_read_all(silent, buf, sizeof(buf), 10000), 0);
	long long idle = h_now_ms() - t0;
	ck_assert_msg(idle >= 900 && idle < 8000, "idle close after %lld ms", idle);
	close(silent);

	t0 = h_now_ms();
	int reader = h_connect("127.0.0.1", pc);
	ck_assert_int_ge(reader, 0);
	/* Reads everything it is sent: never idle, only the duration limit can end it. */
	for (;;) {
		ssize_t n = read(reader, buf, sizeof(buf));
		if (n <= 0)
			break;
		ck_assert_msg(h_now_ms() - t0 < 10000, "chargen still running after 10 s");
	}
	long long dur = h_now_ms() - t0;
	ck_assert_msg(dur >= 900 && dur < 8000, "max_duration close after %lld ms", dur);
	close(reader);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timeouts");
	TCase *tc = tcase_create("timeouts");
	tcase_add_loop_test(tc, timeouts, 0, (int)(sizeof(models) / sizeof(models[0])));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
