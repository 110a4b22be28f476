/*
 * libFuzzer target for the TLS part of the configuration: the `tls:` maps and the PEM
 * files they name. An input is sections split by a line "%%":
 *
 *   defaults.tls %% the listen entry's tls %% client hello %% file 0 %% ... %% file 5
 *
 * The two YAML sections are indented into an otherwise valid configuration (an empty
 * listen section is `tls: true`; a non-empty defaults section adds a second entry with
 * `tls: true`), "{D}" in them stands for this process's directory, where each file
 * section is written as {D}/0 to {D}/5, so that the certificates, keys, chains and CA
 * lists OpenSSL parses are the fuzzer's too (a file section "!LABEL", a newline and
 * DER is written as that DER in a PEM block of that label). The whole load runs, as
 * --check-config does: the contexts are built. A loaded server then takes one
 * handshake from an OpenSSL client in memory, with the client section's first line as
 * the server name and the rest as its ALPN list in wire form, and another resuming its
 * session, so that SNI and ALPN selection and the ticket keys (both ways) run. Besides
 * "never crash, leak or hang", it checks the loader's contract: a configuration or
 * errors, never both, every message at the file, and a built server for every TLS
 * entry of a configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "superserverd/config.h"
#include "superserverd/tls.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

#define SEP       "\n%%\n"
#define N_FILES   6
#define YAML_MAX  (256 * 1024) /* the longest input indented, {D} expanded, and more */
#define HS_ROUNDS 16

enum { S_DEFAULTS, S_LISTEN, S_CLIENT, S_FILES, S_COUNT = S_FILES + N_FILES };

static char dir[64];
static char main_path[128];
static char file_path[N_FILES][128];
static SSL_CTX *client_ctx;
static bool verbose; /* SS_FUZZ_VERBOSE set: what each input did, for writing seeds */

static void cleanup(void)
{
	for (int i = 0; i < N_FILES; i++)
		unlink(file_path[i]);
	unlink(main_path);
	rmdir(dir);
	SSL_CTX_free(client_ctx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_tmpdir(dir, sizeof(dir), "ss-fuzz-tls");
	snprintf(main_path, sizeof(main_path), "%s/c.yaml", dir);
	for (int i = 0; i < N_FILES; i++)
		snprintf(file_path[i], sizeof(file_path[i]), "%s/%d", dir, i);
	/* The client trusts anything: the handshake is for the server's selection. */
	client_ctx = SSL_CTX_new(TLS_client_method());
	CHECK(client_ctx);
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	verbose = getenv("SS_FUZZ_VERBOSE") != NULL;
	atexit(cleanup);
	return 0;
}

struct section {
	const uint8_t *p;
	size_t n;
};

/* The sections of DATA; those past the input's are empty. */
static void split(const uint8_t *data, size_t size, struct section s[S_COUNT])
{
	size_t sep = strlen(SEP);

	memset(s, 0, sizeof(struct section) * S_COUNT);
	for (int i = 0; i < S_COUNT && data; i++) {
		const uint8_t *end = i + 1 < S_COUNT ? memmem(data, size, SEP, sep) : NULL;

		s[i].p = data;
		s[i].n = end ? (size_t)(end - data) : size;
		if (!end)
			break;
		size -= s[i].n + sep;
		data = end + sep;
	}
}

/*
 * Whether a YAML section keeps to this process's directory. A path value is absolute, so
 * its first '/' follows a delimiter (space, quote, bracket, ...): only "{D}/" may. A
 * backslash could spell a '/' in a double-quoted string, "/." could climb out of {D}.
 * Files elsewhere are never opened: a device such as a watchdog acts on open(2).
 */
static bool hermetic(const struct section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		uint8_t c = s->p[i], prev = i ? s->p[i - 1] : ' ';

		if (c == '\\' || c == '\0' || (c == '/' && i + 1 < s->n && s->p[i + 1] == '.'))
			return false;
		if (c != '/')
			continue;
		if (prev == '}' && i >= 3 && memcmp(&s->p[i - 3], "{D}", 3) == 0)
			continue;
		if (!((prev >= 'a' && prev <= 'z') || (prev >= 'A' && prev <= 'Z') ||
		      (prev >= '0' && prev <= '9') || prev == '-' || prev == '_' || prev == '.'))
			return false;
	}
	return true;
}

