/*
 * Service processes: forking them (and what a fresh service process does before the
 * MPM's worker code runs), supervising them with backoff, draining and stopping.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/admit.h"
#include "mpm/connlog.h"
#include "mpm/mpm.h"
#include "mpm/relay.h"
#include "services/args.h"
#include "services/builtins.h"
#include "superserverd/backoff.h"
#include "superserverd/log.h"
#include "superserverd/module.h"
#include "superserverd/privs.h"
#include "superserverd/scoreboard.h"
#include "superserverd/service.h"
#include "superserverd/tls.h"
#include "superserverd/turnaway.h"
#include "superserverd/units.h"
#include "superserverd/watch.h"

/* Exit codes of a service process besides the privilege steps (privs.h). */
enum {
	SERVICE_EXIT_SETUP = 3, /* the handler's setup failed */
	SERVICE_EXIT_INIT = 4,  /* fds, signals or /dev/null */
};

struct worker {
	pid_t pid; /* 0 = not running */
	sd_event_source *child;
	sd_event_source *restart;
	uint64_t started_usec;
	struct backoff backoff;
	struct service *svc;
	unsigned index;
	bool retiring; /* asked to leave by the model: its clean exit needs no successor */
};

struct service {
	struct service_env env;
	struct config *cfg;
	const struct service_conf *conf;
	struct listener **listeners;
	size_t n_listeners;
	enum service_state state;
	struct worker *workers;
	size_t n_workers;
	sd_event_source *kill_timer;
	sd_event_source *tick_timer;
	sd_event_source *watch_timer; /* once a second: failure episodes */
	struct service_watch watch;
	struct scoreboard *scoreboard;
	int scoreboard_fd;
	/* JSON connection records: services send datagrams, the master appends them. */
	int connlog_sock[2]; /* [0] ours, [1] the service processes' */
	int connlog_file;
	sd_event_source *connlog_io;
	struct mpm_pool pool;
	/* Some process of this service has served (scoreboard_has_served): from then on
	 * crashes are incidents (a client may be provoking them), never a reason to give up. */
	bool proven;
	uint64_t started_usec;
	/* Process groups of service processes that died while their connection children
	 * may live on: killed with the service. */
	pid_t *orphan_groups;
	size_t n_orphan_groups;
	/* While failed: the master turns clients away on the listening sockets. */
	struct turnaway *turnaway;
};

static void pool_init(struct service *svc);
static void stop_workers(struct service *svc);
static void mark_failed(struct service *svc);

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

const char *service_state_name(enum service_state s)
{
	switch (s) {
	case SERVICE_RUNNING:
		return "running";
	case SERVICE_FAILED:
		return "failed";
	case SERVICE_STOPPING:
		return "stopping";
	case SERVICE_STOPPED:
		return "stopped";
	case SERVICE_DRAINING:
		return "draining";
	case SERVICE_DRAINED:
		return "drained";
	case SERVICE_RESTARTING:
		return "restarting";
	}
	return "unknown";
}

static void release_listeners(struct service *svc)
{
	for (size_t i = 0; i < svc->n_listeners; i++)
		listen_release(svc->env.listeners, svc->listeners[i]);
	free(svc->listeners);
	svc->listeners = NULL;
	svc->n_listeners = 0;
}

static int connlog_reopen(struct service *svc)
{
	int fd = open(svc->conf->connlog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (svc->connlog_file >= 0)
		close(svc->connlog_file);
	svc->connlog_file = fd;
	return 0;
}

static int on_connlog(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct service *svc = userdata;
	char buf[CONNLOG_DGRAM_MAX];

	/* Bounded: records never starve supervision. */
	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
		if (svc->connlog_file >= 0 && write(svc->connlog_file, buf, (size_t)n) < 0)
			log_warning(svc->conf->name, "cannot write to %s: %s",
			            svc->conf->connlog_path, strerror(errno));
	}
	return 0;
}

static int connlog_setup(struct service *svc, struct diag *diag)
{
	const struct service_conf *sc = svc->conf;
	int r = connlog_reopen(svc);

	if (r < 0) {
		diag_error(diag, &sc->pos,
		           "service '%s': cannot open %s for connection records: %s", sc->name,
		           sc->connlog_path, strerror(-r));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, svc->connlog_sock) <
	            0 ||
	    sd_event_add_io(svc->env.event, &svc->connlog_io, svc->connlog_sock[0], EPOLLIN,
	                    on_connlog, svc) < 0) {
		diag_error(diag, &sc->pos, "service '%s': cannot set up connection records: %s",
		           sc->name, strerror(errno));
		return -1;
	}
	return 0;
}

