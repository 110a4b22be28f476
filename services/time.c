/* time (RFC 868): four bytes, the seconds since 1900 in network order, then close; over
 * datagrams, the same four bytes in one datagram, whatever the request held. */
#include <errno.h>

#include "services/builtin_handlers.h"
#include "services/timeproto.h"

uint32_t timeproto_rfc868(time_t t)
{
	/* Unsigned arithmetic: the wrap modulo 2^32 is the protocol, not an overflow. */
	return (uint32_t)((uint64_t)t + TIMEPROTO_EPOCH_OFFSET);
}

/* Now as the protocol's four bytes. */
static int time_now(unsigned char out[4])
{
	struct timespec now;
	uint32_t v;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return -errno;
	v = timeproto_rfc868(now.tv_sec);
	out[0] = (unsigned char)(v >> 24);
	out[1] = (unsigned char)(v >> 16);
	out[2] = (unsigned char)(v >> 8);
	out[3] = (unsigned char)v;
	return 0;
}

static int time_open(struct ss_conn *c)
{
	unsigned char out[4];
	int r = time_now(out);

	if (r < 0)
		return r;
	r = ss_conn_write(c, out, sizeof(out));
	if (r < 0)
		return r;
	ss_conn_end(c);
	return 0;
}

static ssize_t time_datagram(void *service_data, const void *buf, size_t len,
                             const struct sockaddr *peer, socklen_t peer_len, void *reply,
                             size_t cap)
{
	int r;

	(void)service_data, (void)buf, (void)len, (void)peer, (void)peer_len;
	if (cap < 4)
		return -EMSGSIZE;
	r = time_now(reply);
	return r < 0 ? r : 4;
}

const struct ss_handler builtin_time = {
        SS_HANDLER_HEADER("time"),
        .open = time_open,
        .datagram = time_datagram,
};
