/*
 * Failure episodes of a service (watch.h): the state machine, and what each counter's
 * episodes are called in the log.
 */
#include "superserverd/watch.h"
#include "superserverd/log.h"

enum watch_step watch_episode_look(struct watch_episode *e, uint64_t cur, uint64_t now,
                                   uint64_t *n_r, uint64_t *usec_r)
{
	uint64_t delta = cur - e->last;

	e->last = cur;
	if (delta && !e->start) {
		e->start = now ? now : 1;
		e->count = delta;
		*n_r = delta;
		return WATCH_BEGAN;
	}
	if (delta) {
		e->count += delta;
		return WATCH_GOING;
	}
	if (!e->start)
		return WATCH_QUIET;
	*n_r = e->count;
	*usec_r = now - e->start;
	e->start = 0;
	return WATCH_ENDED;
}

static const char *const reject_what[REJECT_REASON_COUNT] = {
        [REJECT_MAX_CONNECTIONS] = "at max_connections",
        [REJECT_PER_SOURCE] = "over the per-source connection limit",
        [REJECT_RATE] = "over a source's connection rate",
        [REJECT_ACCESS] = "refused by the access list",
        [REJECT_PROXY] = "with a bad or untrusted PROXY header",
        [REJECT_FAILED] = "because the service has failed",
};

static const char *const tls_what[TLS_FAIL_COUNT] = {
        [TLS_FAIL_PROTOCOL] = "no protocol version in common",
        [TLS_FAIL_CIPHER] = "no cipher in common",
        [TLS_FAIL_CLIENT_CERT] = "client certificate missing or not verified",
        [TLS_FAIL_TIMEOUT] = "handshake timed out",
        [TLS_FAIL_NOT_TLS] = "not a TLS client",
        [TLS_FAIL_CLOSED] = "client left mid-handshake",
        [TLS_FAIL_OTHER] = "a handshake error",
};

void service_watch_look(struct service_watch *w, struct scoreboard *sb, const char *name,
                        uint64_t now)
{
	const struct scoreboard_counters *c = &sb->counters;
	uint64_t n = 0, usec = 0;

	for (unsigned r = 0; r < REJECT_REASON_COUNT; r++)
		switch (watch_episode_look(&w->rejected[r], atomic_load(&c->rejected[r]), now, &n,
		                           &usec)) {
		case WATCH_BEGAN:
			log_warning(name, "rejecting connections %s (%llu in the last second)",
			            reject_what[r], (unsigned long long)n);
			break;
		case WATCH_ENDED:
			log_notice(name, "no more connections %s: %llu rejected in %.1f s",
			           reject_what[r], (unsigned long long)n, (double)usec / 1e6);
			break;
		default:
			break;
		}
	/* A probe that connects and leaves (a health check, a port scan) is the common
	 * case, not news: its episodes are logged at info. */
	for (unsigned f = TLS_FAIL_NONE + 1; f < TLS_FAIL_COUNT && f < SCOREBOARD_TLS_FAIL_SLOTS;
	     f++) {
		bool quiet = f == TLS_FAIL_CLOSED;
		switch (watch_episode_look(&w->tls_failed[f], atomic_load(&c->tls.failed[f]), now,
		                           &n, &usec)) {
		case WATCH_BEGAN:
			log_msg(quiet ? LOG_INFO : LOG_WARNING, name,
			        "TLS handshakes failing: %s (%llu in the last second)", tls_what[f],
			        (unsigned long long)n);
			break;
		case WATCH_ENDED:
			log_msg(quiet ? LOG_INFO : LOG_NOTICE, name,
			        "no more TLS handshakes failing (%s): %llu in %.1f s", tls_what[f],
			        (unsigned long long)n, (double)usec / 1e6);
			break;
		default:
			break;
		}
	}
}
