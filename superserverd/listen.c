/*
 * Listening sockets: binding (inet, inet6, unix; stream and datagram), inheriting from
 * systemd, socket options, and reference counting across configuration generations.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "superserverd/fdstore.h"
#include "superserverd/listen.h"
#include "superserverd/listenfds.h"
#include "superserverd/log.h"

struct listener {
	struct listener *next;
	char key[sizeof(((struct addr *)0)->key)];
	int fd;
	int socktype; /* SOCK_STREAM or SOCK_DGRAM, once bound, adopted or checked */
	unsigned refs;
	bool inherited; /* from a .socket unit: systemd owns it, we never close it for good */
	bool used;      /* an inherited socket some service has taken at least once */
	/* Ours, but bound by an earlier process (fd store or upgrade): treated like a
	 * socket we bound, once a service takes it. */
	bool adopted;
	bool stored; /* handed to systemd's fd store under store_name */
	char store_name[FDSTORE_NAME_MAX + 1];
	/* SO_RCVBUF and SO_SNDBUF as the socket had them before we set any (0: not
	 * known, the system's default then), and whether we set them: a reload that
	 * drops receive_buffer or send_buffer puts the default back. */
	int buf_default[2];
	bool buf_set[2];
	/* unix sockets we bound: remove the file on close, if it is still ours */
	char *unix_path;
	dev_t unix_dev;
	ino_t unix_ino;
};

struct listen_table {
	struct listener *head;
	int control_fd; /* the control socket of an earlier process, or -1 */
	/* Another process goes on with these sockets (upgrade): at exit, leave their unix
	 * socket files in place. */
	bool keep_files;
	/* The daemon is stopping: sockets are released because we exit, not because the
	 * configuration dropped them, so systemd keeps the stored ones for the next start. */
	bool exiting;
};

struct listen_table *listen_table_new(void)
{
	struct listen_table *lt = calloc(1, sizeof(struct listen_table));
	if (lt)
		lt->control_fd = -1;
	return lt;
}

/* FOREVER: the socket is gone for good (not configured any more), so its file goes
 * and systemd must not give it back; otherwise another process carries on with it. */
static void listener_close(struct listener *l, bool forever)
{
	struct stat st;

	if (forever && l->stored)
		fdstore_remove(l->store_name);
	if (forever && l->unix_path && stat(l->unix_path, &st) == 0 && st.st_dev == l->unix_dev &&
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
		/* A stored socket lives on in systemd for the next start: keep its file. */
		listener_close(l, !lt->keep_files && !l->stored);
	}
	if (lt->control_fd >= 0)
		close(lt->control_fd);
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

/* A unix socket file we created in an earlier life: remember it so that it is
 * removed when the configuration drops the socket, as if we had bound it now. */
static void adopt_unix_path(struct listener *l)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	struct stat st;

	if (getsockname(l->fd, (struct sockaddr *)&sun, &len) < 0 || sun.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sun.sun_path[0] == '\0')
		return;
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	if (stat(sun.sun_path, &st) < 0 || !(l->unix_path = strdup(sun.sun_path)))
		return;
	l->unix_dev = st.st_dev;
	l->unix_ino = st.st_ino;
}

int listen_table_inherit(struct listen_table *lt)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "unknown";
		/* sd_listen_fds already set FD_CLOEXEC. */
		if (strcmp(name, FDSTORE_CONTROL) == 0 && lt->control_fd < 0) {
			lt->control_fd = fd;
			continue;
		}
		struct listener *l = calloc(1, sizeof(*l));
		if (!l) {
			close(fd);
			continue;
		}
		l->fd = fd;
		if (fdstore_name_decode(name, l->key, sizeof(l->key)) == 0) {
			/* One of ours from before a restart or an upgrade. */
			l->adopted = true;
			l->stored = fdstore_available();
			snprintf(l->store_name, sizeof(l->store_name), "%s", name);
			adopt_unix_path(l);
		} else {
			snprintf(l->key, sizeof(l->key), "systemd:%s", name);
			l->inherited = true;
		}
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
			listener_close(l, false);
			continue;
		}
		p = &l->next;
	}
	/* During an upgrade the old process serves them until the handover: they are
	 * closed for good (file, fd store) only once we have taken over. */
	if (!lt->keep_files)
		listen_table_drop_adopted(lt, NULL, NULL);
}

