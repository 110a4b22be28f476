/* What a listening socket gets again when a service takes it once more (a reload):
 * the options of the new configuration, the buffer sizes it no longer sets put back to
 * what the socket had before, and O_NONBLOCK, which a program handed the socket may
 * have cleared on the file description the master shares with it. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "superserverd/listen.h"

static int rcvbuf(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
	return v;
}

START_TEST(reacquired_socket_gets_defaults_and_nonblocking_back)
{
	char dir[] = "/tmp/ss-listen-XXXXXX", text[128], err[256];
	struct listen_conf lc = {.backlog = 16};
	struct listen_table *lt = listen_table_new();

	ck_assert_ptr_nonnull(lt);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(text, sizeof(text), "unixgram:%s/s.sock", dir);
	ck_assert_int_eq(addr_parse(text, &lc.addr, err, sizeof(err)), 0);

	/* What the system gives a socket that sets nothing. */
	struct listener *plain = listen_acquire(lt, &lc, err, sizeof(err));
	ck_assert_msg(plain != NULL, "%s", err);
	int fd = listener_fd(plain), dflt = rcvbuf(fd);
	listen_release(lt, plain);

	lc.receive_buffer = dflt * 2;
	struct listener *a = listen_acquire(lt, &lc, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	fd = listener_fd(a);
	ck_assert_int_eq(rcvbuf(fd), dflt * 4); /* the kernel doubles it */

	/* A program was handed the socket and left it blocking. */
	ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
	/* The next generation's service takes it without receive_buffer. */
	lc.receive_buffer = 0;
	struct listener *b = listen_acquire(lt, &lc, err, sizeof(err));
	ck_assert_msg(b == a, "%s", err);
	ck_assert_int_eq(rcvbuf(fd), dflt);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);

	listen_release(lt, a);
	listen_release(lt, b);
	listen_table_free(lt);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("listen");
	TCase *tc = tcase_create("reapply");
	tcase_add_test(tc, reacquired_socket_gets_defaults_and_nonblocking_back);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
