/*
 * TLS termination through the real daemon under the event and threadpool models:
 * echo with exact bytes both ways and 16 MiB with equal SHA-256, the certificate SNI
 * chooses, mutual TLS (require, optional, a certificate from another CA), a client
 * that stalls mid-handshake timed out and holding no thread, a plaintext client on a
 * TLS port refused, and close_notify at a clean end. The certificates (ECDSA P-256)
 * are made at test time with the openssl command; the client is OpenSSL's C API, and
 * `openssl s_client` checks the certificate SNI chooses as a real client sees it.
 */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "harness.h"
#include "harness_ctl.h"

#define BIG (16u * 1024 * 1024)

static char pki_dir[64]; /* made in main, before Check forks the test cases */
static struct daemon d;
/* Echo under event and threadpool, both with SNI; the stall services (handshake_timeout
 * 1s; tphold 60s, one thread); mutual TLS require (event) and optional (threadpool). */
static int p_ev, p_tp, p_evstall, p_tpstall, p_tphold, p_req, p_opt, p_evb, p_tpb, p_evdeny,
        p_tpdeny, p_evpx, p_tppx;

/* Makes NAME.key and NAME.pem (CN=NAME) in pki_dir, issued by ISSUER (NULL: a CA of its
 * own), with NAME as subjectAltName too when SAN. */
static void pki_cert(const char *name, const char *issuer, bool san)
{
	char cmd[1024], by[160] = "", alt[128] = "";

	if (issuer)
		/* v3_req: CA:FALSE for a leaf. */
		snprintf(by, sizeof(by), "-CA %s.pem -CAkey %s.key -extensions v3_req", issuer,
		         issuer);
	if (san)
		snprintf(alt, sizeof(alt), "-addext subjectAltName=DNS:%s", name);
	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-days 30 %s -keyout %s.key -out %s.pem -subj /CN=%s %s 2>/dev/null",
	         pki_dir, by, name, name, name, alt);
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		abort();
	}
}

static void pki_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki_dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void pki_make(void)
{
	strcpy(pki_dir, "/tmp/ss-tlsit.XXXXXX");
	if (!mkdtemp(pki_dir))
		abort();
	pki_cert("ca", NULL, false);
	pki_cert("stranger-ca", NULL, false);
	pki_cert("localhost", "ca", true);
	pki_cert("other.test", "ca", true);
	pki_cert("alice", "ca", false);
	pki_cert("mallory", "stranger-ca", false);
	pki_file("banner", "hello\r\n");
	pki_file("motd", "welcome\r\n");
	pki_file("refused", "refused\r\n");
}

static void pki_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", pki_dir);
}