void listen_table_drop_adopted(struct listen_table *lt, bool (*wanted)(const char *key, void *ud),
                               void *ud)
{
	struct listener **p = &lt->head;
	while (*p) {
		struct listener *l = *p;
		if (l->adopted && l->refs == 0 && (!wanted || !wanted(l->key, ud))) {
			/* Before any bind: the same port on another address (127.0.0.1:P ->
			 * 0.0.0.0:P) cannot be bound while this one listens. */
			log_notice(NULL,
			           "socket %s from the previous process is no longer configured: "
			           "closing it",
			           l->key);
			*p = l->next;
			listener_close(l, true);
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

/* A socket file is stale when nothing accepts (or receives) on it any more. */
static int remove_stale_unix(const struct sockaddr_un *sun, socklen_t len, int socktype, char *err,
                             size_t errlen)
{
	struct stat st;
	int fd, r;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "unix:%s exists and is not a socket", sun->sun_path);
		return -EEXIST;
	}
	/* A datagram socket "connects" to a path some process has bound. */
	fd = socket(AF_UNIX, socktype | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sun, len);
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "%s:%s: another process is listening on it",
		         socktype == SOCK_DGRAM ? "unixgram" : "unix", sun->sun_path);
		return -EADDRINUSE;
	}
	if (errno == EPROTOTYPE) {
		snprintf(err, errlen, "%s: a socket of the other type (%s) is bound there",
		         sun->sun_path, socktype == SOCK_DGRAM ? "stream" : "datagram");
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED && errno != ENOENT)
		return 0; /* let bind report it */
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int listen_remove_stale_unix(const struct sockaddr_un *sun, socklen_t len, char *err, size_t errlen)
{
	return remove_stale_unix(sun, len, SOCK_STREAM, err, errlen);
}

static const int buf_opts[2] = {SO_RCVBUF, SO_SNDBUF};

/* What a socket gets without SO_RCVBUF or SO_SNDBUF (index 0 or 1), halved as the
 * option wants it (the kernel doubles what it is given). */
static int buf_default(const struct listener *l, int which)
{
	static const char *const files[2] = {"/proc/sys/net/core/rmem_default",
	                                     "/proc/sys/net/core/wmem_default"};
	int v = 0;

	if (l->buf_default[which])
		return l->buf_default[which] / 2;
	FILE *f = fopen(files[which], "re");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v > 0 ? v / 2 : 0;
}

/* Remembers the socket's buffer sizes before any option touches them. */
static void note_buf_defaults(struct listener *l)
{
	for (int i = 0; i < 2; i++) {
		int v = 0;
		socklen_t len = sizeof(v);
		if (getsockopt(l->fd, SOL_SOCKET, buf_opts[i], &v, &len) == 0)
			l->buf_default[i] = v;
	}
}

/* FAMILY and SOCKTYPE are the socket's own: a systemd: address knows neither. */
static int apply_options(struct listener *l, int family, int socktype, const struct listen_conf *lc)
{
	const int want[2] = {lc->receive_buffer, lc->send_buffer};

	if ((family == AF_INET || family == AF_INET6) && socktype == SOCK_STREAM) {
		if (set_int_opt(l->fd, IPPROTO_TCP, TCP_NODELAY, lc->nodelay) < 0 ||
		    set_int_opt(l->fd, SOL_SOCKET, SO_KEEPALIVE, lc->keepalive) < 0)
			return -errno;
	}
	for (int i = 0; i < 2; i++) {
		int v = want[i] ? want[i] : l->buf_set[i] ? buf_default(l, i) : 0;
		if (!v)
			continue;
		if (set_int_opt(l->fd, SOL_SOCKET, buf_opts[i], v) < 0)
			return -errno;
		l->buf_set[i] = want[i] != 0;
	}
	return 0;
}

