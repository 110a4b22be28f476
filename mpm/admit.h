/*
 * Admission: the overload and access policy every model applies to a new connection,
 * the same way, from the service's `limits:` and `access:`: the service-wide
 * connection limit and rate (checked before accept, so clients wait in the backlog),
 * then access lists, per-source concurrency and per-source rate (after accept, on the
 * real peer). State shared between a service's processes lives in its scoreboard
 * segment; per-source slots a dead process held are reclaimed by the master.
 */
#ifndef SUPERSERVERD_ADMIT_H
#define SUPERSERVERD_ADMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "superserverd/config.h"
#include "superserverd/scoreboard.h"

struct admit {
	const struct service_conf *conf;
	size_t greeting_len; /* banner + banner_success: sent to every admitted client */
	struct scoreboard *sb;
	struct scoreboard_slot *slot;
	unsigned slot_index;
	bool enabled;      /* any limit or access rule at all: otherwise every call is cheap */
	bool need_reserve; /* max_connections or rate: admit_reserve does something */
	int32_t pid;       /* the process it was set up in: the shared lock's owner tag */
};

/* What one connection holds, released once when it ends. */
struct admit_ticket {
	bool reserved;  /* counted in active_total */
	int32_t source; /* index in the source table, -1 = none */
	int32_t held;   /* position in this process's held list, -1 = none */
	/* The end of the greeting (banner, banner_success) the socket did not take at
	 * once: the model sends it before anything else (admit_greeting_queue). */
	uint32_t greeting_rest;
};

#define ADMIT_TICKET_NONE ((struct admit_ticket){.reserved = false, .source = -1, .held = -1})

void admit_init(struct admit *a, const struct service_conf *sc, struct scoreboard *sb,
                unsigned slot_index);

/*
 * Before accept(). Returns 0 when a connection may be accepted now (the ticket holds
 * the reservation), or the microseconds to wait before trying again: the service is
 * at max_connections (overload: wait) or over its rate. Clients wait in the backlog
 * meanwhile.
 */
uint64_t admit_reserve(struct admit *a, struct admit_ticket *t);
/* accept() found nothing after a successful reserve. */
void admit_unreserve(struct admit *a, struct admit_ticket *t);

/*
 * After accept() (and after a PROXY header, with the real peer). Returns -1 to admit,
 * or the enum reject_reason; then the rejection is counted and the caller calls
 * admit_refuse() to send the banner (if the reason calls for one) and close.
 */
int admit_check(struct admit *a, int fd, const struct sockaddr *peer, socklen_t peer_len,
                struct admit_ticket *t);
/* Whether `access`'s CIDR rules allow the source PEER (a datagram's, say: no
 * connection, no counting). A unix or unknown source passes: no CIDR rule names it. */
bool admit_source_allowed(const struct service_conf *sc, const struct sockaddr *peer,
                          socklen_t peer_len);
/* Sends what a turned-away client gets (`banner`, then `banner_fail`, or limits.banner
 * for an overload when there is no banner_fail), without waiting, then closes fd. */
void admit_refuse(struct admit *a, int fd, int reason);

struct connlog;
struct ss_conn;
struct iovec;
/* admit_check, and for a rejection its connection record and admit_refuse: what every
 * model does with a client accepted on LC (NULL: a listener without settings). True to
 * serve it, after sending it the greeting (as much as the socket takes at once; the
 * rest is in t->greeting_rest); false when it was turned away. On a TLS listener
 * nothing is sent (the greeting would go out before the handshake, in plaintext): all
 * of it waits in t->greeting_rest for admit_greeting_queue (or admit_greeting_rest,
 * for a program's TLS relay) once the handshake is done. A refusal is sent as for
 * any, in plaintext and without a handshake: a refused client costs no cryptography. */
bool admit_gate(struct admit *a, struct connlog *cl, const struct listen_conf *lc, int fd,
                const struct sockaddr *peer, socklen_t peer_len, struct admit_ticket *t);
/* The rest of T's greeting, queued as the first output of connection C (before the
 * handler's open). Returns 0, or a negative errno and C marked failed (closed unsent). */
int admit_greeting_queue(const struct admit *a, struct admit_ticket *t, struct ss_conn *c);
/* The rest of T's greeting as at most 2 iovecs into IOV (for a program's start, which
 * writes them itself); returns how many. */
int admit_greeting_rest(const struct admit *a, const struct admit_ticket *t, struct iovec iov[2]);
/* The connection has ended, however it ended. */
void admit_release(struct admit *a, struct admit_ticket *t);

/* Refills a bucket of RATE tokens per second up to BURST (a bucket never used, REFILL
 * 0, starts full) and takes one if it can. Returns 0, or the microseconds until a token
 * will be there. */
uint64_t admit_bucket_take(double *tokens, uint64_t *refill, double rate, double burst,
                           uint64_t now);
/* The rules themselves, for datagrams (mpm/event_dgram.c), which have no connection:
 * a CIDR-list verdict (longest match wins; deny by default once `allow` has an entry),
 * a uid/gid verdict (allow_users, allow_groups), and a source's key (ADDR masked to
 * the service's ipv4_prefix or ipv6_prefix). */
bool admit_inet_allowed(const struct service_conf *sc, int family, const uint8_t addr[16]);
bool admit_ids_allowed(const struct service_conf *sc, uid_t uid, gid_t gid);
void admit_source_key(const struct limits_conf *l, int family, const uint8_t addr[16],
                      uint8_t key[16]);

/* Master: a process of the service died; release what it held. */
void admit_reclaim(struct scoreboard *sb, unsigned slot_index);
/* Master: the table size and held-list size a service's configuration needs. */
void admit_sizes(const struct service_conf *sc, unsigned *n_sources_r, unsigned *held_cap_r);

#endif
