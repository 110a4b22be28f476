/* The control socket server (see control.h): connections, their limits and I/O. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "superserverd/control.h"
#include "superserverd/control_int.h"
#include "superserverd/fdstore.h"
#include "superserverd/listen.h"
#include "superserverd/log.h"

/* A client that does not read its answers is dropped beyond this much pending. */
#define CONTROL_MAX_OUTPUT (1024 * 1024)
/*
 * A client's turn: at most this many requests answered and one read of its socket, so
 * one chatty client cannot hog the master. Blank lines are not requests, but they are
 * bytes of that one read: a client streaming newlines gets through at most one buffer
 * (CONTROL_MAX_REQUEST) a turn, in time linear in it, and then the others have theirs.
 */
#define CONTROL_BURST 16

struct client {
	struct control *ctl;
	struct client *next, *prev;
	int fd;
	sd_event_source *io, *timer;
	struct control_peer peer;
	struct control_refusals refused;
	char *in;
	size_t in_len;
	size_t scanned; /* bytes of in known to hold no newline */
	bool more;      /* the turn ended with requests possibly still in `in` */
	char *out;
	size_t out_off, out_len, out_cap;
	bool closing; /* answer the last words, then close */
};

struct control {
	sd_event *event;
	int fd;
	sd_event_source *io;
	char path[108];
	struct control_access access;
	const struct control_ops *ops;
	void *userdata;
	struct client *clients;
	unsigned n_clients;
	/* A refusal episode: refused connections since it began; the timer ends it after
	 * CONTROL_QUIET_USEC without a refusal. */
	bool refusing;
	unsigned long n_refused;
	sd_event_source *quiet;
	/* Another process goes on with the socket (fd store, upgrade), or still serves it
	 * (an upgrade not yet handed over): keep the file. */
	bool stored, keep_file;
};