static void start(void)
{
	char tls[512], ca[256];

	p_ev = h_free_port();
	p_tp = h_free_port();
	p_evstall = h_free_port();
	p_tpstall = h_free_port();
	p_tphold = h_free_port();
	p_req = h_free_port();
	p_opt = h_free_port();
	p_evb = h_free_port();
	p_tpb = h_free_port();
	p_evdeny = h_free_port();
	p_tpdeny = h_free_port();
	p_evpx = h_free_port();
	p_tppx = h_free_port();
	snprintf(tls, sizeof(tls),
	         "certificate: %s/localhost.pem, key: %s/localhost.key, sni: [{names: "
	         "[other.test], certificate: %s/other.test.pem, key: %s/other.test.key}]",
	         pki_dir, pki_dir, pki_dir, pki_dir);
	snprintf(ca, sizeof(ca), "client_ca: %s/ca.pem", pki_dir);
	ck_assert_int_eq(
	        h_start(&d,
	                "services:\n"
	                "  ev: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "mpm: {model: event, workers: 1}}\n"
	                "  tp: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "mpm: {model: threadpool, processes: 1, threads: 2}}\n"
	                "  evstall: {listen: [{address: '127.0.0.1:%d', tls: {%s, "
	                "handshake_timeout: 1s}}], builtin: echo, mpm: {model: event, workers: "
	                "1}}\n"
	                "  tpstall: {listen: [{address: '127.0.0.1:%d', tls: {%s, "
	                "handshake_timeout: 1s}}], builtin: echo, mpm: {model: threadpool, "
	                "processes: 1, threads: 1}}\n"
	                "  tphold: {listen: [{address: '127.0.0.1:%d', tls: {%s, "
	                "handshake_timeout: 60s}}], builtin: echo, mpm: {model: threadpool, "
	                "processes: 1, threads: 1, queue: 0}}\n"
	                "  req: {listen: [{address: '127.0.0.1:%d', tls: {%s, %s, verify_client: "
	                "require}}], builtin: echo, mpm: {model: event, workers: 1}}\n"
	                "  opt: {listen: [{address: '127.0.0.1:%d', tls: {%s, %s, verify_client: "
	                "optional}}], builtin: echo, mpm: {model: threadpool, processes: 1, "
	                "threads: 2}}\n"
	                "  evb: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "banner: %s/banner, banner_success: %s/motd, mpm: {model: event}}\n"
	                "  tpb: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "banner: %s/banner, banner_success: %s/motd, mpm: {model: threadpool}}\n"
	                "  evdeny: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "banner_fail: %s/refused, access: {deny: [127.0.0.0/8]}, mpm: {model: "
	                "event}}\n"
	                "  tpdeny: {listen: [{address: '127.0.0.1:%d', tls: {%s}}], builtin: echo, "
	                "banner_fail: %s/refused, access: {deny: [127.0.0.0/8]}, mpm: {model: "
	                "threadpool}}\n"
	                "  evpx: {listen: [{address: '127.0.0.1:%d', tls: {%s}, proxy_protocol: "
	                "true, "
	                "trusted_proxies: [127.0.0.0/8]}], builtin: echo, banner_fail: %s/refused, "
	                "access: {deny: [192.0.2.0/24]}, mpm: {model: event}}\n"
	                "  tppx: {listen: [{address: '127.0.0.1:%d', tls: {%s}, proxy_protocol: "
	                "true, "
	                "trusted_proxies: [127.0.0.0/8]}], builtin: echo, banner_fail: %s/refused, "
	                "access: {deny: [192.0.2.0/24]}, mpm: {model: threadpool}}\n",
	                p_ev, tls, p_tp, tls, p_evstall, tls, p_tpstall, tls, p_tphold, tls, p_req,
	                tls, ca, p_opt, tls, ca, p_evb, tls, pki_dir, pki_dir, p_tpb, tls, pki_dir,
	                pki_dir, p_evdeny, tls, pki_dir, p_tpdeny, tls, pki_dir, p_evpx, tls,
	                pki_dir, p_tppx, tls, pki_dir),
	        0);
}

static void stop(void)
{
	ck_assert_int_eq(h_stop(&d), 0);
}

struct tcli {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

static void tcli_free(struct tcli *t)
{
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	if (t->fd >= 0)
		close(t->fd);
	*t = (struct tcli){.fd = -1};
}

/* Waits (deadline) for what SSL error E asks for on T's non-blocking socket. */
static bool tcli_wait(struct tcli *t, int e)
{
	struct pollfd pfd = {.fd = t->fd, .events = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};

	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		return false;
	return poll(&pfd, 1, 20000) == 1;
}

/* A TLS client to PORT asking for SNI (NULL: none), verifying the server against our CA,
 * presenting CERT's certificate (NULL: none), after sending BEFORE (a PROXY header) in
 * plaintext. Returns whether the handshake completed
 * (under TLS 1.3 a refused client certificate shows only at the first read). */
static bool tcli_open_after(struct tcli *t, int port, const char *before, const char *sni,
                            const char *cert)
{
	char path[128];
	int r;

	*t = (struct tcli){.fd = h_connect("127.0.0.1", port)};
	ck_assert_int_ge(t->fd, 0);
	if (before)
		ck_assert_int_eq(h_write_all(t->fd, before, strlen(before)), 0);
	ck_assert_int_eq(fcntl(t->fd, F_SETFL, O_NONBLOCK), 0);
	t->ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(t->ctx);
	snprintf(path, sizeof(path), "%s/ca.pem", pki_dir);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(t->ctx, path, NULL), 1);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (cert) {
		snprintf(path, sizeof(path), "%s/%s.pem", pki_dir, cert);
		ck_assert_int_eq(SSL_CTX_use_certificate_file(t->ctx, path, SSL_FILETYPE_PEM), 1);
		snprintf(path, sizeof(path), "%s/%s.key", pki_dir, cert);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(t->ctx, path, SSL_FILETYPE_PEM), 1);
	}
	t->ssl = SSL_new(t->ctx);
	ck_assert_ptr_nonnull(t->ssl);
	SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_fd(t->ssl, t->fd);
	if (sni)
		ck_assert_int_eq(SSL_set_tlsext_host_name(t->ssl, sni), 1);
	while ((r = SSL_connect(t->ssl)) != 1)
		if (!tcli_wait(t, SSL_get_error(t->ssl, r)))
			break;
	ERR_clear_error();
	return r == 1;
}

