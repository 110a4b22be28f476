/*
 * Dropping privileges in a service process, in the order that keeps each step
 * possible: bounding set, supplementary groups, gid, uid, then the retained
 * capabilities (ambient too, so exec'd programs keep them), no_new_privs, and the
 * process attributes (rlimits, umask, nice).
 */
#ifndef SUPERSERVERD_PRIVS_H
#define SUPERSERVERD_PRIVS_H

#include <stdbool.h>
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
 * (errno set). When the step is PRIVS_CAPS because the process does not hold one of
 * sc's capabilities, *missing_cap_r is that capability, else -1. */
enum privs_step privs_drop(const struct service_conf *sc, int *missing_cap_r);
const char *privs_step_name(int step);

/* Why the calling process cannot hand capability CAP on to a service process: NULL
 * when it can, else a phrase such as "not in superserverd's capability bounding set". A root
 * process keeps a capability for a service only if it is both in its bounding set
 * (or nothing could raise it again after the drop) and in its permitted set (it
 * cannot grant what it does not have). PERMITTED false checks the bounding set only:
 * for a process judging a configuration for a root daemon without being root. */
const char *privs_cap_missing(int cap, bool permitted);
/* "CAP_NET_BIND_SERVICE", or "capability N" for one libcap does not know. */
void privs_cap_name(int cap, char *buf, size_t len);

#endif
