/* Human units and answer-field getters (see format.h). */
#include <stdio.h>

#include "superctl/format.h"

/* Two units, largest first, once a value passes a minute: "5m12s", "3d4h". */
static const char *two_units(uint64_t sec, char *buf, size_t len)
{
	if (sec >= 86400)
		snprintf(buf, len, "%llud%lluh", (unsigned long long)(sec / 86400),
		         (unsigned long long)(sec % 86400 / 3600));
	else if (sec >= 3600)
		snprintf(buf, len, "%lluh%llum", (unsigned long long)(sec / 3600),
		         (unsigned long long)(sec % 3600 / 60));
	else if (sec >= 60)
		snprintf(buf, len, "%llum%llus", (unsigned long long)(sec / 60),
		         (unsigned long long)(sec % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)sec);
	return buf;
}

/* value with up to `decimals` decimals, trailing zeros dropped, then the unit. */
static const char *decimal(double value, int decimals, const char *unit, char *buf, size_t len)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%.*f", decimals, value);

	if (decimals > 0 && n > 0 && (size_t)n < sizeof(num)) {
		while (n > 0 && num[n - 1] == '0')
			num[--n] = '\0';
		if (n > 0 && num[n - 1] == '.')
			num[--n] = '\0';
	}
	snprintf(buf, len, "%s%s", num, unit);
	return buf;
}

const char *fmt_duration_usec(uint64_t usec, char *buf, size_t len)
{
	if (usec == 0)
		snprintf(buf, len, "0");
	else if (usec < 1000)
		snprintf(buf, len, "%lluus", (unsigned long long)usec);
	else if (usec < 10000)
		decimal((double)usec / 1e3, 1, "ms", buf, len);
	else if (usec < 1000000)
		decimal((double)usec / 1e3, 0, "ms", buf, len);
	else if (usec < 10000000)
		decimal((double)usec / 1e6, 2, "s", buf, len);
	else if (usec < 60000000)
		decimal((double)usec / 1e6, 1, "s", buf, len);
	else
		two_units(usec / 1000000, buf, len);
	return buf;
}

const char *fmt_uptime(double sec, char *buf, size_t len)
{
	if (sec < 0)
		snprintf(buf, len, "-");
	else
		two_units((uint64_t)sec, buf, len);
	return buf;
}

const char *fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

long long j_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return 0;
}

double j_num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : 0.0;
}

const char *j_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

long long j_int2(const json_t *o, const char *key, const char *sub)
{
	return j_int(json_object_get(o, key), sub);
}

long long j_requests(const json_t *svc)
{
	return j_int(svc, "accepted") + j_int2(svc, "datagrams", "received");
}

long long j_turned_away(const json_t *svc)
{
	return j_int(svc, "rejected") + j_int2(svc, "datagrams", "dropped");
}

void fmt_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}
