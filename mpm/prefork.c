/*
 * The prefork model (Apache prefork): a pool of service processes, each serving one
 * connection at a time through the blocking driver. The master keeps the number of
 * idle processes between min_spare and max_spare from the scoreboard, once a second,
 * starting (or retiring) faster while the pool keeps running dry (or stays too idle:
 * prefork_ramp.c decides how many); a process leaves after
 * max_connections_per_worker connections. The listening sockets are shared with
 * EPOLLEXCLUSIVE so one connection wakes one idle process.
 *
 * With `exec`, the pool is `start` long-running copies of the program, each handed
 * the listening sockets from fd 3 with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES (the
 * systemd Accept=no convention); they are kept at that number.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/admit.h"
#include "mpm/connlog.h"
#include "mpm/driver.h"
#include "mpm/fdlimit.h"
#include "mpm/mpm.h"
#include "mpm/prefork_exec.h"
#include "mpm/prefork_ramp.h"
#include "mpm/proxy_accept.h"
#include "mpm/tls_serve.h"
#include "superserverd/config.h"
#include "superserverd/diag.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"
#include "superserverd/listenfds.h"

struct prefork_options {
	uint64_t start;
	uint64_t min_spare;
	uint64_t max_spare;
	uint64_t max_workers;
	uint64_t max_connections_per_worker;
};

#define OPT(field) offsetof(struct prefork_options, field)
static const struct mpm_option prefork_option_table[] = {
        {"start", MPM_OPT_UINT, OPT(start), 1, 4096, 4, "processes started with the service"},
        {"min_spare", MPM_OPT_UINT, OPT(min_spare), 0, 4096, 2,
         "idle processes kept ready; fewer makes the pool grow"},
        {"max_spare", MPM_OPT_UINT, OPT(max_spare), 1, 4096, 8,
         "idle processes beyond this are retired, one per second"},
        {"max_workers", MPM_OPT_UINT, OPT(max_workers), 1, 4096, 64,
         "processes at most, hence connections at once; more wait in the backlog"},
        {"max_connections_per_worker", MPM_OPT_UINT, OPT(max_connections_per_worker), 0, UINT32_MAX,
         0, "connections before a process is replaced (0: never)"},
};
#undef OPT

/* prefork_tick's bookkeeping in pool->model_state. */
enum { STATE_SPAWN_RATE, STATE_RETIRE_RATE, STATE_MAX_LOGGED };

static int prefork_validate(const struct service_conf *sc, const void *options, struct diag *d)
{
	const struct prefork_options *o = options;
	int r = 0;

	if (o->min_spare > o->max_spare) {
		diag_error(d, &sc->mpm.pos,
		           "service '%s': min_spare (%llu) must not exceed max_spare (%llu)",
		           sc->name, (unsigned long long)o->min_spare,
		           (unsigned long long)o->max_spare);
		r = -1;
	}
	if (o->start > o->max_workers) {
		diag_error(d, &sc->mpm.pos,
		           "service '%s': start (%llu) must not exceed max_workers (%llu)",
		           sc->name, (unsigned long long)o->start,
		           (unsigned long long)o->max_workers);
		r = -1;
	}
	if (o->min_spare > o->max_workers) {
		diag_error(d, &sc->mpm.pos,
		           "service '%s': min_spare (%llu) must not exceed max_workers (%llu)",
		           sc->name, (unsigned long long)o->min_spare,
		           (unsigned long long)o->max_workers);
		r = -1;
	}
	return r;
}

static unsigned prefork_workers(const struct service_conf *sc, const void *options)
{
	return (unsigned)((const struct prefork_options *)options)->start;
}

static unsigned prefork_max_workers(const struct service_conf *sc, const void *options)
{
	const struct prefork_options *o = options;
	/* A program's copies are a fixed pool: it cannot tell us it is idle. */
	return (unsigned)(sc->kind == HANDLER_EXEC ? o->start : o->max_workers);
}

