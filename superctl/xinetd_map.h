/*
 * xinetd services (after xinetd_eval) translated into superserverd services, attribute
 * by attribute; what has no equivalent, or a different meaning, goes to the report.
 */
#ifndef SUPERCTL_XINETD_MAP_H
#define SUPERCTL_XINETD_MAP_H

#include "superctl/imp_map.h"
#include "superctl/xinetd_eval.h"

/* Adds the services of xs to set. Returns 0, or -1 when out of memory. */
int xi_map(struct imp_ctx *c, const struct xi_services *xs, struct imp_set *set);

/* The whole xinetd import: parse path and its includes, evaluate, map. */
int xi_import(struct imp_ctx *c, const char *path, struct imp_set *set);

#endif
