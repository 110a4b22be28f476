/*
 * A wait program's run on one socket: the access check on the datagram that wakes
 * the service, the start (the socket handed over on fd 0, 1 and 3), the end (counters,
 * the connection record, whether the program read what woke it) and the restart
 * backoff and timeout that keep a bad program from spinning or lingering.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/admit.h"
#include "mpm/wait_int.h"
#include "superserverd/addr.h"
#include "superserverd/config.h"
#include "superserverd/listenfds.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"
#include "superserverd/units.h"

/* The datagram in front of S's queue, without taking it: 1, 0 when there is none,
 * -errno for an error (an ICMP error queued on the socket is returned, and so gone). */
static int peek_head(int fd, struct wait_head *h)
{
	h->from_len = sizeof(h->from);
	h->len = recvfrom(fd, h->bytes, sizeof(h->bytes), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC,
	                  (struct sockaddr *)&h->from, &h->from_len);
	if (h->len >= 0)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	return -errno;
}

bool wait_run_gate(struct wait_server *w, struct wait_sock *s)
{
	struct scoreboard_counters *c = &w->ctx->scoreboard->counters;
	char buf[1];

	for (int i = 0; i < WAIT_DROP_BATCH; i++) {
		int r = peek_head(s->tag.fd, &s->head);
		if (r == 0)
			return false;
		if (r < 0)
			continue;
		if (!w->check_access ||
		    admit_source_allowed(w->ctx->conf, (struct sockaddr *)&s->head.from,
		                         s->head.from_len)) {
			s->has_head = true;
			return true;
		}
		/* Denied: taken off the queue, so that it neither wakes us again nor
		 * reaches the program. */
		if (recv(s->tag.fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) < 0 &&
		    errno != EAGAIN && errno != EWOULDBLOCK)
			continue;
		atomic_fetch_add(&c->dgram.dropped[DGRAM_DROP_ACCESS], 1);
		if (log_get_level() >= LOG_DEBUG) {
			char from[128];
			addr_format((struct sockaddr *)&s->head.from, s->head.from_len, from,
			            sizeof(from));
			log_debug(w->name, "datagram from %s on %s refused by the access list",
			          from, s->key);
		}
	}
	return false; /* more later: epoll says so again, after the other sockets' turn */
}

static void set_busy(struct wait_server *w)
{
	if (!w->stopping)
		scoreboard_set_state(w->ctx->slot, w->running ? WORKER_BUSY : WORKER_IDLE);
}

/* Not watched again before the backoff's delay (never a busy loop on a socket whose
 * input no program reads). */
static void back_off(struct wait_server *w, struct wait_sock *s, uint64_t lived, const char *what)
{
	uint64_t delay;

	if (!backoff_next(&s->backoff, lived, &delay)) {
		/* Still retried: another socket of the service may be fine, and the input
		 * may change. The count stays at its cap. */
		s->backoff.failures = BACKOFF_MAX_FAILURES;
		delay = BACKOFF_MAX_USEC;
	}
	s->state = WAIT_BACKOFF;
	s->retry_at = scoreboard_now_usec() + delay;
	log_warning(w->name, "%s (%s): watching it again in %llu ms", what, s->key,
	            (unsigned long long)(delay / 1000));
}

static int spawn(struct wait_server *w, struct wait_sock *s, pid_t *pid_r)
{
	struct exec_env *e = &w->env;
	int pfd[2], r;
	size_t k = e->n_static;

	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	/* The program's end must block like any normal stderr would. */
	if (fcntl(pfd[1], F_SETFL, 0) < 0) {
		r = -errno;
		goto fail;
	}
	/* The program gets the file description we watch: blocking, as inetd and systemd
	 * hand sockets over (we peek with MSG_DONTWAIT and never accept). Made
	 * non-blocking again when the run ends, for whoever polls it next. */
	r = listenfds_set_blocking(s->tag.fd, true);
	if (r < 0)
		goto fail;
	/* exec_env's per-connection room holds the LISTEN_* variables here. */
	snprintf(e->conn[0], sizeof(e->conn[0]), "LISTEN_FDS=1");
	snprintf(e->conn[1], sizeof(e->conn[1]), "LISTEN_PID=");
	e->envp[k++] = e->conn[0];
	e->envp[k++] = e->conn[1];
	e->envp[k++] = s->fdnames;
	e->envp[k] = NULL;
	r = exec_spawn(&(struct exec_spawn_req){.fd = s->tag.fd,
	                                        .fd3_too = true,
	                                        .errfd = pfd[1],
	                                        .path = w->ctx->conf->exec_argv[0],
	                                        .argv = w->ctx->conf->exec_argv,
	                                        .envp = e->envp,
	                                        .listen_pid = e->conn[1],
	                                        .listen_pid_size = sizeof(e->conn[1])},
	               pid_r);
	close(pfd[1]);
	if (r < 0) {
		close(pfd[0]);
		(void)listenfds_set_blocking(s->tag.fd, false);
		return r;
	}
	wait_pipe_watch(w, pfd[0], *pid_r, s->has_head ? (struct sockaddr *)&s->head.from : NULL,
	                s->has_head ? s->head.from_len : 0);
	return 0;
fail:
	close(pfd[0]);
	close(pfd[1]);
	return r;
}

