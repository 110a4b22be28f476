/* Records of datagrams, and the bound on records of dropped ones (see dgramlog.h). */
#include "mpm/dgramlog.h"
#include "superserverd/scoreboard.h"

#define DGRAMLOG_WINDOW_USEC 1000000ULL

void dgramlog_init(struct dgramlog *dl, struct connlog *cl)
{
	*dl = (struct dgramlog){.cl = cl};
}

uint64_t dgramlog_due(const struct dgramlog *dl)
{
	return dl->suppressed ? dl->window_start + DGRAMLOG_WINDOW_USEC : 0;
}

void dgramlog_summary(struct dgramlog *dl, uint64_t now, bool force)
{
	if (!dl->suppressed || (!force && now < dgramlog_due(dl)))
		return;
	connlog_write(dl->cl, &(struct conn_record){.fd = -1,
	                                            .start_usec = dl->suppressed_since,
	                                            .end_usec = now,
	                                            .datagram = true,
	                                            .outcome = "suppressed",
	                                            .exit_status = -1,
	                                            .suppressed = dl->suppressed});
	dl->suppressed = 0;
}

void dgramlog_write(struct dgramlog *dl, const struct dgram_record *r, uint64_t now)
{
	if (r->result >= 0) {
		if (now - dl->window_start >= DGRAMLOG_WINDOW_USEC) {
			dgramlog_summary(dl, now, true); /* the last second's, if still due */
			dl->window_start = now;
			dl->in_window = 0;
		}
		if (dl->in_window >= DGRAMLOG_DROPS_PER_SEC) {
			if (!dl->suppressed++)
				dl->suppressed_since = now;
			return;
		}
		dl->in_window++;
	}
	connlog_write(dl->cl,
	              &(struct conn_record){
	                      .peer = r->peer,
	                      .peer_len = r->peer_len,
	                      .local = r->local,
	                      .local_len = r->local_len,
	                      .fd = -1,
	                      .start_usec = now,
	                      .end_usec = now,
	                      .datagram = true,
	                      .bytes_known = true,
	                      .bytes_in = r->bytes_in,
	                      .bytes_out = r->bytes_out,
	                      .outcome = r->result == DGRAMLOG_ANSWERED     ? "answered"
	                                 : r->result == DGRAMLOG_UNANSWERED ? "completed"
	                                                                    : "dropped",
	                      .reason = r->result >= 0 ? scoreboard_dgram_drop_name(
	                                                         (enum dgram_drop_reason)r->result)
	                                               : NULL,
	                      .exit_status = -1});
}
