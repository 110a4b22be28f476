/*
 * The wait model (inetd's `wait = yes`): one service process watches the service's
 * sockets, datagram or stream; when one becomes readable it starts the `exec:`
 * program with that very socket on fd 0 and 1 (and fd 3, LISTEN_FDS=1), stops
 * watching it while the program runs, and watches it again when the program exits.
 * One program per socket at most. Programs that fail, or leave what woke them unread,
 * are started again only after the restart backoff; an optional timeout ends a
 * program that never exits. Stop, drain and reload treat a running program like a
 * connection: SIGTERM to it, and the service's shutdown_timeout applies. A program
 * leads a process group of its own: signals go to the group, and what is left of the
 * group when the program exits is killed (it would hold the socket and read what the
 * next run is for).
 *
 * This file: options and load-time checks, the loop, watching sockets, stderr
 * relays, stop. A run's start and end are in wait_run.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/orphans.h"
#include "mpm/wait_int.h"
#include "mpm/worker_signals.h"
#include "superserverd/config.h"
#include "superserverd/diag.h"
#include "superserverd/listenfds.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

static const struct mpm_option wait_option_table[] = {
        {"timeout", MPM_OPT_DURATION, offsetof(struct wait_options, timeout_usec), 0,
         30ULL * 24 * 3600 * 1000000, 0,
         "how long a program may run before it is ended (SIGTERM, SIGKILL 5 s later); 0: "
         "no limit"},
};

static bool has_access_rules(const struct service_conf *sc)
{
	const struct access_conf *a = &sc->access;
	return a->n_allow || a->n_deny || a->n_allow_uids || a->n_allow_gids;
}

static bool has_per_source(const struct service_conf *sc)
{
	return sc->limits.per_source_max || sc->limits.per_source_rate > 0;
}

/* What a stream listener cannot have under wait, or NULL: the program accepts its
 * connections itself, so superserverd never sees a client to check. */
static const char *stream_refusal(const struct service_conf *sc)
{
	if (has_access_rules(sc))
		return "access lists cannot be applied to a stream socket under model 'wait': the "
		       "program accepts the connections itself, so superserverd never sees a "
		       "client (use model 'fork' to have each connection checked)";
	if (has_per_source(sc))
		return "per-source limits cannot be applied to a stream socket under model "
		       "'wait': the program accepts the connections itself (use model 'fork')";
	return NULL;
}

static int wait_validate(const struct service_conf *sc, const void *options, struct diag *d)
{
	const char *why;
	int r = 0;

	(void)options;
	if (sc->kind != HANDLER_EXEC) {
		diag_error(d, &sc->mpm.pos,
		           "service '%s': model 'wait' serves programs (exec:) only: it hands the "
		           "listening socket itself to a program; a built-in or module handler "
		           "runs under fork, prefork, threadpool or event",
		           sc->name);
		return -1;
	}
	for (size_t i = 0; i < sc->n_listen; i++) {
		const struct listen_conf *lc = &sc->listen[i];
		if (!lc->addr.key[0])
			continue; /* a bad address, reported already */
		if (lc->addr.kind == ADDR_SYSTEMD)
			continue; /* its type is known at start: the service process checks */
		if (lc->addr.socktype == SOCK_STREAM && (why = stream_refusal(sc))) {
			diag_error(d, &lc->pos, "service '%s': %s: %s", sc->name, lc->addr.key,
			           why);
			r = -1;
		} else if (lc->addr.socktype == SOCK_DGRAM && has_per_source(sc)) {
			diag_error(d, &lc->pos,
			           "service '%s': %s: per-source limits cannot be applied under "
			           "model 'wait': the program reads every datagram itself once it "
			           "has the socket",
			           sc->name, lc->addr.key);
			r = -1;
		} else if (lc->addr.socktype == SOCK_DGRAM && lc->addr.kind == ADDR_UNIX &&
		           (sc->access.n_allow_uids || sc->access.n_allow_gids)) {
			diag_error(
			        d, &lc->pos,
			        "service '%s': %s: allow_users/allow_groups cannot be checked on "
			        "a unix datagram socket (a datagram carries no credentials)",
			        sc->name, lc->addr.key);
			r = -1;
		}
	}
	return r;
}

