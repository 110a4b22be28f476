/* daytime (RFC 867): one line with the local time, then close. */
#include <errno.h>
#include <stdio.h>

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

static int daytime_open(struct ss_conn *c)
{
	struct timespec now;
	char line[64];
	int n, r;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return -errno;
	n = timeproto_daytime(now.tv_sec, line, sizeof(line));
	if (n < 0)
		return n;
	r = ss_conn_write(c, line, (size_t)n);
	if (r < 0)
		return r;
	ss_conn_end(c);
	return 0;
}

const struct ss_handler builtin_daytime = {
        SS_HANDLER_HEADER("daytime"),
        .open = daytime_open,
};
