/*
 * The master: builds services from a configuration generation, supervises them on
 * sd-event, and switches generations on reload without closing a socket that is
 * still wanted. It never reads client bytes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include <grp.h>
#include <unistd.h>

#include "mpm/mpm.h"
#include <systemd/sd-daemon.h>

#include "superserverd/control.h"
#include "superserverd/fdstore.h"
#include "superserverd/listen.h"
#include "superserverd/runs_json.h"
#include "superserverd/scoreboard.h"
#include "superserverd/tcpinfo.h"
#include "superserverd/log.h"
#include "superserverd/master.h"
#include "superserverd/notify.h"
#include "superserverd/service.h"
#include "superserverd/stats_dgram.h"
#include "superserverd/tls_json.h"
#include "superserverd/upstream_json.h"
#include "superserverd/upgrade.h"
#include "version.h"

/* How long a new binary may take to start every service before it is given up. */
#define UPGRADE_TIMEOUT_USEC (60ULL * 1000000ULL)
/* How long a new binary waits for the old one's confirmation. */
#define UPGRADE_COMMIT_USEC (10ULL * 1000000ULL)

struct service_list {
	struct service **v;
	size_t n, cap;
};

struct master {
	sd_event *event;
	sd_event_source *sweep;
	const char *config_path;
	struct config_load_opts opts;
	struct config *cfg;
	struct listen_table *listeners;
	struct service_list current; /* the running generation's services */
	struct service_list retired; /* draining services of earlier generations */
	bool shutting_down;
	int stop_signals;
	struct control *control;
	uint64_t started_usec;
	uint64_t generation; /* configurations loaded: 1 at start, +1 per successful reload */
	const struct master_exec *self;
	struct upgrade *upgrade;  /* the latest re-exec we started */
	char upgrade_error[256];  /* why it failed, for `superctl upgrade` to report */
	bool pending_commit;      /* we are that new process, not yet handed over to */
	bool reload_after_commit; /* a SIGHUP came meanwhile */
};

static bool upgrading(const struct master *m)
{
	return m->upgrade && !upgrade_finished(m->upgrade);
}

static int list_push(struct service_list *l, struct service *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct service **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

static void update_status(struct master *m, bool ready)
{
	size_t procs = 0, failed = 0;
	char status[256];

	for (size_t i = 0; i < m->current.n; i++) {
		procs += service_process_count(m->current.v[i]);
		failed += service_state(m->current.v[i]) == SERVICE_FAILED;
	}
	int n = snprintf(status, sizeof(status), "%zu service%s, %zu process%s", m->current.n,
	                 m->current.n == 1 ? "" : "s", procs, procs == 1 ? "" : "es");
	if (failed && n > 0 && (size_t)n < sizeof(status))
		snprintf(status + n, sizeof(status) - (size_t)n, ", %zu failed", failed);
	if (ready)
		notify_ready(status);
	else
		notify_status("%s", status);
}

static int on_sweep(sd_event_source *s, void *userdata)
{
	struct master *m = userdata;
	size_t n = 0;

	for (size_t i = 0; i < m->retired.n; i++) {
		struct service *svc = m->retired.v[i];
		if (service_state(svc) == SERVICE_STOPPED)
			service_free(svc);
		else
			m->retired.v[n++] = svc;
	}
	m->retired.n = n;
	if (m->shutting_down && m->retired.n == 0 && m->current.n == 0) {
		log_info(NULL, "all services stopped");
		sd_event_exit(m->event, 0);
	}
	return 0;
}

/* A stopping service's last process is gone. Freeing it here would pull it out from
 * under the callback that told us, so sweep from a defer source. */
static void on_service_gone(struct service *svc, void *userdata)
{
	struct master *m = userdata;
	if (sd_event_source_set_enabled(m->sweep, SD_EVENT_ONESHOT) < 0)
		log_error(NULL, "cannot schedule cleanup of stopped services");
}

static struct service_env master_env(struct master *m)
{
	return (struct service_env){.event = m->event,
	                            .listeners = m->listeners,
	                            .gone = on_service_gone,
	                            .userdata = m};
}

static void log_diag(int level, const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		log_msg(level, NULL, "%s", d->msgs[i]);
}

/* Creates one service per entry of cfg; all or nothing. */
static int build_services(struct master *m, struct config *cfg, struct service_list *out,
                          struct diag *d)
{
	struct service_env env = master_env(m);
	int r = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		struct service *svc = service_new(&env, cfg, &cfg->services[i], d);
		if (!svc || list_push(out, svc) < 0) {
			service_free(svc);
			r = -1;
		}
	}
	if (r < 0) {
		for (size_t i = 0; i < out->n; i++)
			service_free(out->v[i]);
		out->n = 0;
	}
	return r;
}

