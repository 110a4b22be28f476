/*
 * The PROXY step of accept as the event-loop models use it (mpm/proxy_accept.c): only a
 * trusted peer may send the header; a header that arrives in pieces is taken without a
 * byte of what follows; the header's client and local address replace the socket's,
 * UNKNOWN keeps them; a refusal is counted, returns the reservation and closes.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/admit.h"
#include "mpm/connlog.h"
#include "mpm/mpm.h"
#include "mpm/proxy_accept.h"
#include "superserverd/cidr.h"
#include "superserverd/config.h"
#include "superserverd/scoreboard.h"

static struct cidr trusted[2];
static struct listen_conf lc;
static char err[256];

static void setup(void)
{
	ck_assert_int_eq(cidr_parse("127.0.0.0/8", &trusted[0], err, sizeof(err)), 0);
	ck_assert_int_eq(cidr_parse("2001:db8::/32", &trusted[1], err, sizeof(err)), 0);
	lc = (struct listen_conf){.proxy_protocol = true,
	                          .trusted_proxies = trusted,
	                          .n_trusted_proxies = 2,
	                          .proxy_timeout_usec = 300 * 1000};
}

static struct sockaddr_in v4(const char *ip, unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

START_TEST(trusted_peers_only)
{
	struct sockaddr_in a = v4("127.0.0.9", 1), b = v4("10.0.0.1", 1);
	struct sockaddr_in6 c = {.sin6_family = AF_INET6}, e = {.sin6_family = AF_INET6};
	struct {
		sa_family_t family;
		char path[108];
	} u = {.family = AF_UNIX, .path = "/x"};

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::5", &c.sin6_addr), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db9::5", &e.sin6_addr), 1);
	ck_assert(proxy_accept_trusted(&lc, (struct sockaddr *)&a, sizeof(a)));
	ck_assert(!proxy_accept_trusted(&lc, (struct sockaddr *)&b, sizeof(b)));
	ck_assert(proxy_accept_trusted(&lc, (struct sockaddr *)&c, sizeof(c)));
	ck_assert(!proxy_accept_trusted(&lc, (struct sockaddr *)&e, sizeof(e)));
	/* A unix peer has no address to trust. */
	ck_assert(!proxy_accept_trusted(&lc, (struct sockaddr *)&u, sizeof(u)));
}
END_TEST

