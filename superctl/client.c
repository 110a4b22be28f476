/* The control-socket round trip (see client.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "superctl/client.h"

/* Far above any real answer (a stats answer is a few KiB per service); a peer that
 * sends more without a newline is not superserverd. */
#define MAX_ANSWER (64 * 1024 * 1024)

long long client_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void client_pause_ms(int ms)
{
	(void)poll(NULL, 0, ms);
}

void client_init(struct ctl_client *c, const char *path, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->fd = -1;
	c->timeout_ms = timeout_ms;
}

void client_close(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->used = false;
	c->in_len = 0;
}

static int client_connect(struct ctl_client *c)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(c->path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A unix connect either completes or fails at once; EAGAIN means a full backlog. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int r = -errno;
		close(fd);
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	c->fd = fd;
	c->used = false;
	c->in_len = 0;
	return 0;
}

/* Waits for `events` on the socket until the deadline. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - client_now_ms();
		struct pollfd p = {.fd = fd, .events = events};
		if (left <= 0)
			return -ETIMEDOUT;
		int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(struct ctl_client *c, const char *buf, size_t len, long long deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int r = wait_fd(c->fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Reads one line; *line_len excludes the newline, which stays in c->in until consumed. */
static int read_line(struct ctl_client *c, size_t *line_len, long long deadline)
{
	for (;;) {
		char *nl = c->in_len ? memchr(c->in, '\n', c->in_len) : NULL;
		if (nl) {
			*line_len = (size_t)(nl - c->in);
			return 0;
		}
		if (c->in_len >= MAX_ANSWER)
			return -EMSGSIZE;
		if (c->in_cap - c->in_len < 4096) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 16384;
			char *p = realloc(c->in, cap);
			if (!p)
				return -ENOMEM;
			c->in = p;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET; /* closed before a whole answer */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int r = wait_fd(c->fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

static int round_trip(struct ctl_client *c, const char *text, size_t len, json_t **reply_r,
                      long long deadline)
{
	json_error_t jerr;
	size_t line_len = 0;
	int r;

	r = send_all(c, text, len, deadline);
	if (r == -EPIPE || r == -ECONNRESET) {
		/* Closed before it read anything: a daemon with no room says so first (the
		 * "busy" line), and that line waits in the socket. */
		if (read_line(c, &line_len, deadline) < 0)
			return r;
	} else if (r < 0 || (r = read_line(c, &line_len, deadline)) < 0) {
		return r;
	}
	json_t *reply = json_loadb(c->in, line_len, JSON_DISABLE_EOF_CHECK, &jerr);
	memmove(c->in, c->in + line_len + 1, c->in_len - line_len - 1);
	c->in_len -= line_len + 1;
	c->used = true;
	if (r < 0)
		client_close(c); /* the daemon's last words: the next call needs a new one */
	if (!json_is_object(reply)) {
		json_decref(reply);
		return -EPROTO;
	}
	*reply_r = reply;
	return 0;
}

int client_call(struct ctl_client *c, const char *command, const char *service, json_t **reply_r)
{
	long long deadline = client_now_ms() + c->timeout_ms;
	json_t *req = json_pack("{s:s}", "command", command);
	char *text;
	int r;

	if (!req)
		return -ENOMEM;
	if (service)
		json_object_set_new(req, "service", json_string(service));
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	text[len++] = '\n'; /* json_dumps's terminator becomes the line's end */

	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = c->fd >= 0 && c->used;
		if (c->fd < 0 && (r = client_connect(c)) < 0)
			break;
		r = round_trip(c, text, len, reply_r, deadline);
		if (r == 0)
			break;
		client_close(c);
		/*
		 * The daemon closes idle clients (10 s). A kept connection may have been
		 * closed since its last answer: a request it could not have received is sent
		 * again once on a fresh connection. Anything else is reported.
		 */
		if (!reused || (r != -EPIPE && r != -ECONNRESET))
			break;
	}
	free(text);
	return r;
}
