/*
 * The terminal for `superctl top`: keys without Enter (cbreak: no canonical mode, no
 * echo; Ctrl-C still raises SIGINT), the alternate screen with a hidden cursor, and
 * everything put back on every way out: 'q', SIGINT, SIGTERM, SIGHUP, and around a
 * Ctrl-Z suspension. Plain ANSI sequences that xterm, tmux and screen all know.
 */
#ifndef SUPERCTL_TERM_H
#define SUPERCTL_TERM_H

#include <stdbool.h>

/* What interrupted a wait. */
enum term_event {
	TERM_TIMEOUT, /* time for the next frame */
	TERM_QUIT,    /* 'q', or a signal that ends the program */
	TERM_REDRAW,  /* the window changed size, or we came back from a suspension */
};

struct term {
	bool in_tty, out_tty; /* stdin is a terminal; stdout is one we may draw on */
	bool raw;             /* stdin is in cbreak mode now */
	bool screen;          /* the alternate screen is shown now */
};

/* Takes over the terminal (as far as stdin/stdout are terminals); the alternate screen
 * only if `fullscreen`. Returns 0 or -errno. */
int term_open(struct term *t, bool fullscreen);
/* Puts the terminal back; safe to call twice. */
void term_close(struct term *t);
/* Waits up to timeout_ms for a key or a signal. */
enum term_event term_wait(struct term *t, int timeout_ms);
/* The window's size; 0 when stdout is not a terminal. */
void term_size(int *rows, int *cols);

#endif
