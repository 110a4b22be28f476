/*
 * The event model's datagram listeners: datagrams answered in the worker by the
 * handler's datagram callback, never forked for. Each wake-up reads a bounded number of
 * batches (recvmmsg) and sends the batch's answers at once (sendmmsg), so a flood on
 * one socket cannot starve the worker's other sockets, and nothing ever blocks: an
 * answer the socket has no room for is dropped and counted. On a unix socket "no
 * room" is one peer's full queue (a local client that does not read): only its
 * answer is dropped, the others of the batch still go.
 *
 * Every datagram passes, in order: its size (a datagram larger than the buffer is
 * dropped, never answered from a truncated copy), `access` (CIDR lists for IP peers,
 * allow_users/allow_groups for unix peers through SCM_CREDENTIALS), the loop guard (no
 * answer to the ports of services that answer themselves), the per-source and the
 * service-wide packet rates (dgram_limit.h; a unix peer's source is its uid), and the
 * amplification bound: an answer is at most as long as its request, or `limits:
 * datagram_reply_max`. The scoreboard counts what became of every datagram (answered,
 * unanswered by the handler, or dropped by reason), so the counts add up to those
 * received; the log never hears of a datagram, only of a socket that misbehaves (at
 * most once a minute). Connection records, when the service has them, get one per
 * datagram (dgramlog.h), written after the batch's answers are sent; without records
 * the datagram path does nothing more for them than test one flag. On a socket bound to
 * every address, an answer leaves from the address its datagram was sent to.
 *
 * Several workers may read one socket; the kernel hands each datagram to one of them,
 * and each enforces its share of the rates (dgram_limit.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mpm/dgram_addr.h"
#include "mpm/dgram_limit.h"
#include "mpm/dgramlog.h"
#include "mpm/event_loop.h"
#include "services/handler.h"
#include "superserverd/cidr.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

/* Datagrams per recvmmsg, and recvmmsg calls per wake-up: 128 at most, as many as a
 * listener's accept burst allows connections, before the loop looks at its other
 * sockets again. */
#define DGRAM_BATCH  32
#define DGRAM_ROUNDS 4
/* A receive error that is not a peer's ICMP report would repeat at once: the worker's
 * datagram sockets rest this long. */
#define DGRAM_PAUSE_USEC (1000 * 1000)
#define DGRAM_LOG_USEC   (60ULL * 1000 * 1000)

/* What one batch changed, added to the shared counters once per batch. */
struct dgram_tally {
	uint64_t received, answered, unanswered, peer_errors, bytes_in, bytes_out;
	uint64_t dropped[DGRAM_DROP_REASON_COUNT];
};

struct event_dgram {
	const struct ss_handler *h;
	void *hdata;
	const struct service_conf *sc;
	struct scoreboard_dgram *counters;
	struct dgram_limit limit;
	bool cidr_rules, id_rules;
	size_t reply_max;
	uint64_t retry_at; /* sockets resting until then; 0 = none */
	uint64_t logged_at;
	/* Records (NULL: off): each listener's own address, and per datagram of the batch
	 * what became of it and the length of its answer, per answer its datagram. */
	struct dgram_records {
		struct dgramlog log;
		struct sockaddr_storage *local; /* by listener */
		socklen_t *local_len;
		int result[DGRAM_BATCH];
		size_t out[DGRAM_BATCH];
		unsigned rx_of[DGRAM_BATCH];
	} * rec;
	char *rbuf, *tbuf; /* DGRAM_BATCH slots of CONFIG_DATAGRAM_MAX bytes each */
	struct mmsghdr rx[DGRAM_BATCH], tx[DGRAM_BATCH];
	struct iovec riov[DGRAM_BATCH], tiov[DGRAM_BATCH];
	struct sockaddr_storage peer[DGRAM_BATCH];
	union dgram_cmsg cmsg[DGRAM_BATCH], tcmsg[DGRAM_BATCH];
};

/* Once a minute at most: a socket error is news, a thousand of them are not. */
static void dgram_log(struct event_loop *l, uint64_t now, const char *what, int err)
{
	struct event_dgram *d = l->dgram;

	if (d->logged_at && now - d->logged_at < DGRAM_LOG_USEC)
		return;
	d->logged_at = now;
	log_warning(l->name, "datagram socket: %s: %s (logged at most once a minute)", what,
	            strerror(err));
}

