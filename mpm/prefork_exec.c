/* exec + prefork: the LISTEN_FDS hand-over to a long-running program (see the header). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "mpm/exec_env.h"
#include "mpm/prefork_exec.h"
#include "superserverd/config.h"
#include "superserverd/listenfds.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

/* At 3, 4, ...; blocking, as systemd hands sockets over (the program sets what it
 * likes). */
static int place_fds(const int *fds, size_t n)
{
	int r = listenfds_place(fds, n);

	for (size_t i = 0; i < n && r == 0; i++)
		r = listenfds_set_blocking(SD_LISTEN_FDS_START + (int)i, true);
	return r;
}

/* The program's stderr goes to the journal as its own stream (its pid is ours after
 * exec, so the journal attributes lines correctly), or stays on our stderr. */
static void route_stderr(const char *service)
{
	if (!log_to_journal())
		return;
	int fd = sd_journal_stream_fd(service, LOG_NOTICE, 0);
	if (fd < 0)
		return;
	if (fd != STDERR_FILENO) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

int prefork_exec_program(const struct worker_ctx *ctx)
{
	const struct service_conf *sc = ctx->conf;
	struct exec_env env;
	char buf[64];
	int r;

	r = exec_env_init(&env, sc);
	if (r < 0) {
		log_error(sc->name, "cannot build the environment: %s", strerror(-r));
		return 1;
	}
	/* exec_env reserves room for per-connection variables; here they are LISTEN_*. */
	size_t k = env.n_static;
	snprintf(env.conn[0], sizeof(env.conn[0]), "LISTEN_FDS=%zu", ctx->n_listen);
	snprintf(env.conn[1], sizeof(env.conn[1]), "LISTEN_PID=%d", (int)getpid());
	char *fdnames = listenfds_names_env(ctx->listen_names, ctx->n_listen);
	if (!fdnames) {
		exec_env_free(&env);
		return 1;
	}
	env.envp[k++] = env.conn[0];
	env.envp[k++] = env.conn[1];
	env.envp[k++] = fdnames;
	env.envp[k] = NULL;

	r = place_fds(ctx->listen_fds, ctx->n_listen);
	if (r < 0) {
		log_error(sc->name, "cannot hand over the listening sockets: %s", strerror(-r));
		goto fail;
	}
	/* Nobody updates the slot after exec: mark it as serving for as long as it runs. */
	scoreboard_set_state(ctx->slot, WORKER_BUSY);
	route_stderr(sc->name);
	execve(sc->exec_argv[0], sc->exec_argv, env.envp);
	snprintf(buf, sizeof(buf), "%s", strerror(errno));
	log_error(sc->name, "cannot execute %s: %s", sc->exec_argv[0], buf);
fail:
	free(fdnames);
	exec_env_free(&env);
	return 1;
}
