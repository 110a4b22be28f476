/* xinetd's only_from / no_access address forms to CIDRs. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superctl/xinetd_addr.h"

/* Up to max dot-separated decimal parts, each 0..255; the count, or -1. */
static int parts(const char *s, int *v, int max)
{
	int n = 0;
	while (*s) {
		if (n == max || *s < '0' || *s > '9')
			return -1;
		char *end;
		long x = strtol(s, &end, 10);
		if (x > 255 || end - s > 3)
			return -1;
		v[n++] = (int)x;
		s = end;
		if (*s == '.') {
			s++;
			if (!*s)
				return -1;
		} else if (*s) {
			return -1;
		}
	}
	return n;
}

static int factorized(const char *word, struct imp_strv *out, const char **note)
{
	const char *brace = strchr(word, '{');
	size_t len = strlen(word);
	int head[4], k = 0;
	char prefix[32];

	if (word[len - 1] != '}' || brace == word || brace[-1] != '.' ||
	    (size_t)(brace - word) >= sizeof(prefix)) {
		*note = "a factorized address is a.b.c.{d,e,...}, the braces at the end";
		return 1;
	}
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(brace - word - 1), word);
	if ((k = parts(prefix, head, 3)) < 1) {
		*note = "a factorized address starts with 1 to 3 numbers 0..255 (IPv4 only)";
		return 1;
	}
	const char *p = brace + 1;
	while (*p != '}') {
		char *end;
		long x = strtol(p, &end, 10);
		if (end == p || x < 0 || x > 255 || (*end != ',' && *end != '}')) {
			*note = "the values in braces are numbers 0..255 separated by commas";
			return 1;
		}
		int a[4] = {0, 0, 0, 0};
		for (int i = 0; i < k; i++)
			a[i] = head[i];
		a[k] = (int)x;
		if (imp_strv_pushf(out, "%d.%d.%d.%d/%d", a[0], a[1], a[2], a[3], 8 * (k + 1)) < 0)
			return -1;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

int xi_addr_cidrs(const char *word, struct imp_strv *out, const char **note)
{
	unsigned char buf[16];
	char host[64];
	*note = NULL;

	if (strcmp(word, "localhost") == 0) {
		*note = "localhost is taken as 127.0.0.1 and ::1";
		if (imp_strv_push(out, "127.0.0.1/32") < 0 || imp_strv_push(out, "::1/128") < 0)
			return -1;
		return 0;
	}
	if (strchr(word, '{'))
		return factorized(word, out, note);
	const char *slash = strchr(word, '/');
	if (slash) {
		char *end;
		long len = strtol(slash + 1, &end, 10);
		snprintf(host, sizeof(host), "%.*s", (int)(slash - word), word);
		bool v6 = strchr(host, ':') != NULL;
		if (*end || end == slash + 1 || len < 0 || len > (v6 ? 128 : 32) ||
		    inet_pton(v6 ? AF_INET6 : AF_INET, host, buf) != 1) {
			*note = "not an address/prefix such as 10.0.0.0/8 or 2001:db8::/32";
			return 1;
		}
		return imp_strv_push(out, word) < 0 ? -1 : 0;
	}
	if (strchr(word, ':')) {
		if (inet_pton(AF_INET6, word, buf) != 1) {
			*note = "not an IPv6 address";
			return 1;
		}
		return imp_strv_pushf(out, "%s/128", word) < 0 ? -1 : 0;
	}
	int v[4];
	if (parts(word, v, 4) == 4) {
		if (v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 0) {
			*note = "0.0.0.0 (every address) is taken as 0.0.0.0/0 and ::/0";
			if (imp_strv_push(out, "0.0.0.0/0") < 0 || imp_strv_push(out, "::/0") < 0)
				return -1;
			return 0;
		}
		int k = 4; /* the parts up to the last non-zero one */
		while (k > 0 && v[k - 1] == 0)
			k--;
		int len = 8 * k;
		return imp_strv_pushf(out, "%d.%d.%d.%d/%d", v[0], v[1], v[2], v[3], len) < 0 ? -1
		                                                                              : 0;
	}
	*note = "a host, domain or network name: xinetd looked it up for every connection, "
	        "superserverd matches addresses only";
	return 1;
}
