/* Re-executing the master with its sockets, and the handshake (see upgrade.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "superserverd/listenfds.h"
#include "superserverd/log.h"
#include "superserverd/upgrade.h"

extern char **environ;

struct upgrade {
	sd_event *event;
	pid_t pid;
	int sock; /* our end of the handshake */
	sd_event_source *io, *child, *timer;
	upgrade_done_fn done;
	void *userdata;
	bool finished;  /* DONE was called */
	bool committed; /* the new process owns the service now */
	bool reaped;
	char buf[64];
	size_t len;
};

static bool env_is_ours(const char *e)
{
	static const char *const names[] = {
	        "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "WATCHDOG_PID=", UPGRADE_ENV "="};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(e, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/* In the child, between fork and exec: the sockets go to 3, 4, ... and the handshake
 * right after them, nothing else stays open. The master is single-threaded, so
 * allocating here is safe. */
static void exec_child(const char *exe, char *const *argv, const int *fds, const char *const *names,
                       size_t n, int sock)
{
	size_t n_env = 0;
	int *all = calloc(n + 1, sizeof(int));

	/* The sockets at 3, 4, ... and the handshake right after them. */
	if (!all)
		_exit(127);
	if (n)
		memcpy(all, fds, n * sizeof(int));
	all[n] = sock;
	if (listenfds_place(all, n + 1) < 0)
		_exit(127);
	/* Whatever else the master had open (every descriptor should be close-on-exec,
	 * but a leak here would live on in the new generation). */
	if (close_range((unsigned)n + 4, ~0U, 0) < 0)
		for (int fd = (int)n + 4; fd < 65536; fd++)
			close(fd);

	for (char **e = environ; *e; e++)
		n_env++;
	char **envp = calloc(n_env + 6, sizeof(char *));
	char *fdnames = listenfds_names_env(names, n);
	char listen_pid[32], listen_fds[32], wd_pid[32], up[64];
	if (!envp || !fdnames)
		_exit(127);
	size_t k = 0;
	for (char **e = environ; *e; e++)
		if (!env_is_ours(*e))
			envp[k++] = *e;
	snprintf(listen_pid, sizeof(listen_pid), "LISTEN_PID=%d", (int)getpid());
	snprintf(listen_fds, sizeof(listen_fds), "LISTEN_FDS=%zu", n);
	snprintf(up, sizeof(up), UPGRADE_ENV "=%zu", n + 3);
	envp[k++] = listen_pid;
	envp[k++] = listen_fds;
	envp[k++] = fdnames;
	envp[k++] = up;
	/* sd_watchdog_enabled() only pings for the pid systemd named. */
	if (getenv("WATCHDOG_USEC")) {
		snprintf(wd_pid, sizeof(wd_pid), "WATCHDOG_PID=%d", (int)getpid());
		envp[k++] = wd_pid;
	}
	envp[k] = NULL;
	execve(exe, argv, envp);
	_exit(127);
}

static void finish(struct upgrade *u, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void finish(struct upgrade *u, bool ok, const char *fmt, ...)
{
	char msg[256] = "";
	va_list ap;

	if (u->finished)
		return;
	u->finished = true;
	u->io = sd_event_source_disable_unref(u->io);
	u->timer = sd_event_source_disable_unref(u->timer);
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (!ok && !u->reaped) {
		/* Its service processes follow it (PR_SET_PDEATHSIG). */
		u->child = sd_event_source_disable_unref(u->child);
		kill(u->pid, SIGKILL);
		(void)waitpid(u->pid, NULL, 0);
		u->reaped = true;
	}
	u->done(u, ok, u->pid, ok ? NULL : msg, u->userdata);
}

static int on_reply(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct upgrade *u = userdata;
	ssize_t r = read(fd, u->buf + u->len, sizeof(u->buf) - 1 - u->len);

	(void)s;
	(void)revents;
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r <= 0) {
		/* Hung up without a word: it exited, on_child says how. */
		u->io = sd_event_source_disable_unref(u->io);
		return 0;
	}
	u->len += (size_t)r;
	u->buf[u->len] = '\0';
	char *nl = strchr(u->buf, '\n');
	if (!nl) {
		if (u->len == sizeof(u->buf) - 1)
			finish(u, false, "new process sent a malformed handshake");
		return 0;
	}
	int pid = 0;
	if (sscanf(u->buf, "ready %d", &pid) != 1 || pid != (int)u->pid) {
		finish(u, false, "new process sent a malformed handshake");
		return 0;
	}
	/* Died right after saying so (its exit not yet dispatched)? systemd would refuse
	 * MAINPID= for it, and we would then exit as the main process. */
	siginfo_t si = {0};
	if (waitid(P_PID, u->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == u->pid) {
		finish(u, false, "new process exited right after it was ready");
		return 0;
	}
	finish(u, true, NULL);
	/* The caller has told systemd by now; the new process may speak to it. */
	if (write(u->sock, "commit\n", 7) != 7)
		log_warning(NULL, "upgrade: cannot confirm to pid %d: %s", (int)u->pid,
		            strerror(errno));
	u->committed = true;
	return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct upgrade *u = userdata;

	(void)s;
	u->child = sd_event_source_disable_unref(u->child);
	if (u->committed) {
		/* It serves, and systemd follows it, but it is our child until we exit:
		 * say so loudly, there is nobody else to. */
		log_error(NULL, "upgrade: pid %d, which took over, %s %d while this process drains",
		          (int)u->pid,
		          si->si_code == CLD_EXITED ? "exited with status" : "was killed by signal",
		          si->si_status);
		return 0;
	}
	if (u->finished)
		return 0;
	u->reaped = true;
	if (si->si_code == CLD_EXITED)
		finish(u, false, "new process exited with status %d before it was ready%s",
		       si->si_status,
		       si->si_status == 127 ? " (could not execute the binary)" : "");
	else
		finish(u, false, "new process killed by signal %d before it was ready",
		       si->si_status);
	return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct upgrade *u = userdata;
	(void)s;
	(void)usec;
	finish(u, false, "new process not ready in time: killed it");
	return 0;
}

int upgrade_start(sd_event *event, const char *exe, char *const *argv, const int *fds,
                  const char *const *names, size_t n, uint64_t timeout_usec, upgrade_done_fn done,
                  void *userdata, struct upgrade **u_r, char *err, size_t errlen)
{
	struct upgrade *u;
	int sp[2], r;
	uint64_t now;

	if (access(exe, X_OK) < 0) {
		snprintf(err, errlen, "cannot execute %s: %s", exe, strerror(errno));
		return -errno;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->event = event;
	u->done = done;
	u->userdata = userdata;
	u->sock = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		goto fail;
	}
	u->sock = sp[0];
	u->pid = fork();
	if (u->pid < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sp[1]);
		goto fail;
	}
	if (u->pid == 0)
		exec_child(exe, argv, fds, names, n, sp[1]);
	close(sp[1]);
	if ((r = sd_event_add_child(event, &u->child, u->pid, WEXITED, on_child, u)) < 0 ||
	    (r = sd_event_add_io(event, &u->io, u->sock, EPOLLIN, on_reply, u)) < 0 ||
	    (r = sd_event_now(event, CLOCK_MONOTONIC, &now)) < 0 ||
	    (r = sd_event_add_time(event, &u->timer, CLOCK_MONOTONIC, now + timeout_usec, 0,
	                           on_timeout, u)) < 0) {
		snprintf(err, errlen, "cannot watch the new process: %s", strerror(-r));
		goto fail;
	}
	*u_r = u;
	return 0;
fail:
	u->finished = true; /* no DONE for a start that failed */
	upgrade_free(u);
	return r;
}

pid_t upgrade_pid(const struct upgrade *u)
{
	return u->pid;
}

bool upgrade_finished(const struct upgrade *u)
{
	return u->finished;
}

void upgrade_free(struct upgrade *u)
{
	if (!u)
		return;
	sd_event_source_disable_unref(u->io);
	sd_event_source_disable_unref(u->timer);
	sd_event_source_disable_unref(u->child);
	if (!u->committed && !u->reaped && u->pid > 0) {
		kill(u->pid, SIGKILL);
		(void)waitpid(u->pid, NULL, 0);
	}
	if (u->sock >= 0)
		close(u->sock);
	free(u);
}

/* --- the new process ------------------------------------------------------------- */

int upgrade_child_fd(void)
{
	const char *e = getenv(UPGRADE_ENV);
	char *end;
	struct stat st;
	long fd;

	if (!e)
		return -1;
	fd = strtol(e, &end, 10);
	unsetenv(UPGRADE_ENV);
	if (*end || fd < 3 || fd > 65535 || fstat((int)fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return -1;
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return (int)fd;
}

struct child_wait {
	sd_event_source *io, *timer;
	int fd;
	void (*committed)(bool ok, void *userdata);
	void *userdata;
};

static void child_wait_end(struct child_wait *w, bool ok)
{
	sd_event_source_disable_unref(w->io);
	sd_event_source_disable_unref(w->timer);
	close(w->fd);
	void (*cb)(bool, void *) = w->committed;
	void *ud = w->userdata;
	free(w);
	cb(ok, ud);
}

static int on_commit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	char buf[16];
	ssize_t r = read(fd, buf, sizeof(buf) - 1);

	(void)s;
	(void)revents;
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	child_wait_end(userdata, r > 0 && strncmp(buf, "commit", 6) == 0);
	return 0;
}

static int on_commit_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	child_wait_end(userdata, false);
	return 0;
}

int upgrade_child_ready(sd_event *event, int fd, uint64_t timeout_usec,
                        void (*committed)(bool ok, void *userdata), void *userdata)
{
	struct child_wait *w = calloc(1, sizeof(*w));
	char msg[32];
	uint64_t now;
	int n, r;

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->committed = committed;
	w->userdata = userdata;
	n = snprintf(msg, sizeof(msg), "ready %d\n", (int)getpid());
	if (write(fd, msg, (size_t)n) != n) {
		r = -errno;
		goto fail;
	}
	if ((r = sd_event_add_io(event, &w->io, fd, EPOLLIN, on_commit, w)) < 0 ||
	    (r = sd_event_now(event, CLOCK_MONOTONIC, &now)) < 0 ||
	    (r = sd_event_add_time(event, &w->timer, CLOCK_MONOTONIC, now + timeout_usec, 0,
	                           on_commit_timeout, w)) < 0)
		goto fail;
	return 0;
fail:
	sd_event_source_disable_unref(w->io);
	sd_event_source_disable_unref(w->timer);
	close(fd);
	free(w);
	return r;
}
