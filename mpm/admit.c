/* Admission policy (see admit.h). */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mpm/admit.h"
#include "mpm/conn.h"
#include "mpm/connlog.h"
#include "superserverd/cidr.h"

#define ADMIT_TABLE_SIZE      16384 /* sources tracked at once per service */
#define ADMIT_HELD_CAP        4096  /* open connections per process remembered for reclaim */
#define ADMIT_MAX_PROBES      64
#define ADMIT_LOCK_STEAL_USEC (50 * 1000)

static bool has_cidr_access(const struct service_conf *sc)
{
	return sc->access.n_allow || sc->access.n_deny;
}

static bool has_unix_access(const struct service_conf *sc)
{
	return sc->access.n_allow_uids || sc->access.n_allow_gids;
}

void admit_sizes(const struct service_conf *sc, unsigned *n_sources_r, unsigned *held_cap_r)
{
	bool per_source = sc->limits.per_source_max || sc->limits.per_source_rate > 0;
	*n_sources_r = per_source ? ADMIT_TABLE_SIZE : 0;
	*held_cap_r = sc->limits.per_source_max ? ADMIT_HELD_CAP : 0;
}

void admit_init(struct admit *a, const struct service_conf *sc, struct scoreboard *sb,
                unsigned slot_index)
{
	const struct limits_conf *l = &sc->limits;

	*a = (struct admit){
	        .conf = sc, .sb = sb, .slot = &sb->slots[slot_index], .slot_index = slot_index};
	/* Once: getpid() is a system call, and the lock is taken per connection. */
	a->pid = (int32_t)getpid();
	a->greeting_len = sc->banners[BANNER_CONNECT].len + sc->banners[BANNER_SUCCESS].len;
	a->need_reserve = l->max_connections || l->rate > 0;
	a->enabled = a->need_reserve || l->per_source_max || l->per_source_rate > 0 ||
	             has_cidr_access(sc) || has_unix_access(sc);
}

/* A spin lock across processes, held under the pid ME. A holder that died (SIGKILL
 * mid-section) would wedge the service: after a while a waiter checks the holder is
 * alive. */
static void lock_take(struct admit_shared *s, int32_t me)
{
	int32_t free_ = 0;
	uint64_t start = 0;

	for (unsigned spins = 0;; spins++) {
		free_ = 0;
		if (atomic_compare_exchange_weak(&s->lock, &free_, me))
			return;
		if (spins % 1024 == 1023) {
			uint64_t now = scoreboard_now_usec();
			if (!start)
				start = now;
			int32_t holder = atomic_load(&s->lock);
			if (now - start > ADMIT_LOCK_STEAL_USEC && holder && kill(holder, 0) < 0 &&
			    errno == ESRCH && atomic_compare_exchange_strong(&s->lock, &holder, me))
				return;
			sched_yield();
		}
	}
}

static void lock_give(struct admit_shared *s)
{
	atomic_store_explicit(&s->lock, 0, memory_order_release);
}

uint64_t admit_bucket_take(double *tokens, uint64_t *refill, double rate, double burst,
                           uint64_t now)
{
	if (*refill == 0) {
		*tokens = burst;
		*refill = now;
	} else if (now > *refill) {
		*tokens += (double)(now - *refill) * rate / 1e6;
		if (*tokens > burst)
			*tokens = burst;
		*refill = now;
	}
	if (*tokens >= 1.0) {
		*tokens -= 1.0;
		return 0;
	}
	uint64_t wait = (uint64_t)((1.0 - *tokens) * 1e6 / rate) + 1;
	return wait;
}

