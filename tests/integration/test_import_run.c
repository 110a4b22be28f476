/*
 * superctl import, then the daemon: a corpus case (tests/import/debian, as Debian ships
 * xinetd.d) imported onto loopback high ports with --bind and --port, checked with
 * --check-config, started, and answered like under xinetd: echo on TCP and UDP,
 * daytime. Then an rsync --daemon service, imported from an xinetd file as rsync's
 * documentation writes it, greets with @RSYNCD. Root only (the imported services run
 * as their xinetd users, rsync as root).
 */
#include <arpa/inet.h>
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define RSYNC "/usr/bin/rsync"

/* Runs `cd dir && superctl import ARGS`; returns the YAML (caller frees) and the exit
 * status in *status. */
static char *import(const char *dir, const char *args, int *status)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && '%s' import --services '%s/tests/import/services' %s", dir,
	         getenv("SUPERCTL"), getenv("SS_SOURCE_DIR"), args);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	buf[n] = 0;
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

static void check_config(const char *yaml)
{
	char path[] = "/tmp/ss-import-XXXXXX", cmd[512];
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(yaml, f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "'%s' --check-config -c %s", h_binary(), path);
	int st = system(cmd);
	unlink(path);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "--check-config refused:\n%s", yaml);
}

static bool udp_echoes(int port, const char *msg)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char buf[64];
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(send(fd, msg, strlen(msg), 0), (ssize_t)strlen(msg));
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n = poll(&pfd, 1, 20000) == 1 ? recv(fd, buf, sizeof(buf), 0) : -1;
	close(fd);
	return n == (ssize_t)strlen(msg) && memcmp(buf, msg, (size_t)n) == 0;
}

START_TEST(debian_builtins)
{
	if (geteuid() != 0) {
		printf("SKIP: the imported services run as their own users: needs root\n");
		return;
	}
	static const char *const names[] = {
	        "echo-stream", "echo-dgram", "daytime-stream", "daytime-dgram", "discard-stream",
	        "time-stream", "time-dgram", "rsync",          "git",           "tftp"};
	int ports[10];
	char args[2048] = "--bind 127.0.0.1", dir[1024];
	for (int i = 0; i < 10; i++) {
		ports[i] = h_free_port();
		snprintf(args + strlen(args), sizeof(args) - strlen(args), " --port %s=%d",
		         names[i], ports[i]);
	}
	strcat(args, " xinetd xinetd.conf 2>/dev/null");
	snprintf(dir, sizeof(dir), "%s/tests/import/debian", getenv("SS_SOURCE_DIR"));
	int status;
	char *yaml = import(dir, args, &status);
	ck_assert_msg(status == 1, "exit status %d (approximated: chargen over UDP, root)", status);
	ck_assert_ptr_nonnull(strstr(yaml, "'udp:127.0.0.1:"));
	check_config(yaml);

	struct daemon d = {0};
	ck_assert_int_eq(h_start(&d, "%s", yaml), 0);
	int fd = h_connect("127.0.0.1", ports[0]);
	ck_assert(h_echoes(fd, "hello from xinetd.d/echo\n"));
	close(fd);
	ck_assert(udp_echoes(ports[1], "a datagram"));
	char line[64];
	fd = h_connect("127.0.0.1", ports[2]);
	ssize_t n = h_read_all(fd, line, sizeof(line), 20000);
	close(fd);
	ck_assert_int_eq(n, 26); /* "Mon Jan  2 15:04:05 2006\r\n" */
	ck_assert(line[24] == '\r' && line[25] == '\n');
	ck_assert_int_eq(h_stop(&d), 0);
	free(yaml);
}
END_TEST

START_TEST(rsync_daemon)
{
	if (geteuid() != 0 || access(RSYNC, X_OK) < 0) {
		printf("SKIP: needs root and rsync (scripts/deps.sh test)\n");
		return;
	}
	char dir[] = "/tmp/ss-import-rsync-XXXXXX", path[256], args[512];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rsyncd.conf", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "use chroot = no\n[pub]\npath = %s\nread only = yes\n", dir);
	fclose(f);
	snprintf(path, sizeof(path), "%s/xinetd.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
	        "service rsync\n{\n\tdisable = no\n\tsocket_type = stream\n\twait = no\n"
	        "\tuser = root\n\tserver = /usr/bin/rsync\n"
	        "\tserver_args = --daemon --config=%s/rsyncd.conf\n"
	        "\tlog_on_failure += USERID\n}\n",
	        dir);
	fclose(f);
	int port = h_free_port();
	snprintf(args, sizeof(args),
	         "--bind 127.0.0.1 --port rsync=%d xinetd xinetd.conf 2>/dev/null", port);
	int status;
	char *yaml = import(dir, args, &status);
	ck_assert_int_eq(status, 1); /* root, USERID */
	check_config(yaml);
	struct daemon d = {0};
	ck_assert_int_eq(h_start(&d, "%s", yaml), 0);
	int fd = h_connect("127.0.0.1", port);
	char buf[64] = "";
	ck_assert_int_eq(h_read_n(fd, buf, 9, 20000), 0);
	ck_assert_msg(memcmp(buf, "@RSYNCD: ", 9) == 0, "greeting: '%.9s'", buf);
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
	free(yaml);
	snprintf(args, sizeof(args), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(args), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("import_run");
	TCase *tc = tcase_create("import_run");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, debian_builtins);
	tcase_add_test(tc, rsync_daemon);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
