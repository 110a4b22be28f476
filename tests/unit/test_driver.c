/* The blocking connection driver: every way a connection ends, each with exactly one close. */
#include <check.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/driver.h"
#include "tests/unit/conn_harness.h"

/* Callbacks run on the driver thread; the test reads these after joining it. */
static struct {
	int opens, datas, writables, closes;
	int writes_after_close;
	size_t max_pending_at_writable;
	size_t max_pending;
	size_t produced;
	size_t writable_total; /* bytes the greedy handler stops after */
} st;

static void note_pending(struct ss_conn *c)
{
	if (ss_conn_pending(c) > st.max_pending)
		st.max_pending = ss_conn_pending(c);
}

static void h_close(struct ss_conn *c)
{
	st.closes++;
	if (ss_conn_write(c, "x", 1) != -EPIPE)
		st.writes_after_close++;
}

static int h_count_data(struct ss_conn *c, const void *buf, size_t len)
{
	st.datas++;
	return 0;
}

static int h_echo_data(struct ss_conn *c, const void *buf, size_t len)
{
	st.datas++;
	int r = ss_conn_write(c, buf, len);
	note_pending(c);
	return r;
}

/* Ends from its own open callback after a greeting. */
static int h_bye_open(struct ss_conn *c)
{
	st.opens++;
	ck_assert_int_eq(ss_conn_write(c, "bye\r\n", 5), 0);
	ss_conn_end(c);
	ck_assert_int_eq(ss_conn_write(c, "late", 4), -EPIPE);
	return 0;
}

static const struct ss_handler h_end_open = {
        SS_HANDLER_HEADER("end-open"),
        .open = h_bye_open,
        .data = h_count_data,
        .close = h_close,
};

static int h_ok_data(struct ss_conn *c, const void *buf, size_t len)
{
	st.datas++;
	ss_conn_end(c);
	/* Written after end: refused; what was queued before still goes out. */
	return ss_conn_write(c, "no", 2) == -EPIPE ? 0 : -1;
}

static int h_ok_open(struct ss_conn *c)
{
	st.opens++;
	return ss_conn_write(c, "ok\n", 3);
}

static const struct ss_handler h_end_data = {
        SS_HANDLER_HEADER("end-data"),
        .open = h_ok_open,
        .data = h_ok_data,
        .close = h_close,
};

static int h_fail_data_cb(struct ss_conn *c, const void *buf, size_t len)
{
	st.datas++;
	ck_assert_int_eq(ss_conn_write(c, "unsent", 6), 0);
	return -1;
}

static const struct ss_handler h_fail_data = {
        SS_HANDLER_HEADER("fail-data"),
        .data = h_fail_data_cb,
        .close = h_close,
};

static int h_fail_open_cb(struct ss_conn *c)
{
	st.opens++;
	ck_assert_int_eq(ss_conn_write(c, "unsent", 6), 0);
	return -EINVAL;
}

static const struct ss_handler h_fail_open = {
        SS_HANDLER_HEADER("fail-open"),
        .open = h_fail_open_cb,
        .data = h_count_data,
        .close = h_close,
};

static const struct ss_handler h_silent = {
        SS_HANDLER_HEADER("silent"),
        .data = h_count_data,
        .close = h_close,
};

static int h_hi_open(struct ss_conn *c)
{
	st.opens++;
	return ss_conn_write(c, "hi", 2);
}

static const struct ss_handler h_echo = {
        SS_HANDLER_HEADER("test-echo"),
        .open = h_hi_open,
        .data = h_echo_data,
        .close = h_close,
};

static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)(i % 251);
}

#define BIG (1024 * 1024)

static int h_big_open(struct ss_conn *c)
{
	static unsigned char buf[BIG];

	st.opens++;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern_byte(i);
	return ss_conn_write(c, buf, sizeof(buf));
}

static const struct ss_handler h_big = {
        SS_HANDLER_HEADER("big"),
        .open = h_big_open,
        .data = h_count_data,
        .close = h_close,
};

