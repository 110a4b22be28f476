/*
 * One worker-thread turn on a connection (tp_slice): what it runs, what it waits for
 * next, and when it gives up its thread. A turn never blocks, so every test runs it
 * on the test's own thread against a socketpair.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/tp_slice.h"

static struct {
	int opens, datas, writables, closes;
	size_t writable_chunk; /* bytes the greedy handler writes per writable call */
	size_t amplify;        /* bytes the flood handler writes per byte received */
} st;

static struct ss_conn c;
static struct tp_slice sl;
static int client = -1;

static void h_close(struct ss_conn *cn)
{
	st.closes++;
}

static int h_echo_data(struct ss_conn *cn, const void *buf, size_t len)
{
	st.datas++;
	return ss_conn_write(cn, buf, len);
}

static int h_greet_open(struct ss_conn *cn)
{
	st.opens++;
	return ss_conn_write(cn, "hi\r\n", 4);
}

static const struct ss_handler h_echo = {
        SS_HANDLER_HEADER("t-echo"),
        .open = h_greet_open,
        .data = h_echo_data,
        .close = h_close,
};

static int h_bye_open(struct ss_conn *cn)
{
	st.opens++;
	ss_conn_end(cn);
	return ss_conn_write(cn, "bye", 3) == -EPIPE ? 0 : -1;
}

static const struct ss_handler h_bye = {
        SS_HANDLER_HEADER("t-bye"),
        .open = h_bye_open,
        .close = h_close,
};

static int h_relay_open(struct ss_conn *cn)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_port = htons(9),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	st.opens++;
	return ss_conn_relay(cn, (struct sockaddr *)&to, sizeof(to), NULL, 0, 1000000);
}

static const struct ss_handler h_relay = {
        SS_HANDLER_HEADER("t-relay"),
        .open = h_relay_open,
        .data = h_echo_data,
        .close = h_close,
};

static int h_fail_data(struct ss_conn *cn, const void *buf, size_t len)
{
	st.datas++;
	return -EINVAL;
}

static const struct ss_handler h_fail = {
        SS_HANDLER_HEADER("t-fail"),
        .data = h_fail_data,
        .close = h_close,
};

static int h_flood_data(struct ss_conn *cn, const void *buf, size_t len)
{
	static char chunk[4096];

	st.datas++;
	for (size_t n = 0; n < len * st.amplify; n += sizeof(chunk)) {
		int r = ss_conn_write(cn, chunk, sizeof(chunk));
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct ss_handler h_flood = {
        SS_HANDLER_HEADER("t-flood"),
        .data = h_flood_data,
        .close = h_close,
};

static int h_greedy_open(struct ss_conn *cn)
{
	st.opens++;
	ss_conn_want_writable(cn, 1);
	return 0;
}

static int h_greedy_writable(struct ss_conn *cn)
{
	static char chunk[64 * 1024];

	st.writables++;
	return ss_conn_write(cn, chunk, st.writable_chunk);
}

static const struct ss_handler h_greedy = {
        SS_HANDLER_HEADER("t-greedy"), .open = h_greedy_open, .data = h_echo_data,
        .writable = h_greedy_writable, .close = h_close,
};

static void setup(void)
{
	memset(&st, 0, sizeof(st));
	memset(&sl, 0, sizeof(sl));
	client = -1;
	c.fd = -1;
}

static void teardown(void)
{
	if (c.fd >= 0)
		conn_destroy(&c);
	if (client >= 0)
		close(client);
}

/* sndbuf > 0 makes the server end's send buffer small, for back-pressure. */
static void open_conn(const struct ss_handler *h, int sndbuf)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (sndbuf > 0)
		ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
		                 0);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	conn_init(&c, sv[0], h, NULL);
	client = sv[1];
}

static enum tp_next turn(void)
{
	return tp_slice_run(&c, &sl, NULL, NULL);
}

/* Everything the client has received so far (the socket is non-blocking). */
static size_t drain_client(char *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		char tmp[65536];
		ssize_t n = recv(client, tmp, sizeof(tmp), 0);
		if (n <= 0) {
			ck_assert(n < 0 && errno == EAGAIN);
			return got;
		}
		if (buf && got + (size_t)n <= cap)
			memcpy(buf + got, tmp, (size_t)n);
		got += (size_t)n;
	}
}

START_TEST(open_then_echo_then_wait)
{
	char buf[64];

	open_conn(&h_echo, 0);
	ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	ck_assert_uint_eq(sl.events, EPOLLIN);
	ck_assert_int_eq(drain_client(buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "hi\r\n", 4) == 0);

	ck_assert_int_eq(send(client, "abc", 3, 0), 3);
	ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	ck_assert_uint_eq(sl.events, EPOLLIN);
	ck_assert_int_eq(drain_client(buf, sizeof(buf)), 3);
	ck_assert(memcmp(buf, "abc", 3) == 0);
	/* A turn with nothing to do runs nothing and waits again. */
	ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	ck_assert_int_eq(st.opens, 1);
	ck_assert_int_eq(st.datas, 1);
	ck_assert_uint_eq(c.bytes_in, 3);
	ck_assert_uint_eq(c.bytes_out, 7);
	ck_assert_int_eq(st.closes, 0); /* the caller destroys */
	conn_destroy(&c);
	ck_assert_int_eq(st.closes, 1);
}
END_TEST