uint64_t admit_reserve(struct admit *a, struct admit_ticket *t)
{
	const struct limits_conf *l = &a->conf->limits;
	struct admit_shared *s = &a->sb->admit;
	uint64_t wait = 0;

	*t = ADMIT_TICKET_NONE;
	if (!a->need_reserve)
		return 0;
	/* overload: reject counts after accept (admit_check): a reservation here could be
	 * a phantom (another process's accept finding nothing) that turns a real client
	 * away. */
	bool counted = l->max_connections && l->overload == OVERLOAD_WAIT;
	if (!counted && l->rate <= 0)
		return 0;
	lock_take(s, a->pid);
	bool full = counted && atomic_load(&s->active_total) >= l->max_connections;
	if (full)
		wait = 20 * 1000; /* capacity frees when some process releases: look again */
	else if (l->rate > 0)
		wait = admit_bucket_take(&s->tokens, &s->refill_usec, l->rate, l->burst,
		                         scoreboard_now_usec());
	if (wait == 0 && counted) {
		atomic_fetch_add(&s->active_total, 1);
		atomic_fetch_add(&a->slot->admitted, 1);
		t->reserved = true;
	}
	lock_give(s);
	return wait;
}

void admit_unreserve(struct admit *a, struct admit_ticket *t)
{
	if (!t->reserved)
		return;
	atomic_fetch_sub(&a->sb->admit.active_total, 1);
	atomic_fetch_sub(&a->slot->admitted, 1);
	t->reserved = false;
	/* The token, if any, is spent: a rate counts attempts the kernel queued, too. */
}

bool admit_ids_allowed(const struct service_conf *sc, uid_t uid, gid_t gid)
{
	for (size_t i = 0; i < sc->access.n_allow_uids; i++)
		if (sc->access.allow_uids[i] == uid)
			return true;
	for (size_t i = 0; i < sc->access.n_allow_gids; i++)
		if (sc->access.allow_gids[i] == gid)
			return true;
	return false;
}

static bool unix_allowed(const struct service_conf *sc, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return admit_ids_allowed(sc, cred.uid, cred.gid);
}

bool admit_inet_allowed(const struct service_conf *sc, int family, const uint8_t addr[16])
{
	const struct access_conf *ac = &sc->access;
	int allow = cidr_longest_match(ac->allow, ac->n_allow, family, addr);
	int deny = cidr_longest_match(ac->deny, ac->n_deny, family, addr);

	if (deny >= 0 && deny >= allow)
		return false;
	if (allow >= 0)
		return true;
	return ac->n_allow == 0;
}

bool admit_source_allowed(const struct service_conf *sc, const struct sockaddr *peer,
                          socklen_t peer_len)
{
	uint8_t addr[16];
	int family;

	if (!has_cidr_access(sc) || !peer || peer->sa_family == AF_UNIX ||
	    cidr_from_sockaddr(peer, peer_len, &family, addr) < 0)
		return true;
	return admit_inet_allowed(sc, family, addr);
}

void admit_source_key(const struct limits_conf *l, int family, const uint8_t addr[16],
                      uint8_t key[16])
{
	unsigned prefix = family == AF_INET ? l->ipv4_prefix : l->ipv6_prefix;
	unsigned bytes = family == AF_INET ? 4 : 16;

	memset(key, 0, 16);
	for (unsigned i = 0; i < bytes; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		key[i] = addr[i] & mask;
	}
}

