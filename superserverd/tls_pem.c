/*
 * Reading the PEM files of a TLS server: certificates, chains, CA lists and private
 * keys, read by the master into memory first so that a missing or unreadable file and
 * bad content are told apart, each reported at the key that named the file. Also the
 * expiry warning.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "superserverd/tls_int.h"

#define PEM_FILE_MAX (1024 * 1024) /* far above any certificate bundle */

/* OpenSSL's reason for the last failure (its queue cleared), for messages. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, len, "%s", r ? r : "no PEM data found");
	ERR_clear_error();
	return buf;
}

static void report(struct diag *d, const struct tls_file_conf *f, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void report(struct diag *d, const struct tls_file_conf *f, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_error(d, &f->at.pos, "%s: %s", f->at.key, msg);
}

/* F's bytes in a memory BIO (and into MD), or NULL after reporting why not. */
static BIO *read_file(const struct tls_file_conf *f, EVP_MD_CTX *md, struct diag *d)
{
	/* Non-blocking: a FIFO named by mistake must not hang the master. */
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	BIO *bio = NULL;

	if (fd < 0 || fstat(fd, &st) < 0) {
		report(d, f, "cannot read '%s': %s", f->path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PEM_FILE_MAX) {
		report(d, f, "cannot read '%s': %s", f->path,
		       S_ISREG(st.st_mode) ? "larger than 1M" : "not a regular file");
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		report(d, f, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report(d, f, "cannot read '%s': %s", f->path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* A copy: the file's bytes (a key among them) are wiped from ours below. */
	bio = BIO_new(BIO_s_mem());
	if (!bio || (len && BIO_write(bio, buf, (int)len) != (int)len) ||
	    EVP_DigestUpdate(md, f->path, strlen(f->path) + 1) != 1 ||
	    EVP_DigestUpdate(md, buf, len) != 1) {
		BIO_free(bio);
		bio = NULL;
		report(d, f, "out of memory");
	}
out:
	if (buf) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return bio;
}

int tls_pem_certs(const struct tls_file_conf *f, EVP_MD_CTX *md, struct diag *d,
                  STACK_OF(X509) * *certs_r)
{
	BIO *bio = read_file(f, md, d);
	STACK_OF(X509) *certs = NULL;
	X509 *x;
	char why[256];

	*certs_r = NULL;
	if (!bio)
		return -1;
	if (!(certs = sk_X509_new_null()))
		goto oom;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			goto oom;
		}
	}
	/* The end of the file is the expected way out; anything else is bad content. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || !sk_X509_num(certs)) {
		report(d, f, "'%s' is not a PEM certificate file: %s", f->path,
		       ssl_reason(why, sizeof(why)));
		goto fail;
	}
	ERR_clear_error();
	BIO_free(bio);
	*certs_r = certs;
	return 0;
oom:
	report(d, f, "out of memory");
fail:
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	return -1;
}

/* No passphrase can be asked for at load: an encrypted key is refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	*(int *)u = 1;
	return -1;
}

int tls_pem_key(const struct tls_file_conf *f, EVP_MD_CTX *md, struct diag *d, EVP_PKEY **key_r)
{
	BIO *bio = read_file(f, md, d);
	int encrypted = 0;

	*key_r = NULL;
	if (!bio)
		return -1;
	*key_r = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted);
	BIO_free(bio);
	if (*key_r)
		return 0;
	if (encrypted)
		report(d, f, "'%s' is encrypted (a key with a passphrase cannot be loaded)",
		       f->path);
	else
		report(d, f, "'%s' holds no PEM private key OpenSSL can read", f->path);
	ERR_clear_error();
	return -1;
}

void tls_pem_expiry(const struct tls_file_conf *f, X509 *x, struct diag *d, int64_t *not_after_r)
{
	const ASN1_TIME *na = X509_get0_notAfter(x);
	time_t now = time(NULL);
	struct tm tm;
	char when[32];

	*not_after_r = 0;
	if (!na || !ASN1_TIME_to_tm(na, &tm))
		return;
	*not_after_r = (int64_t)timegm(&tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (*not_after_r <= (int64_t)now)
		diag_warning(d, &f->at.pos, "%s: the certificate '%s' expired on %s", f->at.key,
		             f->path, when);
	else if (*not_after_r - (int64_t)now < TLS_EXPIRY_WARN_SEC)
		diag_warning(d, &f->at.pos, "%s: the certificate '%s' expires on %s (in %lld days)",
		             f->at.key, f->path, when,
		             (long long)((*not_after_r - (int64_t)now + 86399) / 86400));
}
