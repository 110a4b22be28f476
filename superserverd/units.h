/*
 * Parsers for the scalar value syntaxes of the configuration: durations ("500ms",
 * "30s", "5m", "1h", a bare number of seconds), unsigned integers with bounds, sizes
 * ("64K", "1M", "unlimited"), booleans, octal modes and capability names.
 * Pure functions, unit-tested on their own.
 */
#ifndef SUPERSERVERD_UNITS_H
#define SUPERSERVERD_UNITS_H

#include <stdbool.h>
#include <stdint.h>

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC  1000000ULL

/* Each returns 0 on success or -1 (input rejected: empty, junk, overflow). */
int units_parse_duration(const char *s, uint64_t *usec_r);
int units_parse_uint(const char *s, uint64_t max, uint64_t *r);
int units_parse_int(const char *s, int64_t min, int64_t max, int64_t *r);
/* Bytes with an optional K, M, G, T suffix (powers of 1024); "unlimited" or "infinity"
 * gives UINT64_MAX. */
int units_parse_size(const char *s, uint64_t *r);
/* true/false, yes/no, on/off. */
int units_parse_bool(const char *s, bool *r);
/* "0022", "022", "0o22" (octal, at most 07777). */
int units_parse_mode(const char *s, unsigned *r);
/* "CAP_NET_BIND_SERVICE" or "net_bind_service" (case-insensitive). Returns the number. */
int units_parse_capability(const char *s, int *cap_r);
/* Writes "1.5s", "250ms", "30s", "5m" for a duration (for messages). */
void units_format_duration(uint64_t usec, char *buf, unsigned buflen);

#endif
