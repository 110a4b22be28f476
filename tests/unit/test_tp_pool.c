/*
 * The threadpool's service-process side in-process: the real worker_main with test
 * handlers that block, which no built-in does. Checks what only a slow handler shows:
 * one connection's callbacks never overlap, different connections' do, a stuck
 * callback does not keep its client past max_duration, close runs exactly once, and
 * SIGTERM waits for the connection a thread is serving.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mpm/mpm.h"
#include "mpm/tp_pool.h"
#include "superserverd/config.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

static struct {
	atomic_int opens, datas, closes;
	atomic_int running, max_running; /* data callbacks in progress, across connections */
	atomic_int overlaps;             /* one connection's callbacks running at once */
	int delay_ms;                    /* how long a data callback works */
} st;

struct conn_state {
	atomic_int busy;
};

static void enter(struct ss_conn *c)
{
	struct conn_state *cs = ss_conn_get_data(c);

	if (atomic_exchange(&cs->busy, 1))
		atomic_fetch_add(&st.overlaps, 1);
}

static void leave(struct ss_conn *c)
{
	struct conn_state *cs = ss_conn_get_data(c);

	atomic_store(&cs->busy, 0);
}

/* The handler's own work, not a test waiting for something. */
static void work_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int slow_open(struct ss_conn *c)
{
	struct conn_state *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return -ENOMEM;
	ss_conn_set_data(c, cs);
	atomic_fetch_add(&st.opens, 1);
	return 0;
}

static int slow_data(struct ss_conn *c, const void *buf, size_t len)
{
	int now, max, r;

	enter(c);
	atomic_fetch_add(&st.datas, 1);
	now = atomic_fetch_add(&st.running, 1) + 1;
	max = atomic_load(&st.max_running);
	while (now > max && !atomic_compare_exchange_weak(&st.max_running, &max, now))
		;
	work_ms(st.delay_ms);
	atomic_fetch_sub(&st.running, 1);
	r = ss_conn_write(c, buf, len);
	leave(c);
	return r;
}

static void slow_close(struct ss_conn *c)
{
	struct conn_state *cs = ss_conn_get_data(c);

	/* Without an open (it failed or never ran), there is no state. */
	if (cs) {
		enter(c);
		leave(c);
		free(cs);
	}
	atomic_fetch_add(&st.closes, 1);
}

static const struct ss_handler slow_handler = {
        SS_HANDLER_HEADER("slow"),
        .open = slow_open,
        .data = slow_data,
        .close = slow_close,
};

static struct tp_options opts;
static struct service_conf sc;
static struct worker_ctx ctx;
static struct scoreboard *sb;
static int lfd = -1, port;
static pthread_t server;
static atomic_int server_rc = -1;

