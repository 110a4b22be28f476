/*
 * TLS configuration and the server contexts built from it: every load error with its
 * FILE:LINE:COL, defaults.tls inheritance, the expiry warning, and what the contexts do
 * in real handshakes (in memory, over socketpairs): SNI picks the certificate, ALPN the
 * protocol, client certificates are verified, tickets resume across processes.
 *
 * Certificates are made once per test case group with the openssl command (ECDSA
 * P-256): a CA, server certificates for the SNI names, a second CA, client
 * certificates from each, an expired one (openssl ca -startdate/-enddate, since
 * req -x509 in OpenSSL 3.0 cannot date one in the past) and one expiring in 5 days.
 */
#include <check.h>
#include <signal.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "superserverd/config.h"
#include "superserverd/tls.h"

static char dir[64];
static char main_path[600];

/* Makes the certificates in DIR with the openssl command; 0 on success. */
static int make_certs(void)
{
	static const char script[] =
	        "set -e; cd '%s'\n"
	        "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	        "-out $1.key 2>/dev/null; }\n"
	        "ca() { key $1; openssl req -x509 -new -key $1.key -out $1.pem -days 3650 "
	        "-subj /CN=$2 2>/dev/null; }\n"
	        "leaf() { key $1; openssl req -new -key $1.key -out $1.csr -subj /CN=$2 "
	        "2>/dev/null; openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key "
	        "-CAcreateserial -out $1.pem -days $4 2>/dev/null; }\n"
	        "ca ca Test-CA; ca ca2 Other-CA\n"
	        "leaf srv srv.test ca 365; leaf other other.test ca 365; leaf wild wild.test ca "
	        "365\n"
	        "leaf client client-one ca 365; leaf client2 client-two ca2 365\n"
	        "leaf soon soon.test ca 5\n"
	        "key expired; openssl req -new -key expired.key -out expired.csr "
	        "-subj /CN=expired.test 2>/dev/null\n"
	        ": > index.txt; echo 01 > serial\n"
	        "printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\nnew_certs_dir=.\\n"
	        "serial=serial\\ndefault_md=sha256\\npolicy=p\\n[p]\\ncommonName=supplied\\n' "
	        "> ca.cnf\n"
	        "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr "
	        "-out expired.pem -startdate 20200101000000Z -enddate 20200201000000Z -notext "
	        "2>/dev/null\n"
	        "cat srv.pem ca.pem > full.pem\n"
	        "echo 'not a certificate' > bad.pem\n"
	        "openssl pkey -in srv.key -aes256 -passout pass:x -out enc.key 2>/dev/null\n"
	        "mkdir adir\n";
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), script, dir);
	return system(cmd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void certs_setup(void)
{
	strcpy(dir, "/tmp/ss-tls.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(main_path, sizeof(main_path), "%s/c.yaml", dir);
	ck_assert_int_eq(make_certs(), 0);
}

static void certs_teardown(void)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* IN with every {D} replaced by the directory. */
static void expand(const char *in, char *out, size_t len)
{
	size_t o = 0;

	while (*in && o + 1 < len) {
		if (strncmp(in, "{D}", 3) == 0) {
			o += (size_t)snprintf(out + o, len - o, "%s", dir);
			in += 3;
		} else {
			out[o++] = *in++;
		}
	}
	ck_assert_uint_lt(o, len);
	out[o] = '\0';
}

static void write_yaml(const char *yaml, char *text, size_t len)
{
	FILE *f;

	expand(yaml, text, len);
	f = fopen(main_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char yaml_text[16384];

static int load(const char *yaml, struct config **cfg, struct diag *d)
{
	struct config_load_opts o = {.daemon_uid = 0};

	write_yaml(yaml, yaml_text, sizeof(yaml_text));
	diag_init(d);
	return config_load(main_path, &o, cfg, d);
}

static struct config *load_ok(const char *yaml)
{
	struct config *cfg = NULL;
	struct diag d;
	int r = load(yaml, &cfg, &d);
	char *all = diag_join(&d);

	ck_assert_msg(r == 0, "load failed:\n%s", all ? all : "(no message)");
	free(all);
	diag_free(&d);
	return cfg;
}

/* "FILE:LINE:COL: MSG" with the position of MARKER ('^' inside it: there) in the YAML. */
static void assert_error_at(const struct diag *d, const char *marker, const char *msg_in,
                            bool warning)
{
	char m[256], want[2048], msg[1024], *all = diag_join(d);
	const char *caret = strchr(marker, '^'), *at;
	size_t off = caret ? (size_t)(caret - marker) : 0;
	int line = 1, col = 1;
	char **v = warning ? d->warnings : d->msgs;
	size_t n = warning ? d->n_warnings : d->n, found = 0;

	/* The marker is searched for with {D} expanded, and so is the message. */
	expand(marker, msg, sizeof(msg));
	snprintf(m, sizeof(m), "%.*s%s", (int)off, msg, caret ? msg + off + 1 : msg);
	at = strstr(yaml_text, m);
	ck_assert_msg(at != NULL, "marker '%s' not in the YAML", m);
	for (const char *p = yaml_text; p < at + off; p++, col++)
		if (*p == '\n') {
			line++;
			col = 0;
		}
	expand(msg_in, msg, sizeof(msg));
	snprintf(want, sizeof(want), "%s:%d:%d: %s%s", main_path, line, col,
	         warning ? "warning: " : "", msg);
	for (size_t i = 0; i < n; i++)
		found += strcmp(v[i], want) == 0;
	if (found != 1) {
		for (size_t i = 0; i < d->n_warnings; i++)
			fprintf(stderr, "warning: %s\n", d->warnings[i]);
	}
	ck_assert_msg(found == 1, "expected once:\n  %s\ngot:\n%s", want, all ? all : "(nothing)");
	free(all);
}

#define SVC(listen)                                                                                \
	"services:\n  e:\n    listen: [" listen "]\n    builtin: echo\n    user: nobody\n"
#define CK "certificate: {D}/srv.pem, key: {D}/srv.key"

/* ------------------------------------------------------------------ errors */

static const struct {
	const char *yaml;
	const char *marker; /* '^' marks the position when it is not the start */
	const char *msg;
} errors[] = {
        {SVC("{address: '127.0.0.1:1', tls: {certificate: {D}/none.pem, key: {D}/srv.key}}"),
         "{D}/none.pem",
         "services.e.listen[0].tls.certificate: cannot read '{D}/none.pem': No such file or "
         "directory"},
        {SVC("{address: '127.0.0.1:1', tls: {certificate: {D}/adir, key: {D}/srv.key}}"),
         "{D}/adir",
         "services.e.listen[0].tls.certificate: cannot read '{D}/adir': not a regular file"},
        {SVC("{address: '127.0.0.1:1', tls: {certificate: {D}/bad.pem, key: {D}/srv.key}}"),
         "{D}/bad.pem",
         "services.e.listen[0].tls.certificate: '{D}/bad.pem' is not a PEM certificate file: no "
         "start line"},
        {SVC("{address: '127.0.0.1:1', tls: {certificate: {D}/srv.pem, key: {D}/other.key}}"),
         "{D}/other.key",
         "services.e.listen[0].tls.key: the key '{D}/other.key' does not match the certificate "
         "'{D}/srv.pem'"},
        {SVC("{address: '127.0.0.1:1', tls: {certificate: {D}/srv.pem, key: {D}/srv.pem}}"),
         "{D}/srv.pem}",
         "services.e.listen[0].tls.key: '{D}/srv.pem' holds no PEM private key OpenSSL can read"},
        {SVC("{address: '127.0.0.1:1', tls: {certificate: {D}/srv.pem, key: {D}/enc.key}}"),
         "{D}/enc.key",
         "services.e.listen[0].tls.key: '{D}/enc.key' is encrypted (a key with a passphrase "
         "cannot be loaded)"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", chain: {D}/bad.pem}}"), "{D}/bad.pem",
         "services.e.listen[0].tls.chain: '{D}/bad.pem' is not a PEM certificate file: no start "
         "line"},
        {SVC("{address: '127.0.0.1:1', tls: {certificate: srv.pem, key: {D}/srv.key}}"), "srv.pem,",
         "services.e.listen[0].tls.certificate: expected an absolute path, got 'srv.pem'"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", protocols: [TLSv1.3, TLSv1.1]}}"), "TLSv1.1",
         "services.e.listen[0].tls.protocols[1]: unknown or unsupported protocol 'TLSv1.1' "
         "(expected TLSv1.2 or TLSv1.3)"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", protocols: []}}"), "[]}",
         "services.e.listen[0].tls.protocols: expected TLSv1.2, TLSv1.3 or both, got an empty "
         "list"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", ciphers: 'NOSUCH:ALSONOT'}}"), "'NOSUCH",
         "services.e.listen[0].tls.ciphers: OpenSSL finds no TLS 1.2 cipher in 'NOSUCH:ALSONOT' "
         "(see ciphers(1))"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", ciphersuites: "
             "'TLS_AES_128_GCM_SHA256:TLS_NOPE'}}"),
         "'TLS_AES",
         "services.e.listen[0].tls.ciphersuites: unknown TLS 1.3 ciphersuite 'TLS_NOPE' (expected "
         "names such as TLS_AES_128_GCM_SHA256, separated by ':')"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", verify_client: require}}"), "require",
         "services.e.listen[0].tls.verify_client: verify_client: require needs client_ca (the "
         "CAs client certificates must be issued by)"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", verify_client: maybe}}"), "maybe",
         "services.e.listen[0].tls.verify_client: unknown verify_client 'maybe' (expected none, "
         "optional or require)"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", alpn: [h2, '']}}"), "''",
         "services.e.listen[0].tls.alpn[1]: an ALPN protocol name is 1 to 255 bytes (got 0)"},
        /* After another bad name: its own index, not the count of good ones before it. */
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", alpn: ['', h2, '']}}"), "h2, ^''",
         "services.e.listen[0].tls.alpn[2]: an ALPN protocol name is 1 to 255 bytes (got 0)"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", alpn: [h2, "
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "a]}}"),
         "aaaa",
         "services.e.listen[0].tls.alpn[1]: an ALPN protocol name is 1 to 255 bytes (got 256)"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", handshake_timeout: 10m}}"), "10m",
         "services.e.listen[0].tls: handshake_timeout must be between 1ms and 300s (got 10m)"},
        {SVC("{address: 'udp:127.0.0.1:1', tls: {" CK "}}"), "tls:",
         "services.e.listen[0]: tls is only for stream sockets (udp:127.0.0.1:1 is a datagram "
         "socket)"},
        {SVC("{address: '127.0.0.1:1', tls: [a]}"), "[a]",
         "services.e.listen[0].tls: expected a map of TLS settings, or true (all from "
         "defaults.tls), got a list"},
        {SVC("{address: '127.0.0.1:1', tls: true}"), "tls:",
         "services.e.listen[0].tls: tls needs certificate and key (in the entry's tls map or in "
         "defaults.tls)"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", sni: [{names: ['a..b'], " CK "}]}}"), "'a..b'",
         "services.e.listen[0].tls.sni[0].names[0]: expected a host name or '*.' and one (e.g. "
         "*.example.org), got 'a..b'"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", sni: [{names: [a.test], " CK
             "}, {names: [A.test], " CK "}]}}"),
         "A.test",
         "services.e.listen[0].tls.sni[1].names[0]: the server name 'a.test' is listed twice"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", sni: [{names: [a.test], certificate: "
             "{D}/other.pem}]}}"),
         "{names: [a", "services.e.listen[0].tls.sni[0]: expected names, certificate and key"},
        {SVC("{address: '127.0.0.1:1', tls: {" CK ", sni: [{names: [a.test], certificate: "
             "{D}/other.pem, key: {D}/wild.key}]}}"),
         "{D}/wild.key",
         "services.e.listen[0].tls.sni[0].key: the key '{D}/wild.key' does not match the "
         "certificate '{D}/other.pem'"},
};

