/*
 * PROXY protocol v1/v2 parser and socket readers, written from the HAProxy specification
 * (proxy-protocol.txt). The parser is incremental and strict: it fails as soon as the
 * bytes seen cannot begin a valid header, and otherwise asks for more (see proxy.h).
 */
#include "superserverd/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_magic[] = "PROXY ";

#define V1_MAGIC_LEN (sizeof(v1_magic) - 1)
/* The longest IPv4 and IPv6 texts inet_pton can accept (INET*_ADDRSTRLEN - 1). */
#define V1_ADDR4_MAX 15
#define V1_ADDR6_MAX 45
#define V1_PORT_MAX  5

/* v2 address block sizes (src + dst addresses, then the ports for inet). */
#define V2_INET_LEN  12
#define V2_INET6_LEN 36
#define V2_UNIX_LEN  216
#define V2_TLV_HDR   3

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Writes the message (if there is room for one) and returns PROXY_ERROR. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return PROXY_ERROR;
}

/* Bytes from the wire shown in a message: log lines must stay printable, and a peer's
 * 100-byte garbage is not worth quoting in full. */
static void quote(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < outlen; i++)
		out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	if (i < n && o >= 3)
		out[o - 3] = out[o - 2] = out[o - 1] = '.';
	out[o] = '\0';
}

/* ---- v1 ---- */

struct v1 {
	const uint8_t *p;
	size_t len; /* bytes we look at: at most PROXY_V1_MAX, the rest cannot be the line */
	size_t pos;
	char *err;
	size_t errlen;
};

/* The bytes ran out in a state where more could complete the line. Past the length limit
 * they cannot: the limit counts the CRLF, so a line without one by then never ends. */
static int v1_more(struct v1 *c)
{
	if (c->len >= PROXY_V1_MAX)
		return fail(c->err, c->errlen, "v1 line longer than %d bytes", PROXY_V1_MAX);
	return PROXY_NEED_MORE;
}

/* The token at pos, up to the next space, CR or LF. Returns false when the bytes end
 * first (the token is partial), else stores the terminator. pos is not moved. */
static bool v1_token(const struct v1 *c, size_t *tlen, uint8_t *term)
{
	size_t i;

	for (i = c->pos; i < c->len; i++) {
		if (c->p[i] == ' ' || c->p[i] == '\r' || c->p[i] == '\n') {
			*tlen = i - c->pos;
			*term = c->p[i];
			return true;
		}
	}
	*tlen = c->len - c->pos;
	return false;
}

/* After a CR at pos: the line is complete once an LF follows. */
static int v1_crlf(struct v1 *c)
{
	if (c->pos + 1 >= c->len)
		return v1_more(c);
	if (c->p[c->pos + 1] != '\n')
		return fail(c->err, c->errlen, "v1: CR not followed by LF");
	c->pos += 2;
	return PROXY_DONE;
}

static int v1_lf_only(struct v1 *c)
{
	return fail(c->err, c->errlen, "v1: line ends with LF only (CRLF required)");
}

enum v1_field { F_SRC, F_DST, F_SPORT, F_DPORT, F_COUNT };

static const char *const v1_field_name[F_COUNT] = {"source address", "destination address",
                                                   "source port", "destination port"};

static bool v1_addr_char(int family, uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return true;
	if (ch == '.')
		return true;
	if (family == AF_INET6)
		return ch == ':' || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
	return false;
}

/* Checks an address token, complete or not (a partial one only for what it already
 * shows), and for a complete one fills the address part of SA. */
static int v1_addr(struct v1 *c, int family, enum v1_field f, size_t tlen, bool complete,
                   struct sockaddr_storage *sa, socklen_t *salen)
{
	const uint8_t *t = c->p + c->pos;
	size_t max = family == AF_INET ? V1_ADDR4_MAX : V1_ADDR6_MAX;
	char text[V1_ADDR6_MAX + 1], shown[64];
	bool ok = tlen <= max;

