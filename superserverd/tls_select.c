/*
 * What a handshake selects from the client's hello: the certificate by server name
 * (an exact sni name first, then a "*.domain" wildcard, else the default certificate)
 * and the application protocol by ALPN, in the server's order of preference.
 */
#include <string.h>
#include <strings.h>

#include "superserverd/tls_int.h"

static bool name_matches(const char *pattern, const char *name, bool wildcard)
{
	const char *dot;

	if (!wildcard)
		return pattern[0] != '*' && strcasecmp(pattern, name) == 0;
	/* "*.example.org" stands for exactly one label: "a.example.org", not
	 * "example.org" nor "b.a.example.org". */
	if (pattern[0] != '*' || !(dot = strchr(name, '.')) || dot == name)
		return false;
	return strcasecmp(pattern + 1, dot) == 0;
}

/* The sni certificate for NAME, or NULL for the default one. */
static const struct tls_cert *cert_for(const struct tls_server *ts, const char *name)
{
	for (int wild = 0; wild < 2; wild++)
		for (size_t i = 1; i < ts->n_certs; i++)
			for (size_t k = 0; k < ts->certs[i].n_names; k++)
				if (name_matches(ts->certs[i].names[k], name, wild))
					return &ts->certs[i];
	return NULL;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
	const struct tls_server *ts = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const struct tls_cert *c;

	if (!name || !(c = cert_for(ts, name)))
		return SSL_TLSEXT_ERR_OK;
	/* Every context of a server has the same settings but the certificate. */
	if (!SSL_set_SSL_CTX(ssl, c->ctx)) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* Called only when the client offered ALPN: no overlap fails the handshake with
 * no_application_protocol (RFC 7301), a client that offered nothing is not asked. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct tls_server *ts = arg;

	for (size_t s = 0; s < ts->alpn_len; s += 1u + ts->alpn[s]) {
		const unsigned char *want = &ts->alpn[s];
		for (unsigned c = 0; c < inlen; c += 1u + in[c]) {
			if (c + 1u + in[c] > inlen)
				break;
			if (in[c] == want[0] && memcmp(&in[c + 1], want + 1, want[0]) == 0) {
				*out = &in[c + 1];
				*outlen = in[c];
				return SSL_TLSEXT_ERR_OK;
			}
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

void tls_select_install(SSL_CTX *ctx, const struct tls_server *ts)
{
	if (ts->n_certs > 1) {
		SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
		SSL_CTX_set_tlsext_servername_arg(ctx, (void *)ts);
	}
	if (ts->alpn)
		SSL_CTX_set_alpn_select_cb(ctx, on_alpn, (void *)ts);
}