/* Appends S to BUF (at *LEN), "{D}" expanded, each line after INDENT spaces. */
static void put_yaml(char *buf, size_t *len, const struct section *s, int indent)
{
	bool bol = true;

	for (size_t i = 0; i < s->n && *len + 256 < YAML_MAX; i++) {
		if (bol)
			*len += (size_t)snprintf(buf + *len, YAML_MAX - *len, "%*s", indent, "");
		if (s->n - i >= 3 && memcmp(&s->p[i], "{D}", 3) == 0) {
			*len += (size_t)snprintf(buf + *len, YAML_MAX - *len, "%s", dir);
			i += 2;
			bol = false;
			continue;
		}
		buf[(*len)++] = (char)s->p[i];
		bol = s->p[i] == '\n';
	}
	buf[(*len)++] = '\n';
	buf[*len] = '\0';
}

static bool blank(const struct section *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i] != ' ' && s->p[i] != '\n')
			return false;
	return true;
}

static void put(char *buf, size_t *len, const char *text)
{
	*len += (size_t)snprintf(buf + *len, YAML_MAX - *len, "%s", text);
}

/* The configuration around the two YAML sections. */
static void compose(const struct section s[S_COUNT], char *buf)
{
	size_t len = 0;

	put(buf, &len, "defaults:\n  user: nobody\n");
	if (!blank(&s[S_DEFAULTS])) {
		put(buf, &len, "  tls:\n");
		put_yaml(buf, &len, &s[S_DEFAULTS], 4);
	}
	put(buf, &len,
	    "services:\n  e:\n    builtin: echo\n    listen:\n      - address: '127.0.0.1:1'\n");
	if (blank(&s[S_LISTEN])) {
		put(buf, &len, "        tls: true\n");
	} else {
		put(buf, &len, "        tls:\n");
		put_yaml(buf, &len, &s[S_LISTEN], 10);
	}
	if (!blank(&s[S_DEFAULTS]))
		put(buf, &len, "      - {address: '127.0.0.1:2', tls: true}\n");
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "we");

	CHECK(f);
	CHECK(!n || fwrite(p, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

/* File section S as is, or when it is "!LABEL\n" and DER, that DER in one PEM block:
 * mutating base64 mostly breaks it, mutating DER reaches the certificates and keys. */
static void write_pem(const char *path, const struct section *s)
{
	const uint8_t *nl = s->n && s->p[0] == '!' ? memchr(s->p, '\n', s->n) : NULL;
	char label[64];
	size_t len = nl ? (size_t)(nl - s->p) - 1 : 0;
	FILE *f;

	if (!nl || len >= sizeof(label) || memchr(s->p, '\0', len + 1)) {
		write_file(path, s->p, s->n);
		return;
	}
	memcpy(label, s->p + 1, len);
	label[len] = '\0';
	CHECK((f = fopen(path, "we")));
	(void)PEM_write(f, label, "", nl + 1, (long)(s->n - len - 2));
	CHECK(fclose(f) == 0);
}

static void say(SSL *srv, SSL *cli)
{
	const unsigned char *proto = NULL;
	unsigned proto_len = 0;
	X509 *peer = SSL_get1_peer_certificate(cli);
	char subject[256] = "";

	if (peer)
		X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof(subject));
	X509_free(peer);
	SSL_get0_alpn_selected(cli, &proto, &proto_len);
	fprintf(stderr, "handshake: %s%s, %s, certificate '%s', ALPN '%.*s'\n",
	        SSL_is_init_finished(srv) ? "done" : "failed",
	        SSL_session_reused(cli) ? " (resumed)" : "", SSL_get_version(cli), subject,
	        (int)proto_len, proto ? (const char *)proto : "");
}

/* A handshake in memory against TS, the client's hello from section C, resuming SESS
 * (NULL: none). Returns the session to resume with (its ticket read), or NULL. */
static SSL_SESSION *handshake(const struct tls_server *ts, const struct section *c,
                              SSL_SESSION *sess)
{
	const uint8_t *nl = c->n ? memchr(c->p, '\n', c->n) : NULL;
	size_t name_len = nl ? (size_t)(nl - c->p) : c->n;
	char name[256], buf[16];
	SSL *srv = SSL_new(tls_server_ctx(ts)), *cli = SSL_new(client_ctx);
	BIO *sb = NULL, *cb = NULL;
	SSL_SESSION *next = NULL;
	bool done = false;

	CHECK(srv && cli);
	CHECK(BIO_new_bio_pair(&sb, 0, &cb, 0) == 1);
	SSL_set_bio(srv, sb, sb);
	SSL_set_bio(cli, cb, cb);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cli);
	/* A name OpenSSL refuses to send (too long, a NUL) is simply not sent. */
	if (name_len && name_len < sizeof(name)) {
		memcpy(name, c->p, name_len);
		name[name_len] = '\0';
		SSL_set_tlsext_host_name(cli, name);
	}
	if (nl && c->n - name_len - 1 > 0)
		SSL_set_alpn_protos(cli, nl + 1, (unsigned)(c->n - name_len - 1));
	if (sess)
		SSL_set_session(cli, sess);
	for (int i = 0; i < HS_ROUNDS && !done; i++) {
		int rc = SSL_do_handshake(cli), rs = SSL_do_handshake(srv);
		int ec = SSL_get_error(cli, rc), es = SSL_get_error(srv, rs);

		done = rc == 1 && rs == 1;
		if ((rc != 1 && ec != SSL_ERROR_WANT_READ && ec != SSL_ERROR_WANT_WRITE) ||
		    (rs != 1 && es != SSL_ERROR_WANT_READ && es != SSL_ERROR_WANT_WRITE))
			break;
	}
	if (verbose)
		say(srv, cli);
	/* Under TLS 1.3 the ticket comes after the handshake: a read takes it in. */
	if (done && !sess && SSL_read(cli, buf, sizeof(buf)) <= 0 &&
	    SSL_get_error(cli, -1) == SSL_ERROR_WANT_READ &&
	    SSL_SESSION_is_resumable(SSL_get0_session(cli)))
		next = SSL_get1_session(cli);
	/* Freed without a close_notify, a session is marked as not to be resumed. */
	if (done)
		SSL_shutdown(cli);
	SSL_free(srv);
	SSL_free(cli);
	ERR_clear_error();
	return next;
}