START_TEST(load_errors)
{
	struct config *cfg = NULL;
	struct diag d;

	ck_assert_int_eq(load(errors[_i].yaml, &cfg, &d), -1);
	ck_assert_ptr_null(cfg);
	assert_error_at(&d, errors[_i].marker, errors[_i].msg, false);
	diag_free(&d);
}
END_TEST

/* exec under prefork (its programs accept connections themselves) cannot have TLS
 * terminated for it: refused at the listener, beside every other mistake. Which models
 * serve it is compared up to the list's end, which grows with the models. */
START_TEST(exec_under_prefork_refused)
{
	struct config *cfg = NULL;
	struct diag d;
	char *all;

	ck_assert_int_eq(
	        load("services:\n  e:\n    mpm: prefork\n    listen: [{address: "
	             "'127.0.0.1:1', tls: {certificate: {D}/none.pem, key: {D}/srv.key}}]\n"
	             "    exec: [/bin/cat]\n    user: nobody\n",
	             &cfg, &d),
	        -1);
	assert_error_at(&d, "{D}/none.pem",
	                "services.e.listen[0].tls.certificate: cannot read '{D}/none.pem': No such "
	                "file or directory",
	                false);
	all = diag_join(&d);
	ck_assert_msg(strstr(all, ":4:14: service 'e': tls with exec is served by fork"), "%s",
	              all);
	ck_assert_ptr_nonnull(strstr(all, "; not by prefork, where the program accepts "
	                                  "connections itself. With a built-in or module handler "
	                                  "these models serve it: "));
	ck_assert_uint_eq(d.n, 2);
	free(all);
	diag_free(&d);
}
END_TEST

