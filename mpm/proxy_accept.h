/*
 * The PROXY protocol step of accepting a connection on a listener that expects it:
 * the TCP peer must be a trusted proxy, and the header (read with a deadline, nothing
 * after it consumed) then names the real client and the address it connected to.
 *
 * Two forms. proxy_accept_blocking() waits for the header in place: for a process that
 * serves one connection at a time (prefork). struct proxy_accept is the same step cut
 * for an event loop (fork's acceptor, threadpool's poller, event workers): the loop
 * keeps the socket in its epoll set, calls proxy_accept_advance() on readability and
 * enforces deadline_usec itself, so one slow proxy never holds up other clients. The
 * admission ticket reserved before accept travels with it; the real client is admitted
 * (admit_check) only once the header is complete.
 */
#ifndef SUPERSERVERD_PROXY_ACCEPT_H
#define SUPERSERVERD_PROXY_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mpm/admit.h"
#include "mpm/connlog.h"
#include "superserverd/config.h"
#include "superserverd/proxy.h"

/*
 * Headers being read at once by one acceptor, poller or event worker. Over it the
 * PROXY listeners leave the epoll set, so further clients wait in the kernel backlog
 * instead of each holding a descriptor and a buffer here; other listeners go on.
 */
#define PROXY_ACCEPT_MAX_WAITING 128

/* True if the TCP peer may send a header: its address is in lc->trusted_proxies. */
bool proxy_accept_trusted(const struct listen_conf *lc, const struct sockaddr *peer,
                          socklen_t peer_len);

/*
 * Blocking (waits up to lc->proxy_timeout). On success returns 0 and replaces *peer
 * and sets *local (local_len 0 when the header names none: a LOCAL/UNKNOWN header
 * keeps the connection's own addresses). On failure returns -1 with a reason in err.
 */
int proxy_accept_blocking(const struct listen_conf *lc, int fd, struct sockaddr_storage *peer,
                          socklen_t *peer_len, struct sockaddr_storage *local, socklen_t *local_len,
                          char *err, size_t errlen);

/* A connection between accept and the end of its header. */
struct proxy_accept {
	const struct listen_conf *lc;
	int fd;
	struct admit_ticket ticket; /* reserved before accept, held while the header comes */
	/* The TCP peer until the header is done, then the client it names (unchanged by a
	 * LOCAL/UNKNOWN header); local_len 0 means the socket's own address. */
	struct sockaddr_storage peer, local;
	socklen_t peer_len, local_len;
	uint64_t deadline_usec; /* CLOCK_MONOTONIC: refused if the header is not done by then */
	struct proxy_reader reader;
};

/*
 * Fills pa for a socket just accepted from lc at NOW. Returns 0, or -1 with a reason
 * in err when the peer is not a trusted proxy (pa is filled all the same, for
 * proxy_accept_refuse).
 */
int proxy_accept_begin(struct proxy_accept *pa, const struct listen_conf *lc, int fd,
                       const struct sockaddr *peer, socklen_t peer_len,
                       const struct admit_ticket *ticket, uint64_t now, char *err, size_t errlen);

/*
 * Reads what the socket holds of the header, without blocking and without consuming a
 * byte past it. Returns PROXY_NEED_MORE (wait for readability), PROXY_DONE (peer and
 * local are the header's; the client's first bytes may already wait in the socket, so
 * read it at once even under edge-triggered epoll), or PROXY_ERROR with a reason in err.
 */
int proxy_accept_step(struct proxy_accept *pa, char *err, size_t errlen);

/* Formats the reason a header did not arrive by its deadline. */
void proxy_accept_timeout_reason(const struct proxy_accept *pa, char *err, size_t errlen);

/*
 * Turns pa's connection away for a PROXY reason: logged at debug with WHY, counted
 * (`proxy`), recorded with the TCP peer, the reservation returned, the socket closed
 * (a socket in an epoll set leaves it with the close, if it is our only descriptor).
 */
void proxy_accept_refuse(struct proxy_accept *pa, struct admit *a, struct connlog *cl,
                         const char *why);

/*
 * The steps every event loop takes, on top of the above; each refuses the connection
 * itself when it fails, so the caller only forgets it.
 *
 * proxy_accept_open: begin, and read what came with the connection (a proxy usually
 * sends the header at once). Returns PROXY_DONE (serve pa's client), PROXY_NEED_MORE
 * (keep pa and wait for readability) or PROXY_ERROR (refused).
 */
int proxy_accept_open(struct proxy_accept *pa, const struct listen_conf *lc, int fd,
                      const struct sockaddr *peer, socklen_t peer_len,
                      const struct admit_ticket *ticket, uint64_t now, struct admit *a,
                      struct connlog *cl);
/* On readability: the same three results as proxy_accept_open. */
int proxy_accept_advance(struct proxy_accept *pa, struct admit *a, struct connlog *cl);
/* Adds the socket to EPFD for readability with PTR as its data. Returns 0, or -1 after
 * logging and refusing. */
int proxy_accept_watch(struct proxy_accept *pa, int epfd, void *ptr, struct admit *a,
                       struct connlog *cl);
/* Refuses the connection: its deadline passed. */
void proxy_accept_expire(struct proxy_accept *pa, struct admit *a, struct connlog *cl);
/* The room for one more header being read at once (WAITING now) on listener LC. */
static inline bool proxy_accept_room(const struct listen_conf *lc, unsigned waiting)
{
	return !lc || !lc->proxy_protocol || waiting < PROXY_ACCEPT_MAX_WAITING;
}

#endif