void wait_run_start(struct wait_server *w, struct wait_sock *s)
{
	struct scoreboard *sb = w->ctx->scoreboard;
	pid_t pid;
	int r;

	wait_sock_arm(w, s, false);
	/* Counted before the start: the program may answer its client before this
	 * process runs again, and the client may ask for the counters then. */
	w->running++;
	atomic_fetch_add(&sb->counters.runs.started, 1);
	atomic_fetch_add(&w->ctx->slot->runs, 1);
	set_busy(w);
	r = spawn(w, s, &pid);
	if (r < 0) {
		char what[256];
		w->running--;
		atomic_fetch_sub(&sb->counters.runs.started, 1);
		atomic_fetch_sub(&w->ctx->slot->runs, 1);
		set_busy(w);
		snprintf(what, sizeof(what), "cannot start %s: %s", w->ctx->conf->exec_argv[0],
		         strerror(-r));
		back_off(w, s, 0, what);
		return;
	}
	s->state = WAIT_RUNNING;
	s->pid = pid;
	s->start_usec = scoreboard_now_usec();
	s->term_at = w->timeout_usec ? s->start_usec + w->timeout_usec : 0;
	s->kill_at = 0;
	s->timed_out = false;
	/* A run is the service's connection: status, top and the histogram show it. */
	scoreboard_conn_accepted(sb, w->ctx->slot);
	log_debug(w->name, "started program %d on %s", (int)pid, s->key);
}

/* Whether what woke S is still there after its program ended: the same datagram in
 * front of the queue, or (stream) a connection pending after a quick run. */
static bool input_unread(struct wait_sock *s, uint64_t lived)
{
	struct wait_head now;
	struct pollfd p = {.fd = s->tag.fd, .events = POLLIN};

	if (s->type != SOCK_DGRAM)
		return lived < WAIT_QUICK_USEC && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
	if (!s->has_head || peek_head(s->tag.fd, &now) != 1)
		return false;
	size_t n = (size_t)(now.len < WAIT_HEAD_BYTES ? now.len : WAIT_HEAD_BYTES);
	return now.len == s->head.len && now.from_len == s->head.from_len &&
	       memcmp(&now.from, &s->head.from, now.from_len) == 0 &&
	       memcmp(now.bytes, s->head.bytes, n) == 0;
}

static void count_end(struct wait_server *w, struct wait_sock *s, int status, uint64_t lived)
{
	struct scoreboard *sb = w->ctx->scoreboard;
	struct scoreboard_runs *runs = &sb->counters.runs;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	enum conn_result result = ok ? CONN_RESULT_COMPLETED : CONN_RESULT_HANDLER_ERROR;

	/* In this order: whoever sees a run ended sees the rest of it too. */
	atomic_fetch_sub(&w->ctx->slot->runs, 1);
	atomic_fetch_add(&runs->run_usec_sum, lived);
	atomic_store(&runs->last_status, (int32_t)status);
	if (WIFSIGNALED(status))
		atomic_fetch_add(&runs->killed, 1);
	else
		atomic_fetch_add(ok ? &runs->exited_ok : &runs->exited_error, 1);
	if (s->timed_out) {
		atomic_fetch_add(&runs->timeouts, 1);
		result = CONN_RESULT_TIMEOUT;
	}
	scoreboard_conn_done(sb, w->ctx->slot, lived, false, 0, 0, result);
	if (!connlog_enabled(&w->connlog))
		return;
	bool killed = WIFSIGNALED(status);
	connlog_write(&w->connlog,
	              &(struct conn_record){
	                      .peer = s->has_head ? (struct sockaddr *)&s->head.from : NULL,
	                      .peer_len = s->has_head ? s->head.from_len : 0,
	                      .fd = s->tag.fd,
	                      .start_usec = s->start_usec,
	                      .datagram = s->type == SOCK_DGRAM,
	                      .outcome = s->timed_out ? "timeout"
	                                 : killed     ? "killed"
	                                              : "exited",
	                      .exit_status = killed ? WTERMSIG(status) : WEXITSTATUS(status)});
}