/* The records' state, with each listener's address read once (a record per datagram
 * must not cost a getsockname each). */
static int dgram_records_setup(struct event_loop *l, struct event_dgram *d)
{
	struct dgram_records *rec = calloc(1, sizeof(*rec));

	if (!rec)
		return -ENOMEM;
	d->rec = rec;
	dgramlog_init(&rec->log, &l->connlog);
	rec->local = calloc(l->n_listen, sizeof(*rec->local));
	rec->local_len = calloc(l->n_listen, sizeof(*rec->local_len));
	if (!rec->local || !rec->local_len)
		return -ENOMEM;
	for (size_t i = 0; i < l->n_listen; i++) {
		rec->local_len[i] = sizeof(rec->local[i]);
		if (l->listeners[i].tag.kind != EVENT_TAG_DGRAM ||
		    getsockname(l->listeners[i].tag.fd, (struct sockaddr *)&rec->local[i],
		                &rec->local_len[i]) < 0)
			rec->local_len[i] = 0;
	}
	return 0;
}

int event_dgram_setup(struct event_loop *l, unsigned share)
{
	const struct worker_ctx *ctx = l->ctx;
	const struct service_conf *sc = ctx->conf;
	struct event_dgram *d;
	bool any = false;
	int r;

	for (size_t i = 0; i < l->n_listen; i++)
		any |= l->listeners[i].tag.kind == EVENT_TAG_DGRAM;
	if (!any)
		return 0;
	if (!ctx->handler->datagram) { /* refused at load or start; never run without it */
		log_error(l->name, "handler '%s' has no datagram callback", ctx->handler->name);
		return -ENOTSUP;
	}
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	l->dgram = d;
	d->h = ctx->handler;
	d->hdata = ctx->handler_data;
	d->sc = sc;
	d->counters = &ctx->scoreboard->counters.dgram;
	d->cidr_rules = sc->access.n_allow || sc->access.n_deny;
	d->id_rules = sc->access.n_allow_uids || sc->access.n_allow_gids;
	d->reply_max = sc->limits.datagram_reply_max;
	d->rbuf = malloc((size_t)DGRAM_BATCH * CONFIG_DATAGRAM_MAX);
	d->tbuf = malloc((size_t)DGRAM_BATCH * CONFIG_DATAGRAM_MAX);
	if (!d->rbuf || !d->tbuf)
		return -ENOMEM;
	r = dgram_limit_init(&d->limit, &sc->limits, share);
	if (r < 0)
		return r;
	if (connlog_enabled(&l->connlog) && (r = dgram_records_setup(l, d)) < 0)
		return r;
	for (size_t i = 0; i < DGRAM_BATCH; i++) {
		d->riov[i] = (struct iovec){d->rbuf + i * CONFIG_DATAGRAM_MAX, CONFIG_DATAGRAM_MAX};
		d->tx[i].msg_hdr.msg_iov = &d->tiov[i];
		d->tx[i].msg_hdr.msg_iovlen = 1;
	}
	for (size_t i = 0; i < l->n_listen; i++)
		if (l->listeners[i].tag.kind == EVENT_TAG_DGRAM &&
		    (r = dgram_socket_options(l->listeners[i].tag.fd)) < 0)
			return r;
	return 0;
}

void event_dgram_free(struct event_loop *l)
{
	struct event_dgram *d = l->dgram;

	if (!d)
		return;
	dgram_limit_free(&d->limit);
	if (d->rec) {
		/* Before connlog_close: the suppressed count is not lost at exit. */
		dgramlog_summary(&d->rec->log, conn_now_usec(), true);
		free(d->rec->local);
		free(d->rec->local_len);
		free(d->rec);
	}
	free(d->rbuf);
	free(d->tbuf);
	free(d);
	l->dgram = NULL;
}

/* The sender's credentials, from message M's SCM_CREDENTIALS. */
static bool dgram_creds(const struct msghdr *m, struct ucred *cred)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(*cred))) {
			memcpy(cred, CMSG_DATA(c), sizeof(*cred));
			return true;
		}
	return false;
}

/* Source ports of the small services that answer whatever reaches them: answering one
 * would start a loop between two servers (a forged echo-to-chargen datagram is the
 * classic), and port 0 cannot be answered at all. */
