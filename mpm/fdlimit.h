/*
 * The descriptor limit of a service's processes: a model that holds many connections
 * in one process raises the soft limit towards what it needs, within the hard limit.
 */
#ifndef MPM_FDLIMIT_H
#define MPM_FDLIMIT_H

#include <sys/resource.h>

#include "superserverd/config.h"

/*
 * Raises this process's soft RLIMIT_NOFILE to WANT, or to the hard limit if that is
 * lower; never lowers it, and leaves it alone when the service sets rlimits.nofile
 * itself (the operator's choice wins). Logs a failure under WHO. Returns the soft limit
 * in force afterwards (0 if unknown).
 */
rlim_t fdlimit_raise(const struct service_conf *sc, const char *who, rlim_t want);

#endif
