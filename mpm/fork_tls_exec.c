/*
 * A program behind TLS under the fork model (`exec:` on a TLS listener). Programs
 * written for inetd read and write plaintext on fd 0 and 1, so the connection gets a
 * process of its own that terminates TLS: it does the handshake, starts the program on
 * one end of a socketpair (with mod_ssl's SSL_* variables beside the TCP ones) and
 * relays between the client and the other end (mpm/tls_relay.h) until both directions
 * are closed. The service's banners go first, through TLS. It then ends as the program
 * did, so that the acceptor's record of the connection (exit status, or the signal that
 * killed it) reads as for a plaintext one. A failed handshake starts no program: the
 * process says so in its report cell, and the acceptor records and counts the
 * connection as it would a built-in's whose handshake failed (peer-gone or timeout).
 *
 * Kernel TLS could hand the program the socket itself after the handshake; the relay
 * is the one path, and works on every kernel.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

/* The program on SP with its stderr on ERRFD, GREETING (N pieces) to the client
 * first; returns its status once it ended. */
static int run_program(struct acceptor *a, struct tls_conn *t, int fd, int sp[2], int errfd,
                       const struct iovec *greeting, int n)
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
	if (r)
		tls_relay_greet(r, greeting, n);
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
               const struct iovec *greeting, int n_greeting, int report,
               const struct sockaddr_storage *peer, socklen_t peer_len,
               const struct sockaddr_storage *local, socklen_t local_len)
{
	struct driver_limits lim = a->limits;
	struct tls_conn *t;
	uint64_t start = conn_now_usec();
	uint64_t deadline;
	int sp[2], r, status;

	fork_child_close(a);
	lim.handshake_timeout_usec = tls_server_handshake_timeout_usec(lc->tls);
	t = tls_conn_new(tls_server_ctx(lc->tls), fd);
	if (!t) {
		log_error(a->name, "cannot start TLS on a connection: %s", strerror(ENOMEM));
		_exit(1);
	}
	deadline = driver_handshake_deadline(start, &lim);
	r = tls_conn_handshake_blocking(t, deadline, NULL, NULL);
	tls_serve_count_conn(a->ctx->scoreboard, t, r, conn_now_usec() - start);
	if (r < 0) {
		log_debug(a->name, "TLS handshake failed: %s", tls_fail_name(tls_conn_failure(t)));
		tls_conn_free(t);
		/* No program ran: the acceptor records the connection from the report. */
		if (report >= 0)
			atomic_store(
			        &a->reports.cell[report],
			        (uint8_t)(1 + driver_handshake_outcome(r, start, deadline, &lim)));
		_exit(0);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
	    exec_env_fill(&a->env, fd, peer, peer_len, local, local_len) < 0) {
		log_error(a->name, "cannot start a program behind TLS: %s", strerror(errno));
		_exit(1);
	}
	status = run_program(a, t, fd, sp, errfd, greeting, n_greeting);
	tls_conn_free(t);
	close(fd);
	end_as(status);
}

int fork_tls_exec_setup(struct acceptor *a)
{
	struct fork_tls_reports *rp = &a->reports;
	bool tls = false;
	void *m;

	for (size_t i = 0; i < a->ctx->conf->n_listen; i++)
		tls = tls || a->ctx->conf->listen[i].tls;
	if (a->ctx->handler || !tls)
		return 0;
	/* No more connection processes than max_children at once: a cell for each. */
	rp->n = a->max_children;
	rp->free = calloc(rp->n, sizeof(*rp->free));
	m = mmap(NULL, rp->n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!rp->free || m == MAP_FAILED) {
		free(rp->free);
		*rp = (struct fork_tls_reports){0};
		return -ENOMEM;
	}
	rp->cell = m;
	for (unsigned i = 0; i < rp->n; i++)
		rp->free[rp->n_free++] = rp->n - 1 - i;
	return 0;
}

void fork_tls_exec_cleanup(struct acceptor *a)
{
	struct fork_tls_reports *rp = &a->reports;

	if (rp->cell)
		munmap((void *)rp->cell, rp->n);
	free(rp->free);
	*rp = (struct fork_tls_reports){0};
}

bool fork_tls_exec_report(struct acceptor *a, int cell, enum driver_outcome *outcome_r)
{
	struct fork_tls_reports *rp = &a->reports;
	uint8_t v;

	if (cell < 0 || !rp->cell || (unsigned)cell >= rp->n)
		return false;
	/* The process has been reaped: what it stored is there. */
	v = atomic_exchange(&rp->cell[cell], 0);
	rp->free[rp->n_free++] = (unsigned)cell;
	if (!v)
		return false;
	*outcome_r = (enum driver_outcome)(v - 1);
	return true;
}

int fork_tls_exec_start(struct acceptor *a, const struct listen_conf *lc, int fd, int errfd,
                        const struct iovec *greeting, int n_greeting,
                        const struct sockaddr_storage *peer, socklen_t peer_len,
                        const struct sockaddr_storage *local, socklen_t local_len, pid_t *pid_r,
                        int *report_r)
{
	struct fork_tls_reports *rp = &a->reports;
	/* None free cannot happen (max_children bounds the processes); then the record
	 * reads as before, an exit with status 0. */
	int report = rp->n_free ? (int)rp->free[--rp->n_free] : -1;
	pid_t pid = fork();

	if (pid < 0) {
		if (report >= 0)
			rp->free[rp->n_free++] = (unsigned)report;
		return -errno;
	}
	if (pid == 0) {
		sigset_t none;

		/* The acceptor's signals arrive by signalfd: here they are the defaults. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		tls_exec_child(a, lc, fd, errfd, greeting, n_greeting, report, peer, peer_len,
		               local, local_len);
	}
	*pid_r = pid;
	*report_r = report;
	return 0;
}