static bool dgram_loop_port(const struct sockaddr *sa)
{
	uint16_t port = sa->sa_family == AF_INET
	                        ? ntohs(((const struct sockaddr_in *)sa)->sin_port)
	                        : ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);

	return port == 0 || port == 7 || port == 13 || port == 17 || port == 19 || port == 37;
}

/* A unix peer's checks: its uid/gid rules, and its source for the rates (*FAMILY and
 * KEY; FAMILY 0 when the kernel gave no credentials). -1 to go on, else the drop
 * reason. */
static int dgram_admit_unix(struct event_dgram *d, const struct msghdr *m, int *family,
                            uint8_t key[16])
{
	struct ucred cred;
	bool has_cred = dgram_creds(m, &cred);

	if (d->id_rules && (!has_cred || !admit_ids_allowed(d->sc, cred.uid, cred.gid)))
		return DGRAM_DROP_ACCESS;
	/* The source is the sending user, not its process or socket: a user's every
	 * process shares one bucket, and another user has its own. */
	*family = has_cred ? AF_UNIX : 0;
	memset(key, 0, 16);
	if (has_cred)
		memcpy(key, &cred.uid, sizeof(cred.uid));
	return -1;
}

/* The checks before the handler: -1 to go on, else the drop reason. */
static int dgram_admit(struct event_dgram *d, const struct msghdr *m, uint64_t now)
{
	const struct sockaddr *sa = m->msg_name;
	uint8_t addr[16], key[16];
	int family, reason;

	if (m->msg_flags & MSG_TRUNC)
		return DGRAM_DROP_SIZE;
	if (cidr_from_sockaddr(sa, m->msg_namelen, &family, addr) < 0) {
		if ((reason = dgram_admit_unix(d, m, &family, key)) >= 0)
			return reason;
	} else {
		if (d->cidr_rules && !admit_inet_allowed(d->sc, family, addr))
			return DGRAM_DROP_ACCESS;
		if (dgram_loop_port(sa))
			return DGRAM_DROP_ACCESS;
		admit_source_key(&d->sc->limits, family, addr, key);
	}
	return dgram_limit_take(&d->limit, family, key, now) == DGRAM_PASS ? -1 : DGRAM_DROP_RATE;
}

/* Datagram I of the batch through the checks and the handler: its answer queued in
 * tx[*ntx], or what became of it counted. Its length is the datagram's own, even when
 * it did not fit in the buffer (MSG_TRUNC). Returns what became of it (dgramlog.h). */
static int dgram_serve(struct event_dgram *d, unsigned i, uint64_t now, unsigned *ntx,
                       struct dgram_tally *t)
{
	struct msghdr *m = &d->rx[i].msg_hdr;
	size_t len = d->rx[i].msg_len, cap = len > d->reply_max ? len : d->reply_max;
	char *reply = d->tbuf + (size_t)*ntx * CONFIG_DATAGRAM_MAX;
	int reason = dgram_admit(d, m, now);
	ssize_t n;

	t->received++;
	t->bytes_in += len;
	if (reason >= 0) {
		t->dropped[reason]++;
		return reason;
	}
	n = d->h->datagram(d->hdata, d->riov[i].iov_base, len, m->msg_name, m->msg_namelen, reply,
	                   cap);
	if (n == SS_DATAGRAM_NO_ANSWER) {
		t->unanswered++;
		return DGRAMLOG_UNANSWERED;
	}
	if (n == -EMSGSIZE) {
		t->dropped[DGRAM_DROP_SIZE]++;
		return DGRAM_DROP_SIZE;
	}
	/* A handler error, an answer beyond its bound (never sent), or a unix peer
	 * without a name, which no answer can reach. */
	if (n < 0 || (size_t)n > cap ||
	    m->msg_namelen <= (socklen_t)offsetof(struct sockaddr_un, sun_path)) {
		t->dropped[DGRAM_DROP_ERROR]++;
		return DGRAM_DROP_ERROR;
	}
	d->tiov[*ntx] = (struct iovec){reply, (size_t)n};
	d->tx[*ntx].msg_hdr.msg_name = m->msg_name;
	d->tx[*ntx].msg_hdr.msg_namelen = m->msg_namelen;
	dgram_reply_from(m, &d->tx[*ntx].msg_hdr, &d->tcmsg[*ntx]);
	(*ntx)++;
	return DGRAMLOG_ANSWERED;
}