/* Options that may have changed in a reload; the address and type have not. The
 * socket is made non-blocking again: a program it was handed to (wait, exec +
 * prefork) may have left the shared file description blocking, and the next model
 * to poll it must never block in accept or recv. */
static int reapply(struct listener *l, const struct listen_conf *lc)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r;

	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0 ||
	    apply_options(l, ss.ss_family, l->socktype, lc) < 0)
		return -1;
	if ((r = listenfds_set_blocking(l->fd, false)) < 0) {
		errno = -r;
		return -1;
	}
	return l->socktype == SOCK_STREAM ? listen(l->fd, lc->backlog) : 0;
}

static int bind_new(const struct listen_conf *lc, struct listener *l, char *err, size_t errlen)
{
	const struct addr *a = &lc->addr;
	int family = a->sa.ss_family;
	int fd, r;

	fd = socket(family, a->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
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
		r = remove_stale_unix((const struct sockaddr_un *)&a->sa, a->salen, a->socktype,
		                      err, errlen);
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
	l->fd = fd;
	note_buf_defaults(l);
	if (apply_options(l, family, a->socktype, lc) < 0 ||
	    (a->socktype == SOCK_STREAM && listen(fd, lc->backlog) < 0)) {
		snprintf(err, errlen, "cannot listen on %s: %s", a->key, strerror(errno));
		goto fail;
	}
	l->socktype = a->socktype;
	return 0;
fail:
	if (l->unix_path) {
		unlink(l->unix_path);
		free(l->unix_path);
		l->unix_path = NULL;
	}
	close(fd);
	l->fd = -1;
	return -1;
}

/* The name the socket travels under, to systemd's fd store or to an upgrade's new
 * process: the same for both, so either can adopt it. */
static int store_name(struct listener *l)
{
	if (l->store_name[0])
		return 0;
	return fdstore_name_encode(l->key, l->store_name, sizeof(l->store_name));
}

/* Hands a socket we own to systemd so it outlives this process. */
static void store(struct listener *l)
{
	if (l->stored || !fdstore_available())
		return;
	if (store_name(l) < 0) {
		log_notice(NULL,
		           "%s: address too long for systemd's fd store: a restart will "
		           "close and rebind it",
		           l->key);
		return;
	}
	if (fdstore_push(l->fd, l->store_name) > 0)
		l->stored = true;
}

static int adopt_check(struct listener *l, const struct listen_conf *lc, char *err, size_t errlen)
{
	bool stream = lc->addr.socktype == SOCK_STREAM;

	if (sd_is_socket(l->fd, lc->addr.sa.ss_family, lc->addr.socktype, stream ? 1 : -1) <= 0) {
		snprintf(err, errlen,
		         "%s: the socket from the previous process is not a %s socket of that "
		         "family",
		         lc->addr.key, stream ? "listening stream" : "datagram");
		return -1;
	}
	l->socktype = lc->addr.socktype;
	int r = listenfds_set_blocking(l->fd, false);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", lc->addr.key, strerror(-r));
		return -1;
	}
	/* The configuration may have changed mode or owner since the socket was bound. */
	if (lc->addr.sa.ss_family == AF_UNIX && l->unix_path &&
	    ((lc->has_mode && chmod(l->unix_path, lc->mode) < 0) ||
	     ((lc->has_owner || lc->has_group) &&
	      chown(l->unix_path, lc->has_owner ? lc->owner : (uid_t)-1,
	            lc->has_group ? lc->group : (gid_t)-1) < 0))) {
		snprintf(err, errlen, "%s: cannot set mode/owner: %s", lc->addr.key,
		         strerror(errno));
		return -1;
	}
	l->stored = false; /* store it again: harmless if systemd has it, needed if not */
	store(l);
	return 0;
}

/* A unix socket from the previous process whose file is gone (deleted by hand, or
 * replaced by something else) reaches nobody: bind a new one instead. */
