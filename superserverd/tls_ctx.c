/*
 * Building a TLS server's OpenSSL contexts from its settings, in the master: one per
 * certificate (the default and each sni entry's), alike in everything else, so that
 * switching context on the server name changes the certificate only. The settings no
 * listener should go without are fixed here: TLS 1.2 at least, no renegotiation, no
 * compression, no 0-RTT, the server's cipher order, stateless resumption by tickets.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/x509.h>

#include "superserverd/tls_int.h"

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_index_init(void)
{
	ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

int tls_ctx_attach(SSL_CTX *ctx, const struct tls_server *ts)
{
	pthread_once(&ex_once, ex_index_init);
	if (ex_index < 0)
		return -1;
	return SSL_CTX_set_ex_data(ctx, ex_index, (void *)ts) == 1 ? 0 : -1;
}

const struct tls_server *tls_ctx_server(const SSL_CTX *ctx)
{
	return ex_index < 0 ? NULL : SSL_CTX_get_ex_data(ctx, ex_index);
}

/* A context is refused only for what was reported at a key; OpenSSL failing where no
 * key is at fault (memory) is reported at the certificate. */
static void oom(struct diag *d, const struct tls_file_conf *f)
{
	diag_error(d, &f->at.pos, "%s: out of memory (building the TLS context)", f->at.key);
	ERR_clear_error();
}

/* Whether the colon-separated TLS 1.3 names in LIST are each known to OpenSSL (which
 * takes a list with one good name and ignores the rest). NAME_R: the first unknown. */
static bool suites_known(const char *list, char *bad, size_t badlen)
{
	SSL_CTX *probe = SSL_CTX_new(TLS_server_method());
	char *copy = strdup(list), *save = NULL;
	bool ok = probe && copy;

	bad[0] = '\0';
	for (char *s = ok ? strtok_r(copy, ":", &save) : NULL; s && ok;
	     s = strtok_r(NULL, ":", &save))
		if (SSL_CTX_set_ciphersuites(probe, s) != 1) {
			snprintf(bad, badlen, "%s", s);
			ok = false;
		}
	ERR_clear_error();
	SSL_CTX_free(probe);
	free(copy);
	return ok;
}

/* Whether CTX offers any cipher for protocol version V. */
static bool has_cipher_for(SSL_CTX *ctx, int v)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);

	for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		bool tls13 = strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0;
		if (tls13 == (v == TLS1_3_VERSION))
			return true;
	}
	return false;
}

static int set_ciphers(SSL_CTX *ctx, const struct tls_conf *tc, struct diag *d)
{
	char bad[128];

	if (tc->ciphers &&
	    (SSL_CTX_set_cipher_list(ctx, tc->ciphers) != 1 ||
	     ((tc->protocols & TLS_PROTO_TLS12) && !has_cipher_for(ctx, TLS1_2_VERSION)))) {
		diag_error(d, &tc->ciphers_at.pos,
		           "%s: OpenSSL finds no TLS 1.2 cipher in '%s' (see ciphers(1))",
		           tc->ciphers_at.key, tc->ciphers);
		ERR_clear_error();
		return -1;
	}
	if (tc->ciphersuites) {
		if (!suites_known(tc->ciphersuites, bad, sizeof(bad)) ||
		    SSL_CTX_set_ciphersuites(ctx, tc->ciphersuites) != 1) {
			diag_error(d, &tc->ciphersuites_at.pos,
			           "%s: unknown TLS 1.3 ciphersuite '%s' (expected names such as "
			           "TLS_AES_128_GCM_SHA256, separated by ':')",
			           tc->ciphersuites_at.key, bad[0] ? bad : tc->ciphersuites);
			ERR_clear_error();
			return -1;
		}
		if ((tc->protocols & TLS_PROTO_TLS13) && !has_cipher_for(ctx, TLS1_3_VERSION)) {
			diag_error(d, &tc->ciphersuites_at.pos,
			           "%s: no TLS 1.3 ciphersuite left while protocols has TLSv1.3",
			           tc->ciphersuites_at.key);
			return -1;
		}
	}
	return 0;
}

/* The settings every context of a server shares. */
static int set_common(SSL_CTX *ctx, const struct tls_conf *tc, const struct tls_server *ts,
                      STACK_OF(X509) * ca)
{
	static const unsigned char sid[] = "superserverd";
	int mode = SSL_VERIFY_NONE;

	if (!SSL_CTX_set_min_proto_version(
	            ctx, (tc->protocols & TLS_PROTO_TLS12) ? TLS1_2_VERSION : TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, (tc->protocols & TLS_PROTO_TLS13) ? TLS1_3_VERSION
	                                                                          : TLS1_2_VERSION))
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Tickets are the only resumption: a per-process cache would miss whenever the
	 * client lands on another process of the service. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!SSL_CTX_set_max_early_data(ctx, 0) || !SSL_CTX_set_num_tickets(ctx, 1) ||
	    !SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1))
		return -1;
	if (ca) {
		X509_STORE *store = SSL_CTX_get_cert_store(ctx);
		STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
		if (!names)
			return -1;
		SSL_CTX_set_client_CA_list(ctx, names); /* owned by ctx from here */
		for (int i = 0; i < sk_X509_num(ca); i++)
			if (!X509_STORE_add_cert(store, sk_X509_value(ca, i)) ||
			    !SSL_CTX_add_client_CA(ctx, sk_X509_value(ca, i)))
				return -1;
	}
	if (tc->verify_client == TLS_VERIFY_OPTIONAL)
		mode = SSL_VERIFY_PEER;
	else if (tc->verify_client == TLS_VERIFY_REQUIRE)
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	if (tls_ctx_attach(ctx, ts) < 0)
		return -1;
	tls_select_install(ctx, ts);
	tls_ticket_install(ctx);
	return 0;
}

