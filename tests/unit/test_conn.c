/* The connection object and the handler API around it: buffering, end, dispatch, args. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/conn.h"
#include "services/args.h"
#include "superserverd/config.h"
#include "tests/unit/conn_harness.h"

static int closes, opens, datas;

static void t_close(struct ss_conn *c)
{
	closes++;
}

static int t_open_fail(struct ss_conn *c)
{
	opens++;
	return -EIO;
}

static int t_data(struct ss_conn *c, const void *buf, size_t len)
{
	datas++;
	return 0;
}

static const struct ss_handler h_plain = {
        SS_HANDLER_HEADER("plain"),
        .data = t_data,
        .close = t_close,
};

static const struct ss_handler h_fail = {
        SS_HANDLER_HEADER("fail"),
        .open = t_open_fail,
        .data = t_data,
        .close = t_close,
};

static const struct ss_handler h_empty = {
        SS_HANDLER_HEADER("empty"),
};

struct pair {
	struct ss_conn c;
	int client;
};

static void pair_open(struct pair *p, const struct ss_handler *h, void *service_data)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->client = sv[0];
	conn_init(&p->c, sv[1], h, service_data);
}

static void pair_close(struct pair *p)
{
	conn_destroy(&p->c);
	if (p->client >= 0)
		ck_assert_int_eq(close(p->client), 0);
}

static void setup(void)
{
	closes = opens = datas = 0;
}

START_TEST(init_reads_addresses_and_clock)
{
	struct pair p;
	socklen_t len = 0;
	int token;
	uint64_t before = conn_now_usec();

	pair_open(&p, &h_plain, &token);
	ck_assert_ptr_nonnull(ss_conn_peer(&p.c, &len));
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(ss_conn_peer(&p.c, &len)->sa_family, AF_UNIX);
	ck_assert_ptr_nonnull(ss_conn_local(&p.c, &len));
	ck_assert_int_eq(ss_conn_local(&p.c, NULL)->sa_family, AF_UNIX);
	ck_assert_uint_ge(p.c.start_usec, before);
	ck_assert_uint_eq(p.c.activity_usec, p.c.start_usec);
	ck_assert_ptr_eq(ss_conn_service_data(&p.c), &token);
	ck_assert_ptr_null(ss_conn_get_data(&p.c));
	ss_conn_set_data(&p.c, &len);
	ck_assert_ptr_eq(ss_conn_get_data(&p.c), &len);
	pair_close(&p);
	ck_assert_int_eq(closes, 1);
}
END_TEST

START_TEST(init_without_socket_has_unknown_addresses)
{
	struct ss_conn c;
	socklen_t len = 99;
	int fds[2];

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	conn_init(&c, fds[0], &h_empty, NULL);
	ck_assert_ptr_null(ss_conn_peer(&c, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_null(ss_conn_local(&c, &len));
	ck_assert_uint_eq(len, 0);
	conn_destroy(&c);
	ck_assert_int_eq(c.fd, -1);
	ck_assert_int_eq(close(fds[1]), 0);
}
END_TEST

START_TEST(write_then_flush)
{
	struct pair p;
	char buf[16];

	pair_open(&p, &h_plain, NULL);
	ck_assert_int_eq(ss_conn_write(&p.c, "abc", 3), 0);
	ck_assert_int_eq(ss_conn_write(&p.c, "", 0), 0);
	ck_assert_int_eq(ss_conn_write(&p.c, "de", 2), 0);
	ck_assert_uint_eq(ss_conn_pending(&p.c), 5);
	ck_assert_int_eq(conn_flush(&p.c), 0);
	ck_assert_uint_eq(ss_conn_pending(&p.c), 0);
	ck_assert_uint_eq(p.c.bytes_out, 5);
	client_read_exact(p.client, buf, 5, TEST_WAIT_MS);
	ck_assert(memcmp(buf, "abcde", 5) == 0);
	ck_assert_int_eq(conn_flush(&p.c), 0); /* nothing pending */
	pair_close(&p);
}
END_TEST

static unsigned char pat(size_t i)
{
	return (unsigned char)((i * 7 + i / 251) % 256);
}

