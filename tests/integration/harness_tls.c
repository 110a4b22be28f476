/* The TLS helpers of the integration tests (harness_tls.h). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "harness.h"
#include "harness_ctl.h"
#include "harness_tls.h"

static char pki_dir[64];

/* Issues srv.pem and srv.key under the CA, written beside and renamed into place. */
static int issue_server(long serial)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-days 30 -CA ca.pem -CAkey ca.key -extensions v3_req -set_serial %ld "
	         "-keyout srv.key.new -out srv.pem.new -subj /CN=localhost "
	         "-addext subjectAltName=" HT_SERVER_NAMES " 2>/dev/null && chmod 0644 "
	         "srv.key.new && mv srv.key.new srv.key && mv srv.pem.new srv.pem",
	         pki_dir, serial);
	return system(cmd) == 0 ? 0 : -1;
}

int ht_pki_renew(long serial)
{
	return issue_server(serial);
}

/* Makes NAME.key and NAME.pem with SUBJECT, as ht_pki_cert. */
static void make_cert(const char *name, const char *subject, const char *issuer, bool san)
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
	         "-days 30 %s -keyout %s.key -out %s.pem -subj '%s' %s 2>/dev/null",
	         pki_dir, by, name, name, subject, alt);
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		abort();
	}
}

void ht_pki_cert(const char *name, const char *issuer, bool san)
{
	char subject[128];

	snprintf(subject, sizeof(subject), "/CN=%s", name);
	make_cert(name, subject, issuer, san);
}

void ht_pki_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki_dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

void ht_pki_make(void)
{
	strcpy(pki_dir, "/tmp/ss-tlsit.XXXXXX");
	if (!mkdtemp(pki_dir) || chmod(pki_dir, 0755) < 0)
		abort();
	ht_pki_cert("ca", NULL, false);
	ht_pki_cert("localhost", "ca", true);
	ht_pki_cert("other.test", "ca", true);
	make_cert("alice", HT_ALICE_SUBJECT, "ca", false);
	if (issue_server(1) < 0)
		abort();
}

const char *ht_pki(void)
{
	return pki_dir;
}

void ht_pki_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", pki_dir);
}

int ht_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	ht_pki_remove();
	return failed;
}

void ht_tls_map(char *buf, size_t cap)
{
	snprintf(buf, cap,
	         "certificate: %s/localhost.pem, key: %s/localhost.key, sni: [{names: "
	         "[other.test], certificate: %s/other.test.pem, key: %s/other.test.key}]",
	         pki_dir, pki_dir, pki_dir, pki_dir);
}

long long ht_tls_count(struct daemon *d, const char *service, const char *failure)
{
	json_t *reply = hc_call(d, "stats", service);
	json_t *t = json_object_get(hc_service(reply, service), "tls");
	long long n =
	        failure ? hc_int(json_object_get(t, "failures"), failure) : hc_int(t, "handshakes");

	json_decref(reply);
	return n;
}

void ht_run(const char *cmd, char *out, size_t cap)
{
	FILE *f = popen(cmd, "r");
	size_t len = 0, n;

	ck_assert_ptr_nonnull(f);
	while (len < cap - 1 && (n = fread(out + len, 1, cap - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	ck_assert_msg(pclose(f) == 0, "failed: %s\noutput: %s", cmd, out);
}

SSL_CTX *ht_client_ctx(const char *cert)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char path[128];

	if (!ctx)
		return NULL;
	snprintf(path, sizeof(path), "%s/ca.pem", pki_dir);
	if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert) {
		snprintf(path, sizeof(path), "%s/%s.pem", pki_dir, cert);
		if (SSL_CTX_use_certificate_file(ctx, path, SSL_FILETYPE_PEM) != 1)
			goto fail;
		snprintf(path, sizeof(path), "%s/%s.key", pki_dir, cert);
		if (SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1)
			goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* What ht_exchange sends when it is given no bytes, repeated. */
static void pattern(char *chunk, size_t len)
{
	for (size_t i = 0; i < len; i++)
		chunk[i] = (char)(i * 7 + (i >> 9));
}

void ht_close(struct ht_client *t)
{
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	if (t->fd >= 0)
		close(t->fd);
	*t = (struct ht_client){.fd = -1};
}

/* Waits (deadline) for what SSL error E asks for on T's non-blocking socket. */
static bool wait_for(struct ht_client *t, int e)
{
	struct pollfd pfd = {.fd = t->fd, .events = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};

	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		return false;
	return poll(&pfd, 1, 20000) == 1;
}

bool ht_open_after(struct ht_client *t, int port, const char *before, const char *sni,
                   const char *cert)
{
	int r;

	*t = (struct ht_client){.fd = h_connect("127.0.0.1", port)};
	ck_assert_int_ge(t->fd, 0);
	if (before)
		ck_assert_int_eq(h_write_all(t->fd, before, strlen(before)), 0);
	ck_assert_int_eq(fcntl(t->fd, F_SETFL, O_NONBLOCK), 0);
	t->ctx = ht_client_ctx(cert);
	ck_assert_ptr_nonnull(t->ctx);
	t->ssl = SSL_new(t->ctx);
	ck_assert_ptr_nonnull(t->ssl);
	SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_fd(t->ssl, t->fd);
	if (sni)
		ck_assert_int_eq(SSL_set_tlsext_host_name(t->ssl, sni), 1);
	while ((r = SSL_connect(t->ssl)) != 1)
		if (!wait_for(t, SSL_get_error(t->ssl, r)))
			break;
	ERR_clear_error();
	return r == 1;
}

bool ht_open(struct ht_client *t, int port, const char *sni, const char *cert)
{
	return ht_open_after(t, port, NULL, sni, cert);
}

size_t ht_exchange(struct ht_client *t, const char *buf, size_t len, char *out, size_t out_cap,
                   unsigned char md_r[32], bool *clean_r)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	static char chunk[64 * 1024], in[64 * 1024];
	size_t sent = 0, got = 0;
	bool shut = false;
	long long end = h_now_ms() + 120000;

	*clean_r = false;
	pattern(chunk, sizeof(chunk));
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

bool ht_talk(int port, const char *sni, const char *msg, char *buf, size_t cap)
{
	struct ht_client t;
	unsigned char md[32];
	bool clean = false;
	size_t len = 0;

	if (ht_open(&t, port, sni, NULL))
		len = ht_exchange(&t, msg, strlen(msg), buf, cap - 1, md, &clean);
	ht_close(&t);
	ck_assert_uint_lt(len, cap - 1);
	buf[len] = '\0';
	return clean;
}

bool ht_echoes(int port, const char *sni, const char *cert)
{
	static const char msg[] = "TLS echo \x00\x01\xff\r\n\x7f end";
	char back[sizeof(msg)];
	unsigned char md[32];
	struct ht_client t;
	bool clean = false, ok;

	if (!ht_open(&t, port, sni, cert)) {
		ht_close(&t);
		return false;
	}
	ok = ht_exchange(&t, msg, sizeof(msg), back, sizeof(back), md, &clean) == sizeof(msg) &&
	     memcmp(back, msg, sizeof(msg)) == 0 && clean;
	ht_close(&t);
	return ok;
}

void ht_pattern_sha256(size_t len, unsigned char md_r[32])
{
	static char chunk[64 * 1024];
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	pattern(chunk, sizeof(chunk));
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t off = 0; off < len; off += sizeof(chunk))
		EVP_DigestUpdate(md, chunk, len - off < sizeof(chunk) ? len - off : sizeof(chunk));
	EVP_DigestFinal_ex(md, md_r, NULL);
	EVP_MD_CTX_free(md);
}
