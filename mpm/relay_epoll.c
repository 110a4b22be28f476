/* A relayed connection's sockets in an epoll set (see relay_epoll.h). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "mpm/relay_epoll.h"
#include "superserverd/log.h"

static int relay_epoll_watch(int epfd, const struct relay_epoll_sock *s, uint32_t want)
{
	struct epoll_event ev = {.events = want, .data.ptr = s->ptr};

	if (s->fd < 0 || (*s->in_epoll && want == *s->events) || (!*s->in_epoll && !want))
		return 0;
	if (!want) {
		/* Out of the set: epoll reports a hangup even for an empty mask. */
		if (epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL) < 0)
			return -errno;
		*s->in_epoll = false;
		return 0;
	}
	if (epoll_ctl(epfd, *s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) < 0)
		return -errno;
	*s->in_epoll = true;
	*s->events = want;
	return 0;
}

bool relay_epoll_step(const char *name, int epfd, struct relay *r,
                      const struct relay_epoll_sock *client, const struct relay_epoll_sock *up,
                      uint32_t ready, uint32_t up_ready, uint64_t now, enum driver_outcome *outcome)
{
	int e;

	if (relay_step(r, ready, up_ready, now) == RELAY_DONE) {
		*outcome = relay_outcome(r);
		return true;
	}
	e = relay_epoll_watch(epfd, client, relay_want(r));
	if (e == 0)
		e = relay_epoll_watch(epfd, up, relay_up_want(r));
	if (e < 0) {
		log_warning(name, "epoll_ctl: %s: closing a relayed connection", strerror(-e));
		*outcome = DRIVER_PEER_GONE;
		return true;
	}
	return false;
}