static struct service *take_by_name(struct service_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] && strcmp(service_name(l->v[i]), name) == 0) {
			struct service *s = l->v[i];
			l->v[i] = NULL;
			return s;
		}
	return NULL;
}

static void retire(struct master *m, struct service *svc)
{
	if (list_push(&m->retired, svc) < 0) {
		/* Cannot track it: stop it hard rather than lose its processes. */
		service_kill(svc);
		return;
	}
	service_stop(svc);
}

static void apply_control_access(struct master *m);

/* Returns 0, or -1 with the reasons in d (the running configuration is kept). */
static int reload(struct master *m, struct diag *d)
{
	struct config *cfg = NULL;
	struct service_list fresh = {0}, next = {0};
	size_t added = 0, changed = 0, removed = 0, kept = 0;
	int r;

	notify_reloading();
	log_info(NULL, "reloading %s", m->config_path);
	r = config_load(m->config_path, &m->opts, &cfg, d);
	diag_report_warnings(d, NULL);
	if (r < 0 || build_services(m, cfg, &fresh, d) < 0) {
		log_diag(LOG_ERR, d);
		log_error(NULL, "reload failed (%zu error%s): keeping the running configuration",
		          diag_count(d), diag_count(d) == 1 ? "" : "s");
		char status[400];
		/* One message, so READY=1 never shows a status that is about to change. */
		snprintf(status, sizeof(status),
		         "reload failed, running the previous configuration: %s",
		         d->n ? d->msgs[0] : "unknown error");
		notify_ready(status);
		if (cfg)
			config_unref(cfg);
		free(fresh.v);
		return -1;
	}

	/* Commit: nothing below can fail in a way that leaves a service unaccounted for. */
	for (size_t i = 0; i < fresh.n; i++) {
		struct service *nsvc = fresh.v[i];
		struct service *old = take_by_name(&m->current, service_name(nsvc));

		/* Unchanged and not failed: left alone, drained or stopped ones included. */
		if (old && service_state(old) != SERVICE_FAILED &&
		    strcmp(service_conf(old)->fingerprint, service_conf(nsvc)->fingerprint) == 0) {
			service_adopt(old, nsvc);
			list_push(&next, old);
			kept++;
			continue;
		}
		if (old) {
			log_info(service_name(old), "configuration changed: restarting");
			retire(m, old);
			changed++;
		} else {
			added++;
		}
		list_push(&next, nsvc);
		service_start(nsvc);
	}
	for (size_t i = 0; i < m->current.n; i++)
		if (m->current.v[i]) {
			log_info(service_name(m->current.v[i]), "removed from the configuration");
			retire(m, m->current.v[i]);
			removed++;
		}
	free(m->current.v);
	free(fresh.v);
	m->current = next;
	config_unref(m->cfg);
	m->cfg = cfg;
	log_set_level(cfg->log_level);
	m->generation++;
	apply_control_access(m);
	log_info(NULL, "reloaded: %zu added, %zu changed, %zu removed, %zu unchanged", added,
	         changed, removed, kept);
	update_status(m, true);
	return 0;
}

static void shutdown_all(struct master *m)
{
	if (upgrading(m)) {
		log_notice(NULL, "stopping: abandoning the upgrade to pid %d",
		           (int)upgrade_pid(m->upgrade));
		upgrade_free(m->upgrade);
		m->upgrade = NULL;
	}
	m->shutting_down = true;
	listen_table_exiting(m->listeners);
	notify_stopping();
	log_info(NULL, "stopping %zu service%s", m->current.n, m->current.n == 1 ? "" : "s");
	for (size_t i = 0; i < m->current.n; i++)
		retire(m, m->current.v[i]);
	m->current.n = 0;
	on_sweep(NULL, m);
}

