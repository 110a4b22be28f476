/*
 * The scalar syntaxes of the configuration (durations, bounded integers, sizes,
 * booleans, octal modes, capability names). Strict: no whitespace, no signs where a
 * value cannot be negative, and overflow is an error rather than a wrap.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>

#include "superserverd/units.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Parses the digits at *p (at least one) into *v, advancing *p. */
static int parse_digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (!is_digit(*s))
		return -1;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*p = s;
	*v = n;
	return 0;
}

int units_parse_uint(const char *s, uint64_t max, uint64_t *r)
{
	uint64_t v;

	if (!s || parse_digits(&s, &v) < 0 || *s != '\0' || v > max)
		return -1;
	*r = v;
	return 0;
}

int units_parse_int(const char *s, int64_t min, int64_t max, int64_t *r)
{
	bool neg = false;
	uint64_t mag;
	int64_t v;

	if (!s)
		return -1;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (parse_digits(&s, &mag) < 0 || *s != '\0')
		return -1;
	if (neg) {
		if (mag > (uint64_t)INT64_MAX + 1)
			return -1;
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return -1;
		v = (int64_t)mag;
	}
	if (v < min || v > max)
		return -1;
	*r = v;
	return 0;
}

static const struct {
	const char *name;
	uint64_t usec;
} duration_units[] = {
        {"us", 1},
        {"ms", USEC_PER_MSEC},
        {"s", USEC_PER_SEC},
        {"m", 60 * USEC_PER_SEC},
        {"h", 3600 * USEC_PER_SEC},
        {"d", 86400 * USEC_PER_SEC},
};

static int duration_unit(const char *u, size_t len, uint64_t *usec_r)
{
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (strlen(duration_units[i].name) == len &&
		    strncmp(duration_units[i].name, u, len) == 0) {
			*usec_r = duration_units[i].usec;
			return 0;
		}
	return -1;
}

/* One "NUMBER[.FRACTION][UNIT]" term; a bare number (seconds) only as the whole string. */
static int duration_term(const char **p, bool first, uint64_t *usec_r)
{
	const char *s = *p, *u;
	uint64_t whole, frac = 0, scale = 1, mult, v, part;

	if (parse_digits(&s, &whole) < 0)
		return -1;
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return -1;
		/* Digits past microsecond precision of the largest unit add nothing. */
		for (; is_digit(*s); s++)
			if (scale < 1000000000000000000ULL) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
	}
	for (u = s; is_alpha(*s); s++)
		;
	if (s == u) {
		if (!first || *s != '\0')
			return -1;
		mult = USEC_PER_SEC;
	} else if (duration_unit(u, (size_t)(s - u), &mult) < 0) {
		return -1;
	}
	if (whole > UINT64_MAX / mult)
		return -1;
	v = whole * mult;
	part = (uint64_t)((unsigned __int128)frac * mult / scale);
	if (v > UINT64_MAX - part)
		return -1;
	*usec_r = v + part;
	*p = s;
	return 0;
}

int units_parse_duration(const char *s, uint64_t *usec_r)
{
	uint64_t total = 0, v;

	if (!s || !*s)
		return -1;
	for (bool first = true; *s; first = false) {
		if (duration_term(&s, first, &v) < 0 || total > UINT64_MAX - v)
			return -1;
		total += v;
	}
	*usec_r = total;
	return 0;
}

int units_parse_size(const char *s, uint64_t *r)
{
	uint64_t v;
	unsigned shift = 0;

	if (!s)
		return -1;
	if (strcmp(s, "unlimited") == 0 || strcmp(s, "infinity") == 0) {
		*r = UINT64_MAX;
		return 0;
	}
	if (parse_digits(&s, &v) < 0)
		return -1;
	switch (*s) {
	case '\0':
		break;
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case 'T':
	case 't':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (shift && *++s != '\0')
		return -1;
	if (v > (UINT64_MAX >> shift))
		return -1;
	*r = v << shift;
	return 0;
}

int units_parse_bool(const char *s, bool *r)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
	                                                                       "off"};

	if (!s)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*r = false;
			return 0;
		}
	}
	return -1;
}

int units_parse_mode(const char *s, unsigned *r)
{
	unsigned v = 0;

	if (!s)
		return -1;
	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		s += 2;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return -1;
		v = v * 8 + (unsigned)(*s - '0');
		if (v > 07777)
			return -1;
	}
	*r = v;
	return 0;
}

int units_parse_capability(const char *s, int *cap_r)
{
	char name[64] = "cap_";
	size_t n = 4;
	cap_value_t v;

	if (!s)
		return -1;
	if (strncasecmp(s, "cap_", 4) == 0)
		s += 4;
	/* libcap also takes numbers; the configuration takes names only. */
	if (!is_alpha(*s))
		return -1;
	for (; *s; s++) {
		if (!is_alpha(*s) && !is_digit(*s) && *s != '_')
			return -1;
		if (n + 1 >= sizeof(name))
			return -1;
		name[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
	}
	name[n] = '\0';
	if (cap_from_name(name, &v) < 0 || v < 0 || v > 63)
		return -1;
	*cap_r = v;
	return 0;
}

void units_format_duration(uint64_t usec, char *buf, unsigned buflen)
{
	static const struct {
		uint64_t usec;
		const char *unit;
	} whole[] = {
	        {86400 * USEC_PER_SEC, "d"},
	        {3600 * USEC_PER_SEC, "h"},
	        {60 * USEC_PER_SEC, "m"},
	        {USEC_PER_SEC, "s"},
	};
	char frac[8];

	if (usec == 0) {
		snprintf(buf, buflen, "0s");
		return;
	}
	if (usec < USEC_PER_SEC) {
		if (usec % USEC_PER_MSEC == 0)
			snprintf(buf, buflen, "%llums", (unsigned long long)(usec / USEC_PER_MSEC));
		else
			snprintf(buf, buflen, "%lluus", (unsigned long long)usec);
		return;
	}
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
		if (usec % whole[i].usec == 0) {
			snprintf(buf, buflen, "%llu%s", (unsigned long long)(usec / whole[i].usec),
			         whole[i].unit);
			return;
		}
	/* Not whole seconds: a fraction with trailing zeros dropped ("1.5s"). */
	snprintf(frac, sizeof(frac), "%06llu", (unsigned long long)(usec % USEC_PER_SEC));
	for (size_t l = strlen(frac); l > 1 && frac[l - 1] == '0'; l--)
		frac[l - 1] = '\0';
	snprintf(buf, buflen, "%llu.%ss", (unsigned long long)(usec / USEC_PER_SEC), frac);
}
