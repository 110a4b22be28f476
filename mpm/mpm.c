/* The table of processing models: the one place that lists them. */
#include <stdio.h>
#include <string.h>

#include "mpm/mpm.h"

extern const struct mpm_ops mpm_fork_ops;
extern const struct mpm_ops mpm_prefork_ops;
extern const struct mpm_ops mpm_threadpool_ops;
extern const struct mpm_ops mpm_event_ops;
extern const struct mpm_ops mpm_wait_ops;

static const struct mpm_ops *const mpm_table[] = {
        &mpm_fork_ops, &mpm_prefork_ops, &mpm_threadpool_ops, &mpm_event_ops, &mpm_wait_ops,
};

#define N_MPM (sizeof(mpm_table) / sizeof(mpm_table[0]))

const struct mpm_ops *mpm_find(const char *name)
{
	for (size_t i = 0; i < N_MPM; i++)
		if (strcmp(mpm_table[i]->name, name) == 0)
			return mpm_table[i];
	return NULL;
}

void mpm_names_with_flag(unsigned flag, char *buf, size_t buflen)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < N_MPM && off < buflen; i++) {
		if ((mpm_table[i]->flags & flag) != flag)
			continue;
		int n = snprintf(buf + off, buflen - off, "%s%s", off ? ", " : "",
		                 mpm_table[i]->name);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

const char *mpm_names(void)
{
	static char names[256];
	if (!names[0])
		mpm_names_with_flag(0, names, sizeof(names));
	return names;
}
