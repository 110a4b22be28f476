/*
 * `tls:` of a listen entry and `defaults.tls`: the settings parsed once per map (so a
 * mistake in defaults is reported once), merged key by key (the entry's own value, else
 * the default), then built into the listener's TLS server by the master, reading the
 * certificates and keys as it runs (root). An entry is TLS only when it has `tls`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mpm/mpm.h"
#include "superserverd/config_int.h"
#include "superserverd/units.h"

#define HANDSHAKE_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define HANDSHAKE_TIMEOUT_MIN     USEC_PER_MSEC
#define HANDSHAKE_TIMEOUT_MAX     (300 * USEC_PER_SEC)
#define ALPN_NAME_MAX             255

enum tls_key {
	TK_CERT,
	TK_KEY,
	TK_CHAIN,
	TK_CA,
	TK_VERIFY,
	TK_PROTOCOLS,
	TK_CIPHERS,
	TK_SUITES,
	TK_ALPN,
	TK_TIMEOUT,
	TK_SNI,
	TK_COUNT,
};

static const char *const tls_keys[] = {
        "certificate", "key",          "chain", "client_ca",         "verify_client", "protocols",
        "ciphers",     "ciphersuites", "alpn",  "handshake_timeout", "sni",           NULL,
};

/* One tls map as written: which keys it has (and whether valid), their values. */
struct tls_part {
	struct field f[TK_COUNT];
	struct tls_conf v;
};

struct tctx {
	struct loader *l;
	struct ydoc *yd;
	const char *path; /* of the tls map */
};

static void begin(struct tctx *c, struct tls_part *p, enum tls_key k, yaml_node_t *v)
{
	p->f[k].st = FIELD_BAD;
	p->f[k].pos = ypos(c->yd, v);
}

static int where(struct tctx *c, yaml_node_t *v, const char *kpath, struct tls_where *w)
{
	w->pos = ypos(c->yd, v);
	if ((w->key = strdup(kpath)))
		return 0;
	yerror(c->l->diag, c->yd, v, kpath, "out of memory");
	return -1;
}

static int parse_file(struct tctx *c, yaml_node_t *v, const char *kpath, struct tls_file_conf *f)
{
	const char *s = ystring(c->yd, v, kpath, c->l->diag);

	if (!s)
		return -1;
	if (s[0] != '/') {
		yerror(c->l->diag, c->yd, v, kpath, "expected an absolute path, got '%s'", s);
		return -1;
	}
	if (where(c, v, kpath, &f->at) < 0 || !(f->path = strdup(s))) {
		yerror(c->l->diag, c->yd, v, kpath, "out of memory");
		return -1;
	}
	return 0;
}

static int parse_verify(struct tctx *c, yaml_node_t *v, const char *kpath, struct tls_conf *tc)
{
	static const char *const names[] = {"none", "optional", "require"};
	const char *s = ystring(c->yd, v, kpath, c->l->diag);

	for (int i = 0; s && i < 3; i++)
		if (strcmp(s, names[i]) == 0) {
			tc->verify_client = (enum tls_verify)i;
			return where(c, v, kpath, &tc->verify_at);
		}
	if (s)
		yerror(c->l->diag, c->yd, v, kpath,
		       "unknown verify_client '%s' (expected none, optional or require)", s);
	return -1;
}

