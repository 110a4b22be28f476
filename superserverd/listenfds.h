/*
 * Handing sockets to a program about to be exec'd by systemd's LISTEN_FDS convention
 * (sd_listen_fds(3)): at descriptors 3, 4, ... and named in LISTEN_FDNAMES. Used for a
 * prefork service's program and for superserverd's own re-exec (upgrade).
 */
#ifndef SUPERSERVERD_LISTENFDS_H
#define SUPERSERVERD_LISTENFDS_H

#include <stddef.h>

/* Moves fds[i] to 3 + i without clobbering one not yet moved; the moved ones are not
 * close-on-exec. The originals stay open (close-on-exec, they go with the exec).
 * Returns 0 or -errno. */
int listenfds_place(const int *fds, size_t n);

/* "LISTEN_FDNAMES=" followed by the names joined with ':', malloc'd; NULL if out of
 * memory. */
char *listenfds_names_env(const char *const *names, size_t n);

#endif