/* Writes 8 KiB per writable call whatever is pending: only the driver keeps it bounded. */
static int h_greedy_writable(struct ss_conn *c)
{
	unsigned char buf[8192];

	st.writables++;
	if (ss_conn_pending(c) > st.max_pending_at_writable)
		st.max_pending_at_writable = ss_conn_pending(c);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern_byte(st.produced + i);
	int r = ss_conn_write(c, buf, sizeof(buf));
	if (r < 0)
		return r;
	st.produced += sizeof(buf);
	note_pending(c);
	if (st.produced >= st.writable_total)
		ss_conn_end(c);
	return 0;
}

static int h_want_open(struct ss_conn *c)
{
	st.opens++;
	ss_conn_want_writable(c, 1);
	return 0;
}

static const struct ss_handler h_greedy = {
        SS_HANDLER_HEADER("greedy"),
        .open = h_want_open,
        .writable = h_greedy_writable,
        .close = h_close,
};

/* Asks for writable and never writes: must not make the driver spin. */
static int h_lazy_writable(struct ss_conn *c)
{
	st.writables++;
	return 0;
}

static const struct ss_handler h_lazy = {
        SS_HANDLER_HEADER("lazy"),
        .open = h_want_open,
        .writable = h_lazy_writable,
        .close = h_close,
};

static void setup(void)
{
	memset(&st, 0, sizeof(st));
}

static void assert_closed_once(void)
{
	ck_assert_int_eq(st.closes, 1);
	ck_assert_int_eq(st.writes_after_close, 0);
}

START_TEST(ends_from_open)
{
	struct drv_run r = {0};
	char buf[64];

	drv_start(&r, &h_end_open, NULL);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 5);
	ck_assert(memcmp(buf, "bye\r\n", 5) == 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_int_eq(st.opens, 1);
	ck_assert_int_eq(st.datas, 0);
	assert_closed_once();
	ck_assert_uint_eq(r.c.bytes_out, 5);
}
END_TEST

START_TEST(ends_from_data)
{
	struct drv_run r = {0};
	char buf[64];

	drv_start(&r, &h_end_data, NULL);
	client_read_exact(r.client, buf, 3, TEST_WAIT_MS);
	client_send_all(r.client, "a", 1);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_int_eq(st.datas, 1);
	ck_assert_uint_eq(r.c.bytes_in, 1);
	assert_closed_once();
}
END_TEST

START_TEST(data_error_closes_without_flush)
{
	struct drv_run r = {0};
	char buf[64];

	drv_start(&r, &h_fail_data, NULL);
	client_send_all(r.client, "x", 1);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_HANDLER_ERROR);
	ck_assert_int_eq(st.datas, 1);
	ck_assert(r.c.failed);
	assert_closed_once();
}
END_TEST

START_TEST(open_error_closes_without_flush)
{
	struct drv_run r = {0};
	char buf[64];

	drv_start(&r, &h_fail_open, NULL);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_HANDLER_ERROR);
	ck_assert_int_eq(st.opens, 1);
	ck_assert_int_eq(st.datas, 0);
	assert_closed_once();
}
END_TEST

START_TEST(idle_timeout)
{
	struct drv_run r = {.lim = {.idle_timeout_usec = 100000}};
	uint64_t t0 = test_now_ms();
	char buf[8];

	drv_start(&r, &h_silent, NULL);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	uint64_t elapsed = test_now_ms() - t0;
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_IDLE_TIMEOUT);
	ck_assert_uint_ge(elapsed, 100);
	/* "Soon", not "exactly": 50 times the timeout tells a timer that works from one
	 * that does not, on a machine busy with other work. */
	ck_assert_uint_lt(elapsed, 5000);
	assert_closed_once();
}
END_TEST

/* Bytes from the peer restart the idle clock: a byte every eighth of the idle timeout
 * (a pause stretched eight times by a loaded machine still keeps the connection), for
 * half as long again as the timeout (without the restart, it ends mid-way). */
