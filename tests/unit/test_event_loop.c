/*
 * The event model's worker loop in a process of its own, with test handlers: failing
 * callbacks close without a flush and are counted, handlers end their connection from
 * inside their callbacks, writable is flow-controlled and cannot make the loop spin,
 * one greedy connection does not starve another, timeouts are counted, the scoreboard
 * follows, and SIGTERM drains.
 */
#include "tests/unit/event_harness.h"

static void h_close(struct ss_conn *c)
{
	st->closes++;
	if (ss_conn_write(c, "x", 1) != -EPIPE)
		st->writes_after_close++;
}

static int h_echo_data(struct ss_conn *c, const void *buf, size_t len)
{
	st->datas++;
	int r = ss_conn_write(c, buf, len);
	note_pending(c, &st->max_pending);
	return r;
}

static const struct ss_handler h_echo = {
        SS_HANDLER_HEADER("echo"),
        .data = h_echo_data,
        .close = h_close,
};

static int h_unsent_data(struct ss_conn *c, const void *buf, size_t len)
{
	st->datas++;
	ss_conn_write(c, "unsent", 6);
	return -EIO;
}

static const struct ss_handler h_fail_data = {
        SS_HANDLER_HEADER("fail-data"),
        .data = h_unsent_data,
        .close = h_close,
};

static int h_unsent_open(struct ss_conn *c)
{
	st->opens++;
	ss_conn_write(c, "unsent", 6);
	return -EPROTO;
}

static const struct ss_handler h_fail_open = {
        SS_HANDLER_HEADER("fail-open"),
        .open = h_unsent_open,
        .close = h_close,
};

static int h_hi_open(struct ss_conn *c)
{
	st->opens++;
	return ss_conn_write(c, "hi\n", 3);
}

static int h_ok_end_data(struct ss_conn *c, const void *buf, size_t len)
{
	st->datas++;
	int r = ss_conn_write(c, "ok\n", 3);
	ss_conn_end(c);
	return r;
}

static const struct ss_handler h_end_data = {
        SS_HANDLER_HEADER("end-data"),
        .open = h_hi_open,
        .data = h_ok_end_data,
        .close = h_close,
};

static int h_want_open(struct ss_conn *c)
{
	st->opens++;
	ss_conn_want_writable(c, 1);
	return 0;
}

static int h_lazy_writable(struct ss_conn *c)
{
	st->writables++;
	return 0;
}

static const struct ss_handler h_lazy = {
        SS_HANDLER_HEADER("lazy"),
        .open = h_want_open,
        .writable = h_lazy_writable,
        .close = h_close,
};

enum { GREEDY_CHUNK = 8192, GREEDY_TOTAL = 4 * 1024 * 1024 };

static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)(i * 13 + i / 4093);
}

/* Writes a chunk per writable call: GREEDY_TOTAL bytes then ends, or endlessly when
 * the service data says so. */