/* A service process keeps only its own TLS contexts: the other services' keys and
 * ticket secrets are freed, its own kept whole, and the configuration still frees. */
START_TEST(keep_only_own_servers)
{
	struct config *cfg = load_ok("services:\n"
	                             "  e:\n    listen: [{address: '127.0.0.1:1', tls: {" CK "}},\n"
	                             "             {address: '127.0.0.1:2', tls: {" CK "}},\n"
	                             "             '127.0.0.1:3']\n"
	                             "    builtin: echo\n    user: nobody\n"
	                             "  f:\n    listen: [{address: '127.0.0.1:4', tls: {" CK "}}]\n"
	                             "    builtin: echo\n    user: nobody\n"
	                             "  g:\n    listen: ['127.0.0.1:5']\n"
	                             "    builtin: echo\n    user: nobody\n");
	const struct service_conf *e = config_find_service(cfg, "e"),
	                          *f = config_find_service(cfg, "f");
	struct tls_server *keep[] = {e->listen[0].tls, e->listen[1].tls};

	ck_assert_uint_eq(tls_server_keep_only(keep, 2), 1);
	ck_assert_uint_eq(tls_server_n_certs(f->listen[0].tls), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(tls_server_n_certs(e->listen[i].tls), 1);
		ck_assert_ptr_nonnull(tls_server_ctx(e->listen[i].tls));
		ck_assert_ptr_nonnull(SSL_CTX_get0_privatekey(tls_server_ctx(e->listen[i].tls)));
	}
	/* Emptied once: nothing more to free the second time. */
	ck_assert_uint_eq(tls_server_keep_only(keep, 2), 0);
	config_unref(cfg);
}
END_TEST

