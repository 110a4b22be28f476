/*
 * Address prefixes (CIDR) for access lists, trusted proxies and per-source grouping:
 * parsing "10.0.0.0/8", "::1/128", "192.0.2.7" (a host), matching a peer address
 * (an IPv4-mapped IPv6 peer matches IPv4 rules), and masking an address to a prefix.
 * Pure functions, unit-tested on their own.
 */
#ifndef SUPERSERVERD_CIDR_H
#define SUPERSERVERD_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; IPv4 in the first 4 bytes; host bits zero */
	unsigned prefix;  /* 0..32 or 0..128 */
};

/* Returns 0, or -1 with a message ("prefix 33 is out of range for IPv4 (0-32)", ...). */
int cidr_parse(const char *text, struct cidr *c, char *err, size_t errlen);
/* "10.0.0.0/8", "::1/128". */
void cidr_format(const struct cidr *c, char *buf, size_t len);

/* The address of an inet/inet6 sockaddr as a family + 16 bytes, IPv4-mapped IPv6
 * turned into IPv4. Returns 0, or -1 for other families. */
int cidr_from_sockaddr(const struct sockaddr *sa, socklen_t len, int *family_r, uint8_t addr_r[16]);
bool cidr_contains(const struct cidr *c, int family, const uint8_t addr[16]);
/* The length (0..128) of the longest prefix among list[0..n) that contains the address,
 * or -1 when none does: comparing an allow list's answer with a deny list's picks the
 * more specific rule. */
int cidr_longest_match(const struct cidr *list, size_t n, int family, const uint8_t addr[16]);
/* Clears the bits of ADDR past PREFIX (capped at the family's width): a per-source key. */
void cidr_mask(int family, uint8_t addr[16], unsigned prefix);

#endif
