/*
 * The threadpool's poller: the one thread per service process that owns epoll. It
 * accepts, watches idle connections (EPOLLONESHOT, so a connection that fired is
 * disarmed until the thread that handled it gives it back), hands ready ones to the
 * worker threads, enforces idle_timeout and max_duration from two FIFOs, and handles
 * SIGTERM. It never runs handler code, so a blocking handler cannot stall it; it does
 * run relayed connections, whose steps never block (tp_relay.c). A thread
 * re-arms a connection that waits for bytes itself (tp_worker.c), so on a busy
 * persistent connection the poller's only part is the event: one wake-up per batch of
 * events instead of two hand-offs per request.
 *
 * Back-pressure: at most threads + queue connections are HELD; once that many are, and
 * nothing waits in the ready list, the listeners leave the epoll set and new clients
 * wait in the kernel backlog. Pending output is watched here (EPOLLOUT); a thread never
 * waits for a socket.
 *
 * On a PROXY listener the poller reads the header itself, without blocking
 * (tp_header.c), and admits the client it names before a thread ever sees the
 * connection.
 *
 * A connection that times out while a thread holds it is marked (kick) and its socket
 * shut down at once, so the peer sees the end on time; the thread closes it when the
 * callback in progress returns. A callback that never returns keeps its thread and
 * its descriptor: nothing can safely take them from it.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/relay.h"
#include "mpm/tp_pool.h"
#include "superserverd/addr.h"
#include "superserverd/log.h"

#define TP_EVENTS 64
/* Accepts per wake, so one busy listener cannot starve the other events. */
#define TP_ACCEPT_BURST 64
/* How often a BUSY shown in the scoreboard is looked at again (tp_poller_timeout_ms). */
#define TP_BUSY_RECHECK_USEC (100 * 1000)

#define tp_conn_of(node, member)                                                                   \
	((struct tp_conn *)(void *)((char *)(node)-offsetof(struct tp_conn, member)))

static bool tp_poller_room(struct tp_pool *p)
{
	return atomic_load(&p->held) + p->ready.count < p->cap;
}

/* Moves ready connections to the work queue while there is room. Offered, not
 * pushed: threads that are still running take them without a wake-up each. */
static void tp_poller_pump(struct tp_pool *p)
{
	struct tp_fifo_node *n;
	uint64_t now = 0;

	while (atomic_load(&p->held) < p->cap && (n = tp_fifo_first(&p->ready))) {
		struct tp_conn *tc = tp_conn_of(n, ready_node);
		int r;

		tp_fifo_remove(&p->ready, n);
		atomic_store(&tc->where, TP_HELD);
		atomic_fetch_add(&p->held, 1);
		if (!now)
			now = conn_now_usec();
		r = tp_queue_offer(&p->work, tc, now);
		if (r < 0) {
			/* The ring holds `cap` and at most `cap` are HELD: this is a bug. */
			log_error(p->name, "threadpool: work queue refused a connection: %s",
			          strerror(-r));
			abort();
		}
	}
}

void tp_poller_dispatch(struct tp_pool *p, struct tp_conn *tc)
{
	tp_fifo_insert(&p->ready, &tc->ready_node, 0);
	tp_poller_pump(p);
}

/* An event, or a kick, for tc: takes it if it is armed, or tells the thread arming it
 * to keep it (see tp_pool.h). Anything else already has a thread coming or holding it. */
static void tp_poller_take(struct tp_pool *p, struct tp_conn *tc)
{
	int w = atomic_load(&tc->where);

	for (;;) {
		if (w == TP_IN_POLLER) {
			if (atomic_compare_exchange_weak(&tc->where, &w, TP_READY)) {
				tp_poller_dispatch(p, tc);
				return;
			}
		} else if (w == TP_ARMING) {
			if (atomic_compare_exchange_weak(&tc->where, &w, TP_FIRED))
				return;
		} else {
			return;
		}
	}
}

