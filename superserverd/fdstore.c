/* Names for stored sockets and the FDSTORE messages (see fdstore.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "superserverd/fdstore.h"
#include "superserverd/log.h"

static bool plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '/' || c == '-';
}

int fdstore_name_encode(const char *key, char *name, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(FDSTORE_PREFIX);

	if (len <= n) {
		if (len)
			name[0] = '\0';
		return -1;
	}
	memcpy(name, FDSTORE_PREFIX, n);
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		size_t need = plain(*p) ? 1 : 3;
		if (n + need >= len || n + need > FDSTORE_NAME_MAX) {
			name[0] = '\0'; /* callers keep the name: no half of one */
			return -1;
		}
		if (need == 1) {
			name[n++] = (char)*p;
		} else {
			name[n++] = '%';
			name[n++] = hex[*p >> 4];
			name[n++] = hex[*p & 15];
		}
	}
	name[n] = '\0';
	return 0;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int fdstore_name_decode(const char *name, char *key, size_t len)
{
	size_t plen = strlen(FDSTORE_PREFIX), n = 0;
	const char *p;

	if (strncmp(name, FDSTORE_PREFIX, plen) != 0 || strcmp(name, FDSTORE_CONTROL) == 0)
		return -1;
	for (p = name + plen; *p; p++) {
		int c = (unsigned char)*p;
		if (*p == '%') {
			int hi = unhex(p[1]), lo = hi < 0 ? -1 : unhex(p[2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			p += 2;
		} else if (!plain((unsigned char)c)) {
			return -1;
		}
		if (c == 0 || n + 1 >= len)
			return -1;
		key[n++] = (char)c;
	}
	if (n == 0)
		return -1;
	key[n] = '\0';
	return 0;
}

/* While held (a new process of an upgrade, not yet the main process), systemd would
 * drop our messages: stores are made again on release. Nothing is removed meanwhile:
 * the listen table keeps every socket until the handover (listen_table_keep_files). */
static bool held;

void fdstore_hold(void)
{
	held = true;
}

void fdstore_release(void)
{
	held = false;
}

bool fdstore_available(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	return e && *e;
}

int fdstore_push(int fd, const char *name)
{
	char msg[64 + FDSTORE_NAME_MAX];
	int r;

	if (!fdstore_available() || held)
		return 0; /* not stored: the caller stores it again after fdstore_release() */
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	r = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	if (r < 0)
		log_warning(NULL, "cannot hand %s to the service manager's fd store: %s", name,
		            strerror(-r));
	return r < 0 ? r : 1;
}

int fdstore_remove(const char *name)
{
	char msg[64 + FDSTORE_NAME_MAX];
	int r;

	if (!fdstore_available() || held)
		return 0;
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	r = sd_notify(0, msg);
	if (r < 0)
		log_warning(NULL, "cannot remove %s from the service manager's fd store: %s", name,
		            strerror(-r));
	return r < 0 ? r : 0;
}
