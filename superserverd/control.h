/*
 * The control socket: a unix stream socket speaking one JSON object per line
 * (jansson). It authenticates peers with SO_PEERCRED/SO_PEERGROUPS, bounds every
 * client (request size, idle time, pending output) and shares the connections fairly
 * (below), and hands valid requests to the master through a table of operations
 * (control_request.c). It knows nothing of services itself.
 */
#ifndef SUPERSERVERD_CONTROL_H
#define SUPERSERVERD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>
#include <systemd/sd-event.h>

/* A request line longer than this gets the too-large answer and the end. */
#define CONTROL_MAX_REQUEST (64 * 1024)
/*
 * Connections at once. A peer that may not change anything (a reader) can hold
 * neither the last CONTROL_RESERVED_CLIENTS of them, kept for root, the daemon's user
 * and control.admin_group, nor more than CONTROL_MAX_PER_UID; root and the daemon's
 * user are not counted per uid. A reader therefore never locks out root.
 */
#define CONTROL_MAX_CLIENTS      64
#define CONTROL_RESERVED_CLIENTS 16
#define CONTROL_MAX_PER_UID      8
/* A client is closed this long after its last whole request: blank lines and parts
 * of a line do not count, so a connection cannot be kept by dribbling. */
#define CONTROL_IDLE_USEC (10ULL * 1000 * 1000)
/* Refused connections are logged once per episode: one line when refusing starts,
 * one when none has been refused for this long. */
#define CONTROL_QUIET_USEC (10ULL * 1000 * 1000)

struct control;

/* Who may do what, from the configuration (control.group, control.admin_group). */
struct control_access {
	uid_t daemon_uid;
	bool has_read_gid, has_admin_gid;
	gid_t read_gid, admin_gid;
};

/*
 * What the master answers. Each returns a new JSON object to merge into the reply,
 * or NULL with *err set (a message for the client) and *code ("no-such-service",
 * "failed", ...).
 */
struct control_ops {
	json_t *(*status)(void *userdata);
	json_t *(*stats)(void *userdata, const char *service, const char **code, char *err,
	                 size_t errlen);
	/* Returns 0, or -1 with the configuration errors in *errors (an array). Either way
	 * the configuration's warnings may come in *warnings (an array, or left NULL). */
	int (*reload)(void *userdata, json_t **errors, json_t **warnings);
	/* start, stop, restart, drain, resume. */
	json_t *(*action)(void *userdata, const char *command, const char *service,
	                  const char **code, char *err, size_t errlen);
	/* Starts a re-exec; answers at once with the new pid (see upgrade.h). */
	json_t *(*upgrade)(void *userdata, const char **code, char *err, size_t errlen);
};

/* The socket path when the configuration names none: $RUNTIME_DIRECTORY (systemd),
 * else /run/superserverd as root, else $XDG_RUNTIME_DIR/superserverd. */
int control_default_path(char *buf, size_t len);
/*
 * Significant digits of the numbers with a fraction in answers. The daemon's are
 * microseconds counted in seconds (uptime_sec, idle_sec): 15 digits keep all of them
 * for 30 years of uptime, while jansson's default of 17 prints the binary double's
 * noise (9.2386140000000001 for 9.238614).
 */
#define CONTROL_REAL_DIGITS 15

/* S as a JSON string; where S is not UTF-8 (a file name, a client's bytes), every byte
 * past ASCII becomes '?', so that the text is never lost from an answer. NULL only
 * without memory. */
json_t *control_text(const char *s);

/* INHERITED_FD: the socket a previous process passed (fd store or upgrade), or -1; it is
 * used if it is still the socket at PATH, closed otherwise. The socket goes to systemd's
 * fd store when there is one, so superctl's clients wait through a restart. */
int control_open(sd_event *event, const char *path, int inherited_fd,
                 const struct control_access *access, const struct control_ops *ops, void *userdata,
                 struct control **ctl_r, char *err, size_t errlen);
void control_set_access(struct control *ctl, const struct control_access *access);
const char *control_path(const struct control *ctl);
/* Closes the socket, drops every client and removes the socket file unless another
 * process goes on with the socket. */
void control_free(struct control *ctl);
int control_fd(const struct control *ctl);
/* Hands the socket to systemd's fd store (again: after fdstore_release()). */
void control_store(struct control *ctl);
/* KEEP: another process serves the socket too (the old process of an upgrade until it
 * hands over, or the new one after): control_free leaves the file. */
void control_keep_file(struct control *ctl, bool keep);

#endif
