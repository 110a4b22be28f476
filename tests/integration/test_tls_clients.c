/*
 * Real TLS clients from Debian packages against programs behind TLS under fork: socat
 * (verifying the server, TLS 1.3 only) through /bin/cat with the bytes compared, and
 * curl against a small HTTP/1.0 responder that answers with the SSL_PROTOCOL and
 * SSL_SERVER_NAME it was given, by IP address (no SNI) and by name (--resolve, so the
 * name arrives as SNI); and `openssl s_client` against the echo built-in under each of
 * the four models. A client not installed skips its test case, and the program exits
 * 77 (CTest: skipped); scripts/deps.sh's test group installs them.
 */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_tls.h"

static const char *pki; /* made in main, before Check forks the test cases */

static int start_program(struct daemon *d, int port, const char *exec)
{
	return h_start(d,
	               "services:\n  s:\n    mpm: fork\n"
	               "    listen: [{address: '127.0.0.1:%d', tls: {certificate: %s/srv.pem, "
	               "key: %s/srv.key}}]\n"
	               "    exec: %s\n",
	               port, pki, pki, exec);
}

/* 256 KiB of random bytes through socat, /bin/cat and back. socat ends its sending
 * side at the end of its input and waits (-t) for the program's end. */
START_TEST(socat_through_cat)
{
	struct daemon d = {0};
	int port = h_free_port();
	char cmd[1024], out[256];

	ck_assert_int_eq(start_program(&d, port, "[/bin/cat]"), 0);
	snprintf(cmd, sizeof(cmd),
	         "cd %s && head -c 262144 /dev/urandom > socat.in && "
	         "timeout 120 socat -t 60 - OPENSSL:127.0.0.1:%d,cafile=%s/ca.pem,verify=1,"
	         "openssl-min-proto-version=TLS1.3 < socat.in > socat.out 2>socat.err; r=$?; "
	         "cat socat.err; [ $r = 0 ] && cmp socat.in socat.out && echo same",
	         pki, port, pki);
	ht_run(cmd, out, sizeof(out));
	ck_assert_str_eq(out, "same\n");
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The body curl gets from https://NAME:PORT/, by address when name is NULL (then NAME
 * is 127.0.0.1; otherwise --resolve makes it 127.0.0.1). */
static void curl_get(int port, const char *name, char *out, size_t cap)
{
	char cmd[1024], resolve[128] = "";

	if (name)
		snprintf(resolve, sizeof(resolve), "--resolve %s:%d:127.0.0.1", name, port);
	snprintf(cmd, sizeof(cmd),
	         "curl -sS --max-time 120 --tlsv1.3 --cacert %s/ca.pem %s https://%s:%d/", pki,
	         resolve, name ? name : "127.0.0.1", port);
	ht_run(cmd, out, cap);
}

/* curl by address (no SNI: an IP address is never a server name) and by name. */
START_TEST(curl_against_responder)
{
	struct daemon d = {0};
	int port = h_free_port();
	char exec[128], out[1024];

	snprintf(exec, sizeof(exec), "[/bin/sh, %s/respond.sh]", pki);
	ck_assert_int_eq(start_program(&d, port, exec), 0);
	curl_get(port, NULL, out, sizeof(out));
	ck_assert_str_eq(out, "protocol TLSv1.3, server name unset\n");
	curl_get(port, "tls.test", out, sizeof(out));
	ck_assert_str_eq(out, "protocol TLSv1.3, server name tls.test\n");
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static const char *const models[] = {"event", "threadpool", "fork", "prefork"};

/* openssl s_client, verifying the server, writes a line to the echo under each model
 * and must print exactly that line back (-quiet: only the connection's bytes); the end
 * of its input then ends it (-no_ign_eof), with status 0. */
START_TEST(s_client_echo)
{
	static const char line[] = "s_client through TLS, 0123456789\n";
	struct daemon d = {0};
	int port = h_free_port(), in[2], out[2], status;
	char portarg[32], ca[96], got[256];
	size_t len = 0;
	long long end;
	pid_t pid;

	ck_assert_int_eq(h_start(&d,
	                         "services:\n  s:\n    mpm: %s\n    builtin: echo\n"
	                         "    listen: [{address: '127.0.0.1:%d', tls: {certificate: "
	                         "%s/srv.pem, key: %s/srv.key}}]\n",
	                         models[_i], port, pki, pki),
	                 0);
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("openssl", "openssl", "s_client", "-quiet", "-no_ign_eof", "-connect",
		       portarg, "-servername", "localhost", "-CAfile", ca, "-verify_return_error",
		       (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	ck_assert_int_eq(write(in[1], line, sizeof(line) - 1), (ssize_t)sizeof(line) - 1);
	end = h_now_ms() + 60000;
	while (len < sizeof(line) - 1 && h_now_ms() < end) {
		struct pollfd pfd = {.fd = out[0], .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 1000) != 1)
			continue;
		n = read(out[0], got + len, sizeof(got) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	got[len] = '\0';
	close(in[1]); /* s_client's end of input: it closes the connection and exits */
	ck_assert(H_DEADLINE_WAIT(waitpid(pid, &status, WNOHANG) == pid, 60000));
	close(out[0]);
	ck_assert_str_eq(got, line);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %#x", models[_i],
	              status);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* An HTTP/1.0 responder: reads the request's head (so that curl's request is consumed
 * before the end), then answers with what TLS told it. */
static const char responder[] =
        "cr=$(printf '\\r')\n"
        "while IFS= read -r line; do\n"
        "\tcase $line in \"$cr\" | '') break ;; esac\n"
        "done\n"
        "body=\"protocol $SSL_PROTOCOL, server name ${SSL_SERVER_NAME-unset}\"\n"
        "printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n"
        "Content-Length: %d\\r\\n\\r\\n%s\\n' $((${#body} + 1)) \"$body\"\n";

static bool installed(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (system(cmd) == 0)
		return true;
	printf("SKIP: %s is not installed (scripts/deps.sh test installs it)\n", tool);
	return false;
}

int main(void)
{
	Suite *s = suite_create("tls_clients");
	TCase *tc = tcase_create("tls_clients");
	char path[128];
	FILE *f;
	bool skipped = false;

	signal(SIGPIPE, SIG_IGN);
	ht_pki_make();
	pki = ht_pki();
	if (snprintf(path, sizeof(path), "%s/respond.sh", pki) < 0 || !(f = fopen(path, "w")) ||
	    fputs(responder, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write the responder\n");
		return EXIT_FAILURE;
	}
	if (installed("socat"))
		tcase_add_test(tc, socat_through_cat);
	else
		skipped = true;
	if (installed("curl"))
		tcase_add_test(tc, curl_against_responder);
	else
		skipped = true;
	tcase_add_loop_test(tc, s_client_echo, 0, 4);
	suite_add_tcase(s, tc);
	if (ht_run_suite(s))
		return EXIT_FAILURE;
	return skipped ? 77 : EXIT_SUCCESS;
}
