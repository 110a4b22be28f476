/*
 * The environment of an exec'd program: the configured variables, the passed-through
 * ones and PATH, built once per service process, plus the per-connection ucspi and
 * systemd variables (PROTO, TCPREMOTEIP, ..., REMOTE_ADDR) filled in per connection
 * without allocating.
 */
#ifndef SUPERSERVERD_EXEC_ENV_H
#define SUPERSERVERD_EXEC_ENV_H

#include <stddef.h>
#include <sys/socket.h>

#include "superserverd/config.h"

#define EXEC_ENV_CONN_VARS 8

struct exec_env {
	char **envp; /* NULL-terminated; the first n_static entries never change */
	size_t n_static;
	char conn[EXEC_ENV_CONN_VARS][128]; /* storage for the per-connection entries */
};

int exec_env_init(struct exec_env *e, const struct service_conf *sc);
/* Sets the per-connection variables for the accepted socket fd: its peer, and the
 * local address LOCAL, or the socket's own when LOCAL is NULL or local_len 0 (a PROXY
 * header names both ends of the client's connection). */
int exec_env_fill(struct exec_env *e, int fd, const struct sockaddr_storage *peer,
                  socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len);
void exec_env_free(struct exec_env *e);

#endif
