/*
 * superctl import, then the daemon: a corpus case (tests/import/debian, as Debian ships
 * xinetd.d) imported onto loopback high ports with --bind and --port, checked with
 * --check-config, started, and answered like under xinetd: echo on TCP and UDP,
 * daytime. Then xinetd files written as the packages ship them, for programs this host
 * has: rsync --daemon greets with @RSYNCD; git daemon serves a clone; in.tftpd under
 * wait = yes (user = root: it chroots) serves a file; a redirect forwards to a local
 * service. Where xinetd is installed (the bench installs it), the same service file
 * also runs under the real xinetd and both must answer the same bytes. Root only (the
 * imported services run as their xinetd users, some as root).
 */
#include <arpa/inet.h>
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_import.h"

#define RSYNC "/usr/bin/rsync"
#define GIT   "/usr/bin/git"
#define TFTPD "/usr/sbin/in.tftpd"
#define TFTP  "/usr/bin/tftp"

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
	char *yaml = hi_import(dir, args, &status);
	ck_assert_msg(status == 1, "exit status %d (approximated: chargen over UDP, root)", status);
	ck_assert_ptr_nonnull(strstr(yaml, "'udp:127.0.0.1:"));
	hi_check_config(yaml);

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
	char *yaml = hi_import(dir, args, &status);
	ck_assert_int_eq(status, 1); /* root, USERID */
	hi_check_config(yaml);
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

/* A temporary directory that the services' users can enter. */
static void temp_dir(char *dir, size_t size, const char *what)
{
	snprintf(dir, size, "/tmp/ss-import-%s-XXXXXX", what);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
}

