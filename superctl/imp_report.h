/*
 * The importer's report: what it translated approximately, what it could not translate
 * and what in the input was wrong, each with the FILE:LINE it came from. The report, not
 * the YAML, decides the exit status of `superctl import`.
 */
#ifndef SUPERCTL_IMP_REPORT_H
#define SUPERCTL_IMP_REPORT_H

#include <stddef.h>
#include <stdio.h>

/* In rising order of gravity; the exit status follows the gravest one reported. */
enum imp_sev {
	IMP_NOTE,         /* mapped, but worth knowing (exit 0) */
	IMP_APPROXIMATED, /* mapped to something close, not the same (exit 1) */
	IMP_DROPPED,      /* no equivalent: left out (exit 1) */
	IMP_ERROR,        /* the input is wrong (exit 2) */
};

struct imp_report;

struct imp_report *imp_report_new(void);
void imp_report_free(struct imp_report *r);
/* line 0: about the whole file. file NULL: about the command line. */
void imp_report_add(struct imp_report *r, const char *file, int line, enum imp_sev sev,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 0 nothing worse than notes, 1 approximated or dropped, 2 errors. */
int imp_report_status(const struct imp_report *r);
size_t imp_report_count(const struct imp_report *r, enum imp_sev sev);
size_t imp_report_size(const struct imp_report *r);
/* The i-th line as printed (sorted by file, then line, in the order reported within
 * one line; findings about no file last), "FILE:LINE: severity: message" (no newline). */
const char *imp_report_line(const struct imp_report *r, size_t i);
/* Returns 0, or -1 when f cannot be written. */
int imp_report_print(const struct imp_report *r, FILE *f);

#endif
