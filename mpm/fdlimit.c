/*
 * Raising the descriptor limit for models that hold many connections per process, and
 * what every model does when accept() fails for a reason that lasts. The
 * usual soft limit is 1024 (systemd's default keeps the hard limit at 524288 for
 * programs that raise it themselves), which would cap a process far below its model's
 * capacity. superserverd never uses select(), and docs/modules.md tells module authors
 * not to either, so a higher limit is safe.
 */
#include <errno.h>
#include <string.h>

#include "mpm/fdlimit.h"
#include "superserverd/log.h"

rlim_t fdlimit_raise(const struct service_conf *sc, const char *who, rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (sc->rlimits[RLIM_NOFILE].set || rl.rlim_cur >= want)
		return rl.rlim_cur;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	if (rl.rlim_cur <= was)
		return was;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warning(who, "cannot raise the descriptor limit to %llu: %s",
		            (unsigned long long)rl.rlim_cur, strerror(errno));
		return was;
	}
	return rl.rlim_cur;
}

bool accept_error_passing(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	case EPERM: /* a firewall rule refused this one */
	/* Linux passes errors pending on the new connection on (accept(2)). */
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return true;
	default:
		return false;
	}
}

void accept_shortage_begin(struct accept_shortage *s, const char *who, int err)
{
	log_msg(s->on ? LOG_DEBUG : LOG_WARNING, who,
	        "cannot accept a connection: %s; retrying every %d ms", strerror(err),
	        ACCEPT_RETRY_USEC / 1000);
	s->on = true;
}

void accept_shortage_end(struct accept_shortage *s, const char *who)
{
	if (!s->on)
		return;
	s->on = false;
	log_info(who, "accepting connections again");
}
