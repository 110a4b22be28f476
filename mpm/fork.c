/*
 * The fork model: one acceptor process per service (inetd "nowait", systemd
 * Accept=yes) that accepts and gives every connection a process of its own: a fork
 * running the built-in handler through the blocking driver, or the configured program
 * spawned with the connection on fd 0 and 1. At max_children the acceptor stops
 * polling its listeners, so further clients wait in the kernel backlog.
 *
 * On a PROXY listener the header is read first, without blocking the acceptor
 * (fork_proxy.c); admission, and so the process, come only once it is complete, so the
 * client it names is the one checked and the one the process is told about.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/exec_spawn.h"
#include "mpm/fork_acceptor.h"
#include "mpm/orphans.h"
#include "mpm/tls_serve.h"
#include "mpm/worker_signals.h"
#include "superserverd/addr.h"
#include "superserverd/config.h"
#include "superserverd/diag.h"
#include "superserverd/image.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"
#include "superserverd/tcpinfo.h"
#include "superserverd/listenfds.h"

struct fork_options {
	uint64_t max_children;
	uint64_t acceptors;
};

static const struct mpm_option fork_option_table[] = {
        {"max_children", MPM_OPT_UINT, offsetof(struct fork_options, max_children), 1, 65536, 256,
         "connections served at once; more wait in the listen backlog"},
        {"acceptors", MPM_OPT_UINT, offsetof(struct fork_options, acceptors), 1, 64, 1,
         "acceptor processes, each starting connection processes"},
};

/* A connection process: when it started, and (exec) our copy of its socket, kept to
 * read the byte counts from TCP_INFO when it ends. */
struct child {
	pid_t pid; /* 0 = free */
	int fd;
	uint64_t start_usec;
	struct admit_ticket ticket;
	int report; /* a program behind TLS: its report cell (fork_tls_exec.c); -1: none */
	/* For the connection record: the client, and the address it connected to when a
	 * PROXY header named it (local_len 0: read from fd). */
	struct sockaddr_storage peer, local;
	socklen_t peer_len, local_len;
};

static unsigned child_hash(const struct acceptor *a, pid_t pid)
{
	return ((unsigned)pid * 2654435761u) & a->table_mask;
}

static void child_put(struct acceptor *a, pid_t pid, int fd, int report, uint64_t start,
                      const struct admit_ticket *t, const struct sockaddr_storage *peer,
                      socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len)
{
	unsigned i = child_hash(a, pid);
	while (a->table[i].pid != 0)
		i = (i + 1) & a->table_mask;
	a->table[i] = (struct child){
	        .pid = pid, .fd = fd, .report = report, .start_usec = start, .ticket = *t};
	if (connlog_enabled(&a->connlog)) {
		a->table[i].peer = *peer;
		a->table[i].peer_len = peer_len;
		if (local_len) {
			a->table[i].local = *local;
			a->table[i].local_len = local_len;
		}
	}
}

/* Removes pid's record (backward-shift deletion keeps probe chains intact). */
static bool child_take(struct acceptor *a, pid_t pid, struct child *out)
{
	unsigned i = child_hash(a, pid), j;

	while (a->table[i].pid != pid) {
		if (a->table[i].pid == 0)
			return false;
		i = (i + 1) & a->table_mask;
	}
	*out = a->table[i];
	for (j = i;;) {
		j = (j + 1) & a->table_mask;
		if (a->table[j].pid == 0)
			break;
		unsigned k = child_hash(a, a->table[j].pid);
		bool movable = i <= j ? (k <= i || k > j) : (k <= i && k > j);
		if (movable) {
			a->table[i] = a->table[j];
			i = j;
		}
	}
	a->table[i] = (struct child){0};
	return true;
}

static int fork_validate(const struct service_conf *sc, const void *options, struct diag *d)
{
	const struct fork_options *o = options;

	/* Each acceptor holds a share of max_children, and a share of nothing would never
	 * accept. */
	if (o->acceptors > o->max_children) {
		diag_error(d, &sc->mpm.pos,
		           "service '%s': acceptors (%llu) must not exceed max_children (%llu)",
		           sc->name, (unsigned long long)o->acceptors,
		           (unsigned long long)o->max_children);
		return -1;
	}
	return 0;
}

static unsigned fork_workers(const struct service_conf *sc, const void *options)
{
	const struct fork_options *o = options;

	/* The acceptors; connection processes are their children, not the master's. */
	return (unsigned)o->acceptors;
}

