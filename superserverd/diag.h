/*
 * Diagnostics: a list of "FILE:LINE:COL: message" errors collected while loading a
 * configuration, so that every problem in a file is reported at once and the caller
 * decides where the list goes (stderr, the log, a control reply). Warnings (legal, but
 * probably not what was meant) are kept apart: they never fail a load.
 */
#ifndef SUPERSERVERD_DIAG_H
#define SUPERSERVERD_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct diag_pos {
	const char *file; /* interned: lives as long as the configuration that holds it */
	int line;         /* 1-based; 0 = unknown */
	int col;          /* 1-based */
};

/* At most this many errors are kept; the last says that more were left out. A
 * broken file can hold a great many errors, and nobody reads past the first ones. */
#define DIAG_MAX_MSGS 200

struct diag {
	char **msgs;
	size_t n;
	size_t cap;
	unsigned suppress; /* >0: errors are counted in `dropped` but not stored */
	size_t dropped;    /* errors not stored: suppressed or past DIAG_MAX_MSGS */
	size_t over;       /* errors past DIAG_MAX_MSGS */
	char **warnings;   /* "FILE:LINE:COL: warning: message" */
	size_t n_warnings;
	size_t cap_warnings;
};

void diag_init(struct diag *d);
void diag_free(struct diag *d);
/* Appends "FILE:LINE:COL: message" (or "message" when pos is NULL or has no file). */
void diag_error(struct diag *d, const struct diag_pos *pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* The same with a va_list. */
void diag_verror(struct diag *d, const struct diag_pos *pos, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
/* Appends "FILE:LINE:COL: warning: message" to the warnings (dropped without memory). */
void diag_warning(struct diag *d, const struct diag_pos *pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Appends the errors and warnings of FROM that TO does not hold yet (the same mistake
 * found again through another route is said once). */
void diag_add_new(struct diag *to, const struct diag *from);
/* The number of errors, those left out past DIAG_MAX_MSGS included. */
size_t diag_count(const struct diag *d);
/* Each warning, a line on TO, or logged at warning level when TO is NULL: the caller
 * decides which (superserverd --check-config, superctl check, a load or reload). */
void diag_report_warnings(const struct diag *d, FILE *to);
/* All messages joined with '\n' (caller frees), or NULL when there are none. */
char *diag_join(const struct diag *d);

#endif
