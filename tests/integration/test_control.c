/*
 * The control socket through the real daemon: counters that are exact after a known
 * sequence under every model; bad, truncated, oversized and abandoned requests that
 * cost nothing but their own connection; the client limits; drain/resume and
 * stop/start as clients see them; a reload of a broken file; who may read and who
 * may change (root only).
 */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

static const char *const models[] = {"fork", "prefork", "threadpool", "event"};
#define N_MODELS   (sizeof(models) / sizeof(models[0]))
#define N_CONNS    10
#define CONN_BYTES 100

/* One echo service per model, named after it, on ports[i]. */
static int start_models(struct daemon *d, int ports[N_MODELS])
{
	char yaml[2048];
	int off = snprintf(yaml, sizeof(yaml), "services:\n");

	for (size_t i = 0; i < N_MODELS; i++) {
		ports[i] = h_free_port();
		off += snprintf(yaml + off, sizeof(yaml) - (size_t)off,
		                "  %s: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: %s}\n",
		                models[i], ports[i], models[i]);
	}
	return h_start(d, "%s", yaml);
}

static bool echo_works(int port)
{
	char buf[16];
	return h_exchange("127.0.0.1", port, "ping\n", true, buf, sizeof(buf), 5000) == 5 &&
	       memcmp(buf, "ping\n", 5) == 0;
}

/* All N_CONNS counted as completed, and none left active. */
static bool settled(struct daemon *d, const char *name)
{
	json_t *reply = hc_call(d, "stats", name);
	json_t *svc = hc_service(reply, name);
	bool done = hc_int(svc, "completed") >= N_CONNS && hc_int(svc, "active") == 0;
	json_decref(reply);
	return done;
}