	for (size_t i = 0; ok && i < tlen; i++)
		ok = v1_addr_char(family, t[i]);
	if (ok && complete) {
		memcpy(text, t, tlen);
		text[tlen] = '\0';
		memset(sa, 0, sizeof(*sa));
		if (family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)sa;
			sin->sin_family = AF_INET;
			ok = inet_pton(AF_INET, text, &sin->sin_addr) == 1;
			*salen = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
			sin6->sin6_family = AF_INET6;
			ok = inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1;
			*salen = sizeof(*sin6);
		}
	}
	if (ok)
		return PROXY_DONE;
	quote(t, tlen, shown, sizeof(shown));
	return fail(c->err, c->errlen, "v1: bad %s '%s'", v1_field_name[f], shown);
}

/* Checks a port token: decimal, no sign, no leading zero unless it is "0", <= 65535. */
static int v1_port(struct v1 *c, enum v1_field f, size_t tlen, bool complete, uint16_t *port)
{
	const uint8_t *t = c->p + c->pos;
	unsigned long v = 0;
	char shown[64];
	size_t i;

	for (i = 0; i < tlen && i <= V1_PORT_MAX; i++) {
		if (t[i] < '0' || t[i] > '9')
			break;
		v = v * 10 + (unsigned)(t[i] - '0');
	}
	if (i < tlen && i <= V1_PORT_MAX) {
		quote(t, tlen, shown, sizeof(shown));
		return fail(c->err, c->errlen, "v1: bad %s '%s'", v1_field_name[f], shown);
	}
	if (tlen > 1 && t[0] == '0') {
		quote(t, tlen, shown, sizeof(shown));
		return fail(c->err, c->errlen, "v1: bad %s '%s' (leading zero)", v1_field_name[f],
		            shown);
	}
	/* The loop read up to six digits: six are out of range whatever follows, so there is
	 * no need to wait for the rest. */
	if (v > 65535) {
		quote(t, tlen, shown, sizeof(shown));
		return fail(c->err, c->errlen, "v1: port out of range: %s '%s'", v1_field_name[f],
		            shown);
	}
	if (complete)
		*port = (uint16_t)v;
	return PROXY_DONE;
}

static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/* The four fields after "PROXY TCP4 " or "PROXY TCP6 ". */
static int v1_tcp(struct v1 *c, int family, struct proxy_header *h)
{
	uint16_t ports[2] = {0, 0};

	for (int f = 0; f < F_COUNT; f++) {
		size_t tlen;
		uint8_t term = 0;
		bool complete = v1_token(c, &tlen, &term);
		int r;

		if (complete && term == '\n')
			return v1_lf_only(c);
		if (complete && tlen == 0) {
			if (term == ' ')
				return fail(c->err, c->errlen, "v1: extra space before the %s",
				            v1_field_name[f]);
			return fail(c->err, c->errlen, "v1: missing %s", v1_field_name[f]);
		}
		if (f == F_SRC || f == F_DST)
			r = v1_addr(c, family, f, tlen, complete, f == F_SRC ? &h->src : &h->dst,
			            f == F_SRC ? &h->src_len : &h->dst_len);
		else
			r = v1_port(c, f, tlen, complete, &ports[f - F_SPORT]);
		if (r != PROXY_DONE)
			return r;
		if (!complete)
			return v1_more(c);
		c->pos += tlen;
		if (f < F_DPORT && term != ' ')
			return fail(c->err, c->errlen, "v1: missing %s", v1_field_name[f + 1]);
		if (f == F_DPORT && term != '\r')
			return fail(c->err, c->errlen, "v1: unexpected data after the %s",
			            v1_field_name[f]);
		if (f < F_DPORT)
			c->pos++;
	}
	int r = v1_crlf(c);
	if (r != PROXY_DONE)
		return r;
	set_port(&h->src, ports[0]);
	set_port(&h->dst, ports[1]);
	h->transport = SOCK_STREAM;
	return PROXY_DONE;
}

/* "PROXY UNKNOWN" then, optionally, a space and anything up to the CRLF, which the
 * specification tells receivers to ignore. */
