/*
 * The relay between a TLS client and an exec'd program (mpm/tls_relay.c): the relay
 * runs its blocking runner in a thread on a finished TLS connection and one end of a
 * socketpair; the test is both the OpenSSL client and the program (the socketpair's
 * other end). Half-closes both ways, back-pressure from a program that does not read,
 * truncation, the idle limit, a greeting ahead of the program's output.
 */
#include <stdlib.h>
#include <sys/uio.h>

#include "mpm/tls_relay.h"
#include "tests/unit/tls_harness.h"

struct relay_run {
	struct pair p;
	int prog[2]; /* [0] the relay's end, [1] the program's */
	struct tls_relay *r;
	struct driver_limits lim;
	volatile int stop;
	enum driver_outcome out;
	pthread_t th;
	bool running;
};

static bool rr_stop(void *arg)
{
	return *(volatile int *)arg != 0;
}

static void *rr_thread(void *arg)
{
	struct relay_run *rr = arg;

	rr->out = tls_relay_run_blocking(rr->r, &rr->lim, rr_stop, (void *)&rr->stop);
	return NULL;
}

/* With a GREETING of N pieces (N 0: none). */
static void rr_start_greeting(struct relay_run *rr, const struct iovec *greeting, int n)
{
	pair_open(&rr->p, srv_ctx(SSL_VERIFY_NONE), cli_ctx(NULL));
	pair_handshake(&rr->p);
	ck_assert_int_eq(rr->p.ss, TLS_DONE);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rr->prog), 0);
	rr->r = tls_relay_new(rr->p.t, rr->p.sfd, rr->prog[0], conn_now_usec());
	ck_assert_ptr_nonnull(rr->r);
	tls_relay_greet(rr->r, greeting, n);
	ck_assert_int_eq(pthread_create(&rr->th, NULL, rr_thread, rr), 0);
	rr->running = true;
}

static void rr_start(struct relay_run *rr)
{
	rr_start_greeting(rr, NULL, 0);
}

static enum driver_outcome rr_join(struct relay_run *rr)
{
	ck_assert_int_eq(pthread_join(rr->th, NULL), 0);
	rr->running = false;
	return rr->out;
}

static void rr_close(struct relay_run *rr)
{
	if (rr->running) {
		rr->stop = 1;
		(void)rr_join(rr);
	}
	tls_relay_free(rr->r);
	close(rr->prog[0]);
	if (rr->prog[1] >= 0)
		close(rr->prog[1]);
	pair_close(&rr->p);
}

/* The program reads up to LEN bytes, stopping early at its end of input; returns the
 * count. */
