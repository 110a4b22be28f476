/* Listening address syntax (addr_parse) and sockaddr formatting (addr_format). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "superserverd/addr.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *in;
	enum addr_kind kind;
	const char *key;
	unsigned port; /* inet: expected port */
} valid[] = {
        {"127.0.0.1:7", ADDR_INET, "127.0.0.1:7", 7},
        {"127.0.0.1:007", ADDR_INET, "127.0.0.1:7", 7},
        {"0.0.0.0:1", ADDR_INET, "0.0.0.0:1", 1},
        {"*:80", ADDR_INET, "0.0.0.0:80", 80},
        {"10.1.2.3:65535", ADDR_INET, "10.1.2.3:65535", 65535},
        {"[::1]:7007", ADDR_INET6, "[::1]:7007", 7007},
        {"[0:0:0:0:0:0:0:1]:7", ADDR_INET6, "[::1]:7", 7},
        {"[::]:22", ADDR_INET6, "[::]:22", 22},
        {"[FE80::A]:9", ADDR_INET6, "[fe80::a]:9", 9},
        {"[::ffff:127.0.0.1]:7", ADDR_INET6, "[::ffff:127.0.0.1]:7", 7},
        {"unix:/run/superserverd/echo.sock", ADDR_UNIX, "unix:/run/superserverd/echo.sock", 0},
        {"unix:/", ADDR_UNIX, "unix:/", 0},
        {"systemd:echo", ADDR_SYSTEMD, "systemd:echo", 0},
        {"systemd:a.b-c_d", ADDR_SYSTEMD, "systemd:a.b-c_d", 0},
};

START_TEST(valid_table)
{
	struct addr a;
	char err[256] = "untouched";
	int r = addr_parse(valid[_i].in, &a, err, sizeof(err));

	ck_assert_msg(r == 0, "'%s': %s", valid[_i].in, err);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(a.kind, valid[_i].kind);
	ck_assert_str_eq(a.key, valid[_i].key);
	switch (a.kind) {
	case ADDR_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.sa;
		ck_assert_int_eq(sin->sin_family, AF_INET);
		ck_assert_uint_eq(ntohs(sin->sin_port), valid[_i].port);
		ck_assert_uint_eq(a.salen, sizeof(*sin));
		break;
	}
	case ADDR_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.sa;
		ck_assert_int_eq(sin6->sin6_family, AF_INET6);
		ck_assert_uint_eq(ntohs(sin6->sin6_port), valid[_i].port);
		ck_assert_uint_eq(a.salen, sizeof(*sin6));
		break;
	}
	case ADDR_UNIX: {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.sa;
		const char *path = valid[_i].in + 5;
		ck_assert_int_eq(sun->sun_family, AF_UNIX);
		ck_assert_str_eq(sun->sun_path, path);
		ck_assert_uint_eq(a.salen,
		                  offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
		break;
	}
	case ADDR_SYSTEMD:
		ck_assert_str_eq(a.name, valid[_i].in + 8);
		ck_assert_int_eq(a.sa.ss_family, AF_UNSPEC);
		break;
	}
}
END_TEST