static void remove_dir(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Writes dir/xinetd.conf, imports it onto 127.0.0.1 with the --port options (the
 * report in dir/report), checks the exit status and the YAML. Returns the YAML. */
static char *import_conf(const char *dir, const char *ports, int want_status, const char *conf)
{
	char path[512], args[1024];
	int status;
	snprintf(path, sizeof(path), "%s/xinetd.conf", dir);
	hi_write(path, "%s", conf);
	snprintf(args, sizeof(args), "--bind 127.0.0.1 %s xinetd xinetd.conf 2>'%s/report'", ports,
	         dir);
	char *yaml = hi_import(dir, args, &status);
	snprintf(path, sizeof(path), "%s/report", dir);
	size_t len;
	char *report = hi_slurp(path, &len);
	ck_assert_msg(status == want_status, "exit status %d, not %d; the report:\n%s", status,
	              want_status, report ? report : "");
	free(report);
	hi_check_config(yaml);
	return yaml;
}

/* The service `name` with body imported onto 127.0.0.1:*port and started in d.
 * Returns the YAML. */
static char *import_start(struct daemon *d, const char *dir, const char *name, const char *body,
                          int want_status, int *port)
{
	char conf[2048], ports[128];
	snprintf(conf, sizeof(conf), "service %s\n{\n%s}\n", name, body);
	*port = h_free_port();
	snprintf(ports, sizeof(ports), "--port %s=%d", name, *port);
	char *yaml = import_conf(dir, ports, want_status, conf);
	ck_assert_int_eq(h_start(d, "%s", yaml), 0);
	return yaml;
}

/* The service `name` with body, under the real xinetd on 127.0.0.1:port (as
 * UNLISTED, as the bench runs it): started, and answering (TCP) or bound (UDP).
 * False (with the reason printed) where xinetd cannot run. */
static bool xinetd_start(struct hi_xinetd *x, const char *dir, const char *name, const char *body,
                         int port, bool udp)
{
	const char *why = hi_xinetd_missing();
	char svc[2048];
	if (why) {
		printf("SKIP (comparison with xinetd, %s): %s\n", name, why);
		return false;
	}
	snprintf(svc, sizeof(svc),
	         "service x%s\n{\n%s\ttype = UNLISTED\n\tbind = 127.0.0.1\n\tport = %d\n}\n", name,
	         body, port);
	hi_xinetd_start(x, dir, svc);
	bool up = udp ? H_DEADLINE_WAIT(hi_udp_bound(port), 30000)
	              : H_DEADLINE_WAIT(!h_refused("127.0.0.1", port), 30000);
	if (!up) {
		size_t len;
		char *log = hi_slurp(x->log, &len);
		fprintf(stderr, "---- xinetd log ----\n%s\n", log ? log : "(none)");
		free(log);
	}
	ck_assert_msg(up, "xinetd did not open 127.0.0.1:%d", port);
	return true;
}

/* `git clone git://127.0.0.1:port/repo.git` into dir/out, and README's contents there
 * (caller frees). */
static char *clone_readme(const char *dir, int port, const char *out)
{
	char url[128], to[512], readme[600];
	size_t len;
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/repo.git", port);
	snprintf(to, sizeof(to), "%s/%s", dir, out);
	const char *const argv[] = {"git", "clone", "-q", url, to, NULL};
	ck_assert_msg(hi_run(argv, NULL, 120000) == 0, "git clone %s failed", url);
	snprintf(readme, sizeof(readme), "%s/README", to);
	char *text = hi_slurp(readme, &len);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* `git ls-remote git://127.0.0.1:port/repo.git`: the refs as the daemon announces them. */
static char *ls_remote(const char *dir, int port)
{
	char url[128], out[512];
	size_t len;
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/repo.git", port);
	snprintf(out, sizeof(out), "%s/ls-remote.%d", dir, port);
	const char *const argv[] = {"git", "ls-remote", url, NULL};
	ck_assert_msg(hi_run(argv, out, 120000) == 0, "git ls-remote %s failed", url);
	char *refs = hi_slurp(out, &len);
	ck_assert_ptr_nonnull(refs);
	return refs;
}

#define GIT_CONTENT "served by git daemon through an imported xinetd.d/git\n"

START_TEST(git_daemon)
{
	if (geteuid() != 0 || access(GIT, X_OK) < 0) {
		printf("SKIP: needs root and git (scripts/deps.sh test)\n");
		return;
	}
	char dir[64], cmd[2048], body[1024];
	temp_dir(dir, sizeof(dir), "git");
	/* A bare repository with one commit pushed from a work tree, owned by the user
	 * git daemon runs as (git refuses repositories of other users). */
	snprintf(cmd, sizeof(cmd),
	         "set -e; cd '%s'; git init -q --bare --initial-branch=main repo.git;"
	         " git init -q --initial-branch=main work; printf '%%s' '%s' > work/README;"
	         " git -C work add README;"
	         " git -C work -c user.name=t -c user.email=t@localhost commit -qm one;"
	         " git -C work push -q ../repo.git main; chown -R nobody repo.git",
	         dir, GIT_CONTENT);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(body, sizeof(body),
	         "\tdisable\t\t= no\n\tsocket_type\t= stream\n\tprotocol\t= tcp\n\twait\t\t= no\n"
	         "\tuser\t\t= nobody\n\tserver\t\t= " GIT "\n"
	         "\tserver_args\t= daemon --inetd --export-all --base-path=%s\n",
	         dir);
	struct daemon d = {0};
	int port;
	char *yaml = import_start(&d, dir, "git", body, 0, &port);
	char *readme = clone_readme(dir, port, "ours");
	ck_assert_str_eq(readme, GIT_CONTENT);
	char *refs = ls_remote(dir, port);
	ck_assert_ptr_nonnull(strstr(refs, "refs/heads/main"));

	struct hi_xinetd x = {0};
	int xport = h_free_port();
	if (xinetd_start(&x, dir, "git", body, xport, false)) {
		char *xreadme = clone_readme(dir, xport, "theirs");
		char *xrefs = ls_remote(dir, xport);
		ck_assert_str_eq(xreadme, readme);
		ck_assert_str_eq(xrefs, refs);
		hi_xinetd_stop(&x);
		free(xreadme);
		free(xrefs);
	}
	ck_assert_int_eq(h_stop(&d), 0);
	free(readme);
	free(refs);
	free(yaml);
	remove_dir(dir);
}
END_TEST

/* `tftp 127.0.0.1 PORT -c get NAME OUT` in binary mode; OUT's contents (caller frees). */
static char *tftp_get(int port, const char *name, const char *out, size_t *len)
{
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	const char *const argv[] = {TFTP, "-m",  "binary", "127.0.0.1", p,
	                            "-c", "get", name,     out,         NULL};
	char log[600];
	snprintf(log, sizeof(log), "%s.log", out);
	int st = hi_run(argv, log, 120000);
	char *said = hi_slurp(log, len);
	ck_assert_msg(st == 0 && said && *len == 0, "tftp get from port %d: status %d, said: %s",
	              port, st, said ? said : "");
	free(said);
	char *bytes = hi_slurp(out, len);
	ck_assert_ptr_nonnull(bytes);
	return bytes;
}

START_TEST(tftp_wait)
{
	if (geteuid() != 0 || access(TFTPD, X_OK) < 0 || access(TFTP, X_OK) < 0) {
		printf("SKIP: in.tftpd chroots and changes user: needs root, tftpd-hpa and "
		       "tftp-hpa (scripts/deps.sh test)\n");
		return;
	}
	char dir[64], path[512], body[1024];
	size_t len, got;
	temp_dir(dir, sizeof(dir), "tftp");
	snprintf(path, sizeof(path), "head -c 300000 /dev/urandom > '%s/boot.img'", dir);
	ck_assert_int_eq(system(path), 0);
	snprintf(path, sizeof(path), "%s/boot.img", dir);
	ck_assert_int_eq(chmod(path, 0644), 0);
	char *want = hi_slurp(path, &len);
	ck_assert_ptr_nonnull(want);
	snprintf(body, sizeof(body),
	         "\tprotocol        = udp\n\tsocket_type     = dgram\n\twait            = yes\n"
	         "\tuser            = root\n\tserver          = " TFTPD "\n"
	         "\tserver_args     = -s %s\n\tdisable         = no\n",
	         dir);
	struct daemon d = {0};
	int port;
	char *yaml = import_start(&d, dir, "tftp", body, 1, &port); /* root: approximated */
	ck_assert_ptr_nonnull(strstr(yaml, "mpm: wait"));
	/* Outside the directory in.tftpd serves. */
	snprintf(path, sizeof(path), "%s/ours.img", d.dir);
	char *ours = tftp_get(port, "boot.img", path, &got);
	ck_assert_msg(got == len && memcmp(ours, want, len) == 0, "the copy differs (%zu bytes)",
	              got);

	struct hi_xinetd x = {0};
	int xport = h_free_port();
	if (xinetd_start(&x, dir, "tftp", body, xport, true)) {
		snprintf(path, sizeof(path), "%s/theirs.img", d.dir);
		char *theirs = tftp_get(xport, "boot.img", path, &got);
		ck_assert_msg(got == len && memcmp(theirs, ours, len) == 0,
		              "xinetd's copy differs from ours (%zu bytes)", got);
		hi_xinetd_stop(&x);
		free(theirs);
	}
	ck_assert_int_eq(h_stop(&d), 0);
	free(ours);
	free(want);
	free(yaml);
	remove_dir(dir);
}
END_TEST

#define PAYLOAD_SIZE 16384

/* Sends payload through 127.0.0.1:port and reads it back, then closes its side and
 * must see the end: the exchange xinetd's redirect handles (it ends the whole
 * connection when the client half-closes, losing the reply still on its way). */
static void through(int port, const char *payload, char *buf)
{
	int fd = h_connect("127.0.0.1", port);
	char more;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, payload, PAYLOAD_SIZE), 0);
	ck_assert_msg(h_read_n(fd, buf, PAYLOAD_SIZE, 60000) == 0, "port %d: short answer", port);
	ck_assert_msg(memcmp(buf, payload, PAYLOAD_SIZE) == 0, "port %d: other bytes back", port);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_read_all(fd, &more, 1, 60000), 0);
	close(fd);
}

