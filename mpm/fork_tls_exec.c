/*
 * A program behind TLS under the fork model (`exec:` on a TLS listener). Programs
 * written for inetd read and write plaintext on fd 0 and 1, so the connection gets a
 * process of its own that terminates TLS: it does the handshake, starts the program on
 * one end of a socketpair (with mod_ssl's SSL_* variables beside the TCP ones) and
 * relays between the client and the other end (mpm/tls_relay.h) until both directions
 * are closed. It then ends as the program did, so that the acceptor's record of the
 * connection (exit status, or the signal that killed it) reads as for a plaintext one.
 *
 * Kernel TLS could hand the program the socket itself after the handshake; the relay
 * is the one path, and works on every kernel.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/exec_spawn.h"
#include "mpm/fork_acceptor.h"
#include "mpm/tls_relay.h"
#include "mpm/tls_serve.h"
#include "superserverd/config.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"
#include "superserverd/tls.h"

/* Ends this process as the program ended: the same exit status, or the same signal
 * (without a core of ours: the program's was its own to dump). */
static void __attribute__((noreturn)) end_as(int status)
{
	if (WIFSIGNALED(status)) {
		struct rlimit none = {0, 0};
		sigset_t one;

		(void)setrlimit(RLIMIT_CORE, &none);
		(void)signal(WTERMSIG(status), SIG_DFL);
		sigemptyset(&one);
		sigaddset(&one, WTERMSIG(status));
		(void)sigprocmask(SIG_UNBLOCK, &one, NULL);
		(void)raise(WTERMSIG(status));
		_exit(128 + WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* The program on SP with its stderr on ERRFD; returns its status once it ended. */
static int run_program(struct acceptor *a, struct tls_conn *t, int fd, int sp[2], int errfd)
{
	struct tls_relay *r;
	enum driver_outcome o;
	pid_t pid;
	int status, e;

	exec_env_fill_tls(&a->env, t);
	e = exec_spawn(&(struct exec_spawn_req){.fd = sp[1],
	                                        .errfd = errfd,
	                                        .path = a->ctx->conf->exec_argv[0],
	                                        .argv = a->ctx->conf->exec_argv,
	                                        .envp = a->env.envp},
	               &pid);
	close(sp[1]);
	close(errfd);
	if (e < 0) {
		log_error(a->name, "cannot start %s: %s", a->ctx->conf->exec_argv[0], strerror(-e));
		return 127 << 8;
	}
	r = tls_relay_new(t, fd, sp[0], conn_now_usec());
	/* Idle and duration limits are not enforced for programs (as without TLS): the
	 * relay runs until both directions are closed. */
	o = r ? tls_relay_run_blocking(r, NULL, NULL, NULL) : DRIVER_HANDLER_ERROR;
	tls_relay_free(r);
	/* The program sees the end of its input, or a reset when it writes more. */
	close(sp[0]);
	if (o != DRIVER_COMPLETED)
		log_debug(a->name, "TLS relay to program %d: %s", (int)pid, driver_outcome_name(o));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1 << 8;
	return status;
}

static void __attribute__((noreturn))
tls_exec_child(struct acceptor *a, const struct listen_conf *lc, int fd, int errfd,
               const struct sockaddr_storage *peer, socklen_t peer_len,
               const struct sockaddr_storage *local, socklen_t local_len)
{
	struct driver_limits lim = a->limits;
	struct tls_conn *t;
	uint64_t start = conn_now_usec();
	int sp[2], r, status;

	fork_child_close(a);
	lim.handshake_timeout_usec = tls_server_handshake_timeout_usec(lc->tls);
	t = tls_conn_new(tls_server_ctx(lc->tls), fd);
	if (!t) {
		log_error(a->name, "cannot start TLS on a connection: %s", strerror(ENOMEM));
		_exit(1);
	}
	r = tls_conn_handshake_blocking(t, tls_serve_deadline(start, &lim), NULL, NULL);
	tls_serve_count_conn(a->ctx->scoreboard, t, r, conn_now_usec() - start);
	if (r < 0) {
		log_debug(a->name, "TLS handshake failed: %s", tls_fail_name(tls_conn_failure(t)));
		tls_conn_free(t);
		_exit(0); /* no program ran: nothing to report as its status */
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
	    exec_env_fill(&a->env, fd, peer, peer_len, local, local_len) < 0) {
		log_error(a->name, "cannot start a program behind TLS: %s", strerror(errno));
		_exit(1);
	}
	status = run_program(a, t, fd, sp, errfd);
	tls_conn_free(t);
	close(fd);
	end_as(status);
}

int fork_tls_exec_start(struct acceptor *a, const struct listen_conf *lc, int fd, int errfd,
                        const struct sockaddr_storage *peer, socklen_t peer_len,
                        const struct sockaddr_storage *local, socklen_t local_len, pid_t *pid_r)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;

		/* The acceptor's signals arrive by signalfd: here they are the defaults. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		tls_exec_child(a, lc, fd, errfd, peer, peer_len, local, local_len);
	}
	*pid_r = pid;
	return 0;
}
