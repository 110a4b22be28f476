/*
 * The descriptor limit of a service's processes: a model that holds many connections
 * in one process raises the soft limit towards what it needs, within the hard limit;
 * and what every model does when accept() finds none left (or no memory): pause
 * accepting, with clients waiting in the backlog, and say so once per shortage.
 */
#ifndef MPM_FDLIMIT_H
#define MPM_FDLIMIT_H

#include <stdbool.h>
#include <sys/resource.h>

#include "superserverd/config.h"

/*
 * Raises this process's soft RLIMIT_NOFILE to WANT, or to the hard limit if that is
 * lower; never lowers it, and leaves it alone when the service sets rlimits.nofile
 * itself (the operator's choice wins). Logs a failure under WHO. Returns the soft limit
 * in force afterwards (0 if unknown).
 */
rlim_t fdlimit_raise(const struct service_conf *sc, const char *who, rlim_t want);

/* How long a process pauses accepting after accept() failed for want of resources. */
#define ACCEPT_RETRY_USEC (100 * 1000)

/* Whether accept() is failing for want of descriptors or memory. */
struct accept_shortage {
	bool on;
};

/* True for the accept() errors that mean such a shortage (the listener stays readable
 * through it, so retrying at once would spin). */
bool accept_shortage_errno(int err);
/* After such a failure: the first of a shortage is logged as a warning, the retries
 * at debug level. The caller pauses accepting for ACCEPT_RETRY_USEC. */
void accept_shortage_begin(struct accept_shortage *s, const char *who, int err);
/* After a successful accept(): logs the end of a shortage, if one was on. */
void accept_shortage_end(struct accept_shortage *s, const char *who);

#endif
