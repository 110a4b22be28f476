/* Under fork, a built-in's connection processes are forked without the libraries they
 * never call (superserverd/image.c): the test reads a live connection process's maps
 * next to its acceptor's. The trimmed process still serves, and writes its JSON
 * connection record (jansson, which binds lazily, in the trimmed image). A module's
 * connection processes keep every library. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define MAX_LIBS 64

struct libs {
	int n;
	char path[MAX_LIBS][256];
};

/* The shared objects mapped by pid (distinct paths). */
static int read_libs(pid_t pid, struct libs *l)
{
	char file[64], line[512];
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/maps", (int)pid);
	f = fopen(file, "r");
	if (!f)
		return -1;
	l->n = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');
		bool seen = false;

		if (!p || !strstr(p, ".so"))
			continue;
		p[strcspn(p, "\n")] = '\0';
		for (int i = 0; i < l->n; i++)
			seen = seen || strcmp(l->path[i], p) == 0;
		if (!seen && l->n < MAX_LIBS)
			snprintf(l->path[l->n++], sizeof(l->path[0]), "%s", p);
	}
	fclose(f);
	return 0;
}

static bool has_lib(const struct libs *l, const char *part)
{
	for (int i = 0; i < l->n; i++)
		if (strstr(l->path[i], part))
			return true;
	return false;
}

/* How many objects the acceptor said it leaves out, from its debug line; -1 if none. */
static int left_out(struct daemon *d)
{
	char line[512];
	int n = -1;
	FILE *f = fopen(d->log, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "connection processes leave out ");
		if (p)
			n = atoi(p + strlen("connection processes leave out "));
	}
	fclose(f);
	return n;
}

/* The service's acceptor (the daemon's only child) and the process of the one
 * connection it serves. */
static void find_processes(struct daemon *d, pid_t *acceptor, pid_t *conn)
{
	ck_assert(H_DEADLINE_WAIT((*acceptor = h_only_child(d->pid)) > 0, 5000));
	ck_assert(H_DEADLINE_WAIT((*conn = h_only_child(*acceptor)) > 0, 5000));
}

START_TEST(builtin_trimmed)
{
	struct daemon d = {0};
	struct libs acc, conn;
	char records[160], buf[64];
	pid_t a, c;
	int port = h_free_port(), n;

	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	snprintf(records, sizeof(records), "%s/conns.jsonl", d.dir);
	ck_assert_int_eq(h_write_config(&d,
	                                "log: {level: debug, connections: 'json:%s'}\n"
	                                "services:\n"
	                                "  echo: {listen: ['127.0.0.1:%d'], builtin: echo,\n"
	                                "         mpm: {model: fork}}\n",
	                                records, port),
	                 0);
	ck_assert_int_eq(h_launch(&d), 0);
	ck_assert(h_log_wait(&d, "connection processes leave out", 5000));
	n = left_out(&d);
	ck_assert_int_ge(n, 0);

	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert(h_echoes(fd, "first\n"));
	find_processes(&d, &a, &c);
	ck_assert_int_eq(read_libs(a, &acc), 0);
	ck_assert_int_eq(read_libs(c, &conn), 0);
	/* Exactly the objects it names are missing; libc and the journal sender stay. */
	ck_assert_int_eq(conn.n, acc.n - n);
	for (int i = 0; i < conn.n; i++)
		ck_assert_msg(has_lib(&acc, conn.path[i]), "%s not in the acceptor", conn.path[i]);
	ck_assert(has_lib(&conn, "/libc.so"));
	ck_assert(has_lib(&conn, "/libsystemd.so"));
	ck_assert(has_lib(&acc, "/libyaml"));
	/* In the build the tests normally run (not under a sanitizer, whose runtime's own
	 * libraries come early in the lookup order), the YAML parser is one of them. */
	if (!has_lib(&acc, "libasan"))
		ck_assert_msg(n > 0 && !has_lib(&conn, "/libyaml"),
		              "left out %d; libyaml still mapped: %d", n,
		              has_lib(&conn, "/libyaml"));

	/* The trimmed process goes on serving and ends cleanly with its record. */
	ck_assert(h_echoes(fd, "second\n"));
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(h_read_all(fd, buf, sizeof(buf), 5000), 0);
	close(fd);
	ck_assert(h_wait_gone(c, 5000));
	ck_assert(H_DEADLINE_WAIT(h_count_lines(records) == 1, 5000));

	/* And many in a row, each a process of its own. */
	for (int i = 0; i < 50; i++) {
		char msg[32];
		snprintf(msg, sizeof(msg), "conn %d\n", i);
		ck_assert_int_eq(h_exchange("127.0.0.1", port, msg, true, buf, sizeof(buf), 5000),
		                 (ssize_t)strlen(msg));
		ck_assert(memcmp(buf, msg, strlen(msg)) == 0);
	}
	ck_assert(H_DEADLINE_WAIT(h_count_lines(records) == 51, 5000));
	/* Each process ended by itself: a crash after serving (say, in the record's JSON)
	 * would still leave a record, written by the acceptor, that says so. */
	ck_assert_int_eq(h_count_in_file(records, "\"outcome\":\"completed\""), 51);
	ck_assert(!h_log_wait(&d, "killed by signal", 0));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

START_TEST(module_whole)
{
	struct daemon d = {0};
	struct libs acc, conn;
	char mod[512];
	pid_t a, c;
	int port = h_free_port();
	const char *dir = getenv("SS_MODULE_DIR");

	ck_assert_ptr_nonnull(dir);
	snprintf(mod, sizeof(mod), "%s/crashtest.so", dir);
	ck_assert_int_eq(h_start(&d,
	                         "log: {level: debug}\n"
	                         "services:\n"
	                         "  mod: {listen: ['127.0.0.1:%d'], module: '%s', mpm: fork}\n",
	                         port, mod),
	                 0);
	int fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	ck_assert(h_echoes(fd, "hello\n"));
	find_processes(&d, &a, &c);
	ck_assert_int_eq(read_libs(a, &acc), 0);
	ck_assert_int_eq(read_libs(c, &conn), 0);
	ck_assert_int_eq(conn.n, acc.n);
	ck_assert(has_lib(&conn, "/libyaml"));
	ck_assert(has_lib(&conn, "crashtest.so"));
	close(fd);
	ck_assert(!h_log_wait(&d, "connection processes leave out", 0));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fork image");
	TCase *tc = tcase_create("image");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, builtin_trimmed);
	tcase_add_test(tc, module_whole);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
