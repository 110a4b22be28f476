/*
 * The importer's model of a superserverd service: what a source format (xinetd, inetd)
 * is translated into, and what the YAML writer prints. Plain data, so parsers fill it
 * and tests look into it; strings are owned by the service.
 */
#ifndef SUPERCTL_IMP_MODEL_H
#define SUPERCTL_IMP_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/* A growable list of owned strings. */
struct imp_strv {
	char **v;
	size_t n, cap;
};

/* Returns 0, or -1 when out of memory. */
int imp_strv_push(struct imp_strv *sv, const char *s);
int imp_strv_pushf(struct imp_strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool imp_strv_has(const struct imp_strv *sv, const char *s);
/* Without regard to case, as xinetd compares its words (flags, ids, yes/no). */
bool imp_strv_has_nocase(const struct imp_strv *sv, const char *s);
/* Removes every copy of s. */
void imp_strv_remove(struct imp_strv *sv, const char *s);
/* Removes entry I (nothing when there is none), keeping the order of the rest. */
void imp_strv_remove_at(struct imp_strv *sv, size_t i);
void imp_strv_clear(struct imp_strv *sv);
int imp_strv_copy(struct imp_strv *dst, const struct imp_strv *src);

struct imp_listen {
	char *address; /* as written in listen:, e.g. "udp:0.0.0.0:69" */
	char *comment; /* e.g. "tftp/udp", or NULL */
	bool nodelay, keepalive;
	char *receive_buffer, *send_buffer; /* sizes as written, or NULL */
};

enum imp_kind { IMP_EXEC, IMP_BUILTIN, IMP_FORWARD };

/* A key: value line of a map (environment, rlimits), value as it is to be written. */
struct imp_kv {
	char *key, *value;
};

struct imp_svc {
	char *name; /* the service's name in the YAML */
	char *file; /* where it came from */
	int line;
	struct imp_strv comments; /* printed above the service */

	struct imp_listen *listen;
	size_t n_listen;

	enum imp_kind kind;
	struct imp_strv exec;  /* IMP_EXEC: argv, [0] the program's path */
	char *builtin;         /* IMP_BUILTIN */
	char *forward_target;  /* IMP_FORWARD: "HOST:PORT" */
	char *forward_comment; /* e.g. the host name the target was resolved from */
	const char *mpm;       /* "fork", "wait", "event" */

	char *user, *group;
	struct imp_strv groups;
	bool groups_set;
	struct imp_strv capabilities;
	bool capabilities_set;
	char *capabilities_comment;

	struct imp_kv *env;
	size_t n_env;
	struct imp_strv pass_env;
	int umask; /* -1: not set */
	bool nice_set;
	int nice;
	struct imp_kv *rlimits;
	size_t n_rlimits;

	long max_connections; /* 0: not set */
	bool overload_reject;
	long per_source; /* 0: not set */
	char *rate;      /* e.g. "50/s" */
	long burst;      /* 0: not set */
	char *rate_comment;
	long datagram_reply_max; /* 0: not set */

	bool access_set;
	struct imp_strv allow, deny;
	struct imp_strv allow_comments, deny_comments; /* one per entry, "" for none */

	char *banner, *banner_success, *banner_fail;
	const char *log_connections; /* "journal", "off", or NULL */
};

struct imp_svc *imp_svc_new(const char *name, const char *file, int line);
void imp_svc_free(struct imp_svc *s);
/* Returns the new listen item (zeroed but for address and comment), or NULL (memory). */
struct imp_listen *imp_svc_add_listen(struct imp_svc *s, const char *address, const char *comment);
int imp_svc_set_kv(struct imp_kv **kv, size_t *n, const char *key, const char *value);
/* Replaces *dst with a copy of src (NULL allowed). Returns 0 or -1. */
int imp_set_str(char **dst, const char *src);

/* The services of one import, in the order found. */
struct imp_set {
	struct imp_svc **svc;
	size_t n, cap;
};

/* Takes s over (frees it on failure). Returns 0 or -1. */
int imp_set_add(struct imp_set *set, struct imp_svc *s);
struct imp_svc *imp_set_find(const struct imp_set *set, const char *name);
void imp_set_free(struct imp_set *set);

#endif