/* The new process is ready: it serves from now on, we finish what we hold. */
static void upgrade_done(struct upgrade *u, bool ok, pid_t pid, const char *error, void *userdata)
{
	struct master *m = userdata;

	(void)u;
	if (!ok) {
		snprintf(m->upgrade_error, sizeof(m->upgrade_error), "%s", error);
		log_error(NULL, "upgrade failed, still serving as pid %d: %s", (int)getpid(),
		          error);
		update_status(m, false);
		return;
	}
	log_notice(NULL, "upgrade: pid %d serves now; this process (pid %d) drains and exits",
	           (int)pid, (int)getpid());
	/* systemd follows the new main process (NotifyAccess=main allows this message
	 * only from us, which is why the new process waits for "commit"). */
	if (sd_notifyf(0, "MAINPID=%d\nSTATUS=upgraded: pid %d serves", (int)pid, (int)pid) < 0)
		log_warning(NULL, "upgrade: cannot tell the service manager the new main pid");
	/* Anything more from us would be refused as not from the main pid, or worse,
	 * mistaken for the new process's state. */
	unsetenv("NOTIFY_SOCKET");
	sd_event_set_watchdog(m->event, 0);
	listen_table_keep_files(m->listeners, true);
	if (m->control) {
		control_keep_file(m->control, true); /* the new process answers on it */
		control_free(m->control);
		m->control = NULL;
	}
	shutdown_all(m);
}

static int start_upgrade(struct master *m, char *err, size_t errlen)
{
	int *fds;
	const char **names;
	size_t n;
	int r;

	if (m->shutting_down) {
		snprintf(err, errlen, "stopping");
		return -1;
	}
	if (m->pending_commit) {
		snprintf(err, errlen, "this process is itself taking over from an upgrade");
		return -1;
	}
	if (upgrading(m)) {
		snprintf(err, errlen, "an upgrade to pid %d is already under way",
		         (int)upgrade_pid(m->upgrade));
		return -1;
	}
	if (!m->self || !m->self->exe[0]) {
		snprintf(err, errlen, "the path of the running binary is unknown");
		return -1;
	}
	if (listen_table_handover(m->listeners, &fds, &names, &n, err, errlen) < 0)
		return -1;
	if (m->control) {
		fds[n] = control_fd(m->control);
		names[n++] = FDSTORE_CONTROL;
	}
	upgrade_free(m->upgrade);
	m->upgrade = NULL;
	m->upgrade_error[0] = '\0';
	r = upgrade_start(m->event, m->self->exe, m->self->argv, fds, names, n,
	                  UPGRADE_TIMEOUT_USEC, upgrade_done, m, &m->upgrade, err, errlen);
	free(fds);
	free(names);
	if (r < 0)
		return -1;
	log_notice(NULL, "upgrade: started %s as pid %d with %zu socket%s", m->self->exe,
	           (int)upgrade_pid(m->upgrade), n, n == 1 ? "" : "s");
	notify_status("upgrading: pid %d starting", (int)upgrade_pid(m->upgrade));
	return 0;
}

/* A reload nobody waits for the answer of (SIGHUP): reload() logs the errors. */
static void reload_unasked(struct master *m)
{
	struct diag d;

	diag_init(&d);
	reload(m, &d);
	diag_free(&d);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct master *m = userdata;

	switch (si->ssi_signo) {
	case SIGHUP:
		if (m->pending_commit) {
			log_notice(NULL,
			           "SIGHUP: reloading once the previous process has handed over");
			m->reload_after_commit = true;
		} else if (upgrading(m)) {
			/* The new process may have read the file before it changed: it reloads
			 * too, once it has taken over (it holds the signal until then). */
			log_notice(NULL, "SIGHUP during the upgrade: passed on to pid %d",
			           (int)upgrade_pid(m->upgrade));
			if (kill(upgrade_pid(m->upgrade), SIGHUP) < 0)
				log_warning(NULL, "cannot pass SIGHUP on: %s", strerror(errno));
		} else if (!m->shutting_down) {
			reload_unasked(m);
		}
		break;
	case SIGUSR2: {
		char err[256];
		if (start_upgrade(m, err, sizeof(err)) < 0)
			log_error(NULL, "SIGUSR2: no upgrade: %s", err);
		break;
	}
	case SIGUSR1:
		/* logrotate moved the connection-record files: every process reopens. */
		log_info(NULL, "SIGUSR1: reopening connection-record files");
		for (size_t i = 0; i < m->current.n; i++)
			service_reopen_logs(m->current.v[i]);
		for (size_t i = 0; i < m->retired.n; i++)
			service_reopen_logs(m->retired.v[i]);
		break;
	case SIGTERM:
	case SIGINT:
		if (m->stop_signals++ == 0) {
			shutdown_all(m);
		} else {
			log_notice(NULL, "second stop signal: killing every service process now");
			for (size_t i = 0; i < m->retired.n; i++)
				service_kill(m->retired.v[i]);
		}
		break;
	}
	return 0;
}

