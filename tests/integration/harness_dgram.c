/* Datagram helpers for the integration tests (see harness_dgram.h). */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "harness_ctl.h"
#include "harness_dgram.h"

int hd_unix_client(const struct daemon *d, const char *name)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", d->dir, name);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(chmod(sun.sun_path, 0666), 0);
	return fd;
}

ssize_t hd_answer(int fd, void *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

long long hd_count(struct daemon *d, const char *service, const char *field, const char *reason)
{
	json_t *reply = hc_call(d, "stats", service);
	json_t *dg = json_object_get(hc_service(reply, service), "datagrams");
	long long v = reason ? hc_int(json_object_get(dg, "dropped_by_reason"), reason)
	                     : hc_int(dg, field);

	json_decref(reply);
	return v;
}
