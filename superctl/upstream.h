/*
 * How superctl shows the connects of services that relay their connections to a
 * target (the `upstream` object of the stats answer): a line in `stats` and the
 * upstream_* Prometheus families.
 */
#ifndef SUPERCTL_UPSTREAM_H
#define SUPERCTL_UPSTREAM_H

#include <stdio.h>

#include <jansson.h>

/* The `upstream` lines of `superctl stats`. */
void upstream_print_stats(const json_t *svc);
/* The upstream_* families. */
void upstream_put_metrics(FILE *f, const json_t *services,
                          void (*family)(FILE *f, const char *name, const char *type,
                                         const char *help),
                          void (*sample)(FILE *f, const char *name, const char *suffix,
                                         const json_t *svc, const char *extra_name,
                                         const char *extra_value));

#endif
