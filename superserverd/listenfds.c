/* Sockets for an exec'd program by the LISTEN_FDS convention (see listenfds.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "superserverd/listenfds.h"

#define LISTENFDS_START 3 /* SD_LISTEN_FDS_START */

int listenfds_place(const int *fds, size_t n)
{
	int *tmp = calloc(n ? n : 1, sizeof(*tmp));
	int r = 0;

	if (!tmp)
		return -ENOMEM;
	/* First out of the way, above every target (a new descriptor there cannot be one
	 * still to move), then into place. */
	for (size_t i = 0; i < n; i++)
		tmp[i] = -1;
	for (size_t i = 0; i < n && r == 0; i++) {
		tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, LISTENFDS_START + (int)n);
		if (tmp[i] < 0)
			r = -errno;
	}
	/* dup2 leaves FD_CLOEXEC off: the program inherits exactly these. */
	for (size_t i = 0; i < n && r == 0; i++)
		if (dup2(tmp[i], LISTENFDS_START + (int)i) < 0)
			r = -errno;
	for (size_t i = 0; i < n; i++)
		if (tmp[i] >= 0)
			close(tmp[i]);
	free(tmp);
	return r;
}

char *listenfds_names_env(const char *const *names, size_t n)
{
	static const char var[] = "LISTEN_FDNAMES=";
	size_t len = sizeof(var);
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	memcpy(s, var, sizeof(var) - 1);
	p = s + sizeof(var) - 1;
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(names[i]);
		if (i)
			*p++ = ':';
		memcpy(p, names[i], k);
		p += k;
	}
	*p = '\0';
	return s;
}

int listenfds_set_blocking(int fd, bool blocking)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) == blocking)
		return 0;
	if (fcntl(fd, F_SETFL, blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int listenfds_nonblocking(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = listenfds_set_blocking(fds[i], false);
		if (r < 0)
			return r;
	}
	return 0;
}
