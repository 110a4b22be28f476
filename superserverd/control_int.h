/*
 * The control module's inside, shared by its files and its fuzz target: a peer's
 * identity and rights, one request line in and its answer out (control_request.c),
 * with no socket in sight.
 */
#ifndef SUPERSERVERD_CONTROL_INT_H
#define SUPERSERVERD_CONTROL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "superserverd/control.h"

#define CONTROL_MAX_PEER_GROUPS 64

/* Who is on the other end, as the kernel said when it connected. */
struct control_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int n_groups;
	gid_t groups[CONTROL_MAX_PEER_GROUPS];
};

bool control_may_read(const struct control_access *a, const struct control_peer *p);
bool control_may_change(const struct control_access *a, const struct control_peer *p);

/*
 * The next line of BUF (LEN bytes): returns the bytes it takes with its newline, or 0
 * while no whole line is there. *LINE_LEN is its length without the newline and a
 * '\r' before it; 0 for a blank line, which is not a request.
 */
size_t control_next_line(const char *buf, size_t len, size_t *line_len);

/*
 * A connection's refused requests, malformed or not allowed: the first of each kind is
 * logged, the next only counted and told in one line when the connection ends
 * (control_refusals_log), so a client repeating them cannot flood the journal.
 */
struct control_refusals {
	unsigned long malformed, denied;
};

/* The answer to one request line (not blank), never NULL but when memory runs out.
 * REFUSED is the connection's tally. */
json_t *control_answer(const struct control_access *a, const struct control_peer *p,
                       const struct control_ops *ops, void *userdata,
                       struct control_refusals *refused, const char *line, size_t len);
/* The line for the refusals past the first of each kind, if there were any. */
void control_refusals_log(const struct control_refusals *r, const struct control_peer *p);
/* An error answer: {"ok": false, "error": MESSAGE, "code": CODE}. */
json_t *control_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ANSWER as the line that goes on the wire: *LEN_R bytes ending in '\n', no NUL
 * after them (free()). */
char *control_encode(const json_t *answer, size_t *len_r);

#endif