static const struct {
	const char *in;
	const char *err; /* the message, exactly */
} invalid[] = {
        {"127.0.0.1:0", "invalid address '127.0.0.1:0': the port must be between 1 and 65535"},
        {"127.0.0.1:65536",
         "invalid address '127.0.0.1:65536': the port must be between 1 and 65535"},
        {"127.0.0.1:99999999999",
         "invalid address '127.0.0.1:99999999999': the port must be between 1 and 65535"},
        {"127.0.0.1:", "invalid address '127.0.0.1:': the port must be between 1 and 65535"},
        {"127.0.0.1:-1", "invalid address '127.0.0.1:-1': the port must be between 1 and 65535"},
        {"127.0.0.1:+7", "invalid address '127.0.0.1:+7': the port must be between 1 and 65535"},
        {"127.0.0.1:7 ", "invalid address '127.0.0.1:7 ': the port must be between 1 and 65535"},
        {"127.0.0.1",
         "invalid address '127.0.0.1': expected HOST:PORT, [IPV6]:PORT, udp:HOST:PORT, "
         "udp:[IPV6]:PORT, unix:/PATH, unixgram:/PATH or systemd:NAME"},
        {"udp:127.0.0.1", "invalid address 'udp:127.0.0.1': expected HOST:PORT, [IPV6]:PORT, "
                          "udp:HOST:PORT, udp:[IPV6]:PORT, unix:/PATH, unixgram:/PATH or "
                          "systemd:NAME"},
        {"udp:127.0.0.1:0",
         "invalid address 'udp:127.0.0.1:0': the port must be between 1 and 65535"},
        {"udp:[::1]:70000",
         "invalid address 'udp:[::1]:70000': the port must be between 1 and 65535"},
        {"udp:localhost:69",
         "invalid address 'udp:localhost:69': host names are not resolved: use a "
         "numeric address such as 127.0.0.1 or [::1]"},
        {"udp:unix:/x", "invalid address 'udp:unix:/x': tcp: and udp: go in front of an IP address "
                        "and port only"},
        {"tcp:udp:1.2.3.4:5", "invalid address 'tcp:udp:1.2.3.4:5': tcp: and udp: go in front of "
                              "an IP address and port only"},
        {"udp:", "invalid address 'udp:': expected HOST:PORT, [IPV6]:PORT, udp:HOST:PORT, "
                 "udp:[IPV6]:PORT, unix:/PATH, unixgram:/PATH or systemd:NAME"},
        {"unixgram:x.sock", "invalid address 'unixgram:x.sock': the socket path must be absolute"},
        {"localhost:7", "invalid address 'localhost:7': host names are not resolved: use a numeric "
                        "address such as 127.0.0.1 or [::1]"},
        {"example.com:80", "invalid address 'example.com:80': host names are not resolved: use a "
                           "numeric address such as 127.0.0.1 or [::1]"},
        {"256.0.0.1:80", "invalid address '256.0.0.1:80': '256.0.0.1' is not a valid IPv4 address"},
        {"1.2.3:80", "invalid address '1.2.3:80': '1.2.3' is not a valid IPv4 address"},
        {":80", "invalid address ':80': missing host (use *:80 for every IPv4 address)"},
        {"::1:7", "invalid address '::1:7': an IPv6 address needs brackets, e.g. [::1]:7007"},
        {"[::g]:7", "invalid address '[::g]:7': '::g' is not a valid IPv6 address"},
        {"[1:2:3:4:5:6:7:8:9]:7", "invalid address '[1:2:3:4:5:6:7:8:9]:7': '1:2:3:4:5:6:7:8:9' is "
                                  "not a valid IPv6 address"},
        {"[127.0.0.1]:7",
         "invalid address '[127.0.0.1]:7': '127.0.0.1' is not a valid IPv6 address"},
        {"[]:7", "invalid address '[]:7': not a valid IPv6 address"},
        {"[::1]7", "invalid address '[::1]7': expected [IPV6]:PORT"},
        {"[::1", "invalid address '[::1': expected [IPV6]:PORT"},
        {"[::1]:0", "invalid address '[::1]:0': the port must be between 1 and 65535"},
        {"[fe80::1%eth0]:7", "invalid address '[fe80::1%eth0]:7': 'fe80::1%eth0' is not a valid "
                             "IPv6 address"},
        {"unix:relative.sock",
         "invalid address 'unix:relative.sock': the socket path must be absolute"},
        {"unix:", "invalid address 'unix:': the socket path must be absolute"},
        {"systemd:", "invalid address 'systemd:': expected a socket name after 'systemd:' (its "
                     "FileDescriptorName=)"},
        {"systemd:a:b",
         "invalid address 'systemd:a:b': a socket name is printable ASCII without ':' or spaces"},
        {"systemd:a b",
         "invalid address 'systemd:a b': a socket name is printable ASCII without ':' or spaces"},
        {"systemd:\xc3\xa9", "invalid address 'systemd:\xc3\xa9': a socket name is printable ASCII "
                             "without ':' or spaces"},
        {"", "expected an address: HOST:PORT, [IPV6]:PORT, udp:HOST:PORT, udp:[IPV6]:PORT, "
             "unix:/PATH, unixgram:/PATH or systemd:NAME"},
};

START_TEST(invalid_table)
{
	struct addr a;
	char err[512];

	ck_assert_int_eq(addr_parse(invalid[_i].in, &a, err, sizeof(err)), -1);
	ck_assert_str_eq(err, invalid[_i].err);
}
END_TEST

