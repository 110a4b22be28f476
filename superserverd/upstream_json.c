/* The `upstream` part of status and stats answers (see upstream_json.h). */
#include "superserverd/upstream_json.h"

json_t *upstream_json(struct scoreboard_counters *c)
{
	struct scoreboard_upstream *u = &c->upstream;

	if (atomic_load(&u->attempts) == 0)
		return NULL;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "attempts",
	                 (json_int_t)atomic_load(&u->attempts), "connected",
	                 (json_int_t)atomic_load(&u->connected), "failed",
	                 (json_int_t)atomic_load(&u->failed), "timeouts",
	                 (json_int_t)atomic_load(&u->timeouts), "connect_usec_sum",
	                 (json_int_t)atomic_load(&u->connect_usec_sum), "connect_usec_max",
	                 (json_int_t)atomic_load(&u->connect_usec_max));
}
