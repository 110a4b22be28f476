/*
 * The character generator stream of RFC 864: lines of 72 characters from the ring of
 * the 95 printable ASCII characters (32..126), each line starting one character later
 * than the previous one, each followed by CR LF. The stream repeats every 95 lines.
 */
#ifndef SUPERSERVERD_CHARGEN_H
#define SUPERSERVERD_CHARGEN_H

#include <stddef.h>

#define CHARGEN_LINE   72                                  /* characters before CR LF */
#define CHARGEN_RING   95                                  /* printable ASCII characters */
#define CHARGEN_PERIOD (CHARGEN_RING * (CHARGEN_LINE + 2)) /* bytes before it repeats */

/* Fills buf with the next len bytes of the stream from *pos (an offset in the period,
 * 0 at the start of a connection) and advances *pos. */
void chargen_fill(char *buf, size_t len, unsigned *pos);

#endif