/* Acceptor INDEX's part of max_children: the parts add up to max_children exactly, so
 * no more run at once whoever accepts, and an acceptor at its part leaves the clients
 * to the others. */
static unsigned fork_share(const struct fork_options *o, unsigned index)
{
	unsigned n = (unsigned)o->acceptors, max = (unsigned)o->max_children;

	return max / n + (index < max % n ? 1 : 0);
}

/* The acceptors of a service poll the same listeners: a new client wakes one of them
 * rather than all. EPOLLEXCLUSIVE forbids EPOLL_CTL_MOD, hence DEL and ADD. */
#define LISTEN_EVENTS (EPOLLIN | EPOLLEXCLUSIVE)

/* Whether no other acceptor of the service has room: then this one's being full means
 * the service is. Called after this one said so in its slot: of two acceptors filling
 * up at once, at least one sees the other (the fence orders each one's store before
 * its loads), so the service's being full is not left unsaid. */
static bool others_full(const struct acceptor *a)
{
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < a->n_acceptors; i++)
		if (i != a->ctx->index &&
		    atomic_load(&a->ctx->scoreboard->slots[i].state) == WORKER_IDLE)
			return false;
	return true;
}

void fork_listen_update(struct acceptor *a)
{
	/* A header being read becomes a process: it takes one of max_children already. */
	bool full = a->children + a->n_headers >= a->max_children;
	bool open = !a->stopping && !a->retry_at && !full;

	for (size_t i = 0; i < a->ctx->n_listen; i++) {
		struct fork_listener *l = &a->listeners[i];
		bool want = open && proxy_accept_room(l->lc, a->n_headers);
		struct epoll_event ev = {.events = LISTEN_EVENTS, .data.ptr = &l->tag};

		if (l->tag.fd < 0 || want == l->armed)
			continue;
		if (epoll_ctl(a->epfd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->tag.fd, &ev) < 0) {
			log_error(a->name, "epoll_ctl: %s", strerror(errno));
			continue;
		}
		l->armed = want;
	}
	if (full != a->full && !a->stopping) {
		scoreboard_set_state(a->ctx->slot, full ? WORKER_BUSY : WORKER_IDLE);
		if (full && others_full(a))
			log_info(a->name,
			         "max_children (%u) reached: new connections wait in the backlog",
			         a->max_children_all);
		else if (full)
			log_debug(a->name,
			          "this acceptor's part of max_children (%u of %u) reached",
			          a->max_children, a->max_children_all);
	}
	a->full = full;
}

void fork_child_close(struct acceptor *a)
{
	close(a->epfd);
	close(a->sig.fd);
	for (size_t i = 0; i < a->ctx->n_listen; i++)
		if (a->listeners[i].tag.fd >= 0)
			close(a->listeners[i].tag.fd);
	fork_exec_close_in_child(a);
	/* Other clients' sockets, still waiting for their header: not this process's
	 * business, and holding them would keep them open. */
	for (struct fork_header *h = a->headers; h; h = h->next)
		close(h->pa.fd);
}

static int fork_handler(struct acceptor *a, const struct listen_conf *lc, int fd,
                        struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                        socklen_t peer_len, const struct sockaddr_storage *local,
                        socklen_t local_len, pid_t *pid_r)
{
	struct driver_limits lim = a->limits;
	pid_t pid = a->trimmed ? _Fork() : fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct ss_conn c;
		sigset_t none;
		enum driver_outcome o;

		fork_child_close(a);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		conn_init(&c, fd, a->ctx->handler, a->ctx->handler_data);
		conn_set_peer(&c, (const struct sockaddr *)peer, peer_len);
		if (local_len)
			conn_set_local(&c, (const struct sockaddr *)local, local_len);
		if (tls_serve_attach(&c, lc, &lim) < 0) {
			log_error(a->name, "cannot start TLS on a connection: %s",
			          strerror(ENOMEM));
			_exit(1);
		}
		admit_greeting_queue(&a->admit, ticket, &c);
		if (connlog_enabled(&a->connlog))
			ss_conn_local(&c, NULL); /* read it while the socket is open */
		o = driver_serve(&c, &lim, NULL);
		tls_serve_count(a->ctx->scoreboard, &c);
		connlog_conn_done(&a->connlog, &c, o);
		/* Only this process knows the bytes; the acceptor keeps the slot. */
		scoreboard_conn_done(a->ctx->scoreboard, NULL, conn_now_usec() - c.start_usec, true,
		                     c.bytes_in, c.bytes_out, driver_result(o));
		_exit(0);
	}
	*pid_r = pid;
	return 0;
}

