/*
 * The event model's listeners. Every worker of a service polls the same listening
 * sockets with EPOLLEXCLUSIVE, so a new connection wakes one worker rather than all.
 * A worker at max_connections (or out of descriptors) takes its listeners out of its
 * epoll set: clients wait in the kernel backlog, or go to a worker with room.
 * EPOLLEXCLUSIVE forbids EPOLL_CTL_MOD, hence DEL and ADD. A PROXY listener also
 * leaves while PROXY_ACCEPT_MAX_WAITING headers are being read; the others go on.
 * Datagram listeners are set up here too, but read by event_dgram.c and never taken
 * out for a connection limit.
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
#include "superserverd/listenfds.h"
#include "superserverd/tls.h"

/* accept4 calls per listener event: enough to empty a burst, bounded so a flood on one
 * listener cannot starve the connections already open. */
#define EVENT_ACCEPT_BURST 64

void event_listen_enable(struct event_loop *l, bool on)
{
	for (size_t i = 0; i < l->n_listen; i++) {
		struct event_listener *lst = &l->listeners[i];
		bool want = on && proxy_accept_room(lst->lc, l->headers);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &lst->tag};

		/* Datagrams hold no connection: no connection limit stops them. */
		if (lst->tag.fd < 0 || want == lst->armed || lst->tag.kind == EVENT_TAG_DGRAM)
			continue;
		if (epoll_ctl(l->epfd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, lst->tag.fd, &ev) <
		    0) {
			log_error(l->name, "epoll_ctl(%s listener): %s", want ? "add" : "remove",
			          strerror(errno));
			continue;
		}
		lst->armed = want;
	}
	l->listening = on;
}

int event_listen_setup(struct event_loop *l)
{
	const struct worker_ctx *ctx = l->ctx;
	int r = listenfds_nonblocking(ctx->listen_fds, ctx->n_listen);

	/* A program they were handed to before may have left them blocking. */
	if (r < 0)
		return r;
	l->n_listen = ctx->n_listen;
	l->listeners = calloc(ctx->n_listen ? ctx->n_listen : 1, sizeof(*l->listeners));
	if (!l->listeners)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->n_listen; i++) {
		struct event_listener *lst = &l->listeners[i];
		struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &lst->tag};

		lst->tag = (struct event_tag){.kind = ctx->listen_types && ctx->listen_types[i] ==
		                                                                   SOCK_DGRAM
		                                              ? EVENT_TAG_DGRAM
		                                              : EVENT_TAG_LISTENER,
		                              .fd = ctx->listen_fds[i]};
		lst->lc = i < ctx->conf->n_listen ? &ctx->conf->listen[i] : NULL;
		event_fifo_init(&lst->headers, lst->lc ? lst->lc->proxy_timeout_usec : 0);
		event_fifo_init(&lst->handshakes,
		                lst->lc && lst->lc->tls
		                        ? tls_server_handshake_timeout_usec(lst->lc->tls)
		                        : 0);
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, lst->tag.fd, &ev) < 0)
			return -errno;
		lst->armed = true;
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
	accept_shortage_begin(&l->shortage, l->name, err);
	l->accept_retry_at = conn_now_usec() + ACCEPT_RETRY_USEC;
	event_listen_enable(l, false);
}

void event_listen_accept(struct event_loop *l, struct event_tag *t)
{
	struct event_listener *lst = event_container_of(t, struct event_listener, tag);
	bool proxy = lst->lc && lst->lc->proxy_protocol;

	for (int burst = 0; burst < EVENT_ACCEPT_BURST; burst++) {
		int fd;

		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct admit_ticket tk;
		uint64_t wait;

		if (!l->listening || t->fd < 0 || l->live + l->headers >= l->max_conns ||
		    !proxy_accept_room(lst->lc, l->headers))
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
			if (accept_error_passing(errno))
				continue;
			if (errno != EAGAIN &&
			    errno != EWOULDBLOCK) /* else another worker was faster */
				event_listen_pause(l, errno);
			return;
		}
		accept_shortage_end(&l->shortage, l->name);
		if (proxy) {
			event_proxy_accepted(l, lst, fd, &tk, &peer, plen);
			continue;
		}
		if (!admit_gate(&l->admit, &l->connlog, lst->lc, fd, (struct sockaddr *)&peer, plen,
		                &tk))
			continue;
		event_conn_start(l, lst, fd, &tk, (struct sockaddr *)&peer, plen, NULL, 0);
	}
	if (l->listening && l->live + l->headers >= l->max_conns)
		event_listen_full(l);
	else if (proxy && l->listening)
		event_listen_enable(l, true); /* at PROXY_ACCEPT_MAX_WAITING: this one leaves */
}

void event_listen_update(struct event_loop *l)
{
	if (l->stopping)
		return;
	if (l->listening) {
		/* A PROXY listener left at PROXY_ACCEPT_MAX_WAITING may come back. */
		event_listen_enable(l, true);
		return;
	}
	if (l->accept_retry_at || l->live + l->headers >= l->max_conns)
		return;
	event_listen_enable(l, true);
	scoreboard_set_state(l->ctx->slot, WORKER_IDLE);
}

void event_listen_close(struct event_loop *l)
{
	event_listen_enable(l, false);
	for (size_t i = 0; i < l->n_listen; i++) {
		struct event_listener *lst = &l->listeners[i];

		if (lst->tag.fd < 0)
			continue;
		/* Closing would not take it out of the epoll set: the master holds the same
		 * socket, and a readable one would wake a draining worker for ever. */
		if (lst->armed && epoll_ctl(l->epfd, EPOLL_CTL_DEL, lst->tag.fd, NULL) == 0)
			lst->armed = false;
		close(lst->tag.fd);
		lst->tag.fd = -1;
	}
}
