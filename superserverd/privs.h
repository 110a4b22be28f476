/*
 * Dropping privileges in a service process, in the order that keeps each step
 * possible: bounding set, supplementary groups, gid, uid, then the retained
 * capabilities (ambient too, so exec'd programs keep them), no_new_privs, and the
 * process attributes (rlimits, umask, nice).
 */
#ifndef SUPERSERVERD_PRIVS_H
#define SUPERSERVERD_PRIVS_H

#include <stddef.h>

#include "superserverd/config.h"

/* Which step failed: also the service process's exit code, so the master can say. */
enum privs_step {
	PRIVS_OK = 0,
	PRIVS_EXIT_BASE = 200,
	PRIVS_RLIMIT = 200,
	PRIVS_BOUNDING,
	PRIVS_KEEPCAPS,
	PRIVS_SETGROUPS,
	PRIVS_SETGID,
	PRIVS_SETUID,
	PRIVS_CAPS,
	PRIVS_AMBIENT,
	PRIVS_NO_NEW_PRIVS,
	PRIVS_NICE,
	PRIVS_STEP_END,
};

/* Applies sc's identity to the calling process. Returns PRIVS_OK or the failed step
 * (errno set). */
enum privs_step privs_drop(const struct service_conf *sc);
const char *privs_step_name(int step);

#endif