static unsigned wait_workers(const struct service_conf *sc, const void *options)
{
	(void)sc;
	(void)options;
	return 1;
}

void wait_sock_arm(struct wait_server *w, struct wait_sock *s, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->tag};

	if (on == s->armed || s->tag.fd < 0 || (on && w->stopping))
		return;
	if (epoll_ctl(w->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->tag.fd, &ev) < 0) {
		log_error(w->name, "epoll_ctl: %s", strerror(errno));
		return;
	}
	s->armed = on;
}

void wait_pipe_watch(struct wait_server *w, int rfd, pid_t pid, const struct sockaddr *peer,
                     socklen_t peer_len)
{
	struct wait_pipe *p = calloc(1, sizeof(*p));

	if (!p) {
		close(rfd); /* the program's stderr writes then fail with EPIPE */
		return;
	}
	p->tag.kind = WAIT_TAG_STDERR;
	exec_pipes_watch(&w->pipes, &p->p, p, &p->tag.fd, rfd, pid, peer, peer_len);
}

/* Stop, drain or reload: no program starts any more; running ones are asked to end,
 * and the master's shutdown_timeout ends those that do not. */
static void stop_watching(struct wait_server *w)
{
	w->stopping = true;
	scoreboard_set_state(w->ctx->slot, WORKER_STOPPING);
	for (size_t i = 0; i < w->n_socks; i++) {
		struct wait_sock *s = &w->socks[i];
		if (s->armed && epoll_ctl(w->epfd, EPOLL_CTL_DEL, s->tag.fd, NULL) < 0)
			log_warning(w->name, "epoll_ctl: %s", strerror(errno));
		s->armed = false;
		/* Its process group: the program and what it started. */
		if (s->state == WAIT_RUNNING && kill(-s->pid, SIGTERM) < 0 && errno != ESRCH)
			log_warning(w->name, "kill(-%d): %s", (int)s->pid, strerror(errno));
	}
	log_debug(w->name, "stopping: %u program%s running", w->running,
	          w->running == 1 ? "" : "s");
}

static void on_signals(struct wait_server *w)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(w->sig.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				wait_run_reaped(w, pid, status);
		} else if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !w->stopping) {
			stop_watching(w);
		}
	}
}

static void on_socket(struct wait_server *w, struct wait_sock *s)
{
	if (s->state != WAIT_WATCHING || w->stopping)
		return;
	if (s->type == SOCK_DGRAM && !wait_run_gate(w, s))
		return;
	wait_run_start(w, s);
}

/* A systemd: socket's type and family are known only here: the refusals of
 * wait_validate. */
