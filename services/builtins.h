/* The table of built-in handlers (echo, discard, chargen, daytime, time). */
#ifndef SUPERSERVERD_BUILTINS_H
#define SUPERSERVERD_BUILTINS_H

#include "services/handler.h"

const struct ss_handler *builtin_find(const char *name);
/* Why built-in NAME has no datagram form (it has no `datagram` callback), for the
 * configuration's error message; NULL when it has one. */
const char *builtin_no_datagram_reason(const char *name);
/* "chargen, daytime, discard, echo, time", for messages. */
const char *builtin_names(void);

#endif
