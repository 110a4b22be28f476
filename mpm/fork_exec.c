/*
 * The fork model's programs (`exec:`): spawning one for a connection, with the
 * connection on fd 0 and 1 and a pipe on fd 2 whose lines the acceptor relays to the
 * log, tagged with the program's pid and its client's address (mpm/exec_spawn.c).
 *
 * The child shares the acceptor's memory until the program has exec'd (no copy of the
 * address space), as vfork does, and so stops the acceptor meanwhile; a service with several
 * acceptors (fork.c) spawns that many programs at once. Each program leads a session
 * of its own and is killed with its acceptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mpm/exec_spawn.h"
#include "mpm/fork_acceptor.h"
#include "superserverd/config.h"
#include "superserverd/log.h"

/* A program's stderr, relayed line by line to the log with its pid. */
struct errpipe {
	struct tag tag; /* first */
	struct exec_errbuf eb;
	struct errpipe *next, *prev;
};

/* Unlinks and closes; the memory goes on the dead list, freed after the current
 * epoll batch, since an event already fetched may still point at it. */
static void pipe_close(struct acceptor *a, struct errpipe *p)
{
	exec_errbuf_flush(&p->eb, a->name);
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

	if (exec_errbuf_read(&p->eb, p->tag.fd, a->name) == 0)
		pipe_close(a, p); /* EOF or error */
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
	rfd = exec_spawn_keep(rfd);
	p->tag = (struct tag){.kind = TAG_STDERR, .fd = rfd};
	exec_errbuf_init(&p->eb, pid, (const struct sockaddr *)peer, peer_len);
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

int fork_exec_spawn(struct acceptor *a, int fd, const struct admit_ticket *ticket,
                    const struct sockaddr_storage *peer, socklen_t peer_len,
                    const struct sockaddr_storage *local, socklen_t local_len, pid_t *pid_r)
{
	const struct limits_conf *lim = &a->ctx->conf->limits;
	struct iovec rest[2];
	int pfd[2], r, n_rest = admit_greeting_rest(&a->admit, ticket, rest);

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
	r = exec_spawn(&(struct exec_spawn_req){.fd = fd,
	                                        .errfd = pfd[1],
	                                        .path = a->ctx->conf->exec_argv[0],
	                                        .argv = a->ctx->conf->exec_argv,
	                                        .envp = a->env.envp,
	                                        .prelude = rest,
	                                        .n_prelude = n_rest,
	                                        .prelude_timeout_usec =
	                                                lim->idle_timeout_usec
	                                                        ? lim->idle_timeout_usec
	                                                        : EXEC_PRELUDE_TIMEOUT_USEC},
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
