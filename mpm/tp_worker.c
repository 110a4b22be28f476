/*
 * A threadpool worker thread: takes a connection from the work queue, gives it one
 * turn (tp_slice), and then either closes it (the poller frees it), hands it to the
 * poller to relay (tp_relay.c), queues it again behind the others (a busy connection's
 * turn is over), or re-arms it in epoll itself (it waits for bytes). Re-arming here
 * instead of in the poller spares a hand-off, a queue and an eventfd write per
 * request; the handshake with the poller is in tp_pool.h. Handlers run here and may
 * block; the poller never runs handler code.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mpm/tp_pool.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

/* Bytes are published after every turn (and every relay step, on the poller) so that
 * statistics move during long connections, not only at their end. */
void tp_worker_count_bytes(struct tp_pool *p, struct tp_conn *tc)
{
	struct scoreboard_counters *k = &p->ctx->scoreboard->counters;

	if (tc->c.bytes_in != tc->counted_in)
		atomic_fetch_add(&k->bytes_in, tc->c.bytes_in - tc->counted_in);
	if (tc->c.bytes_out != tc->counted_out)
		atomic_fetch_add(&k->bytes_out, tc->c.bytes_out - tc->counted_out);
	tc->counted_in = tc->c.bytes_in;
	tc->counted_out = tc->c.bytes_out;
}

void tp_worker_close(struct tp_pool *p, struct tp_conn *tc, enum driver_outcome o)
{
	/* The output is flushed: close_notify fits in what the socket takes, and is not
	 * waited for when it does not (nor is the peer's answer). */
	if (o == DRIVER_COMPLETED)
		(void)conn_tls_end(&tc->c);
	/* The handler's close may block: it runs before the lock, which the poller takes. */
	conn_call_close(&tc->c);
	pthread_mutex_lock(&tc->fd_lock);
	/* Out of the epoll set before the close: were the socket shared with a process
	 * the handler forked, closing our descriptor alone would leave it registered. */
	if (tc->registered && epoll_ctl(p->epfd, EPOLL_CTL_DEL, tc->c.fd, NULL) < 0 &&
	    errno != ENOENT)
		log_warning(p->name, "epoll_ctl(DEL): %s", strerror(errno));
	connlog_conn_done(&p->connlog, &tc->c, o);
	conn_destroy(&tc->c);
	pthread_mutex_unlock(&tc->fd_lock);
	admit_release(&p->admit, &tc->ticket);

	/* Bytes went out turn by turn (tp_worker_count_bytes); the rest is the shared
	 * accounting. The slot's `active` is the poller's live count. */
	scoreboard_conn_done(p->ctx->scoreboard, NULL, conn_now_usec() - tc->c.start_usec, true, 0,
	                     0, driver_result(o));
	atomic_fetch_add(&p->ctx->slot->served, 1);
	atomic_store(&p->ctx->slot->last_activity_usec, scoreboard_now_usec());
	log_debug(p->name, "end %s in %llu bytes out %llu", driver_outcome_name(o),
	          (unsigned long long)tc->c.bytes_in, (unsigned long long)tc->c.bytes_out);
}

void tp_worker_wake_poller(struct tp_pool *p)
{
	uint64_t one = 1;

	while (write(p->wake.fd, &one, sizeof(one)) < 0) {
		if (errno == EINTR)
			continue;
		/* EAGAIN means the counter is already huge: the poller is awake anyway. */
		if (errno != EAGAIN)
			log_error(p->name, "cannot wake the poller: %s", strerror(errno));
		return;
	}
}

/* A thread that freed room wakes the poller if it waits for some. The exchange makes
 * one wake-up per wait of the poller, which asks again if it still needs room. */
static void tp_worker_room(struct tp_pool *p)
{
	if (atomic_load(&p->room_wanted) && atomic_exchange(&p->room_wanted, false))
		tp_worker_wake_poller(p);
}

/* Gives tc back to epoll to wait for tc->slice.events. False when the thread must keep
 * it for another turn: kicked, not watchable, or an event came while arming. */
static bool tp_worker_arm(struct tp_pool *p, struct tp_conn *tc)
{
	struct epoll_event ev = {.events = tc->slice.events | EPOLLONESHOT, .data.ptr = tc};
	int arming = TP_ARMING, none = TP_NO_KICK;

	/* ARMING before looking at the kick: a kick from now on marks it FIRED. */
	atomic_store(&tc->where, TP_ARMING);
	if (atomic_load(&tc->watch.kick) != TP_NO_KICK) {
		atomic_store(&tc->where, TP_HELD);
		return false;
	}
	if (epoll_ctl(p->epfd, tc->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, tc->c.fd, &ev) < 0) {
		log_error(p->name, "cannot watch a connection: %s", strerror(errno));
		atomic_compare_exchange_strong(&tc->watch.kick, &none, (int)DRIVER_PEER_GONE);
		atomic_store(&tc->where, TP_HELD);
		return false;
	}
	tc->registered = true;
	if (!atomic_compare_exchange_strong(&tc->where, &arming, TP_IN_POLLER)) {
		/* FIRED: the poller left it to us. */
		atomic_store(&tc->where, TP_HELD);
		return false;
	}
	/* tc is the poller's now (or already another thread's): not touched again. */
	atomic_fetch_sub(&p->held, 1);
	tp_worker_room(p);
	return true;
}

/* One connection from the work queue until it leaves this thread. */
static void tp_worker_serve(struct tp_pool *p, struct tp_conn *tc)
{
	for (;;) {
		int r;

		tc->next = tp_slice_run(&tc->c, &tc->slice, &p->limits, &tc->watch);
		tp_worker_count_bytes(p, tc);
		switch (tc->next) {
		case TP_NEXT_WAIT:
			if (tp_worker_arm(p, tc))
				return;
			continue;
		case TP_NEXT_AGAIN:
			/* Still HELD, so the queue has room for it (it holds `cap`). Offered:
			 * this thread pops next, so no other needs waking for it. */
			r = tp_queue_offer(&p->work, tc, conn_now_usec());
			break;
		case TP_NEXT_RELAY:
		case TP_NEXT_CLOSE:
		default:
			/* A relay is the poller's to run (tp_relay.c): the thread is free again. */
			if (tc->next != TP_NEXT_RELAY)
				tp_worker_close(p, tc, tc->slice.outcome);
			r = tp_queue_push(&p->done, tc);
			if (r == 1)
				tp_worker_wake_poller(p);
			break;
		}
		if (r == -EPIPE)
			return; /* the pool is going away: its teardown closes tc */
		if (r < 0) {
			/* Both queues hold as many as may be HELD: this is a bug. */
			log_error(p->name, "threadpool: cannot queue a connection: %s",
			          strerror(-r));
			abort();
		}
		return;
	}
}

void *tp_worker_main(void *arg)
{
	struct tp_pool *p = arg;
	struct tp_conn *tc;

	while ((tc = tp_queue_pop(&p->work)))
		tp_worker_serve(p, tc);
	return NULL;
}
