/*
 * libFuzzer target for the control protocol's request handling (control_request.c):
 * what a client's bytes reach, from the framing of lines to the answer on the wire,
 * against a fake master. The first input byte picks the peer and the access rules; the
 * rest is the stream of request lines. Besides "never crash" (ASan and UBSan watch the
 * memory), it checks what clients and the daemon rely on: one answer per request line,
 * one line of printable ASCII that parses back to an object with "ok", a known code on
 * every error, the request's id copied back, and no operation of the master run for a
 * peer without the right to it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superserverd/control_int.h"
#include "superserverd/log.h"
#include "tests/fuzz/fuzz.h"

/* The daemon's log, formatted and thrown away: its format strings are exercised too. */
void log_msg(int level, const char *service, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	(void)level;
	(void)service;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
}

#define DAEMON_UID 990
#define READ_GID   991
#define ADMIN_GID  992

/* What the fake master was asked, to check it against the peer's rights. */
struct fake {
	unsigned reads, changes;
	unsigned long calls;
	struct control_refusals refused;
};

static json_t *fake_status(void *userdata)
{
	struct fake *f = userdata;
	f->reads++;
	/* A real with float noise in binary: the answer must not show it. */
	return json_pack("{s:f, s:I, s:[{s:s, s:f}]}", "uptime_sec", 9.238614, "generation",
	                 (json_int_t)f->calls, "services", "name", "e", "uptime_sec",
	                 (double)f->calls / 1e6);
}

static json_t *fake_stats(void *userdata, const char *service, const char **code, char *err,
                          size_t errlen)
{
	struct fake *f = userdata;
	f->reads++;
	if (service && strcmp(service, "e") != 0) {
		*code = "no-such-service";
		snprintf(err, errlen, "no service named '%s'", service);
		return NULL;
	}
	return json_pack("{s:[{s:s, s:f}]}", "services", "name", "e", "idle_sec", 0.1 + 0.2);
}

static int fake_reload(void *userdata, json_t **errors, json_t **warnings)
{
	struct fake *f = userdata;
	f->changes++;
	if (f->calls % 5 == 1)
		*warnings = json_pack("[s]", "f.yaml:2:3: warning: root");
	if (f->calls++ % 3 == 0)
		return 0;
	/* Sometimes no list at all: the answer must still have one. */
	*errors = f->calls % 2 ? json_pack("[s]", "f.yaml:1:1: bad") : NULL;
	return -1;
}

static json_t *fake_action(void *userdata, const char *command, const char *service,
                           const char **code, char *err, size_t errlen)
{
	struct fake *f = userdata;
	f->changes++;
	if (strcmp(service, "e") != 0) {
		*code = "no-such-service";
		snprintf(err, errlen, "no service named '%s'", service);
		return NULL;
	}
	return json_pack("{s:s, s:s}", "service", service, "state",
	                 strcmp(command, "stop") ? "running" : "stopping");
}

static json_t *fake_upgrade(void *userdata, const char **code, char *err, size_t errlen)
{
	struct fake *f = userdata;
	f->changes++;
	*code = "busy";
	snprintf(err, errlen, "an upgrade is under way");
	return NULL;
}

static const struct control_ops fake_ops = {
        .status = fake_status,
        .stats = fake_stats,
        .reload = fake_reload,
        .action = fake_action,
        .upgrade = fake_upgrade,
};

static const char *const codes[] = {"bad-request",
                                    "unknown-command",
                                    "permission-denied",
                                    "no-such-service",
                                    "reload-failed",
                                    "too-large",
                                    "busy",
                                    "not-running",
                                    "not-drained",
                                    "failed"};
static const char *const commands[] = {"status", "stats", "version", "reload", "upgrade",
                                       "start",  "stop",  "restart", "drain",  "resume"};

static bool listed(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

/* The peer and the rules, from one byte. */
static void identity(uint8_t b, struct control_access *a, struct control_peer *p)
{
	static const uid_t uids[] = {0, DAEMON_UID, 1000, (uid_t)-2};

	memset(a, 0, sizeof(*a));
	memset(p, 0, sizeof(*p));
	a->daemon_uid = DAEMON_UID;
	a->has_read_gid = b & 4;
	a->read_gid = READ_GID;
	a->has_admin_gid = b & 8;
	a->admin_gid = ADMIN_GID;
	p->uid = uids[b & 3];
	p->gid = b & 16 ? READ_GID : 100;
	p->pid = 4242;
	if (b & 32)
		p->groups[p->n_groups++] = ADMIN_GID;
	if (b & 64)
		p->groups[p->n_groups++] = READ_GID;
}

static void check_answer(const struct control_access *a, const struct control_peer *p,
                         struct fake *f, const char *line, size_t len)
{
	bool admin = (a->has_admin_gid &&
	              (p->gid == ADMIN_GID || (p->n_groups && p->groups[0] == ADMIN_GID)));
	bool reader = a->has_read_gid && (p->gid == READ_GID ||
	                                  (p->n_groups && p->groups[p->n_groups - 1] == READ_GID));
	bool may_change = p->uid == 0 || p->uid == DAEMON_UID || admin;
	bool may_read = may_change || reader;
	unsigned reads = f->reads, changes = f->changes;

	CHECK(control_may_change(a, p) == may_change);
	CHECK(control_may_read(a, p) == may_read);

	json_t *answer = control_answer(a, p, &fake_ops, f, &f->refused, line, len);
	CHECK(answer != NULL);
	CHECK(may_read || f->reads == reads);
	CHECK(may_change || f->changes == changes);

	size_t n;
	char *text = control_encode(answer, &n);
	CHECK(text != NULL && n > 0 && text[n - 1] == '\n');
	for (size_t i = 0; i + 1 < n; i++)
		CHECK(text[i] >= 0x20 && text[i] <= 0x7f); /* one line, in ASCII */

	json_t *back = json_loadb(text, n, 0, NULL);
	CHECK(json_is_object(back));
	json_t *ok = json_object_get(back, "ok");
	CHECK(json_is_boolean(ok));
	if (json_is_true(ok)) {
		CHECK(listed(json_string_value(json_object_get(back, "command")), commands,
		             sizeof(commands) / sizeof(commands[0])));
	} else {
		CHECK(json_is_string(json_object_get(back, "error")));
		CHECK(listed(json_string_value(json_object_get(back, "code")), codes,
		             sizeof(codes) / sizeof(codes[0])));
	}

	/* The id comes back as it was sent, when the request could be read. */
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, NULL);
	json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
	CHECK(id ? json_equal(id, json_object_get(answer, "id"))
	         : json_object_get(answer, "id") == NULL);
	json_decref(req);
	json_decref(back);
	free(text);
	json_decref(answer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_access a;
	struct control_peer p;
	struct fake f = {0};

	if (size < 1)
		return 0;
	identity(data[0], &a, &p);
	const char *buf = (const char *)data + 1;
	size_t left = size - 1, line_len;
	/* As the daemon reads a connection: each whole line, a partial last one dropped. */
	for (size_t used; (used = control_next_line(buf, left, &line_len)) > 0;) {
		CHECK(used <= left && line_len < used);
		CHECK(memchr(buf, '\n', line_len) == NULL);
		if (line_len > 0)
			check_answer(&a, &p, &f, buf, line_len);
		buf += used;
		left -= used;
	}
	CHECK(memchr(buf, '\n', left) == NULL);
	return 0;
}
