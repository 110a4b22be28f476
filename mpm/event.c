/*
 * The event model (nginx style): `workers` single-threaded processes per service, each
 * one epoll loop over the shared listeners, its own connections, the deadline lists
 * and a signalfd. Good for many connections and short, non-blocking handlers; a
 * handler that blocks stalls every connection of its worker. No `exec`: a program
 * cannot share a loop. Datagram listeners are served in the same loop (event_dgram.c).
 *
 * This file owns the options, the worker's setup and teardown and the loop itself;
 * event_conn.c drives connections, event_listen.c the listeners, event_dgram.c the
 * datagrams, event_mem.c gives memory back after a burst.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mpm/event_loop.h"
#include "mpm/fdlimit.h"
#include "superserverd/config.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

struct event_options {
	uint64_t workers;
	uint64_t max_connections;
};

static const struct mpm_option event_option_table[] = {
        {"workers", MPM_OPT_UINT, offsetof(struct event_options, workers), 1, 1024, 1,
         "event-loop processes sharing the service's listening sockets"},
        {"max_connections", MPM_OPT_UINT, offsetof(struct event_options, max_connections), 1,
         1000000, 4096, "connections one worker serves at once; more wait in the listen backlog"},
};

/* One recv's worth, shared by every connection of the worker. As in the blocking
 * driver: larger reads only make an echo's output bursts larger. */
#define EVENT_READ_MAX (16 * 1024)
#define EVENT_BATCH    128
/* Descriptors a worker needs besides its connections: listeners, epoll, signalfd, the
 * journal, and a margin for handlers that open files. */
#define EVENT_FD_MARGIN 64

static unsigned event_workers(const struct service_conf *sc, const void *options)
{
	const struct event_options *o = options;

	return (unsigned)o->workers;
}

/* Every connection is a descriptor: room for max_connections, unless the service sets
 * rlimits.nofile itself. */
static void event_raise_nofile(struct event_loop *l)
{
	rlim_t want = (rlim_t)l->max_conns + l->n_listen + EVENT_FD_MARGIN;
	rlim_t got = fdlimit_raise(l->ctx->conf, l->name, want);

	if (got && got < want)
		log_notice(l->name,
		           "descriptor limit %llu is below max_connections (%u): accepting pauses "
		           "when it is reached",
		           (unsigned long long)got, l->max_conns);
}

static int event_setup(struct event_loop *l, const struct worker_ctx *ctx)
{
	const struct event_options *o = ctx->conf->mpm.options;
	struct epoll_event ev;
	sigset_t mask;

	l->ctx = ctx;
	l->name = ctx->conf->name;
	admit_init(&l->admit, ctx->conf, ctx->scoreboard, ctx->index);
	connlog_open(&l->connlog, ctx->conf, ctx->scoreboard, ctx->connlog_fd);
	l->max_conns = (unsigned)o->max_connections;
	event_fifo_init(&l->idle, ctx->conf->limits.idle_timeout_usec);
	event_fifo_init(&l->life, ctx->conf->limits.max_duration_usec);
	event_fifo_init(&l->ready, 0);
	event_fifo_init(&l->connecting, 0);
	l->sig.kind = EVENT_TAG_SIGNAL;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sigdelset(&mask, SIGHUP); /* blocked and ignored: reload is the master's business */
	l->sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->sig.fd < 0)
		return -errno;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &l->sig};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sig.fd, &ev) < 0)
		return -errno;
	l->rbuf_len = EVENT_READ_MAX;
	l->rbuf = malloc(l->rbuf_len);
	if (!l->rbuf)
		return -ENOMEM;
	l->n_listen = ctx->n_listen;
	event_raise_nofile(l);
	int r = event_listen_setup(l);
	return r < 0 ? r : event_dgram_setup(l, (unsigned)o->workers);
}

static void event_cleanup(struct event_loop *l)
{
	event_dgram_free(l); /* first: it may still write a record */
	connlog_close(&l->connlog);
	event_pool_free(l);
	event_conn_free_spares(l);
	if (l->listeners)
		event_listen_close(l);
	free(l->listeners);
	free(l->rbuf);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->sig.fd >= 0)
		close(l->sig.fd);
}

static void event_on_signals(struct event_loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sig.fd, &si, sizeof(si)) == sizeof(si)) {
		if ((si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT) || l->stopping)
			continue;
		l->stopping = true;
		event_listen_close(l);
		scoreboard_set_state(l->ctx->slot, WORKER_STOPPING);
		/* Headers on their way are connections in hand too: each is served or refused
		 * by its deadline. */
		log_debug(l->name, "draining: %u connection%s open, %u PROXY header%s on the way",
		          l->live, l->live == 1 ? "" : "s", l->headers, l->headers == 1 ? "" : "s");
	}
}