static void prefork_tick(struct mpm_pool *pool)
{
	const struct prefork_options *o = pool->options;
	struct scoreboard *sb = pool->scoreboard;
	unsigned running = pool->running(pool), idle = 0, leaving = 0;
	uint64_t *st = pool->model_state;

	if (pool->conf->kind == HANDLER_EXEC) {
		while (running < o->start && pool->spawn(pool) == 0)
			running++;
		return;
	}
	for (unsigned i = 0; i < sb->n_slots; i++) {
		uint32_t s = atomic_load_explicit(&sb->slots[i].state, memory_order_acquire);
		/* Asked to leave: whatever its slot says (it may not have seen the signal
		 * yet), it is going. A process still starting will be idle in a moment:
		 * count it, or a slow start would make us spawn twice. */
		if (pool->leaving(pool, i))
			leaving++;
		else if (s == WORKER_IDLE || s == WORKER_STARTING)
			idle++;
	}
	struct prefork_bounds b = {.start = (unsigned)o->start,
	                           .min_spare = (unsigned)o->min_spare,
	                           .max_spare = (unsigned)o->max_spare,
	                           .max_workers = (unsigned)o->max_workers};
	struct prefork_ramp ramp = {.spawn_rate = (unsigned)st[STATE_SPAWN_RATE],
	                            .retire_rate = (unsigned)st[STATE_RETIRE_RATE]};
	struct prefork_step step = prefork_ramp_step(&ramp, &b, running, idle, leaving);
	st[STATE_SPAWN_RATE] = ramp.spawn_rate;
	st[STATE_RETIRE_RATE] = ramp.retire_rate;

	/* Once per episode: a pool hovering at the top must not flood the log. */
	if (step.at_max && !st[STATE_MAX_LOGGED]) {
		log_notice(pool->conf->name,
		           "all %llu processes are busy (max_workers): new connections wait in "
		           "the backlog",
		           (unsigned long long)o->max_workers);
		st[STATE_MAX_LOGGED] = 1;
	} else if (!ramp.spawn_rate) { /* spares again: the episode is over */
		st[STATE_MAX_LOGGED] = 0;
	}
	for (unsigned i = 0; i < step.spawn; i++)
		if (pool->spawn(pool) < 0)
			break;
	/* Only a process past its start-up can be retired cleanly; the highest slots go
	 * first, so the pool stays packed at the low ones. */
	for (unsigned i = sb->n_slots; i-- > 0 && step.retire > 0;) {
		if (atomic_load_explicit(&sb->slots[i].state, memory_order_acquire) != WORKER_IDLE)
			continue;
		/* Only a process actually asked now counts toward the step. */
		if (pool->retire(pool, i) == 0)
			step.retire--;
	}
}

struct worker {
	const struct worker_ctx *ctx;
	int epfd;
	int sigfd;
	bool stopping;
	struct admit admit;
	struct connlog connlog;
	struct accept_shortage shortage;
};

static void serve_one(struct worker *w, int lfd)
{
	const struct worker_ctx *ctx = w->ctx;
	struct driver_limits lim = {.idle_timeout_usec = ctx->conf->limits.idle_timeout_usec,
	                            .max_duration_usec = ctx->conf->limits.max_duration_usec};
	struct ss_conn c;
	enum driver_outcome o;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct admit_ticket tk;
	uint64_t wait = admit_reserve(&w->admit, &tk);
	int fd;

	if (wait) {
		/* Over the rate or at max_connections: the client waits in the backlog while
		 * we wait here (a stop signal ends the wait early). */
		struct pollfd p = {.fd = w->sigfd, .events = POLLIN};
		poll(&p, 1, (int)((wait + 999) / 1000));
		return;
	}
	fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	if (fd < 0) {
		admit_unreserve(&w->admit, &tk);
		/* Another process won the race, or the client gave up: both fine. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || accept_error_passing(errno))
			return;
		/* Out of descriptors or memory, say: the listener stays readable, and trying
		 * again at once would spin. The client waits in the backlog (a stop signal ends
		 * the pause early). */
		accept_shortage_begin(&w->shortage, ctx->conf->name, errno);
		struct pollfd p = {.fd = w->sigfd, .events = POLLIN};
		poll(&p, 1, ACCEPT_RETRY_USEC / 1000);
		return;
	}
	accept_shortage_end(&w->shortage, ctx->conf->name);
	/* Which listener: its PROXY protocol setting decides who the peer is, its TLS
	 * whether a handshake comes after admission. */
	const struct listen_conf *lc = NULL;
	for (size_t i = 0; i < ctx->n_listen; i++)
		if (ctx->listen_fds[i] == lfd)
			lc = &ctx->conf->listen[i];
	struct sockaddr_storage local;
	socklen_t llen = 0;
	if (lc && lc->proxy_protocol) {
		char err[256];
		if (proxy_accept_blocking(lc, fd, &peer, &plen, &local, &llen, err, sizeof(err)) <
		    0) {
			log_debug(ctx->conf->name, "PROXY: %s", err);
			atomic_fetch_add(&ctx->scoreboard->counters.rejected[REJECT_PROXY], 1);
			connlog_rejected(&w->connlog, (struct sockaddr *)&peer, plen, fd,
			                 REJECT_PROXY);
			admit_unreserve(&w->admit, &tk);
			close(fd);
			return;
		}
	}
	/* On a TLS listener the greeting waits for the handshake (it goes through TLS). */
	if (!admit_gate(&w->admit, &w->connlog, lc, fd, (struct sockaddr *)&peer, plen, &tk))
		return;
	scoreboard_set_state(ctx->slot, WORKER_BUSY);
	scoreboard_conn_accepted(ctx->scoreboard, ctx->slot);
	conn_init(&c, fd, ctx->handler, ctx->handler_data);
	conn_set_peer(&c, (struct sockaddr *)&peer, plen);
	if (llen)
		conn_set_local(&c, (struct sockaddr *)&local, llen);
	if (tls_serve_attach(&c, lc, &lim) < 0) {
		log_error(ctx->conf->name, "cannot start TLS on a connection: %s",
		          strerror(ENOMEM));
		conn_destroy(&c);
		admit_release(&w->admit, &tk);
		scoreboard_conn_done(ctx->scoreboard, ctx->slot, 0, true, 0, 0,
		                     CONN_RESULT_HANDLER_ERROR);
		return;
	}
	admit_greeting_queue(&w->admit, &tk, &c);
	if (connlog_enabled(&w->connlog)) /* the local address, before the socket goes */
		ss_conn_local(&c, NULL);
	o = driver_serve(&c, &lim, NULL);
	tls_serve_count(ctx->scoreboard, &c);
	admit_release(&w->admit, &tk);
	connlog_conn_done(&w->connlog, &c, o);
	scoreboard_conn_done(ctx->scoreboard, ctx->slot, conn_now_usec() - c.start_usec, true,
	                     c.bytes_in, c.bytes_out, driver_result(o));
}