static int parse_protocols(struct tctx *c, yaml_node_t *v, const char *kpath, unsigned *r)
{
	char ipath[CONFIG_PATH_MAX];
	size_t i = 0;
	bool ok = true;

	*r = 0;
	if (!yexpect(c->yd, v, YAML_SEQUENCE_NODE, kpath, c->l->diag))
		return -1;
	if (!ylist_len(v)) {
		yerror(c->l->diag, c->yd, v, kpath,
		       "expected TLSv1.2, TLSv1.3 or both, got an "
		       "empty list");
		return -1;
	}
	ylist_for_each(v, it)
	{
		yaml_node_t *n = ynode(c->yd, *it);
		const char *s;

		snprintf(ipath, sizeof(ipath), "%s[%zu]", kpath, i++);
		if (!(s = ystring(c->yd, n, ipath, c->l->diag)))
			ok = false;
		else if (strcmp(s, "TLSv1.2") == 0)
			*r |= TLS_PROTO_TLS12;
		else if (strcmp(s, "TLSv1.3") == 0)
			*r |= TLS_PROTO_TLS13;
		else {
			yerror(c->l->diag, c->yd, n, ipath,
			       "unknown or unsupported protocol '%s' (expected TLSv1.2 or TLSv1.3)",
			       s);
			ok = false;
		}
	}
	return ok ? 0 : -1;
}

/* A non-empty string without NUL into *R, at W. */
static int parse_string(struct tctx *c, yaml_node_t *v, const char *kpath, char **r,
                        struct tls_where *w)
{
	const char *s = ystring(c->yd, v, kpath, c->l->diag);

	if (!s)
		return -1;
	if (!*s) {
		yerror(c->l->diag, c->yd, v, kpath, "expected a non-empty string");
		return -1;
	}
	if (!(*r = strdup(s))) {
		yerror(c->l->diag, c->yd, v, kpath, "out of memory");
		return -1;
	}
	return w ? where(c, v, kpath, w) : 0;
}

static int parse_alpn(struct tctx *c, yaml_node_t *v, const char *kpath, struct tls_conf *tc)
{
	char ipath[CONFIG_PATH_MAX];
	size_t i = 0;
	bool ok = true;

	if (!yexpect(c->yd, v, YAML_SEQUENCE_NODE, kpath, c->l->diag))
		return -1;
	if (!(tc->alpn = calloc(ylist_len(v) + 1, sizeof(*tc->alpn)))) {
		yerror(c->l->diag, c->yd, v, kpath, "out of memory");
		return -1;
	}
	ylist_for_each(v, it)
	{
		yaml_node_t *n = ynode(c->yd, *it);
		const char *s;
		size_t len;

		snprintf(ipath, sizeof(ipath), "%s[%zu]", kpath, i++);
		if (!(s = ystring(c->yd, n, ipath, c->l->diag))) {
			ok = false;
			continue;
		}
		len = strlen(s);
		if (len < 1 || len > ALPN_NAME_MAX) {
			yerror(c->l->diag, c->yd, n, ipath,
			       "an ALPN protocol name is 1 to 255 bytes (got %zu)", len);
			ok = false;
		} else if (!(tc->alpn[tc->n_alpn++] = strdup(s))) {
			yerror(c->l->diag, c->yd, n, ipath, "out of memory");
			ok = false;
		}
	}
	return ok ? 0 : -1;
}

