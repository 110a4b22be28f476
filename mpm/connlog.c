/* Per-connection records (see connlog.h). */
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mpm/conn.h"
#include "mpm/connlog.h"
#include "mpm/driver.h"
#include "mpm/mpm.h"
#include "superserverd/addr.h"
#include "superserverd/log.h"

enum connlog_mode connlog_mode_of(const struct service_conf *sc)
{
	if (sc->connlog != CONNLOG_DEFAULT)
		return sc->connlog;
	return sc->kind == HANDLER_EXEC ? CONNLOG_JOURNAL : CONNLOG_OFF;
}

void connlog_open(struct connlog *cl, const struct service_conf *sc, struct scoreboard *sb, int fd)
{
	*cl = (struct connlog){.conf = sc, .sb = sb, .fd = fd, .mode = connlog_mode_of(sc)};
	if (cl->mode == CONNLOG_JSON && fd < 0)
		cl->mode = CONNLOG_OFF;
}

/* The held lines as one datagram. */
static void send_held(struct connlog *cl)
{
	if (cl->held_len && send(cl->fd, cl->held, cl->held_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		atomic_fetch_add(&cl->sb->counters.records_dropped, cl->held_n);
	cl->held_len = 0;
	cl->held_n = 0;
}

void connlog_close(struct connlog *cl)
{
	connlog_flush(cl);
	free(cl->held);
	cl->held = NULL;
	cl->mode = CONNLOG_OFF;
}

void connlog_hold(struct connlog *cl)
{
	if (cl->mode != CONNLOG_JSON)
		return; /* the journal takes one entry per call whatever we do */
	if (!cl->held && !(cl->held = malloc(CONNLOG_DGRAM_MAX)))
		return; /* records go one by one */
	cl->holding = true;
}

void connlog_flush(struct connlog *cl)
{
	if (cl->holding)
		send_held(cl);
	cl->holding = false;
}

/* LINE (LEN bytes, its newline included) to the master, now or with the held ones. */
static void emit(struct connlog *cl, const char *line, size_t len)
{
	if (cl->holding && len <= CONNLOG_DGRAM_MAX) {
		if (cl->held_len + len > CONNLOG_DGRAM_MAX)
			send_held(cl);
		memcpy(cl->held + cl->held_len, line, len);
		cl->held_len += len;
		cl->held_n++;
		return;
	}
	/* One datagram, one line: lines from many processes never interleave. A master
	 * too busy to keep up loses records rather than stalling connections. */
	if (send(cl->fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		atomic_fetch_add(&cl->sb->counters.records_dropped, 1);
}

static void format_start(uint64_t start_mono, char *buf, size_t len)
{
	struct timespec now_rt, now_mono;
	struct tm tm;

	/* The start as wall-clock time: now minus how long ago it started. */
	clock_gettime(CLOCK_REALTIME, &now_rt);
	clock_gettime(CLOCK_MONOTONIC, &now_mono);
	uint64_t mono = (uint64_t)now_mono.tv_sec * 1000000ULL + (uint64_t)now_mono.tv_nsec / 1000;
	uint64_t rt = (uint64_t)now_rt.tv_sec * 1000000ULL + (uint64_t)now_rt.tv_nsec / 1000;
	uint64_t start = rt - (mono > start_mono ? mono - start_mono : 0);
	time_t sec = (time_t)(start / 1000000ULL);
	gmtime_r(&sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06lluZ", (unsigned long long)(start % 1000000ULL));
}

void connlog_write(struct connlog *cl, const struct conn_record *r)
{
	char peer[128] = "", local[128] = "", start[48];
	struct sockaddr_storage ls;
	socklen_t llen = sizeof(ls);
	uint64_t end = r->end_usec ? r->end_usec : scoreboard_now_usec();
	uint64_t dur = end > r->start_usec ? end - r->start_usec : 0;
	const char *transport = r->datagram ? "datagram" : "stream";

	if (cl->mode == CONNLOG_OFF)
		return;
	if (r->peer)
		addr_format(r->peer, r->peer_len, peer, sizeof(peer));
	if (r->local)
		addr_format(r->local, r->local_len, local, sizeof(local));
	else if (r->fd >= 0 && getsockname(r->fd, (struct sockaddr *)&ls, &llen) == 0)
		addr_format((struct sockaddr *)&ls, llen, local, sizeof(local));
	format_start(r->start_usec, start, sizeof(start));

	if (cl->mode == CONNLOG_JOURNAL) {
		char f[12][160];
		const char *fields[13];
		int n = 0;
		char host[64];
		unsigned port;
		if (r->peer &&
		    addr_host_port(r->peer, r->peer_len, host, sizeof(host), &port) == 0) {
			snprintf(f[n], sizeof(f[n]), "REMOTE_ADDR=%s", host), n++;
			snprintf(f[n], sizeof(f[n]), "REMOTE_PORT=%u", port), n++;
		}
		snprintf(f[n], sizeof(f[n]), "LOCAL_ADDR=%s", local), n++;
		snprintf(f[n], sizeof(f[n]), "MODEL=%s", cl->conf->mpm.ops->name), n++;
		snprintf(f[n], sizeof(f[n]), "TRANSPORT=%s", transport), n++;
		snprintf(f[n], sizeof(f[n]), "DURATION_USEC=%llu", (unsigned long long)dur), n++;
		snprintf(f[n], sizeof(f[n]), "OUTCOME=%s%s%s", r->outcome, r->reason ? ":" : "",
		         r->reason ? r->reason : ""),
		        n++;
		if (r->bytes_known) {
			snprintf(f[n], sizeof(f[n]), "BYTES_IN=%llu",
			         (unsigned long long)r->bytes_in),
			        n++;
			snprintf(f[n], sizeof(f[n]), "BYTES_OUT=%llu",
			         (unsigned long long)r->bytes_out),
			        n++;
		}
		if (r->exit_status >= 0)
			snprintf(f[n], sizeof(f[n]), "EXIT_STATUS=%d", r->exit_status), n++;
		if (r->suppressed)
			snprintf(f[n], sizeof(f[n]), "SUPPRESSED=%llu",
			         (unsigned long long)r->suppressed),
			        n++;
		snprintf(f[n], sizeof(f[n]), "CONNECTION_START=%s", start), n++;
		for (int i = 0; i < n; i++)
			fields[i] = f[i];
		fields[n] = NULL;
		if (r->suppressed)
			log_fields(LOG_INFO, cl->conf->name, fields,
			           "%llu datagram records suppressed in %llu ms",
			           (unsigned long long)r->suppressed,
			           (unsigned long long)(dur / 1000));
		else
			log_fields(LOG_INFO, cl->conf->name, fields, "%s %s %s%s%s after %llu ms",
			           r->datagram && r->exit_status < 0 ? "datagram" : "connection",
			           peer[0] ? peer : "?", r->outcome, r->reason ? ": " : "",
			           r->reason ? r->reason : "", (unsigned long long)(dur / 1000));
		return;
	}

	json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:f}", "service", cl->conf->name,
	                      "model", cl->conf->mpm.ops->name, "pid", (int)getpid(), "transport",
	                      transport, "peer", peer, "local", local, "start", start,
	                      "duration_ms", (double)dur / 1000.0);
	json_object_set_new(o, "bytes_in",
	                    r->bytes_known ? json_integer((json_int_t)r->bytes_in) : json_null());
	json_object_set_new(o, "bytes_out",
	                    r->bytes_known ? json_integer((json_int_t)r->bytes_out) : json_null());
	json_object_set_new(o, "outcome", json_string(r->outcome));
	if (r->reason)
		json_object_set_new(o, "reason", json_string(r->reason));
	if (r->exit_status >= 0)
		json_object_set_new(o, !strcmp(r->outcome, "killed") ? "signal" : "exit_status",
		                    json_integer(r->exit_status));
	if (r->suppressed)
		json_object_set_new(o, "suppressed", json_integer((json_int_t)r->suppressed));
	char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (!line)
		return;
	size_t len = strlen(line);
	line[len] = '\n'; /* json_dumps' NUL becomes the newline: one write, one line */
	emit(cl, line, len + 1);
	free(line);
}

const char *connlog_outcome(int o)
{
	switch ((enum driver_outcome)o) {
	case DRIVER_COMPLETED:
		return "completed";
	case DRIVER_PEER_GONE:
		return "peer-gone";
	case DRIVER_IDLE_TIMEOUT:
	case DRIVER_DURATION:
		return "timeout";
	case DRIVER_HANDLER_ERROR:
		return "handler-error";
	case DRIVER_STOPPED:
		return "stopped";
	}
	return "completed";
}

void connlog_rejected(struct connlog *cl, const struct sockaddr *peer, socklen_t peer_len, int fd,
                      int reason)
{
	if (!connlog_enabled(cl))
		return;
	connlog_write(cl, &(struct conn_record){.peer = peer,
	                                        .peer_len = peer_len,
	                                        .fd = fd,
	                                        .start_usec = scoreboard_now_usec(),
	                                        .outcome = "rejected",
	                                        .reason = scoreboard_reject_name(reason),
	                                        .exit_status = -1});
}

void connlog_conn_done(struct connlog *cl, const struct ss_conn *c, int driver_outcome)
{
	socklen_t plen, llen;
	const struct sockaddr *peer, *local;

	if (!connlog_enabled(cl))
		return;
	peer = ss_conn_peer(c, &plen);
	local = ss_conn_local(c, &llen);
	connlog_write(cl, &(struct conn_record){.peer = peer,
	                                        .peer_len = plen,
	                                        .local = local,
	                                        .local_len = llen,
	                                        .fd = -1,
	                                        .start_usec = c->start_usec,
	                                        .bytes_known = true,
	                                        .bytes_in = c->bytes_in,
	                                        .bytes_out = c->bytes_out,
	                                        .outcome = connlog_outcome(driver_outcome),
	                                        .exit_status = -1});
}
