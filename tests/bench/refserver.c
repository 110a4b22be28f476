/*
 * ssref: the benchmark's reference server, a minimal single-threaded epoll loop (level
 * triggered, non-blocking). `daytime` writes the time line at accept and closes without
 * ever registering the connection; `echo` sends back what it reads. No per-connection
 * user-space state exists unless output is pending, so it is the practical ceiling for
 * both throughput and memory per idle connection. `udp-echo` is the datagram ceiling: one
 * blocking loop that takes every queued datagram with one recvmmsg and answers them all
 * with one sendmmsg.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Output the peer has not taken yet, indexed by fd; allocated only when a write is short. */
struct pending {
	char *buf;
	size_t len, off;
};

static struct pending *pend;
static size_t npend;

static char day_line[64];
static size_t day_len;
static time_t day_sec = -1;

static void day_refresh(void)
{
	time_t t = time(NULL);
	if (t == day_sec)
		return;
	struct tm tm;
	localtime_r(&t, &tm);
	day_len = strftime(day_line, sizeof(day_line), "%a %b %e %H:%M:%S %Y\r\n", &tm);
	day_sec = t;
}

/* close() also takes the fd out of the epoll set: nothing else holds it. */
static void drop(int ep, int fd)
{
	(void)ep;
	if ((size_t)fd < npend && pend[fd].buf) {
		free(pend[fd].buf);
		pend[fd].buf = NULL;
	}
	close(fd);
}

static bool keep_pending(int fd, const char *data, size_t len)
{
	if ((size_t)fd >= npend) {
		size_t n = (size_t)fd * 2 + 64;
		struct pending *p = realloc(pend, n * sizeof(*p));
		if (!p)
			return false;
		memset(p + npend, 0, (n - npend) * sizeof(*p));
		pend = p;
		npend = n;
	}
	pend[fd].buf = malloc(len);
	if (!pend[fd].buf)
		return false;
	memcpy(pend[fd].buf, data, len);
	pend[fd].len = len;
	pend[fd].off = 0;
	return true;
}

static void echo_readable(int ep, int fd)
{
	char buf[16384];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		drop(ep, fd);
		return;
	}
	ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (w == n)
		return;
	if (w < 0 && errno != EAGAIN) {
		drop(ep, fd);
		return;
	}
	if (w < 0)
		w = 0;
	/* Stop reading until the peer takes what it was sent. */
	struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
	if (!keep_pending(fd, buf + w, (size_t)(n - w)) ||
	    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		drop(ep, fd);
}

static void echo_writable(int ep, int fd)
{
	struct pending *p = &pend[fd];
	ssize_t w = send(fd, p->buf + p->off, p->len - p->off, MSG_NOSIGNAL);
	if (w < 0) {
		if (errno != EAGAIN)
			drop(ep, fd);
		return;
	}
	p->off += (size_t)w;
	if (p->off < p->len)
		return;
	free(p->buf);
	p->buf = NULL;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		drop(ep, fd);
}

static void accept_all(int ep, int lfd, bool daytime)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				perror("ssref: accept");
				return;
			}
			continue; /* ECONNABORTED and friends: the next one may be fine */
		}
		if (daytime) {
			day_refresh();
			send(fd, day_line, day_len, MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

/* Datagrams taken and answered per system call, and the largest one echoed whole. */
#define UDP_BATCH 64
#define UDP_MAX   65536

/* Never returns but on a socket error: SIGTERM ends it. */
static int udp_echo(const struct sockaddr_in *a)
{
	static char bufs[UDP_BATCH][UDP_MAX];
	static struct sockaddr_in peers[UDP_BATCH];
	static struct iovec iov[UDP_BATCH];
	static struct mmsghdr msgs[UDP_BATCH];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	/* The system's default buffer sizes, as the servers it is compared with have. */
	if (fd < 0 || bind(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		perror("ssref: udp socket");
		return 1;
	}
	for (;;) {
		for (int i = 0; i < UDP_BATCH; i++) {
			iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = UDP_MAX};
			msgs[i].msg_hdr = (struct msghdr){.msg_name = &peers[i],
			                                  .msg_namelen = sizeof(peers[i]),
			                                  .msg_iov = &iov[i],
			                                  .msg_iovlen = 1};
		}
		int n = recvmmsg(fd, msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("ssref: recvmmsg");
			return 1;
		}
		for (int i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		/* A datagram the kernel refuses (a peer gone, ENOBUFS) is skipped, not retried. */
		for (int done = 0; done < n;) {
			int w = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);
			done += w > 0 ? w : 1;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: ssref --port P [--host A] [--mode daytime|echo|udp-echo] [--backlog N]\n"
	           "             [--nodelay]  (TCP_NODELAY: a TLS terminator's backend, tls.sh)\n"
	           "A minimal single-threaded epoll (udp-echo: recvmmsg) server; stop it with "
	           "SIGTERM.\n");
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	long port = -1;
	int backlog = 4096;
	bool daytime = false, udp = false, nodelay = false;
	static const struct option longopts[] = {
	        {"host", required_argument, NULL, 'H'},
	        {"port", required_argument, NULL, 'p'},
	        {"mode", required_argument, NULL, 'm'},
	        {"backlog", required_argument, NULL, 'b'},
	        {"nodelay", no_argument, NULL, 'N'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "H:p:m:b:Nh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'm':
			if (strcmp(optarg, "daytime") == 0) {
				daytime = true;
			} else if (strcmp(optarg, "udp-echo") == 0) {
				udp = true;
			} else if (strcmp(optarg, "echo") != 0) {
				fprintf(stderr, "ssref: unknown mode '%s'\n", optarg);
				return 1;
			}
			break;
		case 'b':
			backlog = atoi(optarg);
			break;
		case 'N':
			nodelay = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (port <= 0 || port > 65535) {
		usage(stderr);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "ssref: --host must be an IPv4 address\n");
		return 1;
	}
	if (udp)
		return udp_echo(&a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (nodelay && setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, backlog) < 0) {
		perror("ssref: listen");
		return 1;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		perror("ssref: epoll");
		return 1;
	}
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno != EINTR) {
			perror("ssref: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd)
				accept_all(ep, lfd, daytime);
			else if (evs[i].events & EPOLLOUT)
				echo_writable(ep, fd);
			else
				echo_readable(ep, fd);
		}
	}
}