void fork_serve(struct acceptor *a, const struct listen_conf *lc, int fd,
                struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len)
{
	pid_t pid = 0;
	int r, report = -1;

	/* On a TLS listener the greeting waits for the handshake: nothing is written in
	 * plaintext before it. */
	if (!admit_gate(&a->admit, &a->connlog, lc, fd, (const struct sockaddr *)peer, peer_len,
	                ticket))
		return;
	uint64_t start = scoreboard_now_usec();
	if (a->ctx->handler)
		r = fork_handler(a, lc, fd, ticket, peer, peer_len, local, local_len, &pid);
	else
		r = fork_exec_spawn(a, lc, fd, ticket, peer, peer_len, local, local_len, &pid,
		                    &report);
	if (r < 0) {
		close(fd);
		admit_release(&a->admit, ticket);
		log_error(a->name, "cannot start a process for a connection: %s", strerror(-r));
		return;
	}
	/* A program's socket stays open here until it ends, for TCP_INFO. */
	if (a->ctx->handler) {
		close(fd);
		fd = -1;
	} else {
		fd = exec_spawn_keep(fd);
	}
	child_put(a, pid, fd, report, start, ticket, peer, peer_len, local, local_len);
	a->children++;
	scoreboard_conn_accepted(a->ctx->scoreboard, a->ctx->slot);
	if (log_get_level() >= LOG_DEBUG) {
		char addr[128];
		addr_format((const struct sockaddr *)peer, peer_len, addr, sizeof(addr));
		log_debug(a->name, "accept %s pid %d count %u/%u", addr, (int)pid, a->children,
		          a->max_children);
	}
}

static void accept_backoff(struct acceptor *a, int err)
{
	accept_shortage_begin(&a->shortage, a->name, err);
	a->retry_at = scoreboard_now_usec() + ACCEPT_RETRY_USEC;
}

/* A program's stderr pipe is made before its connection is accepted: out of
 * descriptors, the client then waits in the backlog instead of being accepted and
 * dropped. */
static bool exec_room(struct acceptor *a)
{
	int r = fork_exec_room(a);

	if (r < 0)
		accept_backoff(a, -r);
	return r == 0;
}

