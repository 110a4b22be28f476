/*
 * A service's `listen:` entries: an address string or a map of socket options per
 * entry, each option checked against the kind of socket it applies to (unix, TCP,
 * datagram) so that a misplaced one is an error rather than silently ignored.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "superserverd/config_int.h"
#include "superserverd/units.h"

#define BACKLOG_DEFAULT       4096
#define PROXY_TIMEOUT_DEFAULT (5 * USEC_PER_SEC)
#define PROXY_TIMEOUT_MIN     USEC_PER_MSEC
#define PROXY_TIMEOUT_MAX     (60 * USEC_PER_SEC)

struct lctx {
	struct loader *l;
	struct ydoc *yd;
};

static int parse_bool(struct lctx *c, yaml_node_t *n, const char *path, bool *r)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);

	if (!s)
		return -1;
	if (units_parse_bool(s, r) < 0) {
		yerror(c->l->diag, c->yd, n, path, "expected true or false, got '%s'", s);
		return -1;
	}
	return 0;
}

/* A socket file's owner: a user name, or any numeric uid (it need not have an entry). */
static int parse_owner(struct lctx *c, yaml_node_t *n, const char *path, uid_t *uid_r)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);
	uint64_t id;
	char *name = NULL;
	gid_t gid;

	if (!s)
		return -1;
	if (units_parse_uint(s, UINT32_MAX - 1, &id) == 0) {
		*uid_r = (uid_t)id;
		return 0;
	}
	if (config_lookup_user(c->l, c->yd, n, path, &name, uid_r, &gid) < 0)
		return -1;
	free(name);
	return 0;
}

static int parse_socket_group(struct lctx *c, yaml_node_t *n, const char *path, gid_t *gid_r)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);
	uint64_t id;

	if (!s)
		return -1;
	if (units_parse_uint(s, UINT32_MAX - 1, &id) == 0) {
		*gid_r = (gid_t)id;
		return 0;
	}
	return config_lookup_group(c->l, c->yd, n, path, NULL, gid_r);
}

static void parse_address(struct lctx *c, yaml_node_t *n, const char *path, struct listen_conf *lc)
{
	const char *s = ystring(c->yd, n, path, c->l->diag);
	char err[512];

	if (s && addr_parse_named(s, config_port_lookup, c->l, &lc->addr, err, sizeof(err)) < 0)
		yerror(c->l->diag, c->yd, n, path, "%s", err);
}

/*
 * proxy_protocol, trusted_proxies and proxy_timeout of listen map M. Each mistake is
 * reported once: a key that depends on a bad or misplaced proxy_protocol says nothing.
 */
static void parse_listen_proxy(struct lctx *c, yaml_node_t *m, const char *path,
                               struct listen_conf *lc)
{
	char kpath[CONFIG_PATH_MAX];
	yaml_node_t *pp, *ppk, *tp, *tpk, *pt, *ptk;
	bool pp_ok = true; /* proxy_protocol absent, or valid where it is */
	uint64_t usec;

	if ((pp = ymap_get(c->yd, m, "proxy_protocol", &ppk))) {
		config_subpath(kpath, path, "proxy_protocol");
		pp_ok = parse_bool(c, pp, kpath, &lc->proxy_protocol) == 0;
		/* An address that failed to parse has no key: it was reported already. */
		if (pp_ok && lc->proxy_protocol && lc->addr.key[0] &&
		    (lc->addr.kind == ADDR_UNIX || lc->addr.socktype == SOCK_DGRAM)) {
			yerror(c->l->diag, c->yd, ppk, path,
			       "proxy_protocol is only for TCP addresses (%s is not one)",
			       lc->addr.key);
			pp_ok = false;
		}
		if (!pp_ok)
			lc->proxy_protocol = false;
	}
	if ((tp = ymap_get(c->yd, m, "trusted_proxies", &tpk)) && pp_ok) {
		config_subpath(kpath, path, "trusted_proxies");
		if (!lc->proxy_protocol)
			yerror(c->l->diag, c->yd, tpk, path,
			       "trusted_proxies needs proxy_protocol: true");
		else if (config_cidr_list(c->l, c->yd, tp, kpath, &lc->trusted_proxies,
		                          &lc->n_trusted_proxies) == 0 &&
		         !lc->n_trusted_proxies)
			yerror(c->l->diag, c->yd, tp, path,
			       "proxy_protocol needs trusted_proxies: the peers allowed to send "
			       "the "
			       "header");
	} else if (lc->proxy_protocol && !tp) {
		yerror(c->l->diag, c->yd, ppk, path,
		       "proxy_protocol needs trusted_proxies: the peers allowed to send the "
		       "header");
	}
	if ((pt = ymap_get(c->yd, m, "proxy_timeout", &ptk)) && pp_ok) {
		config_subpath(kpath, path, "proxy_timeout");
		if (!lc->proxy_protocol) {
			yerror(c->l->diag, c->yd, ptk, path,
			       "proxy_timeout needs proxy_protocol: true");
		} else if (config_duration(c->l, c->yd, pt, kpath, "proxy_timeout", &usec) == 0) {
			if (usec >= PROXY_TIMEOUT_MIN && usec <= PROXY_TIMEOUT_MAX)
				lc->proxy_timeout_usec = usec;
			else
				yerror(c->l->diag, c->yd, pt, path,
				       "proxy_timeout must be between 1ms and 60s (got %s)",
				       (const char *)pt->data.scalar.value);
		}
	}
}

