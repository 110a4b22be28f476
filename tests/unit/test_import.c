/*
 * The importer's parts on their own: xinetd's grammar and its errors at FILE:LINE,
 * += and -= with defaults, what defaults hand down, the address forms of only_from and
 * no_access, and the fields of an inetd.conf line.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "superctl/inetd_parse.h"
#include "superctl/xinetd_addr.h"
#include "superctl/xinetd_eval.h"
#include "superctl/xinetd_parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Parses text as file "f" and returns the report's lines joined by '\n' (caller frees). */
static char *parse_report(const char *text, struct xi_conf *conf)
{
	struct imp_report *rep = imp_report_new();
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(xi_parse_text("f", text, conf, rep), 0);
	size_t len = 1;
	for (size_t i = 0; i < imp_report_size(rep); i++)
		len += strlen(imp_report_line(rep, i)) + 1;
	char *out = calloc(1, len);
	for (size_t i = 0; i < imp_report_size(rep); i++) {
		strcat(out, imp_report_line(rep, i));
		strcat(out, "\n");
	}
	imp_report_free(rep);
	return out;
}

static const struct {
	const char *text, *want; /* want: the start of the report's one line */
	size_t entries;          /* complete entries kept */
} bad[] = {
        {"service a\n{\n  port 7\n}\n", "f:3: error: syntax error: expected an operator", 0},
        {"service a\n  port = 7\n}\n", "f:2: error: syntax error: expected '{' on the line", 0},
        {"service\n{\n}\n", "f:1: error: syntax error: expected a name after 'service'", 0},
        {"service a b\n{\n}\n", "f:1: error: syntax error: expected one name after", 0},
        {"defaults\n{\n}\nservice a\n{\n port = 7\n",
         "f:4: error: the entry that starts here "
         "has no closing '}'",
         1},
        {"service a\n{\n}\n}\n", "f:4: error: syntax error: a brace outside", 1},
        {"\n# comment\nbogus line\n", "f:3: error: syntax error: expected 'service NAME'", 0},
        {"service a\n{\nservice b\n", "f:3: error: syntax error: '}' is missing", 0},
        {"service a\n{\n include x\n}\n",
         "f:3: error: syntax error: include and includedir "
         "cannot be used inside an entry",
         0},
        {"service a\n{\n port+ = 7\n}\n", "f:3: error: syntax error: an attribute name is", 0},
        {"service a\n{\n}\nservice b\n{\n = 7\n}\nservice c\n{\n}\n",
         "f:6: error: syntax error: expected an attribute name", 1},
};

START_TEST(grammar_errors_at_file_line)
{
	struct xi_conf conf = {0};
	char *rep = parse_report(bad[_i].text, &conf);
	ck_assert_msg(strncmp(rep, bad[_i].want, strlen(bad[_i].want)) == 0,
	              "case %d: got '%s', want '%s...'", _i, rep, bad[_i].want);
	ck_assert_msg(strchr(rep, '\n') == rep + strlen(rep) - 1, "one line only: %s", rep);
	ck_assert_uint_eq(conf.n, bad[_i].entries);
	free(rep);
	xi_conf_free(&conf);
}
END_TEST

START_TEST(grammar_forms)
{
	struct xi_conf conf = {0};
	char *rep = parse_report("# c\ndefaults\n{\n}\n\nservice a {\n"
	                         "\tport=7\n\tonly_from+= 10.0.0.0\n\tserver_args = -x # y\n"
	                         "\tno_access -=1.2.3.4 5.6.7.8\n}\n",
	                         &conf);
	ck_assert_str_eq(rep, "");
	ck_assert_uint_eq(conf.n, 2);
	const struct xi_entry *e = &conf.entries[1];
	ck_assert_str_eq(e->name, "a");
	ck_assert_int_eq(e->line, 6);
	ck_assert_uint_eq(e->n_attrs, 4);
	ck_assert_str_eq(e->attrs[0].name, "port");
	ck_assert_str_eq(e->attrs[0].values.v[0], "7");
	ck_assert_int_eq(e->attrs[1].op, XI_ADD);
	ck_assert_str_eq(e->attrs[1].values.v[0], "10.0.0.0");
	/* A '#' after the start of a line is an ordinary word, as in xinetd. */
	ck_assert_uint_eq(e->attrs[2].values.n, 3);
	ck_assert_str_eq(e->attrs[2].values.v[1], "#");
	ck_assert_int_eq(e->attrs[3].op, XI_DEL);
	ck_assert_str_eq(e->attrs[3].values.v[0], "1.2.3.4");
	ck_assert_int_eq(e->attrs[3].line, 10);
	free(rep);
	xi_conf_free(&conf);
}
END_TEST

