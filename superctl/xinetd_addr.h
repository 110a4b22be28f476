/*
 * xinetd's address forms in only_from and no_access, turned into the CIDRs of
 * superserverd's access lists: a.b.c.d/n, IPv6 addresses and prefixes, plain addresses,
 * trailing-zero wildcards (128.138.12.0 is the /24) and factorized a.b.c.{d,e}.
 * Host, domain and network names need DNS at connection time: they are not mapped.
 */
#ifndef SUPERCTL_XINETD_ADDR_H
#define SUPERCTL_XINETD_ADDR_H

#include "superctl/imp_model.h"

/* Appends the CIDRs of one word to out. Returns 0 (mapped; *note may say how), 1 (not
 * mappable: *note says why), or -1 (memory). */
int xi_addr_cidrs(const char *word, struct imp_strv *out, const char **note);

#endif
