/*
 * libFuzzer target for the PROXY protocol parser. Besides "never crash" (ASan and UBSan
 * watch the memory), it checks what the readers rely on: a result for the whole input
 * and for each of its prefixes that agree (NEED_MORE, then DONE with one length or ERROR
 * for good), a header length inside the input and the limit, and addresses of a family
 * the rest of the daemon can format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <arpa/inet.h>

#include "superserverd/proxy.h"
#include "tests/fuzz/fuzz.h"

static void check_addr(const struct sockaddr_storage *ss, socklen_t len)
{
	switch (ss->ss_family) {
	case AF_INET:
		CHECK(len == sizeof(struct sockaddr_in));
		break;
	case AF_INET6:
		CHECK(len == sizeof(struct sockaddr_in6));
		break;
	case AF_UNIX:
		CHECK(len >= offsetof(struct sockaddr_un, sun_path));
		CHECK(len <= sizeof(struct sockaddr_un));
		break;
	default:
		CHECK(0); /* a family other than inet, inet6, unix */
	}
}

static void check_result(int r, const struct proxy_header *h, size_t size, const char *err,
                         size_t errlen)
{
	CHECK(r == PROXY_ERROR || r == PROXY_NEED_MORE || r == PROXY_DONE);
	CHECK(memchr(err, '\0', errlen) != NULL);
	if (r == PROXY_ERROR)
		CHECK(err[0] != '\0');
	if (r == PROXY_NEED_MORE)
		CHECK(size < PROXY_MAX_HEADER);
	if (r != PROXY_DONE)
		return;
	CHECK(h->length <= size);
	CHECK(h->length <= PROXY_MAX_HEADER);
	CHECK(h->length >= 15); /* "PROXY UNKNOWN\r\n" is the shortest header */
	CHECK(h->version == 1 || h->version == 2);
	if (h->version == 1)
		CHECK(h->length <= PROXY_V1_MAX);
	if (h->local) {
		CHECK(h->src_len == 0 && h->dst_len == 0 && h->transport == 0);
		return;
	}
	CHECK(h->transport == SOCK_STREAM || h->transport == SOCK_DGRAM);
	check_addr(&h->src, h->src_len);
	check_addr(&h->dst, h->dst_len);
	CHECK(h->src.ss_family == h->dst.ss_family);
}

/* A v1 TCP4 line is canonical under the strict grammar: printing the result again must
 * give back the very bytes that were accepted. */
static void check_v1_tcp4(const uint8_t *data, const struct proxy_header *h)
{
	const struct sockaddr_in *s = (const struct sockaddr_in *)&h->src;
	const struct sockaddr_in *d = (const struct sockaddr_in *)&h->dst;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], line[PROXY_V1_MAX + 1];

	if (h->version != 1 || h->local || s->sin_family != AF_INET)
		return;
	inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
	inet_ntop(AF_INET, &d->sin_addr, b, sizeof(b));
	int n = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", a, b, ntohs(s->sin_port),
	                 ntohs(d->sin_port));
	CHECK(n > 0 && (size_t)n == h->length);
	CHECK(memcmp(line, data, h->length) == 0);
}

/* v2: the length is the one the fixed part announces, and an accepted PROXY header's
 * TLVs tile the rest of its block exactly (a second, independent walk). */
static void check_v2(const uint8_t *data, const struct proxy_header *h)
{
	static const size_t addr_len[4] = {0, 12, 36, 216};

	if (h->version != 2)
		return;
	CHECK(h->length == 16 + ((size_t)data[14] << 8 | data[15]));
	if (h->local)
		return;
	CHECK(data[12] == 0x21);
	size_t i = 16 + addr_len[(data[13] >> 4) & 3];
	CHECK(i <= h->length);
	while (i < h->length) {
		CHECK(h->length - i >= 3);
		i += 3 + ((size_t)data[i + 1] << 8 | data[i + 2]);
	}
	CHECK(i == h->length);
}

static void check_same(const struct proxy_header *a, const struct proxy_header *b)
{
	CHECK(a->version == b->version && a->local == b->local && a->transport == b->transport);
	CHECK(a->length == b->length && a->src_len == b->src_len && a->dst_len == b->dst_len);
	CHECK(memcmp(&a->src, &b->src, sizeof(a->src)) == 0);
	CHECK(memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header whole, h;
	char err[128];
	int r = proxy_parse(data, size, &whole, err, sizeof(err));

	check_result(r, &whole, size, err, sizeof(err));
	if (r == PROXY_DONE) {
		check_v1_tcp4(data, &whole);
		check_v2(data, &whole);
	}

	/* Every prefix: NEED_MORE until the verdict, then the same verdict for good. The
	 * parser never looks past PROXY_MAX_HEADER bytes, so longer prefixes add nothing. */
	size_t last = size < PROXY_MAX_HEADER + 1 ? size : PROXY_MAX_HEADER + 1;
	int seen = PROXY_NEED_MORE;
	for (size_t k = 0; k <= last; k++) {
		int p = proxy_parse(data, k, &h, err, sizeof(err));
		check_result(p, &h, k, err, sizeof(err));
		if (seen == PROXY_NEED_MORE)
			seen = p;
		else
			CHECK(p == seen);
		if (r == PROXY_DONE) {
			CHECK(p == (k < whole.length ? PROXY_NEED_MORE : PROXY_DONE));
			if (p == PROXY_DONE)
				check_same(&h, &whole);
		} else {
			CHECK(p != PROXY_DONE);
		}
	}
	CHECK(seen == r);

	/* The error buffer may be tiny: the message is cut, still a string. */
	char tiny[4];
	proxy_parse(data, size, &h, tiny, sizeof(tiny));
	CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL);
	return 0;
}
