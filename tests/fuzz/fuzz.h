/*
 * What every libFuzzer target shares: the entry point's prototype and CHECK, which
 * aborts on a broken invariant so that libFuzzer keeps the input as a crash; for the
 * targets that load configurations, a directory of their own and the loader's contract.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superserverd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Makes DIR (LEN bytes) a new directory $TMPDIR/NAME.XXXXXX (/tmp without TMPDIR). */
static inline void fuzz_tmpdir(char *dir, size_t len, const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
}

/* config_load's contract, R and CFG what it returned: a configuration or errors, never
 * both, and every message about a file in DIR names it (FILE:LINE:COL or FILE:). */
static inline void fuzz_check_load(int r, const struct config *cfg, const struct diag *d,
                                   const char *dir)
{
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(cfg);
		CHECK(d->n == 0 && d->dropped == 0);
		return;
	}
	CHECK(!cfg);
	CHECK(d->n > 0 && d->n <= DIAG_MAX_MSGS);
	for (size_t i = 0; i < d->n; i++)
		CHECK(strncmp(d->msgs[i], dir, strlen(dir)) == 0 || (i == d->n - 1 && d->over));
}

#endif
