/*
 * xinetd's banners (`banner`, `banner_success`, `banner_fail`): files read whole when
 * the configuration is loaded, so a reload picks up an edited file and a file that
 * became unreadable fails the reload instead of a connection. Services keep the bytes;
 * mpm/admit.c sends them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mpm/mpm.h"
#include "superserverd/config_int.h"

const char *const config_banner_keys[BANNER_COUNT] = {"banner", "banner_success", "banner_fail"};

void config_banner_free(struct banner_conf *b)
{
	free(b->path);
	free(b->data);
	b->path = b->data = NULL;
	b->len = 0;
}

/* PATH's bytes into B->data. Returns 0, or -1 after reporting at V. */
static int read_banner(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *kpath,
                       const char *path, struct banner_conf *b)
{
	/* O_NONBLOCK: a FIFO put in the file's place must not hang the load. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), r = -1;
	char *buf = NULL;
	size_t got = 0;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		yerror(l->diag, yd, v, kpath, "cannot read the banner file '%s': %s", path,
		       strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		yerror(l->diag, yd, v, kpath, "the banner file '%s' is not a regular file", path);
		goto out;
	}
	/* One byte more than allowed, so that a file that grew since fstat shows. */
	if (st.st_size > CONFIG_BANNER_MAX || !(buf = malloc(CONFIG_BANNER_MAX + 1))) {
		if (st.st_size > CONFIG_BANNER_MAX)
			yerror(l->diag, yd, v, kpath,
			       "the banner file '%s' is %lld bytes (at most %d)", path,
			       (long long)st.st_size, CONFIG_BANNER_MAX);
		else
			yerror(l->diag, yd, v, kpath, "out of memory");
		goto out;
	}
	while (got <= CONFIG_BANNER_MAX) {
		ssize_t n = read(fd, buf + got, CONFIG_BANNER_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			yerror(l->diag, yd, v, kpath, "cannot read the banner file '%s': %s", path,
			       strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > CONFIG_BANNER_MAX) {
		yerror(l->diag, yd, v, kpath, "the banner file '%s' is more than %d bytes", path,
		       CONFIG_BANNER_MAX);
		goto out;
	}
	if (got) {
		char *shrunk = realloc(buf, got);
		b->data = shrunk ? shrunk : buf;
		buf = NULL;
	}
	b->len = got;
	r = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

void config_banner_parse(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                         enum banner_kind kind, struct svc_part *p)
{
	struct field *f = &p->f_banner_file[kind];
	struct banner_conf *b = &p->banner_file[kind];
	const char *s;

	f->st = FIELD_BAD;
	f->pos = ypos(yd, v);
	config_banner_free(b);
	if (!(s = ystring(yd, v, path, l->diag)))
		return;
	/* "" is no banner: it lets a service drop the one its defaults give. */
	if (*s && s[0] != '/') {
		yerror(l->diag, yd, v, path, "expected an absolute path, got '%s'", s);
		return;
	}
	if (*s && !(b->path = strdup(s))) {
		yerror(l->diag, yd, v, path, "out of memory");
		return;
	}
	if (*s && read_banner(l, yd, v, path, s, b) < 0) {
		config_banner_free(b);
		return;
	}
	b->pos = f->pos;
	f->st = FIELD_SET;
}

static int copy_banner(struct banner_conf *to, const struct banner_conf *from)
{
	*to = (struct banner_conf){.len = from->len, .pos = from->pos};
	if (!from->path)
		return 0;
	to->path = strdup(from->path);
	to->data = from->len ? malloc(from->len) : NULL;
	if (!to->path || (from->len && !to->data)) {
		config_banner_free(to);
		return -1;
	}
	if (from->len)
		memcpy(to->data, from->data, from->len);
	return 0;
}

static void add_banner(const struct service_conf *sc, enum banner_kind kind, struct iovec *iov,
                       int *n)
{
	const struct banner_conf *b = &sc->banners[kind];

	if (b->len)
		iov[(*n)++] = (struct iovec){b->data, b->len};
}

int config_refusal_iov(const struct service_conf *sc, bool access, struct iovec iov[3])
{
	int n = 0;

	add_banner(sc, BANNER_CONNECT, iov, &n);
	if (sc->banners[BANNER_FAIL].path) {
		add_banner(sc, BANNER_FAIL, iov, &n);
	} else if (sc->limits.banner && !access) {
		iov[n++] = (struct iovec){sc->limits.banner, strlen(sc->limits.banner)};
		iov[n++] = (struct iovec){(void *)"\r\n", 2};
	}
	return n;
}

int config_greeting_iov(const struct service_conf *sc, struct iovec iov[2])
{
	int n = 0;

	add_banner(sc, BANNER_CONNECT, iov, &n);
	add_banner(sc, BANNER_SUCCESS, iov, &n);
	return n;
}

/* The first banner SC has (its key), or NULL. */
static const struct banner_conf *first_banner(const struct service_conf *sc, const char **key_r)
{
	for (int k = 0; k < BANNER_COUNT; k++)
		if (sc->banners[k].path) {
			*key_r = config_banner_keys[k];
			return &sc->banners[k];
		}
	return NULL;
}

void config_banner_merge(struct loader *l, struct service_conf *sc, const struct svc_part *own)
{
	for (int k = 0; k < BANNER_COUNT; k++) {
		const struct svc_part *p =
		        own->f_banner_file[k].st != FIELD_UNSET ? own : &l->defaults;

		if (p->f_banner_file[k].st != FIELD_SET)
			continue;
		if (copy_banner(&sc->banners[k], &p->banner_file[k]) < 0)
			diag_error(l->diag, &sc->pos, "service '%s': out of memory", sc->name);
	}
}

void config_banner_check(struct loader *l, const struct service_conf *sc)
{
	const char *key = NULL;
	const struct banner_conf *b = first_banner(sc, &key);
	char models[128];

	if (!b || sc->kind != HANDLER_EXEC || (sc->mpm.ops->flags & MPM_PROXY_EXEC))
		return;
	mpm_names_with_flag(MPM_PROXY_EXEC, models, sizeof(models));
	diag_error(l->diag, &b->pos,
	           "service '%s': %s cannot be sent under model '%s' with a program (exec): the "
	           "program accepts the connections itself, so superserverd never sees a client "
	           "(models that can: %s)",
	           sc->name, key, sc->mpm.ops->name, models);
}

int config_banner_dgram_refused(const struct service_conf *sc, const struct listen_conf *lc,
                                struct diag *diag)
{
	const char *key = NULL;
	const struct banner_conf *b = first_banner(sc, &key);

	if (!b)
		return 0;
	diag_error(diag, &lc->pos,
	           "service '%s': %s is a datagram socket, and %s is sent on connections (a "
	           "service with banners listens on stream sockets only)",
	           sc->name, lc->addr.key, key);
	return -1;
}
