/* The LISTEN_FDS hand-over (superserverd/listenfds.c): sockets land at 3, 4, ... in
 * order even when some already sit on another's target, inherited by an exec and
 * nothing else of theirs; and LISTEN_FDNAMES joins the names with ':'. */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "superserverd/listenfds.h"

START_TEST(names_joined)
{
	const char *three[] = {"echo", "ssd-127.0.0.1%3A7", "control"};
	char *s;

	s = listenfds_names_env(three, 3);
	ck_assert_str_eq(s, "LISTEN_FDNAMES=echo:ssd-127.0.0.1%3A7:control");
	free(s);
	s = listenfds_names_env(three, 1);
	ck_assert_str_eq(s, "LISTEN_FDNAMES=echo");
	free(s);
	s = listenfds_names_env(NULL, 0);
	ck_assert_str_eq(s, "LISTEN_FDNAMES=");
	free(s);
}
END_TEST

/* What the child checks, as its exit status: 0 when every check held. */
enum { OK, SETUP, PLACE, WRONG_FILE, CLOEXEC_SET, ORIGINAL_LOST };

static ino_t inode(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* In a child of its own: placing takes descriptors 3, 4, 5, which may be Check's. */
static int place_in_child(void)
{
	int a[2], b[2];
	ino_t want[3];

	/* Four sockets (an inode each) at 3 to 6, after closing what sits there. The one
	 * for 3 is at 4 and the one for 4 at 3 (a swap); the one for 5 at 6. */
	for (int fd = 3; fd < 16; fd++)
		close(fd);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, b) < 0 || a[0] != 3 || b[1] != 6)
		return SETUP;
	for (int fd = 3; fd <= 6; fd++)
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return SETUP;
	int fds[3] = {4, 3, 6};
	for (int i = 0; i < 3; i++)
		want[i] = inode(fds[i]);
	if (listenfds_place(fds, 3) < 0)
		return PLACE;
	for (int i = 0; i < 3; i++) {
		if (inode(3 + i) != want[i])
			return WRONG_FILE;
		if (fcntl(3 + i, F_GETFD) != 0)
			return CLOEXEC_SET;
	}
	/* The original of 5 (at 6) is still open, close-on-exec as it was. */
	if (fcntl(6, F_GETFD) != FD_CLOEXEC)
		return ORIGINAL_LOST;
	return OK;
}

START_TEST(placed_in_order)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(place_in_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("listenfds");
	TCase *tc = tcase_create("listenfds");
	tcase_add_test(tc, names_joined);
	tcase_add_test(tc, placed_in_order);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