static int worker_setup(struct worker *w, const struct worker_ctx *ctx)
{
	sigset_t mask;
	struct epoll_event ev;

	w->ctx = ctx;
	admit_init(&w->admit, ctx->conf, ctx->scoreboard, ctx->index);
	connlog_open(&w->connlog, ctx->conf, ctx->scoreboard, ctx->connlog_fd);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sigdelset(&mask, SIGHUP); /* ignored: reload is the master's business */
	w->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->sigfd < 0 || w->epfd < 0)
		return -errno;
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = w->sigfd};
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->sigfd, &ev) < 0)
		return -errno;
	/* A program they were handed to before may have left them blocking. */
	int r = listenfds_nonblocking(ctx->listen_fds, ctx->n_listen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ctx->n_listen; i++) {
		ev = (struct epoll_event){.events = EPOLLIN | EPOLLEXCLUSIVE,
		                          .data.fd = ctx->listen_fds[i]};
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, ctx->listen_fds[i], &ev) < 0)
			return -errno;
	}
	return 0;
}

static int prefork_worker_main(const struct worker_ctx *ctx)
{
	const struct prefork_options *o = ctx->conf->mpm.options;
	struct worker w = {.epfd = -1, .sigfd = -1, .connlog = {.fd = -1}};
	struct epoll_event evs[8];
	int r, rc = 0;

	if (ctx->conf->kind == HANDLER_EXEC)
		return prefork_exec_program(ctx); /* returns only on failure */

	r = worker_setup(&w, ctx);
	if (r < 0) {
		log_error(ctx->conf->name, "cannot start a prefork process: %s", strerror(-r));
		rc = 1;
		goto out;
	}
	while (!w.stopping) {
		scoreboard_set_state(ctx->slot, WORKER_IDLE);
		int n = epoll_wait(w.epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error(ctx->conf->name, "epoll_wait: %s", strerror(errno));
			rc = 1;
			break;
		}
		for (int i = 0; i < n && !w.stopping; i++) {
			if (evs[i].data.fd == w.sigfd) {
				struct signalfd_siginfo si;
				while (read(w.sigfd, &si, sizeof(si)) == sizeof(si))
					w.stopping = true;
				continue;
			}
			serve_one(&w, evs[i].data.fd);
			if (o->max_connections_per_worker &&
			    atomic_load(&ctx->slot->served) >= o->max_connections_per_worker) {
				/* Recycled: the master's tick starts a successor. */
				w.stopping = true;
			}
		}
	}
	scoreboard_set_state(ctx->slot, WORKER_STOPPING);
out:
	connlog_close(&w.connlog);
	if (w.epfd >= 0)
		close(w.epfd);
	if (w.sigfd >= 0)
		close(w.sigfd);
	return rc;
}

const struct mpm_ops mpm_prefork_ops = {
        .name = "prefork",
        .flags = MPM_CAN_EXEC | MPM_PROXY | MPM_TLS,
        .options_size = sizeof(struct prefork_options),
        .options = prefork_option_table,
        .n_options = sizeof(prefork_option_table) / sizeof(prefork_option_table[0]),
        .validate = prefork_validate,
        .workers = prefork_workers,
        .max_workers = prefork_max_workers,
        .tick = prefork_tick,
        .worker_main = prefork_worker_main,
};
