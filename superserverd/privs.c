/* The privilege drop of a service process (see privs.h for the order and why). */
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "superserverd/privs.h"

static const int rlimit_resource[RLIM_COUNT] = {
        [RLIM_NOFILE] = RLIMIT_NOFILE, [RLIM_NPROC] = RLIMIT_NPROC, [RLIM_AS] = RLIMIT_AS,
        [RLIM_CPU] = RLIMIT_CPU,       [RLIM_CORE] = RLIMIT_CORE,
};

static int set_capabilities(uint64_t keep)
{
	cap_t caps = cap_init();
	int r = -1;

	if (!caps)
		return -1;
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		cap_value_t v = c;
		if (!(keep & (1ULL << c)))
			continue;
		if (cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET) < 0 ||
		    cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET) < 0 ||
		    cap_set_flag(caps, CAP_INHERITABLE, 1, &v, CAP_SET) < 0)
			goto out;
	}
	r = cap_set_proc(caps);
out:
	cap_free(caps);
	return r;
}

const char *privs_cap_missing(int cap, bool permitted)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t caps;
	int in_bounding = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

	if (in_bounding < 0)
		return "not known to the running kernel";
	if (in_bounding == 0)
		return "not in superserverd's capability bounding set";
	if (!permitted)
		return NULL;
	caps = cap_get_proc();
	if (!caps || cap_get_flag(caps, (cap_value_t)cap, CAP_PERMITTED, &v) < 0)
		v = CAP_CLEAR;
	cap_free(caps);
	return v == CAP_SET ? NULL : "not in superserverd's permitted capability set";
}

void privs_cap_name(int cap, char *buf, size_t len)
{
	char *name = cap_to_name((cap_value_t)cap);
	size_t i = 0;

	/* libcap names the ones it does not know by number: say so in words. */
	if (!name || strncmp(name, "cap_", 4) != 0) {
		snprintf(buf, len, "capability %d", cap);
	} else if (len) {
		for (; name[i] && i + 1 < len; i++)
			buf[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A'
			                                                 : name[i]);
		buf[i] = '\0';
	}
	cap_free(name);
}

/* The first of KEEP this process cannot hand on, or -1: found before anything is
 * changed, so the failure can name it. */
static int first_missing(uint64_t keep)
{
	for (int c = 0; c <= CAP_LAST_CAP && c < 64; c++)
		if ((keep & (1ULL << c)) && privs_cap_missing(c, true))
			return c;
	return -1;
}

enum privs_step privs_drop(const struct service_conf *sc, int *missing_cap_r)
{
	bool root = geteuid() == 0;
	uint64_t keep = sc->capabilities;

	*missing_cap_r = -1;

	for (int i = 0; i < RLIM_COUNT; i++)
		if (sc->rlimits[i].set && setrlimit(rlimit_resource[i], &sc->rlimits[i].value) < 0)
			return PRIVS_RLIMIT;
	/* Before setuid: raising priority needs the privileges we are about to give up. */
	if (sc->has_nice && setpriority(PRIO_PROCESS, 0, sc->nice) < 0)
		return PRIVS_NICE;
	if (sc->has_umask)
		umask(sc->umask);

	if (root) {
		*missing_cap_r = first_missing(keep);
		if (*missing_cap_r >= 0) {
			errno = EPERM;
			return PRIVS_CAPS;
		}
		/* The bounding set can only shrink while we still hold CAP_SETPCAP. */
		for (int c = 0; c <= CAP_LAST_CAP; c++)
			if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
				return PRIVS_BOUNDING;
		if (keep && sc->uid != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return PRIVS_KEEPCAPS;
		if (setgroups(sc->n_groups, sc->groups) < 0)
			return PRIVS_SETGROUPS;
		if (setresgid(sc->gid, sc->gid, sc->gid) < 0)
			return PRIVS_SETGID;
		if (setresuid(sc->uid, sc->uid, sc->uid) < 0)
			return PRIVS_SETUID;
		/* For a non-root uid this leaves exactly `keep`; for user: root it cuts root's
		 * effective set to the list too. */
		if (set_capabilities(keep) < 0)
			return PRIVS_CAPS;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
			return PRIVS_AMBIENT;
		for (int c = 0; c <= CAP_LAST_CAP; c++)
			if ((keep & (1ULL << c)) &&
			    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
				return PRIVS_AMBIENT;
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
			return PRIVS_KEEPCAPS;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return PRIVS_NO_NEW_PRIVS;
	return PRIVS_OK;
}

const char *privs_step_name(int step)
{
	static const char *const names[] = {
	        [PRIVS_RLIMIT - PRIVS_EXIT_BASE] = "setting rlimits",
	        [PRIVS_BOUNDING - PRIVS_EXIT_BASE] = "cutting the capability bounding set",
	        [PRIVS_KEEPCAPS - PRIVS_EXIT_BASE] = "PR_SET_KEEPCAPS",
	        [PRIVS_SETGROUPS - PRIVS_EXIT_BASE] = "setting supplementary groups",
	        [PRIVS_SETGID - PRIVS_EXIT_BASE] = "setting the group id",
	        [PRIVS_SETUID - PRIVS_EXIT_BASE] = "setting the user id",
	        [PRIVS_CAPS - PRIVS_EXIT_BASE] = "setting capabilities",
	        [PRIVS_AMBIENT - PRIVS_EXIT_BASE] = "setting ambient capabilities",
	        [PRIVS_NO_NEW_PRIVS - PRIVS_EXIT_BASE] = "setting no_new_privs",
	        [PRIVS_NICE - PRIVS_EXIT_BASE] = "setting the nice value",
	};
	if (step < PRIVS_EXIT_BASE || step >= PRIVS_STEP_END)
		return NULL;
	return names[step - PRIVS_EXIT_BASE];
}