/* The socket type, and keys that keep a stream and a datagram socket apart. */
static const struct {
	const char *in;
	int socktype;
	const char *key;
} typed[] = {
        {"127.0.0.1:69", SOCK_STREAM, "127.0.0.1:69"},
        {"tcp:127.0.0.1:69", SOCK_STREAM, "127.0.0.1:69"},
        {"tcp:[::1]:69", SOCK_STREAM, "[::1]:69"},
        {"udp:127.0.0.1:69", SOCK_DGRAM, "udp:127.0.0.1:69"},
        {"udp:*:69", SOCK_DGRAM, "udp:0.0.0.0:69"},
        {"udp:[0::1]:69", SOCK_DGRAM, "udp:[::1]:69"},
        {"unix:/run/a.sock", SOCK_STREAM, "unix:/run/a.sock"},
        {"unixgram:/run/a.sock", SOCK_DGRAM, "unixgram:/run/a.sock"},
        {"systemd:tftp", 0, "systemd:tftp"},
};

START_TEST(socket_types)
{
	struct addr a;
	char err[256];

	ck_assert_msg(addr_parse(typed[_i].in, &a, err, sizeof(err)) == 0, "%s: %s", typed[_i].in,
	              err);
	ck_assert_int_eq(a.socktype, typed[_i].socktype);
	ck_assert_str_eq(a.key, typed[_i].key);
	if (strncmp(typed[_i].in, "unixgram:", 9) == 0) {
		ck_assert_int_eq(a.kind, ADDR_UNIX);
		ck_assert_str_eq(((struct sockaddr_un *)&a.sa)->sun_path, typed[_i].in + 9);
	}
}
END_TEST

/* A services database for the tests: rsync is tcp only, tftp udp only, domain both. */
static int fake_lookup(void *ctx, const char *name, int socktype, unsigned *port_r, char *err,
                       size_t errlen)
{
	static const struct {
		const char *name;
		int socktype;
		unsigned port;
	} db[] = {{"rsync", SOCK_STREAM, 873},  {"tftp", SOCK_DGRAM, 69},
	          {"domain", SOCK_STREAM, 53},  {"domain", SOCK_DGRAM, 53},
	          {"z39.50", SOCK_STREAM, 210}, {"x-11_a+b/c", SOCK_STREAM, 6000}};

	ck_assert_ptr_eq(ctx, (void *)fake_lookup);
	for (size_t i = 0; i < N(db); i++)
		if (strcmp(db[i].name, name) == 0 && db[i].socktype == socktype) {
			*port_r = db[i].port;
			return 0;
		}
	snprintf(err, errlen, "no %s for %s", name, socktype == SOCK_DGRAM ? "udp" : "tcp");
	return -1;
}

static const struct {
	const char *in;
	const char *key; /* NULL: an error */
	const char *err;
} named[] = {
        {"0.0.0.0:rsync", "0.0.0.0:873", NULL},
        {"*:rsync", "0.0.0.0:873", NULL},
        {"tcp:127.0.0.1:rsync", "127.0.0.1:873", NULL},
        {"[::]:rsync", "[::]:873", NULL},
        {"udp:[::]:tftp", "udp:[::]:69", NULL},
        {"udp:127.0.0.1:tftp", "udp:127.0.0.1:69", NULL},
        {"udp:*:domain", "udp:0.0.0.0:53", NULL},
        {"[::1]:domain", "[::1]:53", NULL},
        {"127.0.0.1:z39.50", "127.0.0.1:210", NULL},
        {"127.0.0.1:x-11_a+b/c", "127.0.0.1:6000", NULL},
        {"127.0.0.1:873", "127.0.0.1:873", NULL}, /* numbers never reach the lookup */
        {"127.0.0.1:rsyncx", NULL, "invalid address '127.0.0.1:rsyncx': no rsyncx for tcp"},
        {"udp:127.0.0.1:rsync", NULL, "invalid address 'udp:127.0.0.1:rsync': no rsync for udp"},
        {"[::1]:tftp", NULL, "invalid address '[::1]:tftp': no tftp for tcp"},
        {"127.0.0.1:70000", NULL,
         "invalid address '127.0.0.1:70000': the port must be between 1 "
         "and 65535"},
        {"127.0.0.1:0", NULL,
         "invalid address '127.0.0.1:0': the port must be between 1 and "
         "65535"},
        {"127.0.0.1:", NULL, "invalid address '127.0.0.1:': the port must be between 1 and 65535"},
        {"127.0.0.1:rs ync", NULL,
         "invalid address '127.0.0.1:rs ync': the port must be a number "
         "between 1 and 65535 or a service name"},
        {"127.0.0.1:r$", NULL,
         "invalid address '127.0.0.1:r$': the port must be a number between "
         "1 and 65535 or a service name"},
        {"127.0.0.1:abcdefghijabcdefghijabcdefghijabc", NULL,
         "invalid address '127.0.0.1:abcdefghijabcdefghijabcdefghijabc': the port must be a "
         "number between 1 and 65535 or a service name"},
        {"[::1]:rs:ync", NULL,
         "invalid address '[::1]:rs:ync': the port must be a number between "
         "1 and 65535 or a service name"},
};