static bool tcli_open(struct tcli *t, int port, const char *sni, const char *cert)
{
	return tcli_open_after(t, port, NULL, sni, cert);
}

/*
 * Sends LEN bytes of BUF (NULL: LEN bytes of a pattern) while reading what comes back
 * into OUT (OUT_CAP bytes; NULL: only hashed into SHA-256 MD_R), then sends close_notify and
 * reads to the end. Returns the bytes read; *clean_r tells whether the server ended
 * with close_notify.
 */
static size_t tcli_exchange(struct tcli *t, const char *buf, size_t len, char *out, size_t out_cap,
                            unsigned char md_r[32], bool *clean_r)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	static char chunk[64 * 1024], in[64 * 1024];
	size_t sent = 0, got = 0;
	bool shut = false;
	long long end = h_now_ms() + 120000;

	*clean_r = false;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(i * 7 + (i >> 9));
	ck_assert_ptr_nonnull(md);
	ck_assert_int_eq(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	while (h_now_ms() < end) {
		struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
		int n, e;

		if (sent < len) {
			const char *from = buf ? buf + sent : chunk + sent % sizeof(chunk);
			size_t want = len - sent;
			if (!buf && want > sizeof(chunk) - sent % sizeof(chunk))
				want = sizeof(chunk) - sent % sizeof(chunk);
			n = SSL_write(t->ssl, from, (int)want);
			if (n > 0) {
				sent += (size_t)n;
				continue;
			}
			e = SSL_get_error(t->ssl, n);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				break; /* refused (a client certificate), or the server is gone */
			if (e == SSL_ERROR_WANT_WRITE)
				pfd.events |= POLLOUT;
		} else if (!shut) {
			/* Our half-close: the echo ends once it has sent everything back. */
			SSL_shutdown(t->ssl);
			shut = true;
		}
		n = SSL_read(t->ssl, in, sizeof(in));
		if (n > 0) {
			if (out && got + (size_t)n <= out_cap)
				memcpy(out + got, in, (size_t)n);
			got += (size_t)n;
			EVP_DigestUpdate(md, in, (size_t)n);
			continue;
		}
		e = SSL_get_error(t->ssl, n);
		if (e == SSL_ERROR_ZERO_RETURN) {
			*clean_r = true;
			break;
		}
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break; /* an end without close_notify, or refused */
		(void)poll(&pfd, 1, 1000);
	}
	ERR_clear_error();
	ck_assert_int_eq(EVP_DigestFinal_ex(md, md_r, NULL), 1);
	EVP_MD_CTX_free(md);
	return got;
}

/* One echo of exact bytes over TLS: true when they all came back, the end clean. */
static bool tls_echoes(int port, const char *sni, const char *cert)
{
	static const char msg[] = "TLS echo \x00\x01\xff\r\n\x7f end";
	char back[sizeof(msg)];
	unsigned char md[32];
	struct tcli t;
	bool clean = false, ok;

	if (!tcli_open(&t, port, sni, cert)) {
		tcli_free(&t);
		return false;
	}
	ok = tcli_exchange(&t, msg, sizeof(msg), back, sizeof(back), md, &clean) == sizeof(msg) &&
	     memcmp(back, msg, sizeof(msg)) == 0 && clean;
	tcli_free(&t);
	return ok;
}

static void sha256_pattern(size_t len, unsigned char md_r[32])
{
	static char chunk[64 * 1024];
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(i * 7 + (i >> 9));
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t off = 0; off < len; off += sizeof(chunk))
		EVP_DigestUpdate(md, chunk, len - off < sizeof(chunk) ? len - off : sizeof(chunk));
	EVP_DigestFinal_ex(md, md_r, NULL);
	EVP_MD_CTX_free(md);
}

static void big_echo(int port)
{
	unsigned char want[32], got_md[32];
	struct tcli t;
	bool clean;

	sha256_pattern(BIG, want);
	ck_assert(tcli_open(&t, port, "localhost", NULL));
	ck_assert_uint_eq(tcli_exchange(&t, NULL, BIG, NULL, 0, got_md, &clean), BIG);
	ck_assert(clean);
	ck_assert_mem_eq(got_md, want, sizeof(want));
	tcli_free(&t);
}

