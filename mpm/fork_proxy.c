/*
 * The fork acceptor's PROXY listeners. The acceptor serves every client of the service
 * from one loop, so it must never wait for one: a connection whose header is not all
 * there yet stays in the epoll set as a struct fork_header, advanced on readability by
 * the non-blocking reader, and refused at its deadline. Only a complete header leads
 * to admission (with the client it names) and then to a process, so access lists still
 * turn clients away before anything is forked, and an exec'd program is spawned as
 * usual with the real addresses in its environment.
 *
 * Headers count towards max_children (each becomes a process) and at most
 * PROXY_ACCEPT_MAX_WAITING are read at once; past either, the listeners leave the epoll
 * set (fork_listen_update) and clients wait in the backlog.
 *
 * A record is freed only from its own event or from the timers after the batch, and
 * epoll reports a descriptor at most once per batch, so no event of the current batch
 * can still point to a freed record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mpm/fork_acceptor.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

/* Deadlines of one listener arrive in order, so searching from the tail is short. */
static void fork_header_link(struct acceptor *a, struct fork_header *h)
{
	struct fork_header *after = a->headers_tail;

	while (after && after->pa.deadline_usec > h->pa.deadline_usec)
		after = after->prev;
	h->prev = after;
	h->next = after ? after->next : a->headers;
	if (h->next)
		h->next->prev = h;
	else
		a->headers_tail = h;
	if (after)
		after->next = h;
	else
		a->headers = h;
	a->n_headers++;
}

static void fork_header_unlink(struct acceptor *a, struct fork_header *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		a->headers = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		a->headers_tail = h->prev;
	h->prev = h->next = NULL;
	a->n_headers--;
}

/* Out of the loop's hands. A socket still open leaves the epoll set (a program keeps a
 * copy of it, which would otherwise stay registered and readable); a refused one left
 * it when it was closed. */
static void fork_header_release(struct acceptor *a, struct fork_header *h)
{
	if (h->pa.fd >= 0 && epoll_ctl(a->epfd, EPOLL_CTL_DEL, h->pa.fd, NULL) < 0 &&
	    errno != ENOENT)
		log_warning(a->name, "epoll_ctl: %s", strerror(errno));
	fork_header_unlink(a, h);
}

/* The header is complete: the client it names is admitted and served. */
static void fork_header_done(struct acceptor *a, struct proxy_accept *pa)
{
	fork_serve(a, pa->lc, pa->fd, &pa->ticket, &pa->peer, pa->peer_len, &pa->local,
	           pa->local_len);
}

void fork_proxy_accepted(struct acceptor *a, const struct listen_conf *lc, int fd,
                         const struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                         socklen_t peer_len)
{
	struct proxy_accept pa;
	struct fork_header *h;
	int r = proxy_accept_open(&pa, lc, fd, (const struct sockaddr *)peer, peer_len, ticket,
	                          scoreboard_now_usec(), &a->admit, &a->connlog);

	if (r == PROXY_DONE)
		fork_header_done(a, &pa);
	if (r != PROXY_NEED_MORE)
		return;
	h = malloc(sizeof(*h));
	if (!h) {
		proxy_accept_refuse(&pa, &a->admit, &a->connlog, "out of memory");
		return;
	}
	h->tag = (struct tag){.kind = TAG_HEADER, .fd = fd};
	h->pa = pa;
	if (proxy_accept_watch(&h->pa, a->epfd, &h->tag, &a->admit, &a->connlog) < 0) {
		free(h);
		return;
	}
	fork_header_link(a, h);
}

void fork_proxy_event(struct acceptor *a, struct fork_header *h)
{
	int r = proxy_accept_advance(&h->pa, &a->admit, &a->connlog);

	if (r == PROXY_NEED_MORE)
		return;
	fork_header_release(a, h);
	if (r == PROXY_DONE)
		fork_header_done(a, &h->pa);
	free(h);
	fork_listen_update(a);
}

void fork_proxy_expire(struct acceptor *a, uint64_t now)
{
	bool any = false;

	while (a->headers && a->headers->pa.deadline_usec <= now) {
		struct fork_header *h = a->headers;

		proxy_accept_expire(&h->pa, &a->admit, &a->connlog);
		fork_header_release(a, h);
		free(h);
		any = true;
	}
	if (any)
		fork_listen_update(a);
}

uint64_t fork_proxy_next_deadline(const struct acceptor *a)
{
	return a->headers ? a->headers->pa.deadline_usec : 0;
}

void fork_proxy_drop_all(struct acceptor *a)
{
	while (a->headers) {
		struct fork_header *h = a->headers;

		proxy_accept_refuse(&h->pa, &a->admit, &a->connlog, "the service is stopping");
		fork_header_release(a, h);
		free(h);
	}
}
