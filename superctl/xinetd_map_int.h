/*
 * Inside the xinetd mapping: one service's translation job, the helpers its parts
 * share, and the parts, each in a file of its own (xinetd_listen.c, xinetd_program.c,
 * xinetd_limits.c, xinetd_process.c). Each part returns 0, 1 to leave the service out
 * (reported), or -1 for memory, unless it says otherwise.
 */
#ifndef SUPERCTL_XINETD_MAP_INT_H
#define SUPERCTL_XINETD_MAP_INT_H

#include <stdbool.h>

#include "superctl/xinetd_map.h"

struct xi_job {
	struct imp_ctx *c;
	const struct xi_svc *x;
	struct imp_svc *s;
	bool dgram, wait, internal;
};

/* The value of attribute a for this service, or NULL when it is not set. */
const struct xi_val *xi_val_of(const struct xi_job *j, enum xi_attr_id a);
/* A finding about the service, at the line of attribute a (or of the service). */
void xi_say(const struct xi_job *j, enum xi_attr_id a, enum imp_sev sev, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* The one word of a single-valued attribute, or NULL (reported) when it has another
 * count. */
const char *xi_one(const struct xi_job *j, enum xi_attr_id a);
bool xi_has_word(const struct xi_val *v, const char *w);
/* s as a decimal number in min..max. */
bool xi_number(const char *s, long min, long max, long *out);

/* xinetd_listen.c: type, socket_type, protocol, wait; then port, bind and flags.
 * xi_map_listen returns 2 for flags NAMEINARGS. */
int xi_map_type(struct xi_job *j);
int xi_map_socket(struct xi_job *j);
int xi_map_listen(struct xi_job *j);
/* xinetd_program.c: the program (built-in, redirect, server) and who it runs as. */
int xi_map_program(struct xi_job *j, bool nameinargs);
int xi_map_identity(struct xi_job *j);
/* xinetd_limits.c: only_from and no_access; instances, per_source, cps. */
int xi_map_access(struct xi_job *j);
int xi_map_limits(struct xi_job *j);
/* xinetd_process.c: logging, the program's environment and limits, banners, and the
 * attributes only reported. */
int xi_map_logging(struct xi_job *j);
int xi_map_process(struct xi_job *j);
int xi_map_banners(struct xi_job *j);
void xi_map_reported(struct xi_job *j);

#endif
