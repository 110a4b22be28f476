/*
 * Diagnostics: a list of "FILE:LINE:COL: message" errors collected while loading a
 * configuration, so that every problem in a file is reported at once and the caller
 * decides where the list goes (stderr, the log, a control reply). Warnings (legal, but
 * probably not what was meant) are kept apart: they never fail a load.
 */
#ifndef SUPERSERVERD_DIAG_H
#define SUPERSERVERD_DIAG_H

#include <stddef.h>

struct diag_pos {
	const char *file; /* interned: lives as long as the configuration that holds it */
	int line;         /* 1-based; 0 = unknown */
	int col;          /* 1-based */
};

struct diag {
	char **msgs;
	size_t n;
	size_t cap;
	unsigned suppress; /* >0: errors are counted in `dropped` but not stored */
	size_t dropped;
	char **warnings; /* "FILE:LINE:COL: warning: message" */
	size_t n_warnings;
	size_t cap_warnings;
};

void diag_init(struct diag *d);
void diag_free(struct diag *d);
/* Appends "FILE:LINE:COL: message" (or "message" when pos is NULL or has no file). */
void diag_error(struct diag *d, const struct diag_pos *pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Appends "FILE:LINE:COL: warning: message" to the warnings (dropped without memory). */
void diag_warning(struct diag *d, const struct diag_pos *pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
size_t diag_count(const struct diag *d);
/* All messages joined with '\n' (caller frees), or NULL when there are none. */
char *diag_join(const struct diag *d);

#endif