/* Partial sends, compaction and growth keep the bytes in order. */
START_TEST(flush_would_block_keeps_order)
{
	enum { TOTAL = 3 * 1024 * 1024, CHUNK = 3000 };
	struct pair p;
	static unsigned char out[CHUNK], got[TOTAL];
	size_t produced = 0, received = 0;
	int blocked = 0;
	uint64_t deadline = test_now_ms() + 10000;

	pair_open(&p, &h_plain, NULL);
	while (received < TOTAL) {
		ck_assert_uint_lt(test_now_ms(), deadline);
		/* Keep a few chunks queued so sends are partial and the buffer is reused. */
		while (produced < TOTAL && ss_conn_pending(&p.c) < 5 * CHUNK) {
			size_t n = TOTAL - produced < CHUNK ? TOTAL - produced : CHUNK;
			for (size_t i = 0; i < n; i++)
				out[i] = pat(produced + i);
			ck_assert_int_eq(ss_conn_write(&p.c, out, n), 0);
			produced += n;
		}
		int r = conn_flush(&p.c);
		ck_assert_int_ge(r, 0);
		if (r == 1) {
			blocked++;
			ssize_t n = client_recv(p.client, got + received, 1000, TEST_WAIT_MS);
			ck_assert_int_gt(n, 0);
			received += (size_t)n;
		} else if (produced == TOTAL) {
			break;
		}
		ck_assert_uint_le(p.c.out_cap, 16 * CHUNK);
	}
	if (received < TOTAL)
		client_read_exact(p.client, got + received, TOTAL - received, TEST_WAIT_MS);
	ck_assert_int_gt(blocked, 0);
	for (size_t i = 0; i < TOTAL; i++)
		if (got[i] != pat(i))
			ck_abort_msg("byte %zu differs", i);
	ck_assert_uint_eq(p.c.bytes_out, TOTAL);
	pair_close(&p);
}
END_TEST

/* White-box: bytes already sent at the front are reused before the buffer grows. */
START_TEST(write_reuses_sent_space)
{
	struct pair p;
	static char a[3000], b[3000], got[3500];

	memset(a, 'a', sizeof(a));
	a[sizeof(a) - 1] = 'A';
	memset(b, 'b', sizeof(b));
	pair_open(&p, &h_plain, NULL);
	ck_assert_int_eq(ss_conn_write(&p.c, a, sizeof(a)), 0);
	size_t cap = p.c.out_cap;
	ck_assert_uint_lt(cap, sizeof(a) + sizeof(b));
	p.c.out_off = 2500; /* as if a partial send took 2500 bytes */
	ck_assert_int_eq(ss_conn_write(&p.c, b, sizeof(b)), 0);
	ck_assert_uint_eq(p.c.out_cap, cap);
	ck_assert_uint_eq(ss_conn_pending(&p.c), 3500);
	ck_assert_int_eq(conn_flush(&p.c), 0);
	client_read_exact(p.client, got, sizeof(got), TEST_WAIT_MS);
	ck_assert(memcmp(got, a + 2500, 500) == 0);
	ck_assert(memcmp(got + 500, b, sizeof(b)) == 0);
	pair_close(&p);
}
END_TEST

START_TEST(write_beyond_cap_is_refused)
{
	struct pair p;
	char *big = calloc(1, CONN_OUTPUT_MAX);

	ck_assert_ptr_nonnull(big);
	pair_open(&p, &h_plain, NULL);
	ck_assert_int_eq(ss_conn_write(&p.c, big, CONN_OUTPUT_MAX - 1), 0);
	ck_assert_int_eq(ss_conn_write(&p.c, big, 1), 0);
	ck_assert_int_eq(ss_conn_write(&p.c, big, 1), -ENOBUFS);
	ck_assert_uint_eq(ss_conn_pending(&p.c), CONN_OUTPUT_MAX);
	ck_assert_uint_le(p.c.out_cap, CONN_OUTPUT_MAX);
	pair_close(&p);

	pair_open(&p, &h_plain, NULL);
	ck_assert_int_eq(ss_conn_write(&p.c, big, SIZE_MAX), -ENOBUFS);
	ck_assert_uint_eq(ss_conn_pending(&p.c), 0);
	pair_close(&p);
	free(big);
}
END_TEST

START_TEST(write_after_end_is_epipe)
{
	struct pair p;
	char buf[8];

	pair_open(&p, &h_plain, NULL);
	ck_assert_int_eq(ss_conn_write(&p.c, "a", 1), 0);
	ss_conn_end(&p.c);
	ck_assert(p.c.ended);
	ck_assert_int_eq(ss_conn_write(&p.c, "b", 1), -EPIPE);
	ck_assert_int_eq(conn_flush(&p.c), 0); /* queued before the end: still sent */
	client_read_exact(p.client, buf, 1, TEST_WAIT_MS);
	ck_assert_int_eq(buf[0], 'a');
	pair_close(&p);
}
END_TEST

