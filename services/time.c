/* time (RFC 868): four bytes, the seconds since 1900 in network order, then close. */
#include <errno.h>

#include "services/builtin_handlers.h"
#include "services/timeproto.h"

uint32_t timeproto_rfc868(time_t t)
{
	/* Unsigned arithmetic: the wrap modulo 2^32 is the protocol, not an overflow. */
	return (uint32_t)((uint64_t)t + TIMEPROTO_EPOCH_OFFSET);
}

static int time_open(struct ss_conn *c)
{
	struct timespec now;
	unsigned char out[4];
	uint32_t v;
	int r;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return -errno;
	v = timeproto_rfc868(now.tv_sec);
	out[0] = (unsigned char)(v >> 24);
	out[1] = (unsigned char)(v >> 16);
	out[2] = (unsigned char)(v >> 8);
	out[3] = (unsigned char)v;
	r = ss_conn_write(c, out, sizeof(out));
	if (r < 0)
		return r;
	ss_conn_end(c);
	return 0;
}

const struct ss_handler builtin_time = {
        SS_HANDLER_HEADER("time"),
        .open = time_open,
};