static const struct xi_svc *eval(const char *text, struct xi_conf *conf, struct xi_services *xs,
                                 char **rep_r)
{
	struct imp_report *rep = imp_report_new();
	ck_assert_int_eq(xi_parse_text("f", text, conf, rep), 0);
	ck_assert_int_eq(xi_eval(conf, xs, rep), 0);
	*rep_r = strdup(imp_report_size(rep) ? imp_report_line(rep, 0) : "");
	imp_report_free(rep);
	ck_assert_uint_ge(xs->n, 1);
	return &xs->s[0];
}

static char *joined(const struct xi_val *v)
{
	static char buf[256];
	buf[0] = 0;
	for (size_t i = 0; i < v->v.n; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "",
		         v->v.v[i]);
	return buf;
}

START_TEST(operators_and_defaults)
{
	struct xi_conf conf = {0};
	struct xi_services xs = {0};
	char *rep;
	const struct xi_svc *s =
	        eval("defaults\n{\n log_on_failure = HOST\n log_on_success = PID\n"
	             " log_on_success = HOST EXIT\n only_from = 10.0.0.0 10.1.0.0\n"
	             " instances = 7\n no_access = 1.1.1.1\n passenv = A B\n}\n"
	             "service a\n{\n log_on_failure += USERID\n log_on_success -= PID\n"
	             " only_from = 192.168.0.0\n only_from = 192.169.0.0\n passenv -= A\n"
	             " env = X=1\n env += Y=2\n}\n",
	             &conf, &xs, &rep);
	ck_assert_str_eq(rep, "");
	/* += and -= start from the defaults' value; in defaults '=' accumulates. */
	ck_assert_str_eq(joined(&s->a[XA_LOG_ON_FAILURE]), "HOST USERID");
	ck_assert_str_eq(joined(&s->a[XA_LOG_ON_SUCCESS]), "HOST EXIT");
	ck_assert_str_eq(joined(&s->a[XA_PASSENV]), "B");
	/* '=' replaces the defaults' value, and a second '=' in the service the first's. */
	ck_assert_str_eq(joined(&s->a[XA_ONLY_FROM]), "192.169.0.0");
	/* Untouched: inherited as it is, with the defaults' line. */
	ck_assert_str_eq(joined(&s->a[XA_NO_ACCESS]), "1.1.1.1");
	ck_assert_str_eq(joined(&s->a[XA_INSTANCES]), "7");
	ck_assert_int_eq(s->a[XA_INSTANCES].line, 7);
	ck_assert_str_eq(joined(&s->a[XA_ENV]), "X=1 Y=2");
	ck_assert(!s->off);
	free(rep);
	xi_services_free(&xs);
	xi_conf_free(&conf);
}
END_TEST

/* bind and interface are one attribute in xinetd: the first of them set wins, in an
 * entry and against what defaults hand down. */
