/* Opening an import's input files (see imp_input.h). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "superctl/imp_input.h"

FILE *imp_fopen_regular(const char *path)
{
	/* O_NONBLOCK: opening a FIFO with no writer would wait for one. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = errno;
		close(fd);
		errno = S_ISREG(st.st_mode) ? e : EINVAL;
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}
