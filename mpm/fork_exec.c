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
	struct exec_pipe p;
};

void fork_exec_free_dead(struct acceptor *a)
{
	exec_pipes_free_dead(&a->pipes);
}

void fork_exec_pipe_event(struct acceptor *a, struct tag *t)
{
	exec_pipes_read(&a->pipes, &((struct errpipe *)t)->p);
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
	p->tag.kind = TAG_STDERR;
	/* High, as the connection sockets (see exec_spawn_keep). */
	exec_pipes_watch(&a->pipes, &p->p, p, &p->tag.fd, exec_spawn_keep(rfd), pid,
	                 (const struct sockaddr *)peer, peer_len);
}

int fork_exec_spawn(struct acceptor *a, const struct listen_conf *lc, int fd,
                    const struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                    socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len,
                    pid_t *pid_r, int *report_r)
{
	const struct limits_conf *lim = &a->ctx->conf->limits;
	struct iovec rest[2];
	int pfd[2], r, n_rest = admit_greeting_rest(&a->admit, ticket, rest);

	*report_r = -1;
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
	if (lc && lc->tls) {
		/* The whole greeting (admit_gate sent nothing on a TLS listener), through TLS. */
		r = fork_tls_exec_start(a, lc, fd, pfd[1], rest, n_rest, peer, peer_len, local,
		                        local_len, pid_r, report_r);
		goto started;
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
started:
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
	exec_pipes_close_in_child(&a->pipes);
}

void fork_exec_cleanup(struct acceptor *a)
{
	exec_pipes_close_all(&a->pipes);
	if (a->spare_pipe[0] >= 0) {
		close(a->spare_pipe[0]);
		close(a->spare_pipe[1]);
		a->spare_pipe[0] = a->spare_pipe[1] = -1;
	}
}
