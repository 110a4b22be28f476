/* The built-in handlers, byte for byte, through the real driver over a socketpair. */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpm/driver.h"
#include "services/builtins.h"
#include "services/chargen.h"
#include "services/timeproto.h"
#include "tests/unit/conn_harness.h"

#define LINE (CHARGEN_LINE + 2)

static void chargen_line(char *line, unsigned k)
{
	for (unsigned i = 0; i < CHARGEN_LINE; i++)
		line[i] = (char)(' ' + (k + i) % 95);
	line[CHARGEN_LINE] = '\r';
	line[CHARGEN_LINE + 1] = '\n';
}

START_TEST(table)
{
	static const char *const names[] = {"chargen", "daytime", "discard", "echo", "time"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct ss_handler *h = builtin_find(names[i]);

		ck_assert_ptr_nonnull(h);
		ck_assert_str_eq(h->name, names[i]);
		ck_assert_uint_eq(h->abi_major, SS_HANDLER_ABI_MAJOR);
		ck_assert_uint_eq(h->struct_size, sizeof(struct ss_handler));
	}
	ck_assert_ptr_null(builtin_find("qotd"));
	ck_assert_ptr_null(builtin_find(""));
	ck_assert_ptr_null(builtin_find(NULL));
	ck_assert_str_eq(builtin_names(), "chargen, daytime, discard, echo, forward, time");
}
END_TEST

START_TEST(echo_short)
{
	struct drv_run r = {0};
	char buf[16];

	drv_start(&r, builtin_find("echo"), NULL);
	client_send_all(r.client, "hello\r\n", 7);
	client_read_exact(r.client, buf, 7, TEST_WAIT_MS);
	ck_assert(memcmp(buf, "hello\r\n", 7) == 0);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_uint_eq(r.c.bytes_in, 7);
	ck_assert_uint_eq(r.c.bytes_out, 7);
}
END_TEST

/* More than every buffer on the way: sending and reading interleaved, as a real client must. */
START_TEST(echo_bulk)
{
	enum { TOTAL = 2 * 1024 * 1024 };
	struct drv_run r = {0};
	static unsigned char out[TOTAL], in[TOTAL];
	size_t sent = 0, got = 0;
	uint64_t deadline = test_now_ms() + 10000;

	for (size_t i = 0; i < TOTAL; i++)
		out[i] = (unsigned char)(i * 31 + (i >> 12));
	drv_start(&r, builtin_find("echo"), NULL);
	while (got < TOTAL) {
		struct pollfd pfd = {.fd = r.client, .events = POLLIN};
		uint64_t now = test_now_ms();

		ck_assert_msg(now < deadline, "stuck at %zu sent, %zu echoed", sent, got);
		if (sent < TOTAL)
			pfd.events |= POLLOUT;
		ck_assert_int_ge(poll(&pfd, 1, (int)(deadline - now)), 0);
		if (pfd.revents & POLLOUT) {
			ssize_t n = send(r.client, out + sent, TOTAL - sent,
			                 MSG_NOSIGNAL | MSG_DONTWAIT);

			ck_assert(n > 0 || errno == EAGAIN);
			if (n > 0)
				sent += (size_t)n;
			if (sent == TOTAL)
				ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
		}
		if (pfd.revents & POLLIN) {
			ssize_t n = recv(r.client, in + got, TOTAL - got, MSG_DONTWAIT);

			ck_assert(n > 0 || errno == EAGAIN);
			if (n > 0)
				got += (size_t)n;
		}
	}
	ck_assert(memcmp(in, out, TOTAL) == 0);
	ck_assert_uint_eq(client_read_to_eof(r.client, in, sizeof(in), TEST_WAIT_MS), 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_uint_eq(r.c.bytes_out, TOTAL);
}
END_TEST

START_TEST(discard_sends_nothing)
{
	enum { TOTAL = 300 * 1024 };
	struct drv_run r = {0};
	static char out[TOTAL];
	char buf[16];

	memset(out, 'd', sizeof(out));
	drv_start(&r, builtin_find("discard"), NULL);
	client_send_all(r.client, out, sizeof(out));
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 0);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_uint_eq(r.c.bytes_in, TOTAL);
	ck_assert_uint_eq(r.c.bytes_out, 0);
}
END_TEST

