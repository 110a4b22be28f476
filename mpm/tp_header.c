/*
 * The threadpool poller's PROXY listeners. A thread may block in a handler, but the
 * poller never blocks: a connection whose header is not all there yet is kept in the
 * epoll set as a struct tp_header, advanced on readability by the non-blocking
 * reader, and refused at its deadline (the headers FIFO, keyed by deadline, checked
 * with the other timers). Once the header is complete the client it names is admitted
 * and the connection becomes an ordinary tp_conn: no thread is taken by a slow proxy,
 * and no handler ever sees the header.
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

#include "mpm/tp_pool.h"
#include "superserverd/log.h"

#define tp_header_of(n) ((struct tp_header *)(void *)((char *)(n)-offsetof(struct tp_header, node)))

/* The header is complete: the client it names is admitted, and the pool takes over. */
static void tp_header_done(struct tp_pool *p, struct proxy_accept *pa)
{
	int r = tp_poller_admit(p, pa->lc, pa->fd, &pa->ticket, (struct sockaddr *)&pa->peer,
	                        pa->peer_len, (struct sockaddr *)&pa->local, pa->local_len);

	if (r < 0)
		log_warning(p->name, "cannot take a connection: %s", strerror(-r));
}

/* Out of the deadline list, and out of the epoll set if the socket is still open (a
 * tp_conn registers it anew); a refused one left it when it was closed. */
static void tp_header_release(struct tp_pool *p, struct tp_header *h)
{
	if (h->pa.fd >= 0 && epoll_ctl(p->epfd, EPOLL_CTL_DEL, h->pa.fd, NULL) < 0 &&
	    errno != ENOENT)
		log_warning(p->name, "epoll_ctl(DEL): %s", strerror(errno));
	tp_fifo_remove(&p->headers, &h->node);
}

void tp_header_accepted(struct tp_pool *p, const struct listen_conf *lc, int fd,
                        const struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                        socklen_t peer_len)
{
	struct proxy_accept pa;
	struct tp_header *h;
	int r = proxy_accept_open(&pa, lc, fd, (const struct sockaddr *)peer, peer_len, ticket,
	                          conn_now_usec(), &p->admit, &p->connlog);

	if (r == PROXY_DONE)
		tp_header_done(p, &pa);
	if (r != PROXY_NEED_MORE)
		return;
	h = calloc(1, sizeof(*h));
	if (!h) {
		proxy_accept_refuse(&pa, &p->admit, &p->connlog, "out of memory");
		return;
	}
	h->tag = (struct tp_tag){.kind = TP_TAG_HEADER, .fd = fd};
	h->pa = pa;
	if (proxy_accept_watch(&h->pa, p->epfd, &h->tag, &p->admit, &p->connlog) < 0) {
		free(h);
		return;
	}
	tp_fifo_insert(&p->headers, &h->node, h->pa.deadline_usec);
}

void tp_header_event(struct tp_pool *p, struct tp_header *h)
{
	int r = proxy_accept_advance(&h->pa, &p->admit, &p->connlog);

	if (r == PROXY_NEED_MORE)
		return;
	tp_header_release(p, h);
	if (r == PROXY_DONE)
		tp_header_done(p, &h->pa);
	free(h);
}

void tp_header_expire(struct tp_pool *p, uint64_t now)
{
	struct tp_fifo_node *n;

	while ((n = tp_fifo_first(&p->headers)) && n->key <= now) {
		struct tp_header *h = tp_header_of(n);

		proxy_accept_expire(&h->pa, &p->admit, &p->connlog);
		tp_header_release(p, h);
		free(h);
	}
}

uint64_t tp_header_next_deadline(const struct tp_pool *p)
{
	struct tp_fifo_node *n = tp_fifo_first(&p->headers);

	return n ? n->key : 0;
}

void tp_header_drop_all(struct tp_pool *p)
{
	struct tp_fifo_node *n;

	while ((n = tp_fifo_first(&p->headers))) {
		struct tp_header *h = tp_header_of(n);

		proxy_accept_refuse(&h->pa, &p->admit, &p->connlog, "the service is stopping");
		tp_header_release(p, h);
		free(h);
	}
}