START_TEST(end_from_open)
{
	char buf[8];

	open_conn(&h_bye, 0);
	ck_assert_int_eq(turn(), TP_NEXT_CLOSE);
	ck_assert_int_eq(sl.outcome, DRIVER_COMPLETED);
	ck_assert_int_eq(drain_client(buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(peer_eof_flushes_then_completes)
{
	char buf[64];

	open_conn(&h_echo, 0);
	ck_assert_int_eq(send(client, "last words", 10, 0), 10);
	ck_assert_int_eq(shutdown(client, SHUT_WR), 0);
	/* The read took all there was: the turn answers and waits rather than read again
	 * only to learn that the socket is empty. The end keeps the socket readable, so
	 * the re-armed connection is reported at once, and the next turn sees it. */
	ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	ck_assert_uint_eq(sl.events, EPOLLIN);
	ck_assert_int_eq(turn(), TP_NEXT_CLOSE);
	ck_assert_int_eq(sl.outcome, DRIVER_COMPLETED);
	ck_assert_int_eq(drain_client(buf, sizeof(buf)), 14);
	ck_assert(memcmp(buf, "hi\r\nlast words", 14) == 0);
}
END_TEST

START_TEST(handler_error)
{
	open_conn(&h_fail, 0);
	ck_assert_int_eq(send(client, "x", 1, 0), 1);
	ck_assert_int_eq(turn(), TP_NEXT_CLOSE);
	ck_assert_int_eq(sl.outcome, DRIVER_HANDLER_ERROR);
	ck_assert_int_eq(st.datas, 1);
}
END_TEST

START_TEST(peer_gone_with_output_queued)
{
	open_conn(&h_flood, 0);
	st.amplify = 512 * 1024;
	ck_assert_int_eq(send(client, "x", 1, 0), 1);
	close(client);
	client = -1;
	ck_assert_int_eq(turn(), TP_NEXT_CLOSE);
	ck_assert_int_eq(sl.outcome, DRIVER_PEER_GONE);
}
END_TEST

START_TEST(backpressure_waits_for_output_only)
{
	size_t total = 0;

	open_conn(&h_flood, 4096);
	st.amplify = 256 * 1024;
	ck_assert_int_eq(send(client, "x", 1, 0), 1);
	/* 256 KiB queued, a few KiB fit in the socket: reading stops until it drains. */
	ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	ck_assert_uint_eq(sl.events, EPOLLOUT);
	ck_assert_uint_ge(ss_conn_pending(&c), SS_CONN_HIGH_WATER);
	ck_assert_int_eq(send(client, "y", 1, 0), 1);
	/* The peer reads nothing: "y" stays in the socket, however often we look. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(turn(), TP_NEXT_WAIT);
		ck_assert_uint_eq(sl.events, EPOLLOUT);
		ck_assert_int_eq(st.datas, 1);
	}
	/* The client reads; each turn moves more, and input resumes below the mark. */
	for (int i = 0; i < 10000 && (ss_conn_pending(&c) > 0 || st.datas < 2); i++) {
		total += drain_client(NULL, 0);
		ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	}
	total += drain_client(NULL, 0);
	ck_assert_int_eq(st.datas, 2);
	ck_assert_uint_eq(total + ss_conn_pending(&c), 2 * 256 * 1024);
}
END_TEST

START_TEST(busy_connection_yields)
{
	open_conn(&h_greedy, 0);
	st.writable_chunk = 2048;
	/* A reader that keeps up (the socket buffer takes it all): the turn must still
	 * end, so the other connections get the thread. */
	ck_assert_int_eq(turn(), TP_NEXT_AGAIN);
	ck_assert_int_eq(st.writables, TP_SLICE_PASSES);
	ck_assert_uint_eq(drain_client(NULL, 0), (size_t)TP_SLICE_PASSES * 2048);
	ck_assert_int_eq(turn(), TP_NEXT_AGAIN);
	ck_assert_int_eq(st.writables, 2 * TP_SLICE_PASSES);
}
END_TEST

START_TEST(slow_reader_waits_for_output_and_input)
{
	open_conn(&h_greedy, 4096);
	st.writable_chunk = 8192;
	ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	ck_assert_uint_eq(sl.events, EPOLLIN | EPOLLOUT);
	ck_assert_uint_gt(ss_conn_pending(&c), 0);
	ck_assert_uint_lt(ss_conn_pending(&c), SS_CONN_HIGH_WATER);
}
END_TEST

START_TEST(writable_without_output_waits_for_input)
{
	open_conn(&h_greedy, 0);
	st.writable_chunk = 0;
	ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	ck_assert_uint_eq(sl.events, EPOLLIN);
	ck_assert_int_eq(st.writables, 1);
	ck_assert_int_eq(turn(), TP_NEXT_WAIT);
	ck_assert_int_eq(st.writables, 2); /* one per turn: no spinning */
}
END_TEST

START_TEST(kick_stops_before_callbacks)
{
	struct tp_watch w = {.kick = TP_NO_KICK};

	open_conn(&h_echo, 0);
	ck_assert_int_eq(tp_slice_run(&c, &sl, NULL, &w), TP_NEXT_WAIT);
	ck_assert_int_eq(send(client, "late", 4, 0), 4);
	atomic_store(&w.kick, DRIVER_DURATION);
	ck_assert_int_eq(tp_slice_run(&c, &sl, NULL, &w), TP_NEXT_CLOSE);
	ck_assert_int_eq(sl.outcome, DRIVER_DURATION);
	ck_assert_int_eq(st.datas, 0);
}
END_TEST

/* A connection handed to the relay leaves the thread after open, its bytes unread: the
 * poller runs the relay. When the poller has ended it (a kick with the relay's
 * outcome), the next turn only closes. */
START_TEST(relay_leaves_the_thread)
{
	struct tp_watch w = {.kick = TP_NO_KICK};

	open_conn(&h_relay, 0);
	ck_assert_int_eq(send(client, "early", 5, 0), 5);
	ck_assert_int_eq(tp_slice_run(&c, &sl, NULL, &w), TP_NEXT_RELAY);
	ck_assert_ptr_nonnull(c.relay_req);
	ck_assert_int_eq(st.opens, 1);
	ck_assert_int_eq(st.datas, 0);
	ck_assert_uint_eq(c.bytes_in, 0);
	atomic_store(&w.kick, DRIVER_COMPLETED);
	ck_assert_int_eq(tp_slice_run(&c, &sl, NULL, &w), TP_NEXT_CLOSE);
	ck_assert_int_eq(sl.outcome, DRIVER_COMPLETED);
	ck_assert_int_eq(st.datas, 0);
}
END_TEST

START_TEST(activity_is_published)
{
	struct tp_watch w = {.kick = TP_NO_KICK, .activity = 0};

	open_conn(&h_echo, 0);
	ck_assert_int_eq(tp_slice_run(&c, &sl, NULL, &w), TP_NEXT_WAIT);
	/* Output alone is not activity. */
	ck_assert_uint_eq(atomic_load(&w.activity), 0);
	ck_assert_int_eq(send(client, "x", 1, 0), 1);
	ck_assert_int_eq(tp_slice_run(&c, &sl, NULL, &w), TP_NEXT_WAIT);
	ck_assert_uint_eq(atomic_load(&w.activity), c.activity_usec);
	ck_assert_uint_gt(c.activity_usec, 0);
}
END_TEST

START_TEST(deadlines)
{
	struct driver_limits lim = {.idle_timeout_usec = 1000000, .max_duration_usec = 5000000};

	open_conn(&h_echo, 0);
	ck_assert_int_eq(tp_slice_run(&c, &sl, &lim, NULL), TP_NEXT_WAIT);
	/* Pretend the last byte from the peer came 2 s ago. */
	c.activity_usec -= 2000000;
	ck_assert_int_eq(tp_slice_run(&c, &sl, &lim, NULL), TP_NEXT_CLOSE);
	ck_assert_int_eq(sl.outcome, DRIVER_IDLE_TIMEOUT);

	conn_destroy(&c);
	close(client);
	memset(&sl, 0, sizeof(sl));
	open_conn(&h_echo, 0);
	ck_assert_int_eq(tp_slice_run(&c, &sl, &lim, NULL), TP_NEXT_WAIT);
	c.start_usec -= 6000000;
	ck_assert_int_eq(send(client, "x", 1, 0), 1);
	ck_assert_int_eq(tp_slice_run(&c, &sl, &lim, NULL), TP_NEXT_CLOSE);
	ck_assert_int_eq(sl.outcome, DRIVER_DURATION);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tp_slice");
	TCase *tc = tcase_create("tp_slice");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_then_echo_then_wait);
	tcase_add_test(tc, end_from_open);
	tcase_add_test(tc, peer_eof_flushes_then_completes);
	tcase_add_test(tc, handler_error);
	tcase_add_test(tc, peer_gone_with_output_queued);
	tcase_add_test(tc, backpressure_waits_for_output_only);
	tcase_add_test(tc, busy_connection_yields);
	tcase_add_test(tc, slow_reader_waits_for_output_and_input);
	tcase_add_test(tc, writable_without_output_waits_for_input);
	tcase_add_test(tc, kick_stops_before_callbacks);
	tcase_add_test(tc, relay_leaves_the_thread);
	tcase_add_test(tc, activity_is_published);
	tcase_add_test(tc, deadlines);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
