/* TCP_INFO readers (see tcpinfo.h). linux/tcp.h, because glibc's copy of struct
 * tcp_info stops before the byte counters. */
#include <errno.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "superserverd/tcpinfo.h"

/* The kernel's TCP states (include/net/tcp_states.h); netinet/tcp.h names them too,
 * but cannot be included beside linux/tcp.h. */
enum {
	ST_FIN_WAIT2 = 5,
	ST_TIME_WAIT = 6,
	ST_CLOSE_WAIT = 8,
	ST_LAST_ACK = 9,
	ST_CLOSING = 11,
};

static int get_info(int fd, struct tcp_info *ti, socklen_t *len)
{
	int domain;
	socklen_t dlen = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0)
		return -errno;
	if (domain != AF_INET && domain != AF_INET6)
		return -EOPNOTSUPP;
	*len = sizeof(*ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, len) < 0)
		return -errno;
	return 0;
}

int tcpinfo_bytes(int fd, uint64_t *in_r, uint64_t *out_r)
{
	struct tcp_info ti = {0};
	socklen_t len;
	int r = get_info(fd, &ti, &len);

	if (r < 0)
		return r;
	/* Older kernels return a shorter struct without the counters. */
	if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
		return -EOPNOTSUPP;
	/* The counters follow sequence numbers, and a FIN takes one: take it off when
	 * the peer's FIN arrived (in) or ours was acknowledged (out). */
	uint64_t in = ti.tcpi_bytes_received, out = ti.tcpi_bytes_acked;
	switch (ti.tcpi_state) {
	case ST_CLOSE_WAIT:
	case ST_LAST_ACK:
	case ST_CLOSING:
		in -= in > 0;
		break;
	case ST_TIME_WAIT:
		in -= in > 0;
		out -= out > 0;
		break;
	case ST_FIN_WAIT2:
		out -= out > 0;
		break;
	default:
		break;
	}
	*in_r = in;
	*out_r = out;
	return 0;
}

int tcpinfo_listen_queue(int fd, uint32_t *depth_r, uint32_t *max_r)
{
	struct tcp_info ti = {0};
	socklen_t len;
	int r = get_info(fd, &ti, &len);

	if (r < 0)
		return r;
	/* On a listening socket the kernel reports the accept queue here. */
	*depth_r = ti.tcpi_unacked;
	*max_r = ti.tcpi_sacked;
	return 0;
}