/* The entry for key, claiming a never-used or idle one if needed; -1 when full. */
static int32_t source_find(struct scoreboard *sb, int family, const uint8_t key[16],
                           const struct limits_conf *l, uint64_t now)
{
	struct admit_source *tab = scoreboard_sources(sb);
	uint32_t h = 2166136261u;
	int32_t reuse = -1;

	for (unsigned i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	h ^= (uint32_t)family;
	for (unsigned p = 0; p < ADMIT_MAX_PROBES; p++) {
		uint32_t i = (h + p) % sb->n_sources;
		struct admit_source *e = &tab[i];
		if (e->family == 0) {
			if (reuse < 0)
				reuse = (int32_t)i;
			break; /* the chain ends here */
		}
		if (e->family == family && memcmp(e->key, key, 16) == 0)
			return (int32_t)i;
		/* An entry with nothing open and a full bucket carries no state: reusable. */
		bool bucket_full =
		        l->per_source_rate <= 0 ||
		        (double)(now - e->refill_usec) * l->per_source_rate / 1e6 + e->tokens >=
		                l->per_source_burst;
		if (reuse < 0 && atomic_load(&e->count) == 0 && bucket_full)
			reuse = (int32_t)i;
	}
	if (reuse < 0)
		return -1;
	struct admit_source *e = &tab[reuse];
	e->family = (uint8_t)family;
	memcpy(e->key, key, 16);
	atomic_store(&e->count, 0);
	e->tokens = 0;
	e->refill_usec = 0; /* bucket_take starts it full */
	return reuse;
}

static void held_add(struct admit *a, struct admit_ticket *t)
{
	_Atomic uint32_t *held = scoreboard_held(a->sb, a->slot_index);
	for (uint32_t i = 0; i < a->sb->held_cap; i++) {
		uint32_t zero = 0;
		if (atomic_compare_exchange_strong(&held[i], &zero, (uint32_t)t->source + 1)) {
			t->held = (int32_t)i;
			return;
		}
	}
	/* Full: the count is right while this process lives; only a crash would leak it. */
}

int admit_check(struct admit *a, int fd, const struct sockaddr *peer, socklen_t peer_len,
                struct admit_ticket *t)
{
	const struct service_conf *sc = a->conf;
	const struct limits_conf *l = &sc->limits;
	struct admit_shared *s = &a->sb->admit;
	uint8_t addr[16], key[16];
	int family, reason = -1;

	if (!a->enabled)
		return -1;
	if (l->max_connections && !t->reserved) {
		/* overload: reject; or a model that does not reserve */
		lock_take(s, a->pid);
		if (atomic_load(&s->active_total) >= l->max_connections) {
			reason = REJECT_MAX_CONNECTIONS;
		} else {
			atomic_fetch_add(&s->active_total, 1);
			atomic_fetch_add(&a->slot->admitted, 1);
			t->reserved = true;
		}
		lock_give(s);
		if (reason >= 0)
			goto reject;
	}
	if (!peer || peer->sa_family == AF_UNIX ||
	    cidr_from_sockaddr(peer, peer_len, &family, addr) < 0) {
		if (has_unix_access(sc) && !unix_allowed(sc, fd)) {
			reason = REJECT_ACCESS;
			goto reject;
		}
		return -1; /* unix peers have no source to count */
	}
	if (has_cidr_access(sc) && !admit_inet_allowed(sc, family, addr)) {
		reason = REJECT_ACCESS;
		goto reject;
	}
	if (!l->per_source_max && l->per_source_rate <= 0)
		return -1;
	admit_source_key(l, family, addr, key);
	lock_take(s, a->pid);
	uint64_t now = scoreboard_now_usec();
	int32_t i = source_find(a->sb, family, key, l, now);
	if (i < 0) {
		/* A table full of live sources: admit rather than refuse a stranger. */
		atomic_fetch_add(&s->table_full, 1);
		lock_give(s);
		return -1;
	}
	struct admit_source *e = &scoreboard_sources(a->sb)[i];
	if (l->per_source_max && atomic_load(&e->count) >= l->per_source_max)
		reason = REJECT_PER_SOURCE;
	else if (l->per_source_rate > 0 &&
	         admit_bucket_take(&e->tokens, &e->refill_usec, l->per_source_rate,
	                           l->per_source_burst, now) > 0)
		reason = REJECT_RATE;
	else if (l->per_source_max) {
		atomic_fetch_add(&e->count, 1);
		t->source = i;
	}
	lock_give(s);
	if (t->source >= 0)
		held_add(a, t);
	if (reason < 0)
		return -1;
reject:
	atomic_fetch_add(&a->sb->counters.rejected[reason], 1);
	admit_release(a, t);
	return reason;
}

/* Without waiting: a client that does not read gets what its socket buffer takes. */
static ssize_t send_now(int fd, struct iovec *iov, int n)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};

	return n ? sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;
}

