/* Environment for exec'd programs (see exec_env.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "mpm/exec_env.h"
#include "mpm/tls_conn.h"
#include "superserverd/addr.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"

static bool has_name(char **envp, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
			return true;
	return false;
}

static int push(struct exec_env *e, size_t *n, char *s)
{
	if (!s)
		return -ENOMEM;
	e->envp[(*n)++] = s;
	return 0;
}

int exec_env_init(struct exec_env *e, const struct service_conf *sc)
{
	size_t cap = sc->n_environment + sc->n_pass_environment + 2 + EXEC_ENV_CONN_VARS;
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	e->envp = calloc(cap, sizeof(char *));
	if (!e->envp)
		return -ENOMEM;
	/* Later entries of `environment` override earlier ones: walk backwards, keep the
	 * first seen. */
	for (size_t i = sc->n_environment; i-- > 0;) {
		const struct config_kv *kv = &sc->environment[i];
		char *s;
		if (has_name(e->envp, n, kv->key))
			continue;
		if (asprintf(&s, "%s=%s", kv->key, kv->value) < 0 || push(e, &n, s) < 0)
			goto oom;
	}
	for (size_t i = 0; i < sc->n_pass_environment; i++) {
		const char *v = getenv(sc->pass_environment[i]);
		char *s;
		if (!v || has_name(e->envp, n, sc->pass_environment[i]))
			continue;
		if (asprintf(&s, "%s=%s", sc->pass_environment[i], v) < 0 || push(e, &n, s) < 0)
			goto oom;
	}
	if (!has_name(e->envp, n, "PATH") && push(e, &n, strdup(DEFAULT_PATH)) < 0)
		goto oom;
	e->n_static = n;
	return 0;
oom:
	e->n_static = n;
	exec_env_free(e);
	return -ENOMEM;
}

/* The next per-connection entry, NAME (with its '=') then VALUE: formatted by hand, as
 * it runs for every program spawned. Entries are short (a name, an address, a number). */
static void set_conn(struct exec_env *e, size_t *k, const char *name, const char *value)
{
	char *o = e->conn[*k];
	size_t nl = strlen(name), vl = strlen(value);

	if (nl + vl >= sizeof(e->conn[*k]))
		vl = sizeof(e->conn[*k]) - 1 - nl;
	memcpy(o, name, nl);
	memcpy(o + nl, value, vl);
	o[nl + vl] = '\0';
	e->envp[e->n_static + *k] = o;
	(*k)++;
}

static void set_conn_uint(struct exec_env *e, size_t *k, const char *name, unsigned long v)
{
	char digits[24], *d = digits + sizeof(digits);

	*--d = '\0';
	do
		*--d = (char)('0' + v % 10);
	while (v /= 10);
	set_conn(e, k, name, d);
}

int exec_env_fill(struct exec_env *e, int fd, const struct sockaddr_storage *peer,
                  socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len)
{
	struct sockaddr_storage own;
	char rhost[64], lhost[64];
	unsigned rport, lport;
	size_t k = 0;

	if (peer->ss_family == AF_UNIX) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);

		set_conn(e, &k, "PROTO=", "UNIX");
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
			/* never negative (0: another pid namespace) */
			set_conn_uint(e, &k, "UNIXREMOTEPID=", (unsigned long)cred.pid);
			set_conn_uint(e, &k, "UNIXREMOTEEUID=", (unsigned long)cred.uid);
			set_conn_uint(e, &k, "UNIXREMOTEEGID=", (unsigned long)cred.gid);
		}
	} else {
		set_conn(e, &k, "PROTO=", "TCP");
		if (addr_host_port((const struct sockaddr *)peer, peer_len, rhost, sizeof(rhost),
		                   &rport) == 0) {
			set_conn(e, &k, "TCPREMOTEIP=", rhost);
			set_conn_uint(e, &k, "TCPREMOTEPORT=", rport);
			set_conn(e, &k, "REMOTE_ADDR=", rhost);
			set_conn_uint(e, &k, "REMOTE_PORT=", rport);
		}
		if (!local || local_len == 0) {
			local_len = sizeof(own);
			local = getsockname(fd, (struct sockaddr *)&own, &local_len) == 0 ? &own
			                                                                  : NULL;
		}
		if (local && addr_host_port((const struct sockaddr *)local, local_len, lhost,
		                            sizeof(lhost), &lport) == 0) {
			set_conn(e, &k, "TCPLOCALIP=", lhost);
			set_conn_uint(e, &k, "TCPLOCALPORT=", lport);
		}
	}
	e->envp[e->n_static + k] = NULL;
	e->n_conn = k;
	return 0;
}

void exec_env_fill_tls(struct exec_env *e, const struct tls_conn *t)
{
	static const char *const names[] = {"SSL_PROTOCOL=", "SSL_CIPHER=", "SSL_SERVER_NAME=",
	                                    "SSL_CLIENT_S_DN=", "SSL_CLIENT_VERIFY="};
	const char *values[] = {tls_conn_protocol(t), tls_conn_cipher(t), tls_conn_server_name(t),
	                        tls_conn_peer_subject(t), tls_conn_client_verify(t)};
	size_t k = e->n_conn;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (values[i] && k + 1 < EXEC_ENV_CONN_VARS)
			set_conn(e, &k, names[i], values[i]);
	e->envp[e->n_static + k] = NULL;
	e->n_conn = k;
}

void exec_env_free(struct exec_env *e)
{
	if (e->envp)
		for (size_t i = 0; i < e->n_static; i++)
			free(e->envp[i]);
	free(e->envp);
	memset(e, 0, sizeof(*e));
}