/* A bad file in defaults.tls, used by two listeners, is one mistake said once. */
START_TEST(defaults_error_said_once)
{
	struct config *cfg = NULL;
	struct diag d;

	ck_assert_int_eq(
	        load("defaults:\n  user: nobody\n  tls: {certificate: {D}/none.pem, key: "
	             "{D}/srv.key, handshake_timeout: soon}\n"
	             "services:\n  e:\n    listen: [{address: '127.0.0.1:1', tls: true},\n"
	             "             {address: '127.0.0.1:2', tls: {}}]\n    builtin: echo\n",
	             &cfg, &d),
	        -1);
	assert_error_at(&d, "{D}/none.pem",
	                "defaults.tls.certificate: cannot read '{D}/none.pem': No such file or "
	                "directory",
	                false);
	assert_error_at(
	        &d, "soon",
	        "defaults.tls.handshake_timeout: expected a duration such as 500ms, 30s, 5m "
	        "or 1h, got 'soon'",
	        false);
	ck_assert_uint_eq(d.n, 2);
	diag_free(&d);
}
END_TEST

/* ------------------------------------------------------------------ valid files */

START_TEST(defaults_inheritance)
{
	struct config *cfg = load_ok(
	        "defaults:\n  user: nobody\n"
	        "  tls: {certificate: {D}/srv.pem, key: {D}/srv.key, alpn: [h2], "
	        "handshake_timeout: 3s, protocols: [TLSv1.3]}\n"
	        "services:\n  e:\n    listen:\n"
	        "      - {address: '127.0.0.1:1', tls: true}\n"
	        "      - {address: '127.0.0.1:2', tls: {alpn: [x, y], certificate: {D}/full.pem}}\n"
	        "      - {address: 'unix:{D}/s', tls: {}}\n"
	        "      - '127.0.0.1:3'\n"
	        "      - {address: '127.0.0.1:4', tls: false}\n"
	        "    builtin: echo\n");
	const struct service_conf *sc = config_find_service(cfg, "e");
	const struct tls_conf *a = sc->listen[0].tls_conf, *b = sc->listen[1].tls_conf;
	char want[700];

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(sc->listen[0].tls);
	snprintf(want, sizeof(want), "%s/srv.pem", dir);
	ck_assert_str_eq(a->certificate.path, want);
	ck_assert_str_eq(a->certificate.at.key, "defaults.tls.certificate");
	ck_assert_int_eq(a->certificate.at.pos.line, 3);
	ck_assert_uint_eq(a->n_alpn, 1);
	ck_assert_str_eq(a->alpn[0], "h2");
	ck_assert_uint_eq(a->protocols, TLS_PROTO_TLS13);
	ck_assert_uint_eq(tls_server_handshake_timeout_usec(sc->listen[0].tls), 3000000);
	/* The entry's own keys win, key by key. */
	snprintf(want, sizeof(want), "%s/full.pem", dir);
	ck_assert_str_eq(b->certificate.path, want);
	ck_assert_str_eq(b->certificate.at.key, "services.e.listen[1].tls.certificate");
	ck_assert_str_eq(b->key.at.key, "defaults.tls.key");
	ck_assert_uint_eq(b->n_alpn, 2);
	ck_assert_str_eq(b->alpn[1], "y");
	ck_assert_uint_eq(b->handshake_timeout_usec, 3000000);
	/* TLS on a unix stream socket is fine; no tls key, or false: plaintext. */
	ck_assert_ptr_nonnull(sc->listen[2].tls);
	ck_assert_ptr_null(sc->listen[3].tls);
	ck_assert_ptr_null(sc->listen[3].tls_conf);
	ck_assert_ptr_null(sc->listen[4].tls);
	config_unref(cfg);
}
END_TEST

START_TEST(defaults_alone_make_nothing_tls)
{
	struct config *cfg = load_ok("defaults:\n  user: nobody\n  tls: {certificate: {D}/srv.pem, "
	                             "key: {D}/srv.key}\n"
	                             "services:\n  e: {listen: '127.0.0.1:1', builtin: echo}\n");
	const struct service_conf *sc = config_find_service(cfg, "e");

	ck_assert_ptr_null(sc->listen[0].tls);
	ck_assert_uint_eq(sc->listen[0].tls_conf == NULL, 1);
	config_unref(cfg);
}
END_TEST

