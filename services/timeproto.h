/* The two time formats: daytime's text line (RFC 867) and time's 32-bit value (RFC 868). */
#ifndef SUPERSERVERD_TIMEPROTO_H
#define SUPERSERVERD_TIMEPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Seconds between 1900-01-01 (RFC 868's epoch) and 1970-01-01. */
#define TIMEPROTO_EPOCH_OFFSET 2208988800u

/* RFC 868: seconds since 1900, modulo 2^32 (it wraps in 2036 and stays meaningful). */
uint32_t timeproto_rfc868(time_t t);

/* RFC 867 line for t in local time, in ctime(3)'s format with "\r\n" instead of "\n"
 * ("Mon Nov 23 16:29:27 2026\r\n"), independent of the locale. Returns the length, or
 * a negative errno (-EOVERFLOW if t cannot be represented, -ENOSPC if len is short). */
int timeproto_daytime(time_t t, char *buf, size_t len);

#endif
