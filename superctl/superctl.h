/*
 * superctl: the command-line client of superserverd's control socket. Each command
 * lives in its own file; this header is what they share: the options, the exit codes
 * scripts rely on, and one call that turns a round trip into an exit code.
 */
#ifndef SUPERCTL_SUPERCTL_H
#define SUPERCTL_SUPERCTL_H

#include <stdbool.h>

#include <jansson.h>

#include "superctl/client.h"
#include "superserverd/control.h"

/* Exit codes (documented in superctl(1); scripts depend on them). */
enum {
	SUPERCTL_OK = 0,
	SUPERCTL_FAILED = 1,      /* the daemon refused or failed (ok: false), a bad file */
	SUPERCTL_USAGE = 2,       /* bad command line */
	SUPERCTL_UNREACHABLE = 3, /* no socket, connection refused, no answer in time */
};

struct superctl {
	bool json;                /* print the daemon's answers as JSON */
	bool no_block;            /* stop/restart/drain/start: do not wait for the state */
	double timeout_sec;       /* bound of every wait and of every round trip */
	bool timeout_given;       /* --timeout on the command line (else the default) */
	long iterations;          /* top: frames to draw, 0 = until 'q' */
	const char *config;       /* where to look for control.socket */
	struct ctl_client client; /* connected on first use */
};

/*
 * One request. Returns SUPERCTL_OK with the answer (ok: true) in *reply_r, or prints
 * why not on stderr and returns SUPERCTL_FAILED (ok: false) or SUPERCTL_UNREACHABLE.
 * reply_r may be NULL when only the outcome matters.
 */
int superctl_call(struct superctl *sc, const char *command, const char *service, json_t **reply_r);
/* The second half of superctl_call, for a client_call made by hand: r is its result,
 * reply its answer (taken over). */
int superctl_outcome(struct superctl *sc, int r, json_t *reply, json_t **reply_r);
/* Numbers with a fraction keep the digits the daemon sends them with (control.h). */
#define SUPERCTL_REAL_PRECISION JSON_REAL_PRECISION(CONTROL_REAL_DIGITS)
/* Prints a JSON value indented, on stdout. Returns an exit code. */
int superctl_print_json(const json_t *v);

int cmd_status(struct superctl *sc);
int cmd_stats(struct superctl *sc, const char *service);
int cmd_version(struct superctl *sc);
int cmd_top(struct superctl *sc);
int cmd_metrics(struct superctl *sc);
int cmd_reload(struct superctl *sc);
int cmd_upgrade(struct superctl *sc);
/* start, stop, restart, drain, resume */
int cmd_action(struct superctl *sc, const char *command, const char *service);
int cmd_check(const char *path);
/* import xinetd|inetd: argv[0] is "import"; runs locally, no daemon. */
int cmd_import(int argc, char **argv);

#endif
