/*
 * The threadpool model: `processes` service processes, each with one poller thread
 * and `threads` worker threads (Apache worker/event). The poller watches the shared
 * listening sockets and every idle connection; a connection with something to do is
 * handed to a free thread, which may block in the handler. An idle connection holds no
 * thread. See tp_poller.c for the hand-off and the back-pressure, tp_worker.c for the
 * threads, tp_slice.c for what a thread does with a connection.
 *
 * This file owns the options and the life of one service process: signals blocked
 * before any thread exists (the poller takes SIGTERM/SIGINT from a signalfd), the
 * threads started, and on the way out the work queue closed and every thread joined.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mpm/fdlimit.h"
#include "mpm/tp_pool.h"
#include "superserverd/config.h"
#include "superserverd/log.h"
#include "superserverd/listenfds.h"

/* How long a ready connection waits for a running thread before a sleeping one is
 * woken for it (tp_queue.h): well above an ordinary turn (microseconds), short
 * against a handler that blocks. */
#define TP_PATIENCE_USEC 1000

static const struct mpm_option tp_option_table[] = {
        {"processes", MPM_OPT_UINT, offsetof(struct tp_options, processes), 1, 64, 1,
         "service processes; they share the listening sockets"},
        {"threads", MPM_OPT_UINT, offsetof(struct tp_options, threads), 1, 1024, 8,
         "worker threads per process: handler callbacks running at once"},
        {"queue", MPM_OPT_UINT, offsetof(struct tp_options, queue), 0, 65536, 64,
         "connections per process waiting for a free thread; beyond, new clients wait in the "
         "listen backlog"},
};

static unsigned tp_processes(const struct service_conf *sc, const void *options)
{
	const struct tp_options *o = options;

	return (unsigned)o->processes;
}

static int tp_epoll_add(struct tp_pool *p, struct tp_tag *t)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};

	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, t->fd, &ev) < 0 ? -errno : 0;
}

static int tp_start_threads(struct tp_pool *p)
{
	p->threads = calloc(p->n_threads, sizeof(*p->threads));
	if (!p->threads)
		return -ENOMEM;
	for (unsigned i = 0; i < p->n_threads; i++) {
		int r = pthread_create(&p->threads[i], NULL, tp_worker_main, p);
		if (r != 0)
			return -r;
		p->n_started++;
		/* Only a name for ps/top: failing to set it is harmless. */
		(void)pthread_setname_np(p->threads[i], "ss-tp-worker");
	}
	return 0;
}

/* fs.nr_open's default: a soft limit above it cannot be set. */
#define TP_NOFILE_WANT ((rlim_t)1 << 20)

static int tp_setup(struct tp_pool *p, const struct worker_ctx *ctx)
{
	const struct tp_options *o = ctx->conf->mpm.options;
	sigset_t mask;
	int r;

	p->ctx = ctx;
	admit_init(&p->admit, ctx->conf, ctx->scoreboard, ctx->index);
	connlog_open(&p->connlog, ctx->conf, ctx->scoreboard, ctx->connlog_fd);
	p->name = ctx->conf->name;
	p->limits.idle_timeout_usec = ctx->conf->limits.idle_timeout_usec;
	p->limits.max_duration_usec = ctx->conf->limits.max_duration_usec;
	p->n_threads = (unsigned)o->threads;
	p->cap = (unsigned)(o->threads + o->queue);
	/* Idle connections hold no thread but each holds a descriptor: there is no bound
	 * but the descriptor limit, so take what the hard limit allows. */
	(void)fdlimit_raise(ctx->conf, p->name, TP_NOFILE_WANT);

	/* Before the first thread: every thread inherits the mask, so the signals reach
	 * only the signalfd. SIGHUP stays blocked and unread: reload is the master's. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	r = pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (r != 0)
		return -r;
	sigdelset(&mask, SIGHUP);
	p->sig = (struct tp_tag){.kind = TP_TAG_SIGNAL,
	                         .fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)};
	p->wake =
	        (struct tp_tag){.kind = TP_TAG_WAKE, .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->sig.fd < 0 || p->wake.fd < 0 || p->epfd < 0)
		return -errno;
	r = tp_epoll_add(p, &p->sig);
	if (r == 0)
		r = tp_epoll_add(p, &p->wake);
	if (r < 0)
		return r;

	/* A program they were handed to before may have left them blocking. */
	r = listenfds_nonblocking(ctx->listen_fds, ctx->n_listen);
	if (r < 0)
		return r;
	p->listeners = calloc(ctx->n_listen ? ctx->n_listen : 1, sizeof(*p->listeners));
	if (!p->listeners)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->n_listen; i++)
		p->listeners[i] = (struct tp_listener){
		        .tag = {.kind = TP_TAG_LISTENER, .fd = ctx->listen_fds[i]},
		        .lc = i < ctx->conf->n_listen ? &ctx->conf->listen[i] : NULL};

	r = tp_queue_init(&p->work, p->cap);
	if (r == 0)
		r = tp_queue_init(&p->done, p->cap);
	if (r < 0)
		return r;
	tp_queue_set_lazy(&p->work, p->n_threads, TP_PATIENCE_USEC);
	return tp_start_threads(p);
}

static void tp_cleanup(struct tp_pool *p)
{
	if (p->n_started > 0) {
		tp_queue_close(&p->work);
		for (unsigned i = 0; i < p->n_started; i++)
			pthread_join(p->threads[i], NULL);
		tp_poller_teardown(p);
	}
	/* After the threads are joined and the connections closed: they write records. */
	connlog_close(&p->connlog);
	free(p->threads);
	tp_queue_destroy(&p->work);
	tp_queue_destroy(&p->done);
	if (p->listeners)
		for (size_t i = 0; i < p->ctx->n_listen; i++)
			if (p->listeners[i].tag.fd >= 0)
				close(p->listeners[i].tag.fd);
	free(p->listeners);
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->sig.fd >= 0)
		close(p->sig.fd);
	if (p->wake.fd >= 0)
		close(p->wake.fd);
}

static int tp_worker_process_main(const struct worker_ctx *ctx)
{
	struct tp_pool p = {
	        .epfd = -1, .sig = {.fd = -1}, .wake = {.fd = -1}, .connlog = {.fd = -1}};
	int r, code = 0;

	if (!ctx->handler) {
		/* The configuration loader refuses exec services for this model. */
		log_error(ctx->conf->name, "threadpool runs built-in and module handlers only");
		return 1;
	}
	r = tp_setup(&p, ctx);
	if (r < 0) {
		log_error(ctx->conf->name, "cannot start the thread pool: %s", strerror(-r));
		code = 1;
		goto cleanup;
	}
	if (tp_poller_run(&p) < 0)
		code = 1;
cleanup:
	tp_cleanup(&p);
	return code;
}

const struct mpm_ops mpm_threadpool_ops = {
        .name = "threadpool",
        .flags = MPM_THREADED | MPM_PROXY | MPM_TLS,
        .options_size = sizeof(struct tp_options),
        .options = tp_option_table,
        .n_options = sizeof(tp_option_table) / sizeof(tp_option_table[0]),
        .workers = tp_processes,
        .max_workers = tp_processes,
        .worker_main = tp_worker_process_main,
};