START_TEST(idle_timeout_restarts_on_input)
{
	enum { IDLE_MS = 1000, PACE_MS = IDLE_MS / 8, BYTES = 12 };
	struct drv_run r = {.lim = {.idle_timeout_usec = IDLE_MS * 1000}};
	uint64_t t0 = test_now_ms();
	char buf[8];

	drv_start(&r, &h_echo, NULL);
	client_read_exact(r.client, buf, 2, TEST_WAIT_MS);
	for (int i = 0; i < BYTES; i++) {
		client_send_all(r.client, "z", 1);
		client_read_exact(r.client, buf, 1, TEST_WAIT_MS);
		ck_assert_int_eq(buf[0], 'z');
		test_pace_ms(PACE_MS);
	}
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	uint64_t elapsed = test_now_ms() - t0;
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_IDLE_TIMEOUT);
	ck_assert_uint_ge(elapsed, (BYTES - 1) * PACE_MS + IDLE_MS - 10);
	ck_assert_int_eq(st.datas, BYTES);
	assert_closed_once();
}
END_TEST

START_TEST(max_duration)
{
	struct drv_run r = {.lim = {.max_duration_usec = 150000}};
	uint64_t t0 = test_now_ms();
	char buf[8];

	drv_start(&r, &h_silent, NULL);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	uint64_t elapsed = test_now_ms() - t0;
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_DURATION);
	ck_assert_uint_ge(elapsed, 150);
	ck_assert_uint_lt(elapsed, 5000); /* soon, as in idle_timeout */
	assert_closed_once();
}
END_TEST

/* An active peer does not escape the duration limit: activity restarts the idle clock,
 * never the duration's. The idle timeout is far from the pace (a byte every 40 ms), so
 * only the duration can end the connection; one that activity restarted would go on
 * until the loop's deadline. */
START_TEST(max_duration_with_activity)
{
	struct drv_run r = {.lim = {.idle_timeout_usec = 2000000, .max_duration_usec = 400000}};
	uint64_t t0 = test_now_ms();
	char buf[8];
	ssize_t n;

	drv_start(&r, &h_echo, NULL);
	client_read_exact(r.client, buf, 2, TEST_WAIT_MS);
	/* Keep talking until the server hangs up. */
	for (;;) {
		ck_assert_uint_lt(test_now_ms() - t0, TEST_WAIT_MS);
		if (send(r.client, "p", 1, MSG_NOSIGNAL) != 1)
			break;
		n = client_recv(r.client, buf, 1, TEST_WAIT_MS);
		if (n <= 0)
			break;
		test_pace_ms(40);
	}
	uint64_t elapsed = test_now_ms() - t0;
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_DURATION);
	ck_assert_uint_ge(elapsed, 400);
	assert_closed_once();
}
END_TEST

/* A peer that stops sending still gets everything queued for it. */
START_TEST(peer_eof_flushes_pending)
{
	struct drv_run r = {0};
	static unsigned char buf[BIG + 16];

	drv_start(&r, &h_big, NULL);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), BIG);
	for (size_t i = 0; i < BIG; i++)
		if (buf[i] != pattern_byte(i))
			ck_abort_msg("byte %zu differs", i);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_uint_eq(r.c.bytes_out, BIG);
	ck_assert_int_eq(st.datas, 0);
	assert_closed_once();
}
END_TEST

#define QUEUED (32 * 1024)

static int h_queued_open(struct ss_conn *c)
{
	static unsigned char buf[QUEUED];

	st.opens++;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern_byte(i);
	return ss_conn_write(c, buf, sizeof(buf));
}

static const struct ss_handler h_queued = {
        SS_HANDLER_HEADER("queued"),
        .open = h_queued_open,
        .data = h_count_data,
        .close = h_close,
};

/* The EOF is read while output is still queued (below the high-water mark, more than
 * the small socket buffer holds): it must all go out before the close. */
START_TEST(peer_eof_while_output_queued)
{
	struct drv_run r = {.sndbuf = 4096};
	static unsigned char buf[QUEUED + 16];

	drv_start(&r, &h_queued, NULL);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), QUEUED);
	for (size_t i = 0; i < QUEUED; i++)
		if (buf[i] != pattern_byte(i))
			ck_abort_msg("byte %zu differs", i);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	assert_closed_once();
}
END_TEST

START_TEST(peer_eof_after_data_flushes_echo)
{
	struct drv_run r = {0};
	char buf[64];

	drv_start(&r, &h_echo, NULL);
	client_send_all(r.client, "abc", 3);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 5);
	ck_assert(memcmp(buf, "hiabc", 5) == 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	assert_closed_once();
}
END_TEST

