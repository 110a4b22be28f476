/*
 * Session tickets whose keys every process of a service agrees on without talking:
 * the master makes a random secret when it builds the server, the processes inherit it
 * over fork, and each derives the key of the current time window from it with HKDF.
 * A ticket made in one window is still accepted in the next (and renewed), so a key
 * lives at most two windows; a reload makes a new secret.
 */
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "superserverd/tls_int.h"

#define KEY_NAME 0
#define KEY_AES  TLS_TICKET_NAME_LEN
#define KEY_HMAC (KEY_AES + 32)

static int derive(const struct tls_server *ts, uint64_t window,
                  unsigned char key_r[TLS_TICKET_KEY_LEN])
{
	static const char salt[] = "superserverd session ticket";
	unsigned char info[8];
	EVP_KDF_CTX *k = EVP_KDF_CTX_new(ts->kdf);
	int r;

	for (int i = 0; i < 8; i++)
		info[i] = (unsigned char)(window >> (56 - 8 * i));
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
	        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ts->ticket_secret,
	                                          sizeof(ts->ticket_secret)),
	        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
	                                          sizeof(salt) - 1),
	        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info)),
	        OSSL_PARAM_construct_end(),
	};
	r = k && EVP_KDF_derive(k, key_r, TLS_TICKET_KEY_LEN, params) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(k);
	return r;
}

int tls_server_ticket_key(const struct tls_server *ts, int64_t t,
                          unsigned char key_r[TLS_TICKET_KEY_LEN])
{
	return derive(ts, (uint64_t)t / TLS_TICKET_WINDOW_SEC, key_r);
}

static int use_key(const unsigned char *k, unsigned char *iv, EVP_CIPHER_CTX *cctx,
                   EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)(k + KEY_HMAC), 32),
	        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	        OSSL_PARAM_construct_end(),
	};

	if (EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + KEY_AES, iv, enc) != 1 ||
	    EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	return 0;
}

/* OpenSSL's ticket key callback: 1 to use the key (on decryption: the current one),
 * 2 for a key still accepted whose ticket is renewed, 0 for an unknown key (a full
 * handshake follows), -1 on failure. */
static int on_ticket(SSL *ssl, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
	const struct tls_server *ts = tls_ctx_server(SSL_get_SSL_CTX(ssl));
	uint64_t window = (uint64_t)time(NULL) / TLS_TICKET_WINDOW_SEC;
	unsigned char k[TLS_TICKET_KEY_LEN];
	int r = 0;

	if (!ts)
		return -1;
	if (enc) {
		if (derive(ts, window, k) < 0 || RAND_bytes(iv, 16) != 1) {
			r = -1;
		} else {
			memcpy(key_name, k + KEY_NAME, TLS_TICKET_NAME_LEN);
			r = use_key(k, iv, cctx, hctx, 1) < 0 ? -1 : 1;
		}
	} else {
		for (uint64_t back = 0; back < 2 && back <= window && r == 0; back++) {
			if (derive(ts, window - back, k) < 0)
				r = -1;
			else if (memcmp(key_name, k + KEY_NAME, TLS_TICKET_NAME_LEN) == 0)
				r = use_key(k, iv, cctx, hctx, 0) < 0 ? -1 : back ? 2 : 1;
		}
	}
	OPENSSL_cleanse(k, sizeof(k));
	return r;
}

int tls_ticket_init(struct tls_server *ts)
{
	if (RAND_priv_bytes(ts->ticket_secret, sizeof(ts->ticket_secret)) != 1)
		return -1;
	ts->kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	return ts->kdf ? 0 : -1;
}

void tls_ticket_install(SSL_CTX *ctx)
{
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
	/* A ticket is honoured for at least one window (see above): say so to clients. */
	SSL_CTX_set_timeout(ctx, TLS_TICKET_WINDOW_SEC);
}