static int v1_unknown(struct v1 *c, uint8_t term, struct proxy_header *h)
{
	h->local = true;
	if (term == ' ') {
		while (++c->pos < c->len && c->p[c->pos] != '\r') {
			if (c->p[c->pos] == '\n')
				return v1_lf_only(c);
		}
		if (c->pos >= c->len)
			return v1_more(c);
	}
	return v1_crlf(c);
}

static int parse_v1(const uint8_t *buf, size_t len, struct proxy_header *h, char *err,
                    size_t errlen)
{
	struct v1 c = {.p = buf,
	               .len = len < PROXY_V1_MAX ? len : PROXY_V1_MAX,
	               .err = err,
	               .errlen = errlen};
	static const char *const families[] = {"TCP4", "TCP6", "UNKNOWN"};
	size_t tlen, n = len < V1_MAGIC_LEN ? len : V1_MAGIC_LEN;
	uint8_t term = 0;
	bool complete;
	int fam = -1;
	char shown[64];
	int r;

	if (memcmp(buf, v1_magic, n) != 0)
		return fail(err, errlen, "not a PROXY protocol header");
	if (len < V1_MAGIC_LEN)
		return PROXY_NEED_MORE;
	c.pos = V1_MAGIC_LEN;
	complete = v1_token(&c, &tlen, &term);
	/* A partial keyword must be a prefix of one of them, a complete one equal to it. */
	for (int i = 0; i < 3; i++) {
		size_t klen = strlen(families[i]);
		if (complete ? tlen == klen : tlen <= klen) {
			if (memcmp(buf + c.pos, families[i], tlen) == 0)
				fam = i;
		}
	}
	if (complete && term == '\n')
		return v1_lf_only(&c);
	if (complete && tlen == 0 && term == ' ')
		return fail(err, errlen, "v1: extra space before the protocol family");
	if (fam < 0) {
		quote(buf + c.pos, tlen, shown, sizeof(shown));
		return fail(err, errlen, "v1: unknown protocol family '%s'", shown);
	}
	if (!complete)
		return v1_more(&c);
	c.pos += tlen;
	h->version = 1;
	if (fam == 2)
		r = v1_unknown(&c, term, h);
	else if (term != ' ')
		return fail(err, errlen, "v1: missing source address");
	else {
		c.pos++;
		r = v1_tcp(&c, fam == 0 ? AF_INET : AF_INET6, h);
	}
	if (r == PROXY_DONE)
		h->length = c.pos;
	return r;
}

/* ---- v2 ---- */

static int v2_family_size(uint8_t fam, const char **name)
{
	switch (fam >> 4) {
	case 1:
		*name = "AF_INET";
		return V2_INET_LEN;
	case 2:
		*name = "AF_INET6";
		return V2_INET6_LEN;
	default:
		*name = "AF_UNIX";
		return V2_UNIX_LEN;
	}
}

/* A v2 unix address is a 108-byte path padded with NULs; the socklen is what the kernel
 * would report for that name, so formatting shows the path and not the padding. */
static socklen_t v2_unix(const uint8_t *p, struct sockaddr_storage *sa)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)sa;
	size_t off = offsetof(struct sockaddr_un, sun_path), n;

	_Static_assert(sizeof(sun->sun_path) == V2_UNIX_LEN / 2, "sun_path is 108 bytes");
	memset(sa, 0, sizeof(*sa));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, p, sizeof(sun->sun_path));
	if (p[0] != '\0') {
		n = strnlen(sun->sun_path, sizeof(sun->sun_path));
		return (socklen_t)(off + n + (n < sizeof(sun->sun_path)));
	}
	/* Abstract: the name runs to the last non-NUL byte; all NULs is an unnamed socket,
	 * whose length is the family alone. */
	for (n = sizeof(sun->sun_path); n > 0 && p[n - 1] == '\0'; n--)
		;
	return (socklen_t)(off + n);
}

static void v2_inet(const uint8_t *p, struct proxy_header *h)
{
	struct sockaddr_in *s = (struct sockaddr_in *)&h->src, *d = (struct sockaddr_in *)&h->dst;

	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	s->sin_family = d->sin_family = AF_INET;
	/* Addresses and ports are in network order on the wire, as in sockaddr_in. */
	memcpy(&s->sin_addr, p, 4);
	memcpy(&d->sin_addr, p + 4, 4);
	memcpy(&s->sin_port, p + 8, 2);
	memcpy(&d->sin_port, p + 10, 2);
	h->src_len = h->dst_len = sizeof(struct sockaddr_in);
}

