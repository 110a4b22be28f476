/*
 * superctl upgrade: the daemon re-executes its binary (see superserverd's upgrade.h)
 * and answers at once with the new pid. Unless --no-block, superctl then asks for
 * the status until the new process answers on the same socket (done) or the old one
 * reports that the new one failed.
 */
#include <stdio.h>
#include <string.h>

#include "superctl/format.h"
#include "superctl/superctl.h"

#define UPGRADE_WAIT_DEFAULT_SEC 65

int cmd_upgrade(struct superctl *sc)
{
	/* Without --timeout, wait as long as the daemon gives the new process (60 s) and
	 * a little more, so that a slow start is not reported as a failure. */
	double wait_sec = sc->timeout_given ? sc->timeout_sec : UPGRADE_WAIT_DEFAULT_SEC;
	long long deadline = client_now_ms() + (long long)(wait_sec * 1000);
	json_t *reply = NULL, *st = NULL;
	long long old_pid, new_pid;
	int r = superctl_call(sc, "upgrade", NULL, &reply);

	if (r != SUPERCTL_OK) {
		json_decref(reply);
		return r;
	}
	old_pid = j_int(reply, "old_pid");
	new_pid = j_int(reply, "new_pid");
	if (sc->no_block) {
		if (sc->json)
			superctl_print_json(reply);
		else
			printf("upgrade started: pid %lld -> %lld\n", old_pid, new_pid);
		json_decref(reply);
		return SUPERCTL_OK;
	}
	for (r = SUPERCTL_FAILED; client_now_ms() < deadline; client_pause_ms(CLIENT_POLL_MS)) {
		/* A new connection each time: the old process hands the socket over and
		 * drops the connections it holds. */
		client_close(&sc->client);
		json_decref(st);
		st = NULL;
		if (client_call(&sc->client, "status", NULL, &st) < 0 ||
		    !json_is_true(json_object_get(st, "ok")))
			continue; /* mid-handover; the deadline bounds this */
		if (j_int(st, "pid") == new_pid) {
			r = SUPERCTL_OK;
			break;
		}
		json_t *up = json_object_get(st, "upgrade");
		if (j_int(up, "pid") == new_pid && strcmp(j_str(up, "state"), "failed") == 0) {
			fprintf(stderr, "superctl: upgrade failed, pid %lld still serves: %s\n",
			        old_pid, j_str(up, "error"));
			json_object_set(reply, "upgrade", up);
			r = SUPERCTL_FAILED;
			goto out;
		}
	}
	if (r != SUPERCTL_OK)
		fprintf(stderr, "superctl: pid %lld did not take over within %.3g s\n", new_pid,
		        wait_sec);
out:
	if (sc->json) {
		json_object_set_new(reply, "done", json_boolean(r == SUPERCTL_OK));
		superctl_print_json(reply);
	} else if (r == SUPERCTL_OK) {
		printf("upgraded: pid %lld -> %lld\n", old_pid, new_pid);
	}
	json_decref(st);
	json_decref(reply);
	return r;
}