/* receive_buffer / send_buffer KEY of listen map M: a size, at most INT_MAX / 2 (the
 * kernel doubles it). */
static void parse_buffer(struct lctx *c, yaml_node_t *m, const char *path, const char *key,
                         int *bytes_r)
{
	char kpath[CONFIG_PATH_MAX];
	yaml_node_t *n = ymap_get(c->yd, m, key, NULL);
	const char *s;
	uint64_t v;

	if (!n)
		return;
	config_subpath(kpath, path, key);
	if (!(s = ystring(c->yd, n, kpath, c->l->diag)))
		return;
	if (units_parse_size(s, &v) < 0)
		yerror(c->l->diag, c->yd, n, kpath, "expected a size such as 256K or 4M, got '%s'",
		       s);
	else if (v < 1024 || v > INT_MAX / 2)
		yerror(c->l->diag, c->yd, n, kpath, "%s must be between 1K and 1G (got %s)", key,
		       s);
	else
		*bytes_r = (int)v;
}

/* Keys that mean something only for a stream socket, on a datagram address: refused
 * rather than ignored, since the operator expected them to do something. */
static void stream_only(struct lctx *c, yaml_node_t *m, const char *path,
                        const struct listen_conf *lc)
{
	static const char *const keys[] = {"backlog", "nodelay", "keepalive"};
	yaml_node_t *kn;

	if (lc->addr.socktype != SOCK_DGRAM)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (ymap_get(c->yd, m, keys[i], &kn))
			yerror(c->l->diag, c->yd, kn, path,
			       "%s is only for stream sockets (%s is a datagram socket)", keys[i],
			       lc->addr.key);
}

static void parse_listen_map(struct lctx *c, yaml_node_t *m, const char *path,
                             struct listen_conf *lc)
{
	static const char *const keys[] = {
	        "address",        "backlog",         "reuseport",     "nodelay", "keepalive",
	        "receive_buffer", "send_buffer",     "mode",          "owner",   "group",
	        "proxy_protocol", "trusted_proxies", "proxy_timeout", "tls",     NULL};
	static const char *const unix_only[] = {"mode", "owner", "group"};
	char where[CONFIG_PATH_MAX + 3], kpath[CONFIG_PATH_MAX];
	yaml_node_t *n, *kn;
	const char *s;