START_TEST(default_settings)
{
	struct config *cfg = load_ok(SVC("{address: '127.0.0.1:1', tls: {" CK "}}"));
	const struct listen_conf *lc = &config_find_service(cfg, "e")->listen[0];
	struct tls_cert_info info;

	ck_assert_uint_eq(lc->tls_conf->protocols, TLS_PROTO_TLS12 | TLS_PROTO_TLS13);
	ck_assert_uint_eq(tls_server_handshake_timeout_usec(lc->tls), 10000000);
	ck_assert_int_eq(lc->tls_conf->verify_client, TLS_VERIFY_NONE);
	SSL_CTX *ctx = tls_server_ctx(lc->tls);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	uint64_t opts = SSL_CTX_get_options(ctx);
	ck_assert(opts & SSL_OP_NO_RENEGOTIATION);
	ck_assert(opts & SSL_OP_NO_COMPRESSION);
	ck_assert(opts & SSL_OP_CIPHER_SERVER_PREFERENCE);
	ck_assert_uint_eq(SSL_CTX_get_max_early_data(ctx), 0);
	ck_assert_uint_eq(tls_server_n_certs(lc->tls), 1);
	tls_server_cert(lc->tls, 0, &info);
	ck_assert_str_eq(info.subject, "CN=srv.test");
	ck_assert_uint_eq(info.n_names, 0);
	ck_assert_int_gt(info.not_after, (int64_t)time(NULL) + 300 * 86400);
	/* TCP_NODELAY on by default for TLS (whole records), as written otherwise. */
	ck_assert(lc->nodelay);
	config_unref(cfg);
	cfg = load_ok(SVC("{address: '127.0.0.1:1', nodelay: false, tls: {" CK "}}"));
	ck_assert(!config_find_service(cfg, "e")->listen[0].nodelay);
	config_unref(cfg);
}
END_TEST

START_TEST(expiry_warnings)
{
	struct config *cfg = NULL;
	struct diag d;

	ck_assert_int_eq(load(SVC("{address: '127.0.0.1:1', tls: {certificate: {D}/expired.pem, "
	                          "key: {D}/expired.key, sni: [{names: [soon.test], certificate: "
	                          "{D}/soon.pem, key: {D}/soon.key}]}}"),
	                      &cfg, &d),
	                 0);
	ck_assert_uint_eq(diag_count(&d), 0);
	assert_error_at(&d, "{D}/expired.pem",
	                "services.e.listen[0].tls.certificate: the certificate '{D}/expired.pem' "
	                "expired on 2020-02-01 00:00:00 UTC",
	                true);
	ck_assert_uint_eq(d.n_warnings, 2);
	ck_assert_ptr_nonnull(strstr(d.warnings[1], "tls.sni[0].certificate: the certificate"));
	ck_assert_ptr_nonnull(strstr(d.warnings[1], "(in 5 days)"));
	diag_free(&d);
	config_unref(cfg);
	/* A certificate good for a year says nothing. */
	ck_assert_int_eq(load(SVC("{address: '127.0.0.1:1', tls: {" CK "}}"), &cfg, &d), 0);
	ck_assert_uint_eq(d.n_warnings, 0);
	diag_free(&d);
	config_unref(cfg);
}
END_TEST

/* A root-only key file: the master reads it as root. */
START_TEST(root_only_key)
{
	char key[700];

	if (geteuid() != 0) {
		printf("SKIP: root_only_key needs root\n");
		return;
	}
	snprintf(key, sizeof(key), "%s/srv.key", dir);
	ck_assert_int_eq(chown(key, 0, 0), 0);
	ck_assert_int_eq(chmod(key, 0400), 0);
	config_unref(load_ok(SVC("{address: '127.0.0.1:1', tls: {" CK "}}")));
	ck_assert_int_eq(chmod(key, 0600), 0);
}
END_TEST

/* A renewed certificate at the same path changes the service's fingerprint (a reload
 * restarts it with the new contexts); an unchanged one does not. */
START_TEST(renewal_changes_fingerprint)
{
	const char *yaml = SVC("{address: '127.0.0.1:1', tls: {certificate: {D}/r.pem, key: "
	                       "{D}/r.key}}");
	char cmd[1400];
	struct config *a, *b, *c;

	snprintf(cmd, sizeof(cmd), "cp %s/srv.pem %s/r.pem && cp %s/srv.key %s/r.key", dir, dir,
	         dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	a = load_ok(yaml);
	b = load_ok(yaml);
	snprintf(cmd, sizeof(cmd), "cp %s/other.pem %s/r.pem && cp %s/other.key %s/r.key", dir, dir,
	         dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	c = load_ok(yaml);
	ck_assert_str_eq(config_find_service(a, "e")->fingerprint,
	                 config_find_service(b, "e")->fingerprint);
	ck_assert_str_ne(config_find_service(a, "e")->fingerprint,
	                 config_find_service(c, "e")->fingerprint);
	config_unref(a);
	config_unref(b);
	config_unref(c);
}
END_TEST

/* ------------------------------------------------------------------ handshakes */

struct hs {
	SSL *c, *s;
	int fd[2];
	bool ok; /* both sides finished */
};

static SSL_CTX *client_ctx(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char p[700];

	ck_assert_ptr_nonnull(ctx);
	if (cert) {
		snprintf(p, sizeof(p), "%s/%s", dir, cert);
		ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, p, SSL_FILETYPE_PEM), 1);
		snprintf(p, sizeof(p), "%s/%s", dir, key);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, p, SSL_FILETYPE_PEM), 1);
	}
	return ctx;
}

