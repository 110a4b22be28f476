/*
 * The "limits and access" keys: `limits:` (timeouts, connection caps, overload
 * behaviour, banner, per-source caps, rates), `access:` (CIDR and uid/gid rules), CIDR
 * lists (also for listen.trusted_proxies) and the connection-record destination
 * (log.connections, log_connections). Parsed into a struct svc_part (or straight into
 * their owner); merging is config_merge.c's.
 *
 * Out-of-range values are errors, never clamped: a limit the daemon quietly changed
 * would be a limit nobody chose.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "superserverd/config_int.h"
#include "superserverd/units.h"

#define MAX_CONNECTIONS_MAX 10000000
#define PER_SOURCE_MAX      1000000
#define BANNER_MAX          512
#define RATE_MAX            1e9 /* per second; also the largest burst */
#define RATE_SYNTAX                                                                                \
	"expected a rate such as 200/s, 10/m or 0.5/h (a positive number per second, minute "      \
	"or hour)"

/* Marks F as given at V; it stays BAD unless the parser reaches the end. */
static void begin(struct field *f, const struct ydoc *yd, const yaml_node_t *v)
{
	f->st = FIELD_BAD;
	f->pos = ypos(yd, v);
}

/* A whole number between LO and HI, reported like the other bounded settings: junk at
 * the value's own path, a range error at its parent's ("services.e.limits: KEY must be
 * between..."). */
static int uint_value(struct loader *l, struct ydoc *yd, yaml_node_t *n, const char *path,
                      const char *key, uint64_t lo, uint64_t hi, uint64_t *r)
{
	const char *s = ystring(yd, n, path, l->diag);
	char parent[CONFIG_PATH_MAX];
	uint64_t v;

	if (!s)
		return -1;
	if (units_parse_uint(s, UINT64_MAX, &v) < 0) {
		yerror(l->diag, yd, n, path, "expected a number, got '%s'", s);
		return -1;
	}
	if (v < lo || v > hi) {
		config_parent_path(parent, path);
		yerror(l->diag, yd, n, parent, "%s must be between %llu and %llu (got %s)", key,
		       (unsigned long long)lo, (unsigned long long)hi, s);
		return -1;
	}
	*r = v;
	return 0;
}

/* Digits with an optional fraction ("5", "0.5"), no sign or exponent: the forms a rate
 * is written in. Bounded so the value is exact enough and never overflows. */
static int parse_decimal(const char **p, double *r)
{
	const char *s = *p;
	double v = 0, scale = 1;
	int n = 0;

	for (; *s >= '0' && *s <= '9'; s++, n++)
		v = v * 10 + (*s - '0');
	if (n == 0 || n > 10)
		return -1;
	if (*s == '.') {
		s++;
		for (n = 0; *s >= '0' && *s <= '9'; s++, n++) {
			scale *= 10;
			v += (*s - '0') / scale;
		}
		if (n == 0 || n > 9)
			return -1;
	}
	*p = s;
	*r = v;
	return 0;
}

/* "N/s", "N/m", "N/h" into connections per second. */
static int parse_rate(const char *s, double *per_sec)
{
	double v, unit;

	if (parse_decimal(&s, &v) < 0 || *s++ != '/')
		return -1;
	if (strcmp(s, "s") == 0)
		unit = 1;
	else if (strcmp(s, "m") == 0)
		unit = 60;
	else if (strcmp(s, "h") == 0)
		unit = 3600;
	else
		return -1;
	if (!(v > 0))
		return -1;
	*per_sec = v / unit;
	return 0;
}

/*
 * A rate key and its burst key (KEYS[0], KEYS[1]) of limits map M into one field: a
 * burst is sized for its rate, so it is never combined with a rate from elsewhere.
 */
