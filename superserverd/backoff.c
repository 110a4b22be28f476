/* Restart backoff: doubling delays for processes that die young (see backoff.h). */
#include "superserverd/backoff.h"

bool backoff_next(struct backoff *b, uint64_t lived_usec, uint64_t *delay_r)
{
	uint64_t delay = BACKOFF_MIN_USEC;

	/* A process that served for a while and then died is a fresh incident, not part of
	 * a crash loop: an attacker who crashes one session must not throttle the service. */
	if (lived_usec >= BACKOFF_HEALTHY_USEC)
		b->failures = 0;
	b->failures++;
	if (b->failures > BACKOFF_MAX_FAILURES)
		return false;
	for (unsigned i = 1; i < b->failures && delay < BACKOFF_MAX_USEC; i++)
		delay *= 2;
	if (delay > BACKOFF_MAX_USEC)
		delay = BACKOFF_MAX_USEC;
	*delay_r = delay;
	return true;
}

void backoff_reset(struct backoff *b)
{
	b->failures = 0;
}