int control_default_path(char *buf, size_t len)
{
	const char *rd = getenv("RUNTIME_DIRECTORY");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (rd && *rd) /* systemd may list several, colon-separated: take the first */
		n = snprintf(buf, len, "%.*s/control.sock", (int)strcspn(rd, ":"), rd);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/superserverd/control.sock");
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/superserverd/control.sock", xdg);
	else
		n = snprintf(buf, len, "/tmp/superserverd-%u/control.sock", (unsigned)geteuid());
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static int mkdir_parents(const char *path, mode_t mode)
{
	char tmp[108];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static void client_free(struct client *cl)
{
	struct control *ctl = cl->ctl;

	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ctl->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	ctl->n_clients--;
	control_refusals_log(&cl->refused, &cl->peer);
	sd_event_source_disable_unref(cl->io);
	sd_event_source_disable_unref(cl->timer);
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->in);
	free(cl->out);
	free(cl);
}

static void client_update_events(struct client *cl)
{
	uint32_t ev = 0;

	if (!cl->closing)
		ev |= EPOLLIN;
	/* Requests left from the last turn: the socket is writable at once unless the
	 * client does not read its answers, so this is a next turn after the others'. */
	if (cl->out_len > cl->out_off || (cl->more && !cl->closing))
		ev |= EPOLLOUT;
	if (sd_event_source_set_io_events(cl->io, ev) < 0)
		log_warning(NULL, "control: cannot update a client's events");
}

/* Queues REPLY (and drops the reference). */
static void client_send(struct client *cl, json_t *reply)
{
	size_t len;
	char *text = reply ? control_encode(reply, &len) : NULL;

	json_decref(reply);
	if (!text) {
		cl->closing = true; /* out of memory: the client gets the end, not silence */
		return;
	}
	if (cl->out_len - cl->out_off + len > CONTROL_MAX_OUTPUT) {
		log_notice(NULL, "control: client pid %d does not read its answers: dropping it",
		           (int)cl->peer.pid);
		cl->closing = true;
		cl->out_off = cl->out_len = 0;
		free(text);
		return;
	}
	if (cl->out_len + len > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		while (cap < cl->out_len + len)
			cap *= 2;
		char *p = realloc(cl->out, cap);
		if (!p) {
			free(text);
			cl->closing = true;
			return;
		}
		cl->out = p;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, text, len);
	cl->out_len += len;
	free(text);
}

/* The next line of the input after OFF (see control_next_line), without scanning again
 * the bytes an earlier call saw hold no newline: a request dribbled a byte at a time
 * costs its length, not its length squared. */
static size_t client_next_line(struct client *cl, size_t off, size_t *len)
{
	const char *p = cl->in + off;
	size_t avail = cl->in_len - off;
	const char *nl = memchr(p + cl->scanned, '\n', avail - cl->scanned);

	if (!nl) {
		cl->scanned = avail;
		return 0;
	}
	cl->scanned = 0;
	return control_next_line(p, (size_t)(nl - p) + 1, len);
}

/* Drops the first OFF bytes of the input, once per turn rather than once per line. */
static void client_consume(struct client *cl, size_t off)
{
	if (!off)
		return;
	memmove(cl->in, cl->in + off, cl->in_len - off);
	cl->in_len -= off;
}

/* One turn of CL (see CONTROL_BURST). */
static void client_read(struct client *cl)
{
	struct control *ctl = cl->ctl;
	size_t off = 0;
	int answered = 0;
	bool have_read = false;

	cl->more = false;
	while (!cl->closing) {
		size_t len, used = client_next_line(cl, off, &len);
		if (used) {
			off += used;
			if (len == 0)
				continue; /* blank: paid for by the one read of the turn */
			client_send(cl,
			            control_answer(&ctl->access, &cl->peer, ctl->ops, ctl->userdata,
			                           &cl->refused, cl->in + off - used, len));
			/* Only a whole request is a sign of life. */
			if (sd_event_source_set_time_relative(cl->timer, CONTROL_IDLE_USEC) < 0)
				log_warning(NULL, "control: cannot re-arm a client timer");
			if (++answered == CONTROL_BURST) {
				cl->more = true;
				break;
			}
			continue;
		}
		client_consume(cl, off);
		off = 0;
		/* Before the turn can end: a client that filled the buffer without a newline
		 * and then waits would otherwise get no answer until the idle timer. */
		if (cl->in_len > CONTROL_MAX_REQUEST) {
			log_notice(NULL, "control: request over %d bytes from pid %d: dropping it",
			           CONTROL_MAX_REQUEST, (int)cl->peer.pid);
			client_send(cl,
			            control_error("too-large", "request too large (limit %d bytes)",
			                          CONTROL_MAX_REQUEST));
			cl->closing = true;
			break;
		}
		if (have_read)
			break;
		ssize_t n = recv(cl->fd, cl->in + cl->in_len, CONTROL_MAX_REQUEST + 1 - cl->in_len,
		                 MSG_DONTWAIT);
		have_read = true;
		if (n == 0) {
			/* The peer is done; what it asked for is answered, nothing else to say. */
			cl->closing = true;
			break;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				cl->closing = true, cl->out_off = cl->out_len = 0;
			break;
		}
		cl->in_len += (size_t)n;
	}
	client_consume(cl, off);
}

static bool client_flush(struct client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			return false; /* gone mid-answer: nothing to do but forget it */
		}
		cl->out_off += (size_t)n;
	}
	cl->out_off = cl->out_len = 0;
	return true;
}

static int on_client_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct client *cl = userdata;
	log_info(NULL, "control: client pid %d sent no request for %llu s: closing",
	         (int)cl->peer.pid, (unsigned long long)(CONTROL_IDLE_USEC / 1000000));
	client_free(cl);
	return 0;
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *cl = userdata;

	if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) || cl->more)
		client_read(cl);
	if (!client_flush(cl) || (cl->closing && cl->out_len == cl->out_off)) {
		client_free(cl);
		return 0;
	}
	client_update_events(cl);
	return 0;
}

