/*
 * The fork model's programs (`exec:`): spawning one for a connection, with the
 * connection on fd 0 and 1 and a pipe on fd 2 whose lines the acceptor relays to the
 * log, tagged with the program's pid and its client's address.
 *
 * vfork shares the acceptor's memory until the program has exec'd (no copy of the
 * address space), and so stops the acceptor meanwhile; a service with several
 * acceptors (fork.c) spawns that many programs at once. Each program leads a session
 * of its own and is killed with its acceptor (see spawn_child).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "mpm/fork_acceptor.h"
#include "superserverd/addr.h"
#include "superserverd/config.h"
#include "superserverd/log.h"

/* A program's stderr, relayed line by line to the log with its pid. */
struct errpipe {
	struct tag tag; /* first */
	pid_t pid;
	char remote[64]; /* REMOTE_ADDR= journal field of the connection's peer */
	size_t len;
	char buf[2048];
	struct errpipe *next, *prev;
};

static void relay_lines(struct acceptor *a, struct errpipe *p, bool all)
{
	char pidfield[48];
	const char *fields[] = {pidfield, p->remote[0] ? p->remote : NULL, NULL};
	size_t start = 0;

	snprintf(pidfield, sizeof(pidfield), "PROGRAM_PID=%d", (int)p->pid);
	for (size_t i = 0; i < p->len; i++) {
		if (p->buf[i] != '\n')
			continue;
		log_fields(LOG_NOTICE, a->name, fields, "[%d] %.*s", (int)p->pid, (int)(i - start),
		           p->buf + start);
		start = i + 1;
	}
	/* A line longer than the buffer is logged in pieces rather than dropped. */
	if ((all || p->len == sizeof(p->buf)) && start < p->len) {
		log_fields(LOG_NOTICE, a->name, fields, "[%d] %.*s", (int)p->pid,
		           (int)(p->len - start), p->buf + start);
		start = p->len;
	}
	memmove(p->buf, p->buf + start, p->len - start);
	p->len -= start;
}

/* Unlinks and closes; the memory goes on the dead list, freed after the current
 * epoll batch, since an event already fetched may still point at it. */
static void pipe_close(struct acceptor *a, struct errpipe *p)
{
	relay_lines(a, p, true);
	if (epoll_ctl(a->epfd, EPOLL_CTL_DEL, p->tag.fd, NULL) < 0 && errno != ENOENT)
		log_warning(a->name, "epoll_ctl: %s", strerror(errno));
	close(p->tag.fd);
	p->tag.fd = -1;
	if (p->prev)
		p->prev->next = p->next;
	else
		a->pipes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = NULL;
	p->next = a->dead_pipes;
	a->dead_pipes = p;
}

void fork_exec_free_dead(struct acceptor *a)
{
	while (a->dead_pipes) {
		struct errpipe *p = a->dead_pipes;
		a->dead_pipes = p->next;
		free(p);
	}
}

void fork_exec_pipe_event(struct acceptor *a, struct tag *t)
{
	struct errpipe *p = (struct errpipe *)t;

	for (;;) {
		ssize_t n = read(p->tag.fd, p->buf + p->len, sizeof(p->buf) - p->len);
		if (n > 0) {
			p->len += (size_t)n;
			relay_lines(a, p, false);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		pipe_close(a, p); /* EOF or error */
		return;
	}
}

/* Relays RFD, the read end of program PID's stderr, from now on. */
static void pipe_watch(struct acceptor *a, int rfd, pid_t pid, const struct sockaddr_storage *peer,
                       socklen_t peer_len)
{
	struct errpipe *p = calloc(1, sizeof(*p));

	if (!p) {
		close(rfd); /* the program's stderr writes then fail with EPIPE */
		return;
	}
	p->tag = (struct tag){.kind = TAG_STDERR, .fd = rfd};
	p->pid = pid;
	if (peer->ss_family != AF_UNIX) {
		char host[48];
		unsigned port;
		if (addr_host_port((const struct sockaddr *)peer, peer_len, host, sizeof(host),
		                   &port) == 0)
			snprintf(p->remote, sizeof(p->remote), "REMOTE_ADDR=%s", host);
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, rfd, &ev) < 0) {
		close(rfd);
		free(p);
		return;
	}
	p->next = a->pipes;
	if (a->pipes)
		a->pipes->prev = p;
	a->pipes = p;
}

