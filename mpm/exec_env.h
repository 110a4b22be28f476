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

/* PROTO and up to 6 more for the addresses, up to 5 SSL_* on a TLS connection, and
 * room for the NULL. */
#define EXEC_ENV_CONN_VARS 13

struct tls_conn;

struct exec_env {
	char **envp; /* NULL-terminated; the first n_static entries never change */
	size_t n_static;
	size_t n_conn;                      /* per-connection entries set */
	char conn[EXEC_ENV_CONN_VARS][256]; /* storage for the per-connection entries */
};

int exec_env_init(struct exec_env *e, const struct service_conf *sc);
/* Sets the per-connection variables for the accepted socket fd: its peer, and the
 * local address LOCAL, or the socket's own when LOCAL is NULL or local_len 0 (a PROXY
 * header names both ends of the client's connection). */
int exec_env_fill(struct exec_env *e, int fd, const struct sockaddr_storage *peer,
                  socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len);
/* After exec_env_fill, for a connection behind TLS (T's handshake done): mod_ssl's
 * SSL_PROTOCOL, SSL_CIPHER and SSL_CLIENT_VERIFY, and SSL_SERVER_NAME and
 * SSL_CLIENT_S_DN when the client sent a name and a verified certificate (unset
 * otherwise). */
void exec_env_fill_tls(struct exec_env *e, const struct tls_conn *t);
void exec_env_free(struct exec_env *e);

#endif