static void v2_inet6(const uint8_t *p, struct proxy_header *h)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
	struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;

	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	s->sin6_family = d->sin6_family = AF_INET6;
	memcpy(&s->sin6_addr, p, 16);
	memcpy(&d->sin6_addr, p + 16, 16);
	memcpy(&s->sin6_port, p + 32, 2);
	memcpy(&d->sin6_port, p + 34, 2);
	h->src_len = h->dst_len = sizeof(struct sockaddr_in6);
}

/* The TLVs after the addresses are not used, but they must tile the rest of the block
 * exactly: a TLV that runs past it means the sender and we disagree on the layout. */
static int v2_tlvs(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	size_t i = 0;

	while (i < n) {
		if (n - i < V2_TLV_HDR)
			return fail(err, errlen, "v2: truncated TLV header (%zu bytes left)",
			            n - i);
		size_t vlen = (size_t)p[i + 1] << 8 | p[i + 2];
		if (vlen > n - i - V2_TLV_HDR)
			return fail(err, errlen,
			            "v2: TLV type 0x%02x overruns the header (%zu bytes declared, "
			            "%zu left)",
			            p[i], vlen, n - i - V2_TLV_HDR);
		i += V2_TLV_HDR + vlen;
	}
	return PROXY_DONE;
}

static int parse_v2(const uint8_t *buf, size_t len, struct proxy_header *h, char *err,
                    size_t errlen)
{
	size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	const char *fname = "";
	size_t blen, total, need = 0;
	uint8_t ver, cmd, fam = 0;
	bool local;

	if (memcmp(buf, v2_sig, n) != 0)
		return fail(err, errlen, "not a PROXY protocol header");
	if (len <= 12)
		return PROXY_NEED_MORE;
	ver = buf[12] >> 4;
	cmd = buf[12] & 0x0f;
	if (ver != 2)
		return fail(err, errlen, "v2: unsupported version %u", ver);
	if (cmd > 1)
		return fail(err, errlen, "v2: unsupported command 0x%x", cmd);
	local = cmd == 0;
	if (len <= 13)
		return PROXY_NEED_MORE;
	if (!local) {
		fam = buf[13];
		switch (fam) {
		case 0x00: /* UNSPEC: use the real peer, like LOCAL */
			local = true;
			break;
		case 0x11: /* TCP over IPv4 */
		case 0x12: /* UDP over IPv4 */
		case 0x21:
		case 0x22:
		case 0x31: /* unix stream */
		case 0x32:
			need = (size_t)v2_family_size(fam, &fname);
			break;
		default:
			return fail(err, errlen,
			            "v2: unsupported address family and transport 0x%02x", fam);
		}
	}
	if (len < PROXY_V2_FIXED)
		return PROXY_NEED_MORE;
	blen = (size_t)buf[14] << 8 | buf[15];
	total = PROXY_V2_FIXED + blen;
	if (total > PROXY_MAX_HEADER)
		return fail(err, errlen, "v2: header length %zu exceeds the limit %d", total,
		            PROXY_MAX_HEADER);
	if (blen < need)
		return fail(err, errlen,
		            "v2: address block too short for %s (%zu bytes needed, %zu given)",
		            fname, need, blen);
	if (len < total)
		return PROXY_NEED_MORE;

	h->version = 2;
	h->length = total;
	/* LOCAL and UNSPEC: the specification says to ignore the whole address block, so
	 * neither the family nor the TLVs are looked at. */
	if (local) {
		h->local = true;
		return PROXY_DONE;
	}
	const uint8_t *p = buf + PROXY_V2_FIXED;
	switch (fam >> 4) {
	case 1:
		v2_inet(p, h);
		break;
	case 2:
		v2_inet6(p, h);
		break;
	default:
		h->src_len = v2_unix(p, &h->src);
		h->dst_len = v2_unix(p + V2_UNIX_LEN / 2, &h->dst);
		break;
	}
	h->transport = (fam & 0x0f) == 1 ? SOCK_STREAM : SOCK_DGRAM;
	if (v2_tlvs(p + need, blen - need, err, errlen) != PROXY_DONE) {
		/* The caller must not see half a result with an error. */
		memset(h, 0, sizeof(*h));
		return PROXY_ERROR;
	}
	return PROXY_DONE;
}

