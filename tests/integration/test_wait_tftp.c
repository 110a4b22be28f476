/*
 * A real inetd `wait` program on UDP: tftpd-hpa's in.tftpd under the wait model,
 * fetched with tftp-hpa's tftp client. One 10 MiB file, then 20 clients at once;
 * every copy byte for byte the original. in.tftpd chroots (-s) and drops to nobody
 * (-u) itself, so it runs as root with those capabilities: root only.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

#define TFTPD       "/usr/sbin/in.tftpd"
#define TFTP        "/usr/bin/tftp"
#define FILE_SIZE   (10 * 1024 * 1024)
#define N_CLIENTS   20
#define DEADLINE_MS 300000

static char root[64]; /* the directory in.tftpd serves */

/* Why this cannot run here, or NULL. */
static const char *skip_reason(void)
{
	if (geteuid() != 0)
		return "in.tftpd chroots and changes user: needs root";
	if (access(TFTPD, X_OK) < 0 || access(TFTP, X_OK) < 0)
		return "tftpd-hpa or tftp-hpa is not installed (scripts/deps.sh test)";
	return NULL;
}

static void write_random_file(const char *path, size_t size)
{
	int in = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buf[65536];

	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(out, 0);
	for (size_t done = 0; done < size;) {
		ssize_t n = read(in, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(write(out, buf, (size_t)n), n); /* a file: never short */
		done += (size_t)n;
	}
	close(in);
	close(out);
}

static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa && fb;
	char x[65536], y[65536];

	while (same) {
		size_t n = fread(x, 1, sizeof(x), fa), m = fread(y, 1, sizeof(y), fb);
		same = n == m && memcmp(x, y, n) == 0;
		if (n == 0)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* Starts `tftp -m binary 127.0.0.1 PORT -c get NAME OUT`, not reading our stdin. */
static pid_t fetch(int port, const char *name, const char *out)
{
	char p[16];
	pid_t pid;

	snprintf(p, sizeof(p), "%d", port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
			_exit(126);
		execl(TFTP, "tftp", "-m", "binary", "127.0.0.1", p, "-c", "get", name, out,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Waits for every pid (deadline); the ones still running are killed. True when all
 * exited with status 0. */
static bool wait_all(pid_t *pids, int n, int timeout_ms)
{
	int left = n, failed = 0;
	long long end = h_now_ms() + timeout_ms;

	while (left > 0 && h_now_ms() < end) {
		for (int i = 0; i < n; i++) {
			int st;
			if (pids[i] <= 0 || waitpid(pids[i], &st, WNOHANG) != pids[i])
				continue;
			pids[i] = 0;
			left--;
			failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		if (left)
			h_pause_ms(20);
	}
	for (int i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	return left == 0 && failed == 0;
}

START_TEST(tftp_under_wait)
{
	const char *why = skip_reason();
	char src[128], out[128];
	struct daemon d = {0};
	pid_t pids[N_CLIENTS];
	int port = h_free_port();

	if (why) {
		printf("SKIP: %s\n", why);
		return;
	}
	snprintf(root, sizeof(root), "/tmp/ss-tftp.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	ck_assert_int_eq(chmod(root, 0755), 0);
	snprintf(src, sizeof(src), "%s/big.bin", root);
	write_random_file(src, FILE_SIZE);
	ck_assert_int_eq(h_start(&d,
	                         "services:\n  tftp:\n    listen: ['udp:127.0.0.1:%d']\n"
	                         "    exec: [" TFTPD ", -s, %s, -u, nobody]\n"
	                         "    user: root\n"
	                         "    capabilities: [CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT]\n"
	                         "    mpm: wait\n",
	                         port, root),
	                 0);
	/* Our outputs live in the daemon's temporary directory, outside in.tftpd's. */
	snprintf(out, sizeof(out), "%s/one.bin", d.dir);
	pids[0] = fetch(port, "big.bin", out);
	ck_assert_msg(wait_all(pids, 1, DEADLINE_MS), "tftp get failed");
	ck_assert_msg(same_file(src, out), "the copy differs from the original");
	for (int i = 0; i < N_CLIENTS; i++) {
		snprintf(out, sizeof(out), "%s/c%d.bin", d.dir, i);
		pids[i] = fetch(port, "big.bin", out);
	}
	ck_assert_msg(wait_all(pids, N_CLIENTS, DEADLINE_MS), "not every tftp get succeeded");
	for (int i = 0; i < N_CLIENTS; i++) {
		snprintf(out, sizeof(out), "%s/c%d.bin", d.dir, i);
		ck_assert_msg(same_file(src, out), "copy %d differs from the original", i);
	}
	/* One in.tftpd took the socket and serves on; stop ends it. */
	json_t *reply = hc_call(&d, "stats", "tftp");
	const json_t *runs = json_object_get(hc_service(reply, "tftp"), "runs");
	ck_assert_int_ge(hc_int(runs, "started"), 1);
	json_decref(reply);
	ck_assert_int_eq(h_stop(&d), 0);
	ck_assert_int_eq(unlink(src), 0);
	ck_assert_int_eq(rmdir(root), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wait + tftp");
	TCase *tc = tcase_create("tftp");
	tcase_add_test(tc, tftp_under_wait);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
