/* Packet rates for datagram listeners (see dgram_limit.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mpm/admit.h"
#include "mpm/dgram_limit.h"

_Static_assert((DGRAM_LIMIT_TABLE & (DGRAM_LIMIT_TABLE - 1)) == 0, "a power of two");

static double share_of(double v, unsigned share)
{
	double s = v / share;

	return s < 1.0 ? 1.0 : s;
}

int dgram_limit_init(struct dgram_limit *dl, const struct limits_conf *lim, unsigned share)
{
	bool has_rate = lim->rate > 0, has_ps = lim->per_source_rate > 0;

	if (share < 1)
		share = 1;
	*dl = (struct dgram_limit){0};
	dl->rate = (has_rate ? lim->rate : DGRAM_LIMIT_RATE) / share;
	dl->burst = share_of(has_rate ? lim->burst : DGRAM_LIMIT_BURST, share);
	dl->ps_rate = (has_ps ? lim->per_source_rate : DGRAM_LIMIT_PS_RATE) / share;
	dl->ps_burst = share_of(has_ps ? lim->per_source_burst : DGRAM_LIMIT_PS_BURST, share);
	/* A secret seed: nobody outside can aim sources at one probe window. */
	if (getrandom(&dl->seed, sizeof(dl->seed), GRND_NONBLOCK) != sizeof(dl->seed))
		dl->seed = 2166136261u;
	dl->table = calloc(DGRAM_LIMIT_TABLE, sizeof(*dl->table));
	return dl->table ? 0 : -ENOMEM;
}

void dgram_limit_free(struct dgram_limit *dl)
{
	free(dl->table);
	dl->table = NULL;
}

static uint32_t source_hash(uint32_t seed, int family, const uint8_t key[16])
{
	uint32_t h = seed ^ (uint32_t)family;

	for (unsigned i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* Whether E's bucket is full again at NOW: it remembers nothing worth keeping. */
static bool source_stale(const struct dgram_limit *dl, const struct dgram_source *e, uint64_t now)
{
	return e->at == 0 || now < e->at ||
	       e->tokens + (double)(now - e->at) * dl->ps_rate / 1e6 >= dl->ps_burst;
}

static struct dgram_source *source_find(struct dgram_limit *dl, int family, const uint8_t key[16],
                                        uint64_t now)
{
	uint32_t h = source_hash(dl->seed, family, key);
	struct dgram_source *reuse = NULL, *oldest = NULL;

	for (unsigned p = 0; p < DGRAM_LIMIT_PROBES; p++) {
		struct dgram_source *e = &dl->table[(h + p) & (DGRAM_LIMIT_TABLE - 1)];

		if (e->family == family && memcmp(e->key, key, 16) == 0)
			return e;
		if (!reuse && (e->family == 0 || source_stale(dl, e, now)))
			reuse = e;
		if (!oldest || e->at < oldest->at)
			oldest = e;
	}
	if (!reuse) {
		reuse = oldest;
		dl->evictions++;
	}
	reuse->family = (uint8_t)family;
	memcpy(reuse->key, key, 16);
	reuse->tokens = 0;
	reuse->at = 0; /* admit_bucket_take starts it full */
	return reuse;
}

enum dgram_verdict dgram_limit_take(struct dgram_limit *dl, int family, const uint8_t key[16],
                                    uint64_t now)
{
	if (family) {
		struct dgram_source *e = source_find(dl, family, key, now);

		if (admit_bucket_take(&e->tokens, &e->at, dl->ps_rate, dl->ps_burst, now))
			return DGRAM_OVER_SOURCE;
	}
	if (admit_bucket_take(&dl->tokens, &dl->at, dl->rate, dl->burst, now))
		return DGRAM_OVER_SERVICE;
	return DGRAM_PASS;
}