static void parse_rate_pair(struct loader *l, struct ydoc *yd, yaml_node_t *m, const char *path,
                            const char *const keys[2], struct field *f, double *rate, double *burst)
{
	char kpath[CONFIG_PATH_MAX], parent[CONFIG_PATH_MAX];
	yaml_node_t *rn = ymap_get(yd, m, keys[0], NULL), *kn, *bn = ymap_get(yd, m, keys[1], &kn);
	const char *s;
	bool ok = true;

	if (!rn) {
		if (bn)
			yerror(l->diag, yd, kn, path,
			       "%s needs %s (the burst is the size of the rate's bucket): give "
			       "both",
			       keys[1], keys[0]);
		return;
	}
	begin(f, yd, rn);
	config_subpath(kpath, path, keys[0]);
	if (!(s = ystring(yd, rn, kpath, l->diag))) {
		ok = false;
	} else if (parse_rate(s, rate) < 0) {
		yerror(l->diag, yd, rn, kpath, RATE_SYNTAX ", got '%s'", s);
		ok = false;
	} else if (*rate > RATE_MAX) {
		config_parent_path(parent, kpath);
		yerror(l->diag, yd, rn, parent, "%s must be at most 1000000000/s (got %s)", keys[0],
		       s);
		ok = false;
	}
	*burst = 0;
	if (bn) {
		const char *end;
		double b;

		config_subpath(kpath, path, keys[1]);
		s = end = ystring(yd, bn, kpath, l->diag);
		if (!s) {
			ok = false;
		} else if (parse_decimal(&end, &b) < 0 || *end) {
			yerror(l->diag, yd, bn, kpath, "expected a number such as 20, got '%s'", s);
			ok = false;
		} else if (b < 1 || b > RATE_MAX) {
			yerror(l->diag, yd, bn, path,
			       "%s must be between 1 and 1000000000 (got %s)", keys[1], s);
			ok = false;
		} else {
			*burst = b;
		}
	}
	if (ok)
		f->st = FIELD_SET;
}

static void parse_per_source(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                             struct svc_part *p)
{
	static const char *const keys[] = {"max", "ipv4_prefix", "ipv6_prefix", NULL};
	char where[CONFIG_PATH_MAX + 3], kpath[CONFIG_PATH_MAX];
	uint64_t max, v4 = 32, v6 = 64;
	yaml_node_t *n;
	bool ok = true;

	begin(&p->f_per_source, yd, v);
	if (v->type == YAML_SCALAR_NODE && !yis_null(v)) {
		if (uint_value(l, yd, v, path, "per_source", 1, PER_SOURCE_MAX, &max) < 0)
			return;
	} else if (v->type == YAML_MAPPING_NODE) {
		snprintf(where, sizeof(where), "in %s", path);
		ymap_check(yd, v, path, where, keys, l->diag);
		if (!(n = ymap_get(yd, v, "max", NULL))) {
			yerror(l->diag, yd, v, path,
			       "expected 'max' (how many connections one source may have open)");
			ok = false;
		} else {
			config_subpath(kpath, path, "max");
			ok = uint_value(l, yd, n, kpath, "max", 1, PER_SOURCE_MAX, &max) == 0;
		}
		if ((n = ymap_get(yd, v, "ipv4_prefix", NULL))) {
			config_subpath(kpath, path, "ipv4_prefix");
			ok = uint_value(l, yd, n, kpath, "ipv4_prefix", 0, 32, &v4) == 0 && ok;
		}
		if ((n = ymap_get(yd, v, "ipv6_prefix", NULL))) {
			config_subpath(kpath, path, "ipv6_prefix");
			ok = uint_value(l, yd, n, kpath, "ipv6_prefix", 0, 128, &v6) == 0 && ok;
		}
		if (!ok)
			return;
	} else {
		yerror(l->diag, yd, v, path,
		       "expected a number or a map with 'max' (and ipv4_prefix, ipv6_prefix), got "
		       "%s",
		       ytype_name(v));
		return;
	}
	p->ps_max = (uint32_t)max;
	p->ps_v4 = (unsigned)v4;
	p->ps_v6 = (unsigned)v6;
	p->f_per_source.st = FIELD_SET;
}

static void parse_overload(struct loader *l, struct ydoc *yd, yaml_node_t *n, const char *path,
                           struct svc_part *p)
{
	const char *s;

