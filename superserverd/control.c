/* The control socket server (see control.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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
#include "superserverd/fdstore.h"
#include "superserverd/listen.h"
#include "superserverd/log.h"
#include "version.h"

/* A client that does not read its answers is dropped beyond this much pending. */
#define CONTROL_MAX_OUTPUT (1024 * 1024)
/* Requests handled per wake-up, so one chatty client cannot hog the master. */
#define CONTROL_BURST   16
#define MAX_PEER_GROUPS 64

struct client {
	struct control *ctl;
	struct client *next, *prev;
	int fd;
	sd_event_source *io, *timer;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t groups[MAX_PEER_GROUPS];
	int n_groups;
	char *in;
	size_t in_len;
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
	if (cl->out_len > cl->out_off)
		ev |= EPOLLOUT;
	if (sd_event_source_set_io_events(cl->io, ev) < 0)
		log_warning(NULL, "control: cannot update a client's events");
}

static void client_send(struct client *cl, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t len;

	if (!text)
		return;
	len = strlen(text);
	if (cl->out_len - cl->out_off + len + 1 > CONTROL_MAX_OUTPUT) {
		log_notice(NULL, "control: client pid %d does not read its answers: dropping it",
		           (int)cl->pid);
		cl->closing = true;
		cl->out_off = cl->out_len = 0;
		free(text);
		return;
	}
	if (cl->out_len + len + 1 > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		while (cap < cl->out_len + len + 1)
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
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
	free(text);
}

static void send_error(struct client *cl, json_t *id, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void send_error(struct client *cl, json_t *id, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *r = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "code", code);
	if (id)
		json_object_set(r, "id", id);
	client_send(cl, r);
	json_decref(r);
}

static bool in_group(const struct client *cl, gid_t g)
{
	if (cl->gid == g)
		return true;
	for (int i = 0; i < cl->n_groups; i++)
		if (cl->groups[i] == g)
			return true;
	return false;
}

static bool may_read(const struct client *cl)
{
	const struct control_access *a = &cl->ctl->access;
	return cl->uid == 0 || cl->uid == a->daemon_uid ||
	       (a->has_read_gid && in_group(cl, a->read_gid)) ||
	       (a->has_admin_gid && in_group(cl, a->admin_gid));
}

static bool may_change(const struct client *cl)
{
	const struct control_access *a = &cl->ctl->access;
	return cl->uid == 0 || cl->uid == a->daemon_uid ||
	       (a->has_admin_gid && in_group(cl, a->admin_gid));
}

static const char *const changing_commands[] = {"reload", "start",  "stop",   "restart",
                                                "drain",  "resume", "upgrade"};

static bool is_changing(const char *cmd)
{
	for (size_t i = 0; i < sizeof(changing_commands) / sizeof(changing_commands[0]); i++)
		if (strcmp(cmd, changing_commands[i]) == 0)
			return true;
	return false;
}

static void reply_with(struct client *cl, json_t *id, const char *cmd, json_t *body)
{
	json_t *r = body ? body : json_object();
	json_object_set_new(r, "ok", json_true());
	json_object_set_new(r, "command", json_string(cmd));
	if (id)
		json_object_set(r, "id", id);
	client_send(cl, r);
	json_decref(r);
}

static void dispatch(struct client *cl, const char *line, size_t len)
{
	struct control *ctl = cl->ctl;
	json_error_t jerr;
	json_t *req, *id, *jcmd, *jsvc;
	const char *cmd, *svc = NULL, *code = "failed";
	char err[512] = "";

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &jerr);
	if (!req) {
		log_info(NULL, "control: malformed request from pid %d: %s", (int)cl->pid,
		         jerr.text);
		send_error(cl, NULL, "bad-request", "not valid JSON: %s (at byte %d)", jerr.text,
		           jerr.position);
		return;
	}
	if (!json_is_object(req)) {
		send_error(cl, NULL, "bad-request", "a request is a JSON object");
		goto out;
	}
	id = json_object_get(req, "id");
	jcmd = json_object_get(req, "command");
	if (!json_is_string(jcmd)) {
		send_error(cl, id, "bad-request", "missing \"command\" (a string)");
		goto out;
	}
	cmd = json_string_value(jcmd);
	jsvc = json_object_get(req, "service");
	if (jsvc && !json_is_string(jsvc)) {
		send_error(cl, id, "bad-request", "\"service\" must be a string");
		goto out;
	}
	svc = jsvc ? json_string_value(jsvc) : NULL;

	bool changing = is_changing(cmd);
	bool known = changing || !strcmp(cmd, "status") || !strcmp(cmd, "stats") ||
	             !strcmp(cmd, "version");
	if (!known) {
		send_error(cl, id, "unknown-command",
		           "unknown command '%s' (expected one of: status, stats, version, reload, "
		           "upgrade, start, stop, restart, drain, resume)",
		           cmd);
		goto out;
	}
	if (!(changing ? may_change(cl) : may_read(cl))) {
		log_notice(NULL, "control: '%s' refused to uid %u (pid %d): permission denied", cmd,
		           (unsigned)cl->uid, (int)cl->pid);
		send_error(cl, id, "permission-denied", "permission denied: uid %u may not %s",
		           (unsigned)cl->uid, changing ? "change anything" : "read the status");
		goto out;
	}
	if (changing)
		log_notice(NULL, "control: %s%s%s requested by uid %u (pid %d)", cmd,
		           svc ? " " : "", svc ? svc : "", (unsigned)cl->uid, (int)cl->pid);

	if (!strcmp(cmd, "version")) {
		reply_with(cl, id, cmd,
		           json_pack("{s:s, s:I}", "version", SUPERSERVERD_VERSION, "pid",
		                     (json_int_t)getpid()));
	} else if (!strcmp(cmd, "status")) {
		reply_with(cl, id, cmd, ctl->ops->status(ctl->userdata));
	} else if (!strcmp(cmd, "stats")) {
		json_t *body = ctl->ops->stats(ctl->userdata, svc, &code, err, sizeof(err));
		if (body)
			reply_with(cl, id, cmd, body);
		else
			send_error(cl, id, code, "%s", err);
	} else if (!strcmp(cmd, "reload")) {
		json_t *errors = NULL;
		if (ctl->ops->reload(ctl->userdata, &errors) == 0) {
			reply_with(cl, id, cmd, NULL);
		} else {
			json_t *r = json_pack("{s:b, s:s, s:s, s:o}", "ok", 0, "error",
			                      "reload failed: the running configuration is kept",
			                      "code", "reload-failed", "errors",
			                      errors ? errors : json_array());
			if (id)
				json_object_set(r, "id", id);
			client_send(cl, r);
			json_decref(r);
		}
	} else if (!strcmp(cmd, "upgrade")) {
		json_t *body = ctl->ops->upgrade(ctl->userdata, &code, err, sizeof(err));
		if (body)
			reply_with(cl, id, cmd, body);
		else
			send_error(cl, id, code, "%s", err);
	} else {
		if (!svc) {
			send_error(cl, id, "bad-request", "'%s' needs \"service\"", cmd);
			goto out;
		}
		json_t *body = ctl->ops->action(ctl->userdata, cmd, svc, &code, err, sizeof(err));
		if (body)
			reply_with(cl, id, cmd, body);
		else
			send_error(cl, id, code, "%s", err);
	}
out:
	json_decref(req);
}

