/* Starting a program on a socket and relaying its stderr (see exec_spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mpm/exec_spawn.h"
#include "superserverd/addr.h"
#include "superserverd/log.h"

/* What the child needs, in memory it shares with the caller until execve. */
struct spawn_ctx {
	const struct exec_spawn_req *req;
	pid_t parent;
	volatile int err; /* set by the child when it cannot exec */
};

/* The decimal digits of V at P (room for them checked by the caller): no library
 * call in the vfork child. */
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

/* vfork's child: on the caller's memory and stack until execve, so it only makes
 * system calls. */
static __attribute__((noreturn)) void spawn_child(struct spawn_ctx *c)
{
	const struct exec_spawn_req *r = c->req;
	sigset_t none;

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
 * Every signal stays blocked while the child runs on the caller's memory, so no
 * handler can run in it; the callers have none of their own (they read signals from
 * a signalfd), so none is left to reset in the child either.
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
	pid = req->n_prelude > 0 ? fork() : vfork();
	if (pid == 0)
		spawn_child(&c);
	err = pid < 0 ? errno : c.err;
	if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
		log_warning(NULL, "sigprocmask: %s", strerror(errno));
	if (err)
		return -err;
	*pid_r = pid;
	return 0;
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
