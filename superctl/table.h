/*
 * Aligned text tables for status and top: columns as wide as their widest cell,
 * numbers right-aligned, optional colour per cell that does not count towards the
 * width, and lines cut at the terminal's width when asked.
 */
#ifndef SUPERCTL_TABLE_H
#define SUPERCTL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define COLOUR_GREEN  "\033[32m"
#define COLOUR_YELLOW "\033[33m"
#define COLOUR_RED    "\033[31m"
#define COLOUR_BOLD   "\033[1m"
#define COLOUR_RESET  "\033[0m"

struct table;

/* align: one letter per column, 'l' or 'r'. Returns NULL when out of memory. */
struct table *table_new(const char *const *headers, const char *align);
/* Starts a new row; the cells that follow fill it from the left. Returns 0 or -ENOMEM. */
int table_row(struct table *t);
/* Appends a cell to the current row; colour is an escape sequence or NULL. */
int table_cell(struct table *t, const char *colour, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Prints the header and the rows, each line after `indent` blanks; colours only if
 * `colour`; lines cut at max_width visible characters unless it is 0. */
void table_print(const struct table *t, FILE *f, bool colour, int indent, int max_width);
void table_free(struct table *t);

/* True when colour is wanted on f: a terminal, NO_COLOR unset and TERM not "dumb". */
bool colour_wanted(FILE *f);
/* The colour of a service state: running green, failed red, anything else yellow. */
const char *state_colour(const char *state);

#endif