/* A handshake between CCTX (offering SNI and the wire-form ALPN list) and SCTX in this
 * process, over a non-blocking socketpair. */
static void handshake(struct hs *h, SSL_CTX *sctx, SSL_CTX *cctx, const char *sni, const char *alpn,
                      size_t alpn_len)
{
	bool done_c = false, done_s = false;
	int rc = 0, rs = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, h->fd), 0);
	h->c = SSL_new(cctx);
	h->s = SSL_new(sctx);
	ck_assert(h->c && h->s);
	SSL_set_fd(h->c, h->fd[0]);
	SSL_set_fd(h->s, h->fd[1]);
	SSL_set_connect_state(h->c);
	SSL_set_accept_state(h->s);
	if (sni)
		SSL_set_tlsext_host_name(h->c, sni);
	if (alpn)
		SSL_set_alpn_protos(h->c, (const unsigned char *)alpn, (unsigned)alpn_len);
	for (int i = 0; i < 10000 && !(done_c && done_s); i++) {
		if (!done_c) {
			rc = SSL_do_handshake(h->c);
			int e = SSL_get_error(h->c, rc);
			done_c = rc == 1 || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE);
		}
		if (!done_s) {
			rs = SSL_do_handshake(h->s);
			int e = SSL_get_error(h->s, rs);
			done_s = rs == 1 || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE);
		}
	}
	h->ok = rc == 1 && rs == 1;
}

static void hs_free(struct hs *h)
{
	SSL_free(h->c);
	SSL_free(h->s);
	close(h->fd[0]);
	close(h->fd[1]);
	ERR_clear_error();
}

/* The subject CN of the certificate the client was shown. */
static void assert_served(SSL *c, const char *cn)
{
	X509 *x = SSL_get1_peer_certificate(c);
	char buf[256];

	ck_assert_ptr_nonnull(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
	ck_assert_str_eq(buf, cn);
	X509_free(x);
}

#define SNI_YAML                                                                                   \
	SVC("{address: '127.0.0.1:1', tls: {" CK ", alpn: [h2, http/1.1], sni: [\n"                \
	    "  {names: [other.test, Alias.Test], certificate: {D}/other.pem, key: "                \
	    "{D}/other.key},\n"                                                                    \
	    "  {names: ['*.wild.test'], certificate: {D}/wild.pem, key: {D}/wild.key},\n"          \
	    "  {names: [exact.wild.test], certificate: {D}/other.pem, key: {D}/other.key}]}}")

START_TEST(sni_selects_certificate)
{
	struct config *cfg = load_ok(SNI_YAML);
	const struct tls_server *ts = config_find_service(cfg, "e")->listen[0].tls;
	SSL_CTX *cctx = client_ctx(NULL, NULL);
	static const struct {
		const char *sni, *cn;
	} cases[] = {
	        {"other.test", "other.test"},  {"ALIAS.test", "other.test"},
	        {"a.wild.test", "wild.test"},  {"exact.wild.test", "other.test"},
	        {"b.a.wild.test", "srv.test"}, {"wild.test", "srv.test"},
	        {"unknown.test", "srv.test"},  {NULL, "srv.test"},
	};
	struct tls_cert_info info;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hs h;
		handshake(&h, tls_server_ctx(ts), cctx, cases[i].sni, NULL, 0);
		ck_assert_msg(h.ok, "handshake for %s", cases[i].sni);
		assert_served(h.c, cases[i].cn);
		hs_free(&h);
	}
	ck_assert_uint_eq(tls_server_n_certs(ts), 4);
	tls_server_cert(ts, 1, &info);
	ck_assert_str_eq(info.subject, "CN=other.test");
	ck_assert_uint_eq(info.n_names, 2);
	ck_assert_str_eq(info.names[1], "alias.test");
	SSL_CTX_free(cctx);
	config_unref(cfg);
}
END_TEST

