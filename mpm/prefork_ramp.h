/*
 * How fast a prefork pool grows and shrinks, as pure arithmetic over one tick's counts
 * (no processes, no clock), so the policy is tested on its own.
 *
 * Growing: a tick short of min_spare idle processes starts at least what is missing;
 * while the pool keeps running dry, tick after tick, the number started doubles up to
 * PREFORK_RAMP_MAX per tick (Apache prefork's idle_spawn_rate). A pool held by slow
 * clients therefore reaches max_workers in seconds instead of minutes.
 * Shrinking mirrors it: one idle process retired after the first tick with more than
 * max_spare idle, then twice as many each tick the surplus lasts, so a short lull costs
 * a process or two while the end of an attack gives the memory back in seconds.
 * Both are bounded by max_workers and `start` and by the per-tick cap, refilling up to
 * `start` included: a tick never starts or retires more than PREFORK_RAMP_MAX.
 *
 * Processes asked to leave and not gone yet still hold their slots (they count against
 * max_workers) but are neither spares nor part of the pool that stays: counting them
 * as staying would retire again what is already leaving and take the pool below
 * `start` whenever exits are slow.
 */
#ifndef SUPERSERVERD_PREFORK_RAMP_H
#define SUPERSERVERD_PREFORK_RAMP_H

#include <stdbool.h>

/* Processes started (or retired) in one tick, at most. */
#define PREFORK_RAMP_MAX 64

/* The pool's bounds: prefork's options. */
struct prefork_bounds {
	unsigned start, min_spare, max_spare, max_workers;
};

/* Kept between ticks; zero is the resting state. */
struct prefork_ramp {
	unsigned spawn_rate;  /* what the next short tick starts at least (0: 1) */
	unsigned retire_rate; /* what the next tick with surplus retires at most (0: 1) */
};

/* What one tick should do. */
struct prefork_step {
	unsigned spawn;  /* processes to start */
	unsigned retire; /* idle processes to ask to leave */
	bool at_max;     /* short of spares, but max_workers are running */
};

/*
 * One tick: RUNNING processes alive, LEAVING of them asked to leave and not gone yet,
 * IDLE of the others idle or starting. Updates R.
 */
struct prefork_step prefork_ramp_step(struct prefork_ramp *r, const struct prefork_bounds *b,
                                      unsigned running, unsigned idle, unsigned leaving);

#endif