static char *subject_of(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL, *data;
	long n;

	if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) >= 0)
		s = strndup(data, (size_t)n);
	BIO_free(b);
	return s;
}

/* The certificate (with the chain the file holds after it), the chain file and the
 * key into CTX; C's description filled in. */
static int load_cert(SSL_CTX *ctx, const struct tls_file_conf *cert,
                     const struct tls_file_conf *key, const struct tls_file_conf *chain,
                     EVP_MD_CTX *md, struct tls_cert *c, struct diag *d)
{
	STACK_OF(X509) *certs = NULL, *extra = NULL;
	EVP_PKEY *pk = NULL;
	int r = -1;

	if (tls_pem_certs(cert, md, d, &certs) < 0)
		certs = NULL;
	if (chain->path && tls_pem_certs(chain, md, d, &extra) < 0)
		extra = NULL;
	if (tls_pem_key(key, md, d, &pk) < 0 || !certs || (chain->path && !extra))
		goto out;
	X509 *leaf = sk_X509_value(certs, 0);
	if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
		diag_error(d, &cert->at.pos, "%s: OpenSSL refuses the certificate '%s': %s",
		           cert->at.key, cert->path,
		           ERR_reason_error_string(ERR_peek_last_error()));
		ERR_clear_error();
		goto out;
	}
	for (int i = 1; i < sk_X509_num(certs); i++)
		if (!SSL_CTX_add1_chain_cert(ctx, sk_X509_value(certs, i))) {
			oom(d, cert);
			goto out;
		}
	for (int i = 0; extra && i < sk_X509_num(extra); i++)
		if (!SSL_CTX_add1_chain_cert(ctx, sk_X509_value(extra, i))) {
			oom(d, chain);
			goto out;
		}
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		diag_error(d, &key->at.pos, "%s: the key '%s' does not match the certificate '%s'",
		           key->at.key, key->path, cert->path);
		ERR_clear_error();
		goto out;
	}
	tls_pem_expiry(cert, leaf, d, &c->not_after);
	c->subject = subject_of(leaf);
	c->path = strdup(cert->path);
	if (!c->subject || !c->path) {
		oom(d, cert);
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(pk);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(extra, X509_free);
	return r;
}

static int alpn_wire(struct tls_server *ts, const struct tls_conf *tc)
{
	size_t len = 0;

	for (size_t i = 0; i < tc->n_alpn; i++)
		len += 1 + strlen(tc->alpn[i]);
	if (!tc->n_alpn)
		return 0;
	if (!(ts->alpn = malloc(len)))
		return -1;
	for (size_t i = 0; i < tc->n_alpn; i++) {
		size_t n = strlen(tc->alpn[i]);
		ts->alpn[ts->alpn_len++] = (unsigned char)n;
		memcpy(ts->alpn + ts->alpn_len, tc->alpn[i], n);
		ts->alpn_len += n;
	}
	return 0;
}

static char **dup_names(char *const *names, size_t n)
{
	char **v = calloc(n + 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++)
		if (!(v[i] = strdup(names[i]))) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return NULL;
		}
	return v;
}

/* Certificate I of TS: the default (0) or sni entry I - 1. Returns 0, -1 after
 * reporting, or -2 for a cipher string (the same for every certificate: said once). */
static int build_cert(struct tls_server *ts, size_t i, const struct tls_conf *tc,
                      STACK_OF(X509) * ca, EVP_MD_CTX *md, struct diag *d)
{
	const struct tls_sni_conf *s = i ? &tc->sni[i - 1] : NULL;
	const struct tls_file_conf *cert = s ? &s->certificate : &tc->certificate;
	struct tls_cert *c = &ts->certs[i];

	if (!(c->ctx = SSL_CTX_new(TLS_server_method()))) {
		oom(d, cert);
		return -1;
	}
	if (s) {
		if (!(c->names = (const char *const *)dup_names(s->names, s->n_names))) {
			oom(d, cert);
			return -1;
		}
		c->n_names = s->n_names;
	}
	if (set_ciphers(c->ctx, tc, d) < 0)
		return -2;
	if (set_common(c->ctx, tc, ts, ca) < 0) {
		oom(d, cert);
		return -1;
	}
	return load_cert(c->ctx, cert, s ? &s->key : &tc->key, s ? &s->chain : &tc->chain, md, c,
	                 d);
}

