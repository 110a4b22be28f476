/*
 * A service's fingerprint: every merged setting rendered in a fixed order, positions
 * left out. A reload keeps a running service whose fingerprint did not change, so
 * anything that changes behaviour must appear here. Strings are length-prefixed so that
 * no value can imitate a separator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpm/mpm.h"
#include "superserverd/config_int.h"

static void put_str(FILE *f, const char *tag, const char *s)
{
	if (!s)
		fprintf(f, "%s=-;", tag);
	else
		fprintf(f, "%s=%zu:%s;", tag, strlen(s), s);
}

static void put_num(FILE *f, const char *tag, unsigned long long v)
{
	fprintf(f, "%s=%llu;", tag, v);
}

/* Exact (hexadecimal) so that any change of a rate, however small, shows. */
static void put_double(FILE *f, const char *tag, double v)
{
	fprintf(f, "%s=%a;", tag, v);
}

static void put_cidrs(FILE *f, const char *tag, const struct cidr *list, size_t n)
{
	char buf[64];

	for (size_t i = 0; i < n; i++) {
		cidr_format(&list[i], buf, sizeof(buf));
		put_str(f, tag, buf);
	}
}

/* A banner by its path and content: a reload after the file changed is a change. The
 * content goes in as a hash, as it may hold any byte (a NUL would end the rendering). */
static void put_banner(FILE *f, const char *tag, const struct banner_conf *b)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < b->len; i++)
		h = (h ^ (unsigned char)b->data[i]) * 1099511628211ull;
	put_str(f, tag, b->path);
	fprintf(f, "%s_data=%zu:%016llx;", tag, b->len, (unsigned long long)h);
}

static void put_tls_file(FILE *f, const char *tag, const struct tls_file_conf *fc)
{
	put_str(f, tag, fc->path);
}

/* The settings, and the digest of the files as read: a reload after a certificate was
 * renewed (the same paths) is a change, so new processes get the new certificate. */
static void put_tls(FILE *f, const struct listen_conf *lc)
{
	const struct tls_conf *tc = lc->tls_conf;
	char digest[65];

	put_num(f, "tls", tc != NULL);
	if (!tc)
		return;
	put_tls_file(f, "cert", &tc->certificate);
	put_tls_file(f, "key", &tc->key);
	put_tls_file(f, "chain", &tc->chain);
	put_tls_file(f, "client_ca", &tc->client_ca);
	put_num(f, "verify", tc->verify_client);
	put_num(f, "protocols", tc->protocols);
	put_str(f, "ciphers", tc->ciphers);
	put_str(f, "suites", tc->ciphersuites);
	for (size_t i = 0; i < tc->n_alpn; i++)
		put_str(f, "alpn", tc->alpn[i]);
	put_num(f, "handshake", tc->handshake_timeout_usec);
	for (size_t i = 0; i < tc->n_sni; i++) {
		for (size_t k = 0; k < tc->sni[i].n_names; k++)
			put_str(f, "sni", tc->sni[i].names[k]);
		put_tls_file(f, "sni_cert", &tc->sni[i].certificate);
		put_tls_file(f, "sni_key", &tc->sni[i].key);
		put_tls_file(f, "sni_chain", &tc->sni[i].chain);
	}
	if (lc->tls) {
		tls_server_digest(lc->tls, digest);
		put_str(f, "tls_files", digest);
	}
}

static void put_listen(FILE *f, const struct listen_conf *lc)
{
	put_str(f, "listen", lc->addr.key);
	put_num(f, "backlog", (unsigned long long)lc->backlog);
	put_num(f, "reuseport", lc->reuseport);
	put_num(f, "rcvbuf", (unsigned long long)lc->receive_buffer);
	put_num(f, "sndbuf", (unsigned long long)lc->send_buffer);
	put_num(f, "nodelay", lc->nodelay);
	put_num(f, "keepalive", lc->keepalive);
	if (lc->has_mode)
		put_num(f, "mode", lc->mode);
	if (lc->has_owner)
		put_num(f, "owner", lc->owner);
	if (lc->has_group)
		put_num(f, "sgroup", lc->group);
	put_num(f, "proxy", lc->proxy_protocol);
	put_cidrs(f, "trusted", lc->trusted_proxies, lc->n_trusted_proxies);
	put_num(f, "proxy_timeout", lc->proxy_timeout_usec);
	put_tls(f, lc);
}

