/*
 * The YAML writer of the importer: a set of services as a superserverd configuration,
 * each service with a comment naming its source, either as one file or one file per
 * service for an include: glob.
 */
#ifndef SUPERCTL_IMP_YAML_H
#define SUPERCTL_IMP_YAML_H

#include <stdio.h>

#include "superctl/imp_model.h"

/* The whole configuration on f; origin names the source in the header (e.g.
 * "xinetd /etc/xinetd.conf"). Returns 0, or -1 when f cannot be written. */
int imp_yaml_write(FILE *f, const struct imp_set *set, const char *origin);
/* One service, as the only one of a file. */
int imp_yaml_write_one(FILE *f, const struct imp_svc *s, const char *origin);
/* A scalar as YAML: plain when that reads back the same string, else quoted. */
int imp_yaml_scalar(FILE *f, const char *s);

#endif
