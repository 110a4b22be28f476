/* Aligned text tables (see table.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "superctl/table.h"

#define MAX_COLS 16

struct cell {
	char *text;
	const char *colour;
};

struct table {
	size_t ncols;
	const char *const *headers;
	char align[MAX_COLS];
	struct cell *cells;       /* rows * ncols, row-major */
	size_t rows, cap, filled; /* filled: cells of the current row so far */
};

struct table *table_new(const char *const *headers, const char *align)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->headers = headers;
	while (headers[t->ncols] && t->ncols < MAX_COLS) {
		t->align[t->ncols] = align[t->ncols] == 'r' ? 'r' : 'l';
		t->ncols++;
	}
	return t;
}

int table_row(struct table *t)
{
	if (t->rows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct cell *c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	memset(&t->cells[t->rows * t->ncols], 0, t->ncols * sizeof(struct cell));
	t->rows++;
	t->filled = 0;
	return 0;
}

int table_cell(struct table *t, const char *colour, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (t->rows == 0 || t->filled >= t->ncols)
		return -EINVAL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	struct cell *c = &t->cells[(t->rows - 1) * t->ncols + t->filled++];
	c->text = s;
	c->colour = colour;
	return 0;
}

/* Prints s padded to width, keeping the line within max; returns the new column. */
static int put_cell(FILE *f, const char *s, const char *colour, int width, char align, int col,
                    int max)
{
	int len = (int)strlen(s);
	int pad = width > len ? width - len : 0;
	int lead = align == 'r' ? pad : 0, trail = align == 'r' ? 0 : pad;
	int room = max ? max - col : width + len;

	if (room <= 0)
		return col;
	for (int i = 0; i < lead && room > 0; i++, room--, col++)
		fputc(' ', f);
	int shown = len < room ? len : room;
	if (colour && shown > 0)
		fputs(colour, f);
	fwrite(s, 1, (size_t)shown, f);
	if (colour && shown > 0)
		fputs(COLOUR_RESET, f);
	col += shown;
	room -= shown;
	for (int i = 0; i < trail && room > 0; i++, room--, col++)
		fputc(' ', f);
	return col;
}

void table_print(const struct table *t, FILE *f, bool colour, int indent, int max_width)
{
	int width[MAX_COLS] = {0};

	for (size_t c = 0; c < t->ncols; c++)
		width[c] = (int)strlen(t->headers[c]);
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c].text;
			if (s && (int)strlen(s) > width[c])
				width[c] = (int)strlen(s);
		}
	for (size_t r = 0; r <= t->rows; r++) {
		int col = put_cell(f, "", NULL, indent, 'l', 0, max_width);
		for (size_t c = 0; c < t->ncols; c++) {
			const struct cell *cell = r ? &t->cells[(r - 1) * t->ncols + c] : NULL;
			const char *s = r ? (cell->text ? cell->text : "") : t->headers[c];
			const char *hue = !colour ? NULL : r ? cell->colour : COLOUR_BOLD;
			bool last = c + 1 == t->ncols;
			if (c > 0)
				col = put_cell(f, "  ", NULL, 2, 'l', col, max_width);
			/* The last column is not padded: no trailing blanks. */
			col = put_cell(f, s, hue, last && t->align[c] == 'l' ? 0 : width[c],
			               t->align[c], col, max_width);
		}
		fputc('\n', f);
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->rows * t->ncols; i++)
		free(t->cells[i].text);
	free(t->cells);
	free(t);
}

bool colour_wanted(FILE *f)
{
	const char *term = getenv("TERM");
	return isatty(fileno(f)) && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
}

/* Green: serving. Red: given up, clients are turned away. Yellow: everything in between,
 * restarting included (no process now, but one is on its way). */
const char *state_colour(const char *state)
{
	if (strcmp(state, "running") == 0)
		return COLOUR_GREEN;
	if (strcmp(state, "failed") == 0)
		return COLOUR_RED;
	return COLOUR_YELLOW;
}