static int check_inherited(struct wait_server *w, const struct wait_sock *s)
{
	const struct service_conf *sc = w->ctx->conf;
	const char *why = s->type == SOCK_STREAM ? stream_refusal(sc) : NULL;
	int domain = 0;
	socklen_t len = sizeof(domain);

	if (!why && s->type == SOCK_DGRAM && has_per_source(sc))
		why = "per-source limits cannot be applied to a datagram socket under model 'wait'";
	if (!why && s->type == SOCK_DGRAM && (sc->access.n_allow_uids || sc->access.n_allow_gids)) {
		if (getsockopt(s->tag.fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
			return -errno;
		if (domain == AF_UNIX)
			why = "allow_users/allow_groups cannot be checked on a unix datagram "
			      "socket "
			      "(a datagram carries no credentials)";
	}
	if (why) {
		log_error(w->name, "%s: %s", s->key, why);
		return -EINVAL;
	}
	return 0;
}

static int setup_socks(struct wait_server *w)
{
	const struct worker_ctx *ctx = w->ctx;
	int r;

	w->socks = calloc(ctx->n_listen ? ctx->n_listen : 1, sizeof(*w->socks));
	if (!w->socks)
		return -ENOMEM;
	/* Another model's process, or a program of ours, may have left them blocking. */
	r = listenfds_nonblocking(ctx->listen_fds, ctx->n_listen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ctx->n_listen; i++) {
		struct wait_sock *s = &w->socks[i];
		const struct listen_conf *lc =
		        i < ctx->conf->n_listen ? &ctx->conf->listen[i] : NULL;

		*s = (struct wait_sock){.tag = {.kind = WAIT_TAG_SOCKET, .fd = ctx->listen_fds[i]},
		                        .type = ctx->listen_types[i],
		                        .key = lc ? lc->addr.key : ctx->listen_names[i]};
		w->n_socks++;
		s->fdnames = listenfds_names_env(&ctx->listen_names[i], 1);
		if (!s->fdnames)
			return -ENOMEM;
		if (lc && lc->addr.kind == ADDR_SYSTEMD && (r = check_inherited(w, s)) < 0)
			return r;
		wait_sock_arm(w, s, true);
		if (!s->armed)
			return -EIO;
	}
	return 0;
}

static int setup(struct wait_server *w, const struct worker_ctx *ctx)
{
	const struct wait_options *o = ctx->conf->mpm.options;
	int r;

	w->ctx = ctx;
	w->name = ctx->conf->name;
	w->timeout_usec = o->timeout_usec;
	w->check_access = ctx->conf->access.n_allow || ctx->conf->access.n_deny;
	connlog_open(&w->connlog, ctx->conf, ctx->scoreboard, ctx->connlog_fd);
	w->sig.kind = WAIT_TAG_SIGNAL;
	r = worker_signals_open(true, &w->sig, &w->sig.fd, &w->epfd);
	if (r < 0)
		return r;
	w->pipes = (struct exec_pipes){.epfd = w->epfd, .service = w->name};
	r = exec_env_init(&w->env, ctx->conf);
	if (r < 0)
		return r;
	/* A program's children that outlive it are orphans reparented here, not to init:
	 * reaped by our SIGCHLD loop, never left as init's zombies holding the socket
	 * (the program's group is killed when it ends, wait_run_reaped). */
	r = orphans_adopt();
	if (r < 0)
		return r;
	r = setup_socks(w);
	if (r < 0)
		return r;
	scoreboard_set_state(ctx->slot, WORKER_IDLE);
	return 0;
}

static void cleanup(struct wait_server *w)
{
	exec_pipes_close_all(&w->pipes);
	for (size_t i = 0; i < w->n_socks; i++)
		free(w->socks[i].fdnames);
	free(w->socks);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->sig.fd >= 0)
		close(w->sig.fd);
	exec_env_free(&w->env);
	connlog_close(&w->connlog);
}

static int wait_worker_main(const struct worker_ctx *ctx)
{
	struct wait_server w = {.epfd = -1, .sig = {.fd = -1}, .connlog = {.fd = -1}};
	struct epoll_event evs[32];
	int r = setup(&w, ctx);

	if (r < 0) {
		log_error(ctx->conf->name, "cannot start watching the sockets: %s", strerror(-r));
		cleanup(&w);
		return 1;
	}
	/* Stderr pipes are drained before leaving: a program's last words are logged. */
	while (!w.stopping || w.running > 0) {
		uint64_t now = scoreboard_now_usec(), at = wait_run_timers(&w, now);
		int timeout = -1;
		if (at) /* rounded up: waking early would spin until the deadline */
			timeout = at <= now ? 0 : (int)((at - now + 999) / 1000);
		int n = epoll_wait(w.epfd, evs, 32, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error(w.name, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct wait_tag *t = evs[i].data.ptr;
			if (t->fd < 0)
				continue;
			switch (t->kind) {
			case WAIT_TAG_SOCKET:
				on_socket(&w, (struct wait_sock *)t);
				break;
			case WAIT_TAG_SIGNAL:
				on_signals(&w);
				break;
			case WAIT_TAG_STDERR:
				exec_pipes_read(&w.pipes, &((struct wait_pipe *)t)->p);
				break;
			}
		}
		exec_pipes_free_dead(&w.pipes);
	}
	/* Children of programs that left their program's group (setsid) outlive it. */
	orphans_kill(w.name);
	cleanup(&w);
	return 0;
}

const struct mpm_ops mpm_wait_ops = {
        .name = "wait",
        .flags = MPM_CAN_EXEC | MPM_DGRAM_EXEC,
        .options_size = sizeof(struct wait_options),
        .options = wait_option_table,
        .n_options = sizeof(wait_option_table) / sizeof(wait_option_table[0]),
        .validate = wait_validate,
        .workers = wait_workers,
        .max_workers = wait_workers,
        .worker_main = wait_worker_main,
};
