/*
 * The relay behind ss_conn_relay(): a client connection joined to a target the relay
 * connects to, bytes moved both ways without a handler in between. One state machine
 * for every model: a step does all the non-blocking work the two sockets allow and
 * says which readiness it waits for next; the event model runs steps from its epoll
 * loop, the blocking models from relay_run_blocking()'s poll().
 *
 * Each direction holds at most one read's worth of bytes (a small buffer), or once it
 * has carried enough to make splice(2) pay, at most a pipe's worth (256 KiB): a side
 * is read only when what was read from it before has been written, or, in a pipe, while
 * the pipe has room (so reading and writing overlap in a bulk transfer). A peer that
 * does not read stops the other side through TCP's own flow control and memory stays
 * bounded. An
 * end of input on one side becomes shutdown(SHUT_WR) on the other once everything
 * before it has been written; the relay is done when both directions are.
 */
#ifndef SUPERSERVERD_RELAY_H
#define SUPERSERVERD_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "mpm/conn.h"
#include "mpm/driver.h"
#include "superserverd/scoreboard.h"

/* Readiness bits: the values of both EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP and
 * POLLIN/POLLOUT/POLLERR/POLLHUP. Asked for alone, RELAY_ERR watches a socket only for
 * an error or a hangup, which epoll and poll report whatever the mask. */
#define RELAY_IN  0x001u
#define RELAY_OUT 0x004u
#define RELAY_ERR 0x008u
#define RELAY_HUP 0x010u
/* "Not known: try" (no epoll bit has this value). */
#define RELAY_ANY 0x80000000u

enum relay_status { RELAY_MORE, RELAY_DONE };

struct relay;

/*
 * Once per service process, before any connection: where the relays count their
 * connects, and the text (sent with CRLF) a client gets when the target cannot be
 * reached (NULL: none). Both must outlive the process's connections.
 */
void relay_process_init(struct scoreboard_counters *counters, const char *fail_data,
                        size_t fail_len, const char *fail_text);

/*
 * Takes c->relay_req and starts the connect. c->fd must be non-blocking and stays c's.
 * Returns the relay (which may already be done: a target refused at once), or NULL
 * without memory (the request is left in c).
 */
struct relay *relay_start(struct ss_conn *c);
/* One step: READY holds the readiness seen for the client (RELAY_IN/OUT, and any other
 * epoll bit), UP_READY the target's: RELAY_ANY to try the socket anyway, 0 when only
 * a deadline may have passed. */
enum relay_status relay_step(struct relay *r, uint32_t ready, uint32_t up_ready, uint64_t now);
/* After a step that returned RELAY_DONE: why. */
enum driver_outcome relay_outcome(const struct relay *r);
/* What to wait for on the client and on the target. 0: the socket must not be waited
 * on at all (out of the epoll set, out of poll's list), since a hangup it reports
 * while its bytes still wait to be relayed would wake the waiter at once, forever.
 * Both are never 0 while the relay is not done. While the target connects, the client
 * is watched for RELAY_ERR only: a client that resets ends the relay at once, while
 * one that only half-closed (its request sent, or nothing to send) is still served. */
uint32_t relay_want(const struct relay *r);
uint32_t relay_up_want(const struct relay *r);
int relay_up_fd(const struct relay *r);
/* While connecting: when the attempt is given up; 0 once connected. */
uint64_t relay_connect_deadline(const struct relay *r);
/* Closes the target socket and the pipes (not c->fd). NULL is fine. */
void relay_free(struct relay *r);

/* One poll() of a blocking relay's two sockets, FD for WANT and FD2 for WANT2 (a side
 * wanting 0 is left out), for at most MS milliseconds: 0 with what each saw in *READY
 * and *READY2 (both 0 after a timeout or a signal), or -1 when the relay cannot go on
 * (a poll error, a closed descriptor). */
int relay_poll(int fd, uint32_t want, int fd2, uint32_t want2, int ms, uint32_t *ready,
               uint32_t *ready2);

/*
 * The whole relay in the calling thread, for the blocking drivers: poll() on both
 * sockets until done, the limits passed, or STOP (when not NULL) returns true (looked
 * at every quarter second). Frees r.
 */
enum driver_outcome relay_run_blocking(struct relay *r, const struct driver_limits *lim,
                                       bool (*stop)(void *arg), void *arg);

#endif