/* Answer J of the batch was lost: so says its datagram's record. */
static void dgram_lost(struct event_dgram *d, unsigned j)
{
	if (d->rec)
		d->rec->result[d->rec->rx_of[j]] = DGRAM_DROP_ERROR;
}

/* The batch's answers, without blocking: what the socket has no room for is dropped. */
static void dgram_send(struct event_loop *l, int fd, unsigned ntx, uint64_t now,
                       struct dgram_tally *t)
{
	struct event_dgram *d = l->dgram;
	unsigned off = 0;

	while (off < ntx) {
		int k = sendmmsg(fd, d->tx + off, ntx - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k > 0) {
			for (unsigned j = off; j < off + (unsigned)k; j++)
				t->bytes_out += d->tiov[j].iov_len;
			t->answered += (unsigned)k;
			off += (unsigned)k;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			/* A unix peer's receive queue is full (it does not read): its answer
			 * alone is lost. A UDP socket's own buffer is full: so are the rest. */
			const struct sockaddr *to = d->tx[off].msg_hdr.msg_name;

			if (errno == ENOBUFS || to->sa_family != AF_UNIX) {
				t->dropped[DGRAM_DROP_ERROR] += ntx - off;
				for (unsigned j = off; j < ntx; j++)
					dgram_lost(d, j);
				return;
			}
			t->dropped[DGRAM_DROP_ERROR]++;
			dgram_lost(d, off);
			off++;
			continue;
		}
		/* This answer's own trouble (a destination refused by a firewall, an ICMP
		 * report surfacing): it alone is lost. */
		if (errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != ENETUNREACH)
			dgram_log(l, now, "send", errno);
		t->dropped[DGRAM_DROP_ERROR]++;
		dgram_lost(d, off);
		off++;
	}
}

/* The batch's N records, once its answers are sent (an answer can still be lost), held
 * and sent to the master together. LISTENER: the socket's index. */
static void dgram_records(struct event_dgram *d, size_t listener, int n, uint64_t now)
{
	struct dgram_records *rec = d->rec;

	connlog_hold(rec->log.cl);
	for (int i = 0; i < n; i++) {
		const struct msghdr *m = &d->rx[i].msg_hdr;
		struct sockaddr_storage dst;
		socklen_t local_len = rec->local_len[listener];
		const struct sockaddr *local = (struct sockaddr *)&rec->local[listener];

		if (local_len)
			local = dgram_local(m, local, &dst);
		dgramlog_write(
		        &rec->log,
		        &(struct dgram_record){
		                .peer = m->msg_name,
		                .peer_len = m->msg_namelen,
		                .local = local,
		                .local_len = local_len,
		                .bytes_in = d->rx[i].msg_len,
		                .bytes_out = rec->result[i] == DGRAMLOG_ANSWERED ? rec->out[i] : 0,
		                .result = rec->result[i]},
		        now);
	}
	connlog_flush(rec->log.cl);
}

static void dgram_flush(struct event_dgram *d, const struct dgram_tally *t)
{
	struct scoreboard_dgram *c = d->counters;

	atomic_fetch_add_explicit(&c->bytes_in, t->bytes_in, memory_order_relaxed);
	if (t->unanswered)
		atomic_fetch_add_explicit(&c->unanswered, t->unanswered, memory_order_relaxed);
	if (t->peer_errors)
		atomic_fetch_add_explicit(&c->peer_errors, t->peer_errors, memory_order_relaxed);
	if (t->answered) {
		atomic_fetch_add_explicit(&c->answered, t->answered, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->bytes_out, t->bytes_out, memory_order_relaxed);
	}
	for (unsigned r = 0; r < DGRAM_DROP_REASON_COUNT; r++)
		if (t->dropped[r])
			atomic_fetch_add_explicit(&c->dropped[r], t->dropped[r],
			                          memory_order_relaxed);
	/* Last: a reader that sees a datagram received sees what became of it. */
	atomic_fetch_add_explicit(&c->received, t->received, memory_order_release);
}

/* Errors a peer's ICMP report leaves on the socket: each is reported once and gone,
 * so reading on is right and cannot spin. */
