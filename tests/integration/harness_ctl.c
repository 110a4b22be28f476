/* Control-socket helpers for the integration tests (see harness_ctl.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness_ctl.h"

ssize_t hc_read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	size_t got = 0;

	/* One byte at a time: nothing past the newline is taken from the socket, so the
	 * next answer stays there for the next call. */
	while (got + 1 < cap) {
		long long left = end - h_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = recv(fd, buf + got, 1, 0);
		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (buf[got] == '\n') {
			buf[got] = '\0';
			return (ssize_t)got;
		}
		got++;
	}
	return -1;
}

json_t *hc_exchange(int fd, const char *text, int timeout_ms)
{
	static char line[1 << 20];
	ssize_t n;

	if (h_write_all(fd, text, strlen(text)) < 0)
		return NULL;
	n = hc_read_line(fd, line, sizeof(line), timeout_ms);
	if (n < 0)
		return NULL;
	return json_loadb(line, (size_t)n, 0, NULL);
}

json_t *hc_call(struct daemon *d, const char *command, const char *service)
{
	json_t *req = json_pack("{s:s}", "command", command), *reply = NULL;
	char *text;
	int fd;

	h_notify_clear(d);
	if (service)
		json_object_set_new(req, "service", json_string(service));
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	fd = h_connect(d->control, 0);
	if (fd >= 0 && text) {
		char *line = NULL;
		if (asprintf(&line, "%s\n", text) >= 0)
			reply = hc_exchange(fd, line, 10000);
		free(line);
	}
	if (fd >= 0)
		close(fd);
	free(text);
	return reply;
}

json_t *hc_service(json_t *reply, const char *name)
{
	json_t *services = json_object_get(reply, "services"), *svc;
	size_t i;

	for (i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		if (strcmp(hc_str(svc, "name"), name) == 0)
			return svc;
	}
	return NULL;
}

long long hc_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

const char *hc_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

bool hc_ok(const json_t *reply)
{
	return json_is_true(json_object_get(reply, "ok"));
}

static bool state_is(struct daemon *d, const char *service, const char *state)
{
	json_t *reply = hc_call(d, "status", NULL);
	bool is = strcmp(hc_str(hc_service(reply, service), "state"), state) == 0;
	json_decref(reply);
	return is;
}

bool hc_wait_state(struct daemon *d, const char *service, const char *state, int timeout_ms)
{
	return H_DEADLINE_WAIT(state_is(d, service, state), timeout_ms);
}