START_TEST(alpn_selects_protocol)
{
	struct config *cfg = load_ok(SNI_YAML);
	const struct tls_server *ts = config_find_service(cfg, "e")->listen[0].tls;
	SSL_CTX *cctx = client_ctx(NULL, NULL);
	const unsigned char *proto;
	unsigned len;
	struct hs h;

	/* The server's order wins, and an sni context selects the same way. */
	handshake(&h, tls_server_ctx(ts), cctx, NULL, "\x08http/1.1\x02h2", 12);
	ck_assert(h.ok);
	SSL_get0_alpn_selected(h.c, &proto, &len);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(memcmp(proto, "h2", 2), 0);
	hs_free(&h);
	handshake(&h, tls_server_ctx(ts), cctx, "a.wild.test", "\x03xyz\x08http/1.1", 13);
	ck_assert(h.ok);
	SSL_get0_alpn_selected(h.c, &proto, &len);
	ck_assert_uint_eq(len, 8);
	hs_free(&h);
	/* No overlap: no_application_protocol. */
	handshake(&h, tls_server_ctx(ts), cctx, NULL, "\x03xyz", 4);
	ck_assert(!h.ok);
	ck_assert_int_eq(ERR_GET_REASON(ERR_peek_last_error()),
	                 SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
	hs_free(&h);
	/* A client that offers none is served without. */
	handshake(&h, tls_server_ctx(ts), cctx, NULL, NULL, 0);
	ck_assert(h.ok);
	SSL_get0_alpn_selected(h.c, &proto, &len);
	ck_assert_uint_eq(len, 0);
	hs_free(&h);
	SSL_CTX_free(cctx);
	config_unref(cfg);
}
END_TEST

START_TEST(protocols_limit_versions)
{
	struct config *cfg =
	        load_ok(SVC("{address: '127.0.0.1:1', tls: {" CK ", protocols: [TLSv1.3]}},"
	                    "{address: '127.0.0.1:2', tls: {" CK "}}"));
	const struct service_conf *sc = config_find_service(cfg, "e");
	SSL_CTX *cctx = client_ctx(NULL, NULL);
	struct hs h;

	handshake(&h, tls_server_ctx(sc->listen[1].tls), cctx, NULL, NULL, 0);
	ck_assert(h.ok);
	ck_assert_str_eq(SSL_get_version(h.s), "TLSv1.3");
	hs_free(&h);
	SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	handshake(&h, tls_server_ctx(sc->listen[1].tls), cctx, NULL, NULL, 0);
	ck_assert(h.ok);
	ck_assert_str_eq(SSL_get_version(h.s), "TLSv1.2");
	hs_free(&h);
	handshake(&h, tls_server_ctx(sc->listen[0].tls), cctx, NULL, NULL, 0);
	ck_assert(!h.ok);
	hs_free(&h);
	/* Older than 1.2 is never spoken. */
	SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(cctx, TLS1_1_VERSION);
	handshake(&h, tls_server_ctx(sc->listen[1].tls), cctx, NULL, NULL, 0);
	ck_assert(!h.ok);
	hs_free(&h);
	SSL_CTX_free(cctx);
	config_unref(cfg);
}
END_TEST

START_TEST(client_verification)
{
	struct config *cfg = load_ok(
	        SVC("{address: '127.0.0.1:1', tls: {" CK ", client_ca: {D}/ca.pem, verify_client: "
	            "require}},"
	            "{address: '127.0.0.1:2', tls: {" CK ", client_ca: {D}/ca.pem, verify_client: "
	            "optional}}"));
	const struct service_conf *sc = config_find_service(cfg, "e");
	SSL_CTX *none = client_ctx(NULL, NULL), *one = client_ctx("client.pem", "client.key"),
	        *two = client_ctx("client2.pem", "client2.key");
	SSL_CTX *req = tls_server_ctx(sc->listen[0].tls), *opt = tls_server_ctx(sc->listen[1].tls);
	struct hs h;

	handshake(&h, req, one, NULL, NULL, 0);
	ck_assert(h.ok);
	ck_assert_int_eq(SSL_get_verify_result(h.s), X509_V_OK);
	ck_assert_ptr_nonnull(SSL_get0_peer_certificate(h.s));
	hs_free(&h);
	handshake(&h, req, two, NULL, NULL, 0);
	ck_assert(!h.ok);
	hs_free(&h);
	handshake(&h, req, none, NULL, NULL, 0);
	ck_assert(!h.ok);
	hs_free(&h);
	handshake(&h, opt, none, NULL, NULL, 0);
	ck_assert(h.ok);
	ck_assert_ptr_null(SSL_get0_peer_certificate(h.s));
	hs_free(&h);
	handshake(&h, opt, two, NULL, NULL, 0);
	ck_assert(!h.ok);
	hs_free(&h);
	SSL_CTX_free(none);
	SSL_CTX_free(one);
	SSL_CTX_free(two);
	config_unref(cfg);
}
END_TEST

/* ------------------------------------------------------------------ tickets */

/* Serves one blocking handshake on FD in a child process, sends a byte, ends. */
static pid_t serve_in_child(SSL_CTX *ctx, int fd)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		SSL *s = SSL_new(ctx);
		int ok = s && SSL_set_fd(s, fd) == 1 && SSL_accept(s) == 1 &&
		         SSL_write(s, "x", 1) == 1;
		if (ok)
			SSL_shutdown(s);
		_exit(ok ? 0 : 1);
	}
	return pid;
}

/* A client handshake (resuming SESS if given) against a server in a child; the session
 * it ends with (the ticket read), and whether it was resumed. */
