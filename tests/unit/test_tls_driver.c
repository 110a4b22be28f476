/*
 * The blocking driver over TLS (c->tls set, as the models will once listeners have a
 * `tls:`): the handshake before the handler, plaintext to the handler both ways, a
 * close_notify at a clean end, a failed or stalled handshake ending the connection
 * without the handler, and a relay refused.
 */
#include <netinet/in.h>
#include <stdlib.h>

#include "mpm/driver.h"
#include "tests/unit/tls_harness.h"

static int opens;
static char seen_protocol[32], seen_sni[64];
static int relay_answer;

static int h_open(struct ss_conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *p = ss_conn_tls_protocol(c), *n = ss_conn_tls_server_name(c);

	opens++;
	snprintf(seen_protocol, sizeof(seen_protocol), "%s", p ? p : "(null)");
	snprintf(seen_sni, sizeof(seen_sni), "%s", n ? n : "(null)");
	relay_answer = ss_conn_relay(c, (struct sockaddr *)&sa, sizeof(sa), NULL, 0, 0);
	return 0;
}

static int h_echo(struct ss_conn *c, const void *buf, size_t len)
{
	return ss_conn_write(c, buf, len);
}

static const struct ss_handler h = {
        SS_HANDLER_HEADER("tls-echo"),
        .open = h_open,
        .data = h_echo,
};

struct tls_drv {
	struct pair p;
	struct ss_conn c;
	struct driver_limits lim;
	volatile int stop;
	enum driver_outcome out;
	pthread_t th;
};

static void *td_thread(void *arg)
{
	struct tls_drv *d = arg;

	d->out = driver_serve(&d->c, &d->lim, &d->stop);
	return NULL;
}

/* The driver takes the server's end and its TLS state (conn_destroy frees both). */
static void td_start(struct tls_drv *d)
{
	pair_open(&d->p, srv_ctx(SSL_VERIFY_NONE), cli_ctx(NULL));
	conn_init(&d->c, d->p.sfd, &h, NULL);
	d->c.tls = d->p.t;
	d->p.t = NULL;
	d->p.sfd = -1;
	ck_assert_int_eq(pthread_create(&d->th, NULL, td_thread, d), 0);
}

static enum driver_outcome td_join(struct tls_drv *d)
{
	ck_assert_int_eq(pthread_join(d->th, NULL), 0);
	pair_close(&d->p);
	return d->out;
}

/* The client's side of the handshake alone: the driver does the server's. */
static void cli_handshake(struct pair *p)
{
	for (;;) {
		int r = SSL_do_handshake(p->c), e;

		if (r == 1)
			return;
		e = SSL_get_error(p->c, r);
		ERR_clear_error();
		ck_assert_msg(cli_waiting(e), "client handshake failed: %d", e);
		struct pollfd pfd = {.fd = p->cfd, .events = cli_events(e)};
		ck_assert_msg(poll(&pfd, 1, TEST_WAIT_MS) > 0, "no handshake");
	}
}

#define BULK (1024 * 1024)

START_TEST(echo_through_tls)
{
	struct tls_drv d = {0};
	char *up = malloc(BULK), *got = malloc(BULK);
	size_t off = 0, in = 0;

	ck_assert(up && got);
	fill(up, BULK, 11);
	td_start(&d);
	ck_assert_int_eq(SSL_set_tlsext_host_name(d.p.c, "echo.example"), 1);
	cli_handshake(&d.p);
	while (in < BULK) {
		short ev = 0;
		size_t n;
		int e;

		if (off < BULK) {
			if (SSL_write_ex(d.p.c, up + off, BULK - off, &n) == 1) {
				off += n;
				continue;
			}
			e = SSL_get_error(d.p.c, 0);
			ck_assert(cli_waiting(e));
			ev |= cli_events(e);
		}
		if (SSL_read_ex(d.p.c, got + in, BULK - in, &n) == 1) {
			in += n;
			continue;
		}
		e = SSL_get_error(d.p.c, 0);
		ck_assert(cli_waiting(e));
		ev |= cli_events(e);
		struct pollfd pfd = {.fd = d.p.cfd, .events = ev};
		ck_assert_msg(poll(&pfd, 1, TEST_WAIT_MS) > 0, "no echo");
	}
	ck_assert_uint_eq(checksum(got, BULK), checksum(up, BULK));
	/* A clean end from the client: the driver ends cleanly too. */
	cli_shutdown(d.p.c, d.p.cfd);
	cli_expect(&d.p, "", SSL_ERROR_ZERO_RETURN);
	ck_assert_int_eq(td_join(&d), DRIVER_COMPLETED);
	ck_assert_int_eq(opens, 1);
	ck_assert_str_eq(seen_protocol, "TLSv1.3");
	ck_assert_str_eq(seen_sni, "echo.example");
	ck_assert_int_eq(relay_answer, -EOPNOTSUPP);
	free(up);
	free(got);
}
END_TEST

START_TEST(failed_handshake_skips_the_handler)
{
	struct tls_drv d = {0};

	td_start(&d);
	ck_assert_int_eq(write(d.p.cfd, "GET / HTTP/1.0\r\n\r\n", 18), 18);
	ck_assert_int_eq(td_join(&d), DRIVER_PEER_GONE);
	ck_assert_int_eq(opens, 0);
	ck_assert_int_eq(d.c.tls_failure, TLS_FAIL_NOT_TLS);
	ck_assert_ptr_null(d.c.tls);
}
END_TEST

/* A client that says nothing: the handshake's own deadline ends it, counted as an
 * idle timeout, the failure as a timeout. */
START_TEST(stalled_handshake_times_out)
{
	struct tls_drv d = {.lim = {.handshake_timeout_usec = 100000}};
	uint64_t start = conn_now_usec();

	td_start(&d);
	ck_assert_int_eq(td_join(&d), DRIVER_IDLE_TIMEOUT);
	ck_assert_uint_ge(conn_now_usec(), start + 100000);
	ck_assert_int_eq(opens, 0);
	ck_assert_int_eq(d.c.tls_failure, TLS_FAIL_TIMEOUT);
}
END_TEST

/* max_duration bounds the handshake too, and says so. */
START_TEST(handshake_within_max_duration)
{
	struct tls_drv d = {
	        .lim = {.handshake_timeout_usec = 60000000, .max_duration_usec = 100000}};

	td_start(&d);
	ck_assert_int_eq(td_join(&d), DRIVER_DURATION);
	ck_assert_int_eq(d.c.tls_failure, TLS_FAIL_TIMEOUT);
}
END_TEST

static Suite *tls_driver_suite(void)
{
	Suite *s = suite_create("tls_driver");
	TCase *tc = tcase_create("tls_driver");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_add_test(tc, echo_through_tls);
	tcase_add_test(tc, failed_handshake_skips_the_handler);
	tcase_add_test(tc, stalled_handshake_times_out);
	tcase_add_test(tc, handshake_within_max_duration);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tls_driver_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