static uint64_t mono_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static struct service *find_current(struct master *m, const char *name, size_t *idx_r)
{
	for (size_t i = 0; i < m->current.n; i++)
		if (strcmp(service_name(m->current.v[i]), name) == 0) {
			if (idx_r)
				*idx_r = i;
			return m->current.v[i];
		}
	return NULL;
}

/* The figures `status` shows for one service; `stats` adds to them. */
static json_t *service_summary(struct service *svc)
{
	const struct service_conf *sc = service_conf(svc);
	struct scoreboard *sb = service_scoreboard(svc);
	struct scoreboard_counters *c = &sb->counters;
	unsigned states[WORKER_STATE_COUNT] = {0};
	uint64_t active = 0, rejected = 0;
	json_t *listen = json_array(), *queues = json_array();

	for (unsigned i = 0; i < sb->n_slots; i++) {
		uint32_t st = atomic_load(&sb->slots[i].state);
		if (st < WORKER_STATE_COUNT)
			states[st]++;
		if (atomic_load(&sb->slots[i].pid))
			active += atomic_load(&sb->slots[i].active);
	}
	for (unsigned r = 0; r < REJECT_REASON_COUNT; r++)
		rejected += atomic_load(&c->rejected[r]);
	for (size_t i = 0; i < sc->n_listen; i++)
		json_array_append_new(listen, json_string(sc->listen[i].addr.key));
	for (size_t i = 0; i < service_n_listeners(svc); i++) {
		const struct listener *l = service_listener(svc, i);
		uint32_t depth, max;
		json_t *q = json_pack("{s:s}", "address", listener_key(l));
		if (tcpinfo_listen_queue(listener_fd(l), &depth, &max) == 0) {
			json_object_set_new(q, "depth", json_integer(depth));
			json_object_set_new(q, "max", json_integer(max));
		}
		json_array_append_new(queues, q);
	}
	uint64_t started = service_started_usec(svc);
	json_t *o = json_pack(
	        "{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:{s:i, s:i, s:i, s:i, s:i}, s:I, s:I, "
	        "s:f, s:o}",
	        "name", sc->name, "model", sc->mpm.ops->name, "state",
	        service_state_name(service_state(svc)), "listen", listen, "active",
	        (json_int_t)active, "accepted", (json_int_t)atomic_load(&c->accepted), "completed",
	        (json_int_t)atomic_load(&c->completed), "rejected", (json_int_t)rejected, "workers",
	        "total", (int)service_process_count(svc), "busy", (int)states[WORKER_BUSY], "idle",
	        (int)states[WORKER_IDLE], "starting", (int)states[WORKER_STARTING], "stopping",
	        (int)states[WORKER_STOPPING], "restarts", (json_int_t)atomic_load(&c->restarts),
	        "crashes", (json_int_t)atomic_load(&c->crashes), "uptime_sec",
	        started && service_state(svc) == SERVICE_RUNNING
	                ? (double)(mono_usec() - started) / 1e6
	                : 0.0,
	        "listen_queue", queues);
	json_t *dgram = o ? stats_dgram_json(svc) : NULL;

	if (dgram)
		json_object_set_new(o, "datagrams", dgram);
	/* Programs handed the socket itself: their runs are what there is to show. */
	if (o && (sc->mpm.ops->flags & MPM_DGRAM_EXEC))
		json_object_set_new(o, "runs", runs_json(sb));
	/* Relayed connections: their connects towards the target. */
	json_t *up = o ? upstream_json(c) : NULL;
	if (up)
		json_object_set_new(o, "upstream", up);
	return o;
}

