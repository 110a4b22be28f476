/* daytime (RFC 867): one line with the local time, then close; over datagrams, the
 * same line in one datagram, whatever the request held. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "services/builtin_handlers.h"
#include "services/timeproto.h"

int timeproto_daytime(time_t t, char *buf, size_t len)
{
	/* ctime(3)'s names, spelled out so the locale cannot change them. */
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	int n;

	if (!localtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11)
		return -EOVERFLOW;
	n = snprintf(buf, len, "%s %s %2d %02d:%02d:%02d %d\r\n", days[tm.tm_wday],
	             months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             tm.tm_year + 1900);
	if (n < 0)
		return -EOVERFLOW;
	if ((size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* Now's line into LINE (64 bytes): its length or a negative errno. */
static int daytime_now(char *line, size_t len)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return -errno;
	return timeproto_daytime(now.tv_sec, line, len);
}

static int daytime_open(struct ss_conn *c)
{
	char line[64];
	int n, r;

	n = daytime_now(line, sizeof(line));
	if (n < 0)
		return n;
	r = ss_conn_write(c, line, (size_t)n);
	if (r < 0)
		return r;
	ss_conn_end(c);
	return 0;
}

static ssize_t daytime_datagram(void *service_data, const void *buf, size_t len,
                                const struct sockaddr *peer, socklen_t peer_len, void *reply,
                                size_t cap)
{
	char line[64];
	int n;

	(void)service_data, (void)buf, (void)len, (void)peer, (void)peer_len;
	n = daytime_now(line, sizeof(line));
	if (n < 0)
		return n;
	if ((size_t)n > cap)
		return -EMSGSIZE;
	memcpy(reply, line, (size_t)n);
	return n;
}

const struct ss_handler builtin_daytime = {
        SS_HANDLER_HEADER("daytime"),
        .open = daytime_open,
        .datagram = daytime_datagram,
};
