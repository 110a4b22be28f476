/*
 * superctl reload, start, stop, restart, drain, resume. The daemon answers at once
 * with the state it moved to ("stopping", "draining"); unless --no-block, superctl
 * then polls the status until the service reaches the state the command is for, so
 * that a script's next line sees it done.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "superctl/format.h"
#include "superctl/superctl.h"

/* Each string of a JSON array on a line of stderr. */
static void print_lines(const json_t *a)
{
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		fprintf(stderr, "%s\n", s ? s : "?");
	}
}

int cmd_reload(struct superctl *sc)
{
	json_t *reply;
	int r = superctl_call(sc, "reload", NULL, &reply);

	if (r == SUPERCTL_UNREACHABLE)
		return r;
	if (sc->json && r == SUPERCTL_OK) {
		superctl_print_json(reply);
	} else if (reply && !sc->json) {
		/* Errors first, as `superctl check` prints them; warnings either way. */
		print_lines(json_object_get(reply, "errors"));
		print_lines(json_object_get(reply, "warnings"));
		if (r == SUPERCTL_OK)
			printf("reloaded\n");
	}
	json_decref(reply);
	return r;
}

/* The state a blocking command waits for; NULL: the answer is the end of it. */
static const char *target_state(const char *command)
{
	if (strcmp(command, "stop") == 0)
		return "stopped";
	if (strcmp(command, "drain") == 0)
		return "drained";
	if (strcmp(command, "restart") == 0 || strcmp(command, "start") == 0)
		return "running";
	return NULL;
}

/* The service's state from `status`; SUPERCTL_OK with a copy in state. */
static int current_state(struct superctl *sc, const char *service, char *state, size_t len)
{
	json_t *reply, *services, *svc;
	size_t i;
	int r = superctl_call(sc, "status", NULL, &reply);

	if (r != SUPERCTL_OK)
		return r;
	r = SUPERCTL_FAILED;
	services = json_object_get(reply, "services");
	for (i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		if (strcmp(j_str(svc, "name"), service) == 0) {
			snprintf(state, len, "%s", j_str(svc, "state"));
			r = SUPERCTL_OK;
		}
	}
	if (r != SUPERCTL_OK)
		fprintf(stderr, "superctl: '%s' is no longer in the configuration\n", service);
	json_decref(reply);
	return r;
}

static int wait_for(struct superctl *sc, const char *service, const char *want, char *state,
                    size_t len, long long deadline)
{
	for (;;) {
		if (strcmp(state, want) == 0)
			return SUPERCTL_OK;
		/* A service that gave up will not get there by waiting. */
		if (strcmp(state, "failed") == 0) {
			fprintf(stderr, "superctl: %s: failed (see the daemon's log)\n", service);
			return SUPERCTL_FAILED;
		}
		if (client_now_ms() >= deadline) {
			fprintf(stderr, "superctl: %s: still %s, not %s, after %.3g s\n", service,
			        state, want, sc->timeout_sec);
			return SUPERCTL_FAILED;
		}
		client_pause_ms(CLIENT_POLL_MS);
		int r = current_state(sc, service, state, len);
		if (r != SUPERCTL_OK)
			return r;
	}
}

/* Polls the status until the service leaves `state`; SUPERCTL_FAILED at the deadline. */
static int wait_while(struct superctl *sc, const char *service, const char *state,
                      long long deadline)
{
	char now[32];

	for (;;) {
		client_pause_ms(CLIENT_POLL_MS);
		int r = current_state(sc, service, now, sizeof(now));
		if (r != SUPERCTL_OK)
			return r;
		if (strcmp(now, state) != 0)
			return SUPERCTL_OK;
		if (client_now_ms() >= deadline)
			return SUPERCTL_FAILED;
	}
}

int cmd_action(struct superctl *sc, const char *command, const char *service)
{
	long long deadline = client_now_ms() + (long long)(sc->timeout_sec * 1000);
	const char *want = sc->no_block ? NULL : target_state(command);
	json_t *reply = NULL;
	char state[32];
	int r;

	for (;;) {
		r = client_call(&sc->client, command, service, &reply);
		if (r < 0 || !want || strcmp(command, "start") != 0 ||
		    strcmp(j_str(reply, "code"), "busy") != 0)
			break;
		/* `start` while the service is still stopping: watch the status (which the
		 * daemon does not log, unlike a start) until it has stopped, then ask again. */
		int w = wait_while(sc, service, "stopping", deadline);
		if (w == SUPERCTL_UNREACHABLE) {
			json_decref(reply);
			return w;
		}
		if (w != SUPERCTL_OK)
			break; /* still stopping at the deadline: report the daemon's "busy" */
		json_decref(reply);
		reply = NULL;
	}
	r = superctl_outcome(sc, r, reply, &reply);
	if (r != SUPERCTL_OK) {
		json_decref(reply);
		return r;
	}
	snprintf(state, sizeof(state), "%s", j_str(reply, "state"));
	if (want)
		r = wait_for(sc, service, want, state, sizeof(state), deadline);
	if (sc->json) {
		json_object_set_new(reply, "state", json_string(state));
		superctl_print_json(reply);
	} else if (r == SUPERCTL_OK) {
		printf("%s: %s\n", service, state);
	}
	json_decref(reply);
	return r;
}
