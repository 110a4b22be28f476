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

#include <systemd/sd-event.h>

#include "superserverd/listen.h"
#include "superserverd/log.h"
#include "superserverd/master.h"
#include "superserverd/notify.h"
#include "superserverd/service.h"

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
};

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
	return (struct service_env){.event = m->event, .listeners = m->listeners,
				    .gone = on_service_gone, .userdata = m};
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

static void reload(struct master *m)
{
	struct config *cfg = NULL;
	struct service_list fresh = {0}, next = {0};
	struct diag d;
	size_t added = 0, changed = 0, removed = 0, kept = 0;

	notify_reloading();
	log_info(NULL, "reloading %s", m->config_path);
	diag_init(&d);
	if (config_load(m->config_path, &m->opts, &cfg, &d) < 0 ||
	    build_services(m, cfg, &fresh, &d) < 0) {
		log_diag(LOG_ERR, &d);
		log_error(NULL, "reload failed (%zu error%s): keeping the running configuration",
			  diag_count(&d), diag_count(&d) == 1 ? "" : "s");
		char status[400];
		/* One message, so READY=1 never shows a status that is about to change. */
		snprintf(status, sizeof(status),
			 "reload failed, running the previous configuration: %s",
			 d.n ? d.msgs[0] : "unknown error");
		notify_ready(status);
		if (cfg)
			config_unref(cfg);
		diag_free(&d);
		free(fresh.v);
		return;
	}
	diag_free(&d);

	/* Commit: nothing below can fail in a way that leaves a service unaccounted for. */
	for (size_t i = 0; i < fresh.n; i++) {
		struct service *nsvc = fresh.v[i];
		struct service *old = take_by_name(&m->current, service_name(nsvc));

		if (old && service_state(old) == SERVICE_RUNNING &&
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
	log_info(NULL, "reloaded: %zu added, %zu changed, %zu removed, %zu unchanged", added, changed,
		 removed, kept);
	update_status(m, true);
}

static void shutdown_all(struct master *m)
{
	m->shutting_down = true;
	notify_stopping();
	log_info(NULL, "stopping %zu service%s", m->current.n, m->current.n == 1 ? "" : "s");
	for (size_t i = 0; i < m->current.n; i++)
		retire(m, m->current.v[i]);
	m->current.n = 0;
	on_sweep(NULL, m);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct master *m = userdata;

	switch (si->ssi_signo) {
	case SIGHUP:
		if (!m->shutting_down)
			reload(m);
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

static int setup_loop(struct master *m)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
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
	return sd_event_set_watchdog(m->event, 1);
}

int master_run(struct config *cfg, const char *config_path, const struct config_load_opts *opts)
{
	struct master m = {.config_path = config_path, .opts = *opts, .cfg = cfg};
	struct diag d;
	int r, rc = 1;

	diag_init(&d);
	log_set_level(cfg->log_level);
	r = setup_loop(&m);
	if (r < 0) {
		log_error(NULL, "cannot set up the event loop: %s", strerror(-r));
		goto out;
	}
	m.listeners = listen_table_new();
	if (!m.listeners)
		goto out;
	r = listen_table_inherit(m.listeners);
	if (r < 0)
		log_warning(NULL, "cannot take the sockets passed by systemd: %s", strerror(-r));
	else if (r > 0)
		log_info(NULL, "inherited %d socket%s from systemd", r, r == 1 ? "" : "s");

	if (build_services(&m, cfg, &m.current, &d) < 0) {
		log_diag(LOG_ERR, &d);
		log_error(NULL, "cannot start: %zu error%s", diag_count(&d),
			  diag_count(&d) == 1 ? "" : "s");
		goto out;
	}
	listen_table_close_unused(m.listeners);
	for (size_t i = 0; i < m.current.n; i++)
		if (service_start(m.current.v[i]) < 0)
			goto out;
	log_info(NULL, "superserverd ready: %zu service%s", m.current.n,
		 m.current.n == 1 ? "" : "s");
	update_status(&m, true);

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
	listen_table_free(m.listeners);
	sd_event_source_disable_unref(m.sweep);
	sd_event_unref(m.event);
	config_unref(m.cfg);
	diag_free(&d);
	return rc;
}
