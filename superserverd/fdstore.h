/*
 * Keeping listening sockets alive across restarts and upgrades. Every socket
 * superserverd binds itself is named and handed to systemd's file descriptor store
 * (FDSTORE=1), so `systemctl restart` and a crash give the next process the very same
 * socket through LISTEN_FDS and clients queue in its backlog meanwhile. The same names
 * travel with the sockets to a re-executed binary (superserverd's own upgrade).
 *
 * A name is "ssd-" followed by the listener's address key with every byte outside
 * [A-Za-z0-9._/-] written as %XX, because systemd refuses ':' and control characters in
 * FDNAME= and LISTEN_FDNAMES. Sockets systemd passes from a .socket unit carry the
 * operator's FileDescriptorName= instead and are never stored.
 */
#ifndef SUPERSERVERD_FDSTORE_H
#define SUPERSERVERD_FDSTORE_H

#include <stdbool.h>
#include <stddef.h>

#define FDSTORE_PREFIX "ssd-"
/* The control socket's name, so superctl's socket survives too. */
#define FDSTORE_CONTROL "ssd-control"
/* systemd's limit on FDNAME= (FDNAME_MAX). */
#define FDSTORE_NAME_MAX 255

/* Encodes an address key. Returns 0, or -1 with name empty when the name would exceed
 * FDSTORE_NAME_MAX or len (such a socket is simply not stored). */
int fdstore_name_encode(const char *key, char *name, size_t len);
/* Decodes a name made by fdstore_name_encode. Returns 0, or -1 when NAME does not have
 * the prefix or is malformed (it then belongs to a .socket unit). */
int fdstore_name_decode(const char *name, char *key, size_t len);

/* True when a service manager listens (NOTIFY_SOCKET): storing is worth trying. */
bool fdstore_available(void);
/* FDSTORE=1 with FDNAME=name. Returns 1 when sent, 0 when there is no service manager
 * or messages are held, or a negative errno (logged). systemd
 * drops the socket without telling us when FileDescriptorStoreMax= is 0 (its default),
 * which is why the shipped unit sets it. Storing the same socket again is harmless:
 * systemd keeps one copy. */
int fdstore_push(int fd, const char *name);
/* FDSTOREREMOVE=1: a socket the configuration no longer names must not come back. */
int fdstore_remove(const char *name);

/* Until released, pushes and removals are skipped: the new process of an upgrade is not
 * systemd's main process yet, and systemd drops what it sends. After fdstore_release()
 * the caller stores its sockets again. */
void fdstore_hold(void);
void fdstore_release(void);

#endif
