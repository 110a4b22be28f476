/*
 * Test support for connection-level tests: a driver running in a thread on one end of
 * a socketpair, and a client on the other end that reads and writes with deadlines.
 */
#ifndef SUPERSERVERD_TEST_CONN_HARNESS_H
#define SUPERSERVERD_TEST_CONN_HARNESS_H

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mpm/driver.h"

struct drv_run {
	struct ss_conn c;
	struct driver_limits lim; /* set before drv_start */
	volatile int stop;
	enum driver_outcome out;
	pthread_t th;
	int client;
	int server; /* the driver's fd, for observing it with poll(); closed by the driver */
	int sndbuf; /* set before drv_start: SO_SNDBUF of the driver's end, 0 = default */
};

/* The deadline for anything that must happen (bytes, an EOF, the driver's end): it
 * costs time only when the test fails, so it is generous for a loaded machine. Timing
 * checks use their own, wide, bounds (see tests/README.md). */
#define TEST_WAIT_MS 20000

static inline uint64_t test_now_ms(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Keeps time between client actions; not a wait for a condition. */
static inline void test_pace_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0)
		ck_assert_int_eq(errno, EINTR);
}

static inline void *drv_thread(void *arg)
{
	struct drv_run *r = arg;

	r->out = driver_serve(&r->c, &r->lim, &r->stop);
	return NULL;
}

static inline void drv_start(struct drv_run *r, const struct ss_handler *h, void *service_data)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	r->client = sv[0];
	r->server = sv[1];
	if (r->sndbuf)
		ck_assert_int_eq(
		        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &r->sndbuf, sizeof(r->sndbuf)), 0);
	conn_init(&r->c, sv[1], h, service_data);
	ck_assert_int_eq(pthread_create(&r->th, NULL, drv_thread, r), 0);
}

/* Waits (up to timeout_ms) for the driver to return; closes the client end. */
static inline enum driver_outcome drv_join(struct drv_run *r, unsigned timeout_ms)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	ck_assert_msg(pthread_timedjoin_np(r->th, NULL, &ts) == 0, "driver did not return");
	ck_assert_int_eq(r->c.fd, -1);
	if (r->client >= 0)
		ck_assert_int_eq(close(r->client), 0);
	r->client = -1;
	return r->out;
}

/* One recv after waiting up to timeout_ms: bytes read, 0 at EOF, -ETIMEDOUT or -errno. */
static inline ssize_t client_recv(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t deadline = test_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = test_now_ms();
		int r = poll(&pfd, 1, now >= deadline ? 0 : (int)(deadline - now));
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(r, 0);
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

/* Reads exactly n bytes or fails the test. */
static inline void client_read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
	uint64_t deadline = test_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;

	while (got < n) {
		uint64_t now = test_now_ms();
		ssize_t r;

		ck_assert_msg(now < deadline, "timed out after %zu of %zu bytes", got, n);
		r = client_recv(fd, (char *)buf + got, n - got, (int)(deadline - now));
		ck_assert_msg(r > 0, "read %zu of %zu bytes, then %zd", got, n, r);
		got += (size_t)r;
	}
}

/* Reads until EOF (failing the test on timeout or more than cap bytes); returns the
 * number of bytes read. */
static inline size_t client_read_to_eof(int fd, void *buf, size_t cap, int timeout_ms)
{
	uint64_t deadline = test_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;
	char sink[1];

	for (;;) {
		uint64_t now = test_now_ms();
		ssize_t r;

		ck_assert_msg(now < deadline, "no EOF after %zu bytes", got);
		if (got < cap)
			r = client_recv(fd, (char *)buf + got, cap - got, (int)(deadline - now));
		else
			r = client_recv(fd, sink, sizeof(sink), (int)(deadline - now));
		ck_assert_msg(r >= 0, "read error %zd after %zu bytes", r, got);
		if (r == 0)
			return got;
		ck_assert_msg(got < cap, "more than %zu bytes before EOF", cap);
		got += (size_t)r;
	}
}

static inline void client_send_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		off += (size_t)n;
	}
}

#endif