/* A server name of an sni entry: a host name, or "*." and one. */
static bool valid_name(const char *s)
{
	const char *h = strncmp(s, "*.", 2) == 0 ? s + 2 : s;

	if (!*h || strlen(s) > 253 || h[0] == '.' || h[strlen(h) - 1] == '.' || strstr(h, ".."))
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
	return true;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Whether NAME is in an earlier sni entry (or earlier in its own). */
static bool name_seen(const struct tls_conf *tc, const struct tls_sni_conf *cur, const char *name)
{
	for (const struct tls_sni_conf *s = tc->sni; s <= cur; s++)
		for (size_t i = 0; i < s->n_names; i++)
			if (strcmp(s->names[i], name) == 0)
				return true;
	return false;
}

static int parse_sni_names(struct tctx *c, yaml_node_t *v, const char *kpath, struct tls_conf *tc,
                           struct tls_sni_conf *s)
{
	char ipath[CONFIG_PATH_MAX];
	size_t i = 0;
	bool ok = true;

	if (v->type == YAML_SEQUENCE_NODE && !ylist_len(v)) {
		yerror(c->l->diag, c->yd, v, kpath, "expected a non-empty list of server names");
		return -1;
	}
	if (!yexpect(c->yd, v, YAML_SEQUENCE_NODE, kpath, c->l->diag))
		return -1;
	s->names = calloc(ylist_len(v) + 1, sizeof(*s->names));
	s->names_at = calloc(ylist_len(v) + 1, sizeof(*s->names_at));
	if (!s->names || !s->names_at) {
		yerror(c->l->diag, c->yd, v, kpath, "out of memory");
		return -1;
	}
	ylist_for_each(v, it)
	{
		yaml_node_t *n = ynode(c->yd, *it);
		char *name = NULL;

		snprintf(ipath, sizeof(ipath), "%s[%zu]", kpath, i++);
		if (parse_string(c, n, ipath, &name, NULL) < 0) {
			ok = false;
			continue;
		}
		lower(name);
		if (!valid_name(name)) {
			yerror(c->l->diag, c->yd, n, ipath,
			       "expected a host name or '*.' and one (e.g. *.example.org), got "
			       "'%s'",
			       (const char *)n->data.scalar.value);
			ok = false;
		} else if (name_seen(tc, s, name)) {
			yerror(c->l->diag, c->yd, n, ipath, "the server name '%s' is listed twice",
			       name);
			ok = false;
		} else if (where(c, n, ipath, &s->names_at[s->n_names]) == 0) {
			s->names[s->n_names++] = name;
			continue;
		}
		free(name);
	}
	return ok ? 0 : -1;
}

static int parse_sni(struct tctx *c, yaml_node_t *v, const char *kpath, struct tls_conf *tc)
{
	static const char *const keys[] = {"names", "certificate", "key", "chain", NULL};
	char ipath[CONFIG_PATH_MAX], spath[CONFIG_PATH_MAX], in[CONFIG_PATH_MAX + 3];
	bool ok = true;

	if (!yexpect(c->yd, v, YAML_SEQUENCE_NODE, kpath, c->l->diag))
		return -1;
	if (!(tc->sni = calloc(ylist_len(v) + 1, sizeof(*tc->sni)))) {
		yerror(c->l->diag, c->yd, v, kpath, "out of memory");
		return -1;
	}
	ylist_for_each(v, it)
	{
		yaml_node_t *m = ynode(c->yd, *it), *n;
		struct tls_sni_conf *s = &tc->sni[tc->n_sni++];

		snprintf(ipath, sizeof(ipath), "%s[%zu]", kpath, tc->n_sni - 1);
		if (!yexpect(c->yd, m, YAML_MAPPING_NODE, ipath, c->l->diag)) {
			ok = false;
			continue;
		}
		snprintf(in, sizeof(in), "in %s", ipath);
		ymap_check(c->yd, m, ipath, in, keys, c->l->diag);
		if (!ymap_get(c->yd, m, "names", NULL) ||
		    !ymap_get(c->yd, m, "certificate", NULL) || !ymap_get(c->yd, m, "key", NULL)) {
			yerror(c->l->diag, c->yd, m, ipath, "expected names, certificate and key");
			ok = false;
		}
		if ((n = ymap_get(c->yd, m, "names", NULL))) {
			config_subpath(spath, ipath, "names");
			ok = parse_sni_names(c, n, spath, tc, s) == 0 && ok;
		}
		struct {
			const char *key;
			struct tls_file_conf *f;
		} files[] = {
		        {"certificate", &s->certificate}, {"key", &s->key}, {"chain", &s->chain}};
		for (size_t k = 0; k < 3; k++)
			if ((n = ymap_get(c->yd, m, files[k].key, NULL))) {
				config_subpath(spath, ipath, files[k].key);
				ok = parse_file(c, n, spath, files[k].f) == 0 && ok;
			}
	}
	return ok ? 0 : -1;
}

static int parse_key(struct tctx *c, enum tls_key k, yaml_node_t *v, const char *kpath,
                     struct tls_conf *tc)
{
	uint64_t usec;

	switch (k) {
	case TK_CERT:
		return parse_file(c, v, kpath, &tc->certificate);
	case TK_KEY:
		return parse_file(c, v, kpath, &tc->key);
	case TK_CHAIN:
		return parse_file(c, v, kpath, &tc->chain);
	case TK_CA:
		return parse_file(c, v, kpath, &tc->client_ca);
	case TK_VERIFY:
		return parse_verify(c, v, kpath, tc);
	case TK_PROTOCOLS:
		return parse_protocols(c, v, kpath, &tc->protocols);
	case TK_CIPHERS:
		return parse_string(c, v, kpath, &tc->ciphers, &tc->ciphers_at);
	case TK_SUITES:
		return parse_string(c, v, kpath, &tc->ciphersuites, &tc->ciphersuites_at);
	case TK_ALPN:
		return parse_alpn(c, v, kpath, tc);
	case TK_TIMEOUT:
		if (config_duration(c->l, c->yd, v, kpath, "handshake_timeout", &usec) < 0)
			return -1;
		if (usec < HANDSHAKE_TIMEOUT_MIN || usec > HANDSHAKE_TIMEOUT_MAX) {
			yerror(c->l->diag, c->yd, v, c->path,
			       "handshake_timeout must be between 1ms and 300s (got %s)",
			       (const char *)v->data.scalar.value);
			return -1;
		}
		tc->handshake_timeout_usec = usec;
		return 0;
	case TK_SNI:
		return parse_sni(c, v, kpath, tc);
	case TK_COUNT:
		break;
	}
	return -1;
}

static void part_free(struct tls_part *p)
{
	if (!p)
		return;
	tls_conf_free(&p->v);
	free(p);
}

/* Map V (PATH names it) into a new part; NULL without memory. */
static struct tls_part *part_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v,
                                   const char *path)
{
	struct tctx c = {.l = l, .yd = yd, .path = path};
	struct tls_part *p = calloc(1, sizeof(*p));
	char kpath[CONFIG_PATH_MAX], in[CONFIG_PATH_MAX + 3];

	if (!p) {
		yerror(l->diag, yd, v, path, "out of memory");
		return NULL;
	}
	snprintf(in, sizeof(in), "in %s", path);
	ymap_check(yd, v, path, in, tls_keys, l->diag);
	for (int k = 0; k < TK_COUNT; k++) {
		yaml_node_t *n = ymap_get(yd, v, tls_keys[k], NULL);
		if (!n)
			continue;
		config_subpath(kpath, path, tls_keys[k]);
		begin(&c, p, (enum tls_key)k, n);
		if (parse_key(&c, (enum tls_key)k, n, kpath, &p->v) == 0)
			p->f[k].st = FIELD_SET;
	}
	return p;
}