/* The servers built and not freed: a process forked from the master holds them all. */
static struct tls_server *registry;

static void registry_add(struct tls_server *ts)
{
	ts->reg_next = registry;
	if (registry)
		registry->reg_prev = ts;
	registry = ts;
}

static void registry_remove(struct tls_server *ts)
{
	if (ts->reg_prev)
		ts->reg_prev->reg_next = ts->reg_next;
	else if (registry == ts)
		registry = ts->reg_next;
	if (ts->reg_next)
		ts->reg_next->reg_prev = ts->reg_prev;
	ts->reg_prev = ts->reg_next = NULL;
}

int tls_server_build(const struct tls_conf *tc, struct diag *diag, struct tls_server **ts_r)
{
	size_t errors = diag_count(diag);
	struct tls_server *ts = calloc(1, sizeof(*ts));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	STACK_OF(X509) *ca = NULL;

	*ts_r = NULL;
	if (!ts || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    !(ts->certs = calloc(1 + tc->n_sni, sizeof(*ts->certs))) || tls_ticket_init(ts) < 0 ||
	    alpn_wire(ts, tc) < 0) {
		oom(diag, &tc->certificate);
		goto fail;
	}
	ts->n_certs = 1 + tc->n_sni;
	ts->handshake_timeout_usec = tc->handshake_timeout_usec;
	if (tc->verify_client != TLS_VERIFY_NONE && !tc->client_ca.path)
		diag_error(diag, &tc->verify_at.pos,
		           "%s: verify_client: %s needs client_ca (the CAs client certificates "
		           "must be issued by)",
		           tc->verify_at.key,
		           tc->verify_client == TLS_VERIFY_OPTIONAL ? "optional" : "require");
	else if (tc->client_ca.path && tc->verify_client == TLS_VERIFY_NONE)
		diag_warning(diag, &tc->client_ca.at.pos,
		             "%s: client_ca is not used with verify_client: none",
		             tc->client_ca.at.key);
	if (tc->client_ca.path && tc->verify_client != TLS_VERIFY_NONE &&
	    tls_pem_certs(&tc->client_ca, md, diag, &ca) < 0)
		ca = NULL;
	for (size_t i = 0; i < ts->n_certs; i++)
		if (build_cert(ts, i, tc, ca, md, diag) == -2)
			break;
	sk_X509_pop_free(ca, X509_free);
	if (diag_count(diag) > errors || EVP_DigestFinal_ex(md, ts->digest, NULL) != 1)
		goto fail;
	EVP_MD_CTX_free(md);
	registry_add(ts);
	*ts_r = ts;
	return 0;
fail:
	EVP_MD_CTX_free(md);
	tls_server_free(ts);
	return -1;
}

/* Frees what TS holds of certificates, keys and secrets; TS stays, empty. */
static void empty(struct tls_server *ts)
{
	for (size_t i = 0; ts->certs && i < ts->n_certs; i++) {
		struct tls_cert *c = &ts->certs[i];
		SSL_CTX_free(c->ctx);
		free(c->path);
		free(c->subject);
		for (size_t k = 0; k < c->n_names; k++)
			free((char *)c->names[k]);
		free((void *)c->names);
	}
	free(ts->certs);
	ts->certs = NULL;
	ts->n_certs = 0;
	EVP_KDF_free(ts->kdf);
	ts->kdf = NULL;
	OPENSSL_cleanse(ts->ticket_secret, sizeof(ts->ticket_secret));
}

struct tls_server *tls_server_free(struct tls_server *ts)
{
	if (!ts)
		return NULL;
	registry_remove(ts);
	empty(ts);
	free(ts->alpn);
	free(ts);
	return NULL;
}

size_t tls_server_keep_only(struct tls_server *const *keep, size_t n_keep)
{
	size_t n = 0;

	for (struct tls_server *ts = registry; ts; ts = ts->reg_next) {
		bool kept = false;

		for (size_t i = 0; i < n_keep && !kept; i++)
			kept = keep[i] == ts;
		if (kept || !ts->certs)
			continue;
		empty(ts);
		n++;
	}
	return n;
}

SSL_CTX *tls_server_ctx(const struct tls_server *ts)
{
	return ts->certs[0].ctx;
}

uint64_t tls_server_handshake_timeout_usec(const struct tls_server *ts)
{
	return ts->handshake_timeout_usec;
}

size_t tls_server_n_certs(const struct tls_server *ts)
{
	return ts->n_certs;
}

void tls_server_cert(const struct tls_server *ts, size_t i, struct tls_cert_info *info_r)
{
	const struct tls_cert *c = &ts->certs[i];

	*info_r = (struct tls_cert_info){.path = c->path,
	                                 .subject = c->subject,
	                                 .names = c->names,
	                                 .n_names = c->n_names,
	                                 .not_after = c->not_after};
}

void tls_server_digest(const struct tls_server *ts, char hex_r[65])
{
	for (size_t i = 0; i < sizeof(ts->digest); i++)
		snprintf(hex_r + 2 * i, 3, "%02x", ts->digest[i]);
}