void admit_refuse(struct admit *a, int fd, int reason)
{
	struct iovec iov[3];
	int n = config_refusal_iov(a->conf, reason == REJECT_ACCESS, iov);

	/* What does not fit the socket buffer at once is not sent: the client is leaving. */
	if (send_now(fd, iov, n) < 0) {
		/* a courtesy only */
	}
	close(fd);
}

/* The greeting's iovecs from byte SKIP on; returns how many. */
static int greeting_iov(const struct admit *a, size_t skip, struct iovec iov[2])
{
	int n = config_greeting_iov(a->conf, iov), out = 0;

	for (int i = 0; i < n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		iov[out].iov_base = (char *)iov[i].iov_base + skip;
		iov[out].iov_len = iov[i].iov_len - skip;
		skip = 0;
		out++;
	}
	return out;
}

static void greet(struct admit *a, int fd, struct admit_ticket *t)
{
	struct iovec iov[2];
	int n = greeting_iov(a, 0, iov);
	ssize_t sent = send_now(fd, iov, n);

	/* An error (the peer gone, say) is the connection's to find: all is left. */
	t->greeting_rest = (uint32_t)(a->greeting_len - (sent > 0 ? (size_t)sent : 0));
}

int admit_greeting_rest(const struct admit *a, const struct admit_ticket *t, struct iovec iov[2])
{
	if (!t->greeting_rest)
		return 0;
	return greeting_iov(a, a->greeting_len - t->greeting_rest, iov);
}

int admit_greeting_queue(const struct admit *a, struct admit_ticket *t, struct ss_conn *c)
{
	struct iovec iov[2];
	int n = admit_greeting_rest(a, t, iov), r = 0;

	for (int i = 0; i < n && r == 0; i++)
		r = ss_conn_write(c, iov[i].iov_base, iov[i].iov_len);
	t->greeting_rest = 0;
	/* Without its greeting the client must not get the handler's bytes either. */
	if (r < 0)
		c->failed = true;
	return r;
}

void admit_release(struct admit *a, struct admit_ticket *t)
{
	if (t->source >= 0) {
		atomic_fetch_sub(&scoreboard_sources(a->sb)[t->source].count, 1);
		if (t->held >= 0)
			atomic_store(&scoreboard_held(a->sb, a->slot_index)[t->held], 0);
		t->source = -1;
		t->held = -1;
	}
	admit_unreserve(a, t);
}

void admit_reclaim(struct scoreboard *sb, unsigned slot_index)
{
	struct scoreboard_slot *slot = &sb->slots[slot_index];
	uint32_t admitted = atomic_exchange(&slot->admitted, 0);

	if (admitted)
		atomic_fetch_sub(&sb->admit.active_total, admitted);
	if (!sb->held_cap)
		return;
	_Atomic uint32_t *held = scoreboard_held(sb, slot_index);
	for (uint32_t i = 0; i < sb->held_cap; i++) {
		uint32_t e = atomic_exchange(&held[i], 0);
		if (e && e - 1 < sb->n_sources)
			atomic_fetch_sub(&scoreboard_sources(sb)[e - 1].count, 1);
	}
}

bool admit_gate(struct admit *a, struct connlog *cl, const struct listen_conf *lc, int fd,
                const struct sockaddr *peer, socklen_t peer_len, struct admit_ticket *t)
{
	int reason = admit_check(a, fd, peer, peer_len, t);

	if (reason < 0) {
		t->greeting_rest = (uint32_t)a->greeting_len;
		/* On a TLS listener it would go out before the handshake, in plaintext. */
		if (a->greeting_len && !(lc && lc->tls))
			greet(a, fd, t);
		return true;
	}
	connlog_rejected(cl, peer, peer_len, fd, reason);
	admit_refuse(a, fd, reason);
	return false;
}