void config_tls_defaults(struct loader *l, struct ydoc *yd, yaml_node_t *v)
{
	if (yexpect(yd, v, YAML_MAPPING_NODE, "defaults.tls", l->diag))
		l->tls_defaults = part_parse(l, yd, v, "defaults.tls");
}

void config_tls_loader_free(struct loader *l)
{
	part_free(l->tls_defaults);
	l->tls_defaults = NULL;
}

/* ------------------------------------------------------------------ merging */

static bool copy_where(struct tls_where *to, const struct tls_where *from)
{
	to->pos = from->pos;
	return !from->key || (to->key = strdup(from->key));
}

static bool copy_str(char **to, const char *from)
{
	return !from || (*to = strdup(from));
}

static bool copy_file(struct tls_file_conf *to, const struct tls_file_conf *from)
{
	return copy_str(&to->path, from->path) && copy_where(&to->at, &from->at);
}

static bool copy_list(char ***to, size_t *n_to, char *const *from, size_t n)
{
	if (!n)
		return true;
	if (!(*to = calloc(n + 1, sizeof(**to))))
		return false;
	for (*n_to = 0; *n_to < n; (*n_to)++)
		if (!((*to)[*n_to] = strdup(from[*n_to])))
			return false;
	return true;
}

static bool copy_sni(struct tls_conf *to, const struct tls_conf *from)
{
	if (!from->n_sni)
		return true;
	if (!(to->sni = calloc(from->n_sni, sizeof(*to->sni))))
		return false;
	for (; to->n_sni < from->n_sni; to->n_sni++) {
		const struct tls_sni_conf *f = &from->sni[to->n_sni];
		struct tls_sni_conf *t = &to->sni[to->n_sni];
		if (!copy_file(&t->certificate, &f->certificate) || !copy_file(&t->key, &f->key) ||
		    !copy_file(&t->chain, &f->chain) ||
		    !(t->names_at = calloc(f->n_names + 1, sizeof(*t->names_at))) ||
		    !copy_list(&t->names, &t->n_names, f->names, f->n_names))
			return false;
		for (size_t i = 0; i < f->n_names; i++)
			if (!copy_where(&t->names_at[i], &f->names_at[i]))
				return false;
	}
	return true;
}