START_TEST(peer_gone_with_pending_output)
{
	struct drv_run r = {0};
	char buf[16];

	drv_start(&r, &h_big, NULL);
	client_read_exact(r.client, buf, sizeof(buf), TEST_WAIT_MS);
	ck_assert_int_eq(close(r.client), 0);
	r.client = -1;
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_PEER_GONE);
	ck_assert_uint_lt(r.c.bytes_out, BIG);
	assert_closed_once();
}
END_TEST

START_TEST(stop_flag)
{
	struct drv_run r = {0};
	char buf[8];

	drv_start(&r, &h_echo, NULL);
	client_read_exact(r.client, buf, 2, TEST_WAIT_MS);
	uint64_t t0 = test_now_ms();
	r.stop = 1;
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	/* Seen within DRIVER_STOP_CHECK_MS (250) when nothing wakes the driver; 20 times
	 * that on a busy machine, and a flag never looked at fails the wait above. */
	ck_assert_uint_lt(test_now_ms() - t0, 5000);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_STOPPED);
	assert_closed_once();
}
END_TEST

START_TEST(stop_flag_before_start)
{
	struct drv_run r = {.stop = 1};

	drv_start(&r, &h_silent, NULL);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_STOPPED);
	assert_closed_once();
}
END_TEST

static atomic_int signals_seen;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

/* A signal interrupting poll() is not an error: the connection carries on. */
START_TEST(signal_interrupts_are_retried)
{
	struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
	struct drv_run r = {0};
	char buf[8];

	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	drv_start(&r, &h_echo, NULL);
	client_read_exact(r.client, buf, 2, TEST_WAIT_MS);
	/* One at a time: a signal sent while the previous one is still pending merges
	 * with it (a loaded machine may not run the thread between two sends). */
	for (int i = 0; i < 5; i++) {
		uint64_t deadline = test_now_ms() + TEST_WAIT_MS;
		ck_assert_int_eq(pthread_kill(r.th, SIGUSR1), 0);
		while (atomic_load(&signals_seen) < i + 1 && test_now_ms() < deadline)
			test_pace_ms(5);
		ck_assert_int_eq(atomic_load(&signals_seen), i + 1);
	}
	client_send_all(r.client, "q", 1);
	client_read_exact(r.client, buf, 1, TEST_WAIT_MS);
	ck_assert_int_eq(buf[0], 'q');
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	assert_closed_once();
}
END_TEST

/* writable runs only below the low-water mark, so a handler without its own flow
 * control stays bounded; the bytes arrive complete and in order. */
START_TEST(writable_below_low_water)
{
	enum { TOTAL = 4 * 1024 * 1024 };
	struct drv_run r = {0};
	static unsigned char buf[TOTAL + 16];

	st.writable_total = TOTAL;
	drv_start(&r, &h_greedy, NULL);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), TOTAL);
	for (size_t i = 0; i < TOTAL; i++)
		if (buf[i] != pattern_byte(i))
			ck_abort_msg("byte %zu differs", i);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_int_eq(st.writables, TOTAL / 8192);
	ck_assert_uint_lt(st.max_pending_at_writable, SS_CONN_LOW_WATER);
	ck_assert_uint_le(st.max_pending, SS_CONN_LOW_WATER + 8192);
	assert_closed_once();
}
END_TEST

/* Against a peer that never reads (but keeps sending, which wakes the driver), the
 * greedy handler is held at the low-water mark. */
START_TEST(writable_waits_for_slow_reader)
{
	struct drv_run r = {0};
	struct pollfd pfd;
	uint64_t deadline = test_now_ms() + TEST_WAIT_MS;

	st.writable_total = (size_t)-1;
	drv_start(&r, &h_greedy, NULL);
	for (;;) {
		pfd = (struct pollfd){.fd = r.server, .events = POLLOUT};
		ck_assert_int_ge(poll(&pfd, 1, 0), 0);
		if (!(pfd.revents & POLLOUT))
			break;
		ck_assert_msg(test_now_ms() < deadline, "the server's socket never filled");
		test_pace_ms(5);
	}
	for (int i = 0; i < 40; i++) {
		client_send_all(r.client, "w", 1);
		test_pace_ms(5);
	}
	r.stop = 1;
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_STOPPED);
	ck_assert_uint_gt(st.writables, 0);
	ck_assert_uint_lt(st.max_pending_at_writable, SS_CONN_LOW_WATER);
	ck_assert_uint_le(st.max_pending, SS_CONN_LOW_WATER + 8192);
	assert_closed_once();
}
END_TEST