static bool dgram_peer_error(int err)
{
	return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH ||
	       err == EHOSTDOWN || err == ENETDOWN || err == EPROTO || err == ETIMEDOUT ||
	       err == EMSGSIZE || err == ECONNRESET;
}

static void dgram_pause(struct event_loop *l, uint64_t now)
{
	l->dgram->retry_at = now + DGRAM_PAUSE_USEC;
	for (size_t i = 0; i < l->n_listen; i++) {
		struct event_listener *lst = &l->listeners[i];

		if (lst->tag.kind != EVENT_TAG_DGRAM || lst->tag.fd < 0 || !lst->armed)
			continue;
		if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, lst->tag.fd, NULL) == 0)
			lst->armed = false;
	}
}

/* One batch from listener LISTENER (socket FD): -1 when the socket is empty (or
 * resting), else how many came. */
static int dgram_batch(struct event_loop *l, size_t listener, int fd)
{
	struct event_dgram *d = l->dgram;
	struct dgram_tally t = {0};
	unsigned ntx = 0;
	uint64_t now;
	int n;

	for (unsigned i = 0; i < DGRAM_BATCH; i++) {
		struct msghdr *m = &d->rx[i].msg_hdr;

		/* Room for a unix sender's credentials (a UDP socket sends none). */
		*m = (struct msghdr){.msg_name = &d->peer[i],
		                     .msg_namelen = sizeof(d->peer[i]),
		                     .msg_iov = &d->riov[i],
		                     .msg_iovlen = 1,
		                     .msg_control = d->cmsg[i].buf,
		                     .msg_controllen = sizeof(d->cmsg[i].buf)};
	}
	/* MSG_TRUNC: an oversized datagram's length is its own, for bytes_in. */
	n = recvmmsg(fd, d->rx, DGRAM_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
	now = conn_now_usec(); /* once per batch: the buckets need no finer time */
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -1;
		if (dgram_peer_error(errno)) {
			t.peer_errors++;
			dgram_flush(d, &t);
			return 0;
		}
		dgram_log(l, now, "receive", errno);
		dgram_pause(l, now);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int result = dgram_serve(d, (unsigned)i, now, &ntx, &t);

		if (d->rec) {
			d->rec->result[i] = result;
			if (result == DGRAMLOG_ANSWERED) {
				d->rec->rx_of[ntx - 1] = (unsigned)i;
				d->rec->out[i] = d->tiov[ntx - 1].iov_len;
			}
		}
	}
	if (ntx)
		dgram_send(l, fd, ntx, now, &t);
	dgram_flush(d, &t);
	if (d->rec)
		dgram_records(d, listener, n, now);
	atomic_store_explicit(&l->ctx->slot->last_activity_usec, now, memory_order_relaxed);
	return n;
}

void event_dgram_read(struct event_loop *l, struct event_tag *t)
{
	size_t listener =
	        (size_t)(event_container_of(t, struct event_listener, tag) - l->listeners);

	for (unsigned round = 0; round < DGRAM_ROUNDS && t->fd >= 0; round++) {
		int n = dgram_batch(l, listener, t->fd);

		if (n < DGRAM_BATCH && n != 0)
			return; /* empty now (or resting); 0: an ICMP report, read on */
	}
}

uint64_t event_dgram_next_deadline(const struct event_loop *l)
{
	const struct event_dgram *d = l->dgram;
	uint64_t at = d && d->retry_at ? d->retry_at : EVENT_NO_DEADLINE;
	uint64_t due = d && d->rec ? dgramlog_due(&d->rec->log) : 0;

	return due && due < at ? due : at;
}

void event_dgram_timers(struct event_loop *l, uint64_t now)
{
	if (l->dgram && l->dgram->rec)
		dgramlog_summary(&l->dgram->rec->log, now, false);
	if (!l->dgram || !l->dgram->retry_at || now < l->dgram->retry_at || l->stopping)
		return;
	l->dgram->retry_at = 0;
	for (size_t i = 0; i < l->n_listen; i++) {
		struct event_listener *lst = &l->listeners[i];
		struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &lst->tag};

		if (lst->tag.kind != EVENT_TAG_DGRAM || lst->tag.fd < 0 || lst->armed)
			continue;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, lst->tag.fd, &ev) == 0)
			lst->armed = true;
		else
			dgram_log(l, now, "epoll_ctl", errno);
	}
}
