/*
 * Addresses on the event model's datagram sockets (dgram_addr.c): the options a
 * datagram socket needs, an answer's source, a datagram's local address.
 */
#ifndef SUPERSERVERD_DGRAM_ADDR_H
#define SUPERSERVERD_DGRAM_ADDR_H

#include <netinet/in.h>
#include <sys/socket.h>

/* A unix datagram's sender credentials, or where a UDP datagram was sent to (wildcard
 * sockets: IP_PKTINFO / IPV6_RECVPKTINFO); one of them per datagram. */
union dgram_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) > CMSG_SPACE(sizeof(struct ucred))
	                 ? CMSG_SPACE(sizeof(struct in6_pktinfo))
	                 : CMSG_SPACE(sizeof(struct ucred))];
	struct cmsghdr align;
};

/* Once per socket, before it is read: SO_PASSCRED on a unix socket, IP_PKTINFO or
 * IPV6_RECVPKTINFO on a UDP socket bound to every address. 0 or -errno. */
int dgram_socket_options(int fd);
/* The answer TX to datagram M leaves from the address M was sent to (on a wildcard
 * socket; else TX gets no control data). CBUF holds TX's control data. */
void dgram_reply_from(const struct msghdr *m, struct msghdr *tx, union dgram_cmsg *cbuf);
/* Where M was sent: BASE (the listener's address), or on a wildcard socket the address
 * M's packet info names with BASE's port, written in BUF. */
const struct sockaddr *dgram_local(const struct msghdr *m, const struct sockaddr *base,
                                   struct sockaddr_storage *buf);

#endif
