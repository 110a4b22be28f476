/*
 * The PROXY protocol (HAProxy), versions 1 (text) and 2 (binary): a load balancer in
 * front of a service sends a header before the client's bytes that names the real client.
 * proxy_parse() is pure; the two readers take a header off a socket without ever
 * consuming a byte that follows it, so the service sees the client's stream unchanged.
 */
#ifndef SUPERSERVERD_PROXY_H
#define SUPERSERVERD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest header accepted: the 16 fixed bytes of v2 plus 520 bytes of address block.
 * 520 holds the largest address block (AF_UNIX, 216 bytes) with 304 bytes of TLVs left,
 * enough for the TLVs proxies send in practice (ALPN, authority, CRC32C, unique ID up to
 * 128 bytes, a short SSL block). A bound keeps the per-connection buffer small and stops a
 * peer from making us wait for 64 KiB it announced; v1 lines are at most 107 bytes. */
#define PROXY_V2_FIXED   16
#define PROXY_MAX_HEADER (PROXY_V2_FIXED + 520)
#define PROXY_V1_MAX     107

enum proxy_result { PROXY_ERROR = -1, PROXY_NEED_MORE = 0, PROXY_DONE = 1 };

struct proxy_header {
	int version; /* 1 or 2 */
	/* v2 LOCAL or UNSPEC, or v1 UNKNOWN: no addresses, keep the real peer. */
	bool local;
	/* SOCK_STREAM or SOCK_DGRAM; v1 TCP4/TCP6 is SOCK_STREAM; 0 if unknown (local). */
	int transport;
	struct sockaddr_storage src, dst; /* AF_INET, AF_INET6 or AF_UNIX unless local */
	socklen_t src_len, dst_len;       /* 0 when local */
	size_t length;                    /* bytes the header occupies */
};

/*
 * Parses the LEN bytes seen so far from the start of a connection. Returns PROXY_DONE with
 * H filled (the bytes after h->length belong to the application), PROXY_NEED_MORE when the
 * bytes are a proper prefix of a valid header, or PROXY_ERROR with a message in ERR.
 * Input that cannot become a header is refused as soon as that is certain (one byte when
 * it is neither 'P' nor '\r'), so a client that does not speak the protocol is not waited
 * for. NEED_MORE is never returned for PROXY_MAX_HEADER bytes or more.
 */
int proxy_parse(const uint8_t *buf, size_t len, struct proxy_header *h, char *err, size_t errlen);

/*
 * Reads a header from a connected stream socket, blocking or not, waiting at most
 * TIMEOUT_USEC in all. Returns PROXY_DONE with H filled and exactly h->length bytes
 * consumed, or PROXY_ERROR with ERR (a bad header, the timeout, EOF, a socket error).
 */
int proxy_read_blocking(int fd, uint64_t timeout_usec, struct proxy_header *h, char *err,
                        size_t errlen);

/* State of the non-blocking reader: the header bytes already consumed. */
struct proxy_reader {
	uint8_t buf[PROXY_MAX_HEADER];
	size_t len;
};

void proxy_reader_init(struct proxy_reader *r);

/*
 * One step of the non-blocking reader, for the event model: call it when FD is readable.
 * It reads until the socket has nothing more (so edge-triggered epoll is fine) and returns
 * PROXY_NEED_MORE (wait for readability again), PROXY_DONE, or PROXY_ERROR with ERR.
 * Exactly h->length bytes are consumed: on DONE the application bytes that came with the
 * header may already be waiting in the socket, and under EPOLLET no new event announces
 * them, so the caller must try to read the connection at once.
 */
int proxy_read_step(int fd, struct proxy_reader *r, struct proxy_header *h, char *err,
                    size_t errlen);

/*
 * Writes the header a proxy sends in front of a client's bytes: VERSION 1 or 2, naming
 * SRC (the client) and DST (the address it reached). Inet and inet6 addresses are named
 * (IPv4-mapped ones as IPv4; a mix of families as one: v1 TCP6, v2 AF_INET6); any other
 * family, or none, gives the header that names no one (v1 UNKNOWN, v2 UNSPEC). Returns
 * the header's length (at most PROXY_V1_MAX or PROXY_V2_FIXED + 36), or -1 when CAP is
 * too small or VERSION unknown. Pure, in proxy_write.c.
 */
int proxy_write(int version, const struct sockaddr *src, socklen_t src_len,
                const struct sockaddr *dst, socklen_t dst_len, uint8_t *buf, size_t cap);

#endif