START_TEST(counters_exact_under_every_model)
{
	struct daemon d = {0};
	int ports[N_MODELS];
	char out[CONN_BYTES], in[CONN_BYTES + 1];

	memset(out, 'a', sizeof(out));
	ck_assert_int_eq(start_models(&d, ports), 0);
	for (size_t m = 0; m < N_MODELS; m++) {
		for (int i = 0; i < N_CONNS; i++) {
			int fd = h_connect("127.0.0.1", ports[m]);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(h_write_all(fd, out, sizeof(out)), 0);
			shutdown(fd, SHUT_WR);
			ck_assert_int_eq(h_read_all(fd, in, sizeof(in), 5000), CONN_BYTES);
			close(fd);
		}
		/* The client sees the end before the server has counted it; and a process's
		 * `active` can trail `completed` (fork: the acceptor learns of a connection's
		 * end when its process exits). Both settle. */
		ck_assert_msg(H_DEADLINE_WAIT(settled(&d, models[m]), 10000),
		              "%s: completed never reached %d with nothing active", models[m],
		              N_CONNS);
		json_t *reply = hc_call(&d, "stats", models[m]);
		json_t *svc = hc_service(reply, models[m]);
		ck_assert_ptr_nonnull(svc);
		ck_assert_str_eq(hc_str(svc, "model"), models[m]);
		ck_assert_str_eq(hc_str(svc, "state"), "running");
#define EXPECT_FIELD(field, value)                                                                 \
	ck_assert_msg(hc_int(svc, field) == (value), "%s: %s is %lld, expected %lld", models[m],   \
	              field, hc_int(svc, field), (long long)(value))
		EXPECT_FIELD("accepted", N_CONNS);
		EXPECT_FIELD("completed", N_CONNS);
		EXPECT_FIELD("active", 0);
		EXPECT_FIELD("rejected", 0);
		EXPECT_FIELD("bytes_in", N_CONNS * CONN_BYTES);
		EXPECT_FIELD("bytes_out", N_CONNS * CONN_BYTES);
		EXPECT_FIELD("bytes_unknown", 0);
		EXPECT_FIELD("handler_errors", 0);
		EXPECT_FIELD("timeouts", 0);
#undef EXPECT_FIELD
		json_t *dur = json_object_get(svc, "duration");
		long long sum = 0;
		size_t i;
		json_t *buckets = json_object_get(dur, "buckets");
		for (i = 0; i < json_array_size(buckets); i++)
			sum += hc_int(json_array_get(buckets, i), "count");
		ck_assert_msg(sum == N_CONNS, "%s: the histogram holds %lld of %d connections",
		              models[m], sum, N_CONNS);
		ck_assert_int_eq(json_array_size(json_object_get(dur, "buckets")), 23);
		ck_assert_str_eq(
		        hc_str(json_array_get(json_object_get(dur, "buckets"), 22), "le_usec"),
		        "+Inf");
		ck_assert_int_gt(hc_int(dur, "p50_usec"), 0);
		ck_assert_int_le(hc_int(dur, "p50_usec"), hc_int(dur, "p99_usec"));
		ck_assert_int_gt(json_array_size(json_object_get(svc, "processes")), 0);
		json_decref(reply);
	}
	/* status agrees with stats. */
	json_t *reply = hc_call(&d, "status", NULL);
	ck_assert(hc_ok(reply));
	ck_assert_str_eq(hc_str(reply, "command"), "status");
	ck_assert_int_eq(json_array_size(json_object_get(reply, "services")), N_MODELS);
	for (size_t m = 0; m < N_MODELS; m++)
		ck_assert_int_eq(hc_int(hc_service(reply, models[m]), "accepted"), N_CONNS);
	json_decref(reply);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* A request on a fresh connection, raw; the answer's code (or "" if ok). */
static void expect_code(struct daemon *d, const char *raw, const char *code)
{
	int fd = h_connect(d->control, 0);
	ck_assert_int_ge(fd, 0);
	json_t *reply = hc_exchange(fd, raw, 5000);
	ck_assert_msg(reply != NULL, "no answer to %s", raw);
	ck_assert_msg(strcmp(hc_str(reply, "code"), code) == 0, "%s: code '%s', expected '%s'", raw,
	              hc_str(reply, "code"), code);
	if (*code) {
		ck_assert(json_is_false(json_object_get(reply, "ok")));
		ck_assert_str_ne(hc_str(reply, "error"), "");
	}
	json_decref(reply);
	close(fd);
}

static void still_serving(struct daemon *d, int port)
{
	json_t *reply = hc_call(d, "version", NULL);
	ck_assert(hc_ok(reply));
	ck_assert_int_eq(hc_int(reply, "pid"), d->pid);
	json_decref(reply);
	ck_assert(echo_works(port));
}

START_TEST(bad_requests_get_error_answers)
{
	struct daemon d = {0};
	int port = h_free_port();

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	expect_code(&d, "{\"command\": \"status\"\n", "bad-request"); /* malformed */
	expect_code(&d, "not json at all\n", "bad-request");
	expect_code(&d, "[\"status\"]\n", "bad-request");         /* an array */
	expect_code(&d, "{\"service\": \"e\"}\n", "bad-request"); /* no command */
	expect_code(&d, "{\"command\": 42}\n", "bad-request");    /* not a string */
	expect_code(&d, "{\"command\": \"stop\", \"service\": 1}\n", "bad-request");
	expect_code(&d, "{\"command\": \"stop\"}\n", "bad-request"); /* needs a service */
	expect_code(&d, "{\"command\": \"status\", \"command\": \"status\"}\n", "bad-request");
	expect_code(&d, "{\"command\": \"launch-missiles\"}\n", "unknown-command");
	expect_code(&d, "{\"command\": \"stats\", \"service\": \"nosuch\"}\n", "no-such-service");
	expect_code(&d, "{\"command\": \"start\", \"service\": \"nosuch\"}\n", "no-such-service");
	expect_code(&d, "{\"command\": \"resume\", \"service\": \"e\"}\n", "");
	/* A long command of 2-byte characters, its message cut inside one: an answer. */
	char lng[1024] = "{\"command\": \"x";
	for (int i = 0; i < 300; i++)
		strcat(lng, "\u00e9");
	strcat(lng, "\"}\n");
	expect_code(&d, lng, "unknown-command");
	/* A broken escape before a 2-byte character: the parser's message quotes half of it. */
	expect_code(&d, "{\"command\": \"\\u00e\xc7\xa3\"}\n", "bad-request");
	still_serving(&d, port);

	/* The id comes back, whatever it is, on errors too. */
	int fd = h_connect(d.control, 0);
	ck_assert_int_ge(fd, 0);
	json_t *reply = hc_exchange(fd, "{\"command\": \"nope\", \"id\": {\"n\": [1, 2]}}\n", 5000);
	ck_assert_int_eq(hc_int(json_object_get(reply, "id"), "n"), -1); /* an array, not int */
	ck_assert_int_eq(json_integer_value(json_array_get(
	                         json_object_get(json_object_get(reply, "id"), "n"), 1)),
	                 2);
	json_decref(reply);
	/* Blank lines are skipped; two requests in one write get two answers, in order;
	 * an error does not end the connection. */
	reply = hc_exchange(fd,
	                    "\n\r\n{\"command\": \"version\", \"id\": 1}\n"
	                    "{\"command\": \"status\", \"id\": 2}\n",
	                    5000);
	ck_assert_int_eq(hc_int(reply, "id"), 1);
	ck_assert_str_eq(hc_str(reply, "command"), "version");
	json_decref(reply);
	reply = hc_exchange(fd, "", 5000);
	ck_assert_int_eq(hc_int(reply, "id"), 2);
	ck_assert_str_eq(hc_str(reply, "command"), "status");
	json_decref(reply);
	close(fd);
	still_serving(&d, port);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(truncated_oversized_and_abandoned_requests)
{
	struct daemon d = {0};
	char buf[4096];
	int port = h_free_port();

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);

	/* Truncated: no newline, then the end of the stream. Not answered, just closed. */
	int fd = h_connect(d.control, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, "{\"command\": \"sta", 16), 0);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 0);
	close(fd);
	still_serving(&d, port);

	/* 1 MiB without a newline: the too-large answer, then the connection closes. */
	enum { BIG = 1 << 20 };
	char *big = malloc(BIG);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', BIG);
	fd = h_connect(d.control, 0);
	ck_assert_int_ge(fd, 0);
	size_t sent = 0, got = 0;
	bool eof = false;
	long long end = h_now_ms() + 10000;
	while (!eof && h_now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (sent < BIG ? POLLOUT : 0)};
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (p.revents & POLLIN) {
			ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
			if (n <= 0)
				eof = true;
			else
				got += (size_t)n;
		} else if (p.revents & POLLOUT) {
			ssize_t n = send(fd, big + sent, BIG - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = BIG; /* the daemon closed its end: stop sending */
		} else if (p.revents & (POLLHUP | POLLERR)) {
			eof = true;
		}
	}
	free(big);
	close(fd);
	buf[got] = '\0';
	ck_assert_msg(eof, "the connection was not closed after a 1 MiB request");
	ck_assert_msg(strstr(buf, "\"too-large\"") != NULL, "answer: %s", buf);
	ck_assert_int_lt(sent, BIG); /* it did not read the rest */
	still_serving(&d, port);

	/* Gone mid-answer: many answers asked for, none read. */
	for (int round = 0; round < 5; round++) {
		fd = h_connect(d.control, 0);
		ck_assert_int_ge(fd, 0);
		for (int i = 0; i < 40; i++)
			ck_assert_int_eq(h_write_all(fd, "{\"command\":\"stats\"}\n", 20), 0);
		close(fd);
	}
	still_serving(&d, port);

	/* A client that asks and never reads is dropped before its answers pile up
	 * (1 MiB pending): it gets far fewer than it asked for, then the end. */
	enum { ASKED = 20000 };
	fd = h_connect(d.control, 0);
	ck_assert_int_ge(fd, 0);
	int rcv = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	const char *req = "{\"command\":\"stats\"}\n";
	int written = 0;
	end = h_now_ms() + 20000;
	while (written < ASKED && h_now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (send(fd, req, strlen(req), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN)
				continue;
			break; /* dropped */
		}
		written++;
	}
	long answers = 0;
	end = h_now_ms() + 20000;
	for (;;) {
		ssize_t n = hc_read_line(fd, buf, sizeof(buf), (int)(end - h_now_ms()));
		if (n < 0)
			break;
		answers++;
	}
	close(fd);
	ck_assert_msg(h_now_ms() < end, "never dropped");
	ck_assert_msg(answers < written, "%ld answers to %d requests", answers, written);
	still_serving(&d, port);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(client_limit)
{
	enum { MAX = 64 };
	struct daemon d = {0};
	int fds[MAX], port = h_free_port();
	char buf[256];

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	for (int i = 0; i < MAX; i++) {
		fds[i] = h_connect(d.control, 0);
		ck_assert_int_ge(fds[i], 0);
		/* An answer proves the daemon has taken it on as a client. */
		json_t *reply = hc_exchange(fds[i], "{\"command\":\"version\"}\n", 5000);
		ck_assert_msg(hc_ok(reply), "client %d", i);
		json_decref(reply);
	}
	int extra = h_connect(d.control, 0);
	ck_assert_int_ge(extra, 0);
	ssize_t n = h_read_all(extra, buf, sizeof(buf) - 1, 5000);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "\"code\":\"busy\"") != NULL, "answer: %s", buf);
	close(extra);
	close(fds[0]);
	/* A freed place is taken by the next one (once the daemon noticed the close). */
	ck_assert(H_DEADLINE_WAIT(({
		                          json_t *r = hc_call(&d, "version", NULL);
		                          bool ok = hc_ok(r);
		                          json_decref(r);
		                          ok;
	                          }),
	                          5000));
	for (int i = 1; i < MAX; i++)
		close(fds[i]);
	still_serving(&d, port);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(idle_client_closed)
{
	struct daemon d = {0};
	char buf[64];
	int port = h_free_port();

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	int fd = h_connect(d.control, 0);
	ck_assert_int_ge(fd, 0);
	json_t *reply = hc_exchange(fd, "{\"command\":\"version\"}\n", 5000);
	ck_assert(hc_ok(reply));
	json_decref(reply);
	long long t0 = h_now_ms();
	/* 10 s of silence and the daemon hangs up: EOF, no bytes. */
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 20000), 0);
	long long idle = h_now_ms() - t0;
	ck_assert_msg(idle >= 9000 && idle < 15000, "closed after %lld ms", idle);
	close(fd);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static json_t *action(struct daemon *d, const char *cmd, const char *svc,
                      const char *expect_code_or_state)
{
	json_t *reply = hc_call(d, cmd, svc);
	if (!reply)
		h_dump_log(d);
	ck_assert_msg(reply != NULL, "%s %s: no answer", cmd, svc);
	if (hc_ok(reply))
		ck_assert_msg(strcmp(hc_str(reply, "state"), expect_code_or_state) == 0,
		              "%s %s: state %s, expected %s", cmd, svc, hc_str(reply, "state"),
		              expect_code_or_state);
	else
		ck_assert_msg(strcmp(hc_str(reply, "code"), expect_code_or_state) == 0,
		              "%s %s: %s (%s), expected %s", cmd, svc, hc_str(reply, "error"),
		              hc_str(reply, "code"), expect_code_or_state);
	return reply;
}