static SSL_SESSION *connect_to_child(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess, bool *reused)
{
	int sv[2], st;
	char b;
	SSL *c;
	SSL_SESSION *got;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid_t pid = serve_in_child(sctx, sv[1]);
	close(sv[1]);
	c = SSL_new(cctx);
	SSL_set_fd(c, sv[0]);
	if (sess)
		SSL_set_session(c, sess);
	ck_assert_int_eq(SSL_connect(c), 1);
	ck_assert_int_eq(SSL_read(c, &b, 1), 1); /* the tickets come before it */
	*reused = SSL_session_reused(c);
	got = SSL_get1_session(c);
	/* Freed without a close_notify sent, OpenSSL takes the session for a bad one. */
	SSL_shutdown(c);
	SSL_free(c);
	close(sv[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return got;
}

START_TEST(tickets_resume_across_processes)
{
	struct config *cfg = load_ok(SVC("{address: '127.0.0.1:1', tls: {" CK "}},"
	                                 "{address: '127.0.0.1:2', tls: {" CK "}}"));
	const struct service_conf *sc = config_find_service(cfg, "e");
	SSL_CTX *sctx = tls_server_ctx(sc->listen[0].tls), *cctx = client_ctx(NULL, NULL);
	SSL_SESSION *s1, *s2, *s3;
	bool reused;

	for (int v = 0; v < 2; v++) {
		SSL_CTX_set_max_proto_version(cctx, v ? TLS1_2_VERSION : TLS1_3_VERSION);
		s1 = connect_to_child(sctx, cctx, NULL, &reused);
		ck_assert(!reused);
		ck_assert(SSL_SESSION_has_ticket(s1));
		/* Another process of the same server resumes it... */
		s2 = connect_to_child(sctx, cctx, s1, &reused);
		ck_assert_msg(reused, "not resumed (TLS 1.%d)", v ? 2 : 3);
		/* ...and another server (its own secret) does not. */
		s3 = connect_to_child(tls_server_ctx(sc->listen[1].tls), cctx, s1, &reused);
		ck_assert(!reused);
		SSL_SESSION_free(s1);
		SSL_SESSION_free(s2);
		SSL_SESSION_free(s3);
	}
	SSL_CTX_free(cctx);
	config_unref(cfg);
}
END_TEST

/* The key a forked process derives for time T, through a pipe. */
static void key_in_child(const struct tls_server *ts, int64_t t, unsigned char *k)
{
	int p[2], st;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsigned char key[TLS_TICKET_KEY_LEN];
		int ok = tls_server_ticket_key(ts, t, key) == 0 &&
		         write(p[1], key, sizeof(key)) == (ssize_t)sizeof(key);
		_exit(ok ? 0 : 1);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], k, TLS_TICKET_KEY_LEN), TLS_TICKET_KEY_LEN);
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

START_TEST(ticket_keys_equal_across_forks)
{
	struct config *cfg = load_ok(SVC("{address: '127.0.0.1:1', tls: {" CK "}},"
	                                 "{address: '127.0.0.1:2', tls: {" CK "}}"));
	const struct service_conf *sc = config_find_service(cfg, "e");
	unsigned char a[TLS_TICKET_KEY_LEN], b[TLS_TICKET_KEY_LEN], c[TLS_TICKET_KEY_LEN],
	        d[TLS_TICKET_KEY_LEN];
	int64_t now = time(NULL);

	key_in_child(sc->listen[0].tls, now, a);
	key_in_child(sc->listen[0].tls, now, b);
	ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
	/* Another window, another server: other keys. */
	key_in_child(sc->listen[0].tls, now + TLS_TICKET_WINDOW_SEC, c);
	ck_assert_int_ne(memcmp(a, c, sizeof(a)), 0);
	key_in_child(sc->listen[1].tls, now, d);
	ck_assert_int_ne(memcmp(a, d, sizeof(a)), 0);
	config_unref(cfg);
}
END_TEST

int main(void)
{
	/* A close_notify written to a peer that is gone must not end the test. */
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("tls_conf");
	TCase *tc = tcase_create("config");
	tcase_add_unchecked_fixture(tc, certs_setup, certs_teardown);
	tcase_add_loop_test(tc, load_errors, 0, (int)(sizeof(errors) / sizeof(errors[0])));
	tcase_add_test(tc, exec_under_prefork_refused);
	tcase_add_test(tc, keep_only_own_servers);
	tcase_add_test(tc, defaults_error_said_once);
	tcase_add_test(tc, defaults_inheritance);
	tcase_add_test(tc, defaults_alone_make_nothing_tls);
	tcase_add_test(tc, default_settings);
	tcase_add_test(tc, expiry_warnings);
	tcase_add_test(tc, root_only_key);
	tcase_add_test(tc, renewal_changes_fingerprint);
	tcase_add_test(tc, sni_selects_certificate);
	tcase_add_test(tc, alpn_selects_protocol);
	tcase_add_test(tc, protocols_limit_versions);
	tcase_add_test(tc, client_verification);
	tcase_add_test(tc, tickets_resume_across_processes);
	tcase_add_test(tc, ticket_keys_equal_across_forks);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
