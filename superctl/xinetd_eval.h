/*
 * xinetd's rules for combining what the parser read: which attributes exist, which
 * take `+=` and `-=`, what `defaults` hands down to every service, and which services
 * `disable`, `disabled` and `enabled` switch off. The result is one flat set of
 * attribute values per service, each with the line it came from.
 */
#ifndef SUPERCTL_XINETD_EVAL_H
#define SUPERCTL_XINETD_EVAL_H

#include <stdbool.h>

#include "superctl/imp_model.h"
#include "superctl/imp_report.h"
#include "superctl/xinetd_parse.h"

// clang-format off
/* Every attribute of xinetd.conf(5): X(ID, "name"). */
#define XI_ATTRS(X) \
	X(ID, "id") \
	X(TYPE, "type") \
	X(FLAGS, "flags") \
	X(DISABLE, "disable") \
	X(SOCKET_TYPE, "socket_type") \
	X(PROTOCOL, "protocol") \
	X(WAIT, "wait") \
	X(USER, "user") \
	X(GROUP, "group") \
	X(GROUPS, "groups") \
	X(INSTANCES, "instances") \
	X(NICE, "nice") \
	X(SERVER, "server") \
	X(SERVER_ARGS, "server_args") \
	X(LIBWRAP, "libwrap") \
	X(ONLY_FROM, "only_from") \
	X(NO_ACCESS, "no_access") \
	X(ACCESS_TIMES, "access_times") \
	X(LOG_TYPE, "log_type") \
	X(LOG_ON_SUCCESS, "log_on_success") \
	X(LOG_ON_FAILURE, "log_on_failure") \
	X(RPC_VERSION, "rpc_version") \
	X(RPC_NUMBER, "rpc_number") \
	X(ENV, "env") \
	X(PASSENV, "passenv") \
	X(PORT, "port") \
	X(REDIRECT, "redirect") \
	X(BIND, "bind") \
	X(INTERFACE, "interface") \
	X(BANNER, "banner") \
	X(BANNER_SUCCESS, "banner_success") \
	X(BANNER_FAIL, "banner_fail") \
	X(PER_SOURCE, "per_source") \
	X(CPS, "cps") \
	X(MAX_LOAD, "max_load") \
	X(MDNS, "mdns") \
	X(UMASK, "umask") \
	X(ENABLED, "enabled") \
	X(DISABLED, "disabled") \
	X(RLIMIT_AS, "rlimit_as") \
	X(RLIMIT_FILES, "rlimit_files") \
	X(RLIMIT_CPU, "rlimit_cpu") \
	X(RLIMIT_DATA, "rlimit_data") \
	X(RLIMIT_RSS, "rlimit_rss") \
	X(RLIMIT_STACK, "rlimit_stack") \
	X(DENY_TIME, "deny_time") \
	X(V6ONLY, "v6only")
// clang-format on

#define XI_ENUM(e, s) XA_##e,
enum xi_attr_id { XI_ATTRS(XI_ENUM) XA_COUNT };
#undef XI_ENUM

const char *xi_attr_name(enum xi_attr_id a);

struct xi_val {
	bool set;
	int line; /* the last line that changed it (the defaults' for inherited ones) */
	const char *file;
	struct imp_strv v;
};

struct xi_svc {
	char *name;     /* `service NAME` */
	const char *id; /* the id attribute, or the name */
	const char *file;
	int line;
	struct xi_val a[XA_COUNT];
	const char *off;   /* why it is disabled, or NULL */
	bool off_reported; /* an error said so already */
	const char *off_file;
	int off_line;
};

struct xi_services {
	struct xi_svc *s;
	size_t n;
};

/* Returns 0, or -1 when out of memory. The result points into conf: keep it. */
int xi_eval(const struct xi_conf *conf, struct xi_services *out, struct imp_report *rep);
void xi_services_free(struct xi_services *s);

#endif
