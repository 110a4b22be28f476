/*
 * What xinetd and inetd share on the way to superserverd: the options of one import,
 * the built-ins, what `user = root` becomes, checking programs, users and files on
 * this host, listen addresses with service names resolved, and the final checks of a
 * service (unique name, unique addresses) before it joins the set.
 */
#ifndef SUPERCTL_IMP_MAP_H
#define SUPERCTL_IMP_MAP_H

#include <stdbool.h>

#include "superctl/imp_model.h"
#include "superctl/imp_report.h"
#include "superserverd/svcnames.h"

struct imp_ctx {
	struct imp_report *rep;
	const struct svcnames *services; /* NULL when the file could not be read */
	bool other_host;                 /* --other-host: do not look for programs, users, files */
	const char *bind;                /* --bind ADDR: every IP listen address on ADDR */
	const struct imp_strv *ports;    /* --port NAME=PORT */
};

/* The capabilities `user = root` is given: every one superserverd's shipped unit holds
 * (its CapabilityBoundingSet=), so the daemon can hand each of them on; on this host
 * (not --other-host) those this process's bounding set lacks are left out. NULL-ended. */
extern const char *const imp_root_capabilities[];

/* echo, discard, chargen, daytime, time. */
bool imp_is_builtin(const char *name);
/* A built-in on a stream or a datagram socket: the event model, user nobody. Returns 0,
 * 1 when it cannot be served (chargen on UDP: reported), -1 for memory. */
int imp_map_builtin(struct imp_ctx *c, struct imp_svc *s, const char *name, bool dgram,
                    const char *file, int line);
/* user (and group) as the source says; root gets the capabilities above, reported with
 * a hint, and what the program (mapped before) is known to need beyond them (in.tftpd
 * -s: CAP_SYS_CHROOT). Returns 0, 1 when the user or group is unknown here (reported), -1. */
int imp_map_user(struct imp_ctx *c, struct imp_svc *s, const char *user, const char *group,
                 const char *file, int line);
/* program: its path; argv0: the argv[0] the source gives it (NULL: none); args: the
 * arguments after it. A tcpd wrapper is taken off (reported: hosts.allow is
 * not read by superserverd). Returns 0, 1 when the program is unusable (reported), -1. */
int imp_map_program(struct imp_ctx *c, struct imp_svc *s, const char *program, const char *argv0,
                    const struct imp_strv *args, const char *file, int line);
/* An IP listen address: host NULL for every IPv4 address, else a numeric address;
 * udp for a datagram socket. The comment names the service and protocol. Returns the
 * listen item, or NULL (memory). */
struct imp_listen *imp_add_ip_listen(struct imp_svc *s, bool udp, const char *host, int port,
                                     const char *comment);
/* The port of NAME for proto ("tcp", "udp"): NAME is a number, or a name or alias of
 * the services file. -1 when it is neither. */
int imp_service_port(const struct svcnames *s, const char *name, const char *proto);
/* The official name of port/proto in the services file, or NULL. */
const char *imp_service_name(const struct svcnames *s, int port, const char *proto);
/* The comment of a listen address: "NAME/PROTO" from the services file, or "port N/PROTO". */
void imp_port_comment(const struct svcnames *s, int port, const char *proto, char *out,
                      size_t size);
/* A host name or address to one numeric address (the first getaddrinfo answer, as
 * xinetd and inetd take it). Returns 0, or -1 (*why set). */
int imp_resolve_host(const char *host, char *out, size_t size, const char **why);
/* The file a banner names must exist here (unless --other-host). Returns 0 or 1. */
int imp_check_file(struct imp_ctx *c, const char *what, const char *path, const char *file,
                   int line);
/* Makes name fit superserverd's rule (letters, digits, _ . -; at most 64). */
void imp_fix_name(char *name);
/* --bind and --port, then the checks against the services already in set: a name
 * or an address used twice is an error and the service is left out. Takes s over.
 * Returns 0, or -1 for memory. */
int imp_finish(struct imp_ctx *c, struct imp_set *set, struct imp_svc *s);

#endif