START_TEST(pieces_then_done_leaves_the_data)
{
	struct sockaddr_in peer = v4("127.0.0.1", 5555);
	struct admit_ticket tk = ADMIT_TICKET_NONE;
	struct proxy_accept pa;
	const char *h = "PROXY TCP4 198.51.100.7 203.0.113.9 40000 7000\r\n";
	char buf[16] = {0};
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(proxy_accept_begin(&pa, &lc, sv[0], (struct sockaddr *)&peer, sizeof(peer),
	                                    &tk, 1000, err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(pa.deadline_usec, 1000 + 300 * 1000);
	ck_assert_int_eq(proxy_accept_step(&pa, err, sizeof(err)), PROXY_NEED_MORE);
	ck_assert_int_eq(write(sv[1], h, 20), 20);
	ck_assert_int_eq(proxy_accept_step(&pa, err, sizeof(err)), PROXY_NEED_MORE);
	/* Still the TCP peer while the header is incomplete. */
	ck_assert_int_eq(((struct sockaddr_in *)&pa.peer)->sin_port, htons(5555));
	ck_assert_int_eq(write(sv[1], h + 20, strlen(h) - 20), (ssize_t)(strlen(h) - 20));
	ck_assert_int_eq(write(sv[1], "data", 4), 4);
	ck_assert_int_eq(proxy_accept_step(&pa, err, sizeof(err)), PROXY_DONE);

	const struct sockaddr_in *src = (struct sockaddr_in *)&pa.peer;
	const struct sockaddr_in *dst = (struct sockaddr_in *)&pa.local;
	ck_assert_int_eq(src->sin_family, AF_INET);
	ck_assert_str_eq(inet_ntop(AF_INET, &src->sin_addr, buf, sizeof(buf)), "198.51.100.7");
	ck_assert_int_eq(ntohs(src->sin_port), 40000);
	ck_assert_uint_eq(pa.local_len, sizeof(struct sockaddr_in));
	ck_assert_str_eq(inet_ntop(AF_INET, &dst->sin_addr, buf, sizeof(buf)), "203.0.113.9");
	ck_assert_int_eq(ntohs(dst->sin_port), 7000);
	/* The bytes after the header are the application's, all of them. */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), 4);
	ck_assert_str_eq(buf, "data");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(unknown_keeps_own_addresses)
{
	struct sockaddr_in peer = v4("127.0.0.1", 5555);
	struct admit_ticket tk = ADMIT_TICKET_NONE;
	struct proxy_accept pa;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(proxy_accept_begin(&pa, &lc, sv[0], (struct sockaddr *)&peer, sizeof(peer),
	                                    &tk, 0, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(write(sv[1], "PROXY UNKNOWN\r\n", 15), 15);
	ck_assert_int_eq(proxy_accept_step(&pa, err, sizeof(err)), PROXY_DONE);
	ck_assert_int_eq(((struct sockaddr_in *)&pa.peer)->sin_port, htons(5555));
	ck_assert_uint_eq(pa.local_len, 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(garbage_and_eof_are_errors)
{
	struct sockaddr_in peer = v4("127.0.0.1", 5555);
	struct admit_ticket tk = ADMIT_TICKET_NONE;
	struct proxy_accept pa;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(proxy_accept_begin(&pa, &lc, sv[0], (struct sockaddr *)&peer, sizeof(peer),
	                                    &tk, 0, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(write(sv[1], "GET /", 5), 5);
	ck_assert_int_eq(proxy_accept_step(&pa, err, sizeof(err)), PROXY_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "not a PROXY protocol header"));
	close(sv[0]);
	close(sv[1]);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(proxy_accept_begin(&pa, &lc, sv[0], (struct sockaddr *)&peer, sizeof(peer),
	                                    &tk, 0, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(write(sv[1], "PROXY TCP4 1.2", 14), 14);
	ck_assert_int_eq(proxy_accept_step(&pa, err, sizeof(err)), PROXY_NEED_MORE);
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(proxy_accept_step(&pa, err, sizeof(err)), PROXY_ERROR);
	ck_assert_str_eq(err, "connection closed before the PROXY header ended");
	/* Had the deadline come first, the reason says how much came. */
	proxy_accept_timeout_reason(&pa, err, sizeof(err));
	ck_assert_str_eq(err, "no PROXY header within 300 ms (14 bytes of it came)");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(untrusted_refused_counted_and_closed)
{
	struct service_conf sc = {.name = "t", .limits = {.max_connections = 4}};
	struct sockaddr_in peer = v4("10.0.0.1", 5555);
	struct admit_ticket tk;
	struct proxy_accept pa;
	struct connlog cl;
	struct admit a;
	int sbfd, sv[2];
	struct scoreboard *sb = scoreboard_create(1, &sbfd);

	ck_assert_ptr_nonnull(sb);
	admit_init(&a, &sc, sb, 0);
	connlog_open(&cl, &sc, sb, -1);
	ck_assert_uint_eq(admit_reserve(&a, &tk), 0);
	ck_assert(tk.reserved);
	ck_assert_int_eq(atomic_load(&sb->admit.active_total), 1);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(proxy_accept_begin(&pa, &lc, sv[0], (struct sockaddr *)&peer, sizeof(peer),
	                                    &tk, 0, err, sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "PROXY header from a peer not in trusted_proxies");
	proxy_accept_refuse(&pa, &a, &cl, err);
	ck_assert_int_eq(pa.fd, -1);
	ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(atomic_load(&sb->counters.rejected[REJECT_PROXY]), 1);
	/* The reservation made before accept is returned. */
	ck_assert_int_eq(atomic_load(&sb->admit.active_total), 0);
	close(sv[1]);
	close(sbfd);
	scoreboard_unmap(sb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("PROXY accept step");
	TCase *tc = tcase_create("proxy_accept");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, trusted_peers_only);
	tcase_add_test(tc, pieces_then_done_leaves_the_data);
	tcase_add_test(tc, unknown_keeps_own_addresses);
	tcase_add_test(tc, garbage_and_eof_are_errors);
	tcase_add_test(tc, untrusted_refused_counted_and_closed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