START_TEST(named_ports)
{
	struct addr a;
	char err[512] = "untouched";
	int r = addr_parse_named(named[_i].in, fake_lookup, (void *)fake_lookup, &a, err,
	                         sizeof(err));

	if (named[_i].key) {
		ck_assert_msg(r == 0, "'%s': %s", named[_i].in, err);
		ck_assert_str_eq(a.key, named[_i].key);
		return;
	}
	ck_assert_msg(r == -1, "'%s' parsed as %s", named[_i].in, a.key);
	ck_assert_str_eq(err, named[_i].err);
}
END_TEST

/* Without a lookup a name is no port at all: plain addr_parse reads no file. */
START_TEST(names_need_a_lookup)
{
	struct addr a;
	char err[256];

	ck_assert_int_eq(addr_parse("0.0.0.0:rsync", &a, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "invalid address '0.0.0.0:rsync': the port must be between 1 and "
	                      "65535");
	ck_assert_int_eq(addr_parse_named("0.0.0.0:rsync", NULL, NULL, &a, err, sizeof(err)), -1);
}
END_TEST

START_TEST(unix_path_length)
{
	struct sockaddr_un sun;
	char text[sizeof(sun.sun_path) + 16], err[256];
	struct addr a;
	size_t max = sizeof(sun.sun_path) - 1; /* room for the NUL */

	strcpy(text, "unix:/");
	memset(text + 6, 'x', max - 1);
	text[5 + max] = '\0';
	ck_assert_int_eq(addr_parse(text, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(((struct sockaddr_un *)&a.sa)->sun_path), max);
	ck_assert_str_eq(a.key, text);

	strcat(text, "x");
	ck_assert_int_eq(addr_parse(text, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "the socket path is too long (108 bytes, at most 107)"));
}
END_TEST

START_TEST(systemd_name_length)
{
	struct addr a;
	char text[300], err[256];
	size_t max = 255; /* what systemd allows for FileDescriptorName= */

	strcpy(text, "systemd:");
	memset(text + 8, 'n', max);
	text[8 + max] = '\0';
	ck_assert_int_eq(addr_parse(text, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(a.name), max);
	ck_assert_str_eq(a.key, text);

	strcat(text, "n");
	ck_assert_int_eq(addr_parse(text, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "the socket name is too long"));
}
END_TEST

START_TEST(small_error_buffer)
{
	struct addr a;
	char err[8];

	ck_assert_int_eq(addr_parse("localhost:7", &a, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "invalid");
	ck_assert_int_eq(addr_parse("localhost:7", &a, NULL, 0), -1);
}
END_TEST

START_TEST(format_inet)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
	char buf[64], host[64];
	unsigned port = 0;

	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	addr_format((struct sockaddr *)&sin, sizeof(sin), buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.0.2.1:80");
	ck_assert_int_eq(
	        addr_host_port((struct sockaddr *)&sin, sizeof(sin), host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "192.0.2.1");
	ck_assert_uint_eq(port, 80);
	/* Too short for its family: not read past the end. */
	addr_format((struct sockaddr *)&sin, sizeof(sin) - 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?(family 2)");
	ck_assert_int_eq(addr_host_port((struct sockaddr *)&sin, 4, host, sizeof(host), &port), -1);
}
END_TEST

/* The hand-made dotted quad agrees with inet_ntop for every width of every byte. */
START_TEST(format_inet_every_width)
{
	static const unsigned char v[] = {0, 1, 9, 10, 99, 100, 199, 200, 255};
	const size_t n = sizeof(v);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char host[64], want[INET_ADDRSTRLEN];
	unsigned port;

	for (size_t i = 0; i < n * n * n * n; i++) {
		unsigned char *b = (unsigned char *)&sin.sin_addr;
		b[0] = v[i % n];
		b[1] = v[i / n % n];
		b[2] = v[i / (n * n) % n];
		b[3] = v[i / (n * n * n)];
		ck_assert_ptr_nonnull(inet_ntop(AF_INET, &sin.sin_addr, want, sizeof(want)));
		ck_assert_int_eq(addr_host_port((struct sockaddr *)&sin, sizeof(sin), host,
		                                sizeof(host), &port),
		                 0);
		ck_assert_str_eq(host, want);
	}
	/* Room for the longest address or nothing, as inet_ntop. */
	ck_assert_int_eq(addr_host_port((struct sockaddr *)&sin, sizeof(sin), host,
	                                INET_ADDRSTRLEN - 1, &port),
	                 -1);
}
END_TEST

START_TEST(format_inet6_and_mapped)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(7007)};
	char buf[64], host[64];
	unsigned port = 0;

	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	addr_format((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf));
	ck_assert_str_eq(buf, "[2001:db8::1]:7007");
	ck_assert_int_eq(
	        addr_host_port((struct sockaddr *)&sin6, sizeof(sin6), host, sizeof(host), &port),
	        0);
	ck_assert_str_eq(host, "2001:db8::1");

	/* An IPv4 client on a dual-stack socket reads as IPv4. */
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6.sin6_addr);
	sin6.sin6_port = htons(443);
	addr_format((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.0.1:443");
	ck_assert_int_eq(
	        addr_host_port((struct sockaddr *)&sin6, sizeof(sin6), host, sizeof(host), &port),
	        0);
	ck_assert_str_eq(host, "10.0.0.1");
	ck_assert_uint_eq(port, 443);

	/* ::1 is not mapped, even though its last bytes look like an IPv4 address. */
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	addr_format((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf));
	ck_assert_str_eq(buf, "[::1]:443");
}
END_TEST

START_TEST(format_unix)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t base = offsetof(struct sockaddr_un, sun_path);
	char buf[160], host[64];
	unsigned port;

	strcpy(sun.sun_path, "/run/x.sock");
	addr_format((struct sockaddr *)&sun, base + 12, buf, sizeof(buf));
	ck_assert_str_eq(buf, "unix:/run/x.sock");
	/* The peer of an unbound client socket. */
	addr_format((struct sockaddr *)&sun, base, buf, sizeof(buf));
	ck_assert_str_eq(buf, "unix:");
	/* Abstract: a leading NUL, and the length says where the name ends. */
	memcpy(sun.sun_path, "\0abc", 4);
	addr_format((struct sockaddr *)&sun, base + 4, buf, sizeof(buf));
	ck_assert_str_eq(buf, "unix:@abc");
	ck_assert_int_eq(
	        addr_host_port((struct sockaddr *)&sun, sizeof(sun), host, sizeof(host), &port),
	        -1);
}
END_TEST

START_TEST(format_other)
{
	struct sockaddr sa = {.sa_family = AF_APPLETALK};
	char buf[32], small[6];

	addr_format(&sa, sizeof(sa), buf, sizeof(buf));
	ck_assert_str_eq(buf, "?(family 5)");
	addr_format(&sa, 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?");

	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
	addr_format((struct sockaddr *)&sin, sizeof(sin), small, sizeof(small));
	ck_assert_str_eq(small, "0.0.0");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, valid_table, 0, N(valid));
	tcase_add_loop_test(tc, invalid_table, 0, N(invalid));
	tcase_add_loop_test(tc, socket_types, 0, N(typed));
	tcase_add_loop_test(tc, named_ports, 0, N(named));
	tcase_add_test(tc, names_need_a_lookup);
	tcase_add_test(tc, unix_path_length);
	tcase_add_test(tc, systemd_name_length);
	tcase_add_test(tc, small_error_buffer);
	tcase_add_test(tc, format_inet);
	tcase_add_test(tc, format_inet_every_width);
	tcase_add_test(tc, format_inet6_and_mapped);
	tcase_add_test(tc, format_unix);
	tcase_add_test(tc, format_other);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