static int h_greedy_writable(struct ss_conn *c)
{
	size_t pos = (size_t)(uintptr_t)ss_conn_get_data(c);
	unsigned char buf[GREEDY_CHUNK];
	bool endless = ss_conn_service_data(c) != NULL;

	st->writables++;
	note_pending(c, &st->max_pending_at_writable);
	if (!endless && pos >= GREEDY_TOTAL) {
		ss_conn_end(c);
		return 0;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern_byte(pos + i);
	int r = ss_conn_write(c, buf, sizeof(buf));
	ss_conn_set_data(c, (void *)(uintptr_t)(pos + sizeof(buf)));
	note_pending(c, &st->max_pending);
	return r;
}

/* In endless mode only the first connection streams; later ones are plain echo. */
static int h_greedy_open(struct ss_conn *c)
{
	int n = st->opens++;

	if (!ss_conn_service_data(c) || n == 0)
		ss_conn_want_writable(c, 1);
	return 0;
}

static const struct ss_handler h_greedy = {
        SS_HANDLER_HEADER("greedy"),   .open = h_greedy_open, .data = h_echo_data,
        .writable = h_greedy_writable, .close = h_close,
};

START_TEST(data_error_closes_without_flush)
{
	struct worker w;
	struct setup su = {.handler = &h_fail_data};
	char buf[64];

	start(&w, &su);
	int fd = connect_to(&w);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_uint_eq(read_to_eof(fd, buf, sizeof(buf), 3000), 0);
	close(fd);
	ck_assert(WAIT_FOR(counter(&w.sb->counters.completed) == 1, 10000));
	ck_assert_uint_eq(counter(&w.sb->counters.handler_errors), 1);
	ck_assert_uint_eq(counter(&w.sb->counters.bytes_in), 1);
	ck_assert_uint_eq(counter(&w.sb->counters.bytes_out), 0);
	ck_assert_int_eq(st->closes, 1);
	ck_assert_int_eq(st->writes_after_close, 0);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

START_TEST(open_error_closes_without_flush)
{
	struct worker w;
	struct setup su = {.handler = &h_fail_open};
	char buf[64];

	start(&w, &su);
	int fd = connect_to(&w);
	ck_assert_uint_eq(read_to_eof(fd, buf, sizeof(buf), 3000), 0);
	close(fd);
	ck_assert(WAIT_FOR(counter(&w.sb->counters.completed) == 1, 10000));
	ck_assert_uint_eq(counter(&w.sb->counters.handler_errors), 1);
	ck_assert_int_eq(st->opens, 1);
	ck_assert_int_eq(st->closes, 1);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

/* The handler ends the connection from its data callback: the reply still goes out. */
START_TEST(ends_from_data)
{
	struct worker w;
	struct setup su = {.handler = &h_end_data};
	char buf[64];

	start(&w, &su);
	for (int i = 0; i < 50; i++) {
		int fd = connect_to(&w);
		read_exact(fd, buf, 3, 3000);
		ck_assert(memcmp(buf, "hi\n", 3) == 0);
		ck_assert_int_eq(write(fd, "go", 2), 2);
		ck_assert_uint_eq(read_to_eof(fd, buf, sizeof(buf), 3000), 3);
		ck_assert(memcmp(buf, "ok\n", 3) == 0);
		close(fd);
	}
	/* The counters follow the close callback: wait for them. */
	ck_assert(WAIT_FOR(counter(&w.sb->counters.completed) == 50, 10000));
	ck_assert_int_eq(st->closes, 50);
	ck_assert_uint_eq(counter(&w.sb->counters.accepted), 50);
	ck_assert_uint_eq(counter(&w.sb->counters.handler_errors), 0);
	ck_assert_uint_eq(counter(&w.sb->counters.bytes_out), 50 * 6);
	ck_assert_uint_eq(atomic_load(&w.sb->slots[0].served), 50);
	ck_assert_int_eq(st->writes_after_close, 0);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

/* A handler that asks for writable and writes nothing is called again only on the next
 * event: here none comes, so a few calls at most before the idle timeout. */
START_TEST(lazy_writable_does_not_spin)
{
	struct worker w;
	struct setup su = {.handler = &h_lazy, .idle_timeout_usec = 300000};
	char buf[8];

	start(&w, &su);
	long long t0 = now_ms();
	int fd = connect_to(&w);
	ck_assert_uint_eq(read_to_eof(fd, buf, sizeof(buf), 3000), 0);
	ck_assert_int_ge(now_ms() - t0, 250);
	close(fd);
	ck_assert(WAIT_FOR(counter(&w.sb->counters.completed) == 1, 10000));
	ck_assert_int_eq(st->closes, 1);
	ck_assert_int_ge(st->writables, 1);
	ck_assert_int_le(st->writables, 5);
	ck_assert_uint_eq(counter(&w.sb->counters.timeouts), 1);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

/* writable runs only below the low-water mark; every byte arrives, in order. */
START_TEST(greedy_writer_flow_controlled)
{
	struct worker w;
	struct setup su = {.handler = &h_greedy};
	unsigned char *buf = malloc(GREEDY_TOTAL + 16);

	start(&w, &su);
	int fd = connect_to(&w);
	ck_assert_uint_eq(read_to_eof(fd, buf, GREEDY_TOTAL + 16, 20000), GREEDY_TOTAL);
	for (size_t i = 0; i < GREEDY_TOTAL; i++)
		if (buf[i] != pattern_byte(i))
			ck_abort_msg("byte %zu differs", i);
	close(fd);
	free(buf);
	ck_assert(WAIT_FOR(counter(&w.sb->counters.completed) == 1, 10000));
	ck_assert_int_eq(st->closes, 1);
	ck_assert_int_eq(st->writables, GREEDY_TOTAL / GREEDY_CHUNK + 1);
	ck_assert_uint_lt(st->max_pending_at_writable, SS_CONN_LOW_WATER);
	ck_assert_uint_le(st->max_pending, SS_CONN_LOW_WATER + GREEDY_CHUNK);
	ck_assert_uint_eq(counter(&w.sb->counters.bytes_out), GREEDY_TOTAL);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

/* Against a peer that does not read but keeps sending (each byte wakes the worker),
 * the greedy handler is held at the low-water mark. */
START_TEST(greedy_writer_waits_for_slow_reader)
{
	struct worker w;
	struct setup su = {.handler = &h_greedy, .handler_data = (void *)1};
	int small = 4096;

	start(&w, &su);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)w.port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* Output backs up in the worker once the socket buffers are full. */
	ck_assert(WAIT_FOR(st->max_pending >= SS_CONN_LOW_WATER, 5000));
	for (int i = 0; i < 40; i++) {
		ck_assert_int_eq(write(fd, "w", 1), 1);
		usleep(5000); /* pacing: each byte is its own wake-up */
	}
	ck_assert(WAIT_FOR(st->datas >= 1, 10000));
	ck_assert_uint_lt(st->max_pending_at_writable, SS_CONN_LOW_WATER);
	ck_assert_uint_le(st->max_pending, SS_CONN_LOW_WATER + GREEDY_CHUNK + 40);
	close(fd);
	ck_assert(WAIT_FOR(counter(&w.sb->counters.completed) == 1, 10000));
	ck_assert_int_eq(st->closes, 1);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

/* An endless writer to a fast reader keeps the loop busy; another connection on the
 * same worker is still answered promptly. */
START_TEST(greedy_writer_does_not_starve)
{
	struct worker w;
	struct setup su = {.handler = &h_greedy, .handler_data = (void *)1};
	static char sink[1 << 16];
	char buf[4];

	start(&w, &su);
	int hog = connect_to(&w);
	int other = connect_to(&w);
	ck_assert(WAIT_FOR(atomic_load(&w.sb->slots[0].active) == 2, 10000));
	for (int i = 0; i < 50; i++) {
		/* Keep the hog's stream flowing between exchanges. */
		for (int k = 0; k < 8; k++)
			ck_assert_int_gt(read(hog, sink, sizeof(sink)), 0);
		long long t0 = now_ms();
		ck_assert_int_eq(write(other, "ping", 4), 4);
		read_exact(other, buf, 4, 10000);
		ck_assert_msg(memcmp(buf, "ping", 4) == 0, "round %d: %02x %02x %02x %02x", i,
		              (unsigned char)buf[0], (unsigned char)buf[1], (unsigned char)buf[2],
		              (unsigned char)buf[3]);
		/* Served between the hog's chunks, not after it: a starved client waits
		 * for ever, a loaded machine a moment. */
		ck_assert_int_lt(now_ms() - t0, 5000);
	}
	ck_assert_int_gt(st->writables, 50);
	close(hog);
	close(other);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

/* echo against a peer that sends and never reads: reading stops near the high-water
 * mark instead of queueing without bound. */
START_TEST(echo_backpressure)
{
	struct worker w;
	struct setup su = {.handler = &h_echo};
	static char chunk[65536];
	size_t sent = 0;

	start(&w, &su);
	int fd = connect_to(&w);
	memset(chunk, 'e', sizeof(chunk));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			sent += (size_t)n;
			ck_assert_msg(sent < 256u << 20, "the worker never pushed back");
			continue;
		}
		ck_assert_msg(n < 0 && errno == EAGAIN, "send: %s", strerror(errno));
		if (poll(&p, 1, 300) == 0)
			break; /* stalled for a while: the worker no longer reads */
	}
	ck_assert_uint_gt(st->max_pending, 0);
	ck_assert_uint_le(st->max_pending, SS_CONN_HIGH_WATER + 16 * 1024);
	close(fd);
	ck_assert(WAIT_FOR(counter(&w.sb->counters.completed) == 1, 10000));
	ck_assert_int_eq(st->closes, 1);
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

START_TEST(max_duration_counts_timeout)
{
	struct worker w;
	struct setup su = {.handler = &h_echo, .max_duration_usec = 200000};
	char buf[8];

	start(&w, &su);
	long long t0 = now_ms();
	int fd = connect_to(&w);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(write(fd, "k", 1), 1); /* activity does not extend it */
		read_exact(fd, buf, 1, 3000);
	}
	ck_assert_uint_eq(read_to_eof(fd, buf, sizeof(buf), 3000), 0);
	ck_assert_int_ge(now_ms() - t0, 150);
	close(fd);
	ck_assert(WAIT_FOR(counter(&w.sb->counters.timeouts) == 1, 10000));
	ck_assert_int_eq(stop(&w), 0);
}
END_TEST

/* Slot state and counts: IDLE with room, BUSY at max_connections (the next client waits
 * in the backlog), STOPPING while draining after SIGTERM, exit 0 once drained. */
START_TEST(scoreboard_states_and_drain)
{
	struct worker w;
	struct setup su = {.handler = &h_echo, .max_connections = 1};
	char c;

	start(&w, &su);
	struct scoreboard_slot *slot = &w.sb->slots[0];
	int a = connect_to(&w);
	ck_assert(WAIT_FOR(atomic_load(&slot->state) == WORKER_BUSY, 10000));
	ck_assert_uint_eq(atomic_load(&slot->active), 1);
	int b = connect_to(&w); /* waits in the backlog */
	ck_assert_int_eq(write(b, "b", 1), 1);
	struct pollfd p = {.fd = b, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 200), 0);
	close(a);
	read_exact(b, &c, 1, 3000);
	ck_assert_int_eq(c, 'b');
	ck_assert_uint_eq(counter(&w.sb->counters.accepted), 2);

	ck_assert_int_eq(kill(w.pid, SIGTERM), 0);
	ck_assert(WAIT_FOR(atomic_load(&slot->state) == WORKER_STOPPING, 10000));
	ck_assert_int_eq(write(b, "c", 1), 1);
	read_exact(b, &c, 1, 3000);
	ck_assert_int_eq(c, 'c');
	int status;
	ck_assert_int_eq(waitpid(w.pid, &status, WNOHANG), 0); /* still draining */
	close(b);
	ck_assert(WAIT_FOR(waitpid(w.pid, &status, WNOHANG) == w.pid, 10000));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(counter(&w.sb->counters.completed), 2);
	ck_assert_int_eq(st->closes, 2);
	scoreboard_unmap(w.sb);
	munmap(st, sizeof(*st));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("event loop");
	TCase *tc = tcase_create("loop");
	tcase_add_test(tc, data_error_closes_without_flush);
	tcase_add_test(tc, open_error_closes_without_flush);
	tcase_add_test(tc, ends_from_data);
	tcase_add_test(tc, lazy_writable_does_not_spin);
	tcase_add_test(tc, greedy_writer_flow_controlled);
	tcase_add_test(tc, greedy_writer_waits_for_slow_reader);
	tcase_add_test(tc, greedy_writer_does_not_starve);
	tcase_add_test(tc, echo_backpressure);
	tcase_add_test(tc, max_duration_counts_timeout);
	tcase_add_test(tc, scoreboard_states_and_drain);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