static uint64_t event_next_deadline(const struct event_loop *l)
{
	uint64_t at = event_fifo_next(&l->idle), life = event_fifo_next(&l->life);
	uint64_t header = event_proxy_next_deadline(l), mem = event_mem_next_deadline(l);
	uint64_t dgram = event_dgram_next_deadline(l);
	uint64_t connecting = event_fifo_next(&l->connecting);
	uint64_t handshake = event_tls_next_deadline(l);

	if (handshake < at)
		at = handshake;
	if (connecting < at)
		at = connecting;
	if (dgram < at)
		at = dgram;
	if (life < at)
		at = life;
	if (header < at)
		at = header;
	if (mem < at)
		at = mem;
	if (l->accept_retry_at && l->accept_retry_at < at)
		at = l->accept_retry_at;
	return at;
}

static void event_timers(struct event_loop *l)
{
	uint64_t now = conn_now_usec();

	event_conn_expire(l, now);
	event_relay_expire(l, now);
	event_proxy_expire(l, now);
	event_tls_expire(l, now);
	event_dgram_timers(l, now);
	if (l->accept_retry_at && now >= l->accept_retry_at) {
		l->accept_retry_at = 0;
		event_listen_update(l);
	}
}

static void event_dispatch(struct event_loop *l, const struct epoll_event *ev)
{
	struct event_tag *t = ev->data.ptr;

	switch (t->kind) {
	case EVENT_TAG_CONN: {
		struct event_conn *ec = event_container_of(t, struct event_conn, tag);
		if (ec->in_use && ec->proxy)
			event_proxy_event(l, ec);
		else if (ec->in_use && ec->relay)
			event_relay_event(l, ec, ev->events, 0);
		else
			event_conn_event(l, ec, ev->events);
		break;
	}
	case EVENT_TAG_RELAY:
		event_relay_event(l, event_container_of(t, struct event_conn, up), 0, ev->events);
		break;
	case EVENT_TAG_LISTENER:
		event_listen_accept(l, t);
		break;
	case EVENT_TAG_DGRAM:
		event_dgram_read(l, t);
		break;
	case EVENT_TAG_SIGNAL:
		event_on_signals(l);
		break;
	}
}

static int event_run(struct event_loop *l)
{
	struct epoll_event evs[EVENT_BATCH];

	while (!l->stopping || l->live > 0 || l->headers > 0) {
		uint64_t at = event_next_deadline(l);
		int timeout = event_fifo_empty(&l->ready) ? -1 : 0;
		int n;

		if (timeout < 0 && at != EVENT_NO_DEADLINE)
			timeout = event_timeout_ms(conn_now_usec(), at);
		n = epoll_wait(l->epfd, evs, EVENT_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error(l->name, "epoll_wait: %s", strerror(errno));
			return 1;
		}
		l->turn++;
		/* Those that asked last turn first, so they are not delayed behind a batch. */
		event_conn_run_ready(l);
		for (int i = 0; i < n; i++)
			event_dispatch(l, &evs[i]);
		if (at != EVENT_NO_DEADLINE)
			event_timers(l);
		event_pool_recycle(l);
		event_mem_turn(l);
	}
	return 0;
}

static int event_worker_main(const struct worker_ctx *ctx)
{
	struct event_loop l = {.epfd = -1, .sig = {.fd = -1}, .connlog = {.fd = -1}};
	int r;

	if (!ctx->handler) { /* the loader refuses exec under event; never run without one */
		log_error(ctx->conf->name, "the event model needs a handler (no exec)");
		return 1;
	}
	r = event_setup(&l, ctx);
	if (r < 0) {
		log_error(ctx->conf->name, "cannot start the event loop: %s", strerror(-r));
		event_cleanup(&l);
		return 1;
	}
	scoreboard_set_state(ctx->slot, WORKER_IDLE);
	r = event_run(&l);
	event_cleanup(&l);
	return r;
}

const struct mpm_ops mpm_event_ops = {
        .name = "event",
        .flags = MPM_PROXY | MPM_DGRAM | MPM_TLS,
        .options_size = sizeof(struct event_options),
        .options = event_option_table,
        .n_options = sizeof(event_option_table) / sizeof(event_option_table[0]),
        .workers = event_workers,
        .max_workers = event_workers,
        .worker_main = event_worker_main,
};
