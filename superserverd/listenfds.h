/*
 * Handing sockets to a program about to be exec'd by systemd's LISTEN_FDS convention
 * (sd_listen_fds(3)): at descriptors 3, 4, ... and named in LISTEN_FDNAMES. Used for a
 * prefork service's program and for superserverd's own re-exec (upgrade); and the
 * O_NONBLOCK flag of a listening socket, which a hand-over clears on the file
 * description every process sharing the socket sees.
 */
#ifndef SUPERSERVERD_LISTENFDS_H
#define SUPERSERVERD_LISTENFDS_H

#include <stdbool.h>
#include <stddef.h>

/* Moves fds[i] to 3 + i without clobbering one not yet moved; the moved ones are not
 * close-on-exec. The originals stay open (close-on-exec, they go with the exec).
 * Returns 0 or -errno. */
int listenfds_place(const int *fds, size_t n);

/* "LISTEN_FDNAMES=" followed by the names joined with ':', malloc'd; NULL if out of
 * memory. */
char *listenfds_names_env(const char *const *names, size_t n);

/* Sets or clears O_NONBLOCK on FD (a no-op when it is so already). Returns 0 or
 * -errno. */
int listenfds_set_blocking(int fd, bool blocking);

/*
 * A service process that polls its listening sockets makes them non-blocking before
 * it starts: a program they were handed to before (wait, exec + prefork) may have
 * left them blocking, and one accept or recv would then hang the whole loop.
 * Returns 0 or -errno.
 */
int listenfds_nonblocking(const int *fds, size_t n);

#endif
