/*
 * What a service process's programs leave behind: a service process that starts
 * programs (wait; fork with exec:) becomes the subreaper of their descendants, so
 * that children a program leaves running when it exits are reparented to it (and
 * reaped by its SIGCHLD loop) rather than to init, and ends them when it stops.
 */
#ifndef SUPERSERVERD_ORPHANS_H
#define SUPERSERVERD_ORPHANS_H

/* This process adopts its descendants' orphans from now on. Returns 0 or -errno. */
int orphans_adopt(void);

/* SIGKILL to every child of this (single-threaded) process and to the process group
 * each leads, when it leads one; for the end of a service process, once the children
 * it knows of have ended. Returns how many children were signalled. */
unsigned orphans_kill(const char *service);

#endif
