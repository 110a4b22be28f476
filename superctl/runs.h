/*
 * How superctl shows the runs of services whose programs are handed the socket
 * (model wait): the `runs` object of the status and stats answers, as text under the
 * status and top tables, in stats, and as Prometheus families.
 */
#ifndef SUPERCTL_RUNS_H
#define SUPERCTL_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "superctl/format.h"

/* "runs 12 (1 running; 10 ok, 1 failed, 1 killed, 0 timeouts), last exit 0" for
 * SVC into BUF; false when SVC has no runs object. */
bool runs_summary(const json_t *svc, char *buf, size_t len);
/* Under a table of SERVICES: one line per service that has runs (after an empty
 * line); returns how many lines that is, written only when at most MAX_LINES (0: no
 * limit). */
size_t runs_print_lines(FILE *f, const json_t *services, size_t max_lines);
/* The `runs` line of `superctl stats`. */
void runs_print_stats(const json_t *svc);
/* The program_runs_* families. */
void runs_put_metrics(FILE *f, const json_t *services, fmt_family_fn *family,
                      fmt_sample_fn *sample);

#endif