/* The latest upgrade this process started: what `superctl upgrade` waits on. */
static json_t *upgrade_json(const struct master *m)
{
	const char *state = upgrading(m) ? "starting" : m->upgrade_error[0] ? "failed" : "done";
	json_t *j =
	        json_pack("{s:s, s:I}", "state", state, "pid", (json_int_t)upgrade_pid(m->upgrade));
	if (j && m->upgrade_error[0])
		json_object_set_new(j, "error", json_string(m->upgrade_error));
	return j;
}

static json_t *ctl_upgrade(void *userdata, const char **code, char *err, size_t errlen)
{
	struct master *m = userdata;

	if (start_upgrade(m, err, errlen) < 0) {
		*code = upgrading(m) || m->pending_commit ? "busy" : "failed";
		return NULL;
	}
	return json_pack("{s:I, s:I}", "old_pid", (json_int_t)getpid(), "new_pid",
	                 (json_int_t)upgrade_pid(m->upgrade));
}

static json_t *ctl_status(void *userdata)
{
	struct master *m = userdata;
	json_t *services = json_array();

	for (size_t i = 0; i < m->current.n; i++)
		json_array_append_new(services, service_summary(m->current.v[i]));
	json_t *st = json_pack("{s:s, s:I, s:f, s:I, s:s, s:o}", "version", SUPERSERVERD_VERSION,
	                       "pid", (json_int_t)getpid(), "uptime_sec",
	                       (double)(mono_usec() - m->started_usec) / 1e6, "generation",
	                       (json_int_t)m->generation, "config", m->config_path, "services",
	                       services);
	if (st && m->upgrade)
		json_object_set_new(st, "upgrade", upgrade_json(m));
	return st;
}

static json_t *service_stats(struct service *svc)
{
	struct scoreboard *sb = service_scoreboard(svc);
	struct scoreboard_counters *c = &sb->counters;
	json_t *o = service_summary(svc), *rej = json_object(), *buckets = json_array(),
	       *slots = json_array();
	uint64_t hist[SCOREBOARD_HIST_BUCKETS + 1], now = mono_usec();
	const struct service_conf *sc = service_conf(svc);

	for (unsigned r = 0; r < REJECT_REASON_COUNT; r++)
		json_object_set_new(rej, scoreboard_reject_name((enum reject_reason)r),
		                    json_integer((json_int_t)atomic_load(&c->rejected[r])));
	for (unsigned i = 0; i <= SCOREBOARD_HIST_BUCKETS; i++) {
		hist[i] = atomic_load(&c->duration_hist[i]);
		json_array_append_new(
		        buckets,
		        json_pack("{s:o, s:I}", "le_usec",
		                  i < SCOREBOARD_HIST_BUCKETS
		                          ? json_integer((json_int_t)scoreboard_hist_bounds_usec[i])
		                          : json_string("+Inf"),
		                  "count", (json_int_t)hist[i]));
	}
	for (unsigned i = 0; i < sb->n_slots; i++) {
		struct scoreboard_slot *sl = &sb->slots[i];
		uint64_t last = atomic_load(&sl->last_activity_usec);
		if (!atomic_load(&sl->pid))
			continue;
		json_array_append_new(
		        slots,
		        json_pack("{s:i, s:i, s:s, s:i, s:I, s:f}", "slot", (int)i, "pid",
		                  (int)atomic_load(&sl->pid), "state",
		                  scoreboard_state_name((enum worker_state)atomic_load(&sl->state)),
		                  "active", (int)atomic_load(&sl->active), "served",
		                  (json_int_t)atomic_load(&sl->served), "idle_sec",
		                  last ? (double)(now - last) / 1e6 : -1.0));
	}
	json_object_set_new(o, "rejected_by_reason", rej);
	json_object_set_new(o, "handler_errors",
	                    json_integer((json_int_t)atomic_load(&c->handler_errors)));
	json_object_set_new(o, "timeouts", json_integer((json_int_t)atomic_load(&c->timeouts)));
	json_object_set_new(o, "bytes_in", json_integer((json_int_t)atomic_load(&c->bytes_in)));
	json_object_set_new(o, "bytes_out", json_integer((json_int_t)atomic_load(&c->bytes_out)));
	json_object_set_new(o, "bytes_unknown",
	                    json_integer((json_int_t)atomic_load(&c->bytes_unknown)));
	json_object_set_new(o, "duration",
	                    json_pack("{s:I, s:I, s:I, s:I, s:o}", "sum_usec",
	                              (json_int_t)atomic_load(&c->duration_sum_usec), "p50_usec",
	                              (json_int_t)scoreboard_quantile_usec(hist, 0.50), "p90_usec",
	                              (json_int_t)scoreboard_quantile_usec(hist, 0.90), "p99_usec",
	                              (json_int_t)scoreboard_quantile_usec(hist, 0.99), "buckets",
	                              buckets));
	json_object_set_new(o, "processes", slots);
	json_t *tls = tls_json(sc, c, (int64_t)time(NULL));
	if (tls)
		json_object_set_new(o, "tls", tls);
	/* The timeouts in force, defaults included (0: none), so nobody has to guess. */
	json_object_set_new(o, "limits",
	                    json_pack("{s:I, s:I}", "idle_timeout_usec",
	                              (json_int_t)sc->limits.idle_timeout_usec, "max_duration_usec",
	                              (json_int_t)sc->limits.max_duration_usec));
	return o;
}

