/* Starting a program on a socket and relaying its stderr (see exec_spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mpm/exec_spawn.h"
#include "superserverd/addr.h"
#include "superserverd/log.h"

/*
 * Where the descriptors a caller keeps while its programs run go (exec_spawn_keep).
 * The child's own table (own_fd_table) is copied from the caller's in whole words of
 * 64 descriptors, up to the program's: kept below 64, the running programs' sockets
 * and pipes would sit among (and soon below) the new connection's, and every spawn
 * would copy and close them again.
 */
#define KEEP_FD_MIN 64

/*
 * The child's stack: spawn_child and the system calls' wrappers, with room for a
 * sanitizer build's frames. One serves every spawn, since the caller waits until the
 * program has exec'd (the callers, fork's acceptor and the wait model's process, have
 * one thread). Not a part of the caller's own stack: a sanitizer build's child leaves
 * its frames' marks there, which the caller's later frames would trip over.
 */
static _Alignas(16) char spawn_stack[64 * 1024];

/* What the child needs, in memory it shares with the caller until execve. */
struct spawn_ctx {
	const struct exec_spawn_req *req;
	pid_t parent;
	volatile int err; /* set by the child when it cannot exec */
};

/* The decimal digits of V at P (room for them checked by the caller): no library
 * call in the spawned child. */
static void put_pid(char *p, size_t room, pid_t v)
{
	char digits[16];
	size_t n = 0;
	unsigned long u = (unsigned long)v;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u && n < sizeof(digits));
	if (n + 1 > room)
		n = 0; /* cannot happen with the caller's room; an empty value then */
	for (size_t i = 0; i < n; i++)
		p[i] = digits[n - 1 - i];
	p[n] = '\0';
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The request's prelude onto its socket, in a forked child (it may wait). */
static int write_prelude(const struct exec_spawn_req *r)
{
	struct iovec iov[2];
	int n = r->n_prelude < 2 ? r->n_prelude : 2, first = 0;
	uint64_t deadline = now_usec() + r->prelude_timeout_usec;

	memcpy(iov, r->prelude, (size_t)n * sizeof(iov[0]));
	while (first < n) {
		struct msghdr mh = {.msg_iov = iov + first, .msg_iovlen = (size_t)(n - first)};
		ssize_t sent = sendmsg(r->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		uint64_t now;

		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		for (size_t left = sent > 0 ? (size_t)sent : 0; left && first < n;) {
			size_t k = left < iov[first].iov_len ? left : iov[first].iov_len;
			iov[first].iov_base = (char *)iov[first].iov_base + k;
			iov[first].iov_len -= k;
			left -= k;
			if (iov[first].iov_len == 0)
				first++;
		}
		if (first == n)
			break;
		now = now_usec();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = r->fd, .events = POLLOUT};
		uint64_t ms = (deadline - now + 999) / 1000;
		if (poll(&pfd, 1, ms > 60000 ? 60000 : (int)ms) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * The child's own descriptor table, holding those below LOW only (the program's are
 * below it; the kernel copies whole words of 64, see KEEP_FD_MIN). The child starts on
 * the caller's table (CLONE_FILES): copying all of it, a socket and a stderr pipe per
 * running program under fork, and then closing the copies at execve, costs per
 * descriptor on every spawn. Never touches the shared table: -1 when the own one
 * cannot be made.
 */
static int own_fd_table(unsigned low)
{
	if (close_range(low, ~0U, CLOSE_RANGE_UNSHARE) == 0)
		return 0;
	return unshare(CLONE_FILES); /* a kernel before 5.9: a copy of the whole table */
}

/* The clone'd child: on the caller's memory until execve, so it only makes system
 * calls. */
static int spawn_child(void *arg)
{
	struct spawn_ctx *c = arg;
	const struct exec_spawn_req *r = c->req;
	int high = r->fd > r->errfd ? r->fd : r->errfd;
	sigset_t none;

	if (own_fd_table((unsigned)high + 1) < 0)
		goto fail;
	/*
	 * A session of its own, as under xinetd or systemd's Accept=yes: with
	 * kernel.sched_autogroup_enabled (the usual default) the scheduler shares the CPU
	 * between sessions first, so in the caller's session all of a service's programs
	 * would share one share. Leaving the caller's process group, the program would
	 * escape the kill that ends a service after shutdown_timeout; it goes with its
	 * starter instead.
	 */
	if (setsid() < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != c->parent) /* it died before the line above */
		_exit(127);
	/* A client that does not read its banner leaves without the program. */
	if (r->n_prelude > 0 && write_prelude(r) < 0)
		_exit(0);
	if (dup2(r->fd, STDIN_FILENO) < 0 || dup2(r->fd, STDOUT_FILENO) < 0 ||
	    dup2(r->errfd, STDERR_FILENO) < 0)
		goto fail;
	if (r->fd3_too) {
		/* dup2 onto itself would leave close-on-exec set. */
		if (r->fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(r->fd, 3) < 0)
			goto fail;
	}
	if (r->listen_pid) {
		size_t off = sizeof("LISTEN_PID=") - 1;
		put_pid(r->listen_pid + off, r->listen_pid_size - off, getpid());
	}
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		goto fail;
	execve(r->path, r->argv, r->envp);
fail:
	c->err = errno;
	_exit(127);
}

/*
 * The child shares the caller's memory (CLONE_VM) and, until it has its own,
 * descriptor table (CLONE_FILES, see own_fd_table); the caller resumes once it has
 * exec'd (CLONE_VFORK); with a banner to write first, a forked child on a copy of
 * both. Every signal stays blocked meanwhile, so no handler can run in the child on the
 * caller's memory; the callers have none of their own (they read signals from a
 * signalfd), so none is left to reset in the child either.
 */
int exec_spawn(const struct exec_spawn_req *req, pid_t *pid_r)
{
	struct spawn_ctx c = {.req = req, .parent = getpid()};
	sigset_t all, old;
	pid_t pid;
	int err;

	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) < 0)
		return -errno;
	/* A banner to write first may wait for the client: then the child must not hold
	 * the caller's memory, and a plain fork it is. */
	if (req->n_prelude > 0) {
		pid = fork();
		if (pid == 0)
			spawn_child(&c);
	} else {
		pid = clone(spawn_child, spawn_stack + sizeof(spawn_stack),
		            CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &c);
	}
	err = pid < 0 ? errno : c.err;
	if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
		log_warning(NULL, "sigprocmask: %s", strerror(errno));
	if (err)
		return -err;
	*pid_r = pid;
	return 0;
}