static void tp_poller_kick(struct tp_pool *p, struct tp_conn *tc, enum driver_outcome o)
{
	int none = TP_NO_KICK;

	tp_fifo_remove(&p->idle, &tc->idle_node);
	tp_fifo_remove(&p->life, &tc->life_node);
	if (!atomic_compare_exchange_strong(&tc->watch.kick, &none, (int)o))
		return;
	/* The peer learns now, even if a handler keeps the connection for a while. */
	pthread_mutex_lock(&tc->fd_lock);
	if (tc->c.fd >= 0)
		(void)shutdown(tc->c.fd, SHUT_RDWR);
	pthread_mutex_unlock(&tc->fd_lock);
	/* A thread closes it, so that the close callback never runs on the poller. */
	if (atomic_load(&tc->where) == TP_RELAY)
		tp_relay_end(p, tc, o);
	else
		tp_poller_take(p, tc);
}

static void tp_poller_forget(struct tp_pool *p, struct tp_conn *tc)
{
	tp_fifo_remove(&p->idle, &tc->idle_node);
	tp_fifo_remove(&p->life, &tc->life_node);
	tp_fifo_remove(&p->ready, &tc->ready_node);
	tp_fifo_remove(&p->all, &tc->all_node);
	tp_fifo_remove(&p->connecting, &tc->connecting_node);
	p->live--;
	pthread_mutex_destroy(&tc->fd_lock);
	free(tc);
}

static void tp_poller_bury(struct tp_pool *p)
{
	while (p->closed) {
		struct tp_conn *tc = p->closed;

		p->closed = tc->closed_next;
		tp_poller_forget(p, tc);
	}
}