void wait_run_reaped(struct wait_server *w, pid_t pid, int status)
{
	struct wait_sock *s = NULL;
	uint64_t lived;
	char what[256];

	for (size_t i = 0; i < w->n_socks && !s; i++)
		if (w->socks[i].state == WAIT_RUNNING && w->socks[i].pid == pid)
			s = &w->socks[i];
	if (!s)
		return; /* a child that never exec'd, or an orphan we reap as subreaper */
	/* What the program left running in its process group ends with it: it would keep
	 * the socket, and read what is meant for the next run. */
	if (kill(-pid, SIGKILL) < 0 && errno != ESRCH)
		log_warning(w->name, "kill(-%d): %s", (int)pid, strerror(errno));
	/* For whoever polls it next (this process, or another model after a reload). */
	int r = listenfds_set_blocking(s->tag.fd, false);
	if (r < 0)
		log_warning(w->name, "%s: %s", s->key, strerror(-r));
	lived = scoreboard_now_usec() - s->start_usec;
	count_end(w, s, status, lived);
	s->pid = 0;
	w->running--;
	set_busy(w);
	if (WIFSIGNALED(status))
		snprintf(what, sizeof(what), "program %d killed by signal %d (%s)%s", (int)pid,
		         WTERMSIG(status), strsignal(WTERMSIG(status)),
		         s->timed_out ? " after the timeout" : "");
	else
		snprintf(what, sizeof(what), "program %d exited with status %d", (int)pid,
		         WEXITSTATUS(status));
	if (w->stopping) {
		log_debug(w->name, "%s", what);
		s->state = WAIT_WATCHING; /* nothing more: not armed while stopping */
		return;
	}
	bool failed =
	        !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && lived < BACKOFF_HEALTHY_USEC;
	if (input_unread(s, lived)) {
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
		         " without reading what woke it");
		failed = true;
	}
	s->has_head = false;
	if (failed) {
		back_off(w, s, lived, what);
		return;
	}
	log_debug(w->name, "%s", what);
	backoff_reset(&s->backoff);
	s->state = WAIT_WATCHING;
	wait_sock_arm(w, s, true);
}

/* Earliest of A and B, 0 meaning none. */
static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

uint64_t wait_run_timers(struct wait_server *w, uint64_t now)
{
	uint64_t next = 0;

	for (size_t i = 0; i < w->n_socks; i++) {
		struct wait_sock *s = &w->socks[i];
		if (s->state == WAIT_BACKOFF && !w->stopping) {
			if (now < s->retry_at) {
				next = earliest(next, s->retry_at);
				continue;
			}
			s->state = WAIT_WATCHING;
			wait_sock_arm(w, s, true);
		}
		if (s->state != WAIT_RUNNING)
			continue;
		if (s->term_at && now >= s->term_at) {
			char limit[32];
			units_format_duration(w->timeout_usec, limit, sizeof(limit));
			log_warning(
			        w->name,
			        "program %d on %s still running after the timeout (%s): ending it",
			        (int)s->pid, s->key, limit);
			(void)kill(-s->pid, SIGTERM); /* its process group */
			s->term_at = 0;
			s->timed_out = true;
			s->kill_at = now + WAIT_KILL_GRACE_USEC;
		}
		if (s->kill_at && now >= s->kill_at) {
			log_warning(w->name, "program %d on %s ignored SIGTERM: killing it",
			            (int)s->pid, s->key);
			(void)kill(-s->pid, SIGKILL);
			s->kill_at = 0;
		}
		next = earliest(next, earliest(s->term_at, s->kill_at));
	}
	return next;
}
