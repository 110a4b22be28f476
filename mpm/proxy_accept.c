/* The PROXY protocol step of accept (see proxy_accept.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mpm/proxy_accept.h"
#include "superserverd/addr.h"
#include "superserverd/cidr.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

bool proxy_accept_trusted(const struct listen_conf *lc, const struct sockaddr *peer,
                          socklen_t peer_len)
{
	uint8_t addr[16];
	int family;

	/* Anyone who can send the header can claim any address: only from a proxy we name. */
	return cidr_from_sockaddr(peer, peer_len, &family, addr) == 0 &&
	       cidr_longest_match(lc->trusted_proxies, lc->n_trusted_proxies, family, addr) >= 0;
}

static void proxy_accept_untrusted(char *err, size_t errlen)
{
	snprintf(err, errlen, "PROXY header from a peer not in trusted_proxies");
}

int proxy_accept_blocking(const struct listen_conf *lc, int fd, struct sockaddr_storage *peer,
                          socklen_t *peer_len, struct sockaddr_storage *local, socklen_t *local_len,
                          char *err, size_t errlen)
{
	struct proxy_header h;

	*local_len = 0;
	if (!proxy_accept_trusted(lc, (struct sockaddr *)peer, *peer_len)) {
		proxy_accept_untrusted(err, errlen);
		return -1;
	}
	if (proxy_read_blocking(fd, lc->proxy_timeout_usec, &h, err, errlen) != PROXY_DONE)
		return -1;
	if (h.local)
		return 0;
	*peer = h.src;
	*peer_len = h.src_len;
	*local = h.dst;
	*local_len = h.dst_len;
	return 0;
}

int proxy_accept_begin(struct proxy_accept *pa, const struct listen_conf *lc, int fd,
                       const struct sockaddr *peer, socklen_t peer_len,
                       const struct admit_ticket *ticket, uint64_t now, char *err, size_t errlen)
{
	pa->lc = lc;
	pa->fd = fd;
	pa->ticket = *ticket;
	if (peer_len > sizeof(pa->peer))
		peer_len = sizeof(pa->peer);
	memcpy(&pa->peer, peer, peer_len);
	pa->peer_len = peer_len;
	pa->local_len = 0;
	pa->deadline_usec = now + lc->proxy_timeout_usec;
	proxy_reader_init(&pa->reader);
	if (!proxy_accept_trusted(lc, peer, peer_len)) {
		proxy_accept_untrusted(err, errlen);
		return -1;
	}
	return 0;
}

int proxy_accept_step(struct proxy_accept *pa, char *err, size_t errlen)
{
	struct proxy_header h;
	int r = proxy_read_step(pa->fd, &pa->reader, &h, err, errlen);

	if (r != PROXY_DONE || h.local)
		return r;
	pa->peer = h.src;
	pa->peer_len = h.src_len;
	pa->local = h.dst;
	pa->local_len = h.dst_len;
	return PROXY_DONE;
}

void proxy_accept_timeout_reason(const struct proxy_accept *pa, char *err, size_t errlen)
{
	snprintf(err, errlen, "no PROXY header within %llu ms (%zu bytes of it came)",
	         (unsigned long long)(pa->lc->proxy_timeout_usec / 1000), pa->reader.len);
}

void proxy_accept_refuse(struct proxy_accept *pa, struct admit *a, struct connlog *cl,
                         const char *why)
{
	if (log_get_level() >= LOG_DEBUG) {
		char addr[128];
		addr_format((struct sockaddr *)&pa->peer, pa->peer_len, addr, sizeof(addr));
		log_debug(a->conf->name, "PROXY: %s: %s", addr, why);
	}
	atomic_fetch_add(&a->sb->counters.rejected[REJECT_PROXY], 1);
	connlog_rejected(cl, (struct sockaddr *)&pa->peer, pa->peer_len, pa->fd, REJECT_PROXY);
	admit_unreserve(a, &pa->ticket);
	close(pa->fd);
	pa->fd = -1;
}

int proxy_accept_open(struct proxy_accept *pa, const struct listen_conf *lc, int fd,
                      const struct sockaddr *peer, socklen_t peer_len,
                      const struct admit_ticket *ticket, uint64_t now, struct admit *a,
                      struct connlog *cl)
{
	char err[256];
	int r = PROXY_ERROR;

	if (proxy_accept_begin(pa, lc, fd, peer, peer_len, ticket, now, err, sizeof(err)) == 0)
		r = proxy_accept_step(pa, err, sizeof(err));
	if (r == PROXY_ERROR)
		proxy_accept_refuse(pa, a, cl, err);
	return r;
}

int proxy_accept_advance(struct proxy_accept *pa, struct admit *a, struct connlog *cl)
{
	char err[256];
	int r = proxy_accept_step(pa, err, sizeof(err));

	if (r == PROXY_ERROR)
		proxy_accept_refuse(pa, a, cl, err);
	return r;
}

int proxy_accept_watch(struct proxy_accept *pa, int epfd, void *ptr, struct admit *a,
                       struct connlog *cl)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
	char err[128];

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, pa->fd, &ev) == 0)
		return 0;
	snprintf(err, sizeof(err), "epoll_ctl: %s", strerror(errno));
	log_warning(a->conf->name, "cannot wait for a PROXY header: %s", err);
	proxy_accept_refuse(pa, a, cl, err);
	return -1;
}

void proxy_accept_expire(struct proxy_accept *pa, struct admit *a, struct connlog *cl)
{
	char err[128];

	proxy_accept_timeout_reason(pa, err, sizeof(err));
	proxy_accept_refuse(pa, a, cl, err);
}
