/*
 * A service process's signals as events: SIGTERM and SIGINT (stop), SIGCHLD when it
 * has children, read from a signalfd in its epoll set; SIGHUP blocked and never read
 * (reload is the master's business).
 */
#ifndef SUPERSERVERD_WORKER_SIGNALS_H
#define SUPERSERVERD_WORKER_SIGNALS_H

#include <stdbool.h>

/* Blocks the signals, creates the signalfd (*sigfd_r) and the epoll set (*epfd_r)
 * with the signalfd in it under TAG. Returns 0 or -errno (what was created is in
 * *sigfd_r and *epfd_r for the caller to close, -1 otherwise). */
int worker_signals_open(bool children, void *tag, int *sigfd_r, int *epfd_r);

#endif