	begin(&p->f_overload, yd, n);
	if (!(s = ystring(yd, n, path, l->diag)))
		return;
	if (strcmp(s, "wait") == 0) {
		p->overload = OVERLOAD_WAIT;
	} else if (strcmp(s, "reject") == 0) {
		p->overload = OVERLOAD_REJECT;
	} else {
		yerror(l->diag, yd, n, path, "expected wait or reject, got '%s'", s);
		return;
	}
	p->f_overload.st = FIELD_SET;
}

static void parse_banner(struct loader *l, struct ydoc *yd, yaml_node_t *n, const char *path,
                         struct svc_part *p)
{
	const char *s;
	size_t len;

	begin(&p->f_banner, yd, n);
	if (!(s = ystring(yd, n, path, l->diag)))
		return;
	len = strlen(s);
	if (len > BANNER_MAX) {
		yerror(l->diag, yd, n, path, "the banner is %zu bytes (at most %d)", len,
		       BANNER_MAX);
		return;
	}
	free(p->banner);
	p->banner = NULL;
	/* "" is no banner: it lets a service drop the one its defaults give. */
	if (len && !(p->banner = strdup(s))) {
		yerror(l->diag, yd, n, path, "out of memory");
		return;
	}
	p->f_banner.st = FIELD_SET;
}

/* datagram_reply_max: bytes an answer may have whatever the request's length. */
static void parse_dgram_reply(struct loader *l, struct ydoc *yd, yaml_node_t *n, const char *path,
                              struct svc_part *p)
{
	char kpath[CONFIG_PATH_MAX];
	const char *s;
	uint64_t v;

	config_subpath(kpath, path, "datagram_reply_max");
	begin(&p->f_dgram_reply, yd, n);
	if (!(s = ystring(yd, n, kpath, l->diag)))
		return;
	if (units_parse_size(s, &v) < 0) {
		yerror(l->diag, yd, n, kpath, "expected a size in bytes such as 4 or 512, got '%s'",
		       s);
		return;
	}
	if (v < 1 || v > CONFIG_DATAGRAM_MAX) {
		yerror(l->diag, yd, n, path, "datagram_reply_max must be between 1 and %d (got %s)",
		       CONFIG_DATAGRAM_MAX, s);
		return;
	}
	p->dgram_reply = v;
	p->f_dgram_reply.st = FIELD_SET;
}

void config_limits_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         struct svc_part *p)
{
	static const char *const keys[] = {"idle_timeout",
	                                   "max_duration",
	                                   "max_connections",
	                                   "overload",
	                                   "banner",
	                                   "per_source",
	                                   "rate",
	                                   "burst",
	                                   "per_source_rate",
	                                   "per_source_burst",
	                                   "datagram_reply_max",
	                                   NULL};
	static const char *const rate_keys[2] = {"rate", "burst"};
	static const char *const ps_rate_keys[2] = {"per_source_rate", "per_source_burst"};
	char where[CONFIG_PATH_MAX + 3], kpath[CONFIG_PATH_MAX];
	yaml_node_t *n;

	if (!yexpect(yd, v, YAML_MAPPING_NODE, path, l->diag))
		return;
	snprintf(where, sizeof(where), "in %s", path);
	ymap_check(yd, v, path, where, keys, l->diag);
	for (int i = 0; i < 2; i++) {
		struct field *f = i == 0 ? &p->f_idle : &p->f_maxdur;
		uint64_t *usec = i == 0 ? &p->idle_usec : &p->maxdur_usec;

		if (!(n = ymap_get(yd, v, keys[i], NULL)))
			continue;
		config_subpath(kpath, path, keys[i]);
		begin(f, yd, n);
		if (config_duration(l, yd, n, kpath, keys[i], usec) == 0)
			f->st = FIELD_SET;
	}
	if ((n = ymap_get(yd, v, "max_connections", NULL))) {
		config_subpath(kpath, path, "max_connections");
		begin(&p->f_maxconn, yd, n);
		if (uint_value(l, yd, n, kpath, "max_connections", 1, MAX_CONNECTIONS_MAX,
		               &p->maxconn) == 0)
			p->f_maxconn.st = FIELD_SET;
	}
	if ((n = ymap_get(yd, v, "overload", NULL))) {
		config_subpath(kpath, path, "overload");
		parse_overload(l, yd, n, kpath, p);
	}
	if ((n = ymap_get(yd, v, "banner", NULL))) {
		config_subpath(kpath, path, "banner");
		parse_banner(l, yd, n, kpath, p);
	}
	if ((n = ymap_get(yd, v, "per_source", NULL))) {
		config_subpath(kpath, path, "per_source");
		parse_per_source(l, yd, n, kpath, p);
	}
	parse_rate_pair(l, yd, v, path, rate_keys, &p->f_rate, &p->rate, &p->burst);
	parse_rate_pair(l, yd, v, path, ps_rate_keys, &p->f_ps_rate, &p->ps_rate, &p->ps_burst);
	if ((n = ymap_get(yd, v, "datagram_reply_max", NULL)))
		parse_dgram_reply(l, yd, n, path, p);
}

