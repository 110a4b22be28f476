/*
 * Addresses on the event model's datagram sockets: what the kernel must tell about each
 * datagram (a unix sender's credentials, a wildcard UDP socket's destination address),
 * and the answer's source taken from it, so that a host with several addresses answers
 * from the one the client asked.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "mpm/dgram_addr.h"

static bool is_unix_socket(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
}

/*
 * What each datagram must bring besides its bytes. A unix datagram has no connection to
 * ask SO_PEERCRED: the sender's credentials come with it (the kernel's, not the
 * sender's say), for allow_users/allow_groups and the sender's own packet rate. A UDP
 * socket bound to every address brings the address each datagram was sent to, which
 * becomes its answer's source: left to routing, a host with several addresses could
 * answer from another one than the client asked, and the client would drop it.
 */
int dgram_socket_options(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const int on = 1;
	int r = 0;

	if (is_unix_socket(fd))
		r = setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	else if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		r = -1;
	else if (ss.ss_family == AF_INET &&
	         ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY))
		r = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	else if (ss.ss_family == AF_INET6 &&
	         IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	return r < 0 ? -errno : 0;
}

/*
 * The answer to M leaves from the address M was sent to: its packet info, when the
 * socket is a wildcard one, goes into the answer's control data (CBUF). For IPv4 that
 * is the kernel's own choice of reply address (ipi_spec_dst: the receiving interface's
 * address when M went to a broadcast one); a multicast IPv6 destination is left to
 * routing.
 */
void dgram_reply_from(const struct msghdr *m, struct msghdr *tx, union dgram_cmsg *cbuf)
{
	tx->msg_control = NULL;
	tx->msg_controllen = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		struct cmsghdr *out = (struct cmsghdr *)cbuf->buf;

		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo in, pi = {0};

			memcpy(&in, CMSG_DATA(c), sizeof(in));
			pi.ipi_spec_dst = in.ipi_spec_dst;
			*out = (struct cmsghdr){.cmsg_len = CMSG_LEN(sizeof(pi)),
			                        .cmsg_level = IPPROTO_IP,
			                        .cmsg_type = IP_PKTINFO};
			memcpy(CMSG_DATA(out), &pi, sizeof(pi));
			tx->msg_controllen = CMSG_SPACE(sizeof(pi));
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
		           c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			if (IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr))
				return;
			*out = (struct cmsghdr){.cmsg_len = CMSG_LEN(sizeof(pi)),
			                        .cmsg_level = IPPROTO_IPV6,
			                        .cmsg_type = IPV6_PKTINFO};
			memcpy(CMSG_DATA(out), &pi, sizeof(pi));
			tx->msg_controllen = CMSG_SPACE(sizeof(pi));
		} else {
			continue;
		}
		tx->msg_control = cbuf->buf;
		return;
	}
}

/* Where M was sent: the listener's own address (BASE), or on a wildcard socket the
 * address its packet info names, with the listener's port. */
const struct sockaddr *dgram_local(const struct msghdr *m, const struct sockaddr *base,
                                   struct sockaddr_storage *buf)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    base->sa_family == AF_INET &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(buf, base, sizeof(struct sockaddr_in));
			((struct sockaddr_in *)buf)->sin_addr = pi.ipi_addr;
			return (struct sockaddr *)buf;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
		    base->sa_family == AF_INET6 &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(buf, base, sizeof(struct sockaddr_in6));
			((struct sockaddr_in6 *)buf)->sin6_addr = pi.ipi6_addr;
			return (struct sockaddr *)buf;
		}
	}
	return base;
}