static void expect_state(struct daemon *d, const char *cmd, const char *svc, const char *a,
                         const char *b)
{
	json_t *reply = hc_call(d, cmd, svc);
	ck_assert(hc_ok(reply));
	ck_assert_msg(!strcmp(hc_str(reply, "state"), a) || !strcmp(hc_str(reply, "state"), b),
	              "%s %s: state %s", cmd, svc, hc_str(reply, "state"));
	ck_assert_str_eq(hc_str(reply, "service"), svc);
	json_decref(reply);
}

START_TEST(drain_resume_stop_start)
{
	struct daemon d = {0};
	int ports[N_MODELS];
	char c[8];

	ck_assert_int_eq(start_models(&d, ports), 0);
	for (size_t m = 0; m < N_MODELS; m++) {
		const char *name = models[m];
		ck_assert(echo_works(ports[m]));

		/* Drain: connections wait in the backlog, unanswered, until resume. */
		expect_state(&d, "drain", name, "draining", "drained");
		ck_assert_msg(hc_wait_state(&d, name, "drained", 10000), "%s never drained", name);
		json_decref(action(&d, "drain", name, "drained")); /* again: no change */
		int fd = h_connect("127.0.0.1", ports[m]);
		ck_assert_msg(fd >= 0, "%s: a drained service's socket must stay open", name);
		ck_assert_int_eq(h_write_all(fd, "w\n", 2), 0);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ck_assert_msg(poll(&p, 1, 300) == 0, "%s: answered while drained", name);
		json_decref(action(&d, "resume", name, "running"));
		ck_assert_int_eq(h_read_n(fd, c, 2, 10000), 0);
		ck_assert(memcmp(c, "w\n", 2) == 0);
		close(fd);
		ck_assert(echo_works(ports[m]));

		/* Stop: the socket closes. Start: served again. */
		expect_state(&d, "stop", name, "stopping", "stopped");
		ck_assert_msg(hc_wait_state(&d, name, "stopped", 10000), "%s never stopped", name);
		ck_assert(H_DEADLINE_WAIT(h_refused("127.0.0.1", ports[m]), 10000));
		json_decref(action(&d, "drain", name, "not-running"));
		json_decref(action(&d, "resume", name, "not-drained"));
		json_decref(action(&d, "start", name, "running"));
		ck_assert(echo_works(ports[m]));

		/* Restart: new processes, the same sockets. */
		json_decref(action(&d, "restart", name, "running"));
		ck_assert(echo_works(ports[m]));
		json_decref(action(&d, "start", name, "running")); /* running: nothing to do */
	}
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(reload_broken_keeps_running)
{
	struct daemon d = {0};
	int p1 = h_free_port(), p2 = h_free_port();
	json_t *reply, *e;
	size_t i;

	ck_assert_int_eq(
	        h_start(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", p1), 0);
	reply = hc_call(&d, "status", NULL);
	ck_assert_int_eq(hc_int(reply, "generation"), 1);
	json_decref(reply);

	d.allowed_errors[0] = "superserverd.yaml:";
	d.allowed_errors[1] = "reload failed";
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                       "  f: {listen: ['127.0.0.1:%d'], builtin: nosuch, bogus: 1}\n",
	                       p1, p2),
	        0);
	reply = hc_call(&d, "reload", NULL);
	ck_assert_ptr_nonnull(reply);
	ck_assert(json_is_false(json_object_get(reply, "ok")));
	ck_assert_str_eq(hc_str(reply, "code"), "reload-failed");
	ck_assert_int_ge(json_array_size(json_object_get(reply, "errors")), 2);
	for (i = 0; i < json_array_size(json_object_get(reply, "errors")); i++) {
		e = json_array_get(json_object_get(reply, "errors"), i);
		char file[256];
		int line, col;
		/* FILE:LINE:COL: message, naming the file the daemon read */
		ck_assert_msg(sscanf(json_string_value(e), "%255[^:]:%d:%d: ", file, &line, &col) ==
		                      3,
		              "error without a position: %s", json_string_value(e));
		ck_assert_str_eq(file, d.config);
		ck_assert_int_eq(line, 4); /* after the harness's defaults line */
	}
	json_decref(reply);
	ck_assert(echo_works(p1));
	ck_assert_int_lt(h_connect("127.0.0.1", p2), 0);
	reply = hc_call(&d, "status", NULL);
	ck_assert_int_eq(hc_int(reply, "generation"), 1);
	ck_assert_int_eq(json_array_size(json_object_get(reply, "services")), 1);
	json_decref(reply);

	/* Fixed: the reload goes through and the new service serves. */
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                       "  f: {listen: ['127.0.0.1:%d'], builtin: echo}\n",
	                       p1, p2),
	        0);
	reply = hc_call(&d, "reload", NULL);
	ck_assert(hc_ok(reply));
	ck_assert_str_eq(hc_str(reply, "command"), "reload");
	json_decref(reply);
	ck_assert(echo_works(p2));
	reply = hc_call(&d, "status", NULL);
	ck_assert_int_eq(hc_int(reply, "generation"), 2);
	json_decref(reply);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* Permissions. -------------------------------------------------------------------- */