START_TEST(bind_or_interface)
{
	static const struct {
		const char *text, *bind, *interface;
	} cases[] = {
	        {"service a\n{\n interface = 10.0.0.2\n bind = 10.0.0.1\n}\n", NULL, "10.0.0.2"},
	        {"service a\n{\n bind = 10.0.0.1\n interface = 10.0.0.2\n}\n", "10.0.0.1", NULL},
	        {"defaults\n{\n bind = 10.0.0.1\n}\nservice a\n{\n interface = 10.0.0.2\n}\n", NULL,
	         "10.0.0.2"},
	        {"defaults\n{\n interface = 10.0.0.2\n bind = 10.0.0.1\n}\nservice a\n{\n}\n", NULL,
	         "10.0.0.2"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct xi_conf conf = {0};
		struct xi_services xs = {0};
		char *rep;
		const struct xi_svc *s = eval(cases[i].text, &conf, &xs, &rep);
		ck_assert_str_eq(s->a[XA_BIND].set ? joined(&s->a[XA_BIND]) : "(unset)",
		                 cases[i].bind ? cases[i].bind : "(unset)");
		ck_assert_str_eq(s->a[XA_INTERFACE].set ? joined(&s->a[XA_INTERFACE]) : "(unset)",
		                 cases[i].interface ? cases[i].interface : "(unset)");
		free(rep);
		xi_services_free(&xs);
		xi_conf_free(&conf);
	}
}
END_TEST

START_TEST(operator_misuse)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	        {"service a\n{\n port += 7\n}\n", "f:3: error: 'port' takes only '='"},
	        {"service a\n{\n port = 7\n port = 8\n}\n", "f:4: error: 'port' is given twice "
	                                                    "(first at line 3)"},
	        {"service a\n{\n env -= X\n}\n", "f:3: error: 'env' does not take '-='"},
	        {"defaults\n{\n server = /x\n}\nservice a\n{\n}\n", "f:3: error: 'server' cannot "
	                                                            "be set in defaults"},
	        {"service a\n{\n enabled = a\n}\n", "f:3: error: 'enabled' belongs in defaults"},
	        {"service a\n{\n colour = red\n}\n", "f:3: error: unknown attribute 'colour'"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct xi_conf conf = {0};
		struct xi_services xs = {0};
		char *rep;
		eval(cases[i].text, &conf, &xs, &rep);
		ck_assert_msg(strncmp(rep, cases[i].want, strlen(cases[i].want)) == 0,
		              "got '%s', want '%s...'", rep, cases[i].want);
		free(rep);
		xi_services_free(&xs);
		xi_conf_free(&conf);
	}
}
END_TEST

START_TEST(switched_off)
{
	static const struct {
		const char *text, *off;
	} cases[] = {
	        {"service a\n{\n disable = yes\n}\n", "disable = yes"},
	        {"service a\n{\n disable = no\n}\n", NULL},
	        /* xinetd compares with "yes" and "no" in any case (its EQ() is strcasecmp);
	         * a value it cannot parse disables the service, a line with another number of
	         * words is ignored. */
	        {"service a\n{\n disable = No\n}\n", NULL},
	        {"service a\n{\n disable = YES\n}\n", "disable = yes"},
	        {"service a\n{\n disable = maybe\n}\n", "xinetd rejects the value of disable"},
	        {"SERVICE a\n{\n Disable = Yes\n}\n", "disable = yes"},
	        {"service a\n{\n Flags = ipv4 disable\n}\n", "flags DISABLE"},
	        {"service a\n{\n disable = yes please\n}\n", NULL},
	        {"service a\n{\n flags = IPv4 DISABLE\n}\n", "flags DISABLE"},
	        {"defaults\n{\n disabled = b a\n}\nservice a\n{\n}\n", "listed in the defaults' "
	                                                               "disabled"},
	        {"defaults\n{\n enabled = b\n}\nservice a\n{\n}\n", "not listed in the defaults' "
	                                                            "enabled"},
	        {"defaults\n{\n enabled = x\n}\nservice a\n{\n id = x\n}\n", NULL},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct xi_conf conf = {0};
		struct xi_services xs = {0};
		char *rep;
		const struct xi_svc *s = eval(cases[i].text, &conf, &xs, &rep);
		if (cases[i].off)
			ck_assert_str_eq(s->off ? s->off : "(on)", cases[i].off);
		else
			ck_assert_msg(!s->off, "case %zu is off: %s", i, s->off);
		free(rep);
		xi_services_free(&xs);
		xi_conf_free(&conf);
	}
}
END_TEST