static void accept_burst(struct acceptor *a, struct fork_listener *l)
{
	/* Bounded so one busy listener cannot starve the others or the signal fd. */
	for (int burst = 0; burst < 64 && !a->stopping; burst++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct admit_ticket tk;
		uint64_t wait;
		int fd;

		if (a->children + a->n_headers >= a->max_children ||
		    !proxy_accept_room(l->lc, a->n_headers) || !exec_room(a))
			break;
		/* Over the service's rate or connection limit: clients wait in the backlog. */
		wait = admit_reserve(&a->admit, &tk);
		if (wait) {
			a->retry_at = scoreboard_now_usec() + wait;
			break;
		}
		fd = accept4(l->tag.fd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		if (fd < 0)
			admit_unreserve(&a->admit, &tk);
		if (fd < 0) {
			if (accept_error_passing(errno))
				continue;
			/* Out of descriptors or memory, say: the listener stays readable, so
			 * polling it again at once would spin. Clients wait in the backlog. */
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				accept_backoff(a, errno);
			break;
		}
		accept_shortage_end(&a->shortage, a->name);
		if (l->lc && l->lc->proxy_protocol)
			fork_proxy_accepted(a, l->lc, fd, &tk, &peer, plen);
		else
			fork_serve(a, l->lc, fd, &tk, &peer, plen, NULL, 0);
	}
	fork_listen_update(a);
}

static void conn_ended(struct acceptor *a, struct scoreboard *sb, struct child *ch, int status)
{
	uint64_t in = 0, out = 0, dur = scoreboard_now_usec() - ch->start_usec;
	bool known = false, killed = WIFSIGNALED(status);
	enum conn_result result =
	        killed || a->ctx->handler ? CONN_RESULT_HANDLER_ERROR : CONN_RESULT_COMPLETED;
	const char *outcome = killed ? "killed" : "exited";
	int exit_status = killed ? WTERMSIG(status) : WEXITSTATUS(status);
	enum driver_outcome hs;

	/* A program behind TLS whose handshake failed never ran: the connection ended as a
	 * built-in's does when its handshake fails. */
	if (fork_tls_exec_report(a, ch->report, &hs)) {
		result = driver_result(hs);
		outcome = connlog_outcome(hs);
		exit_status = -1;
	}
	if (a->ctx->handler && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		scoreboard_slot_done(a->ctx->slot); /* the process counted the rest */
		return;
	}
	if (ch->fd >= 0)
		known = tcpinfo_bytes(ch->fd, &in, &out) == 0;
	if (connlog_enabled(&a->connlog))
		connlog_write(&a->connlog,
		              &(struct conn_record){
		                      .peer = (struct sockaddr *)&ch->peer,
		                      .peer_len = ch->peer_len,
		                      .local = ch->local_len ? (struct sockaddr *)&ch->local : NULL,
		                      .local_len = ch->local_len,
		                      .fd = ch->fd,
		                      .start_usec = ch->start_usec,
		                      .bytes_known = known,
		                      .bytes_in = in,
		                      .bytes_out = out,
		                      .outcome = outcome,
		                      .exit_status = exit_status});
	if (ch->fd >= 0)
		close(ch->fd);
	scoreboard_conn_done(sb, a->ctx->slot, dur, known, in, out, result);
}

static void reap(struct acceptor *a)
{
	int status;
	pid_t pid;

	struct scoreboard *sb = a->ctx->scoreboard;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child ch;
		if (!child_take(a, pid, &ch))
			continue; /* not a connection process of ours */
		if (a->children > 0)
			a->children--;
		admit_release(&a->admit, &ch.ticket);
		conn_ended(a, sb, &ch, status);
		if (WIFSIGNALED(status))
			log_warning(a->name, "connection process %d killed by signal %d (%s)",
			            (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
		else if (WEXITSTATUS(status) != 0)
			log_info(a->name, "connection process %d exited with status %d", (int)pid,
			         WEXITSTATUS(status));
	}
	fork_listen_update(a);
}

static void stop_accepting(struct acceptor *a)
{
	a->stopping = true;
	scoreboard_set_state(a->ctx->slot, WORKER_STOPPING);
	for (size_t i = 0; i < a->ctx->n_listen; i++) {
		struct fork_listener *l = &a->listeners[i];
		if (l->tag.fd < 0)
			continue;
		/* The master still holds the socket, so close() alone would leave it
		 * registered, and level-triggered readiness would spin the loop. */
		if (l->armed && epoll_ctl(a->epfd, EPOLL_CTL_DEL, l->tag.fd, NULL) < 0)
			log_warning(a->name, "epoll_ctl: %s", strerror(errno));
		close(l->tag.fd);
		l->tag.fd = -1;
		l->armed = false;
	}
	/* Headers on their way are connections in hand: each is served or refused by its
	 * deadline, so the drain still ends. */
	log_debug(a->name, "draining: %u connection%s open, %u header%s on the way", a->children,
	          a->children == 1 ? "" : "s", a->n_headers, a->n_headers == 1 ? "" : "s");
}

static void on_signals(struct acceptor *a)
{
	struct signalfd_siginfo si;

	while (read(a->sig.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(a);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			stop_accepting(a);
	}
}

static int setup(struct acceptor *a, const struct worker_ctx *ctx)
{
	const struct fork_options *o = ctx->conf->mpm.options;

	a->ctx = ctx;
	a->name = ctx->conf->name;
	a->max_children = fork_share(o, ctx->index);
	a->max_children_all = (unsigned)o->max_children;
	a->n_acceptors = (unsigned)o->acceptors;
	admit_init(&a->admit, ctx->conf, ctx->scoreboard, ctx->index);
	connlog_open(&a->connlog, ctx->conf, ctx->scoreboard, ctx->connlog_fd);
	a->limits.idle_timeout_usec = ctx->conf->limits.idle_timeout_usec;
	a->limits.max_duration_usec = ctx->conf->limits.max_duration_usec;
	unsigned cap = 16;
	while (cap < 2 * a->max_children)
		cap *= 2;
	a->table = calloc(cap, sizeof(*a->table));
	if (!a->table)
		return -ENOMEM;
	a->table_mask = cap - 1;
	a->sig.kind = TAG_SIGNAL;

	int r = worker_signals_open(true, &a->sig, &a->sig.fd, &a->epfd);
	if (r < 0)
		return r;
	a->pipes = (struct exec_pipes){.epfd = a->epfd, .service = a->name};
	/* A program they were handed to before may have left them blocking. */
	r = listenfds_nonblocking(ctx->listen_fds, ctx->n_listen);
	if (r < 0)
		return r;
	/* What programs leave running when they exit is ours (not init's), ended when the
	 * acceptor stops. */
	if (!ctx->handler && (r = orphans_adopt()) < 0)
		return r;
	a->listeners = calloc(ctx->n_listen ? ctx->n_listen : 1, sizeof(*a->listeners));
	if (!a->listeners)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->n_listen; i++) {
		struct fork_listener *l = &a->listeners[i];
		*l = (struct fork_listener){.tag = {.kind = TAG_LISTENER, .fd = ctx->listen_fds[i]},
		                            .lc = i < ctx->conf->n_listen ? &ctx->conf->listen[i]
		                                                          : NULL,
		                            .armed = true};
		struct epoll_event ev = {.events = LISTEN_EVENTS, .data.ptr = &l->tag};
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, ctx->listen_fds[i], &ev) < 0)
			return -errno;
	}
	/* Modules keep the whole image: they may call any library, and rely on its
	 * atfork handlers. */
	if (ctx->conf->kind == HANDLER_BUILTIN)
		a->trimmed = image_trim_for_children(a->name) > 0;
	if (!ctx->handler && (r = fork_tls_exec_setup(a)) < 0)
		return r;
	scoreboard_set_state(ctx->slot, WORKER_IDLE);
	if (!ctx->handler)
		return exec_env_init(&a->env, ctx->conf);
	return 0;
}

