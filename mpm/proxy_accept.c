/* The PROXY protocol step of accept (see proxy_accept.h). */
#include <stdio.h>
#include <string.h>

#include "mpm/proxy_accept.h"
#include "superserverd/cidr.h"
#include "superserverd/proxy.h"

int proxy_accept_blocking(const struct listen_conf *lc, int fd, struct sockaddr_storage *peer,
                          socklen_t *peer_len, struct sockaddr_storage *local, socklen_t *local_len,
                          char *err, size_t errlen)
{
	struct proxy_header h;
	uint8_t addr[16];
	int family;

	*local_len = 0;
	/* Anyone who can send the header can claim any address: only from a proxy we name. */
	if (cidr_from_sockaddr((struct sockaddr *)peer, *peer_len, &family, addr) < 0 ||
	    cidr_longest_match(lc->trusted_proxies, lc->n_trusted_proxies, family, addr) < 0) {
		snprintf(err, errlen, "PROXY header from a peer not in trusted_proxies");
		return -1;
	}
	if (proxy_read_blocking(fd, lc->proxy_timeout_usec, &h, err, errlen) != PROXY_DONE)
		return -1;
	if (h.local)
		return 0;
	*peer = h.src;
	*peer_len = h.src_len;
	*local = h.dst;
	*local_len = h.dst_len;
	return 0;
}
