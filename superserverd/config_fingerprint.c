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

static void put_listen(FILE *f, const struct listen_conf *lc)
{
	put_str(f, "listen", lc->addr.key);
	put_num(f, "backlog", (unsigned long long)lc->backlog);
	put_num(f, "reuseport", lc->reuseport);
	put_num(f, "nodelay", lc->nodelay);
	put_num(f, "keepalive", lc->keepalive);
	if (lc->has_mode)
		put_num(f, "mode", lc->mode);
	if (lc->has_owner)
		put_num(f, "owner", lc->owner);
	if (lc->has_group)
		put_num(f, "sgroup", lc->group);
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
	put_num(f, "idle", sc->limits.idle_timeout_usec);
	put_num(f, "maxdur", sc->limits.max_duration_usec);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
