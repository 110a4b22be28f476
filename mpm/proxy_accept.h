/*
 * The PROXY protocol step of accepting a connection on a listener that expects it:
 * the TCP peer must be a trusted proxy, and the header (read with a deadline, nothing
 * after it consumed) then names the real client and the address it connected to.
 */
#ifndef SUPERSERVERD_PROXY_ACCEPT_H
#define SUPERSERVERD_PROXY_ACCEPT_H

#include <stddef.h>
#include <sys/socket.h>

#include "superserverd/config.h"

/*
 * Blocking (waits up to lc->proxy_timeout). On success returns 0 and replaces *peer
 * and sets *local (local_len 0 when the header names none: a LOCAL/UNKNOWN header
 * keeps the connection's own addresses). On failure returns -1 with a reason in err.
 */
int proxy_accept_blocking(const struct listen_conf *lc, int fd, struct sockaddr_storage *peer,
                          socklen_t *peer_len, struct sockaddr_storage *local, socklen_t *local_len,
                          char *err, size_t errlen);

#endif