void service_reopen_logs(struct service *svc)
{
	int r;
	if (svc->connlog_file < 0)
		return;
	r = connlog_reopen(svc);
	if (r < 0)
		log_error(svc->conf->name, "cannot reopen %s: %s", svc->conf->connlog_path,
		          strerror(-r));
}

struct service *service_new(const struct service_env *env, struct config *cfg,
                            const struct service_conf *sc, struct diag *diag)
{
	struct service *svc = calloc(1, sizeof(*svc));
	char err[512];

	if (!svc)
		goto oom;
	svc->env = *env;
	svc->conf = sc;
	svc->state = SERVICE_STOPPED;
	svc->listeners = calloc(sc->n_listen ? sc->n_listen : 1, sizeof(*svc->listeners));
	svc->scoreboard_fd = -1;
	svc->connlog_sock[0] = svc->connlog_sock[1] = svc->connlog_file = -1;
	svc->n_workers = sc->mpm.ops->max_workers(sc, sc->mpm.options);
	svc->workers = calloc(svc->n_workers ? svc->n_workers : 1, sizeof(*svc->workers));
	if (!svc->listeners || !svc->workers)
		goto oom;
	unsigned n_sources, held_cap;
	admit_sizes(sc, &n_sources, &held_cap);
	svc->scoreboard = scoreboard_create_admit((unsigned)svc->n_workers, n_sources, held_cap,
	                                          &svc->scoreboard_fd);
	if (!svc->scoreboard) {
		diag_error(diag, &sc->pos, "service '%s': cannot create its scoreboard: %s",
		           sc->name, strerror(errno));
		free(svc->listeners);
		free(svc->workers);
		free(svc);
		return NULL;
	}
	for (size_t i = 0; i < svc->n_workers; i++) {
		svc->workers[i].svc = svc;
		svc->workers[i].index = (unsigned)i;
	}
	for (size_t i = 0; i < sc->n_listen; i++) {
		struct listener *l =
		        listen_acquire(env->listeners, &sc->listen[i], err, sizeof(err));
		if (!l) {
			diag_error(diag, &sc->listen[i].pos, "service '%s': %s", sc->name, err);
			service_free(svc);
			return NULL;
		}
		svc->listeners[svc->n_listeners++] = l;
		if (sc->listen[i].addr.kind == ADDR_SYSTEMD && listener_socktype(l) == SOCK_DGRAM &&
		    config_dgram_refused(sc, &sc->listen[i], diag) < 0) {
			service_free(svc);
			return NULL;
		}
	}
	svc->cfg = config_ref(cfg);
	pool_init(svc);
	if (connlog_mode_of(sc) == CONNLOG_JSON && connlog_setup(svc, diag) < 0) {
		service_free(svc);
		return NULL;
	}
	return svc;
oom:
	diag_error(diag, &sc->pos, "service '%s': out of memory", sc->name);
	if (svc) {
		free(svc->listeners);
		free(svc->workers);
		free(svc);
	}
	return NULL;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Keep 0-2, our listening sockets and the journal's socket; close the rest (other
 * services' sockets, the master's event loop, the control socket). */
static int close_other_fds(const int *keep_in, size_t n_keep_in)
{
	int keep[n_keep_in + 5];
	size_t n = 0;
	int from = 3;

	for (size_t i = 0; i < n_keep_in; i++)
		keep[n++] = keep_in[i];
	if (log_journal_fd() >= 0)
		keep[n++] = log_journal_fd();
	qsort(keep, n, sizeof(int), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from && close_range((unsigned)from, (unsigned)keep[i] - 1, 0) < 0)
			return -errno;
		from = keep[i] + 1;
	}
	if (close_range((unsigned)from, ~0U, 0) < 0)
		return -errno;
	return 0;
}

static int reset_signals(void)
{
	sigset_t all;
	struct sigaction sa = {.sa_handler = SIG_DFL};

	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &sa, NULL); /* EINVAL for the signals glibc reserves */
	sigemptyset(&all);
	return sigprocmask(SIG_SETMASK, &all, NULL);
}

static int stdin_devnull(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fd != STDIN_FILENO) {
		if (dup2(fd, STDIN_FILENO) < 0) {
			close(fd);
			return -errno;
		}
		close(fd);
	}
	return 0;
}

