/*
 * Zero-downtime upgrade by re-execution, as nginx does on SIGUSR2: the running master
 * (the old generation) starts the binary again with every listening socket and the
 * control socket passed as LISTEN_FDS, and a socket pair for a two-line handshake:
 *
 *   new -> old   "ready PID\n"  every service of the new process has started
 *   old -> new   "commit\n"     the old one has told systemd MAINPID=PID and now drains
 *
 * Until "ready" nothing changes for clients: both generations share the same listening
 * sockets, so a connection is accepted by one or the other and none is refused. A new
 * binary that fails (bad configuration, crash, no answer in time) is killed and the old
 * one goes on serving as if nothing happened.
 */
#ifndef SUPERSERVERD_UPGRADE_H
#define SUPERSERVERD_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#define UPGRADE_ENV "SUPERSERVERD_UPGRADE_FD"

struct upgrade;

/* Called once: OK with the new pid when it is ready (the caller then tells systemd and
 * returns; the commit follows at once), or !OK with a message (the new process is gone). */
typedef void (*upgrade_done_fn)(struct upgrade *u, bool ok, pid_t pid, const char *error,
                                void *userdata);

/*
 * Old side: runs EXE with ARGV, passing FDS under NAMES. Returns 0 (DONE follows from
 * the event loop) or a negative errno with ERR.
 */
int upgrade_start(sd_event *event, const char *exe, char *const *argv, const int *fds,
                  const char *const *names, size_t n, uint64_t timeout_usec, upgrade_done_fn done,
                  void *userdata, struct upgrade **u_r, char *err, size_t errlen);
pid_t upgrade_pid(const struct upgrade *u);
/* DONE has been called. */
bool upgrade_finished(const struct upgrade *u);
/* Kills the new process unless it was committed. */
void upgrade_free(struct upgrade *u);

/* New side: the handshake socket from the environment (removed from it), or -1. */
int upgrade_child_fd(void);
/*
 * New side, once every service has started: announces "ready" and calls COMMITTED when
 * the old process answers, hangs up or does not answer within TIMEOUT_USEC (in the last
 * two cases with OK false: the old process is gone or stuck, and this one carries on).
 */
int upgrade_child_ready(sd_event *event, int fd, uint64_t timeout_usec,
                        void (*committed)(bool ok, void *userdata), void *userdata);

#endif