/* A vanished peer is an error code; SIGPIPE would kill this test process. */
START_TEST(flush_to_closed_peer_is_epipe)
{
	struct pair p;

	pair_open(&p, &h_plain, NULL);
	ck_assert_int_eq(close(p.client), 0);
	p.client = -1;
	ck_assert_int_eq(ss_conn_write(&p.c, "abc", 3), 0);
	ck_assert_int_eq(conn_flush(&p.c), -EPIPE);
	pair_close(&p);
}
END_TEST

START_TEST(want_writable_flag)
{
	struct pair p;

	pair_open(&p, &h_plain, NULL);
	ck_assert(!p.c.want_writable);
	ss_conn_want_writable(&p.c, 5);
	ck_assert(p.c.want_writable);
	ss_conn_want_writable(&p.c, 0);
	ck_assert(!p.c.want_writable);
	pair_close(&p);
}
END_TEST

START_TEST(dispatch_counts_and_records_failure)
{
	struct pair p;

	pair_open(&p, &h_fail, NULL);
	uint64_t t0 = p.c.activity_usec;
	ck_assert_int_eq(conn_call_data(&p.c, "abcd", 4), 0);
	ck_assert_int_eq(datas, 1);
	ck_assert_uint_eq(p.c.bytes_in, 4);
	ck_assert_uint_ge(p.c.activity_usec, t0);
	ck_assert_int_eq(conn_call_writable(&p.c), 0); /* no callback: nothing to do */
	ck_assert_int_eq(conn_call_open(&p.c), -EIO);
	ck_assert(p.c.failed);
	ck_assert_int_eq(ss_conn_write(&p.c, "x", 1), -EPIPE);
	ck_assert_int_eq(conn_call_data(&p.c, "x", 1), 0); /* failed: not dispatched */
	ck_assert_int_eq(datas, 1);
	conn_call_close(&p.c);
	conn_call_close(&p.c);
	pair_close(&p);
	ck_assert_int_eq(closes, 1);
}
END_TEST

START_TEST(handler_without_callbacks)
{
	struct pair p;

	pair_open(&p, &h_empty, NULL);
	ck_assert_int_eq(conn_call_open(&p.c), 0);
	ck_assert_int_eq(conn_call_data(&p.c, "ab", 2), 0);
	ck_assert_uint_eq(p.c.bytes_in, 2);
	ck_assert_int_eq(conn_call_writable(&p.c), 0);
	pair_close(&p);
	ck_assert(p.c.closed);
}
END_TEST

START_TEST(args_view_lookups)
{
	struct config_kv kv[] = {
	        {.key = "greeting", .value = "hello"},
	        {.key = "limit", .value = "3"},
	};
	struct ss_args a;

	args_view(&a, kv, 2);
	ck_assert_uint_eq(ss_args_count(&a), 2);
	ck_assert_str_eq(ss_args_get(&a, "greeting"), "hello");
	ck_assert_str_eq(ss_args_get(&a, "limit"), "3");
	ck_assert_ptr_null(ss_args_get(&a, "missing"));
	ck_assert_ptr_null(ss_args_get(&a, NULL));
	ck_assert_str_eq(ss_args_key(&a, 0), "greeting");
	ck_assert_str_eq(ss_args_key(&a, 1), "limit");
	ck_assert_ptr_null(ss_args_key(&a, 2));

	args_view(&a, NULL, 0);
	ck_assert_uint_eq(ss_args_count(&a), 0);
	ck_assert_ptr_null(ss_args_get(&a, "greeting"));
	ck_assert_uint_eq(ss_args_count(NULL), 0);
	ck_assert_ptr_null(ss_args_get(NULL, "greeting"));
	ck_assert_ptr_null(ss_args_key(NULL, 0));
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("conn");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, init_reads_addresses_and_clock);
	tcase_add_test(tc, init_without_socket_has_unknown_addresses);
	tcase_add_test(tc, write_then_flush);
	tcase_add_test(tc, flush_would_block_keeps_order);
	tcase_add_test(tc, write_reuses_sent_space);
	tcase_add_test(tc, write_beyond_cap_is_refused);
	tcase_add_test(tc, write_after_end_is_epipe);
	tcase_add_test(tc, flush_to_closed_peer_is_epipe);
	tcase_add_test(tc, want_writable_flag);
	tcase_add_test(tc, dispatch_counts_and_records_failure);
	tcase_add_test(tc, handler_without_callbacks);
	tcase_add_test(tc, args_view_lookups);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