/* Runs in the freshly forked service process; never returns. */
static void __attribute__((noreturn))
service_process_main(struct service *svc, unsigned index, pid_t master_pid)
{
	const struct service_conf *sc = svc->conf;
	int fds[svc->n_listeners + 2], types[svc->n_listeners + 1];
	struct worker_ctx ctx = {.conf = sc,
	                         .listen_fds = fds,
	                         .listen_types = types,
	                         .n_listen = svc->n_listeners,
	                         .index = index};
	struct ss_args args;
	struct service_conf silent;
	char err[512] = "";
	int r, missing_cap;

	const char *names[svc->n_listeners + 1];
	struct tls_server *own_tls[sc->n_listen + 1];
	size_t n_tls = 0;

	/* Forked from the master, this process holds every service's TLS contexts, and
	 * so their private keys: only its own are its business. */
	for (size_t i = 0; i < sc->n_listen; i++)
		if (sc->listen[i].tls)
			own_tls[n_tls++] = sc->listen[i].tls;
	(void)tls_server_keep_only(own_tls, n_tls);

	for (size_t i = 0; i < svc->n_listeners; i++) {
		fds[i] = listener_fd(svc->listeners[i]);
		types[i] = listener_socktype(svc->listeners[i]);
		names[i] = listener_name(svc->listeners[i], sc->name);
	}
	fds[svc->n_listeners] = svc->scoreboard_fd;
	fds[svc->n_listeners + 1] = svc->connlog_sock[1];
	ctx.listen_names = names;
	ctx.connlog_fd = svc->connlog_sock[1];
	if (setpgid(0, 0) < 0 || reset_signals() < 0 || stdin_devnull() < 0 ||
	    close_other_fds(fds, svc->n_listeners + (svc->connlog_sock[1] >= 0 ? 2 : 1)) < 0) {
		log_error(sc->name, "cannot prepare the service process: %s", strerror(errno));
		_exit(SERVICE_EXIT_INIT);
	}
	ctx.scoreboard = scoreboard_attach(svc->scoreboard_fd);
	if (!ctx.scoreboard) {
		log_error(sc->name, "cannot map the scoreboard: %s", strerror(errno));
		_exit(SERVICE_EXIT_INIT);
	}
	close(svc->scoreboard_fd);
	ctx.slot = &ctx.scoreboard->slots[index];
	atomic_store(&ctx.slot->pid, (int32_t)getpid());
	r = privs_drop(sc, &missing_cap);
	if (r != PRIVS_OK && missing_cap >= 0) {
		char cap[64];
		privs_cap_name(missing_cap, cap, sizeof(cap));
		log_error(sc->name, "%s failed: service '%s' keeps %s, which is %s: %s",
		          privs_step_name(r), sc->name, cap,
		          privs_cap_missing(missing_cap, true) ?: "not held", strerror(EPERM));
		_exit(r);
	}
	if (r != PRIVS_OK) {
		log_error(sc->name, "%s failed: %s", privs_step_name(r), strerror(errno));
		_exit(r);
	}
	/* A service process whose master is gone (SIGKILLed) would otherwise serve on
	 * forever: drain and leave instead. After the privilege drop, which clears it;
	 * and if the master died before this line, leave now. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != master_pid) {
		log_error(sc->name, "the master is gone: leaving");
		_exit(SERVICE_EXIT_INIT);
	}
	if (sc->kind == HANDLER_BUILTIN) {
		ctx.handler = builtin_find(sc->builtin);
		if (!ctx.handler) {
			log_error(sc->name, "unknown built-in '%s'", sc->builtin);
			_exit(SERVICE_EXIT_SETUP);
		}
	} else if (sc->kind == HANDLER_MODULE) {
		/* Loaded only now, as the service's user: its constructors never run with
		 * the daemon's privileges. */
		ctx.handler = module_load(sc->module_path, err, sizeof(err));
		if (!ctx.handler) {
			log_error(sc->name, "cannot load the handler module: %s", err);
			_exit(SERVICE_EXIT_SETUP);
		}
		/* Whether a module answers datagrams is known only once it is loaded. */
		for (size_t i = 0; i < svc->n_listeners && !ctx.handler->datagram; i++)
			if (types[i] == SOCK_DGRAM) {
				log_error(sc->name,
				          "module %s (handler '%s') has no datagram callback "
				          "(handler "
				          "ABI 1.2), so it cannot serve the datagram socket %s",
				          sc->module_path, ctx.handler->name,
				          listener_key(svc->listeners[i]));
				_exit(SERVICE_EXIT_SETUP);
			}
	}
	/* A module's flags are known only now (a built-in's were at load time): the
	 * default idle_timeout is not for a handler whose clients may stay silent. */
	if (ctx.handler && sc->limits.idle_timeout_default &&
	    (ctx.handler->flags & SS_HANDLER_SILENT_CLIENTS)) {
		silent = *sc;
		silent.limits.idle_timeout_usec = 0;
		ctx.conf = &silent;
	}
	if (ctx.handler && ctx.handler->setup) {
		args_view(&args, sc->args, sc->n_args);
		r = ctx.handler->setup(&args, &ctx.handler_data, err, sizeof(err));
		if (r < 0) {
			log_error(sc->name, "handler '%s' setup failed: %s", ctx.handler->name,
			          err[0] ? err : strerror(-r));
			_exit(SERVICE_EXIT_SETUP);
		}
	}
	/* Relays count their connects in the service's scoreboard and greet a client whose
	 * target is down with the service's banner. */
	relay_process_init(&ctx.scoreboard->counters, sc->banners[BANNER_FAIL].data,
	                   sc->banners[BANNER_FAIL].len, sc->limits.banner);
	r = sc->mpm.ops->worker_main(&ctx);
	if (ctx.handler && ctx.handler->teardown)
		ctx.handler->teardown(ctx.handler_data);
	_exit(r);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata);