/* Every TLS entry of a loaded configuration has its server (the YAML sections can make
 * others: a quoted string may run over the lines around them). */
static void check_config(const struct config *cfg, const struct section *client)
{
	size_t n_tls = 0;

	for (size_t i = 0; i < cfg->n_services; i++)
		for (size_t j = 0; j < cfg->services[i].n_listen; j++) {
			const struct listen_conf *lc = &cfg->services[i].listen[j];
			struct tls_cert_info info;

			CHECK(!lc->tls_bad && !lc->tls_conf == !lc->tls);
			if (!lc->tls)
				continue;
			CHECK(tls_server_n_certs(lc->tls) == 1 + lc->tls_conf->n_sni);
			for (size_t k = 0; k < tls_server_n_certs(lc->tls); k++) {
				tls_server_cert(lc->tls, k, &info);
				CHECK(info.path && info.subject);
				CHECK(strncmp(info.path, dir, strlen(dir)) == 0);
			}
			CHECK(tls_server_ctx(lc->tls));
			/* The first also resumes its session: the ticket key both ways. */
			if (n_tls++ == 0) {
				SSL_SESSION *sess = handshake(lc->tls, client, NULL);

				if (sess)
					SSL_SESSION_free(handshake(lc->tls, client, sess));
				SSL_SESSION_free(sess);
			}
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char yaml[YAML_MAX];
	struct config_load_opts opts = {.daemon_uid = 0};
	struct config *cfg = (struct config *)&cfg;
	struct section s[S_COUNT];
	struct diag d;
	int r;

	split(data, size, s);
	if (!hermetic(&s[S_DEFAULTS]) || !hermetic(&s[S_LISTEN]))
		return -1;
	compose(s, yaml);
	write_file(main_path, yaml, strlen(yaml));
	for (int i = 0; i < N_FILES; i++)
		write_pem(file_path[i], &s[S_FILES + i]);

	diag_init(&d);
	r = config_load(main_path, &opts, &cfg, &d);
	if (verbose) {
		fprintf(stderr, "%s\nload: %d\n", yaml, r);
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "  %s\n", d.msgs[i]);
		for (size_t i = 0; i < d.n_warnings; i++)
			fprintf(stderr, "  %s\n", d.warnings[i]);
	}
	fuzz_check_load(r, cfg, &d, dir);
	if (r == 0)
		check_config(cfg, &s[S_CLIENT]);
	config_unref(cfg);
	for (size_t i = 0; i < d.n_warnings; i++)
		CHECK(strncmp(d.warnings[i], dir, strlen(dir)) == 0);
	diag_free(&d);
	return 0;
}