static void tp_poller_returns(struct tp_pool *p)
{
	struct tp_conn *tc;
	uint64_t count;

	/* Read before taking from the queue: a thread that pushes after the last take
	 * writes again, so no connection is left behind without a wake-up. */
	if (read(p->wake.fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warning(p->name, "eventfd: %s", strerror(errno));
	/* Only closed and relayed connections come back: the threads re-arm the others. */
	while ((tc = tp_queue_trypop(&p->done))) {
		atomic_fetch_sub(&p->held, 1);
		if (tc->next == TP_NEXT_RELAY)
			tp_relay_begin(p, tc);
		else
			tp_poller_forget(p, tc);
	}
	tp_poller_pump(p);
}

void tp_poller_count_accept(struct tp_pool *p, const struct ss_conn *c)
{
	atomic_fetch_add(&p->ctx->scoreboard->counters.accepted, 1);
	atomic_store(&p->ctx->slot->last_activity_usec, scoreboard_now_usec());
	if (log_get_level() >= LOG_DEBUG) {
		char addr[128];
		addr_format((const struct sockaddr *)&c->peer, c->peer_len, addr, sizeof(addr));
		log_debug(p->name, "accept %s count %u held %u/%u", addr, p->live,
		          atomic_load(&p->held), p->cap);
	}
}

int tp_poller_adopt(struct tp_pool *p, const struct ss_conn *c, const struct admit_ticket *ticket,
                    bool counted)
{
	struct tp_conn *tc = calloc(1, sizeof(*tc));
	int r;

	if (!tc)
		return -ENOMEM;
	r = pthread_mutex_init(&tc->fd_lock, NULL);
	if (r != 0) {
		free(tc);
		return -r;
	}
	tc->tag = (struct tp_tag){.kind = TP_TAG_CONN, .fd = -1};
	tc->c = *c;
	tc->ticket = *ticket;
	admit_greeting_queue(&p->admit, &tc->ticket, &tc->c);
	atomic_init(&tc->where, TP_READY);
	atomic_init(&tc->watch.kick, TP_NO_KICK);
	atomic_init(&tc->watch.activity, tc->c.activity_usec);
	if (p->limits.idle_timeout_usec)
		tp_fifo_insert(&p->idle, &tc->idle_node, tc->c.activity_usec);
	if (p->limits.max_duration_usec)
		tp_fifo_insert(&p->life, &tc->life_node, tc->c.start_usec);
	tp_fifo_insert(&p->all, &tc->all_node, 0);
	p->live++;
	if (!counted)
		tp_poller_count_accept(p, &tc->c);
	/* A thread runs the open callback (if any) and the first read. */
	tp_poller_dispatch(p, tc);
	return 0;
}

int tp_poller_admit(struct tp_pool *p, const struct listen_conf *lc, int fd,
                    struct admit_ticket *ticket, const struct sockaddr *peer, socklen_t peer_len,
                    const struct sockaddr *local, socklen_t local_len)
{
	struct ss_conn c;
	int r;

	if (!admit_gate(&p->admit, &p->connlog, lc, fd, peer, peer_len, ticket))
		return 0;
	conn_init(&c, fd, p->ctx->handler, p->ctx->handler_data);
	conn_set_peer(&c, peer, peer_len);
	if (local && local_len)
		conn_set_local(&c, local, local_len);
	/* Admitted already (access, per_source, rate): only now is CPU spent on TLS. */
	if (lc && lc->tls)
		r = tp_tls_begin(p, lc, &c, ticket);
	else
		r = tp_poller_adopt(p, &c, ticket, false);
	if (r < 0) {
		admit_release(&p->admit, ticket);
		close(fd);
	}
	return r;
}

static void tp_poller_accept(struct tp_pool *p, struct tp_listener *l)
{
	bool proxy = l->lc && l->lc->proxy_protocol;
	int r;

	for (int burst = 0; burst < TP_ACCEPT_BURST && tp_poller_room(p) &&
	                    proxy_accept_room(l->lc, (unsigned)p->headers.count);
	     burst++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct admit_ticket tk;
		uint64_t wait = admit_reserve(&p->admit, &tk);
		int fd;

		if (wait) {
			/* Over the rate or at max_connections: clients wait in the backlog. */
			p->accept_resume_usec = conn_now_usec() + wait;
			return;
		}
		fd = accept4(l->tag.fd, (struct sockaddr *)&peer, &plen,
		             SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			admit_unreserve(&p->admit, &tk);
		if (fd < 0) {
			if (accept_error_passing(errno))
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* another process took it, or the backlog is empty */
			r = -errno;
			goto backoff;
		}
		accept_shortage_end(&p->shortage, p->name);
		if (proxy) {
			tp_header_accepted(p, l->lc, fd, &tk, &peer, plen);
			continue;
		}
		r = tp_poller_admit(p, l->lc, fd, &tk, (struct sockaddr *)&peer, plen, NULL, 0);
		if (r < 0)
			goto backoff;
	}
	return;
backoff:
	accept_shortage_begin(&p->shortage, p->name, -r);
	p->accept_resume_usec = conn_now_usec() + ACCEPT_RETRY_USEC;
}

/* ON: accepting at all. A PROXY listener also waits while too many headers are being
 * read, so its clients queue in the backlog while the other listeners go on. */
static void tp_poller_listen(struct tp_pool *p, bool on)
{
	for (size_t i = 0; i < p->ctx->n_listen; i++) {
		struct tp_listener *l = &p->listeners[i];
		bool want = on && proxy_accept_room(l->lc, (unsigned)p->headers.count);
		/* EPOLLEXCLUSIVE: one of the service's processes wakes per new client, not all.
		 * It cannot be changed with EPOLL_CTL_MOD, hence ADD and DEL. */
		struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &l->tag};

		if (l->tag.fd < 0 || want == l->armed)
			continue;
		if (epoll_ctl(p->epfd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->tag.fd, &ev) < 0) {
			log_error(p->name, "epoll_ctl(listener): %s", strerror(errno));
			continue;
		}
		l->armed = want;
	}
	p->listening = on;
}

static void tp_poller_stop_accepting(struct tp_pool *p)
{
	if (p->stopping)
		return;
	p->stopping = true;
	/* Out of the epoll set first: the master and the sibling processes keep the
	 * socket open, so closing our descriptor would not remove it. */
	tp_poller_listen(p, false);
	for (size_t i = 0; i < p->ctx->n_listen; i++) {
		if (p->listeners[i].tag.fd >= 0)
			close(p->listeners[i].tag.fd);
		p->listeners[i].tag.fd = -1;
	}
	/* Headers on their way are connections in hand too: each is served or refused by
	 * its deadline. */
	log_debug(p->name, "draining: %u connection%s open, %zu PROXY header%s on the way", p->live,
	          p->live == 1 ? "" : "s", p->headers.count, p->headers.count == 1 ? "" : "s");
}

static void tp_poller_signals(struct tp_pool *p)
{
	struct signalfd_siginfo si;

	while (read(p->sig.fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			tp_poller_stop_accepting(p);
}

static void tp_poller_timers(struct tp_pool *p)
{
	uint64_t now = conn_now_usec();
	struct tp_fifo_node *n;

	while (p->limits.idle_timeout_usec && (n = tp_fifo_first(&p->idle))) {
		struct tp_conn *tc = tp_conn_of(n, idle_node);
		uint64_t seen = atomic_load(&tc->watch.activity);

		/* A thread got bytes since the key was set: file it again, later. */
		if (seen > n->key) {
			tp_fifo_remove(&p->idle, n);
			tp_fifo_insert(&p->idle, n, seen);
			continue;
		}
		if (now < n->key + p->limits.idle_timeout_usec)
			break;
		tp_poller_kick(p, tc, DRIVER_IDLE_TIMEOUT);
	}
	while (p->limits.max_duration_usec && (n = tp_fifo_first(&p->life))) {
		if (now < n->key + p->limits.max_duration_usec)
			break;
		tp_poller_kick(p, tp_conn_of(n, life_node), DRIVER_DURATION);
	}
	tp_header_expire(p, now);
	tp_relay_expire(p, now);
	tp_tls_expire(p, now);
}

/* Milliseconds until the next deadline, rounded up so as not to wake early and spin. */
static int tp_poller_timeout_ms(struct tp_pool *p)
{
	struct tp_fifo_node *n;
	uint64_t at = 0, now, ms;

	if (p->limits.idle_timeout_usec && (n = tp_fifo_first(&p->idle)))
		at = n->key + p->limits.idle_timeout_usec;
	if (p->limits.max_duration_usec && (n = tp_fifo_first(&p->life))) {
		uint64_t end = n->key + p->limits.max_duration_usec;
		if (!at || end < at)
			at = end;
	}
	uint64_t header = tp_header_next_deadline(p);
	if (header && (!at || header < at))
		at = header;
	uint64_t connect = tp_relay_next_deadline(p);
	if (connect && (!at || connect < at))
		at = connect;
	uint64_t handshake = tp_tls_next_deadline(p);
	if (handshake && (!at || handshake < at))
		at = handshake;
	now = conn_now_usec();
	/* Only a backoff still running: a past one must not make the wait zero. */
	if (!p->stopping && p->accept_resume_usec > now && (!at || p->accept_resume_usec < at))
		at = p->accept_resume_usec;
	/* Threads return connections without waking the poller: a BUSY shown in the
	 * scoreboard is looked at again this often. */
	if (p->shown == WORKER_BUSY && (!at || now + TP_BUSY_RECHECK_USEC < at))
		at = now + TP_BUSY_RECHECK_USEC;
	/* Connections queued for a thread that runs something slow: a sleeping one is
	 * woken once their patience is over (tp_queue.h). */
	uint64_t watch = tp_queue_watch(&p->work, now);
	if (watch && (!at || now + watch < at))
		at = now + watch;
	if (!at)
		return -1;
	if (at <= now)
		return 0;
	ms = (at - now + 999) / 1000;
	return ms > 1000u * 1000u * 1000u ? 1000 * 1000 * 1000 : (int)ms;
}

/* Listeners in or out of the epoll set, and the scoreboard, after every change. */
static void tp_poller_update(struct tp_pool *p)
{
	struct scoreboard_slot *slot = p->ctx->slot;
	bool want = !p->stopping && tp_poller_room(p) && conn_now_usec() >= p->accept_resume_usec;
	enum worker_state st;

	if (want != p->listening)
		log_debug(p->name, "%s accepting (%u held, %u waiting, room for %u)",
		          want ? "resume" : "pause", atomic_load(&p->held),
		          (unsigned)p->ready.count, p->cap);
	/* Every time: a PROXY listener also follows the number of headers being read. */
	tp_poller_listen(p, want);
	if (p->stopping)
		st = WORKER_STOPPING;
	else if (atomic_load(&p->held) >= p->n_threads)
		st = WORKER_BUSY;
	else
		st = WORKER_IDLE;
	if (st != p->shown) {
		scoreboard_set_state(slot, st);
		p->shown = st;
	}
	atomic_store(&slot->active, p->live + (unsigned)p->handshakes.count);
}

/*
 * Before sleeping: when ready connections or new clients wait for room, the threads
 * must wake the poller as `held` drops. The flag is set before `held` is read again
 * (both sequentially consistent), so a thread that subtracted before sees no flag and
 * the poller sees its room, or the thread sees the flag and writes to wake.fd.
 */
static void tp_poller_settle(struct tp_pool *p)
{
	tp_poller_update(p);
	/* From what update decided, not from `held` again: room that appeared since
	 * would leave the listeners paused with nobody to wake the poller. */
	if (p->ready.count == 0 && (p->stopping || p->listening)) {
		atomic_store(&p->room_wanted, false);
		return;
	}
	atomic_store(&p->room_wanted, true);
	tp_poller_pump(p);
	tp_poller_update(p);
}

/*
 * While running threads still have queued connections to take, the poller lets the
 * events pile up in epoll rather than wake for each one: it looks again when the
 * queue is empty, or after the queue's patience (or the next deadline), whichever
 * comes first, and then takes them in one batch. A thread stuck in a handler delays
 * the poller by the patience at most, as it delays the connections queued behind it.
 */
static void tp_poller_pause(struct tp_pool *p)
{
	int ms = tp_poller_timeout_ms(p);
	uint64_t until = conn_now_usec() + p->work.patience;

	if (!p->work.patience)
		return;
	if (ms >= 0 && until > conn_now_usec() + (uint64_t)ms * 1000)
		until = conn_now_usec() + (uint64_t)ms * 1000;
	tp_queue_wait_drained(&p->work, until);
}

static void tp_poller_event(struct tp_pool *p, const struct epoll_event *ev, bool *woken)
{
	struct tp_tag *t = ev->data.ptr;
	struct tp_conn *tc;

	switch (t->kind) {
	case TP_TAG_LISTENER:
		/* Not armed: taken out earlier in this batch. */
		if (((struct tp_listener *)t)->armed && t->fd >= 0)
			tp_poller_accept(p, (struct tp_listener *)t);
		break;
	case TP_TAG_HEADER:
		tp_header_event(p, (struct tp_header *)t);
		break;
	case TP_TAG_HANDSHAKE:
		tp_tls_event(p, (struct tp_handshake *)t);
		break;
	case TP_TAG_SIGNAL:
		tp_poller_signals(p);
		break;
	case TP_TAG_WAKE:
		*woken = true;
		break;
	case TP_TAG_CONN:
		tc = (struct tp_conn *)t;
		if (atomic_load(&tc->where) == TP_RELAY)
			tp_relay_event(p, tc, ev->events, 0);
		else
			tp_poller_take(p, tc);
		break;
	case TP_TAG_RELAY:
		tp_relay_event(p, tp_conn_of(t, up), 0, ev->events);
		break;
	}
}

int tp_poller_run(struct tp_pool *p)
{
	struct epoll_event evs[TP_EVENTS];

	p->shown = WORKER_STARTING;
	tp_poller_listen(p, true);
	tp_poller_settle(p);
	while (!p->stopping || p->live > 0 || p->headers.count > 0 || p->handshakes.count > 0) {
		int n;
		bool woken = false;

		tp_poller_pause(p);
		n = epoll_wait(p->epfd, evs, TP_EVENTS, tp_poller_timeout_ms(p));

		if (n < 0) {
			int r = -errno;
			if (r == -EINTR)
				continue;
			log_error(p->name, "epoll_wait: %s", strerror(-r));
			return r;
		}
		for (int i = 0; i < n; i++)
			tp_poller_event(p, &evs[i], &woken);
		/* Connections are freed only here, after the batch: an event later in the
		 * same batch may still point to one that a thread has just closed. */
		if (woken)
			tp_poller_returns(p);
		tp_poller_timers(p);
		tp_poller_bury(p);
		tp_poller_settle(p);
	}
	return 0;
}

void tp_poller_teardown(struct tp_pool *p)
{
	struct tp_fifo_node *n;
	struct tp_conn *tc;

	tp_header_drop_all(p);
	tp_poller_bury(p);
	tp_tls_drop_all(p);
	while ((tc = tp_queue_trypop(&p->done))) {
		atomic_fetch_sub(&p->held, 1);
		tp_poller_forget(p, tc);
	}
	while ((n = tp_fifo_first(&p->all))) {
		tc = tp_conn_of(n, all_node);
		relay_free(tc->relay);
		conn_destroy(&tc->c);
		admit_release(&p->admit, &tc->ticket);
		tp_poller_forget(p, tc);
	}
}
