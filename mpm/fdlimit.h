/*
 * The descriptor limit of a service's processes: a model that holds many connections
 * in one process raises the soft limit towards what it needs, within the hard limit;
 * and what every model does when accept() fails for a reason that lasts (no descriptor
 * or memory left, above all): pause accepting, with clients waiting in the backlog, and
 * say so once per shortage.
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

/* How long a process pauses accepting after accept() failed for a reason that lasts. */
#define ACCEPT_RETRY_USEC (100 * 1000)

/* Whether accept() is failing for a reason that lasts. */
struct accept_shortage {
	bool on;
};

/* True for the accept() errors that concern only the connection being taken (the
 * client gave up, a network error pending on it, a signal): take the next one at once.
 * EAGAIN means none is left. Any other error lasts (EMFILE, ENFILE, ENOBUFS, ENOMEM,
 * or a listener gone wrong), and the listener stays readable through it: retrying at
 * once would spin, so the caller pauses with accept_shortage_begin. */
bool accept_error_passing(int err);
/* After a lasting failure: the first of a shortage is logged as a warning, the retries
 * at debug level. The caller pauses accepting for ACCEPT_RETRY_USEC. */
void accept_shortage_begin(struct accept_shortage *s, const char *who, int err);
/* After a successful accept(): logs the end of a shortage, if one was on. */
void accept_shortage_end(struct accept_shortage *s, const char *who);

#endif