static bool adopted_unix_lost(const struct listener *l, const struct listen_conf *lc)
{
	struct stat st;

	if (lc->addr.sa.ss_family != AF_UNIX)
		return false;
	return !l->unix_path || stat(l->unix_path, &st) < 0 || !S_ISSOCK(st.st_mode);
}

struct listener *listen_acquire(struct listen_table *lt, const struct listen_conf *lc, char *err,
                                size_t errlen)
{
	struct listener *l = find(lt, lc->addr.key);

	err[0] = '\0';
	if (l && l->adopted && l->refs == 0 && !lt->keep_files && adopted_unix_lost(l, lc)) {
		log_notice(NULL,
		           "%s: the socket file of the previous process is gone: binding a "
		           "new socket",
		           l->key);
		unlink_listener(lt, l);
		listener_close(l, true);
		l = NULL;
	}
	if (l) {
		if (l->inherited) {
			if (sd_is_socket(l->fd, AF_UNSPEC, SOCK_STREAM, 1) > 0)
				l->socktype = SOCK_STREAM;
			else if (sd_is_socket(l->fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0)
				l->socktype = SOCK_DGRAM;
			else {
				snprintf(err, errlen,
				         "%s: the inherited socket is neither a listening stream "
				         "socket nor a datagram socket (ListenStream= or "
				         "ListenDatagram=)",
				         lc->addr.key);
				return NULL;
			}
			int r = listenfds_set_blocking(l->fd, false);
			if (r < 0) {
				snprintf(err, errlen, "%s: %s", lc->addr.key, strerror(-r));
				return NULL;
			}
			l->used = true;
		} else {
			if (l->adopted && l->refs == 0 && adopt_check(l, lc, err, errlen) < 0)
				return NULL;
			if (reapply(l, lc) < 0) {
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
	store(l);
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
	if (lt->keep_files)
		listener_close(l, false);
	else if (lt->exiting)
		listener_close(l, !l->stored);
	else
		listener_close(l, true);
}

void listen_table_exiting(struct listen_table *lt)
{
	lt->exiting = true;
}

void listen_table_store_all(struct listen_table *lt)
{
	for (struct listener *l = lt->head; l; l = l->next)
		if (!l->inherited) {
			l->stored = false;
			store(l);
		}
}

void listen_table_keep_files(struct listen_table *lt, bool keep)
{
	lt->keep_files = keep;
}

int listen_table_take_control(struct listen_table *lt)
{
	int fd = lt->control_fd;
	lt->control_fd = -1;
	return fd;
}

int listen_table_handover(struct listen_table *lt, int **fds_r, const char ***names_r, size_t *n_r,
                          char *err, size_t errlen)
{
	size_t n = 0, cap = 1; /* + the caller's control socket */
	int *fds;
	const char **names;

	for (struct listener *l = lt->head; l; l = l->next)
		cap++;
	fds = calloc(cap, sizeof(*fds));
	names = calloc(cap, sizeof(*names));
	if (!fds || !names) {
		free(fds);
		free(names);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (struct listener *l = lt->head; l; l = l->next) {
		if (l->inherited) {
			fds[n] = l->fd;
			names[n++] = l->key + strlen("systemd:");
			continue;
		}
		/* The old process keeps listening until the handover, so the new one could
		 * not bind the address itself: every socket must travel. */
		if (store_name(l) < 0) {
			snprintf(
			        err, errlen,
			        "%s: the address is too long to be passed by name (systemd's limit "
			        "of %d bytes): restart instead",
			        l->key, FDSTORE_NAME_MAX);
			free(fds);
			free(names);
			return -ENAMETOOLONG;
		}
		fds[n] = l->fd;
		names[n++] = l->store_name;
	}
	*fds_r = fds;
	*names_r = names;
	*n_r = n;
	return 0;
}

int listener_fd(const struct listener *l)
{
	return l->fd;
}

int listener_socktype(const struct listener *l)
{
	return l->socktype;
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