static void *server_main(void *arg)
{
	server_rc = ctx.conf->mpm.ops->worker_main(&ctx);
	return NULL;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void start(unsigned threads, unsigned queue, uint64_t max_duration_usec, int delay_ms)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	sigset_t mask;
	int sbfd;

	memset(&st, 0, sizeof(st));
	st.delay_ms = delay_ms;
	/* SIGTERM must reach only the pool's signalfd, whichever thread the kernel picks. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &mask, NULL), 0);
	log_set_level(LOG_WARNING);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 128), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
	port = ntohs(sin.sin_port);

	sb = scoreboard_create(1, &sbfd);
	ck_assert_ptr_nonnull(sb);
	close(sbfd);
	opts = (struct tp_options){.processes = 1, .threads = threads, .queue = queue};
	sc = (struct service_conf){.name = "tp-test"};
	sc.limits.max_duration_usec = max_duration_usec;
	sc.mpm.ops = mpm_find("threadpool");
	ck_assert_ptr_nonnull(sc.mpm.ops);
	sc.mpm.options = &opts;
	ctx = (struct worker_ctx){.conf = &sc,
	                          .listen_fds = &lfd,
	                          .n_listen = 1,
	                          .handler = &slow_handler,
	                          .scoreboard = sb,
	                          .slot = &sb->slots[0]};
	ck_assert_int_eq(pthread_create(&server, NULL, server_main, NULL), 0);
}

/* SIGTERM, then the pool must return 0 once its connections are gone. */
static void stop(void)
{
	struct timespec ts;

	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec += 10;
	ck_assert_int_eq(pthread_timedjoin_np(server, NULL, &ts), 0);
	ck_assert_int_eq(atomic_load(&server_rc), 0);
}

static void teardown(void)
{
	if (sb)
		scoreboard_unmap(sb);
	sb = NULL;
}

static int connect_client(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until n bytes, EOF or the deadline; returns the bytes read (-1: deadline). */
static ssize_t read_within(int fd, char *buf, size_t n, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = end - now_ms();
		ssize_t r;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Waits for a condition another thread makes true, with a deadline. */
#define WAIT_FOR(cond, timeout_ms)                                                                 \
	({                                                                                         \
		long long _end = now_ms() + (timeout_ms);                                          \
		while (!(cond) && now_ms() < _end)                                                 \
			work_ms(2);                                                                \
		(cond);                                                                            \
	})

struct client {
	pthread_t th;
	int id, rounds;
	bool ok;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	int fd = connect_client();
	char msg[32], buf[32];

	cl->ok = fd >= 0;
	for (int r = 0; cl->ok && r < cl->rounds; r++) {
		int len = snprintf(msg, sizeof(msg), "c%d r%d\n", cl->id, r);
		cl->ok = send(fd, msg, (size_t)len, MSG_NOSIGNAL) == len &&
		         read_within(fd, buf, (size_t)len, 20000) == len &&
		         memcmp(buf, msg, (size_t)len) == 0;
	}
	if (cl->ok)
		cl->ok =
		        shutdown(fd, SHUT_WR) == 0 && read_within(fd, buf, sizeof(buf), 20000) == 0;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int run_clients(int n, int rounds)
{
	struct client *cl = calloc((size_t)n, sizeof(*cl));
	int failed = 0;

	ck_assert_ptr_nonnull(cl);
	for (int i = 0; i < n; i++) {
		cl[i] = (struct client){.id = i, .rounds = rounds};
		ck_assert_int_eq(pthread_create(&cl[i].th, NULL, client_main, &cl[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(cl[i].th, NULL);
		failed += !cl[i].ok;
	}
	free(cl);
	return failed;
}

START_TEST(one_thread_serializes_and_nobody_is_refused)
{
	long long t0;

	start(1, 0, 0, 30);
	t0 = now_ms();
	/* Every thread busy and no queue: the rest wait in the backlog, all get served. */
	ck_assert_int_eq(run_clients(10, 2), 0);
	ck_assert_int_ge(now_ms() - t0, 10 * 2 * 30);
	ck_assert_int_eq(atomic_load(&st.max_running), 1);
	ck_assert_int_eq(atomic_load(&st.overlaps), 0);
	ck_assert(WAIT_FOR(atomic_load(&st.closes) == 10, 20000));
	stop();
	ck_assert_int_eq(atomic_load(&st.opens), 10);
	ck_assert_uint_eq(atomic_load(&sb->counters.accepted), 10);
	ck_assert_uint_eq(atomic_load(&sb->counters.completed), 10);
}
END_TEST

START_TEST(threads_run_connections_in_parallel)
{
	start(4, 4, 0, 200);
	ck_assert_int_eq(run_clients(8, 1), 0);
	ck_assert_int_ge(atomic_load(&st.max_running), 2);
	ck_assert_int_le(atomic_load(&st.max_running), 4);
	ck_assert_int_eq(atomic_load(&st.overlaps), 0);
	stop();
	ck_assert_int_eq(atomic_load(&st.closes), 8);
}
END_TEST

START_TEST(many_clients_close_once)
{
	start(4, 8, 0, 0);
	ck_assert_int_eq(run_clients(60, 20), 0);
	/* Clients that vanish with a reset while their echo may still be in flight. */
	for (int i = 0; i < 20; i++) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		int fd = connect_client();
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(send(fd, "bye\n", 4, MSG_NOSIGNAL), 4);
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
		close(fd);
	}
	ck_assert(WAIT_FOR(atomic_load(&st.closes) == 80, 10000));
	stop();
	ck_assert_int_eq(atomic_load(&st.opens), 80);
	ck_assert_int_eq(atomic_load(&st.closes), 80);
	ck_assert_int_eq(atomic_load(&st.overlaps), 0);
}
END_TEST

START_TEST(stuck_callback_does_not_outlive_max_duration)
{
	char buf[8];
	long long t0;
	int fd;

	start(2, 0, 300 * 1000, 5000);
	fd = connect_client();
	ck_assert_int_ge(fd, 0);
	t0 = now_ms();
	ck_assert_int_eq(send(fd, "x", 1, MSG_NOSIGNAL), 1);
	/* The callback works for 5 s; the client sees the end at 300 ms (a loaded machine
	 * may make that 3 s, waiting for the callback makes it 5). */
	ck_assert_int_eq(read_within(fd, buf, sizeof(buf), 20000), 0);
	ck_assert_int_lt(now_ms() - t0, 3500);
	ck_assert_int_ge(now_ms() - t0, 250);
	/* The thread closes it when the callback returns: once, without the echo. */
	ck_assert(WAIT_FOR(atomic_load(&st.closes) == 1, 20000));
	ck_assert_int_eq(atomic_load(&st.datas), 1);
	close(fd);
	stop();
	ck_assert_int_eq(atomic_load(&st.closes), 1);
	ck_assert_uint_eq(atomic_load(&sb->counters.timeouts), 1);
}
END_TEST

START_TEST(sigterm_waits_for_the_connection_in_hand)
{
	char buf[8];
	struct timespec ts;
	int fd;

	start(1, 0, 0, 400);
	fd = connect_client();
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send(fd, "a", 1, MSG_NOSIGNAL), 1);
	ck_assert(WAIT_FOR(atomic_load(&st.running) == 1, 20000));
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	/* The listener goes away at once... */
	ck_assert(WAIT_FOR(({
		                   int c = connect_client();
		                   if (c >= 0)
			                   close(c);
		                   c < 0;
	                   }),
	                   5000));
	/* ...the connection in hand is still answered and can go on... */
	ck_assert_int_eq(read_within(fd, buf, 1, 20000), 1);
	ck_assert_int_eq(send(fd, "b", 1, MSG_NOSIGNAL), 1);
	ck_assert_int_eq(read_within(fd, buf, 1, 20000), 1);
	ck_assert_int_eq(buf[0], 'b');
	ck_assert_int_eq(atomic_load(&server_rc), -1); /* still serving */
	/* ...and the pool returns once it ends. */
	close(fd);
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec += 10;
	ck_assert_int_eq(pthread_timedjoin_np(server, NULL, &ts), 0);
	ck_assert_int_eq(atomic_load(&server_rc), 0);
	ck_assert_int_eq(atomic_load(&st.closes), 1);
	ck_assert_uint_eq(atomic_load(&sb->slots[0].state), WORKER_STOPPING);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tp_pool");
	TCase *tc = tcase_create("tp_pool");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, one_thread_serializes_and_nobody_is_refused);
	tcase_add_test(tc, threads_run_connections_in_parallel);
	tcase_add_test(tc, many_clients_close_once);
	tcase_add_test(tc, stuck_callback_does_not_outlive_max_duration);
	tcase_add_test(tc, sigterm_waits_for_the_connection_in_hand);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
