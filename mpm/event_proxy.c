/*
 * The event model's PROXY listeners: a connection state before the handler starts.
 * The record (ec->proxy set) sits in the epoll set with EPOLLIN; each readiness
 * advances the non-blocking reader, and the listener's deadline list (period: its
 * proxy_timeout) refuses it when the header is late. Once the header is complete the
 * client it names goes through admission and the connection begins as any other:
 * counted, timed, the handler's open called. Then its socket is read at once, since
 * the client's first bytes may have come with the header and, were the loop
 * edge-triggered, no new event would announce them.
 *
 * Records are buried, not freed (event_pool.c), so an event later in the same batch
 * for a refused one finds it no longer in use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mpm/event_loop.h"
#include "superserverd/log.h"

/* Leaves the header stage: the reader's state is freed, the header's deadline gone. */
static void event_proxy_finish(struct event_loop *l, struct event_conn *ec)
{
	event_link_remove(&ec->header);
	free(ec->proxy);
	ec->proxy = NULL;
	l->headers--;
}

/* After its connection was refused: the socket was ours alone, so closing it also took
 * it out of the epoll set. */
static void event_proxy_forget(struct event_loop *l, struct event_conn *ec)
{
	event_proxy_finish(l, ec);
	event_pool_bury(l, ec);
}

static void event_proxy_refuse(struct event_loop *l, struct event_conn *ec, const char *why)
{
	proxy_accept_refuse(ec->proxy, &l->admit, &l->connlog, why);
	event_proxy_forget(l, ec);
}

/* The header is complete: admission for the client it named, then the handler starts.
 * EC is the record when the socket waited in the epoll set (its header stage over), or
 * NULL when the header came with the connection. */
static void event_proxy_admit(struct event_loop *l, struct event_listener *lst,
                              struct event_conn *ec, struct proxy_accept *pa)
{
	const struct sockaddr *peer = (struct sockaddr *)&pa->peer;
	const struct sockaddr *local = (struct sockaddr *)&pa->local;
	if (!admit_gate(&l->admit, &l->connlog, pa->lc, pa->fd, peer, pa->peer_len, &pa->ticket)) {
		if (ec)
			event_pool_bury(l, ec);
		return;
	}
	if (ec) {
		ec->ticket = pa->ticket;
		event_conn_begin(l, ec, lst, peer, pa->peer_len, local, pa->local_len);
	} else {
		ec = event_conn_start(l, lst, pa->fd, &pa->ticket, peer, pa->peer_len, local,
		                      pa->local_len);
	}
	if (ec && ec->in_use && (ec->events & EPOLLIN))
		event_conn_event(l, ec, EPOLLIN);
}

void event_proxy_accepted(struct event_loop *l, struct event_listener *lst, int fd,
                          const struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                          socklen_t peer_len)
{
	struct proxy_accept pa;
	struct event_conn *ec;
	int r = proxy_accept_open(&pa, lst->lc, fd, (const struct sockaddr *)peer, peer_len, ticket,
	                          conn_now_usec(), &l->admit, &l->connlog);

	if (r == PROXY_DONE)
		event_proxy_admit(l, lst, NULL, &pa);
	if (r != PROXY_NEED_MORE)
		return;
	ec = event_pool_get(l);
	if (!ec) {
		proxy_accept_refuse(&pa, &l->admit, &l->connlog, "out of memory");
		return;
	}
	ec->proxy = malloc(sizeof(*ec->proxy));
	if (!ec->proxy) {
		proxy_accept_refuse(&pa, &l->admit, &l->connlog, "out of memory");
		event_pool_bury(l, ec);
		return;
	}
	*ec->proxy = pa;
	ec->tag.fd = fd;
	ec->lst = lst;
	l->headers++;
	/* Level-triggered like every connection of the loop; event_conn_watch adjusts the
	 * mask once the handler runs. */
	if (proxy_accept_watch(ec->proxy, l->epfd, &ec->tag, &l->admit, &l->connlog) < 0) {
		event_proxy_forget(l, ec);
		return;
	}
	ec->in_epoll = true;
	ec->events = EPOLLIN;
	event_fifo_touch(&lst->headers, &ec->header, conn_now_usec());
}

void event_proxy_event(struct event_loop *l, struct event_conn *ec)
{
	int r = proxy_accept_advance(ec->proxy, &l->admit, &l->connlog);

	if (r == PROXY_NEED_MORE)
		return;
	if (r == PROXY_DONE) {
		struct proxy_accept pa = *ec->proxy;
		event_proxy_finish(l, ec);
		event_proxy_admit(l, ec->lst, ec, &pa);
	} else {
		event_proxy_forget(l, ec);
	}
	event_listen_update(l);
}

void event_proxy_expire(struct event_loop *l, uint64_t now)
{
	bool any = false;

	for (size_t i = 0; i < l->n_listen; i++) {
		struct event_link *k;

		while ((k = event_fifo_expired(&l->listeners[i].headers, now))) {
			struct event_conn *ec = event_container_of(k, struct event_conn, header);

			proxy_accept_expire(ec->proxy, &l->admit, &l->connlog);
			event_proxy_forget(l, ec);
			any = true;
		}
	}
	if (any)
		event_listen_update(l);
}

uint64_t event_proxy_next_deadline(const struct event_loop *l)
{
	uint64_t at = EVENT_NO_DEADLINE;

	for (size_t i = 0; l->headers && i < l->n_listen; i++) {
		uint64_t next = event_fifo_next(&l->listeners[i].headers);
		if (next < at)
			at = next;
	}
	return at;
}

void event_proxy_drop(struct event_loop *l, struct event_conn *ec)
{
	event_proxy_refuse(l, ec, "the service is stopping");
}