int proxy_parse(const uint8_t *buf, size_t len, struct proxy_header *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if (err && errlen)
		err[0] = '\0';
	if (len == 0)
		return PROXY_NEED_MORE;
	/* The two versions part at the first byte: a v1 line starts with 'P', v2 with CR. */
	if (buf[0] == 'P')
		return parse_v1(buf, len, h, err, errlen);
	if (buf[0] == v2_sig[0])
		return parse_v2(buf, len, h, err, errlen);
	return fail(err, errlen, "not a PROXY protocol header");
}

/* ---- readers ---- */

/*
 * Takes header bytes off FD into BUF (*LEN already there) without ever consuming a byte
 * past the header: it peeks at what the socket holds, and consumes either exactly the
 * rest of a complete header, or, while the header is incomplete, everything peeked (all
 * of which is then header). Consuming what was seen is what keeps a paused peer from
 * spinning poll: the socket is empty again, so it stops being readable.
 * Returns PROXY_NEED_MORE when the socket has nothing more for now.
 * Messages use %m, not strerror(): threadpool workers read headers concurrently.
 */
static int pull(int fd, uint8_t *buf, size_t *len, struct proxy_header *h, char *err, size_t errlen)
{
	for (;;) {
		ssize_t n = recv(fd, buf + *len, PROXY_MAX_HEADER - *len, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return PROXY_NEED_MORE;
		if (n < 0)
			return fail(err, errlen, "reading the PROXY header: %m");
		if (n == 0)
			return fail(err, errlen, "connection closed before the PROXY header ended");

		int r = proxy_parse(buf, *len + (size_t)n, h, err, errlen);
		if (r == PROXY_ERROR)
			return r;
		/* NEED_MORE means the header is longer than all we have seen. */
		size_t take = r == PROXY_DONE ? h->length - *len : (size_t)n;
		while (take > 0) {
			ssize_t got = recv(fd, buf + *len, take, MSG_DONTWAIT);
			if (got < 0 && errno == EINTR)
				continue;
			/* The bytes were peeked, so they are there: anything else is a
			 * socket error (or someone else reading it). */
			if (got < 0)
				return fail(err, errlen, "reading the PROXY header: %m");
			if (got == 0)
				return fail(err, errlen,
				            "reading the PROXY header: unexpected EOF");
			*len += (size_t)got;
			take -= (size_t)got;
		}
		if (r == PROXY_DONE)
			return r;
	}
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int proxy_read_blocking(int fd, uint64_t timeout_usec, struct proxy_header *h, char *err,
                        size_t errlen)
{
	uint8_t buf[PROXY_MAX_HEADER];
	size_t len = 0;
	uint64_t deadline = now_usec() + timeout_usec;

	for (;;) {
		int r = pull(fd, buf, &len, h, err, errlen);
		if (r != PROXY_NEED_MORE)
			return r;

		uint64_t now = now_usec();
		if (now >= deadline)
			break;
		uint64_t ms = (deadline - now + 999) / 1000; /* round up: never wake early */
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
		if (pr < 0 && errno != EINTR)
			return fail(err, errlen, "waiting for the PROXY header: %m");
		/* On readiness, HUP or ERR alike the next recv tells what happened. */
	}
	return fail(err, errlen, "no PROXY header within %llu ms",
	            (unsigned long long)(timeout_usec / 1000));
}

void proxy_reader_init(struct proxy_reader *r)
{
	r->len = 0;
}

int proxy_read_step(int fd, struct proxy_reader *r, struct proxy_header *h, char *err,
                    size_t errlen)
{
	return pull(fd, r->buf, &r->len, h, err, errlen);
}
