/*
 * A threadpool worker thread: takes a connection from the work queue, gives it one
 * turn (tp_slice), closes it if it is finished, and hands it back to the poller.
 * Handlers run here and may block; the poller never runs handler code.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mpm/tp_pool.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"

/* Bytes are published after every turn so that statistics move during long
 * connections, not only at their end. */
static void tp_worker_count_bytes(struct tp_pool *p, struct tp_conn *tc)
{
	struct scoreboard_counters *k = &p->ctx->scoreboard->counters;

	if (tc->c.bytes_in != tc->counted_in)
		atomic_fetch_add(&k->bytes_in, tc->c.bytes_in - tc->counted_in);
	if (tc->c.bytes_out != tc->counted_out)
		atomic_fetch_add(&k->bytes_out, tc->c.bytes_out - tc->counted_out);
	tc->counted_in = tc->c.bytes_in;
	tc->counted_out = tc->c.bytes_out;
}

static void tp_worker_close(struct tp_pool *p, struct tp_conn *tc)
{
	enum driver_outcome o = tc->slice.outcome;

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

static void tp_worker_wake_poller(struct tp_pool *p)
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

void *tp_worker_main(void *arg)
{
	struct tp_pool *p = arg;
	struct tp_conn *tc;

	while ((tc = tp_queue_pop(&p->work))) {
		int r;

		tc->next = tp_slice_run(&tc->c, &tc->slice, &p->limits, &tc->watch);
		tp_worker_count_bytes(p, tc);
		if (tc->next == TP_NEXT_CLOSE)
			tp_worker_close(p, tc);

		r = tp_queue_push(&p->done, tc);
		if (r == 1)
			tp_worker_wake_poller(p);
		else if (r < 0) {
			/* The done queue holds as many as may be HELD: this is a bug. */
			log_error(p->name, "threadpool: cannot hand a connection back: %s",
			          strerror(-r));
			abort();
		}
	}
	return NULL;
}