static json_t *ctl_stats(void *userdata, const char *name, const char **code, char *err,
                         size_t errlen)
{
	struct master *m = userdata;
	json_t *list = json_array();

	for (size_t i = 0; i < m->current.n; i++) {
		if (name && strcmp(service_name(m->current.v[i]), name) != 0)
			continue;
		json_array_append_new(list, service_stats(m->current.v[i]));
	}
	if (name && json_array_size(list) == 0) {
		json_decref(list);
		*code = "no-such-service";
		snprintf(err, errlen, "no service named '%s'", name);
		return NULL;
	}
	return json_pack("{s:o}", "services", list);
}

/* The messages of a diagnostics list as a JSON array of strings. */
static json_t *diag_json(char *const *msgs, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, control_text(msgs[i]));
	return a;
}

static int ctl_reload(void *userdata, json_t **errors, json_t **warnings)
{
	struct master *m = userdata;
	struct diag d;
	int r;

	diag_init(&d);
	if (upgrading(m) || m->pending_commit) {
		diag_error(&d, NULL,
		           "an upgrade is under way: reload once it is done (superctl "
		           "upgrade waits for that)");
		r = -1;
	} else {
		r = reload(m, &d);
	}
	if (r < 0)
		*errors = diag_json(d.msgs, d.n);
	if (d.n_warnings > 0)
		*warnings = diag_json(d.warnings, d.n_warnings);
	diag_free(&d);
	return r;
}

/* A fresh service for the same configuration entry, sharing the listening sockets. */
static struct service *replace_service(struct master *m, size_t idx, char *err, size_t errlen)
{
	struct service *old = m->current.v[idx];
	struct service_env env = master_env(m);
	struct diag d;
	struct service *nsvc;

	diag_init(&d);
	nsvc = service_new(&env, m->cfg, service_conf(old), &d);
	if (!nsvc) {
		snprintf(err, errlen, "%s", d.n ? d.msgs[0] : "cannot create the service");
		diag_free(&d);
		return NULL;
	}
	diag_free(&d);
	m->current.v[idx] = nsvc;
	/* A failed service may still have processes finishing: retired like any other,
	 * which also ends its turning clients away before the new one starts. */
	if (service_state(old) == SERVICE_STOPPED)
		service_free(old);
	else
		retire(m, old);
	service_start(nsvc);
	return nsvc;
}