START_TEST(echo_event)
{
	ck_assert(tls_echoes(p_ev, "localhost", NULL));
	ck_assert(tls_echoes(p_ev, NULL, NULL)); /* no SNI: the default certificate */
	big_echo(p_ev);
}
END_TEST

START_TEST(echo_threadpool)
{
	ck_assert(tls_echoes(p_tp, "localhost", NULL));
	big_echo(p_tp);
}
END_TEST

/* The banners go to a TLS client through TLS, after the handshake, before the echo. */
START_TEST(banners_through_tls)
{
	static const char msg[] = "ping\r\n", want[] = "hello\r\nwelcome\r\nping\r\n";
	int ports[] = {p_evb, p_tpb};

	for (int i = 0; i < 2; i++) {
		char back[sizeof(want)] = "";
		unsigned char md[32];
		struct tcli t;
		bool clean;

		ck_assert(tcli_open(&t, ports[i], "localhost", NULL));
		ck_assert_uint_eq(
		        tcli_exchange(&t, msg, sizeof(msg) - 1, back, sizeof(back), md, &clean),
		        sizeof(want) - 1);
		ck_assert_str_eq(back, want);
		ck_assert(clean);
		tcli_free(&t);
	}
}
END_TEST

/* A client that sends BEFORE (NULL: nothing) is told "refused" (banner_fail) and closed,
 * without a handshake. */
static void told_refused(int port, const char *before)
{
	char buf[64];
	int fd = h_connect("127.0.0.1", port);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	if (before)
		ck_assert_int_eq(h_write_all(fd, before, strlen(before)), 0);
	n = h_read_all(fd, buf, sizeof(buf) - 1, 30000);
	ck_assert_int_eq(n, 9);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "refused\r\n");
	close(fd);
}

/* Admission comes before the handshake: a denied client, which sends nothing, is told so
 * at once (in plaintext) rather than waited for. */
START_TEST(refused_before_handshake)
{
	int ports[] = {p_evdeny, p_tpdeny};

	for (int i = 0; i < 2; i++)
		told_refused(ports[i], NULL);
}
END_TEST

/* A PROXY header comes first, then admission for the client it names, then the handshake. */
START_TEST(proxy_header_then_handshake)
{
	static const char msg[] = "behind a proxy\r\n";
	static const char denied[] = "PROXY TCP4 192.0.2.9 127.0.0.1 4000 443\r\n";
	int ports[] = {p_evpx, p_tppx};

	for (int i = 0; i < 2; i++) {
		char back[sizeof(msg)] = "";
		unsigned char md[32];
		struct tcli t;
		bool clean;

		ck_assert(tcli_open_after(&t, ports[i],
		                          "PROXY TCP4 198.51.100.7 127.0.0.1 4000 443\r\n",
		                          "localhost", NULL));
		ck_assert_uint_eq(
		        tcli_exchange(&t, msg, sizeof(msg), back, sizeof(back), md, &clean),
		        sizeof(msg));
		ck_assert_mem_eq(back, msg, sizeof(msg));
		tcli_free(&t);
		/* The client it names is denied: told so before any handshake. */
		told_refused(ports[i], denied);
	}
}
END_TEST

/* The subject CN of the certificate the server presents for SNI. */
static void peer_cn(int port, const char *sni, char *cn, size_t cap)
{
	struct tcli t;
	X509 *x;

	ck_assert(tcli_open(&t, port, sni, NULL));
	x = SSL_get1_peer_certificate(t.ssl);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_gt(
	        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cap),
	        0);
	X509_free(x);
	tcli_free(&t);
}

START_TEST(sni_chooses_certificate)
{
	int ports[] = {p_ev, p_tp};
	char cn[64];

	for (int i = 0; i < 2; i++) {
		peer_cn(ports[i], "other.test", cn, sizeof(cn));
		ck_assert_str_eq(cn, "other.test");
		peer_cn(ports[i], "localhost", cn, sizeof(cn));
		ck_assert_str_eq(cn, "localhost");
		ck_assert(tls_echoes(ports[i], "other.test", NULL));
	}
}
END_TEST

/* The real client: openssl s_client sees the SNI certificate, verified. */
START_TEST(s_client_sni)
{
	char cmd[512], out[8192];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd),
	         "timeout 60 openssl s_client -connect 127.0.0.1:%d -servername other.test "
	         "-CAfile %s/ca.pem -verify_return_error </dev/null 2>&1",
	         p_tp, pki_dir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	ck_assert_msg(strstr(out, "subject=CN = other.test"), "%s", out);
	ck_assert_msg(strstr(out, "Verify return code: 0 (ok)"), "%s", out);
}
END_TEST

