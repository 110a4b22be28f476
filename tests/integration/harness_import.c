/*
 * What the import-and-run tests share: importing, checking, running programs with a
 * deadline, and the real xinetd as the reference the imported services are compared
 * with.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_import.h"

#define XINETD "/usr/sbin/xinetd"

char *hi_import(const char *dir, const char *args, int *status)
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
	ck_assert_ptr_nonnull(buf);
	while ((r = fread(buf + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	buf[n] = 0;
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

void hi_check_config(const char *yaml)
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

void hi_write(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
}

int hi_run(const char *const argv[], const char *out, int timeout_ms)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || o < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	long long end = h_now_ms() + timeout_ms;
	int st;
	pid_t r;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && h_now_ms() < end)
		h_pause_ms(20);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fprintf(stderr, "%s: killed at its deadline (%d ms)\n", argv[0], timeout_ms);
		return -1;
	}
	ck_assert_int_eq(r, pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *hi_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0, r;
	char *buf = malloc(cap + 1);

	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *b = realloc(buf, 2 * cap + 1);
			ck_assert_ptr_nonnull(b);
			buf = b;
			cap *= 2;
		}
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

bool hi_udp_bound(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool bound;

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	bound = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == EADDRINUSE;
	close(fd);
	return bound;
}

const char *hi_xinetd_missing(void)
{
	if (access(XINETD, X_OK) < 0)
		return "xinetd is not installed (the bench installs it): no comparison with it";
	if (geteuid() != 0)
		return "xinetd runs its services as their users: needs root";
	return NULL;
}

void hi_xinetd_start(struct hi_xinetd *x, const char *dir, const char *services)
{
	char pidfile[256];
	snprintf(x->conf, sizeof(x->conf), "%s/xinetd-real.conf", dir);
	snprintf(x->log, sizeof(x->log), "%s/xinetd.log", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/xinetd.pid", dir);
	hi_write(x->conf, "defaults\n{\n\tlog_type = FILE %s\n\tinstances = UNLIMITED\n}\n%s",
	         x->log, services);
	x->pid = fork();
	ck_assert_int_ge(x->pid, 0);
	if (x->pid == 0) {
		int o = open(x->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		/* Ended with the test, even one that fails before hi_xinetd_stop. */
		if (o < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
			_exit(126);
		execl(XINETD, "xinetd", "-dontfork", "-pidfile", pidfile, "-f", x->conf,
		      (char *)NULL);
		_exit(127);
	}
}

void hi_xinetd_stop(struct hi_xinetd *x)
{
	pid_t kids[64], r;
	int st, n = h_children(x->pid, kids, 64);

	ck_assert_int_eq(kill(x->pid, SIGTERM), 0);
	long long end = h_now_ms() + 30000;
	while ((r = waitpid(x->pid, &st, WNOHANG)) == 0 && h_now_ms() < end)
		h_pause_ms(20);
	if (r == 0) {
		kill(x->pid, SIGKILL);
		waitpid(x->pid, &st, 0);
	}
	ck_assert_msg(r == x->pid, "xinetd did not end on SIGTERM");
	x->pid = 0;
	/* A server under wait = yes (in.tftpd waits minutes for more requests) outlives
	 * xinetd's SIGTERM. */
	for (int i = 0; i < n; i++) {
		kill(kids[i], SIGKILL);
		ck_assert(h_wait_gone(kids[i], 30000));
	}
}
