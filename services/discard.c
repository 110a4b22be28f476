/* discard (RFC 863): nothing is sent; without a data callback the driver drops input. */
#include "services/builtin_handlers.h"

const struct ss_handler builtin_discard = {
        SS_HANDLER_HEADER("discard"),
};
