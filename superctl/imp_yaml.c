/*
 * Writing services as superserverd YAML. Output is deterministic (same input, same
 * bytes): the tests compare it exactly.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "superctl/imp_yaml.h"

static bool plain_ok(const char *s)
{
	static const char *const special[] = {"true", "false", "yes", "no", "on", "off",
	                                      "null", "y",     "n",   "~",  NULL};
	if (!*s)
		return false;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
	      *s == '/' || *s == '_' || *s == '.'))
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("/_.-+=@%", *p)))
			return false;
	for (size_t i = 0; special[i]; i++)
		if (strcasecmp(s, special[i]) == 0)
			return false;
	return true;
}

int imp_yaml_scalar(FILE *f, const char *s)
{
	if (plain_ok(s))
		return fputs(s, f) < 0 ? -1 : 0;
	bool printable = true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		printable = printable && *p >= 0x20 && *p != 0x7f;
	if (printable) {
		if (fputc('\'', f) == EOF)
			return -1;
		for (const char *p = s; *p; p++)
			if ((*p == '\'' && fputc('\'', f) == EOF) || fputc(*p, f) == EOF)
				return -1;
		return fputc('\'', f) == EOF ? -1 : 0;
	}
	if (fputc('"', f) == EOF)
		return -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int r = *p < 0x20 || *p == 0x7f   ? fprintf(f, "\\x%02x", *p)
		        : *p == '"' || *p == '\\' ? fprintf(f, "\\%c", *p)
		                                  : fputc(*p, f);
		if (r < 0)
			return -1;
	}
	return fputc('"', f) == EOF ? -1 : 0;
}

static void comment(FILE *f, const char *c)
{
	if (c && *c)
		fprintf(f, "  # %s", c);
	fputc('\n', f);
}

static void flow_list(FILE *f, const struct imp_strv *v)
{
	fputc('[', f);
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			fputs(", ", f);
		imp_yaml_scalar(f, v->v[i]);
	}
	fputc(']', f);
}

static void key_str(FILE *f, const char *indent, const char *key, const char *v)
{
	fprintf(f, "%s%s: ", indent, key);
	imp_yaml_scalar(f, v);
	fputc('\n', f);
}

static void cidr_list(FILE *f, const char *key, const struct imp_strv *v,
                      const struct imp_strv *comments)
{
	if (!v->n)
		return;
	fprintf(f, "      %s:\n", key);
	for (size_t i = 0; i < v->n; i++) {
		fputs("        - ", f);
		imp_yaml_scalar(f, v->v[i]);
		char c[300] = "";
		if (i < comments->n && *comments->v[i])
			snprintf(c, sizeof(c), "%s", comments->v[i]);
		comment(f, c);
	}
}

static void write_service(FILE *f, const struct imp_svc *s)
{
	for (size_t i = 0; i < s->comments.n; i++)
		fprintf(f, "  # %s\n", s->comments.v[i]);
	fputs("  ", f);
	imp_yaml_scalar(f, s->name);
	fputs(":\n    listen:\n", f);
	for (size_t i = 0; i < s->n_listen; i++) {
		const struct imp_listen *l = &s->listen[i];
		bool map = l->nodelay || l->keepalive || l->receive_buffer || l->send_buffer;
		fputs(map ? "      - address: " : "      - ", f);
		imp_yaml_scalar(f, l->address);
		comment(f, l->comment);
		if (l->nodelay)
			fputs("        nodelay: true\n", f);
		if (l->keepalive)
			fputs("        keepalive: true\n", f);
		if (l->receive_buffer)
			key_str(f, "        ", "receive_buffer", l->receive_buffer);
		if (l->send_buffer)
			key_str(f, "        ", "send_buffer", l->send_buffer);
	}
	switch (s->kind) {
	case IMP_EXEC:
		fputs("    exec: ", f);
		flow_list(f, &s->exec);
		fputc('\n', f);
		break;
	case IMP_BUILTIN:
		key_str(f, "    ", "builtin", s->builtin);
		break;
	case IMP_FORWARD:
		fputs("    builtin: forward\n    args:\n      target: ", f);
		imp_yaml_scalar(f, s->forward_target);
		comment(f, s->forward_comment);
		fputs("      connect_timeout: 5s\n", f);
		break;
	}
	fprintf(f, "    mpm: %s\n", s->mpm);
	if (s->user)
		key_str(f, "    ", "user", s->user);
	if (s->group)
		key_str(f, "    ", "group", s->group);
	if (s->groups_set) {
		fputs("    groups: ", f);
		flow_list(f, &s->groups);
		fputc('\n', f);
	}
	if (s->capabilities_set) {
		fputs("    capabilities: ", f);
		flow_list(f, &s->capabilities);
		comment(f, s->capabilities_comment);
	}
	if (s->n_env) {
		fputs("    environment:\n", f);
		for (size_t i = 0; i < s->n_env; i++)
			key_str(f, "      ", s->env[i].key, s->env[i].value);
	}
	if (s->pass_env.n) {
		fputs("    pass_environment: ", f);
		flow_list(f, &s->pass_env);
		fputc('\n', f);
	}
	if (s->umask >= 0)
		fprintf(f, "    umask: \"%04o\"\n", (unsigned)s->umask);
	if (s->nice_set)
		fprintf(f, "    nice: %d\n", s->nice);
	if (s->n_rlimits) {
		fputs("    rlimits:\n", f);
		for (size_t i = 0; i < s->n_rlimits; i++)
			key_str(f, "      ", s->rlimits[i].key, s->rlimits[i].value);
	}
	if (s->max_connections || s->per_source || s->rate || s->datagram_reply_max) {
		fputs("    limits:\n", f);
		if (s->max_connections)
			fprintf(f, "      max_connections: %ld\n", s->max_connections);
		if (s->overload_reject)
			fputs("      overload: reject\n", f);
		if (s->per_source)
			fprintf(f, "      per_source: %ld\n", s->per_source);
		if (s->rate) {
			fprintf(f, "      rate: %s", s->rate);
			comment(f, s->rate_comment);
			fprintf(f, "      burst: %ld\n", s->burst);
		}
		if (s->datagram_reply_max)
			fprintf(f, "      datagram_reply_max: %ld\n", s->datagram_reply_max);
	}
	if (s->access_set && (s->allow.n || s->deny.n)) {
		fputs("    access:\n", f);
		cidr_list(f, "allow", &s->allow, &s->allow_comments);
		cidr_list(f, "deny", &s->deny, &s->deny_comments);
	}
	if (s->banner)
		key_str(f, "    ", "banner", s->banner);
	if (s->banner_success)
		key_str(f, "    ", "banner_success", s->banner_success);
	if (s->banner_fail)
		key_str(f, "    ", "banner_fail", s->banner_fail);
	if (s->log_connections)
		fprintf(f, "    log_connections: %s\n", s->log_connections);
}

static void header(FILE *f, const char *origin)
{
	fprintf(f,
	        "# Generated by superctl import %s.\n"
	        "# Each service names the file and line it came from; superctl's report (its\n"
	        "# standard error) lists what could not be translated exactly.\n",
	        origin);
}

int imp_yaml_write(FILE *f, const struct imp_set *set, const char *origin)
{
	header(f, origin);
	fputs(set->n ? "services:\n" : "services: {}\n", f);
	for (size_t i = 0; i < set->n; i++) {
		if (i)
			fputc('\n', f);
		write_service(f, set->svc[i]);
	}
	return ferror(f) ? -1 : 0;
}

int imp_yaml_write_one(FILE *f, const struct imp_svc *s, const char *origin)
{
	header(f, origin);
	fputs("services:\n", f);
	write_service(f, s);
	return ferror(f) ? -1 : 0;
}
