/*
 * How superctl shows a service's TLS (the `tls` object of the stats answer): its
 * listeners' certificates and path, and its handshakes, in `stats` and as the tls_*
 * Prometheus families.
 */
#ifndef SUPERCTL_TLS_H
#define SUPERCTL_TLS_H

#include <stdio.h>

#include <jansson.h>

#include "superctl/format.h"

/* The `tls` lines of `superctl stats` (none for a service without TLS). */
void tls_print_stats(const json_t *svc);
/* The tls_* families. */
void tls_put_metrics(FILE *f, const json_t *services, fmt_family_fn *family, fmt_sample_fn *sample);

#endif