static void cleanup(struct acceptor *a)
{
	fork_proxy_drop_all(a);
	fork_exec_cleanup(a);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->sig.fd >= 0)
		close(a->sig.fd);
	free(a->listeners);
	if (a->table)
		for (unsigned i = 0; i <= a->table_mask; i++)
			if (a->table[i].pid && a->table[i].fd >= 0)
				close(a->table[i].fd);
	free(a->table);
	exec_env_free(&a->env);
	fork_tls_exec_cleanup(a);
	connlog_close(&a->connlog);
}

static int fork_worker_main(const struct worker_ctx *ctx)
{
	struct acceptor a = {
	        .epfd = -1, .sig = {.fd = -1}, .connlog = {.fd = -1}, .spare_pipe = {-1, -1}};
	struct epoll_event evs[64];
	int r = setup(&a, ctx);

	if (r < 0) {
		log_error(ctx->conf->name, "cannot start the acceptor: %s", strerror(-r));
		cleanup(&a);
		return 1;
	}
	while (!a.stopping || a.children > 0 || a.n_headers > 0) {
		uint64_t now = scoreboard_now_usec(), at = fork_proxy_next_deadline(&a);
		int timeout = -1;
		if (a.retry_at && now >= a.retry_at) {
			a.retry_at = 0;
			fork_listen_update(&a);
		}
		if (a.retry_at && (!at || a.retry_at < at))
			at = a.retry_at;
		if (at) /* rounded up: waking early would spin until the deadline */
			timeout = at <= now ? 0 : (int)((at - now + 999) / 1000);
		int n = epoll_wait(a.epfd, evs, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error(a.name, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct tag *t = evs[i].data.ptr;
			switch (t->kind) {
			case TAG_LISTENER:
				if (t->fd >= 0)
					accept_burst(&a, (struct fork_listener *)t);
				break;
			case TAG_HEADER:
				fork_proxy_event(&a, (struct fork_header *)t);
				break;
			case TAG_SIGNAL:
				on_signals(&a);
				break;
			case TAG_STDERR:
				if (t->fd >= 0)
					fork_exec_pipe_event(&a, t);
				break;
			}
		}
		fork_exec_free_dead(&a);
		/* After the batch: a header refused here may have had an event in it. */
		if (a.n_headers)
			fork_proxy_expire(&a, scoreboard_now_usec());
	}
	if (!ctx->handler)
		orphans_kill(a.name);
	cleanup(&a);
	return 0;
}

const struct mpm_ops mpm_fork_ops = {
        .name = "fork",
        .flags = MPM_CAN_EXEC | MPM_PROXY | MPM_PROXY_EXEC | MPM_TLS | MPM_TLS_EXEC,
        .options_size = sizeof(struct fork_options),
        .options = fork_option_table,
        .n_options = sizeof(fork_option_table) / sizeof(fork_option_table[0]),
        .validate = fork_validate,
        .workers = fork_workers,
        .max_workers = fork_workers,
        .worker_main = fork_worker_main,
};