static void schedule_restart(struct worker *w, uint64_t delay);

/*
 * Whether another process of W's service has stayed up: running, and either alive long
 * enough to count as healthy or never part of a crash loop in its slot. While one is,
 * a slot that keeps dying young does not fail the service (its healthy siblings keep
 * serving); it is retried at the longest backoff instead.
 */
static bool siblings_up(const struct worker *w)
{
	const struct service *svc = w->svc;
	uint64_t now = now_usec();

	for (size_t i = 0; i < svc->n_workers; i++) {
		const struct worker *o = &svc->workers[i];
		if (o == w || o->pid == 0 || o->retiring)
			continue;
		if (o->backoff.failures == 0 || now - o->started_usec >= BACKOFF_HEALTHY_USEC)
			return true;
	}
	return false;
}

static int spawn_worker(struct worker *w)
{
	struct service *svc = w->svc;
	struct scoreboard_slot *slot = &svc->scoreboard->slots[w->index];
	pid_t master_pid = getpid();
	pid_t pid;
	int r;

	/* Before the fork: the child may be serving (and say so) before we run again. */
	atomic_store(&slot->served, 0);
	atomic_store(&slot->active, 0);
	scoreboard_set_state(slot, WORKER_STARTING);
	pid = fork();

	if (pid < 0) {
		r = -errno;
		log_error(svc->conf->name, "cannot fork a service process: %s%s", strerror(errno),
		          errno == EAGAIN ? " (process limit reached? see ulimit -u / TasksMax=)"
		                          : "");
		scoreboard_set_state(slot, WORKER_EMPTY);
		return r;
	}
	if (pid == 0)
		service_process_main(svc, w->index, master_pid);
	/* Both sides set the group so neither can race the other's kill(-pgid). */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_warning(svc->conf->name, "setpgid(%d): %s", (int)pid, strerror(errno));
	r = sd_event_add_child(svc->env.event, &w->child, pid, WEXITED, on_child, w);
	if (r < 0) {
		log_error(svc->conf->name, "cannot watch process %d: %s", (int)pid, strerror(-r));
		kill(-pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return r;
	}
	w->pid = pid;
	w->started_usec = now_usec();
	atomic_store(&slot->pid, (int32_t)pid);
	log_debug(svc->conf->name, "started service process %d", (int)pid);
	return 0;
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct worker *w = userdata;
	w->restart = sd_event_source_disable_unref(w->restart);
	if (w->svc->state == SERVICE_RUNNING && w->pid == 0)
		atomic_fetch_add(&w->svc->scoreboard->counters.restarts, 1);
	if (w->svc->state == SERVICE_RUNNING && w->pid == 0 && spawn_worker(w) < 0) {
		uint64_t delay;
		if (!backoff_next(&w->backoff, 0, &delay)) {
			if (siblings_up(w)) {
				log_error(w->svc->conf->name,
				          "cannot start a service process, %d times in a row "
				          "(other processes are up: retrying every %llu s)",
				          BACKOFF_MAX_FAILURES + 1,
				          (unsigned long long)(BACKOFF_MAX_USEC / USEC_PER_SEC));
				schedule_restart(w, BACKOFF_MAX_USEC);
				return 0;
			}
			log_error(w->svc->conf->name,
			          "cannot start a service process, %d times in "
			          "a row: marking the service failed",
			          BACKOFF_MAX_FAILURES + 1);
			mark_failed(w->svc);
		} else if (sd_event_add_time_relative(w->svc->env.event, &w->restart,
		                                      CLOCK_MONOTONIC, delay, 0, on_restart,
		                                      w) < 0) {
			log_error(w->svc->conf->name,
			          "cannot schedule a restart: marking the service failed");
			mark_failed(w->svc);
		}
	}
	return 0;
}

static void schedule_restart(struct worker *w, uint64_t delay)
{
	w->restart = sd_event_source_disable_unref(w->restart);
	if (sd_event_add_time_relative(w->svc->env.event, &w->restart, CLOCK_MONOTONIC, delay, 0,
	                               on_restart, w) < 0) {
		log_error(w->svc->conf->name,
		          "cannot schedule a restart: marking the service failed");
		mark_failed(w->svc);
	}
}

static unsigned pool_running(struct mpm_pool *pool)
{
	struct service *svc = pool->priv;
	unsigned n = 0;
	for (size_t i = 0; i < svc->n_workers; i++)
		n += svc->workers[i].pid != 0 || svc->workers[i].restart != NULL;
	return n;
}

static int pool_spawn(struct mpm_pool *pool)
{
	struct service *svc = pool->priv;
	if (svc->state != SERVICE_RUNNING)
		return -ESHUTDOWN;
	for (size_t i = 0; i < svc->n_workers; i++) {
		struct worker *w = &svc->workers[i];
		if (w->pid == 0 && !w->restart)
			return spawn_worker(w);
	}
	return -EBUSY;
}

static int pool_retire(struct mpm_pool *pool, unsigned slot)
{
	struct service *svc = pool->priv;
	if (slot >= svc->n_workers || !svc->workers[slot].pid)
		return -ESRCH;
	if (svc->workers[slot].retiring)
		return -EALREADY;
	svc->workers[slot].retiring = true;
	scoreboard_set_state(&svc->scoreboard->slots[slot], WORKER_STOPPING);
	(void)kill(svc->workers[slot].pid, SIGTERM);
	return 0;
}

static bool pool_leaving(struct mpm_pool *pool, unsigned slot)
{
	struct service *svc = pool->priv;
	return slot < svc->n_workers && svc->workers[slot].pid && svc->workers[slot].retiring;
}

static void pool_init(struct service *svc)
{
	svc->pool = (struct mpm_pool){.conf = svc->conf,
	                              .options = svc->conf->mpm.options,
	                              .scoreboard = svc->scoreboard,
	                              .running = pool_running,
	                              .spawn = pool_spawn,
	                              .retire = pool_retire,
	                              .leaving = pool_leaving,
	                              .priv = svc};
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct service *svc = userdata;
	if (svc->state == SERVICE_RUNNING)
		svc->conf->mpm.ops->tick(&svc->pool);
	if (sd_event_source_set_time_relative(s, USEC_PER_SEC) < 0 ||
	    sd_event_source_set_enabled(s, SD_EVENT_ON) < 0)
		log_error(svc->conf->name, "cannot re-arm the maintenance timer");
	return 0;
}

/* Rejections and failed TLS handshakes are logged once per episode (watch.h). */
static int on_watch(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct service *svc = userdata;

	service_watch_look(&svc->watch, svc->scoreboard, svc->conf->name, now_usec());
	if (sd_event_source_set_time_relative(s, USEC_PER_SEC) < 0 ||
	    sd_event_source_set_enabled(s, SD_EVENT_ON) < 0)
		log_error(svc->conf->name, "cannot re-arm the failure watch");
	return 0;
}

static void describe_exit(const siginfo_t *si, char *buf, size_t len)
{
	if (si->si_code == CLD_EXITED) {
		const char *step = privs_step_name(si->si_status);
		if (step)
			snprintf(buf, len, "exited with status %d (%s failed)", si->si_status,
			         step);
		else if (si->si_status == SERVICE_EXIT_SETUP)
			snprintf(buf, len, "exited with status %d (handler setup failed)",
			         si->si_status);
		else
			snprintf(buf, len, "exited with status %d", si->si_status);
	} else {
		snprintf(buf, len, "killed by signal %d (%s)%s", si->si_status,
		         strsignal(si->si_status),
		         si->si_code == CLD_DUMPED ? ", core dumped" : "");
	}
}

static size_t running_workers(const struct service *svc)
{
	size_t n = 0;
	for (size_t i = 0; i < svc->n_workers; i++)
		n += svc->workers[i].pid != 0;
	return n;
}

static void kill_orphan_groups(struct service *svc)
{
	for (size_t i = 0; i < svc->n_orphan_groups; i++)
		(void)kill(-svc->orphan_groups[i], SIGKILL); /* ESRCH: nothing left, fine */
	svc->n_orphan_groups = 0;
}

static void remember_group(struct service *svc, pid_t pgid)
{
	size_t n = 0;

	/* Forget groups that have emptied so the list stays short over a long uptime. */
	for (size_t i = 0; i < svc->n_orphan_groups; i++)
		if (kill(-svc->orphan_groups[i], 0) == 0 || errno != ESRCH)
			svc->orphan_groups[n++] = svc->orphan_groups[i];
	svc->n_orphan_groups = n;
	pid_t *g = realloc(svc->orphan_groups, (svc->n_orphan_groups + 1) * sizeof(pid_t));
	if (!g)
		return;
	svc->orphan_groups = g;
	g[svc->n_orphan_groups++] = pgid;
}

static void check_stopped(struct service *svc)
{
	if (svc->state == SERVICE_DRAINING && running_workers(svc) == 0) {
		svc->state = SERVICE_DRAINED;
		log_info(svc->conf->name, "drained: new connections wait in the backlog");
		return;
	}
	if (svc->state != SERVICE_STOPPING || running_workers(svc) > 0)
		return;
	/* Strays left in a service process's group (daemonized children) go with the
	 * service. A program fork or wait starts leads a session of its own: the service
	 * process adopts and ends what it leaves behind (mpm/orphans.c), unless that
	 * process was killed itself; then it is left to systemd's cgroup. */
	kill_orphan_groups(svc);
	svc->kill_timer = sd_event_source_disable_unref(svc->kill_timer);
	svc->state = SERVICE_STOPPED;
	log_info(svc->conf->name, "stopped");
	if (svc->env.gone)
		svc->env.gone(svc, svc->env.userdata);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct worker *w = userdata;
	struct service *svc = w->svc;
	uint64_t lived = now_usec() - w->started_usec, delay;
	char how[160];

	struct scoreboard_slot *slot = &svc->scoreboard->slots[w->index];
	bool clean = si->si_code == CLD_EXITED && si->si_status == MPM_EXIT_RECYCLE;

	describe_exit(si, how, sizeof(how));
	w->child = sd_event_source_disable_unref(w->child);
	remember_group(svc, w->pid);
	w->pid = 0;
	if (scoreboard_has_served(svc->scoreboard))
		svc->proven = true;
	atomic_store(&slot->pid, 0);
	atomic_store(&slot->active, 0);
	scoreboard_set_state(slot, WORKER_EMPTY);
	/* Whatever it held (connection slots, per-source counts) dies with it. */
	admit_reclaim(svc->scoreboard, w->index);
	scoreboard_runs_reclaim(svc->scoreboard, slot);

	if (svc->state != SERVICE_RUNNING) {
		log_debug(svc->conf->name, "service process %d %s", (int)si->si_pid, how);
		check_stopped(svc);
		return 0;
	}
	bool retired = w->retiring;
	w->retiring = false;
	/* A program that keeps exiting at once would otherwise be respawned in a loop. */
	if (clean && svc->conf->kind == HANDLER_EXEC && lived < USEC_PER_SEC)
		clean = false;
	if (clean) {
		/* Retired by the model: gone for good. Left on its own (recycled): replaced
		 * at once, so the pool does not shrink until the next tick. */
		log_debug(svc->conf->name, "service process %d %s", (int)si->si_pid, how);
		backoff_reset(&w->backoff);
		if (!retired && spawn_worker(w) < 0)
			schedule_restart(w, BACKOFF_MIN_USEC);
		return 0;
	}
	if (si->si_code != CLD_EXITED)
		atomic_fetch_add(&svc->scoreboard->counters.crashes, 1);
	if (svc->proven) {
		/* A client may be crashing it on purpose: restart at once, never give up. */
		backoff_reset(&w->backoff);
	}
	bool again = backoff_next(&w->backoff, lived, &delay);
	if (!again && siblings_up(w)) {
		log_error(svc->conf->name,
		          "service process %d %s; that is %u early deaths in a row of this "
		          "process, but others are up: restarting it every %llu s",
		          (int)si->si_pid, how, w->backoff.failures,
		          (unsigned long long)(BACKOFF_MAX_USEC / USEC_PER_SEC));
		schedule_restart(w, BACKOFF_MAX_USEC);
		return 0;
	}
	if (!again) {
		/* The count is the deaths, restarts included: the number the docs give. */
		log_error(svc->conf->name,
		          "service process %d %s; that is %d early deaths in a row (%d restarts): "
		          "marking the service failed (a reload or `superctl start` starts it "
		          "again)",
		          (int)si->si_pid, how, BACKOFF_MAX_FAILURES + 1, BACKOFF_MAX_FAILURES);
		mark_failed(svc);
		return 0;
	}
	log_warning(svc->conf->name, "service process %d %s; restarting in %llu ms",
	            (int)si->si_pid, how, (unsigned long long)(delay / 1000));
	schedule_restart(w, delay);
	return 0;
}

/* Gives up on the service until it is started again: its other processes go, and
 * clients are turned away at once rather than left waiting in the backlog. */
static void mark_failed(struct service *svc)
{
	int fds[svc->n_listeners + 1];
	struct iovec msg[3];
	int n_msg = config_refusal_iov(svc->conf, false, msg);
	int r;

	svc->state = SERVICE_FAILED;
	stop_workers(svc);
	for (size_t i = 0; i < svc->n_listeners; i++)
		fds[i] = listener_fd(svc->listeners[i]);
	r = turnaway_start(svc->env.event, fds, svc->n_listeners, msg, n_msg, svc->conf->name,
	                   &svc->scoreboard->counters.rejected[REJECT_FAILED],
	                   &svc->scoreboard->counters.dgram, &svc->turnaway);
	if (r < 0)
		log_error(svc->conf->name,
		          "cannot turn clients away: %s (they wait in the backlog until the "
		          "service is started again)",
		          strerror(-r));
	else
		log_notice(svc->conf->name, "failed: new connections are closed at once%s",
		           n_msg ? ", after the banner" : "");
}

static void end_turnaway(struct service *svc)
{
	uint64_t n;

	if (!svc->turnaway)
		return;
	n = turnaway_free(svc->turnaway);
	svc->turnaway = NULL;
	log_info(svc->conf->name, "no longer turning clients away (%llu turned away)",
	         (unsigned long long)n);
}

int service_start(struct service *svc)
{
	const struct mpm_ops *ops = svc->conf->mpm.ops;
	unsigned start = ops->workers(svc->conf, svc->conf->mpm.options);

	svc->state = SERVICE_RUNNING;
	svc->started_usec = now_usec();
	for (size_t i = 0; i < svc->n_workers && i < start; i++) {
		int r = spawn_worker(&svc->workers[i]);
		if (r < 0)
			return r;
	}
	if (ops->tick && !svc->tick_timer &&
	    sd_event_add_time_relative(svc->env.event, &svc->tick_timer, CLOCK_MONOTONIC,
	                               USEC_PER_SEC, 0, on_tick, svc) < 0)
		log_error(svc->conf->name, "cannot start the maintenance timer");
	if (!svc->watch_timer &&
	    sd_event_add_time_relative(svc->env.event, &svc->watch_timer, CLOCK_MONOTONIC,
	                               USEC_PER_SEC, 0, on_watch, svc) < 0)
		log_error(svc->conf->name, "cannot start the failure watch");
	log_info(svc->conf->name, "started (%s, %zu listening socket%s)", svc->conf->mpm.ops->name,
	         svc->n_listeners, svc->n_listeners == 1 ? "" : "s");
	return 0;
}

static void kill_all(struct service *svc)
{
	for (size_t i = 0; i < svc->n_workers; i++) {
		pid_t pid = svc->workers[i].pid;

		/* A process just forked has no group of its own yet (setpgid comes first
		 * thing, but after the fork returned here): then it alone. */
		if (pid && kill(-pid, SIGKILL) < 0 && errno == ESRCH)
			(void)kill(pid, SIGKILL);
	}
	kill_orphan_groups(svc);
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct service *svc = userdata;
	svc->kill_timer = sd_event_source_disable_unref(svc->kill_timer);
	log_warning(svc->conf->name, "connections still open after the shutdown timeout: killing");
	kill_all(svc);
	return 0;
}

void service_stop(struct service *svc)
{
	if (svc->state == SERVICE_STOPPING || svc->state == SERVICE_STOPPED) {
		check_stopped(svc);
		return;
	}
	svc->state = SERVICE_STOPPING;
	end_turnaway(svc);
	release_listeners(svc);
	stop_workers(svc);
	if (running_workers(svc) > 0) {
		log_info(svc->conf->name, "stopping: draining connections (up to %llu ms)",
		         (unsigned long long)(svc->conf->shutdown_timeout_usec / 1000));
		if (sd_event_add_time_relative(svc->env.event, &svc->kill_timer, CLOCK_MONOTONIC,
		                               svc->conf->shutdown_timeout_usec, 0, on_kill_timer,
		                               svc) < 0)
			kill_all(svc);
	}
	check_stopped(svc);
}

static void stop_workers(struct service *svc)
{
	svc->tick_timer = sd_event_source_disable_unref(svc->tick_timer);
	for (size_t i = 0; i < svc->n_workers; i++) {
		struct worker *w = &svc->workers[i];
		w->restart = sd_event_source_disable_unref(w->restart);
		if (w->pid)
			(void)kill(w->pid, SIGTERM);
	}
}

void service_drain(struct service *svc)
{
	if (svc->state != SERVICE_RUNNING)
		return;
	svc->state = SERVICE_DRAINING;
	log_info(svc->conf->name, "draining: no new connections are accepted");
	stop_workers(svc);
	check_stopped(svc);
}

int service_resume(struct service *svc)
{
	const struct mpm_ops *ops = svc->conf->mpm.ops;
	unsigned start = ops->workers(svc->conf, svc->conf->mpm.options);

	if (svc->state != SERVICE_DRAINING && svc->state != SERVICE_DRAINED)
		return svc->state == SERVICE_RUNNING ? 0 : -EINVAL;
	svc->state = SERVICE_RUNNING;
	log_info(svc->conf->name, "resumed");
	/* Processes still finishing a drain exit cleanly and get successors then. */
	for (size_t i = 0; i < svc->n_workers && running_workers(svc) < start; i++)
		if (svc->workers[i].pid == 0 && spawn_worker(&svc->workers[i]) < 0)
			return -EAGAIN;
	if (ops->tick && !svc->tick_timer &&
	    sd_event_add_time_relative(svc->env.event, &svc->tick_timer, CLOCK_MONOTONIC,
	                               USEC_PER_SEC, 0, on_tick, svc) < 0)
		log_error(svc->conf->name, "cannot start the maintenance timer");
	return 0;
}

void service_kill(struct service *svc)
{
	if (svc->state != SERVICE_STOPPING)
		service_stop(svc);
	if (svc->state == SERVICE_STOPPING)
		kill_all(svc);
}

void service_adopt(struct service *svc, struct service *replacement)
{
	/* The replacement holds references to the very same listeners (same keys). A
	 * stopped service holds none: its sockets stay closed. */
	if (svc->state != SERVICE_STOPPED) {
		release_listeners(svc);
		svc->listeners = replacement->listeners;
		svc->n_listeners = replacement->n_listeners;
		replacement->listeners = NULL;
		replacement->n_listeners = 0;
	}
	config_unref(svc->cfg);
	svc->cfg = replacement->cfg;
	svc->conf = replacement->conf;
	replacement->cfg = NULL;
	/* Counters keep counting: the running scoreboard stays, the new one goes. */
	svc->pool.conf = svc->conf;
	svc->pool.options = svc->conf->mpm.options;
	service_free(replacement);
}

void service_free(struct service *svc)
{
	if (!svc)
		return;
	for (size_t i = 0; i < svc->n_workers; i++) {
		sd_event_source_disable_unref(svc->workers[i].child);
		sd_event_source_disable_unref(svc->workers[i].restart);
	}
	sd_event_source_disable_unref(svc->kill_timer);
	sd_event_source_disable_unref(svc->tick_timer);
	sd_event_source_disable_unref(svc->watch_timer);
	end_turnaway(svc);
	release_listeners(svc);
	scoreboard_unmap(svc->scoreboard);
	if (svc->scoreboard_fd >= 0)
		close(svc->scoreboard_fd);
	/* Drain what the processes said before they went. */
	if (svc->connlog_sock[0] >= 0)
		on_connlog(NULL, svc->connlog_sock[0], 0, svc);
	svc->connlog_io = sd_event_source_disable_unref(svc->connlog_io);
	for (int i = 0; i < 2; i++)
		if (svc->connlog_sock[i] >= 0)
			close(svc->connlog_sock[i]);
	if (svc->connlog_file >= 0)
		close(svc->connlog_file);
	free(svc->workers);
	free(svc->orphan_groups);
	if (svc->cfg)
		config_unref(svc->cfg);
	free(svc);
}

const char *service_name(const struct service *svc)
{
	return svc->conf->name;
}

const struct service_conf *service_conf(const struct service *svc)
{
	return svc->conf;
}

static bool restart_pending(const struct service *svc)
{
	for (size_t i = 0; i < svc->n_workers; i++)
		if (svc->workers[i].restart)
			return true;
	return false;
}

enum service_state service_state(const struct service *svc)
{
	if (svc->state == SERVICE_RUNNING && running_workers(svc) == 0 && restart_pending(svc))
		return SERVICE_RESTARTING;
	return svc->state;
}

struct scoreboard *service_scoreboard(const struct service *svc)
{
	return svc->scoreboard;
}

uint64_t service_started_usec(const struct service *svc)
{
	return svc->started_usec;
}

size_t service_n_listeners(const struct service *svc)
{
	return svc->n_listeners;
}

const struct listener *service_listener(const struct service *svc, size_t i)
{
	return i < svc->n_listeners ? svc->listeners[i] : NULL;
}

size_t service_process_count(const struct service *svc)
{
	return running_workers(svc);
}