static size_t prog_read(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		ck_assert_msg(poll(&pfd, 1, TEST_WAIT_MS) > 0, "the program got nothing");
		n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void prog_expect(int fd, const char *want)
{
	char buf[64];
	size_t len = strlen(want);

	ck_assert_uint_eq(prog_read(fd, buf, len), len);
	ck_assert_int_eq(memcmp(buf, want, len), 0);
}

static void prog_expect_eof(int fd)
{
	char c;

	ck_assert_uint_eq(prog_read(fd, &c, 1), 0);
}

/* The program ends its output first: the client gets close_notify and a FIN, and may
 * still send; its close_notify then ends the program's input. */
START_TEST(program_ends_first)
{
	struct relay_run rr = {0};
	char c;

	rr_start(&rr);
	cli_write_all(rr.p.c, rr.p.cfd, "ping", 4);
	prog_expect(rr.prog[1], "ping");
	ck_assert_int_eq(send(rr.prog[1], "pong", 4, 0), 4);
	ck_assert_int_eq(shutdown(rr.prog[1], SHUT_WR), 0);
	cli_expect(&rr.p, "pong", SSL_ERROR_ZERO_RETURN);
	/* close_notify, then the TCP-level end. */
	struct pollfd pfd = {.fd = rr.p.cfd, .events = POLLIN};
	ck_assert_int_gt(poll(&pfd, 1, TEST_WAIT_MS), 0);
	ck_assert_int_eq(recv(rr.p.cfd, &c, 1, MSG_DONTWAIT), 0);
	cli_write_all(rr.p.c, rr.p.cfd, "more", 4);
	prog_expect(rr.prog[1], "more");
	cli_shutdown(rr.p.c, rr.p.cfd);
	prog_expect_eof(rr.prog[1]);
	ck_assert_int_eq(rr_join(&rr), DRIVER_COMPLETED);
	ck_assert(!tls_relay_truncated(rr.r));
	ck_assert_uint_eq(tls_relay_bytes_in(rr.r), 8);
	ck_assert_uint_eq(tls_relay_bytes_out(rr.r), 4);
	rr_close(&rr);
}
END_TEST

/* The client ends first: the program reads to its end, then answers and ends. */
START_TEST(client_ends_first)
{
	struct relay_run rr = {0};

	rr_start(&rr);
	cli_write_all(rr.p.c, rr.p.cfd, "question", 8);
	cli_shutdown(rr.p.c, rr.p.cfd);
	prog_expect(rr.prog[1], "question");
	prog_expect_eof(rr.prog[1]);
	ck_assert_int_eq(send(rr.prog[1], "answer", 6, 0), 6);
	ck_assert_int_eq(shutdown(rr.prog[1], SHUT_WR), 0);
	cli_expect(&rr.p, "answer", SSL_ERROR_ZERO_RETURN);
	ck_assert_int_eq(rr_join(&rr), DRIVER_COMPLETED);
	ck_assert(!tls_relay_truncated(rr.r));
	rr_close(&rr);
}
END_TEST

/* The program answers and exits while the client still sends: the answer reaches
 * the client, with close_notify, and the relay ends as a completed connection. */
START_TEST(program_exits_while_client_sends)
{
	struct relay_run rr = {0};

	rr_start(&rr);
	cli_write_all(rr.p.c, rr.p.cfd, "ping", 4);
	prog_expect(rr.prog[1], "ping");
	ck_assert_int_eq(send(rr.prog[1], "pong", 4, 0), 4);
	ck_assert_int_eq(close(rr.prog[1]), 0);
	rr.prog[1] = -1;
	cli_write_all(rr.p.c, rr.p.cfd, "more", 4);
	cli_expect(&rr.p, "pong", SSL_ERROR_ZERO_RETURN);
	ck_assert_int_eq(rr_join(&rr), DRIVER_COMPLETED);
	rr_close(&rr);
}
END_TEST

/* The client's stream ends without close_notify: the program still sees its input
 * end, and the relay says it was truncated. */
START_TEST(client_truncates)
{
	struct relay_run rr = {0};

	rr_start(&rr);
	cli_write_all(rr.p.c, rr.p.cfd, "x", 1);
	ck_assert_int_eq(shutdown(rr.p.cfd, SHUT_WR), 0);
	prog_expect(rr.prog[1], "x");
	prog_expect_eof(rr.prog[1]);
	ck_assert_int_eq(shutdown(rr.prog[1], SHUT_WR), 0);
	ck_assert_int_eq(rr_join(&rr), DRIVER_COMPLETED);
	ck_assert(tls_relay_truncated(rr.r));
	rr_close(&rr);
}
END_TEST

#define FLOOD (4 * 1024 * 1024)

/*
 * A program that does not read: the client is stopped by flow control well before
 * all it has is taken (the relay buffers one record, not the stream), the other
 * direction still flows meanwhile, and once the program reads everything arrives.
 */
START_TEST(program_that_does_not_read)
{
	struct relay_run rr = {0};
	char *up = malloc(FLOOD), *got = malloc(FLOOD);
	size_t off = 0, in = 0;
	bool stuck = false;

	ck_assert(up && got);
	fill(up, FLOOD, 7);
	rr_start(&rr);
	/* Write until a whole second passes without the client being able to: a loaded
	 * machine only makes that come sooner, never makes a relay that buffers stop. */
	while (off < FLOOD && !stuck) {
		size_t n;
		int e;

		if (SSL_write_ex(rr.p.c, up + off, FLOOD - off, &n) == 1) {
			off += n;
			continue;
		}
		e = SSL_get_error(rr.p.c, 0);
		ERR_clear_error();
		ck_assert(cli_waiting(e));
		struct pollfd pfd = {.fd = rr.p.cfd, .events = cli_events(e)};
		stuck = poll(&pfd, 1, 1000) == 0;
	}
	ck_assert_msg(stuck && off < FLOOD,
	              "the client wrote %zu bytes to a program that reads none", off);
	/* The program's output still reaches the client. */
	ck_assert_int_eq(send(rr.prog[1], "hello", 5, 0), 5);
	cli_expect(&rr.p, "hello", 0);
	/* The program reads now; the client sends the rest. */
	while (in < FLOOD) {
		struct pollfd pfd[2] = {{.fd = rr.prog[1], .events = POLLIN}, {.fd = -1}};
		ssize_t r;
		size_t n;

		if (off < FLOOD) {
			if (SSL_write_ex(rr.p.c, up + off, FLOOD - off, &n) == 1) {
				off += n;
				continue;
			}
			int e = SSL_get_error(rr.p.c, 0);
			ERR_clear_error();
			ck_assert(cli_waiting(e));
			pfd[1] = (struct pollfd){.fd = rr.p.cfd, .events = cli_events(e)};
		}
		ck_assert_int_gt(poll(pfd, 2, TEST_WAIT_MS), 0);
		r = recv(rr.prog[1], got + in, FLOOD - in, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		ck_assert_int_gt(r, 0);
		in += (size_t)r;
	}
	ck_assert_uint_eq(checksum(got, FLOOD), checksum(up, FLOOD));
	cli_shutdown(rr.p.c, rr.p.cfd);
	prog_expect_eof(rr.prog[1]);
	ck_assert_int_eq(shutdown(rr.prog[1], SHUT_WR), 0);
	cli_expect(&rr.p, "", SSL_ERROR_ZERO_RETURN);
	ck_assert_int_eq(rr_join(&rr), DRIVER_COMPLETED);
	ck_assert_uint_eq(tls_relay_bytes_in(rr.r), FLOOD);
	rr_close(&rr);
	free(up);
	free(got);
}
END_TEST

/* Nobody sends: the idle limit ends the relay (and not before its time). */
START_TEST(idle_limit)
{
	struct relay_run rr = {.lim = {.idle_timeout_usec = 100000}};
	uint64_t start = conn_now_usec();

	rr_start(&rr);
	ck_assert_int_eq(rr_join(&rr), DRIVER_IDLE_TIMEOUT);
	ck_assert_uint_ge(conn_now_usec(), start + 100000);
	rr_close(&rr);
}
END_TEST

/* A greeting of many records, and the program's output at once: the client gets the
 * greeting whole, then the output. */
START_TEST(greeting_before_output)
{
	static char big[40 * 1024], got[sizeof(big) + 64];
	struct iovec greeting[2] = {{big, sizeof(big)}, {"motd\r\n", 6}};
	struct relay_run rr = {0};
	size_t n;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('A' + i % 26);
	rr_start_greeting(&rr, greeting, 2);
	ck_assert_int_eq(send(rr.prog[1], "prog", 4, 0), 4);
	ck_assert_int_eq(shutdown(rr.prog[1], SHUT_WR), 0);
	ck_assert_int_eq(cli_read_n(rr.p.c, rr.p.cfd, got, sizeof(got), &n), SSL_ERROR_ZERO_RETURN);
	ck_assert_uint_eq(n, sizeof(big) + 10);
	ck_assert_int_eq(memcmp(got, big, sizeof(big)), 0);
	ck_assert_int_eq(memcmp(got + sizeof(big), "motd\r\nprog", 10), 0);
	cli_shutdown(rr.p.c, rr.p.cfd);
	ck_assert_int_eq(rr_join(&rr), DRIVER_COMPLETED);
	ck_assert_uint_eq(tls_relay_bytes_out(rr.r), 4);
	rr_close(&rr);
}
END_TEST

static Suite *tls_relay_suite(void)
{
	Suite *s = suite_create("tls_relay");
	TCase *tc = tcase_create("tls_relay");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_add_test(tc, program_ends_first);
	tcase_add_test(tc, client_ends_first);
	tcase_add_test(tc, program_exits_while_client_sends);
	tcase_add_test(tc, client_truncates);
	tcase_add_test(tc, program_that_does_not_read);
	tcase_add_test(tc, idle_limit);
	tcase_add_test(tc, greeting_before_output);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tls_relay_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
