/*
 * Listening sockets: binding (inet, inet6, unix), inheriting from systemd, socket
 * options, and reference counting across configuration generations.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "superserverd/listen.h"
#include "superserverd/log.h"

struct listener {
	struct listener *next;
	char key[sizeof(((struct addr *)0)->key)];
	int fd;
	unsigned refs;
	bool inherited;
	bool used; /* an inherited socket some service has taken at least once */
	/* unix sockets we bound: remove the file on close, if it is still ours */
	char *unix_path;
	dev_t unix_dev;
	ino_t unix_ino;
};

struct listen_table {
	struct listener *head;
};

struct listen_table *listen_table_new(void)
{
	return calloc(1, sizeof(struct listen_table));
}

static void listener_close(struct listener *l)
{
	struct stat st;

	if (l->unix_path && stat(l->unix_path, &st) == 0 && st.st_dev == l->unix_dev &&
	    st.st_ino == l->unix_ino)
		unlink(l->unix_path);
	if (l->fd >= 0)
		close(l->fd);
	free(l->unix_path);
	free(l);
}

void listen_table_free(struct listen_table *lt)
{
	if (!lt)
		return;
	while (lt->head) {
		struct listener *l = lt->head;
		lt->head = l->next;
		listener_close(l);
	}
	free(lt);
}

static void unlink_listener(struct listen_table *lt, struct listener *l)
{
	for (struct listener **p = &lt->head; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			return;
		}
}

int listen_table_inherit(struct listen_table *lt)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct listener *l = calloc(1, sizeof(*l));
		if (!l) {
			close(fd);
			continue;
		}
		/* sd_listen_fds already set FD_CLOEXEC. */
		snprintf(l->key, sizeof(l->key), "systemd:%s",
		         names && names[i] ? names[i] : "unknown");
		l->fd = fd;
		l->inherited = true;
		l->next = lt->head;
		lt->head = l;
	}
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	return n;
}

void listen_table_close_unused(struct listen_table *lt)
{
	struct listener **p = &lt->head;
	while (*p) {
		struct listener *l = *p;
		if (l->inherited && !l->used) {
			log_notice(NULL,
			           "inherited socket %s (fd %d) is not used by any service: "
			           "closing it",
			           l->key, l->fd);
			*p = l->next;
			listener_close(l);
			continue;
		}
		p = &l->next;
	}
}

static struct listener *find(struct listen_table *lt, const char *key)
{
	for (struct listener *l = lt->head; l; l = l->next)
		if (strcmp(l->key, key) == 0)
			return l;
	return NULL;
}

static int set_int_opt(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val));
}

/* A socket file is stale when nothing accepts on it any more. */
int listen_remove_stale_unix(const struct sockaddr_un *sun, socklen_t len, char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "unix:%s exists and is not a socket", sun->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sun, len);
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "unix:%s: another process is listening on it", sun->sun_path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED && errno != ENOENT)
		return 0; /* let bind report it */
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int apply_options(int fd, const struct listen_conf *lc)
{
	int family = lc->addr.sa.ss_family;

	if (family == AF_INET || family == AF_INET6) {
		if (set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, lc->nodelay) < 0 ||
		    set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, lc->keepalive) < 0)
			return -errno;
	}
	return 0;
}

static int bind_new(const struct listen_conf *lc, struct listener *l, char *err, size_t errlen)
{
	const struct addr *a = &lc->addr;
	int family = a->sa.ss_family;
	int fd, r;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", a->key, strerror(errno));
		return -1;
	}
	if (family == AF_INET || family == AF_INET6) {
		if (set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0 ||
		    (lc->reuseport && set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0) ||
		    (family == AF_INET6 && set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0)) {
			snprintf(err, errlen, "%s: setsockopt: %s", a->key, strerror(errno));
			goto fail;
		}
	} else if (family == AF_UNIX) {
		r = listen_remove_stale_unix((const struct sockaddr_un *)&a->sa, a->salen, err,
		                             errlen);
		if (r < 0) {
			if (!err[0])
				snprintf(err, errlen, "%s: %s", a->key, strerror(-r));
			goto fail;
		}
	}
	if (bind(fd, (const struct sockaddr *)&a->sa, a->salen) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", a->key, strerror(errno));
		goto fail;
	}
	if (family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)&a->sa)->sun_path;
		struct stat st;

		l->unix_path = strdup(path);
		if (!l->unix_path || stat(path, &st) < 0) {
			snprintf(err, errlen, "%s: %s", a->key, strerror(errno ? errno : ENOMEM));
			goto fail;
		}
		l->unix_dev = st.st_dev;
		l->unix_ino = st.st_ino;
		if ((lc->has_mode && chmod(path, lc->mode) < 0) ||
		    ((lc->has_owner || lc->has_group) &&
		     chown(path, lc->has_owner ? lc->owner : (uid_t)-1,
		           lc->has_group ? lc->group : (gid_t)-1) < 0)) {
			snprintf(err, errlen, "%s: cannot set mode/owner: %s", a->key,
			         strerror(errno));
			goto fail;
		}
	}
	if (apply_options(fd, lc) < 0 || listen(fd, lc->backlog) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", a->key, strerror(errno));
		goto fail;
	}
	l->fd = fd;
	return 0;
fail:
	if (l->unix_path) {
		unlink(l->unix_path);
		free(l->unix_path);
		l->unix_path = NULL;
	}
	close(fd);
	return -1;
}

struct listener *listen_acquire(struct listen_table *lt, const struct listen_conf *lc, char *err,
                                size_t errlen)
{
	struct listener *l = find(lt, lc->addr.key);

	err[0] = '\0';
	if (l) {
		if (l->inherited) {
			if (sd_is_socket(l->fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
				snprintf(
				        err, errlen,
				        "%s: the inherited socket is not a listening stream socket",
				        lc->addr.key);
				return NULL;
			}
			if (fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK) < 0) {
				snprintf(err, errlen, "%s: %s", lc->addr.key, strerror(errno));
				return NULL;
			}
			l->used = true;
		} else {
			/* Options may have changed in a reload; the address has not. */
			if (apply_options(l->fd, lc) < 0 || listen(l->fd, lc->backlog) < 0) {
				snprintf(err, errlen, "%s: %s", lc->addr.key, strerror(errno));
				return NULL;
			}
		}
		l->refs++;
		return l;
	}
	if (lc->addr.kind == ADDR_SYSTEMD) {
		snprintf(
		        err, errlen,
		        "%s: no socket named '%s' was passed by systemd (check FileDescriptorName= "
		        "in the .socket unit)",
		        lc->addr.key, lc->addr.name);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->fd = -1;
	snprintf(l->key, sizeof(l->key), "%s", lc->addr.key);
	if (bind_new(lc, l, err, errlen) < 0) {
		free(l);
		return NULL;
	}
	l->refs = 1;
	l->next = lt->head;
	lt->head = l;
	return l;
}

void listen_release(struct listen_table *lt, struct listener *l)
{
	if (!l || --l->refs > 0)
		return;
	/* systemd keeps its socket for us; closing our copy would lose it for good. */
	if (l->inherited)
		return;
	unlink_listener(lt, l);
	listener_close(l);
}

int listener_fd(const struct listener *l)
{
	return l->fd;
}

const char *listener_name(const struct listener *l, const char *fallback)
{
	/* The name a program sees in LISTEN_FDNAMES: systemd's, or the service's. */
	if (l->inherited && strncmp(l->key, "systemd:", 8) == 0)
		return l->key + 8;
	return fallback;
}

const char *listener_key(const struct listener *l)
{
	return l->key;
}
