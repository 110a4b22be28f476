/*
 * The master's listening sockets: bound from the configuration or inherited from
 * systemd, shared by reference between services of successive configuration
 * generations so that a reload never closes a socket that is still wanted (clients
 * keep queuing in its backlog while services change around it).
 */
#ifndef SUPERSERVERD_LISTEN_H
#define SUPERSERVERD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "superserverd/config.h"

struct listener;
struct listen_table;

struct listen_table *listen_table_new(void);
/* Closes every socket (and removes the unix socket files it created). */
void listen_table_free(struct listen_table *lt);

/* Takes the sockets passed in LISTEN_FDS/LISTEN_FDNAMES: a .socket unit's, and our own
 * from systemd's fd store or from the process that re-executed us (see fdstore.h).
 * Returns how many, or a negative errno. */
int listen_table_inherit(struct listen_table *lt);
/* Closes for good the unused sockets of a previous process (fd store) that WANTED
 * says the configuration does not name (WANTED NULL: every unused one): before anything is bound,
 * since such a socket may hold the port of an address that replaces it. */
void listen_table_drop_adopted(struct listen_table *lt, bool (*wanted)(const char *key, void *ud),
                               void *ud);
/* Logs and closes passed sockets no service has taken (ours for good). Sockets of the
 * previous process stay while the table keeps files (an upgrade not yet handed over);
 * call it again after the handover. */
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

/* The control socket an earlier process passed (LISTEN_FDNAMES "ssd-control"), now the
 * caller's to close; or -1. */
int listen_table_take_control(struct listen_table *lt);

/* For a re-exec: every socket and the name the new process must find it under (a
 * .socket unit's own names; "ssd-..." for ours), in arrays the caller frees, with room
 * for one more entry (the control socket). Fails with ERR when a name cannot be made. */
int listen_table_handover(struct listen_table *lt, int **fds_r, const char ***names_r, size_t *n_r,
                          char *err, size_t errlen);
/* Hands every socket we own to systemd's fd store again (after fdstore_release()). */
void listen_table_store_all(struct listen_table *lt);
/* KEEP: another process serves (or still serves) the sockets, so closing one leaves its
 * unix socket file and systemd's copy alone: the old process after an upgrade, and the
 * new one until the old has handed over. */
void listen_table_keep_files(struct listen_table *lt, bool keep);
/* The daemon stops: sockets released from now on stay in systemd's fd store, and the
 * files of stored unix sockets stay for the next start. */
void listen_table_exiting(struct listen_table *lt);

int listener_fd(const struct listener *l);
/* SOCK_STREAM or SOCK_DGRAM (a systemd: socket's own type). */
int listener_socktype(const struct listener *l);
const char *listener_key(const struct listener *l);
/* The FileDescriptorName of an inherited socket, else fallback. */
const char *listener_name(const struct listener *l, const char *fallback);

#endif