START_TEST(mutual_require)
{
	ck_assert(tls_echoes(p_req, "localhost", "alice"));
	ck_assert(!tls_echoes(p_req, "localhost", NULL));
	ck_assert(!tls_echoes(p_req, "localhost", "mallory"));
	ck_assert(tls_echoes(p_req, "localhost", "alice")); /* still served */
}
END_TEST

START_TEST(mutual_optional)
{
	ck_assert(tls_echoes(p_opt, "localhost", "alice"));
	ck_assert(tls_echoes(p_opt, "localhost", NULL));
	ck_assert(!tls_echoes(p_opt, "localhost", "mallory"));
}
END_TEST

/* Connects and sends the start of a TLS record, then nothing. */
static int stall(int port)
{
	static const char part[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
	int fd = h_connect("127.0.0.1", port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, part, sizeof(part)), 0);
	return fd;
}

/* The server closed FD without a byte: EOF or a reset, seen before the deadline. */
static bool closed_silently(int fd, int timeout_ms)
{
	char buf[64];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* handshake_timeout: 1s closes a stalled handshake, under both models. */
START_TEST(stalled_handshake_times_out)
{
	int ports[] = {p_evstall, p_tpstall};

	for (int i = 0; i < 2; i++) {
		int fd = stall(ports[i]);
		ck_assert_msg(closed_silently(fd, 30000), "port %d", ports[i]);
		close(fd);
		ck_assert(tls_echoes(ports[i], "localhost", NULL));
	}
}
END_TEST

/* One thread, no queue, and stalled handshakes that could last a minute: clients are
 * served while they wait, so none holds the thread. */
START_TEST(stalled_handshake_holds_no_thread)
{
	int fds[4];

	for (int i = 0; i < 4; i++)
		fds[i] = stall(p_tphold);
	for (int i = 0; i < 3; i++)
		ck_assert(tls_echoes(p_tphold, "localhost", NULL));
	for (int i = 0; i < 4; i++) {
		ck_assert(!closed_silently(fds[i], 0)); /* still in their handshake */
		close(fds[i]);
	}
}
END_TEST

/* SERVICE's TLS counter: `handshakes` (REASON NULL) or the failures for REASON. */
static long long tls_count(const char *service, const char *reason)
{
	json_t *reply = hc_call(&d, "stats", service);
	json_t *t = json_object_get(hc_service(reply, service), "tls");
	long long n =
	        reason ? hc_int(json_object_get(t, "failures"), reason) : hc_int(t, "handshakes");

	json_decref(reply);
	return n;
}

/* A plaintext client on a TLS port is closed without an answer, and counted as not-tls;
 * TLS clients go on, and their handshakes are counted. */
START_TEST(plaintext_refused)
{
	int ports[] = {p_ev, p_tp};
	const char *names[] = {"ev", "tp"};

	for (int i = 0; i < 2; i++) {
		int fd = h_connect("127.0.0.1", ports[i]);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(h_write_all(fd, "hello\r\n", 7), 0);
		ck_assert_msg(closed_silently(fd, 30000), "port %d", ports[i]);
		close(fd);
		ck_assert(H_DEADLINE_WAIT(tls_count(names[i], "not-tls") == 1, 30000));
		ck_assert(tls_echoes(ports[i], "localhost", NULL));
		ck_assert(H_DEADLINE_WAIT(tls_count(names[i], NULL) == 1, 30000));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls (daemon)");
	TCase *tc = tcase_create("tls");
	int failed;

	pki_make();
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(tc, echo_event);
	tcase_add_test(tc, echo_threadpool);
	tcase_add_test(tc, banners_through_tls);
	tcase_add_test(tc, refused_before_handshake);
	tcase_add_test(tc, proxy_header_then_handshake);
	tcase_add_test(tc, sni_chooses_certificate);
	tcase_add_test(tc, s_client_sni);
	tcase_add_test(tc, mutual_require);
	tcase_add_test(tc, mutual_optional);
	tcase_add_test(tc, stalled_handshake_times_out);
	tcase_add_test(tc, stalled_handshake_holds_no_thread);
	tcase_add_test(tc, plaintext_refused);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pki_remove();
	return failed ? 1 : 0;
}