/* What the child needs, in memory it shares with the acceptor until execve. */
struct spawn_req {
	int fd, errfd;
	const char *path;
	char *const *argv;
	char *const *envp;
	pid_t acceptor;
	volatile int err; /* set by the child when it cannot exec */
};

/* vfork's child: on the acceptor's memory and stack until execve, so it only makes
 * system calls. */
static __attribute__((noreturn)) void spawn_child(struct spawn_req *r)
{
	sigset_t none;

	/*
	 * A session of its own, as under xinetd or systemd's Accept=yes: with
	 * kernel.sched_autogroup_enabled (the usual default) the scheduler shares the CPU
	 * between sessions first, so in the acceptor's session all of a service's programs
	 * would share one share. Leaving the acceptor's process group, the program would
	 * escape the kill that ends a service after shutdown_timeout; it goes with its
	 * acceptor instead.
	 */
	if (setsid() < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != r->acceptor) /* it died before the line above */
		_exit(127);
	if (dup2(r->fd, STDIN_FILENO) < 0 || dup2(r->fd, STDOUT_FILENO) < 0 ||
	    dup2(r->errfd, STDERR_FILENO) < 0)
		goto fail;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		goto fail;
	execve(r->path, r->argv, r->envp);
fail:
	r->err = errno;
	_exit(127);
}

/*
 * Starts the program without copying the acceptor's address space (vfork): the
 * acceptor resumes once it has exec'd. Every signal stays blocked meanwhile, so no
 * handler can run in the child on the acceptor's memory; the acceptor has none of its
 * own (it reads signals from a signalfd), so none is left to reset in the child
 * either. A child that could not exec is reaped like any other.
 */
static int spawn_vfork(struct spawn_req *r, pid_t *pid_r)
{
	sigset_t all, old;
	pid_t pid;
	int err;

	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) < 0)
		return -errno;
	r->err = 0;
	pid = vfork();
	if (pid == 0)
		spawn_child(r);
	err = pid < 0 ? errno : r->err;
	if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
		log_warning(NULL, "sigprocmask: %s", strerror(errno));
	if (err)
		return -err;
	*pid_r = pid;
	return 0;
}

int fork_exec_spawn(struct acceptor *a, int fd, const struct sockaddr_storage *peer,
                    socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len,
                    pid_t *pid_r)
{
	int pfd[2], r;

	if (a->spare_pipe[0] >= 0) {
		pfd[0] = a->spare_pipe[0];
		pfd[1] = a->spare_pipe[1];
		a->spare_pipe[0] = a->spare_pipe[1] = -1;
	} else if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		return -errno;
	}
	/* The program's end must block like any normal stderr would. */
	if (fcntl(pfd[1], F_SETFL, 0) < 0) {
		r = -errno;
		goto fail_pipe;
	}
	r = exec_env_fill(&a->env, fd, peer, peer_len, local, local_len);
	if (r < 0)
		goto fail_pipe;
	r = spawn_vfork(&(struct spawn_req){.fd = fd,
	                                    .errfd = pfd[1],
	                                    .path = a->ctx->conf->exec_argv[0],
	                                    .argv = a->ctx->conf->exec_argv,
	                                    .envp = a->env.envp,
	                                    .acceptor = getpid()},
	                pid_r);
	close(pfd[1]);
	if (r < 0) {
		close(pfd[0]);
		return r;
	}
	pipe_watch(a, pfd[0], *pid_r, peer, peer_len);
	return 0;
fail_pipe:
	close(pfd[0]);
	close(pfd[1]);
	return r;
}

int fork_exec_room(struct acceptor *a)
{
	if (a->ctx->handler || a->spare_pipe[0] >= 0)
		return 0;
	if (pipe2(a->spare_pipe, O_CLOEXEC | O_NONBLOCK) == 0)
		return 0;
	a->spare_pipe[0] = a->spare_pipe[1] = -1;
	return -errno;
}

void fork_exec_close_in_child(struct acceptor *a)
{
	for (struct errpipe *p = a->pipes; p; p = p->next)
		close(p->tag.fd);
}

void fork_exec_cleanup(struct acceptor *a)
{
	while (a->pipes)
		pipe_close(a, a->pipes);
	fork_exec_free_dead(a);
	if (a->spare_pipe[0] >= 0) {
		close(a->spare_pipe[0]);
		close(a->spare_pipe[1]);
		a->spare_pipe[0] = a->spare_pipe[1] = -1;
	}
}
