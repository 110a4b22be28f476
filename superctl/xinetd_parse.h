/*
 * xinetd.conf(5)'s grammar: `service NAME { ... }` and `defaults { ... }` entries of
 * `attribute op value...` lines (op `=`, `+=`, `-=`), and the `include` and
 * `includedir` directives, read into entries that keep the FILE:LINE of everything.
 * Only syntax is judged here; what the attributes mean is xinetd_eval's and
 * xinetd_map's business.
 */
#ifndef SUPERCTL_XINETD_PARSE_H
#define SUPERCTL_XINETD_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "superctl/imp_model.h"
#include "superctl/imp_report.h"

enum xi_op { XI_SET, XI_ADD, XI_DEL };

struct xi_attr {
	char *name;
	enum xi_op op;
	struct imp_strv values; /* the words after the operator */
	int line;
};

struct xi_entry {
	bool is_defaults;
	char *name; /* the service's name; NULL for defaults */
	char *file;
	int line;
	struct xi_attr *attrs;
	size_t n_attrs;
};

struct xi_conf {
	struct xi_entry *entries;
	size_t n, cap;
};

/* Reads path and what it includes. A syntax error is reported at its FILE:LINE and ends
 * that file (entries complete before it are kept); reading goes on with the next file.
 * Returns 0, or -1 when out of memory. */
int xi_parse_file(const char *path, struct xi_conf *conf, struct imp_report *rep);
/* The same for text already in memory, named file in the report; includes are read
 * from the file system. */
int xi_parse_text(const char *file, const char *text, struct xi_conf *conf, struct imp_report *rep);
void xi_conf_free(struct xi_conf *conf);

#endif
