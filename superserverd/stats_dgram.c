/* A service's datagram counters for the control answers (see stats_dgram.h). */
#include <stdatomic.h>
#include <sys/socket.h>

#include "superserverd/listen.h"
#include "superserverd/scoreboard.h"
#include "superserverd/service.h"
#include "superserverd/stats_dgram.h"

static bool has_datagrams(const struct service *svc)
{
	for (size_t i = 0; i < service_n_listeners(svc); i++)
		if (listener_socktype(service_listener(svc, i)) == SOCK_DGRAM)
			return true;
	return false;
}

json_t *stats_dgram_json(const struct service *svc)
{
	const struct scoreboard_dgram *c;
	json_t *by;
	uint64_t dropped = 0;

	if (!has_datagrams(svc))
		return NULL;
	c = &service_scoreboard(svc)->counters.dgram;
	by = json_object();
	for (unsigned r = 0; r < DGRAM_DROP_REASON_COUNT; r++) {
		uint64_t n = atomic_load(&c->dropped[r]);

		dropped += n;
		json_object_set_new(by, scoreboard_dgram_drop_name((enum dgram_drop_reason)r),
		                    json_integer((json_int_t)n));
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I}", "received",
	                 (json_int_t)atomic_load(&c->received), "answered",
	                 (json_int_t)atomic_load(&c->answered), "unanswered",
	                 (json_int_t)atomic_load(&c->unanswered), "dropped", (json_int_t)dropped,
	                 "dropped_by_reason", by, "peer_errors",
	                 (json_int_t)atomic_load(&c->peer_errors), "bytes_in",
	                 (json_int_t)atomic_load(&c->bytes_in), "bytes_out",
	                 (json_int_t)atomic_load(&c->bytes_out));
}
