/* echo (RFC 862): every byte received goes back. The driver's back-pressure keeps the
 * buffer bounded against a peer that sends but does not read. Over datagrams, the same
 * bytes in one datagram back, an empty one included (an empty answer). */
#include <errno.h>
#include <string.h>

#include "services/builtin_handlers.h"

static int echo_data(struct ss_conn *c, const void *buf, size_t len)
{
	int r = ss_conn_write(c, buf, len);

	return r < 0 ? r : 0;
}

static ssize_t echo_datagram(void *service_data, const void *buf, size_t len,
                             const struct sockaddr *peer, socklen_t peer_len, void *reply,
                             size_t cap)
{
	(void)service_data, (void)peer, (void)peer_len;
	if (len > cap)
		return -EMSGSIZE;
	if (len)
		memcpy(reply, buf, len);
	return (ssize_t)len;
}

const struct ss_handler builtin_echo = {
        SS_HANDLER_HEADER("echo"),
        .data = echo_data,
        .datagram = echo_datagram,
};
