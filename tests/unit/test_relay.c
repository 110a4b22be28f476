/*
 * The relay's state machine (mpm/relay.c) driven step by step on a socketpair (the
 * client) and a Unix-socket target, without a loop: what one step must finish by
 * itself because nothing will wake the relay for it again.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mpm/relay.h"

/* Copy mode's read size (relay.c's RELAY_BUF) and reads per direction and step. */
#define READ_SIZE (16 * 1024)
#define ROUNDS    4

static const struct ss_handler no_callbacks;
static char dir[64], path[128];
static int lfd = -1, client = -1;
static struct ss_conn c;

static void setup(void)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int sp[2];

	strcpy(dir, "/tmp/relayut.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.sock", dir);
	strcpy(su.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&su, sizeof(su)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(fcntl(sp[0], F_SETFL, O_NONBLOCK), 0);
	conn_init(&c, sp[0], &no_callbacks, NULL);
	client = sp[1];
	c.relay_req = calloc(1, sizeof(*c.relay_req));
	ck_assert_ptr_nonnull(c.relay_req);
	memcpy(&c.relay_req->target, &su, sizeof(su));
	c.relay_req->target_len = sizeof(su);
	c.relay_req->connect_timeout_usec = 1000000;
}

static void teardown(void)
{
	conn_destroy(&c);
	close(client);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

static void write_all(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, b, n);
		ck_assert_int_gt(k, 0);
		b += k;
		n -= (size_t)k;
	}
}

/* The target's end of input read in a step's last round reaches the client in that
 * step: afterwards the relay waits on neither side for it (the client has nothing
 * more to take, the target nothing more to give), so a later step never comes. */
START_TEST(end_read_in_last_round)
{
	static char out[(ROUNDS - 1) * READ_SIZE], in[sizeof(out) + 1];
	struct relay *r = relay_start(&c);
	size_t got = 0;
	ssize_t n;
	int t;

	ck_assert_ptr_nonnull(r);
	/* A Unix socket with room in its backlog connects at once. */
	ck_assert_uint_eq(relay_connect_deadline(r), 0);
	t = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(t, 0);
	memset(out, 'x', sizeof(out));
	write_all(t, out, sizeof(out));
	ck_assert_int_eq(shutdown(t, SHUT_WR), 0);

	ck_assert_int_eq(relay_step(r, 0, RELAY_IN, conn_now_usec()), RELAY_MORE);
	while ((n = recv(client, in + got, sizeof(in) - got, MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	ck_assert_uint_eq(got, sizeof(out));
	ck_assert_msg(n == 0, "no end of input for the client (recv: %s)",
	              n < 0 ? strerror(errno) : "data");
	/* Only the client's direction is left: the target is not waited on. */
	ck_assert_uint_eq(relay_up_want(r), 0);
	ck_assert_uint_eq(relay_want(r), RELAY_IN);
	relay_free(r);
	close(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("steps");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, end_read_in_last_round);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
