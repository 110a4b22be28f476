/* Adopting and ending the leftovers of a service's programs (see orphans.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "mpm/orphans.h"
#include "superserverd/log.h"

int orphans_adopt(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ? -errno : 0;
}

unsigned orphans_kill(const char *service)
{
	char path[64];
	unsigned n = 0;
	int pid;
	FILE *f;

	/* The children of the thread, which is the process here: no other thread forks. */
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	f = fopen(path, "re");
	if (!f) {
		log_debug(service, "%s: %s", path, strerror(errno));
		return 0;
	}
	while (fscanf(f, "%d", &pid) == 1 && pid > 0) {
		/* An orphan's own children are not ours, but stay in its process group
		 * (the program's, or one of its own): the group goes with it. */
		pid_t pg = getpgid(pid);
		if (pg > 0 && pg != getpgrp())
			(void)kill(-pg, SIGKILL);
		(void)kill(pid, SIGKILL);
		n++;
	}
	fclose(f);
	if (n)
		log_info(service, "ended %u process%s left by programs", n, n == 1 ? "" : "es");
	return n;
}
