/* limits.idle_timeout and limits.max_duration under every model, through the real
 * daemon: a silent client and an endless chargen reader are both closed, not before
 * their time. (The event and threadpool suites test these in more detail.) */
#include <check.h>
#include <stdio.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

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

static long long stats_idle_usec(struct daemon *d, const char *name)
{
	json_t *reply = hc_call(d, "stats", name);
	json_t *lim = json_object_get(hc_service(reply, name), "limits");
	long long v = lim ? hc_int(lim, "idle_timeout_usec") : -1;
	json_decref(reply);
	return v;
}

/* The default idle_timeout is in force and shown for handlers, not for programs, and
 * 0 turns it off, in a service over its defaults' value too. */
START_TEST(default_idle_timeout)
{
	struct daemon d = {0};
	char c;
	int pdef = h_free_port(), poff = h_free_port(), pprog = h_free_port(), pinh = h_free_port();

	ck_assert_int_eq(
	        h_start(&d,
	                "defaults: {user: nobody, limits: {idle_timeout: 1s}}\n"
	                "services:\n"
	                "  inherits: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: prefork}\n"
	                "  off: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: prefork,\n"
	                "        limits: {idle_timeout: 0}}\n"
	                "  prog: {listen: ['127.0.0.1:%d'], exec: [/bin/cat]}\n",
	                pinh, poff, pprog),
	        0);
	ck_assert_int_eq(stats_idle_usec(&d, "inherits"), 1000000);
	ck_assert_int_eq(stats_idle_usec(&d, "off"), 0);
	/* Silent for three times the defaults' value: the service's 0 keeps it open. */
	int quiet = h_connect("127.0.0.1", poff), gone = h_connect("127.0.0.1", pinh);
	ck_assert_int_ge(quiet, 0);
	ck_assert_int_ge(gone, 0);
	ck_assert_int_eq(h_read_all(gone, &c, 1, 10000), 0); /* closed by the 1 s default */
	ck_assert_int_ne(h_read_n(quiet, &c, 1, 3000), 0);   /* nothing, not closed... */
	ck_assert(h_echoes(quiet, "still here"));            /* ...and still served */
	close(quiet);
	close(gone);
	ck_assert_int_eq(h_stop(&d), 0);

	struct daemon d2 = {0};
	int pgen = h_free_port(), pgen5 = h_free_port();
	ck_assert_int_eq(h_start(&d2,
	                         "services:\n"
	                         "  plain: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                         "  prog: {listen: ['127.0.0.1:%d'], exec: [/bin/cat]}\n"
	                         "  gen: {listen: ['127.0.0.1:%d'], builtin: chargen}\n"
	                         "  gen5: {listen: ['127.0.0.1:%d'], builtin: chargen,\n"
	                         "         limits: {idle_timeout: 5s}}\n",
	                         pdef, pprog, pgen, pgen5),
	                 0);
	ck_assert_int_eq(stats_idle_usec(&d2, "plain"), 60000000);
	ck_assert_int_eq(stats_idle_usec(&d2, "prog"), 0);
	/* chargen's clients only read: no default, but a value written down holds. */
	ck_assert_int_eq(stats_idle_usec(&d2, "gen"), 0);
	ck_assert_int_eq(stats_idle_usec(&d2, "gen5"), 5000000);
	ck_assert_int_eq(h_stop(&d2), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timeouts");
	TCase *tc = tcase_create("timeouts");
	tcase_add_loop_test(tc, timeouts, 0, (int)(sizeof(models) / sizeof(models[0])));
	tcase_add_test(tc, default_idle_timeout);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
