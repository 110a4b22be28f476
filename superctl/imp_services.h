/*
 * Service names and ports from a services(5) file (/etc/services, or --services FILE),
 * read once, so an import resolves names the same way whatever NSS the host has, and
 * the YAML it writes holds numbers that never depend on the target host's file.
 */
#ifndef SUPERCTL_IMP_SERVICES_H
#define SUPERCTL_IMP_SERVICES_H

struct imp_services;

/* Returns 0, or -errno (the file cannot be read). */
int imp_services_load(const char *path, struct imp_services **r);
void imp_services_free(struct imp_services *s);
/* The port of NAME (an official name or an alias, or a number) for proto ("tcp",
 * "udp"), or -1 when unknown. */
int imp_services_port(const struct imp_services *s, const char *name, const char *proto);
/* The official name of port/proto, or NULL. */
const char *imp_services_name(const struct imp_services *s, int port, const char *proto);

#endif