int config_cidr_list(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                     struct cidr **list_r, size_t *n_r)
{
	char ipath[CONFIG_PATH_MAX], err[256];
	size_t i = 0;
	int r = 0;

	*list_r = NULL;
	*n_r = 0;
	if (!yexpect(yd, v, YAML_SEQUENCE_NODE, path, l->diag))
		return -1;
	if (!(*list_r = calloc(ylist_len(v) + 1, sizeof(struct cidr)))) {
		yerror(l->diag, yd, v, path, "out of memory");
		return -1;
	}
	ylist_for_each(v, it)
	{
		yaml_node_t *n = ynode(yd, *it);
		const char *s;

		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i++);
		if (!(s = ystring(yd, n, ipath, l->diag))) {
			r = -1;
		} else if (cidr_parse(s, &(*list_r)[*n_r], err, sizeof(err)) < 0) {
			yerror(l->diag, yd, n, ipath, "invalid CIDR '%s': %s", s, err);
			r = -1;
		} else {
			(*n_r)++;
		}
	}
	return r;
}

_Static_assert(sizeof(uid_t) == sizeof(uint32_t) && sizeof(gid_t) == sizeof(uint32_t),
               "uids and gids are 32-bit");

/* A uid or gid rule: any number (a peer's id need not have an entry), or a name that
 * must exist. */
static int id_list(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path, bool users,
                   uint32_t **ids_r, size_t *n_r)
{
	char ipath[CONFIG_PATH_MAX];
	size_t i = 0;
	int r = 0;

	if (!yexpect(yd, v, YAML_SEQUENCE_NODE, path, l->diag))
		return -1;
	if (!(*ids_r = calloc(ylist_len(v) + 1, sizeof(uint32_t)))) {
		yerror(l->diag, yd, v, path, "out of memory");
		return -1;
	}
	ylist_for_each(v, it)
	{
		yaml_node_t *n = ynode(yd, *it);
		const char *s;
		char *name = NULL;
		uint64_t id;
		uid_t uid;
		gid_t gid;

		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i++);
		if (!(s = ystring(yd, n, ipath, l->diag))) {
			r = -1;
			continue;
		}
		if (units_parse_uint(s, UINT32_MAX - 1, &id) == 0) {
			(*ids_r)[(*n_r)++] = (uint32_t)id;
		} else if (users) {
			if (config_lookup_user(l, yd, n, ipath, &name, &uid, &gid) < 0)
				r = -1;
			else
				(*ids_r)[(*n_r)++] = uid;
			free(name);
		} else {
			if (config_lookup_group(l, yd, n, ipath, NULL, &gid) < 0)
				r = -1;
			else
				(*ids_r)[(*n_r)++] = gid;
		}
	}
	return r;
}

