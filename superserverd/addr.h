/*
 * Listening addresses as written in the configuration: "HOST:PORT" (IPv4),
 * "[V6]:PORT", "*:PORT" (all IPv4), "unix:/path" and "systemd:NAME" are stream
 * sockets ("tcp:" may be written in front of an inet address); "udp:HOST:PORT",
 * "udp:[V6]:PORT" and "unixgram:/path" are datagram sockets. PORT is a number or a
 * service name ("rsync"), which the caller's lookup turns into one. Pure parsing and
 * formatting, no sockets and no files: unit-tested on its own.
 */
#ifndef SUPERSERVERD_ADDR_H
#define SUPERSERVERD_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum addr_kind { ADDR_INET, ADDR_INET6, ADDR_UNIX, ADDR_SYSTEMD };

struct addr {
	enum addr_kind kind;
	/* SOCK_STREAM or SOCK_DGRAM; 0 for SYSTEMD, whose type is the passed socket's. */
	int socktype;
	struct sockaddr_storage sa; /* INET, INET6, UNIX */
	socklen_t salen;
	char name[256]; /* SYSTEMD: the FileDescriptorName */
	/* Canonical text: equal keys mean the same listening socket, e.g. "127.0.0.1:7",
	 * "[::1]:7", "unix:/run/x.sock", "systemd:echo", "udp:127.0.0.1:7",
	 * "unixgram:/run/x.sock". A datagram key always carries its type, so a stream and a
	 * datagram socket on one port are never taken for each other (nor in the fd store,
	 * whose names are made from keys). */
	char key[8 + 256 + 108];
};

/* Parses TEXT. Returns 0, or -1 with a message for the user in err. */
int addr_parse(const char *text, struct addr *a, char *err, size_t errlen);

/*
 * Turns service NAME into a port for SOCKTYPE (SOCK_STREAM: tcp, SOCK_DGRAM: udp).
 * Returns 0, or -1 with why into err (quoted after "invalid address 'TEXT': ").
 */
typedef int (*addr_port_lookup)(void *ctx, const char *name, int socktype, unsigned *port_r,
                                char *err, size_t errlen);

/* addr_parse, where a port may also be a service name that LOOKUP resolves; the key
 * holds the number, so a name and its number are one socket. LOOKUP NULL: numbers only. */
int addr_parse_named(const char *text, addr_port_lookup lookup, void *ctx, struct addr *a,
                     char *err, size_t errlen);

/* "127.0.0.1:80", "[::1]:80", "unix:/path" for a sockaddr (e.g. a peer). */
void addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);
/* The numeric host and port of an inet/inet6 sockaddr; -1 for other families.
 * An IPv4-mapped IPv6 address is shown as IPv4. */
int addr_host_port(const struct sockaddr *sa, socklen_t len, char *host, size_t hostlen,
                   unsigned *port);

#endif