int exec_spawn_keep(int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, KEEP_FD_MIN);

	if (high < 0) /* RLIMIT_NOFILE at or below 64, say: it only costs more where it is */
		return fd;
	close(fd);
	return high;
}

void exec_errbuf_init(struct exec_errbuf *b, pid_t pid, const struct sockaddr *peer,
                      socklen_t peer_len)
{
	char host[48];
	unsigned port;

	b->pid = pid;
	b->len = 0;
	b->remote[0] = '\0';
	if (peer && peer->sa_family != AF_UNIX &&
	    addr_host_port(peer, peer_len, host, sizeof(host), &port) == 0)
		snprintf(b->remote, sizeof(b->remote), "REMOTE_ADDR=%s", host);
}

static void relay_lines(struct exec_errbuf *b, const char *service, bool all)
{
	char pidfield[48];
	const char *fields[] = {pidfield, b->remote[0] ? b->remote : NULL, NULL};
	size_t start = 0;

	snprintf(pidfield, sizeof(pidfield), "PROGRAM_PID=%d", (int)b->pid);
	for (size_t i = 0; i < b->len; i++) {
		if (b->buf[i] != '\n')
			continue;
		log_fields(LOG_NOTICE, service, fields, "[%d] %.*s", (int)b->pid, (int)(i - start),
		           b->buf + start);
		start = i + 1;
	}
	/* A line longer than the buffer is logged in pieces rather than dropped. */
	if ((all || b->len == sizeof(b->buf)) && start < b->len) {
		log_fields(LOG_NOTICE, service, fields, "[%d] %.*s", (int)b->pid,
		           (int)(b->len - start), b->buf + start);
		start = b->len;
	}
	memmove(b->buf, b->buf + start, b->len - start);
	b->len -= start;
}

void exec_errbuf_flush(struct exec_errbuf *b, const char *service)
{
	relay_lines(b, service, true);
}

int exec_errbuf_read(struct exec_errbuf *b, int fd, const char *service)
{
	for (;;) {
		ssize_t n = read(fd, b->buf + b->len, sizeof(b->buf) - b->len);
		if (n > 0) {
			b->len += (size_t)n;
			relay_lines(b, service, false);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		relay_lines(b, service, true); /* EOF or error */
		return 0;
	}
}
