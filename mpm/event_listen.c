/*
 * The event model's listeners. Every worker of a service polls the same listening
 * sockets with EPOLLEXCLUSIVE, so a new connection wakes one worker rather than all.
 * A worker at max_connections (or out of descriptors) takes its listeners out of its
 * epoll set: clients wait in the kernel backlog, or go to a worker with room.
 * EPOLLEXCLUSIVE forbids EPOLL_CTL_MOD, hence DEL and ADD.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/event_loop.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

/* accept4 calls per listener event: enough to empty a burst, bounded so a flood on one
 * listener cannot starve the connections already open. */
#define EVENT_ACCEPT_BURST 64
/* After EMFILE, ENFILE or ENOMEM the listener stays readable: pause instead of spinning
 * on a failing accept, and try again after this long. */
#define EVENT_ACCEPT_RETRY_USEC (100 * 1000)

void event_listen_enable(struct event_loop *l, bool on)
{
	if (on == l->listening)
		return;
	for (size_t i = 0; i < l->n_listen; i++) {
		struct event_tag *t = &l->listeners[i];
		struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = t};

		if (t->fd < 0)
			continue;
		if (epoll_ctl(l->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, t->fd, &ev) < 0)
			log_error(l->name, "epoll_ctl(%s listener): %s", on ? "add" : "remove",
			          strerror(errno));
	}
	l->listening = on;
}

int event_listen_setup(struct event_loop *l)
{
	const struct worker_ctx *ctx = l->ctx;

	l->n_listen = ctx->n_listen;
	l->listeners = calloc(ctx->n_listen ? ctx->n_listen : 1, sizeof(*l->listeners));
	if (!l->listeners)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->n_listen; i++) {
		struct event_tag *t = &l->listeners[i];
		struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = t};

		*t = (struct event_tag){.kind = EVENT_TAG_LISTENER, .fd = ctx->listen_fds[i]};
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, t->fd, &ev) < 0)
			return -errno;
	}
	l->listening = true;
	return 0;
}

static void event_listen_full(struct event_loop *l)
{
	if (!l->said_full)
		log_info(l->name,
		         "max_connections (%u) reached: new connections wait in the backlog",
		         l->max_conns);
	else
		log_debug(l->name, "max_connections (%u) reached", l->max_conns);
	l->said_full = true;
	event_listen_enable(l, false);
	scoreboard_set_state(l->ctx->slot, WORKER_BUSY);
}

static void event_listen_pause(struct event_loop *l, int err)
{
	log_warning(l->name, "accept: %s: not accepting for %d ms", strerror(err),
	            EVENT_ACCEPT_RETRY_USEC / 1000);
	l->accept_retry_at = conn_now_usec() + EVENT_ACCEPT_RETRY_USEC;
	event_listen_enable(l, false);
}

void event_listen_accept(struct event_loop *l, struct event_tag *t)
{
	for (int burst = 0; burst < EVENT_ACCEPT_BURST; burst++) {
		int fd;

		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct admit_ticket tk;
		uint64_t wait;
		int reason;

		if (!l->listening || t->fd < 0 || l->live >= l->max_conns)
			break;
		/* Over the service's rate or connection limit: clients wait in the backlog. */
		wait = admit_reserve(&l->admit, &tk);
		if (wait) {
			l->accept_retry_at = conn_now_usec() + wait;
			event_listen_enable(l, false);
			return;
		}
		fd = accept4(t->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			admit_unreserve(&l->admit, &tk);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* another worker was faster */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				event_listen_pause(l, errno);
				return;
			}
			log_warning(l->name, "accept: %s", strerror(errno));
			return;
		}
		reason = admit_check(&l->admit, fd, (struct sockaddr *)&peer, plen, &tk);
		if (reason >= 0) {
			connlog_rejected(&l->connlog, (struct sockaddr *)&peer, plen, fd, reason);
			admit_refuse(&l->admit, fd, reason);
			continue;
		}
		event_conn_start(l, fd, &tk, (struct sockaddr *)&peer, plen);
	}
	if (l->listening && l->live >= l->max_conns)
		event_listen_full(l);
}

void event_listen_update(struct event_loop *l)
{
	if (l->listening || l->stopping || l->accept_retry_at || l->live >= l->max_conns)
		return;
	event_listen_enable(l, true);
	scoreboard_set_state(l->ctx->slot, WORKER_IDLE);
}

void event_listen_close(struct event_loop *l)
{
	event_listen_enable(l, false);
	for (size_t i = 0; i < l->n_listen; i++) {
		if (l->listeners[i].fd < 0)
			continue;
		close(l->listeners[i].fd);
		l->listeners[i].fd = -1;
	}
}
