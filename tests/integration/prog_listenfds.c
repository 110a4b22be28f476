/* A tiny socket-activated server for the exec + prefork tests: takes its listening
 * socket the systemd way (sd_listen_fds), answers each connection with what it was
 * given, and exits after argv[1] connections so the pool has to replace it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

int main(int argc, char **argv)
{
	int limit = argc > 1 ? atoi(argv[1]) : 0;
	int n = sd_listen_fds(0);
	const char *names = getenv("LISTEN_FDNAMES");

	if (n < 1) {
		fprintf(stderr, "no listening socket passed (LISTEN_FDS=%s LISTEN_PID=%s)\n",
		        getenv("LISTEN_FDS") ? getenv("LISTEN_FDS") : "unset",
		        getenv("LISTEN_PID") ? getenv("LISTEN_PID") : "unset");
		return 1;
	}
	if (sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
		fprintf(stderr, "fd 3 is not a listening stream socket\n");
		return 1;
	}
	for (int served = 0; limit == 0 || served < limit; served++) {
		char line[256];
		int fd = accept(SD_LISTEN_FDS_START, NULL, NULL);
		if (fd < 0)
			continue;
		/* Handed over blocking, as systemd does (a failed service's master had the
		 * same socket non-blocking while it turned clients away). */
		int blocking = !(fcntl(SD_LISTEN_FDS_START, F_GETFL) & O_NONBLOCK);
		int len = snprintf(line, sizeof(line), "pid=%d blocking=%d fds=%d names=%s\n",
		                   (int)getpid(), blocking, n, names ? names : "");
		if (write(fd, line, (size_t)len) < 0)
			perror("write");
		close(fd);
	}
	return 0;
}
