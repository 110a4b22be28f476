/* exec + prefork: the LISTEN_FDS hand-over to a long-running program (see the header). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "mpm/exec_env.h"
#include "mpm/prefork_exec.h"
#include "superserverd/config.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

/* Moves fds[i] to SD_LISTEN_FDS_START + i without clobbering one not yet moved. */
static int place_fds(const int *fds, size_t n)
{
	int tmp[n + 1];

	/* First out of the way (above every target), then into place. */
	for (size_t i = 0; i < n; i++) {
		tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, (int)(SD_LISTEN_FDS_START + n));
		if (tmp[i] < 0)
			return -errno;
	}
	for (size_t i = 0; i < n; i++) {
		int target = SD_LISTEN_FDS_START + (int)i;
		/* dup2 leaves FD_CLOEXEC off: the program inherits exactly these. */
		if (dup2(tmp[i], target) < 0)
			return -errno;
		close(tmp[i]);
		/* The program expects blocking or non-blocking as it likes; systemd hands
		 * sockets over blocking. */
		int fl = fcntl(target, F_GETFL);
		if (fl < 0 || fcntl(target, F_SETFL, fl & ~O_NONBLOCK) < 0)
			return -errno;
	}
	return 0;
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
	char names[4096] = "", buf[64];
	size_t off = 0;
	int r;

	r = exec_env_init(&env, sc);
	if (r < 0) {
		log_error(sc->name, "cannot build the environment: %s", strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < ctx->n_listen && off < sizeof(names); i++) {
		int n = snprintf(names + off, sizeof(names) - off, "%s%s", i ? ":" : "",
		                 ctx->listen_names[i]);
		if (n > 0)
			off += (size_t)n;
	}
	/* exec_env reserves room for per-connection variables; here they are LISTEN_*. */
	size_t k = env.n_static;
	snprintf(env.conn[0], sizeof(env.conn[0]), "LISTEN_FDS=%zu", ctx->n_listen);
	snprintf(env.conn[1], sizeof(env.conn[1]), "LISTEN_PID=%d", (int)getpid());
	char *fdnames = NULL;
	if (asprintf(&fdnames, "LISTEN_FDNAMES=%s", names) < 0) {
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
