/*
 * How superctl shows the connects of services that relay their connections to a
 * target (the `upstream` object of the stats answer): a line in `stats` and the
 * upstream_* Prometheus families.
 */
#ifndef SUPERCTL_UPSTREAM_H
#define SUPERCTL_UPSTREAM_H

#include <stdio.h>

#include <jansson.h>

#include "superctl/format.h"

/* The `upstream` lines of `superctl stats`. */
void upstream_print_stats(const json_t *svc);
/* The upstream_* families. */
void upstream_put_metrics(FILE *f, const json_t *services, fmt_family_fn *family,
                          fmt_sample_fn *sample);

#endif