static const struct {
	const char *word, *cidrs; /* NULL: not mappable */
} forms[] = {
        {"10.1.2.3", "10.1.2.3/32"},
        {"128.138.12.0", "128.138.12.0/24"},
        {"10.1.0.0", "10.1.0.0/16"},
        {"10.0.0.0", "10.0.0.0/8"},
        {"0.0.0.0", "0.0.0.0/0 ::/0"},
        {"10.0.0.0/8", "10.0.0.0/8"},
        {"192.168.1.7/24", "192.168.1.7/24"},
        {"2001:db8::/32", "2001:db8::/32"},
        {"::1", "::1/128"},
        {"10.1.2.{3,4}", "10.1.2.3/32 10.1.2.4/32"},
        {"192.168.{1,2}", "192.168.1.0/24 192.168.2.0/24"},
        {"10.{7}", "10.7.0.0/16"},
        {"localhost", "127.0.0.1/32 ::1/128"},
        {"monitor.example.com", NULL},
        {".example.com", NULL},
        {"10.1.2.{3,x}", NULL},
        {"10.1.2.{3,4", NULL},
        {"10.1.2.300", NULL},
        {"10.0.0.0/33", NULL},
        {"::1/129", NULL},
        {"1.2.3.4.5", NULL},
};

START_TEST(address_forms)
{
	struct imp_strv out = {0};
	const char *note;
	int r = xi_addr_cidrs(forms[_i].word, &out, &note);
	if (!forms[_i].cidrs) {
		ck_assert_msg(r == 1, "'%s' mapped", forms[_i].word);
		ck_assert_ptr_nonnull(note);
	} else {
		char buf[256] = "";
		ck_assert_msg(r == 0, "'%s' not mapped: %s", forms[_i].word, note);
		for (size_t i = 0; i < out.n; i++)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "",
			         out.v[i]);
		ck_assert_str_eq(buf, forms[_i].cidrs);
	}
	imp_strv_clear(&out);
}
END_TEST

