/* Relay helpers for the integration tests (see harness_relay.h). */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "harness_ctl.h"
#include "harness_relay.h"

int hr_listener(int backlog, int *port_r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port_r = ntohs(sa.sin_port);
	return fd;
}

int hr_accept(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	ck_assert_int_eq(poll(&p, 1, ms), 1);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

long long hr_stat(struct daemon *d, const char *service, const char *key)
{
	json_t *reply = hc_call(d, "stats", service);
	long long v = reply ? hc_int(hc_service(reply, service), key) : -1;

	json_decref(reply);
	return v;
}

long long hr_upstream(struct daemon *d, const char *service, const char *key)
{
	json_t *reply = hc_call(d, "stats", service);
	long long v = -1;

	if (reply) {
		const json_t *u = json_object_get(hc_service(reply, service), "upstream");
		if (json_is_object(u))
			v = hc_int(u, key);
	}
	json_decref(reply);
	return v;
}
