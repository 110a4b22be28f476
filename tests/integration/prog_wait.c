/*
 * A program for the wait model's tests, handed the service's socket inetd-style on fd
 * 0 (and 1, and 3 with LISTEN_FDS=1). `prog_wait stream IDLE_MS` accepts connections
 * on fd 0 until none came for IDLE_MS, answering each with a line that describes what
 * it was handed; `prog_wait dgram IDLE_MS` does the same for each datagram on fd 0.
 * It says on stderr that it started, for the log-tagging test, and lists the
 * descriptors it was started with (none of the daemon's may leak into it).
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The descriptors open at start, "0,1,2,3" say, in the order /proc lists them. */
static char open_fds[256];

static void list_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	if (!d) {
		snprintf(open_fds, sizeof(open_fds), "unknown");
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		n += (size_t)snprintf(open_fds + n, sizeof(open_fds) - n, "%s%s", n ? "," : "",
		                      e->d_name);
		if (n >= sizeof(open_fds))
			break;
	}
	closedir(d);
}

/* "pid=P served=N fds=F listen_pid_ok=0|1 names=NAMES same_socket=0|1 blocking=0|1
 * open=FDS" */
static int describe(char *buf, size_t len, int served)
{
	const char *fds = getenv("LISTEN_FDS"), *lpid = getenv("LISTEN_PID");
	const char *names = getenv("LISTEN_FDNAMES");
	struct stat s0, s1, s3;
	int same = fstat(0, &s0) == 0 && fstat(1, &s1) == 0 && fstat(3, &s3) == 0 &&
	           s0.st_ino == s1.st_ino && s0.st_ino == s3.st_ino;
	int blocking = !(fcntl(0, F_GETFL) & O_NONBLOCK);

	return snprintf(buf, len,
	                "pid=%d served=%d fds=%s listen_pid_ok=%d names=%s same_socket=%d "
	                "blocking=%d open=%s\n",
	                (int)getpid(), served, fds ? fds : "unset",
	                lpid && atoi(lpid) == (int)getpid(), names ? names : "unset", same,
	                blocking, open_fds);
}

int main(int argc, char **argv)
{
	int idle_ms = argc > 2 ? atoi(argv[2]) : 1000;
	int dgram = argc > 1 && strcmp(argv[1], "dgram") == 0;
	char line[512];

	list_open_fds();
	fprintf(stderr, "prog_wait %d: started\n", (int)getpid());
	for (int served = 1;; served++) {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		if (poll(&p, 1, idle_ms) <= 0)
			return 0; /* idle: the service watches the socket again */
		if (dgram) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			char in[2048];
			if (recvfrom(0, in, sizeof(in), 0, (struct sockaddr *)&from, &flen) < 0)
				continue;
			int n = describe(line, sizeof(line), served);
			if (sendto(0, line, (size_t)n, 0, (struct sockaddr *)&from, flen) < 0)
				perror("sendto");
			continue;
		}
		int fd = accept(0, NULL, NULL);
		if (fd < 0)
			continue;
		int n = describe(line, sizeof(line), served);
		if (write(fd, line, (size_t)n) < 0)
			perror("write");
		close(fd);
	}
}
