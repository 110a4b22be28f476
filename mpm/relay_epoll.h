/*
 * A relayed connection's two sockets in an epoll set, for the models that run relays
 * from an epoll loop (the event model's loop, the threadpool's poller). Each socket is
 * registered only for what the relay waits on next, so a side in back-pressure does
 * not wake the loop, and leaves the set when the relay wants nothing from it.
 */
#ifndef SUPERSERVERD_RELAY_EPOLL_H
#define SUPERSERVERD_RELAY_EPOLL_H

#include <stdbool.h>
#include <stdint.h>

#include "mpm/relay.h"

/* One socket of a relayed connection as its loop keeps it: the events registered, when
 * in the set, live in the loop's own record (the client's are shared with the
 * connection's other modes). */
struct relay_epoll_sock {
	int fd;
	void *ptr; /* the epoll event's data.ptr */
	uint32_t *events;
	bool *in_epoll;
};

/*
 * One relay_step(), then both sockets' registrations brought in line with what the
 * relay waits on next. Returns false while the relay goes on; true when it is over,
 * with *outcome why: relay_outcome, or DRIVER_PEER_GONE when epoll_ctl failed (logged
 * under NAME, the service).
 */
bool relay_epoll_step(const char *name, int epfd, struct relay *r,
                      const struct relay_epoll_sock *client, const struct relay_epoll_sock *up,
                      uint32_t ready, uint32_t up_ready, uint64_t now,
                      enum driver_outcome *outcome);

#endif
