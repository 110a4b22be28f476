/*
 * The control-socket round trip: one JSON object per line each way, over a unix
 * stream socket that is opened on first use and kept for the requests that follow
 * (top and the waits poll on it). Every read and write is bounded by a deadline.
 */
#ifndef SUPERCTL_CLIENT_H
#define SUPERCTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct ctl_client {
	char path[108]; /* sun_path */
	int fd;         /* -1 until connected */
	int timeout_ms; /* per round trip */
	bool used;      /* fd has carried an answer: the daemon may have closed it since */
	char *in;       /* bytes received past the last answer */
	size_t in_len, in_cap;
};

/* Milliseconds on CLOCK_MONOTONIC: the clock of every deadline in superctl. */
long long client_now_ms(void);
/* How long superctl waits between two status requests while it waits for a state. */
#define CLIENT_POLL_MS 100
/* Sleeps ms milliseconds (between status requests). */
void client_pause_ms(int ms);

void client_init(struct ctl_client *c, const char *path, int timeout_ms);
/*
 * Sends {"command": command, "service": service (if not NULL)} and reads one answer.
 * Returns 0 with the answer, whatever its "ok", in *reply_r; or -errno when the daemon
 * could not be reached or did not answer in time (-ETIMEDOUT), or -EPROTO when the
 * answer is not a JSON object.
 */
int client_call(struct ctl_client *c, const char *command, const char *service, json_t **reply_r);
void client_close(struct ctl_client *c);

/*
 * Where the daemon listens: `explicit_path` if given, else control.socket of the
 * configuration file `config` if it can be read, else the daemon's default
 * (control_default_path). Not root, when that default does not exist, the system
 * daemon's /run/superserverd/control.sock is tried too (the read group's members
 * are ordinary users). Returns 0 or -ENAMETOOLONG.
 */
int client_socket_path(const char *explicit_path, const char *config, char *buf, size_t len);

#endif