/* Key K of the merged settings TC from part P. */
static bool copy_key(struct tls_conf *tc, const struct tls_conf *v, enum tls_key k)
{
	switch (k) {
	case TK_CERT:
		return copy_file(&tc->certificate, &v->certificate);
	case TK_KEY:
		return copy_file(&tc->key, &v->key);
	case TK_CHAIN:
		return copy_file(&tc->chain, &v->chain);
	case TK_CA:
		return copy_file(&tc->client_ca, &v->client_ca);
	case TK_VERIFY:
		tc->verify_client = v->verify_client;
		return copy_where(&tc->verify_at, &v->verify_at);
	case TK_PROTOCOLS:
		tc->protocols = v->protocols;
		return true;
	case TK_CIPHERS:
		return copy_str(&tc->ciphers, v->ciphers) &&
		       copy_where(&tc->ciphers_at, &v->ciphers_at);
	case TK_SUITES:
		return copy_str(&tc->ciphersuites, v->ciphersuites) &&
		       copy_where(&tc->ciphersuites_at, &v->ciphersuites_at);
	case TK_ALPN:
		return copy_list(&tc->alpn, &tc->n_alpn, v->alpn, v->n_alpn);
	case TK_TIMEOUT:
		tc->handshake_timeout_usec = v->handshake_timeout_usec;
		return true;
	case TK_SNI:
		return copy_sni(tc, v);
	case TK_COUNT:
		break;
	}
	return false;
}

/* OWN (NULL for `tls: true`) merged over the defaults into a new LC->tls_conf; false
 * without a certificate or key (nothing can be built then). A key reported bad is left
 * at its default, so that the files are still checked: every mistake is said at once. */
static bool merge(struct loader *l, const struct tls_part *own, yaml_node_t *kn, struct ydoc *yd,
                  const char *path, struct listen_conf *lc)
{
	const struct tls_part *def = l->tls_defaults;
	struct tls_conf *tc = calloc(1, sizeof(*tc));
	bool ok = true;

	if (!tc) {
		yerror(l->diag, yd, kn, path, "out of memory");
		return false;
	}
	lc->tls_conf = tc;
	tc->protocols = TLS_PROTO_TLS12 | TLS_PROTO_TLS13;
	tc->handshake_timeout_usec = HANDSHAKE_TIMEOUT_DEFAULT;
	for (int k = 0; k < TK_COUNT; k++) {
		const struct tls_part *p = own && own->f[k].st != FIELD_UNSET   ? own
		                           : def && def->f[k].st != FIELD_UNSET ? def
		                                                                : NULL;
		if (!p)
			continue;
		if (p->f[k].st != FIELD_SET) {
			/* Reported where it was written; certificate and key are needed. */
			ok = ok && k != TK_CERT && k != TK_KEY;
			continue;
		}
		if (!copy_key(tc, &p->v, (enum tls_key)k)) {
			yerror(l->diag, yd, kn, path, "out of memory");
			return false;
		}
	}
	if (!tc->certificate.path || !tc->key.path) {
		if (ok)
			yerror(l->diag, yd, kn, path,
			       "tls needs certificate and key (in the entry's tls map or in "
			       "defaults.tls)");
		return false;
	}
	return ok;
}

