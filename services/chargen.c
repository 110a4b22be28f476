/*
 * chargen (RFC 864): the character generator stream, flow-controlled. The ring
 * position is the only state and fits in the per-connection pointer, so a connection
 * costs no allocation.
 */
#include <stdint.h>

#include "services/builtin_handlers.h"
#include "services/chargen.h"

/* Refill up to here: enough to keep the socket busy between wakes, and below
 * SS_CONN_HIGH_WATER so the driver keeps reading and notices when the peer closes. */
#define CHARGEN_TARGET (SS_CONN_HIGH_WATER / 2)
#define CHARGEN_CHUNK  4096

void chargen_fill(char *buf, size_t len, unsigned *pos)
{
	unsigned p = *pos % CHARGEN_PERIOD;

	while (len > 0) {
		unsigned line = p / (CHARGEN_LINE + 2);
		unsigned col = p % (CHARGEN_LINE + 2);
		size_t n;

		if (col < CHARGEN_LINE) {
			unsigned ch = 32 + (line + col) % CHARGEN_RING;

			n = CHARGEN_LINE - col;
			if (n > len)
				n = len;
			for (size_t i = 0; i < n; i++) {
				buf[i] = (char)ch;
				if (++ch == 32 + CHARGEN_RING)
					ch = 32;
			}
		} else {
			static const char crlf[2] = {'\r', '\n'};

			n = CHARGEN_LINE + 2 - col;
			if (n > len)
				n = len;
			for (size_t i = 0; i < n; i++)
				buf[i] = crlf[col - CHARGEN_LINE + i];
		}
		buf += n;
		len -= n;
		p = (p + (unsigned)n) % CHARGEN_PERIOD;
	}
	*pos = p;
}

static int chargen_refill(struct ss_conn *c)
{
	unsigned pos = (unsigned)(uintptr_t)ss_conn_get_data(c);
	char buf[CHARGEN_CHUNK];

	while (ss_conn_pending(c) < CHARGEN_TARGET) {
		size_t n = CHARGEN_TARGET - ss_conn_pending(c);
		int r;

		if (n > sizeof(buf))
			n = sizeof(buf);
		chargen_fill(buf, n, &pos);
		r = ss_conn_write(c, buf, n);
		if (r < 0)
			return r;
	}
	ss_conn_set_data(c, (void *)(uintptr_t)pos);
	return 0;
}

static int chargen_open(struct ss_conn *c)
{
	ss_conn_want_writable(c, 1);
	return chargen_refill(c);
}

/* Input is discarded (no data callback); the stream runs until the peer goes away, and
 * a client that only reads is not idle. */
const struct ss_handler builtin_chargen = {
        SS_HANDLER_HEADER("chargen"),
        .flags = SS_HANDLER_SILENT_CLIENTS,
        .open = chargen_open,
        .writable = chargen_refill,
};
