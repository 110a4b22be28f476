/* The services(5) reader behind named ports: names, aliases, protocols, odd lines. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "superserverd/svcnames.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char text[] = "# Network services, Internet style\n"
                           "\n"
                           "tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n"
                           "echo\t\t7/tcp\n"
                           "echo\t\t7/udp\n"
                           "sunrpc\t\t111/tcp\t\tportmapper\t# RPC 4.0 portmapper\n"
                           "sunrpc  111/udp portmapper rpcbind\r\n"
                           "tftp\t\t69/udp\n"
                           "rsync 873/tcp#no space before the comment\n"
                           "first 100/tcp\n"
                           "first 200/tcp\n"
                           "   indented   300/tcp  ind-alias   \n"
                           "noport\n"
                           "badport x/tcp\n"
                           "noproto 5/\n"
                           "noslash 5\n"
                           "toobig 65536/tcp\n"
                           "zero 0/tcp\n"
                           "neg -1/tcp\n"
                           "# commented 400/tcp\n"
                           "last 500/tcp"; /* no newline at the end */

static const struct {
	const char *name, *proto;
	enum svcnames_result res;
	unsigned port;
} cases[] = {
        {"tcpmux", "tcp", SVCNAMES_FOUND, 1},      {"echo", "tcp", SVCNAMES_FOUND, 7},
        {"echo", "udp", SVCNAMES_FOUND, 7},        {"portmapper", "tcp", SVCNAMES_FOUND, 111},
        {"rpcbind", "udp", SVCNAMES_FOUND, 111},   {"rpcbind", "tcp", SVCNAMES_OTHER_PROTO, 0},
        {"tftp", "udp", SVCNAMES_FOUND, 69},       {"tftp", "tcp", SVCNAMES_OTHER_PROTO, 0},
        {"rsync", "tcp", SVCNAMES_FOUND, 873},     {"rsync", "udp", SVCNAMES_OTHER_PROTO, 0},
        {"first", "tcp", SVCNAMES_FOUND, 100},     {"indented", "tcp", SVCNAMES_FOUND, 300},
        {"ind-alias", "tcp", SVCNAMES_FOUND, 300}, {"last", "tcp", SVCNAMES_FOUND, 500},
        {"ECHO", "tcp", SVCNAMES_UNKNOWN, 0},      {"noport", "tcp", SVCNAMES_UNKNOWN, 0},
        {"badport", "tcp", SVCNAMES_UNKNOWN, 0},   {"noproto", "tcp", SVCNAMES_UNKNOWN, 0},
        {"noslash", "tcp", SVCNAMES_UNKNOWN, 0},   {"toobig", "tcp", SVCNAMES_UNKNOWN, 0},
        {"neg", "tcp", SVCNAMES_UNKNOWN, 0},       {"zero", "tcp", SVCNAMES_UNKNOWN, 0},
        {"commented", "tcp", SVCNAMES_UNKNOWN, 0}, {"#", "tcp", SVCNAMES_UNKNOWN, 0},
        {"", "tcp", SVCNAMES_UNKNOWN, 0},
};

START_TEST(lookup_table)
{
	struct svcnames *db;
	unsigned port = 0;

	ck_assert_int_eq(svcnames_parse(text, sizeof(text) - 1, &db), 0);
	ck_assert_int_eq(svcnames_lookup(db, cases[_i].name, cases[_i].proto, &port),
	                 cases[_i].res);
	if (cases[_i].res == SVCNAMES_FOUND)
		ck_assert_uint_eq(port, cases[_i].port);
	svcnames_free(db);
}
END_TEST

/* Port to name: the first line's official name, never an alias or another protocol's. */
START_TEST(name_of_port)
{
	struct svcnames *db;

	ck_assert_int_eq(svcnames_parse(text, sizeof(text) - 1, &db), 0);
	ck_assert_str_eq(svcnames_name(db, 111, "udp"), "sunrpc");
	ck_assert_str_eq(svcnames_name(db, 300, "tcp"), "indented");
	ck_assert_str_eq(svcnames_name(db, 7, "udp"), "echo");
	ck_assert_ptr_null(svcnames_name(db, 69, "tcp"));
	ck_assert_ptr_null(svcnames_name(db, 0, "tcp"));
	ck_assert_ptr_null(svcnames_name(db, 65535, "tcp"));
	svcnames_free(db);
}
END_TEST

START_TEST(load_file)
{
	char path[] = "/tmp/ss-svcnames.XXXXXX";
	int fd = mkstemp(path);
	struct svcnames *db = (struct svcnames *)&db;
	unsigned port;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	ck_assert_int_eq(svcnames_load(path, &db), 0);
	ck_assert_int_eq(svcnames_lookup(db, "last", "tcp", &port), SVCNAMES_FOUND);
	ck_assert_uint_eq(port, 500);
	svcnames_free(db);
	unlink(path);
	ck_assert_int_eq(svcnames_load(path, &db), -ENOENT);
	ck_assert_ptr_null(db);
	ck_assert_int_eq(svcnames_load("/tmp", &db), -EISDIR);
}
END_TEST

START_TEST(empty_and_nul)
{
	struct svcnames *db;
	unsigned port;

	ck_assert_int_eq(svcnames_parse("", 0, &db), 0);
	ck_assert_int_eq(svcnames_lookup(db, "echo", "tcp", &port), SVCNAMES_UNKNOWN);
	svcnames_free(db);
	/* Past a NUL nothing is read. */
	ck_assert_int_eq(svcnames_parse("a 1/tcp\n\0b 2/tcp\n", 17, &db), 0);
	ck_assert_int_eq(svcnames_lookup(db, "a", "tcp", &port), SVCNAMES_FOUND);
	ck_assert_int_eq(svcnames_lookup(db, "b", "tcp", &port), SVCNAMES_UNKNOWN);
	svcnames_free(db);
	svcnames_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("svcnames");
	TCase *tc = tcase_create("svcnames");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, lookup_table, 0, N(cases));
	tcase_add_test(tc, name_of_port);
	tcase_add_test(tc, load_file);
	tcase_add_test(tc, empty_and_nul);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