static void client_read(struct client *cl)
{
	for (int burst = 0; burst < CONTROL_BURST && !cl->closing;) {
		char *nl = cl->in_len ? memchr(cl->in, '\n', cl->in_len) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - cl->in);
			if (len > 0 && !(len == 1 && cl->in[0] == '\r'))
				dispatch(cl, cl->in, len);
			memmove(cl->in, nl + 1, cl->in_len - len - 1);
			cl->in_len -= len + 1;
			burst++;
			continue;
		}
		if (cl->in_len > CONTROL_MAX_REQUEST) {
			log_notice(NULL, "control: request over %d bytes from pid %d: dropping it",
			           CONTROL_MAX_REQUEST, (int)cl->pid);
			send_error(cl, NULL, "too-large", "request too large (limit %d bytes)",
			           CONTROL_MAX_REQUEST);
			cl->closing = true;
			break;
		}
		ssize_t n = recv(cl->fd, cl->in + cl->in_len, CONTROL_MAX_REQUEST + 1 - cl->in_len,
		                 MSG_DONTWAIT);
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
	log_info(NULL, "control: client pid %d idle for %llu s: closing", (int)cl->pid,
	         (unsigned long long)(CONTROL_IDLE_USEC / 1000000));
	client_free(cl);
	return 0;
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *cl = userdata;

	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		client_read(cl);
		if (sd_event_source_set_time_relative(cl->timer, CONTROL_IDLE_USEC) < 0)
			log_warning(NULL, "control: cannot re-arm a client timer");
	}
	if (!client_flush(cl) || (cl->closing && cl->out_len == cl->out_off)) {
		client_free(cl);
		return 0;
	}
	client_update_events(cl);
	return 0;
}

static void read_peer(struct client *cl)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[MAX_PEER_GROUPS];
	socklen_t glen = sizeof(groups);

	/* Unknown peers get nobody's rights: no read, no change. */
	cl->uid = (uid_t)-2;
	cl->gid = (gid_t)-2;
	if (getsockopt(cl->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		cl->uid = cred.uid;
		cl->gid = cred.gid;
		cl->pid = cred.pid;
	}
	if (getsockopt(cl->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0) {
		cl->n_groups = (int)(glen / sizeof(gid_t));
		memcpy(cl->groups, groups, glen);
	}
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *ctl = userdata;

	for (int i = 0; i < CONTROL_BURST; i++) {
		int cfd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning(NULL, "control: accept: %s", strerror(errno));
			return 0;
		}
		if (ctl->n_clients >= CONTROL_MAX_CLIENTS) {
			static const char busy[] = "{\"ok\":false,\"error\":\"too many control "
			                           "clients\",\"code\":\"busy\"}\n";
			if (send(cfd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* it was a courtesy */
			}
			close(cfd);
			continue;
		}
		struct client *cl = calloc(1, sizeof(*cl));
		if (cl)
			cl->in = malloc(CONTROL_MAX_REQUEST + 1);
		if (!cl || !cl->in) {
			if (cl)
				free(cl);
			close(cfd);
			continue;
		}
		cl->ctl = ctl;
		cl->fd = cfd;
		read_peer(cl);
		cl->next = ctl->clients;
		if (ctl->clients)
			ctl->clients->prev = cl;
		ctl->clients = cl;
		ctl->n_clients++;
		if (sd_event_add_io(ctl->event, &cl->io, cfd, EPOLLIN, on_client_io, cl) < 0 ||
		    sd_event_add_time_relative(ctl->event, &cl->timer, CLOCK_MONOTONIC,
		                               CONTROL_IDLE_USEC, 0, on_client_timer, cl) < 0) {
			client_free(cl);
			continue;
		}
		/* Supervising services comes before answering questions about them. */
		sd_event_source_set_priority(cl->io, SD_EVENT_PRIORITY_IDLE);
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
