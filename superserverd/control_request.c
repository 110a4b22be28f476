/*
 * One control request in, its answer out (see control_int.h): the framing of lines,
 * the JSON of a request, who may ask what, and the call into the master's operations.
 * No socket here, so the fuzz target drives exactly what a client reaches.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "superserverd/control_int.h"
#include "superserverd/log.h"
#include "version.h"

static bool in_group(const struct control_peer *p, gid_t g)
{
	if (p->gid == g)
		return true;
	for (int i = 0; i < p->n_groups && i < CONTROL_MAX_PEER_GROUPS; i++)
		if (p->groups[i] == g)
			return true;
	return false;
}

bool control_may_read(const struct control_access *a, const struct control_peer *p)
{
	return control_may_change(a, p) || (a->has_read_gid && in_group(p, a->read_gid));
}

bool control_may_change(const struct control_access *a, const struct control_peer *p)
{
	return p->uid == 0 || p->uid == a->daemon_uid ||
	       (a->has_admin_gid && in_group(p, a->admin_gid));
}

size_t control_next_line(const char *buf, size_t len, size_t *line_len)
{
	const char *nl = len ? memchr(buf, '\n', len) : NULL;

	if (!nl)
		return 0;
	*line_len = (size_t)(nl - buf);
	if (*line_len > 0 && buf[*line_len - 1] == '\r')
		(*line_len)--;
	return (size_t)(nl - buf) + 1;
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

json_t *control_text(const char *s)
{
	json_t *text = json_string(s);
	char *copy;

	if (text || !s || !(copy = strdup(s)))
		return text;
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	text = json_string(copy);
	free(copy);
	return text;
}

json_t *control_error(const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* jansson's error may quote the client's bytes, or the message may be cut inside a
	 * character: the client gets an answer all the same. */
	return json_pack("{s:b, s:o, s:s}", "ok", 0, "error", control_text(msg), "code", code);
}

static json_t *success(const char *cmd, json_t *body)
{
	json_t *r = body ? body : json_object();

	if (r) {
		json_object_set_new(r, "ok", json_true());
		json_object_set_new(r, "command", json_string(cmd));
	}
	return r;
}

/* The answer of an operation: BODY, or the error it reported (*CODE, ERR). */
static json_t *outcome(const char *cmd, json_t *body, const char *const *code, const char *err)
{
	return body ? success(cmd, body) : control_error(*code, "%s", err);
}

static json_t *reload(const struct control_ops *ops, void *userdata)
{
	json_t *errors = NULL, *warnings = NULL, *r;

	if (ops->reload(userdata, &errors, &warnings) == 0)
		r = success("reload", NULL);
	else
		r = json_pack("{s:b, s:s, s:s, s:o}", "ok", 0, "error",
		              "reload failed: the running configuration is kept", "code",
		              "reload-failed", "errors", errors ? errors : json_array());
	/* Only when there are any: an answer without the key means a clean file. */
	if (r && warnings && json_array_size(warnings) > 0)
		json_object_set(r, "warnings", warnings);
	json_decref(warnings);
	return r;
}

/* A request that parsed, from a peer allowed to make it. */
static json_t *run(const struct control_ops *ops, void *userdata, const char *cmd, const char *svc)
{
	const char *code = "failed";
	char err[512] = "";

	if (!strcmp(cmd, "version"))
		return success(cmd, json_pack("{s:s, s:I}", "version", SUPERSERVERD_VERSION, "pid",
		                              (json_int_t)getpid()));
	if (!strcmp(cmd, "status"))
		return success(cmd, ops->status(userdata));
	if (!strcmp(cmd, "stats"))
		return outcome(cmd, ops->stats(userdata, svc, &code, err, sizeof(err)), &code, err);
	if (!strcmp(cmd, "reload"))
		return reload(ops, userdata);
	if (!strcmp(cmd, "upgrade"))
		return outcome(cmd, ops->upgrade(userdata, &code, err, sizeof(err)), &code, err);
	if (!svc)
		return control_error("bad-request", "'%s' needs \"service\"", cmd);
	return outcome(cmd, ops->action(userdata, cmd, svc, &code, err, sizeof(err)), &code, err);
}

/* The answer to REQ (a JSON value), without its id. */
static json_t *answer_request(const struct control_access *a, const struct control_peer *p,
                              const struct control_ops *ops, void *userdata,
                              struct control_refusals *refused, json_t *req)
{
	json_t *jcmd = json_object_get(req, "command");
	json_t *jsvc = json_object_get(req, "service");

	if (!json_is_string(jcmd))
		return control_error("bad-request", "missing \"command\" (a string)");
	if (jsvc && !json_is_string(jsvc))
		return control_error("bad-request", "\"service\" must be a string");
	const char *cmd = json_string_value(jcmd);
	const char *svc = jsvc ? json_string_value(jsvc) : NULL;
	bool changing = is_changing(cmd);
	if (!changing && strcmp(cmd, "status") && strcmp(cmd, "stats") && strcmp(cmd, "version"))
		return control_error(
		        "unknown-command",
		        "unknown command '%s' (expected one of: status, stats, version, "
		        "reload, upgrade, start, stop, restart, drain, resume)",
		        cmd);
	if (!(changing ? control_may_change(a, p) : control_may_read(a, p))) {
		if (!refused->denied++)
			log_notice(NULL,
			           "control: '%s' refused to uid %u (pid %d): permission denied; "
			           "the next on this connection are counted",
			           cmd, (unsigned)p->uid, (int)p->pid);
		return control_error("permission-denied", "permission denied: uid %u may not %s",
		                     (unsigned)p->uid,
		                     changing ? "change anything" : "read the status");
	}
	if (changing)
		log_notice(NULL, "control: %s%s%s requested by uid %u (pid %d)", cmd,
		           svc ? " " : "", svc ? svc : "", (unsigned)p->uid, (int)p->pid);
	return run(ops, userdata, cmd, svc);
}

json_t *control_answer(const struct control_access *a, const struct control_peer *p,
                       const struct control_ops *ops, void *userdata,
                       struct control_refusals *refused, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *answer;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &jerr);
	if (!req) {
		if (!refused->malformed++)
			log_info(NULL,
			         "control: malformed request from pid %d: %s; the next on this "
			         "connection are counted",
			         (int)p->pid, jerr.text);
		return control_error("bad-request", "not valid JSON: %s (at byte %d)", jerr.text,
		                     jerr.position);
	}
	if (!json_is_object(req)) {
		json_decref(req);
		return control_error("bad-request", "a request is a JSON object");
	}
	answer = answer_request(a, p, ops, userdata, refused, req);
	json_t *id = json_object_get(req, "id");
	if (answer && id)
		json_object_set(answer, "id", id);
	json_decref(req);
	return answer;
}

void control_refusals_log(const struct control_refusals *r, const struct control_peer *p)
{
	if (r->malformed > 1 || r->denied > 1)
		log_info(NULL,
		         "control: client pid %d (uid %u) left after %lu malformed and %lu refused "
		         "requests",
		         (int)p->pid, (unsigned)p->uid, r->malformed, r->denied);
}

char *control_encode(const json_t *answer, size_t *len_r)
{
	char *text = json_dumps(answer, JSON_COMPACT | JSON_ENSURE_ASCII |
	                                        JSON_REAL_PRECISION(CONTROL_REAL_DIGITS));
	if (!text)
		return NULL;
	size_t len = strlen(text);
	text[len] = '\n'; /* json_dumps's terminator becomes the line's end */
	*len_r = len + 1;
	return text;
}