static void read_peer(int fd, struct control_peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	socklen_t glen = sizeof(p->groups);

	/* Unknown peers get nobody's rights: no read, no change. */
	memset(p, 0, sizeof(*p));
	p->uid = (uid_t)-2;
	p->gid = (gid_t)-2;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		p->uid = cred.uid;
		p->gid = cred.gid;
		p->pid = cred.pid;
	}
	/* More groups than fit (ERANGE): the primary group still counts. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &glen) == 0)
		p->n_groups = (int)(glen / sizeof(gid_t));
}

/* Why a new connection from PEER is turned away (into WHY), or NULL to take it. */
static const char *refusal(const struct control *ctl, const struct control_peer *peer, char *why,
                           size_t len)
{
	unsigned readers = 0, same_uid = 0;

	if (ctl->n_clients >= CONTROL_MAX_CLIENTS) {
		snprintf(why, len, "too many control clients (%d)", CONTROL_MAX_CLIENTS);
		return why;
	}
	for (const struct client *c = ctl->clients; c; c = c->next) {
		readers += !control_may_change(&ctl->access, &c->peer);
		same_uid += c->peer.uid == peer->uid;
	}
	if (!control_may_change(&ctl->access, peer) &&
	    readers >= CONTROL_MAX_CLIENTS - CONTROL_RESERVED_CLIENTS) {
		snprintf(why, len,
		         "too many control clients (the last %d of %d are kept for those who may "
		         "change things)",
		         CONTROL_RESERVED_CLIENTS, CONTROL_MAX_CLIENTS);
		return why;
	}
	if (peer->uid != 0 && peer->uid != ctl->access.daemon_uid &&
	    same_uid >= CONTROL_MAX_PER_UID) {
		snprintf(why, len, "too many control clients of uid %u (%d at most)",
		         (unsigned)peer->uid, CONTROL_MAX_PER_UID);
		return why;
	}
	return NULL;
}

static int on_quiet(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct control *ctl = userdata;

	log_notice(NULL, "control: no connection refused for %llu s; %lu refused in all",
	           (unsigned long long)(CONTROL_QUIET_USEC / 1000000), ctl->n_refused);
	ctl->refusing = false;
	return 0;
}

/* One log line per episode of refusals, however many there are: a crowd of clients
 * must not flood the journal as well. */
static void note_refusal(struct control *ctl, const struct control_peer *peer, const char *why)
{
	int r;

	if (!ctl->refusing) {
		log_warning(NULL,
		            "control: refusing connections, the first from uid %u (pid %d): %s; "
		            "the next are counted until none is for %llu s",
		            (unsigned)peer->uid, (int)peer->pid, why,
		            (unsigned long long)(CONTROL_QUIET_USEC / 1000000));
		ctl->refusing = true;
		ctl->n_refused = 0;
	}
	ctl->n_refused++;
	if (ctl->quiet)
		r = sd_event_source_set_time_relative(ctl->quiet, CONTROL_QUIET_USEC);
	else
		r = sd_event_add_time_relative(ctl->event, &ctl->quiet, CLOCK_MONOTONIC,
		                               CONTROL_QUIET_USEC, 0, on_quiet, ctl);
	if (r >= 0)
		r = sd_event_source_set_enabled(ctl->quiet, SD_EVENT_ONESHOT);
	if (r < 0)
		ctl->refusing = false; /* no end to wait for: the next refusal is logged */
}

/* The busy answer, and the end. */
static void refuse(struct control *ctl, int fd, const struct control_peer *peer, const char *why)
{
	json_t *answer = control_error("busy", "%s", why);
	size_t len;
	char *text = answer ? control_encode(answer, &len) : NULL;

	if (text && send(fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* a courtesy: a client that cannot take the line learns it from the end */
	}
	free(text);
	json_decref(answer);
	close(fd);
	note_refusal(ctl, peer, why);
}

static void take_client(struct control *ctl, int fd, const struct control_peer *peer)
{
	struct client *cl = calloc(1, sizeof(*cl));

	if (cl)
		cl->in = malloc(CONTROL_MAX_REQUEST + 1);
	if (!cl || !cl->in) {
		free(cl);
		close(fd);
		return;
	}
	cl->ctl = ctl;
	cl->fd = fd;
	cl->peer = *peer;
	cl->next = ctl->clients;
	if (ctl->clients)
		ctl->clients->prev = cl;
	ctl->clients = cl;
	ctl->n_clients++;
	if (sd_event_add_io(ctl->event, &cl->io, fd, EPOLLIN, on_client_io, cl) < 0 ||
	    sd_event_add_time_relative(ctl->event, &cl->timer, CLOCK_MONOTONIC, CONTROL_IDLE_USEC,
	                               0, on_client_timer, cl) < 0) {
		client_free(cl);
		return;
	}
	/* Supervising services comes before answering questions about them. */
	sd_event_source_set_priority(cl->io, SD_EVENT_PRIORITY_IDLE);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *ctl = userdata;
	struct control_peer peer;
	char why[160];

	for (int i = 0; i < CONTROL_BURST; i++) {
		int cfd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning(NULL, "control: accept: %s", strerror(errno));
			return 0;
		}
		read_peer(cfd, &peer);
		if (refusal(ctl, &peer, why, sizeof(why)))
			refuse(ctl, cfd, &peer, why);
		else
			take_client(ctl, cfd, &peer);
	}
	return 0;
}

