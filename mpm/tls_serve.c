/* TLS on a blocking model's connection: setting it up and counting its handshake (see
 * tls_serve.h). */
#include <errno.h>

#include "mpm/tls_serve.h"
#include "superserverd/config.h"
#include "superserverd/scoreboard.h"
#include "superserverd/tls.h"

int tls_serve_attach(struct ss_conn *c, const struct listen_conf *lc, struct driver_limits *lim)
{
	if (!lc || !lc->tls)
		return 0;
	c->tls = tls_conn_new(tls_server_ctx(lc->tls), c->fd);
	if (!c->tls)
		return -ENOMEM;
	lim->handshake_timeout_usec = tls_server_handshake_timeout_usec(lc->tls);
	return 0;
}

void tls_serve_count(struct scoreboard *sb, const struct ss_conn *c)
{
	if (c->tls_failure != TLS_FAIL_NONE)
		scoreboard_tls_handshake(sb, (unsigned)c->tls_failure, false, 0);
	else if (c->tls_handshake_usec)
		scoreboard_tls_handshake(sb, 0, c->tls_resumed, c->tls_handshake_usec);
}

void tls_serve_count_conn(struct scoreboard *sb, const struct tls_conn *t, int r, uint64_t usec)
{
	enum tls_fail f = tls_conn_failure(t);

	if (r == 0)
		scoreboard_tls_handshake(sb, 0, tls_conn_resumed(t), usec ? usec : 1);
	else if (f != TLS_FAIL_NONE)
		scoreboard_tls_handshake(sb, (unsigned)f, false, 0);
}