static json_t *ctl_action(void *userdata, const char *cmd, const char *name, const char **code,
                          char *err, size_t errlen)
{
	struct master *m = userdata;
	size_t idx;
	struct service *svc = find_current(m, name, &idx);
	enum service_state st;

	if (!svc) {
		*code = "no-such-service";
		snprintf(err, errlen, "no service named '%s'", name);
		return NULL;
	}
	st = service_state(svc);
	if (!strcmp(cmd, "stop")) {
		if (st != SERVICE_STOPPED)
			service_stop(svc);
	} else if (!strcmp(cmd, "start")) {
		/* Restarting: start now, without waiting out the backoff. */
		if (st == SERVICE_STOPPED || st == SERVICE_FAILED || st == SERVICE_RESTARTING)
			svc = replace_service(m, idx, err, errlen);
		else if (st == SERVICE_STOPPING) {
			*code = "busy";
			snprintf(err, errlen,
			         "'%s' is still stopping; try again when it has stopped", name);
			return NULL;
		}
	} else if (!strcmp(cmd, "restart")) {
		svc = replace_service(m, idx, err, errlen);
	} else if (!strcmp(cmd, "drain")) {
		if (st == SERVICE_RUNNING || st == SERVICE_RESTARTING)
			service_drain(svc);
		else if (st != SERVICE_DRAINING && st != SERVICE_DRAINED) {
			*code = "not-running";
			snprintf(err, errlen, "'%s' is %s, not running", name,
			         service_state_name(st));
			return NULL;
		}
	} else if (!strcmp(cmd, "resume")) {
		if (service_resume(svc) < 0) {
			*code = "not-drained";
			snprintf(err, errlen, "'%s' is %s: resume undoes a drain (use start)", name,
			         service_state_name(st));
			return NULL;
		}
	}
	if (!svc) {
		*code = "failed";
		return NULL;
	}
	update_status(m, false);
	return json_pack("{s:s, s:s}", "service", name, "state",
	                 service_state_name(service_state(svc)));
}

static const struct control_ops master_control_ops = {
        .status = ctl_status,
        .stats = ctl_stats,
        .reload = ctl_reload,
        .action = ctl_action,
        .upgrade = ctl_upgrade,
};

static struct control_access control_access_of(const struct config *cfg)
{
	struct control_access a = {.daemon_uid = geteuid()};
	struct group *g;

	if (cfg->control_group && (g = getgrnam(cfg->control_group))) {
		a.has_read_gid = true;
		a.read_gid = g->gr_gid;
	}
	if (cfg->control_admin_group && (g = getgrnam(cfg->control_admin_group))) {
		a.has_admin_gid = true;
		a.admin_gid = g->gr_gid;
	}
	return a;
}

static void apply_control_access(struct master *m)
{
	if (m->control) {
		struct control_access a = control_access_of(m->cfg);
		control_set_access(m->control, &a);
	}
}

static int open_control(struct master *m, int inherited_fd)
{
	char path[108], err[512] = "";
	struct control_access a = control_access_of(m->cfg);
	int r;

	if (m->cfg->control_socket)
		snprintf(path, sizeof(path), "%s", m->cfg->control_socket);
	else if (control_default_path(path, sizeof(path)) < 0) {
		log_error(NULL, "no usable default control socket path");
		return -ENAMETOOLONG;
	}
	r = control_open(m->event, path, inherited_fd, &a, &master_control_ops, m, &m->control, err,
	                 sizeof(err));
	if (r < 0) {
		log_error(NULL, "%s", err[0] ? err : strerror(-r));
		return r;
	}
	log_info(NULL, "control socket %s", path);
	return 0;
}

static int setup_loop(struct master *m, bool watchdog)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
	sigset_t mask;
	int r;

	/* Blocked before the first fork; service processes unblock them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&mask, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_new(&m->event);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		r = sd_event_add_signal(m->event, NULL, sigs[i], on_signal, m);
		if (r < 0)
			return r;
	}
	r = sd_event_add_defer(m->event, &m->sweep, on_sweep, m);
	if (r < 0)
		return r;
	r = sd_event_source_set_enabled(m->sweep, SD_EVENT_OFF);
	if (r < 0)
		return r;
	/* Pings at half of WATCHDOG_USEC while the loop turns; a no-op without it. */
	return watchdog ? sd_event_set_watchdog(m->event, 1) : 0;
}

static bool configured(const char *key, void *userdata)
{
	const struct config *cfg = userdata;
	for (size_t i = 0; i < cfg->n_services; i++)
		for (size_t j = 0; j < cfg->services[i].n_listen; j++)
			if (strcmp(cfg->services[i].listen[j].addr.key, key) == 0)
				return true;
	return false;
}

/* New process of an upgrade: READY and the watchdog wait until the old one has made us
 * the main process, or systemd would drop them (NotifyAccess=main). */
