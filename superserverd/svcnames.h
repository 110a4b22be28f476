/*
 * The services database (/etc/services, services(5)): service names and aliases to port
 * numbers per protocol, read from a file of that format. Listening addresses may name
 * their port ("0.0.0.0:rsync"); the loader reads the file once per load, here.
 */
#ifndef SUPERSERVERD_SVCNAMES_H
#define SUPERSERVERD_SVCNAMES_H

#include <stddef.h>

#define SVCNAMES_DEFAULT_PATH "/etc/services"

struct svcnames;

enum svcnames_result {
	SVCNAMES_FOUND,
	SVCNAMES_UNKNOWN,     /* no entry with that name or alias */
	SVCNAMES_OTHER_PROTO, /* known, but not for the protocol asked */
};

/* Parses services(5) TEXT (LEN bytes). Returns 0, or -ENOMEM. Malformed lines (and
 * port 0, which no one can listen on) are skipped, as the C library skips the former. */
int svcnames_parse(const char *text, size_t len, struct svcnames **db_r);
/* Reads and parses PATH. Returns 0, or -errno (-EFBIG past a few MiB). */
int svcnames_load(const char *path, struct svcnames **db_r);
/* NAME's port for PROTO ("tcp", "udp"): the first matching line wins, as in getservbyname. */
enum svcnames_result svcnames_lookup(const struct svcnames *db, const char *name, const char *proto,
                                     unsigned *port_r);
/* The official name of PORT/PROTO (of the first line that has them), or NULL. */
const char *svcnames_name(const struct svcnames *db, unsigned port, const char *proto);
void svcnames_free(struct svcnames *db);

#endif
