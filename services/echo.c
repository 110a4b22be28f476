/* echo (RFC 862): every byte received goes back. The driver's back-pressure keeps the
 * buffer bounded against a peer that sends but does not read. */
#include "services/builtin_handlers.h"

static int echo_data(struct ss_conn *c, const void *buf, size_t len)
{
	int r = ss_conn_write(c, buf, len);

	return r < 0 ? r : 0;
}

const struct ss_handler builtin_echo = {
        SS_HANDLER_HEADER("echo"),
        .data = echo_data,
};
