/*
 * The prefork pool's growth and shrink policy (see prefork_ramp.h): how many processes
 * one tick starts or retires, doubling while the need lasts.
 */
#include "mpm/prefork_ramp.h"

static unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

/* The next rate after a tick that needed one: 1, 2, 4, ... up to the cap. */
static unsigned doubled(unsigned rate)
{
	return rate == 0 ? 2 : min_u(rate * 2, PREFORK_RAMP_MAX);
}

struct prefork_step prefork_ramp_step(struct prefork_ramp *r, const struct prefork_bounds *b,
                                      unsigned running, unsigned idle, unsigned leaving)
{
	struct prefork_step s = {0};
	unsigned floor = min_u(b->start, b->max_workers);
	unsigned staying = running - min_u(leaving, running);
	unsigned room = running < b->max_workers ? b->max_workers - running : 0;

	/* Recycled or crashed processes are replaced up to `start`: that is the configured
	 * floor, not growth, so no ramp; but still within the tick's cap. They will be idle
	 * in a moment. */
	if (staying < floor) {
		s.spawn = min_u(min_u(floor - staying, PREFORK_RAMP_MAX), room);
		staying += s.spawn;
		idle += s.spawn;
		room -= s.spawn;
	}
	if (idle < b->min_spare) {
		unsigned want = b->min_spare - idle, rate = r->spawn_rate ? r->spawn_rate : 1;
		unsigned n = min_u(want > rate ? want : rate, PREFORK_RAMP_MAX - s.spawn);

		s.spawn += min_u(n, room);
		s.at_max = room == 0;
		r->spawn_rate = doubled(r->spawn_rate);
		r->retire_rate = 0;
		return s;
	}
	r->spawn_rate = 0;
	/* Never below `start`, or the pool would churn refilling it. */
	if (idle > b->max_spare && staying > b->start) {
		unsigned surplus = min_u(idle - b->max_spare, staying - b->start);

		s.retire = min_u(r->retire_rate ? r->retire_rate : 1, surplus);
		r->retire_rate = doubled(r->retire_rate);
	} else {
		r->retire_rate = 0;
	}
	return s;
}