START_TEST(writable_without_output_does_not_spin)
{
	struct drv_run r = {.lim = {.idle_timeout_usec = 200000}};

	drv_start(&r, &h_lazy, NULL);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_IDLE_TIMEOUT);
	ck_assert_int_ge(st.writables, 1);
	ck_assert_int_le(st.writables, 5);
	assert_closed_once();
}
END_TEST

/* An echo peer that sends and never reads: the driver stops reading, the output queue
 * stays near the high-water mark. */
START_TEST(backpressure_bounds_echo)
{
	struct drv_run r = {0};
	static char chunk[65536];
	size_t sent = 0;

	drv_start(&r, &h_echo, NULL);
	memset(chunk, 'e', sizeof(chunk));
	for (;;) {
		struct pollfd pfd = {.fd = r.client, .events = POLLOUT};
		ssize_t n = send(r.client, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			sent += (size_t)n;
			ck_assert_msg(sent < 64u * 1024 * 1024, "the server never pushed back");
			continue;
		}
		ck_assert_msg(n < 0 && errno == EAGAIN, "send: %s", strerror(errno));
		/* Stalled for a while: the server no longer reads. */
		if (poll(&pfd, 1, 1000) == 0)
			break;
	}
	r.stop = 1;
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_STOPPED);
	ck_assert_uint_gt(st.max_pending, 0);
	ck_assert_uint_le(st.max_pending, SS_CONN_HIGH_WATER + 16 * 1024);
	ck_assert_uint_lt(r.c.bytes_in, sent);
	assert_closed_once();
}
END_TEST

START_TEST(outcome_names)
{
	ck_assert_str_eq(driver_outcome_name(DRIVER_COMPLETED), "completed");
	ck_assert_str_eq(driver_outcome_name(DRIVER_PEER_GONE), "peer-gone");
	ck_assert_str_eq(driver_outcome_name(DRIVER_IDLE_TIMEOUT), "idle-timeout");
	ck_assert_str_eq(driver_outcome_name(DRIVER_DURATION), "max-duration");
	ck_assert_str_eq(driver_outcome_name(DRIVER_HANDLER_ERROR), "handler-error");
	ck_assert_str_eq(driver_outcome_name(DRIVER_STOPPED), "stopped");
	ck_assert_str_eq(driver_outcome_name((enum driver_outcome)99), "unknown");
}
END_TEST

static Suite *driver_suite(void)
{
	Suite *s = suite_create("driver");
	TCase *tc = tcase_create("driver");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, ends_from_open);
	tcase_add_test(tc, ends_from_data);
	tcase_add_test(tc, data_error_closes_without_flush);
	tcase_add_test(tc, open_error_closes_without_flush);
	tcase_add_test(tc, idle_timeout);
	tcase_add_test(tc, idle_timeout_restarts_on_input);
	tcase_add_test(tc, max_duration);
	tcase_add_test(tc, max_duration_with_activity);
	tcase_add_test(tc, peer_eof_flushes_pending);
	tcase_add_test(tc, peer_eof_while_output_queued);
	tcase_add_test(tc, peer_eof_after_data_flushes_echo);
	tcase_add_test(tc, peer_gone_with_pending_output);
	tcase_add_test(tc, stop_flag);
	tcase_add_test(tc, stop_flag_before_start);
	tcase_add_test(tc, signal_interrupts_are_retried);
	tcase_add_test(tc, writable_below_low_water);
	tcase_add_test(tc, writable_waits_for_slow_reader);
	tcase_add_test(tc, writable_without_output_does_not_spin);
	tcase_add_test(tc, backpressure_bounds_echo);
	tcase_add_test(tc, outcome_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(driver_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