START_TEST(chargen_fill_matches_lines)
{
	enum { LINES = 3 * 95 + 7 };
	static char once[LINES * LINE], pieces[LINES * LINE];
	char want[LINE];
	static const size_t sizes[] = {1, 7, 71, 72, 73, 74, 75, 500, 4096};
	unsigned pos = 0;
	size_t off = 0;

	chargen_fill(once, sizeof(once), &pos);
	ck_assert_uint_eq(pos, (LINES * LINE) % CHARGEN_PERIOD);
	for (unsigned k = 0; k < LINES; k++) {
		chargen_line(want, k);
		ck_assert_msg(memcmp(once + (size_t)k * LINE, want, LINE) == 0, "line %u", k);
	}
	/* Any chunking gives the same stream. */
	pos = 0;
	for (size_t i = 0; off < sizeof(pieces); i++) {
		size_t n = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];

		if (n > sizeof(pieces) - off)
			n = sizeof(pieces) - off;
		chargen_fill(pieces + off, n, &pos);
		ck_assert_uint_lt(pos, CHARGEN_PERIOD);
		off += n;
	}
	ck_assert(memcmp(once, pieces, sizeof(once)) == 0);
}
END_TEST

/* RFC 864's pattern from the first byte, and the wrap after 95 lines. */
START_TEST(chargen_stream)
{
	enum { LINES = 2 * 95 + 3 };
	struct drv_run r = {0};
	static char got[LINES * LINE];
	char want[LINE];

	drv_start(&r, builtin_find("chargen"), NULL);
	client_read_exact(r.client, got, sizeof(got), TEST_WAIT_MS);
	ck_assert(memcmp(got,
	                 " !\"#$%&'()*+,-./"
	                 "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n"
	                 "!\"#$%&'()*+,-./"
	                 "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n",
	                 2 * LINE) == 0);
	/* Line 94 starts with the last printable character and wraps inside the line. */
	ck_assert(memcmp(got + 94 * LINE, "~ !\"#$%&'()*", 12) == 0);
	ck_assert(memcmp(got + 95 * LINE, got, LINE) == 0);
	for (unsigned k = 0; k < LINES; k++) {
		chargen_line(want, k);
		ck_assert_msg(memcmp(got + (size_t)k * LINE, want, LINE) == 0, "line %u", k);
	}
	ck_assert_int_eq(close(r.client), 0);
	r.client = -1;
	enum driver_outcome o = drv_join(&r, TEST_WAIT_MS);
	ck_assert(o == DRIVER_PEER_GONE || o == DRIVER_COMPLETED);
}
END_TEST

/* A client that half-closes gets the rest of what was queued, then a clean end. */
START_TEST(chargen_half_close_ends_cleanly)
{
	struct drv_run r = {0};
	static char got[1024 * 1024];
	char line[LINE];

	drv_start(&r, builtin_find("chargen"), NULL);
	client_read_exact(r.client, line, sizeof(line), TEST_WAIT_MS);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	size_t n = client_read_to_eof(r.client, got, sizeof(got), TEST_WAIT_MS);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_uint_eq(r.c.bytes_out, n + LINE);
	ck_assert_uint_le(n, 2 * SS_CONN_HIGH_WATER);
}
END_TEST

/* chargen wrapped so the driver thread records its queue at every callback. */
static struct {
	size_t max_pending, max_cap;
	int writables;
} cg;

static void cg_note(struct ss_conn *c)
{
	if (ss_conn_pending(c) > cg.max_pending)
		cg.max_pending = ss_conn_pending(c);
	if (c->out_cap > cg.max_cap)
		cg.max_cap = c->out_cap;
}

static int cg_open(struct ss_conn *c)
{
	int r = builtin_find("chargen")->open(c);

	cg_note(c);
	return r;
}

static int cg_writable(struct ss_conn *c)
{
	int r = builtin_find("chargen")->writable(c);

	cg.writables++;
	cg_note(c);
	return r;
}

static const struct ss_handler cg_probe = {
        SS_HANDLER_HEADER("chargen-probe"),
        .open = cg_open,
        .writable = cg_writable,
};

