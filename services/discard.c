/* discard (RFC 863): nothing is sent; without a data callback the driver drops input,
 * and a datagram gets no answer. */
#include "services/builtin_handlers.h"

static ssize_t discard_datagram(void *service_data, const void *buf, size_t len,
                                const struct sockaddr *peer, socklen_t peer_len, void *reply,
                                size_t cap)
{
	(void)service_data, (void)buf, (void)len, (void)peer, (void)peer_len, (void)reply,
	        (void)cap;
	return SS_DATAGRAM_NO_ANSWER;
}

const struct ss_handler builtin_discard = {
        SS_HANDLER_HEADER("discard"),
        .datagram = discard_datagram,
};
