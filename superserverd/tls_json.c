/* The `tls` part of the stats answer (see tls_json.h). */
#include "mpm/tls_conn.h"
#include "superserverd/tls.h"
#include "superserverd/tls_json.h"

static json_t *cert_json(const struct tls_server *ts, size_t i, int64_t now)
{
	struct tls_cert_info ci;
	json_t *names = json_array();
	/* Whole days, rounded down; negative once expired. */
	int64_t left;

	tls_server_cert(ts, i, &ci);
	left = ci.not_after - now;
	left = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
	for (size_t k = 0; k < ci.n_names; k++)
		json_array_append_new(names, json_string(ci.names[k]));
	return json_pack("{s:s, s:s, s:o, s:I, s:I}", "path", ci.path, "subject",
	                 ci.subject ? ci.subject : "", "names", names, "not_after",
	                 (json_int_t)ci.not_after, "days_left", (json_int_t)left);
}

static json_t *listener_json(const struct service_conf *sc, const struct listen_conf *lc,
                             int64_t now)
{
	json_t *certs = json_array();

	for (size_t i = 0; i < tls_server_n_certs(lc->tls); i++)
		json_array_append_new(certs, cert_json(lc->tls, i, now));
	/* A program reads plaintext from a socketpair the connection process relays to;
	 * a handler is given it by the connection's own reads. */
	return json_pack("{s:s, s:s, s:o}", "address", lc->addr.key, "path",
	                 sc->kind == HANDLER_EXEC ? "relay" : "in-process", "certificates", certs);
}

json_t *tls_json(const struct service_conf *sc, struct scoreboard_counters *c, int64_t now)
{
	struct scoreboard_tls *t = &c->tls;
	json_t *listeners = json_array(), *failures = json_object();

	for (size_t i = 0; i < sc->n_listen; i++)
		if (sc->listen[i].tls)
			json_array_append_new(listeners, listener_json(sc, &sc->listen[i], now));
	if (json_array_size(listeners) == 0) {
		json_decref(listeners);
		json_decref(failures);
		return NULL;
	}
	for (unsigned f = TLS_FAIL_NONE + 1; f < TLS_FAIL_COUNT && f < SCOREBOARD_TLS_FAIL_SLOTS;
	     f++)
		json_object_set_new(failures, tls_fail_name((enum tls_fail)f),
		                    json_integer((json_int_t)atomic_load(&t->failed[f])));
	return json_pack("{s:o, s:I, s:I, s:I, s:o}", "listeners", listeners, "handshakes",
	                 (json_int_t)atomic_load(&t->handshakes), "resumed",
	                 (json_int_t)atomic_load(&t->resumed), "handshake_usec_sum",
	                 (json_int_t)atomic_load(&t->handshake_usec_sum), "failures", failures);
}