START_TEST(chargen_bounded_against_non_reader)
{
	struct drv_run r = {0};
	struct pollfd pfd;
	uint64_t deadline = test_now_ms() + TEST_WAIT_MS;

	memset(&cg, 0, sizeof(cg));
	drv_start(&r, &cg_probe, NULL);
	/* Wait until the server's socket is full, then leave it stalled for a while. */
	for (;;) {
		pfd = (struct pollfd){.fd = r.server, .events = POLLOUT};
		ck_assert_int_ge(poll(&pfd, 1, 0), 0);
		if (!(pfd.revents & POLLOUT))
			break;
		ck_assert_msg(test_now_ms() < deadline, "the server's socket never filled");
		test_pace_ms(5);
	}
	pfd = (struct pollfd){.fd = r.client, .events = POLLRDHUP};
	ck_assert_int_eq(poll(&pfd, 1, 400), 0); /* observe: the server must not hang up */
	r.stop = 1;
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_STOPPED);
	ck_assert_int_gt(cg.writables, 0);
	ck_assert_uint_gt(r.c.bytes_out, SS_CONN_HIGH_WATER);
	ck_assert_uint_le(cg.max_pending, SS_CONN_HIGH_WATER);
	ck_assert_uint_le(cg.max_cap, 2 * SS_CONN_HIGH_WATER);
}
END_TEST

START_TEST(daytime_line)
{
	struct drv_run r = {0};
	char buf[64] = {0};
	struct tm tm = {0};
	time_t now = time(NULL);

	drv_start(&r, builtin_find("daytime"), NULL);
	size_t n = client_read_to_eof(r.client, buf, sizeof(buf) - 1, TEST_WAIT_MS);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	ck_assert_uint_eq(n, 26);
	ck_assert(buf[24] == '\r' && buf[25] == '\n');
	char *end = strptime(buf, "%a %b %e %H:%M:%S %Y", &tm);
	ck_assert_ptr_eq(end, buf + 24);
	tm.tm_isdst = -1;
	ck_assert_int_le(labs((long)(mktime(&tm) - now)), 5);
}
END_TEST

/* Same text as ctime(3), with CR LF; the day of the month padded with a space. */
START_TEST(daytime_format_is_ctime)
{
	static const time_t samples[] = {0, 86400 * 3 + 7, 1000000000, 1700000000, 2085978495};
	char got[64], want[32];

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		ck_assert_ptr_nonnull(ctime_r(&samples[i], want));
		size_t len = strlen(want);
		ck_assert_int_eq(want[len - 1], '\n');
		memcpy(want + len - 1, "\r\n", 3);
		ck_assert_int_eq(timeproto_daytime(samples[i], got, sizeof(got)), (int)len + 1);
		ck_assert_str_eq(got, want);
	}
	ck_assert_int_eq(timeproto_daytime(0, got, 10), -ENOSPC);
}
END_TEST

START_TEST(time_value)
{
	struct drv_run r = {0};
	unsigned char buf[8];
	uint32_t v;

	drv_start(&r, builtin_find("time"), NULL);
	ck_assert_uint_eq(client_read_to_eof(r.client, buf, sizeof(buf), TEST_WAIT_MS), 4);
	ck_assert_int_eq(drv_join(&r, TEST_WAIT_MS), DRIVER_COMPLETED);
	memcpy(&v, buf, 4);
	v = ntohl(v);
	uint32_t now = (uint32_t)((uint64_t)time(NULL) + 2208988800u);
	ck_assert_uint_le(now - v, 5); /* unsigned: also catches v ahead of now */
}
END_TEST

START_TEST(time_rfc868_epoch_and_wrap)
{
	ck_assert_uint_eq(timeproto_rfc868(0), 2208988800u);
	ck_assert_uint_eq(timeproto_rfc868(-2208988800LL), 0);
	/* 2036-02-07T06:28:16Z: the 32-bit count wraps to zero. */
	ck_assert_uint_eq(timeproto_rfc868(2085978496LL), 0);
	ck_assert_uint_eq(timeproto_rfc868(2085978495LL), UINT32_MAX);
}
END_TEST

static Suite *builtins_suite(void)
{
	Suite *s = suite_create("builtins");
	TCase *tc = tcase_create("builtins");

	tcase_add_test(tc, table);
	tcase_add_test(tc, echo_short);
	tcase_add_test(tc, echo_bulk);
	tcase_add_test(tc, discard_sends_nothing);
	tcase_add_test(tc, chargen_fill_matches_lines);
	tcase_add_test(tc, chargen_stream);
	tcase_add_test(tc, chargen_half_close_ends_cleanly);
	tcase_add_test(tc, chargen_bounded_against_non_reader);
	tcase_add_test(tc, daytime_line);
	tcase_add_test(tc, daytime_format_is_ctime);
	tcase_add_test(tc, time_value);
	tcase_add_test(tc, time_rfc868_epoch_and_wrap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(builtins_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