START_TEST(redirect)
{
	if (geteuid() != 0) {
		printf("SKIP: the imported echo runs as its own user: needs root\n");
		return;
	}
	char dir[64], body[1024], conf[2048], ports[128];
	static char payload[PAYLOAD_SIZE + 1], ours[PAYLOAD_SIZE + 16], theirs[PAYLOAD_SIZE + 16];
	for (int i = 0; i < PAYLOAD_SIZE; i++)
		payload[i] = (char)('!' + (i * 7 + i / 91) % 94);
	temp_dir(dir, sizeof(dir), "redirect");
	int port = h_free_port(), echo_port = h_free_port();
	snprintf(body, sizeof(body),
	         "\tsocket_type\t= stream\n\tprotocol\t= tcp\n\twait\t\t= no\n"
	         "\tuser\t\t= nobody\n\tredirect\t= 127.0.0.1 %d\n",
	         echo_port);
	snprintf(conf, sizeof(conf),
	         "service echo\n{\n\tid\t\t= echo-stream\n\ttype\t\t= INTERNAL\n"
	         "\tsocket_type\t= stream\n\twait\t\t= no\n\tuser\t\t= root\n}\n\n"
	         "# the old host's web server, now local\nservice web\n{\n"
	         "\ttype\t\t= UNLISTED\n\tport\t\t= 8080\n%s}\n",
	         body);
	snprintf(ports, sizeof(ports), "--port web=%d --port echo-stream=%d", port, echo_port);
	char *yaml = import_conf(dir, ports, 0, conf);
	ck_assert_ptr_nonnull(strstr(yaml, "builtin: forward"));
	struct daemon d = {0};
	ck_assert_int_eq(h_start(&d, "%s", yaml), 0);
	through(port, payload, ours);
	/* Ours passes a half-close on and the reply still comes back (xinetd's does not). */
	ssize_t n = h_exchange("127.0.0.1", port, payload, true, theirs, sizeof(theirs), 60000);
	ck_assert_msg(n == PAYLOAD_SIZE && memcmp(theirs, payload, PAYLOAD_SIZE) == 0,
	              "after a half-close: %zd bytes back, not the %d sent", n, PAYLOAD_SIZE);

	/* xinetd's redirect to the same echo (ours: the target is the same). */
	struct hi_xinetd x = {0};
	int xport = h_free_port();
	if (xinetd_start(&x, dir, "web", body, xport, false)) {
		through(xport, payload, theirs);
		ck_assert(memcmp(theirs, ours, PAYLOAD_SIZE) == 0);
		hi_xinetd_stop(&x);
	}
	ck_assert_int_eq(h_stop(&d), 0);
	free(yaml);
	remove_dir(dir);
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
	tcase_add_test(tc, git_daemon);
	tcase_add_test(tc, tftp_wait);
	tcase_add_test(tc, redirect);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
