/*
 * What the kernel knows about a TCP socket (TCP_INFO): the bytes a connection moved,
 * for programs whose I/O superserverd never sees, and the accept queue of a
 * listening socket.
 */
#ifndef SUPERSERVERD_TCPINFO_H
#define SUPERSERVERD_TCPINFO_H

#include <stdint.h>

/* Bytes received from the peer and bytes the peer acknowledged. 0, or -errno (e.g.
 * -EOPNOTSUPP for a unix socket). */
int tcpinfo_bytes(int fd, uint64_t *in_r, uint64_t *out_r);
/* Connections waiting to be accepted and the backlog limit of a listening socket. */
int tcpinfo_listen_queue(int fd, uint32_t *depth_r, uint32_t *max_r);

#endif