static void upgrade_committed(bool ok, void *userdata)
{
	struct master *m = userdata;

	if (ok)
		log_notice(NULL, "upgrade: this process (pid %d) is the main process now",
		           (int)getpid());
	else
		log_warning(NULL, "upgrade: the previous process did not confirm the handover; "
		                  "serving anyway");
	if (sd_event_set_watchdog(m->event, 1) < 0)
		log_warning(NULL, "cannot enable the watchdog");
	m->pending_commit = false;
	/* Ours now: the sockets the new configuration dropped go for good (their files,
	 * systemd's copies), and systemd gets the ones it added (it refused our messages
	 * while we were not its main process). */
	listen_table_keep_files(m->listeners, false);
	fdstore_release();
	listen_table_close_unused(m->listeners);
	listen_table_store_all(m->listeners);
	if (m->control) {
		control_keep_file(m->control, false);
		control_store(m->control);
	}
	update_status(m, true);
	if (m->reload_after_commit) {
		m->reload_after_commit = false;
		reload_unasked(m);
	}
}

int master_run(struct config *cfg, const char *config_path, const struct config_load_opts *opts,
               const struct master_exec *self)
{
	struct master m = {.config_path = config_path, .opts = *opts, .cfg = cfg, .self = self};
	int up_fd = upgrade_child_fd();
	struct diag d;
	int r, rc = 1;

	diag_init(&d);
	if (up_fd >= 0) {
		fdstore_hold();
		m.pending_commit = true;
	}
	log_set_level(cfg->log_level);
	r = setup_loop(&m, up_fd < 0);
	if (r < 0) {
		log_error(NULL, "cannot set up the event loop: %s", strerror(-r));
		goto out;
	}
	m.listeners = listen_table_new();
	if (!m.listeners)
		goto out;
	/* Until the handover, the previous process serves these sockets too: a failed
	 * start here must not remove its socket files. */
	listen_table_keep_files(m.listeners, up_fd >= 0);
	r = listen_table_inherit(m.listeners);
	if (r < 0)
		log_warning(NULL, "cannot take the sockets passed by systemd: %s", strerror(-r));
	else if (r > 0)
		log_info(NULL, "inherited %d socket%s%s", r, r == 1 ? "" : "s",
		         up_fd >= 0 ? " from the previous process (upgrade)" : "");

	/* After a restart: sockets the configuration dropped must not hold their ports
	 * while new addresses are bound. (During an upgrade the old process still uses
	 * them: they go after the handover.) */
	if (up_fd < 0)
		listen_table_drop_adopted(m.listeners, configured, cfg);
	if (build_services(&m, cfg, &m.current, &d) < 0) {
		log_diag(LOG_ERR, &d);
		log_error(NULL, "cannot start: %zu error%s", diag_count(&d),
		          diag_count(&d) == 1 ? "" : "s");
		goto out;
	}
	listen_table_close_unused(m.listeners);
	m.started_usec = mono_usec();
	m.generation = 1;
	if (open_control(&m, listen_table_take_control(m.listeners)) < 0)
		goto out;
	control_keep_file(m.control, up_fd >= 0);
	for (size_t i = 0; i < m.current.n; i++)
		if (service_start(m.current.v[i]) < 0)
			goto out;
	log_info(NULL, "superserverd ready: %zu service%s", m.current.n,
	         m.current.n == 1 ? "" : "s");
	if (up_fd >= 0) {
		r = upgrade_child_ready(m.event, up_fd, UPGRADE_COMMIT_USEC, upgrade_committed, &m);
		up_fd = -1; /* the handshake owns it now, or closed it */
		if (r < 0) {
			log_error(NULL, "upgrade: cannot answer the previous process: %s",
			          strerror(-r));
			goto out;
		}
	} else {
		update_status(&m, true);
	}

	r = sd_event_loop(m.event);
	rc = r < 0 ? 1 : 0;
	if (r < 0)
		log_error(NULL, "event loop failed: %s", strerror(-r));
out:
	if (rc != 0 && m.event) {
		/* Whatever started must not outlive us. */
		for (size_t i = 0; i < m.current.n; i++)
			service_kill(m.current.v[i]);
	}
	for (size_t i = 0; i < m.current.n; i++)
		service_free(m.current.v[i]);
	for (size_t i = 0; i < m.retired.n; i++)
		service_free(m.retired.v[i]);
	free(m.current.v);
	free(m.retired.v);
	upgrade_free(m.upgrade);
	if (up_fd >= 0)
		close(up_fd);
	fdstore_release();
	control_free(m.control);
	listen_table_free(m.listeners);
	sd_event_source_disable_unref(m.sweep);
	sd_event_unref(m.event);
	config_unref(m.cfg);
	diag_free(&d);
	return rc;
}