#define NOBODY  65534
#define NOGROUP 65534

/*
 * Runs one request as uid nobody with the given gid and supplementary groups, in a
 * child. Returns the answer's code ("" when ok), or "EACCES" etc. when the connect
 * failed, or "?" when something else went wrong.
 */
static const char *as_nobody(struct daemon *d, gid_t gid, const gid_t *groups, int n,
                             const char *command)
{
	static char result[64];
	int pfd[2];

	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char out[64] = "?";
		close(pfd[0]);
		if (setgroups((size_t)n, groups) == 0 && setgid(gid) == 0 && setuid(NOBODY) == 0) {
			int fd = h_connect(d->control, 0);
			if (fd < 0) {
				snprintf(out, sizeof(out), "%s", strerror(errno));
			} else {
				char req[128];
				snprintf(req, sizeof(req), "{\"command\":\"%s\"}\n", command);
				json_t *reply = hc_exchange(fd, req, 5000);
				if (reply)
					snprintf(out, sizeof(out), "%s", hc_str(reply, "code"));
			}
		}
		if (write(pfd[1], out, strlen(out)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	ssize_t n_read = h_read_all(pfd[0], result, sizeof(result) - 1, 10000);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	result[n_read > 0 ? n_read : 0] = '\0';
	return result;
}

START_TEST(permissions)
{
	struct daemon d = {0};
	int port = h_free_port();
	struct group *g;
	gid_t g_staff = 0, g_users = 0;
	bool have_groups = getgrgid(NOGROUP) != NULL;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: control permissions need root (running as uid %d)\n",
		        (int)geteuid());
		return;
	}
	/* getgrnam's answer lives until the next call: keep the numbers only. */
	if ((g = getgrnam("staff")))
		g_staff = g->gr_gid;
	else
		have_groups = false;
	if ((g = getgrnam("users")))
		g_users = g->gr_gid;
	else
		have_groups = false;
	if (!have_groups) {
		fprintf(stderr, "SKIP: control permissions need the groups staff, users and "
		                "nogroup\n");
		return;
	}
	ck_assert_int_eq(
	        h_prepare(&d, "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n", port),
	        0);
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n  e: {listen: ['127.0.0.1:%d'], builtin: echo}\n"
	                       "control: {socket: '%s', group: nogroup, admin_group: staff}\n",
	                       port, d.control),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);

	/* The socket file: the read group's, 0660. */
	struct stat st;
	ck_assert_int_eq(stat(d.control, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	ck_assert_int_eq(st.st_gid, NOGROUP);

	/* In control.group: may read, may not change. */
	gid_t none[1] = {0};
	ck_assert_str_eq(as_nobody(&d, NOGROUP, none, 0, "status"), "");
	ck_assert_str_eq(as_nobody(&d, NOGROUP, none, 0, "stats"), "");
	ck_assert_str_eq(as_nobody(&d, NOGROUP, none, 0, "version"), "");
	ck_assert_str_eq(as_nobody(&d, NOGROUP, none, 0, "reload"), "permission-denied");
	/* The same through a supplementary group (SO_PEERGROUPS). */
	gid_t reader[1] = {NOGROUP};
	ck_assert_str_eq(as_nobody(&d, g_users, reader, 1, "status"), "");
	ck_assert_str_eq(as_nobody(&d, g_users, reader, 1, "reload"), "permission-denied");
	/* In control.admin_group (and in the socket's group, to open it): may change. */
	gid_t admin[2] = {g_staff, NOGROUP};
	ck_assert_str_eq(as_nobody(&d, g_users, admin, 2, "reload"), "");
	ck_assert_str_eq(as_nobody(&d, g_users, admin, 2, "status"), "");

	/* In neither: the file's mode keeps it out... */
	ck_assert_str_eq(as_nobody(&d, g_users, none, 0, "status"), strerror(EACCES));
	/* ...and with the file opened up, the daemon itself refuses. */
	ck_assert_int_eq(chmod(d.control, 0666), 0);
	ck_assert_str_eq(as_nobody(&d, g_users, none, 0, "status"), "permission-denied");
	ck_assert_str_eq(as_nobody(&d, g_users, none, 0, "stats"), "permission-denied");
	ck_assert_str_eq(as_nobody(&d, g_users, none, 0, "version"), "permission-denied");
	ck_assert_str_eq(as_nobody(&d, g_users, none, 0, "reload"), "permission-denied");
	ck_assert(echo_works(port));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");
	tcase_add_test(tc, counters_exact_under_every_model);
	tcase_add_test(tc, bad_requests_get_error_answers);
	tcase_add_test(tc, truncated_oversized_and_abandoned_requests);
	tcase_add_test(tc, client_limit);
	tcase_add_test(tc, idle_client_closed);
	tcase_add_test(tc, drain_resume_stop_start);
	tcase_add_test(tc, reload_broken_keeps_running);
	tcase_add_test(tc, permissions);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