START_TEST(inetd_fields)
{
	char *hosts = NULL;
	struct inetd_entry e;
	const char *why = NULL;

	ck_assert_int_eq(inetd_parse_line("ftp\tstream\ttcp,rcvbuf=64k,sndbuf=1m\tnowait.400\t"
	                                  "root:ftp\t/usr/sbin/tcpd\t/usr/sbin/in.ftpd -l\n",
	                                  &hosts, &e, &why),
	                 0);
	ck_assert_str_eq(e.hosts, "*");
	ck_assert_str_eq(e.service, "ftp");
	ck_assert_str_eq(e.socktype, "stream");
	ck_assert_str_eq(e.proto, "tcp");
	ck_assert_str_eq(e.rcvbuf, "64k");
	ck_assert_str_eq(e.sndbuf, "1m");
	ck_assert(!e.wait);
	ck_assert_int_eq(e.max, 400);
	ck_assert_str_eq(e.user, "root");
	ck_assert_str_eq(e.group, "ftp");
	ck_assert_str_eq(e.server, "/usr/sbin/tcpd");
	ck_assert_uint_eq(e.args.n, 2);
	ck_assert_str_eq(e.args.v[0], "/usr/sbin/in.ftpd");
	inetd_entry_free(&e);

	/* A HOST: line sets the prefix of the lines after it; a prefix of its own wins. */
	ck_assert_int_eq(inetd_parse_line("127.0.0.1:\n", &hosts, &e, &why), 1);
	ck_assert_int_eq(
	        inetd_parse_line("talk dgram udp wait nobody.tty /x in.talkd", &hosts, &e, &why),
	        0);
	ck_assert_str_eq(e.hosts, "127.0.0.1");
	ck_assert_str_eq(e.group, "tty");
	ck_assert(e.wait);
	inetd_entry_free(&e);
	ck_assert_int_eq(
	        inetd_parse_line("[::1]:echo stream tcp6 nowait nobody internal", &hosts, &e, &why),
	        0);
	ck_assert_str_eq(e.hosts, "::1");
	ck_assert_str_eq(e.service, "echo");
	ck_assert_uint_eq(e.args.n, 0);
	inetd_entry_free(&e);
	/* A bracketed IPv6 HOST: line loses its brackets as a line's own prefix does. */
	ck_assert_int_eq(inetd_parse_line("[::1]:\n", &hosts, &e, &why), 1);
	ck_assert_int_eq(
	        inetd_parse_line("echo stream tcp6 nowait nobody internal", &hosts, &e, &why), 0);
	ck_assert_str_eq(e.hosts, "::1");
	inetd_entry_free(&e);
	ck_assert_int_eq(inetd_parse_line("#<off># telnet stream tcp nowait telnetd /usr/sbin/tcpd "
	                                  "in.telnetd",
	                                  &hosts, &e, &why),
	                 0);
	ck_assert(e.off);
	inetd_entry_free(&e);
	ck_assert_int_eq(inetd_parse_line("# a comment", &hosts, &e, &why), 1);
	ck_assert_int_eq(inetd_parse_line("   ", &hosts, &e, &why), 1);

	static const struct {
		const char *line, *why;
	} wrong[] = {
	        {"echo stream tcp", "expected at least 6 fields"},
	        {"echo stream tcp sometimes root internal", "the fourth field is wait or nowait"},
	        {"echo stream tcp nowait.0 root internal", "wait.MAX / nowait.MAX"},
	        {"echo stream tcp,bigbuf=1 nowait root internal", "after the protocol only"},
	        {"echo stream tcp nowait root: internal", "the user field is"},
	        {":echo stream tcp nowait root internal", "an empty service name or host"},
	};
	for (size_t i = 0; i < N(wrong); i++) {
		why = NULL;
		ck_assert_int_eq(inetd_parse_line(wrong[i].line, &hosts, &e, &why), 2);
		ck_assert_msg(why && strncmp(why, wrong[i].why, strlen(wrong[i].why)) == 0,
		              "'%s': got '%s'", wrong[i].line, why);
	}
	free(hosts);
}
END_TEST

/* The report reads in file and line order, whatever the order things were found in:
 * parse errors (found first) among mapping findings; findings at one line in the
 * order reported; findings about no file last. */
START_TEST(report_sorted)
{
	struct imp_report *rep = imp_report_new();
	static const char *const want[] = {
	        "a: note: whole file",       "a:2: dropped: second, first",
	        "a:2: note: second, then",   "a:10: error: tenth",
	        "b:1: error: parse",         "superctl import: note: last",
	        "superctl import: note: end"};
	ck_assert_ptr_nonnull(rep);
	imp_report_add(rep, "b", 1, IMP_ERROR, "parse");
	imp_report_add(rep, NULL, 0, IMP_NOTE, "last");
	imp_report_add(rep, "a", 10, IMP_ERROR, "tenth");
	imp_report_add(rep, "a", 2, IMP_DROPPED, "second, first");
	imp_report_add(rep, NULL, 0, IMP_NOTE, "end");
	imp_report_add(rep, "a", 2, IMP_NOTE, "second, then");
	imp_report_add(rep, "a", 0, IMP_NOTE, "whole file");
	ck_assert_uint_eq(imp_report_size(rep), N(want));
	for (size_t i = 0; i < N(want); i++)
		ck_assert_str_eq(imp_report_line(rep, i), want[i]);
	ck_assert_int_eq(imp_report_status(rep), 2);
	imp_report_free(rep);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("import");
	TCase *tc = tcase_create("import");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, grammar_errors_at_file_line, 0, N(bad));
	tcase_add_test(tc, grammar_forms);
	tcase_add_test(tc, operators_and_defaults);
	tcase_add_test(tc, bind_or_interface);
	tcase_add_test(tc, operator_misuse);
	tcase_add_test(tc, switched_off);
	tcase_add_loop_test(tc, address_forms, 0, N(forms));
	tcase_add_test(tc, inetd_fields);
	tcase_add_test(tc, report_sorted);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