static void put_limits(FILE *f, const struct limits_conf *lim)
{
	put_num(f, "idle", lim->idle_timeout_usec);
	put_num(f, "idle_default", lim->idle_timeout_default);
	put_num(f, "maxdur", lim->max_duration_usec);
	put_num(f, "maxconn", lim->max_connections);
	put_num(f, "overload", lim->overload);
	put_str(f, "banner", lim->banner);
	put_num(f, "per_source", lim->per_source_max);
	put_num(f, "v4prefix", lim->ipv4_prefix);
	put_num(f, "v6prefix", lim->ipv6_prefix);
	put_double(f, "rate", lim->rate);
	put_double(f, "burst", lim->burst);
	put_double(f, "ps_rate", lim->per_source_rate);
	put_double(f, "ps_burst", lim->per_source_burst);
	put_num(f, "dgram_reply", lim->datagram_reply_max);
}

static void put_access(FILE *f, const struct access_conf *a)
{
	put_cidrs(f, "allow", a->allow, a->n_allow);
	put_cidrs(f, "deny", a->deny, a->n_deny);
	for (size_t i = 0; i < a->n_allow_uids; i++)
		put_num(f, "allow_uid", a->allow_uids[i]);
	for (size_t i = 0; i < a->n_allow_gids; i++)
		put_num(f, "allow_gid", a->allow_gids[i]);
}

static void put_mpm(FILE *f, const struct mpm_conf *m)
{
	const unsigned char *o = m->options;

	put_str(f, "mpm", m->ops ? m->ops->name : NULL);
	if (!m->ops || !o)
		return;
	for (size_t i = 0; i < m->ops->n_options; i++) {
		const struct mpm_option *opt = &m->ops->options[i];
		uint64_t v = 0;
		bool b;

		if (opt->type == MPM_OPT_BOOL) {
			memcpy(&b, o + opt->offset, sizeof(b));
			v = b;
		} else {
			memcpy(&v, o + opt->offset, sizeof(v));
		}
		put_str(f, "opt", opt->key);
		put_num(f, "v", (unsigned long long)v);
	}
}

char *config_fingerprint(const struct service_conf *sc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	put_str(f, "name", sc->name);
	for (size_t i = 0; i < sc->n_listen; i++)
		put_listen(f, &sc->listen[i]);
	put_num(f, "kind", sc->kind);
	put_str(f, "builtin", sc->builtin);
	if (sc->exec_argv)
		for (char **a = sc->exec_argv; *a; a++)
			put_str(f, "argv", *a);
	put_str(f, "module", sc->module_path);
	for (size_t i = 0; i < sc->n_args; i++) {
		put_str(f, "arg", sc->args[i].key);
		put_str(f, "val", sc->args[i].value);
	}
	put_mpm(f, &sc->mpm);
	put_num(f, "explicit", sc->user_explicit);
	put_str(f, "user", sc->user);
	put_num(f, "uid", sc->uid);
	put_str(f, "group", sc->group);
	put_num(f, "gid", sc->gid);
	for (size_t i = 0; i < sc->n_groups; i++)
		put_num(f, "groups", sc->groups[i]);
	put_num(f, "caps", sc->capabilities);
	for (size_t i = 0; i < sc->n_environment; i++) {
		put_str(f, "env", sc->environment[i].key);
		put_str(f, "val", sc->environment[i].value);
	}
	for (size_t i = 0; i < sc->n_pass_environment; i++)
		put_str(f, "pass", sc->pass_environment[i]);
	if (sc->has_umask)
		put_num(f, "umask", sc->umask);
	if (sc->has_nice)
		fprintf(f, "nice=%d;", sc->nice);
	for (int i = 0; i < RLIM_COUNT; i++)
		if (sc->rlimits[i].set)
			fprintf(f, "rlimit%d=%llu/%llu;", i,
			        (unsigned long long)sc->rlimits[i].value.rlim_cur,
			        (unsigned long long)sc->rlimits[i].value.rlim_max);
	put_num(f, "shutdown", sc->shutdown_timeout_usec);
	put_limits(f, &sc->limits);
	put_access(f, &sc->access);
	for (int k = 0; k < BANNER_COUNT; k++)
		put_banner(f, config_banner_keys[k], &sc->banners[k]);
	put_num(f, "connlog", sc->connlog);
	put_str(f, "connlog_path", sc->connlog_path);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