void config_access_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         struct svc_part *p)
{
	static const char *const keys[] = {"allow", "deny", "allow_users", "allow_groups", NULL};
	char where[CONFIG_PATH_MAX + 3], kpath[CONFIG_PATH_MAX];
	struct access_conf *a = &p->access;
	bool ok = true;

	begin(&p->f_access, yd, v);
	if (!yexpect(yd, v, YAML_MAPPING_NODE, path, l->diag))
		return;
	snprintf(where, sizeof(where), "in %s", path);
	ymap_check(yd, v, path, where, keys, l->diag);
	config_access_free(a);
	p->access_cidr_key = p->access_unix_key = NULL;
	/* In file order, so that the first rule written is the one a message points at. */
	ymap_for_each(v, pair)
	{
		const char *key = ypair_key(yd, pair);
		yaml_node_t *n = ynode(yd, pair->value);
		struct diag_pos kpos = ypos(yd, ynode(yd, pair->key));
		const char **first_key;
		struct diag_pos *first_pos;
		uint32_t *ids = NULL;
		size_t count;

		if (!key || !config_pair_is_first(yd, v, pair))
			continue;
		config_subpath(kpath, path, key);
		if (strcmp(key, "allow") == 0 || strcmp(key, "deny") == 0) {
			bool allow = key[0] == 'a';
			if (config_cidr_list(l, yd, n, kpath, allow ? &a->allow : &a->deny,
			                     allow ? &a->n_allow : &a->n_deny) < 0)
				ok = false;
			count = allow ? a->n_allow : a->n_deny;
			first_key = &p->access_cidr_key;
			first_pos = &p->access_cidr_pos;
		} else if (strcmp(key, "allow_users") == 0 || strcmp(key, "allow_groups") == 0) {
			bool users = key[6] == 'u';
			count = 0;
			if (id_list(l, yd, n, kpath, users, &ids, &count) < 0)
				ok = false;
			if (users) {
				a->allow_uids = ids;
				a->n_allow_uids = count;
			} else {
				a->allow_gids = ids;
				a->n_allow_gids = count;
			}
			first_key = &p->access_unix_key;
			first_pos = &p->access_unix_pos;
		} else {
			continue; /* reported by ymap_check */
		}
		/* An empty list is no rule: nothing to check against the listeners. */
		if (count && !*first_key) {
			*first_key = key;
			*first_pos = kpos;
		}
	}
	if (ok)
		p->f_access.st = FIELD_SET;
}

void config_access_free(struct access_conf *a)
{
	free(a->allow);
	free(a->deny);
	free(a->allow_uids);
	free(a->allow_gids);
	memset(a, 0, sizeof(*a));
}

int config_connlog_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         enum connlog_mode *mode_r, char **path_r)
{
	const char *s = ystring(yd, v, path, l->diag), *file;
	char dir[PATH_MAX];
	struct stat st;
	size_t dlen;

	if (!s)
		return -1;
	if (strcmp(s, "journal") == 0 || strcmp(s, "off") == 0) {
		*mode_r = s[0] == 'j' ? CONNLOG_JOURNAL : CONNLOG_OFF;
		return 0;
	}
	if (strncmp(s, "json:", 5) != 0) {
		yerror(l->diag, yd, v, path,
		       "expected journal, off or json:/absolute/path/file.jsonl, got '%s'", s);
		return -1;
	}
	file = s + 5;
	if (file[0] != '/') {
		yerror(l->diag, yd, v, path, "the json file '%s' is not an absolute path", file);
		return -1;
	}
	if (strlen(file) >= sizeof(dir)) {
		yerror(l->diag, yd, v, path, "the json file's path is too long");
		return -1;
	}
	if (file[strlen(file) - 1] == '/' || (stat(file, &st) == 0 && S_ISDIR(st.st_mode))) {
		yerror(l->diag, yd, v, path, "the json file '%s' is a directory (expected a file)",
		       file);
		return -1;
	}
	/* The file is created when the first record is written; its directory must be
	 * there now, or every record would be lost to a typo. */
	dlen = (size_t)(strrchr(file, '/') - file);
	snprintf(dir, sizeof(dir), "%.*s", dlen ? (int)dlen : 1, file);
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			yerror(l->diag, yd, v, path, "the directory '%s' does not exist", dir);
		else
			yerror(l->diag, yd, v, path, "cannot check the directory '%s': %s", dir,
			       strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		yerror(l->diag, yd, v, path, "'%s' is not a directory", dir);
		return -1;
	}
	if (!(*path_r = strdup(file))) {
		yerror(l->diag, yd, v, path, "out of memory");
		return -1;
	}
	*mode_r = CONNLOG_JSON;
	return 0;
}