	snprintf(where, sizeof(where), "in %s", path);
	ymap_check(c->yd, m, path, where, keys, c->l->diag);
	n = ymap_get(c->yd, m, "address", NULL);
	if (!n) {
		yerror(c->l->diag, c->yd, m, path, "expected 'address'");
	} else {
		config_subpath(kpath, path, "address");
		parse_address(c, n, kpath, lc);
	}
	if ((n = ymap_get(c->yd, m, "backlog", NULL))) {
		uint64_t v;
		config_subpath(kpath, path, "backlog");
		s = ystring(c->yd, n, kpath, c->l->diag);
		if (s && units_parse_uint(s, UINT64_MAX, &v) < 0)
			yerror(c->l->diag, c->yd, n, kpath, "expected a number, got '%s'", s);
		else if (s && (v < 1 || v > 65535))
			yerror(c->l->diag, c->yd, n, path,
			       "backlog must be between 1 and 65535 (got %s)", s);
		else if (s) {
			lc->backlog = (int)v;
			lc->has_backlog = true;
		}
	}
	parse_buffer(c, m, path, "receive_buffer", &lc->receive_buffer);
	parse_buffer(c, m, path, "send_buffer", &lc->send_buffer);
	if ((n = ymap_get(c->yd, m, "reuseport", NULL))) {
		config_subpath(kpath, path, "reuseport");
		parse_bool(c, n, kpath, &lc->reuseport);
	}
	if ((n = ymap_get(c->yd, m, "nodelay", NULL))) {
		config_subpath(kpath, path, "nodelay");
		lc->has_nodelay = parse_bool(c, n, kpath, &lc->nodelay) == 0;
	}
	if ((n = ymap_get(c->yd, m, "keepalive", NULL))) {
		config_subpath(kpath, path, "keepalive");
		lc->has_keepalive = parse_bool(c, n, kpath, &lc->keepalive) == 0;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!(n = ymap_get(c->yd, m, unix_only[i], &kn)))
			continue;
		/* An address that failed to parse has no key: it was reported already. */
		if (lc->addr.kind != ADDR_UNIX && lc->addr.key[0]) {
			yerror(c->l->diag, c->yd, kn, path,
			       "%s is only for unix: addresses (%s is not one)", unix_only[i],
			       lc->addr.key);
			continue;
		}
		config_subpath(kpath, path, unix_only[i]);
		if (i == 0) {
			unsigned mode;
			s = ystring(c->yd, n, kpath, c->l->diag);
			if (s && units_parse_mode(s, &mode) < 0)
				yerror(c->l->diag, c->yd, n, kpath,
				       "expected an octal mode such as '0660', got '%s'", s);
			else if (s) {
				lc->mode = (mode_t)mode;
				lc->has_mode = true;
			}
		} else if (i == 1) {
			lc->has_owner = parse_owner(c, n, kpath, &lc->owner) == 0;
		} else {
			lc->has_group = parse_socket_group(c, n, kpath, &lc->group) == 0;
		}
	}
	parse_listen_proxy(c, m, path, lc);
	stream_only(c, m, path, lc);
	config_tls_listen(c->l, c->yd, m, path, lc);
	/* TLS writes whole records: Nagle would hold a record's last segment for the
	 * peer's delayed ACK (tens of ms per answer) and gains nothing. */
	if (lc->tls_conf && !lc->has_nodelay)
		lc->nodelay = true;
}

void config_listen_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         struct service_conf *sc)
{
	struct lctx ctx = {.l = l, .yd = yd}, *c = &ctx;
	char ipath[CONFIG_PATH_MAX];
	yaml_node_item_t one = 0, *items, *end;

	/* A single item, an address or a map, is a list of one. */
	if ((v->type == YAML_SCALAR_NODE && !yis_null(v)) || v->type == YAML_MAPPING_NODE) {
		one = (yaml_node_item_t)(v - c->yd->doc.nodes.start) + 1;
		items = &one;
		end = items + 1;
	} else if (v->type == YAML_SEQUENCE_NODE && ylist_len(v) > 0) {
		items = v->data.sequence.items.start;
		end = v->data.sequence.items.top;
	} else {
		yerror(c->l->diag, c->yd, v, path,
		       "expected an address or a non-empty list of addresses, got %s",
		       v->type == YAML_SEQUENCE_NODE ? "an empty list" : ytype_name(v));
		return;
	}
	sc->listen = calloc((size_t)(end - items), sizeof(*sc->listen));
	if (!sc->listen) {
		yerror(c->l->diag, c->yd, v, path, "out of memory");
		return;
	}
	for (yaml_node_item_t *it = items; it < end; it++) {
		yaml_node_t *n = ynode(c->yd, *it);
		struct listen_conf *lc = &sc->listen[sc->n_listen++];

		lc->backlog = BACKLOG_DEFAULT;
		lc->proxy_timeout_usec = PROXY_TIMEOUT_DEFAULT;
		lc->pos = ypos(c->yd, n);
		if (v->type == YAML_SEQUENCE_NODE)
			snprintf(ipath, sizeof(ipath), "%s[%zu]", path, (size_t)(it - items));
		else
			snprintf(ipath, sizeof(ipath), "%s", path);
		if (n->type == YAML_MAPPING_NODE)
			parse_listen_map(c, n, ipath, lc);
		else if (n->type == YAML_SCALAR_NODE && !yis_null(n))
			parse_address(c, n, ipath, lc);
		else
			yerror(c->l->diag, c->yd, n, ipath,
			       "expected an address or a map with 'address', got %s",
			       ytype_name(n));
	}
}
