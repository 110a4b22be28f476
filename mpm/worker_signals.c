/* A service process's signals read from its epoll set (see worker_signals.h). */
#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "mpm/worker_signals.h"

int worker_signals_open(bool children, void *tag, int *sigfd_r, int *epfd_r)
{
	sigset_t mask;

	sigemptyset(&mask);
	if (children)
		sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sigdelset(&mask, SIGHUP); /* blocked and ignored */
	*sigfd_r = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*sigfd_r < 0)
		return -errno;
	*epfd_r = epoll_create1(EPOLL_CLOEXEC);
	if (*epfd_r < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
	if (epoll_ctl(*epfd_r, EPOLL_CTL_ADD, *sigfd_r, &ev) < 0)
		return -errno;
	return 0;
}
