/*
 * inetd.conf(5), as openbsd-inetd reads it: one service a line, fields separated by
 * blanks (service, socket type, protocol[,sndbuf=N][,rcvbuf=N], wait|nowait[.max],
 * user[:group] or user[.group], server program, its argv), `HOST:` prefixes on the
 * service and `HOST:` lines that set the prefix of the lines after them. Debian's
 * "#<off># " marks a line update-inetd switched off. Only the fields are judged here;
 * inetd_map translates them.
 */
#ifndef SUPERCTL_INETD_PARSE_H
#define SUPERCTL_INETD_PARSE_H

#include <stdbool.h>

#include "superctl/imp_map.h"
#include "superctl/imp_model.h"

struct inetd_entry {
	int line;
	bool off;       /* "#<off># " */
	char *hosts;    /* "*" or a comma-separated list */
	char *service;  /* name, number, RPC name/version, or a unix socket's path */
	char *socktype; /* stream, dgram, ... */
	char *proto;    /* tcp, udp, tcp6, rpc/tcp, unix, ... without the buffer options */
	char *sndbuf, *rcvbuf;
	bool wait;
	long max; /* .max of wait/nowait; 0: none */
	char *user, *group;
	char *server;         /* a path or "internal" */
	struct imp_strv args; /* argv, [0] the program's name */
};

struct inetd_conf {
	char *file;
	struct inetd_entry *e;
	size_t n;
};

/* Parses one line (no newline); *default_hosts is the current HOST: prefix, updated
 * by a HOST: line. Returns 0 with *e filled, 1 for a line with no entry (comment,
 * blank, HOST: line), 2 for an error (*why set), -1 for memory. */
int inetd_parse_line(const char *line, char **default_hosts, struct inetd_entry *e,
                     const char **why);
void inetd_entry_free(struct inetd_entry *e);
/* Reads a whole file; errors go to the report at FILE:LINE and the line is skipped.
 * Returns 0, or -1 for memory. */
int inetd_parse_file(const char *path, struct inetd_conf *conf, struct imp_report *rep);
void inetd_conf_free(struct inetd_conf *conf);

/* The whole inetd import: parse path, map every line. */
int inetd_import(struct imp_ctx *c, const char *path, struct imp_set *set);

#endif