void config_tls_listen(struct loader *l, struct ydoc *yd, yaml_node_t *m, const char *path,
                       struct listen_conf *lc)
{
	char kpath[CONFIG_PATH_MAX];
	struct tls_part *own = NULL;
	yaml_node_t *kn, *v = ymap_get(yd, m, "tls", &kn);
	bool on;

	if (!v)
		return;
	config_subpath(kpath, path, "tls");
	if (v->type == YAML_MAPPING_NODE) {
		if (!(own = part_parse(l, yd, v, kpath)))
			return;
	} else if (v->type != YAML_SCALAR_NODE || yis_null(v) ||
	           units_parse_bool((const char *)v->data.scalar.value, &on) < 0) {
		yerror(l->diag, yd, v, kpath,
		       "expected a map of TLS settings, or true (all from defaults.tls), got %s",
		       v->type == YAML_SCALAR_NODE && !yis_null(v) ? "a string" : ytype_name(v));
		return;
	} else if (!on) {
		return;
	}
	/* An address that failed to parse has no key: it was reported already. */
	if (lc->addr.key[0] && lc->addr.socktype == SOCK_DGRAM) {
		yerror(l->diag, yd, kn, path,
		       "tls is only for stream sockets (%s is a datagram socket)", lc->addr.key);
	} else if (!merge(l, own, kn, yd, kpath, lc)) {
		/* Reported; the listener stays marked TLS so that no later check takes it
		 * for a plaintext one, but nothing is built. */
		lc->tls_bad = true;
	}
	part_free(own);
}

/* ------------------------------------------------------------------ building */

void config_tls_build(struct loader *l, struct service_conf *sc)
{
	for (size_t i = 0; i < sc->n_listen; i++) {
		struct listen_conf *lc = &sc->listen[i];
		struct diag d;

		if (!lc->tls_conf || lc->tls_bad)
			continue;
		diag_init(&d);
		if (tls_server_build(lc->tls_conf, &d, &lc->tls) < 0 && !diag_count(&d))
			diag_error(l->diag, &lc->pos, "service '%s': out of memory (TLS)",
			           sc->name);
		/* A defaults.tls file used by several listeners is one mistake, said once. */
		diag_add_new(l->diag, &d);
		diag_free(&d);
	}
}

void config_tls_listen_free(struct listen_conf *lc)
{
	lc->tls = tls_server_free(lc->tls);
	if (lc->tls_conf) {
		tls_conf_free(lc->tls_conf);
		free(lc->tls_conf);
		lc->tls_conf = NULL;
	}
}

static void where_free(struct tls_where *w)
{
	free(w->key);
	w->key = NULL;
}

static void file_free(struct tls_file_conf *f)
{
	free(f->path);
	where_free(&f->at);
}

static void list_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void tls_conf_free(struct tls_conf *tc)
{
	file_free(&tc->certificate);
	file_free(&tc->key);
	file_free(&tc->chain);
	file_free(&tc->client_ca);
	where_free(&tc->verify_at);
	free(tc->ciphers);
	where_free(&tc->ciphers_at);
	free(tc->ciphersuites);
	where_free(&tc->ciphersuites_at);
	list_free(tc->alpn, tc->n_alpn);
	for (size_t i = 0; i < tc->n_sni; i++) {
		struct tls_sni_conf *s = &tc->sni[i];
		list_free(s->names, s->n_names);
		for (size_t k = 0; s->names_at && k < s->n_names; k++)
			where_free(&s->names_at[k]);
		free(s->names_at);
		file_free(&s->certificate);
		file_free(&s->key);
		file_free(&s->chain);
	}
	free(tc->sni);
	memset(tc, 0, sizeof(*tc));
}
