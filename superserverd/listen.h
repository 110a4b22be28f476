/*
 * The master's listening sockets: bound from the configuration or inherited from
 * systemd, shared by reference between services of successive configuration
 * generations so that a reload never closes a socket that is still wanted (clients
 * keep queuing in its backlog while services change around it).
 */
#ifndef SUPERSERVERD_LISTEN_H
#define SUPERSERVERD_LISTEN_H

#include <stddef.h>

#include "superserverd/config.h"

struct listener;
struct listen_table;

struct listen_table *listen_table_new(void);
/* Closes every socket (and removes the unix socket files it created). */
void listen_table_free(struct listen_table *lt);

/* Takes the sockets systemd passed (LISTEN_FDS/LISTEN_FDNAMES). Returns how many, or
 * a negative errno. */
int listen_table_inherit(struct listen_table *lt);
/* Logs and closes inherited sockets no service has taken. */
void listen_table_close_unused(struct listen_table *lt);

/*
 * Returns a reference to the socket for lc, binding it if no listener with the same
 * address exists yet. On failure returns NULL with a message in err that names the
 * address (the caller adds the service).
 */
struct listener *listen_acquire(struct listen_table *lt, const struct listen_conf *lc, char *err,
                                size_t errlen);
void listen_release(struct listen_table *lt, struct listener *l);

/* Removes a unix socket file nobody listens on any more; an error (in err) if the
 * path is not a socket or something still accepts on it. */
struct sockaddr_un;
int listen_remove_stale_unix(const struct sockaddr_un *sun, socklen_t len, char *err,
                             size_t errlen);

int listener_fd(const struct listener *l);
const char *listener_key(const struct listener *l);
/* The FileDescriptorName of an inherited socket, else fallback. */
const char *listener_name(const struct listener *l, const char *fallback);

#endif