/* The control socket a previous process passed, if it is still the one at PATH. */
static bool adoptable(int fd, const char *path)
{
	struct stat st;

	/* Bound to PATH, and the file is still there for clients to find. */
	return fd >= 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, path, 0) > 0 &&
	       stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int control_open(sd_event *event, const char *path, int inherited_fd,
                 const struct control_access *access, const struct control_ops *ops, void *userdata,
                 struct control **ctl_r, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct control *ctl;
	int r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->fd = -1;
	ctl->event = event;
	ctl->access = *access;
	ctl->ops = ops;
	ctl->userdata = userdata;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);

	if (adoptable(inherited_fd, path)) {
		/* Clients of the previous process queued here: keep them. */
		ctl->fd = inherited_fd;
		inherited_fd = -1;
		ctl->keep_file = true; /* the previous process's, until the caller says */
		if (fcntl(ctl->fd, F_SETFL, fcntl(ctl->fd, F_GETFL) | O_NONBLOCK) < 0) {
			r = -errno;
			snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
			goto fail;
		}
		goto bound;
	}
	if (inherited_fd >= 0) {
		log_notice(NULL,
		           "control: the passed control socket is not %s any more: "
		           "binding a new one",
		           path);
		close(inherited_fd);
		inherited_fd = -1;
	}
	r = mkdir_parents(path, 0755);
	if (r < 0) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(-r));
		goto fail;
	}
	r = listen_remove_stale_unix(&sun, sizeof(sun), err, errlen);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
		goto fail;
	}
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0 || bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot bind the control socket %s: %s", path,
		         strerror(errno));
		goto fail;
	}
bound:;
	gid_t g = access->has_read_gid ? access->read_gid : access->admin_gid;
	if (chmod(path, 0660) < 0 ||
	    ((access->has_read_gid || access->has_admin_gid) && chown(path, (uid_t)-1, g) < 0) ||
	    listen(ctl->fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot set up the control socket %s: %s", path,
		         strerror(errno));
		goto fail;
	}
	r = sd_event_add_io(event, &ctl->io, ctl->fd, EPOLLIN, on_accept, ctl);
	if (r < 0) {
		snprintf(err, errlen, "cannot watch the control socket: %s", strerror(-r));
		goto fail;
	}
	sd_event_source_set_priority(ctl->io, SD_EVENT_PRIORITY_IDLE);
	control_store(ctl);
	*ctl_r = ctl;
	return 0;
fail:
	if (inherited_fd >= 0)
		close(inherited_fd);
	control_free(ctl);
	return r < 0 ? r : -EIO;
}

void control_set_access(struct control *ctl, const struct control_access *access)
{
	ctl->access = *access;
	gid_t g = access->has_read_gid ? access->read_gid : access->admin_gid;
	if ((access->has_read_gid || access->has_admin_gid) && chown(ctl->path, (uid_t)-1, g) < 0)
		log_warning(NULL, "control: cannot give %s to group %u: %s", ctl->path, (unsigned)g,
		            strerror(errno));
}

const char *control_path(const struct control *ctl)
{
	return ctl->path;
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	sd_event_source_disable_unref(ctl->quiet);
	sd_event_source_disable_unref(ctl->io);
	if (ctl->fd >= 0) {
		close(ctl->fd);
		if (!ctl->stored && !ctl->keep_file)
			unlink(ctl->path);
	}
	free(ctl);
}

void control_store(struct control *ctl)
{
	ctl->stored = fdstore_push(ctl->fd, FDSTORE_CONTROL) > 0;
}

int control_fd(const struct control *ctl)
{
	return ctl->fd;
}

void control_keep_file(struct control *ctl, bool keep)
{
	ctl->keep_file = keep;
}
