/* The table of built-in handlers (echo, discard, chargen, daytime, time, forward). */
#ifndef SUPERSERVERD_BUILTINS_H
#define SUPERSERVERD_BUILTINS_H

#include "services/handler.h"

const struct ss_handler *builtin_find(const char *name);
/* Why built-in NAME has no datagram form (it has no `datagram` callback), for the
 * configuration's error message; NULL when it has one. */
const char *builtin_no_datagram_reason(const char *name);
/* "chargen, daytime, discard, echo, forward, time", for messages. */
const char *builtin_names(void);

/*
 * Checks built-in NAME's args as its setup will read them, so a mistake is a
 * configuration error at load time. Returns 0, or a negative errno with a message in
 * ERR and the key at fault in *KEY_R (NULL: the args as a whole, e.g. a key missing).
 */
int builtin_check_args(const char *name, const struct ss_args *args, const char **key_r, char *err,
                       size_t errlen);

#endif
