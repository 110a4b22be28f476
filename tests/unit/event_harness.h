/*
 * Test support for the event model's worker: a worker process of its own on a loopback
 * listener, with the test's handler, a scoreboard, and counters in shared memory that
 * the handlers write and the test reads.
 */
#ifndef SUPERSERVERD_TEST_EVENT_HARNESS_H
#define SUPERSERVERD_TEST_EVENT_HARNESS_H

#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpm/mpm.h"
#include "services/handler.h"
#include "superserverd/config.h"
#include "superserverd/scoreboard.h"

/* Written by the worker's callbacks, read by the test: shared memory. */
struct stats {
	_Atomic int opens, datas, writables, closes, writes_after_close;
	_Atomic size_t max_pending_at_writable, max_pending;
};

static struct stats *st;

struct worker {
	pid_t pid;
	int port;
	struct scoreboard *sb;
};

static inline long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls a condition until a deadline (the worker is another process: no event to wait
 * on). */
#define WAIT_FOR(cond, ms)                                                                         \
	({                                                                                         \
		long long _end = now_ms() + (ms);                                                  \
		bool _ok;                                                                          \
		while (!(_ok = (cond)) && now_ms() < _end)                                         \
			usleep(2000);                                                              \
		_ok;                                                                               \
	})

static inline void note_pending(struct ss_conn *c, _Atomic size_t *max)
{
	size_t p = ss_conn_pending(c), m = atomic_load(max);

	while (p > m && !atomic_compare_exchange_weak(max, &m, p))
		;
}

struct setup {
	const struct ss_handler *handler;
	void *handler_data;
	uint64_t max_connections;
	uint64_t idle_timeout_usec, max_duration_usec;
};

static inline const struct mpm_ops *event_ops(void)
{
	const struct mpm_ops *ops = mpm_find("event");

	ck_assert_ptr_nonnull(ops);
	return ops;
}

static inline void set_option(const struct mpm_ops *ops, void *opts, const char *key, uint64_t v)
{
	for (size_t i = 0; i < ops->n_options; i++) {
		if (strcmp(ops->options[i].key, key) == 0) {
			memcpy((char *)opts + ops->options[i].offset, &v, sizeof(v));
			return;
		}
	}
	ck_abort_msg("no option %s", key);
}

/* Present in sanitizer builds: the worker leaves with _exit, which skips the leak
 * check that exit() would run, so it is asked for explicitly. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

/* The worker process: what the service layer would hand it, minus privileges. */
static inline void __attribute__((noreturn)) worker_child(const struct setup *su, int lfd, int sbfd)
{
	const struct mpm_ops *ops = event_ops();
	unsigned char opts[64] = {0};
	struct service_conf sc = {.name = "t"};
	const char *names[] = {"t"};
	struct worker_ctx ctx = {
	        .conf = &sc,
	        .listen_fds = &lfd,
	        .listen_names = names,
	        .n_listen = 1,
	        .handler = su->handler,
	        .handler_data = su->handler_data,
	};

	ck_assert_uint_le(ops->options_size, sizeof(opts));
	for (size_t i = 0; i < ops->n_options; i++)
		memcpy(opts + ops->options[i].offset, &ops->options[i].def, sizeof(uint64_t));
	if (su->max_connections)
		set_option(ops, opts, "max_connections", su->max_connections);
	sc.mpm.ops = ops;
	sc.mpm.options = opts;
	sc.limits.idle_timeout_usec = su->idle_timeout_usec;
	sc.limits.max_duration_usec = su->max_duration_usec;
	ctx.scoreboard = scoreboard_attach(sbfd);
	if (!ctx.scoreboard)
		_exit(99);
	ctx.slot = &ctx.scoreboard->slots[0];
	int r = ops->worker_main(&ctx);
	scoreboard_unmap(ctx.scoreboard);
	if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
		_exit(98);
	_exit(r);
}

static inline void start(struct worker *w, const struct setup *su)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int sbfd;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 64), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	w->port = ntohs(sin.sin_port);
	w->sb = scoreboard_create(1, &sbfd);
	ck_assert_ptr_nonnull(w->sb);
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(st != MAP_FAILED);
	w->pid = fork();
	ck_assert_int_ge(w->pid, 0);
	if (w->pid == 0)
		worker_child(su, lfd, sbfd);
	close(lfd);
	close(sbfd);
	ck_assert(WAIT_FOR(atomic_load(&w->sb->slots[0].state) == WORKER_IDLE, 5000));
}

/* SIGTERM, and the worker's exit code once it has returned (-1 if it did not). */
static inline int stop(struct worker *w)
{
	int status = 0;
	pid_t r = 0;

	ck_assert_int_eq(kill(w->pid, SIGTERM), 0);
	WAIT_FOR((r = waitpid(w->pid, &status, WNOHANG)) == w->pid, 5000);
	if (r != w->pid) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, &status, 0);
		return -1;
	}
	scoreboard_unmap(w->sb);
	munmap(st, sizeof(*st));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline int connect_to(struct worker *w)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)w->port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Reads until EOF (or cap) within the deadline; returns the count. Fails on timeout. */
static inline size_t read_to_eof(int fd, void *buf, size_t cap, int ms)
{
	long long end = now_ms() + ms;
	size_t got = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ck_assert_msg(now_ms() < end, "no EOF within %d ms (%zu bytes)", ms, got);
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = read(fd, (char *)buf + got, cap - got);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return got;
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
		if (got == cap)
			return got;
	}
}

static inline void read_exact(int fd, void *buf, size_t len, int ms)
{
	long long end = now_ms() + ms;
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ck_assert_msg(now_ms() < end, "only %zu of %zu bytes within %d ms", got, len, ms);
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = read(fd, (char *)buf + got, len - got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
}

static inline uint64_t counter(_Atomic uint64_t *c)
{
	return atomic_load(c);
}

#endif
