/*
 * Loading a handler from a shared object (`module:`), checked against the handler ABI
 * before any callback is trusted. Runs in the service process after the privilege drop,
 * so a module's constructors never run with the daemon's privileges.
 */
#ifndef SUPERSERVERD_MODULE_H
#define SUPERSERVERD_MODULE_H

#include <stddef.h>

#include "services/handler.h"

/*
 * Loads PATH and returns its handler, or NULL with a message naming PATH in err.
 * The module stays loaded for the life of the process (its code is the handler), and
 * the returned handler is a full-size copy: fields an older minor ABI did not have
 * read as NULL.
 */
const struct ss_handler *module_load(const char *path, char *err, size_t errlen);

#endif
