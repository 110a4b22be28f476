/*
 * The configuration loader: valid files (every key, defaults merging, includes,
 * fingerprints) and every kind of error with its exact FILE:LINE:COL and text.
 *
 * Error cases name the expected position with a marker: the first occurrence of the
 * marker text in the YAML, at the '^' inside it (or its start). Messages and YAML may
 * say {D} for the test's temporary directory and {F} for the main file's path.
 */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "mpm/mpm.h"
#include "superserverd/config.h"

#define N(a)    (sizeof(a) / sizeof((a)[0]))
#define ROOT    ((uid_t)0)
#define NOBODY  ((uid_t)65534) /* nobody:nogroup on Debian */
#define NOGROUP ((gid_t)65534)
#define SEC     1000000ULL
#define TPATH   512 /* the temporary paths here are short */

static char dir[64];
static char main_path[TPATH];
static char services_path[TPATH];

static void expand(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	while (*in && o + 1 < outlen) {
		const char *sub = NULL;
		if (strncmp(in, "{D}", 3) == 0)
			sub = dir;
		else if (strncmp(in, "{F}", 3) == 0)
			sub = main_path;
		if (sub) {
			o += (size_t)snprintf(out + o, outlen - o, "%s", sub);
			in += 3;
		} else {
			out[o++] = *in++;
		}
	}
	ck_assert_uint_lt(o, outlen);
	out[o] = '\0';
}

static void write_at(const char *rel, const char *content)
{
	char path[TPATH], text[16384];
	FILE *f;

	expand(content, text, sizeof(text));
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* LEN bytes as they are (write_at's expansion has a smaller buffer). */
static void write_bytes(const char *rel, const char *data, size_t len)
{
	char path[TPATH];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void mkdir_at(const char *rel)
{
	char path[TPATH];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void setup(void)
{
	strcpy(dir, "/tmp/ss-config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(main_path, sizeof(main_path), "%s/c.yaml", dir);
	snprintf(services_path, sizeof(services_path), "%s/services", dir);
	/* A script without x bits: exists, but cannot be exec'd. */
	write_at("noexec", "#!/bin/sh\n");
	/* The loader only checks that a module is a readable file; loading is for later. */
	write_at("m.so", "");
	write_at("other.so", "");
	write_at("hello.txt", "hello\r\n");
	/* The services file named ports are looked up in (not the system's). */
	write_at("services",
	         "rsync\t873/tcp\ntftp\t69/udp\ndomain\t53/tcp nameserver\ndomain\t53/udp "
	         "nameserver\n");
	{
		char p[TPATH];
		snprintf(p, sizeof(p), "%s/noexec", dir);
		ck_assert_int_eq(chmod(p, 0644), 0);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void teardown(void)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int load_file(uid_t uid, const char *path, struct config **cfg, struct diag *d)
{
	struct config_load_opts o = {.daemon_uid = uid, .services_path = services_path};

	diag_init(d);
	return config_load(path, &o, cfg, d);
}

static int load(uid_t uid, const char *yaml, struct config **cfg, struct diag *d)
{
	write_at("c.yaml", yaml);
	return load_file(uid, main_path, cfg, d);
}

static struct config *load_ok_path(uid_t uid, const char *path)
{
	struct config *cfg = NULL;
	struct diag d;
	int r = load_file(uid, path, &cfg, &d);
	char *all = diag_join(&d);

	ck_assert_msg(r == 0, "load failed:\n%s", all ? all : "(no message)");
	ck_assert_ptr_null(all);
	ck_assert_ptr_nonnull(cfg);
	diag_free(&d);
	return cfg;
}

static struct config *load_ok(uid_t uid, const char *yaml)
{
	write_at("c.yaml", yaml);
	return load_ok_path(uid, main_path);
}

static const struct service_conf *svc(const struct config *cfg, const char *name)
{
	const struct service_conf *sc = config_find_service(cfg, name);
	ck_assert_msg(sc != NULL, "no service '%s'", name);
	return sc;
}

static uint64_t max_children(const struct service_conf *sc)
{
	/* The fork model's first option (see mpm/fork.c's table). */
	ck_assert_str_eq(sc->mpm.ops->name, "fork");
	ck_assert_str_eq(sc->mpm.ops->options[0].key, "max_children");
	return *(const uint64_t *)((const char *)sc->mpm.options + sc->mpm.ops->options[0].offset);
}

/* Line and column (1-based) of MARKER in TEXT: at its '^', or its first character. */
static void marker_pos(const char *text, const char *marker, int *line, int *col)
{
	char m[256];
	const char *caret = strchr(marker, '^'), *at;
	size_t off = caret ? (size_t)(caret - marker) : 0;

	snprintf(m, sizeof(m), "%.*s%s", (int)off, marker, caret ? caret + 1 : marker + off);
	at = strstr(text, m);
	ck_assert_msg(at != NULL, "marker '%s' not in the YAML", m);
	at += off;
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Expected texts say %MODELS% where the list of models goes: it grows as models land. */
static const char *expand_models(const char *want, char *buf, size_t len)
{
	const char *at = strstr(want, "%MODELS%");
	if (!at)
		return want;
	snprintf(buf, len, "%.*s%s%s", (int)(at - want), want, mpm_names(), at + 8);
	return buf;
}

static void assert_has(const struct diag *d, const char *want_in)
{
	char *all = diag_join(d);
	char buf[1024];
	const char *want = expand_models(want_in, buf, sizeof(buf));

	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->msgs[i], want) == 0) {
			free(all);
			return;
		}
	ck_assert_msg(0, "missing:\n  %s\ngot:\n%s", want, all ? all : "(nothing)");
}

/* FILE:LINE:COL: MSG with the position of MARKER in the (expanded) YAML. */
static void assert_error_at(const struct diag *d, const char *file, const char *yaml,
                            const char *marker, const char *msg)
{
	char text[16384], m[256], want[4096], emsg[2048];
	int line, col;

	expand(yaml, text, sizeof(text));
	expand(marker, m, sizeof(m));
	expand(msg, emsg, sizeof(emsg));
	marker_pos(text, m, &line, &col);
	snprintf(want, sizeof(want), "%s:%d:%d: %s", file, line, col, emsg);
	assert_has(d, want);
}

/* ------------------------------------------------------------------ valid files */

START_TEST(every_key)
{
	struct config *cfg = load_ok(
	        ROOT,
	        "control:\n"
	        "  socket: /run/ss/control.sock\n"
	        "  group: nogroup\n"
	        "  admin_group: '0'\n"
	        "log:\n"
	        "  level: debug\n"
	        "services:\n"
	        "  echo:\n"
	        "    listen:\n"
	        "      - '127.0.0.1:7007'\n"
	        "      - '[::1]:7007'\n"
	        "      - {address: 'unix:/tmp/ss-test/echo.sock', backlog: 16, mode: '0660',\n"
	        "         owner: nobody, group: nogroup}\n"
	        "      - {address: 'systemd:echo', reuseport: true, nodelay: yes, keepalive: "
	        "on}\n"
	        "      - {address: 'unix:/tmp/ss-test/2.sock', owner: '1234', group: '4321'}\n"
	        "    builtin: echo\n"
	        "    mpm: {model: fork, max_children: 8}\n"
	        "    user: nobody\n"
	        "    group: '0'\n"
	        "    groups: [nogroup, root]\n"
	        "    capabilities: [CAP_NET_BIND_SERVICE, chown]\n"
	        "    environment: {A: '1', B: two, EMPTY: ''}\n"
	        "    pass_environment: [HOME, PATH]\n"
	        "    umask: '0027'\n"
	        "    nice: -5\n"
	        "    rlimits: {nofile: 1024, nproc: unlimited, as: 64M, cpu: {soft: 10, hard: "
	        "20},\n"
	        "              core: 0}\n"
	        "    shutdown_timeout: 1.5s\n"
	        "    limits: {idle_timeout: 30s, max_duration: 1h}\n");
	const struct service_conf *sc = svc(cfg, "echo");

	ck_assert_str_eq(cfg->path, main_path);
	ck_assert_str_eq(cfg->control_socket, "/run/ss/control.sock");
	ck_assert_str_eq(cfg->control_group, "nogroup");
	ck_assert_str_eq(cfg->control_admin_group, "root");
	ck_assert_int_eq(cfg->log_level, LOG_DEBUG);
	ck_assert_uint_eq(cfg->n_services, 1);

	ck_assert_str_eq(sc->name, "echo");
	ck_assert_str_eq(sc->pos.file, main_path);
	ck_assert_int_eq(sc->pos.line, 8);
	ck_assert_int_eq(sc->pos.col, 3);

	ck_assert_uint_eq(sc->n_listen, 5);
	ck_assert_str_eq(sc->listen[0].addr.key, "127.0.0.1:7007");
	ck_assert_int_eq(sc->listen[0].backlog, 4096);
	ck_assert(!sc->listen[0].reuseport && !sc->listen[0].nodelay && !sc->listen[0].keepalive);
	ck_assert(!sc->listen[0].has_mode && !sc->listen[0].has_owner && !sc->listen[0].has_group);
	ck_assert_int_eq(sc->listen[0].pos.line, 10);
	ck_assert_int_eq(sc->listen[0].pos.col, 9);
	ck_assert_str_eq(sc->listen[1].addr.key, "[::1]:7007");
	ck_assert_int_eq(sc->listen[2].addr.kind, ADDR_UNIX);
	ck_assert_int_eq(sc->listen[2].backlog, 16);
	ck_assert(sc->listen[2].has_mode && sc->listen[2].mode == 0660);
	ck_assert(sc->listen[2].has_owner && sc->listen[2].owner == NOBODY);
	ck_assert(sc->listen[2].has_group && sc->listen[2].group == NOGROUP);
	ck_assert_int_eq(sc->listen[2].pos.line, 12);
	ck_assert_int_eq(sc->listen[2].pos.col, 9);
	ck_assert_int_eq(sc->listen[3].addr.kind, ADDR_SYSTEMD);
	ck_assert_str_eq(sc->listen[3].addr.name, "echo");
	ck_assert(sc->listen[3].reuseport && sc->listen[3].nodelay && sc->listen[3].keepalive);
	ck_assert(sc->listen[4].has_owner && sc->listen[4].owner == 1234);
	ck_assert(sc->listen[4].has_group && sc->listen[4].group == 4321);

	ck_assert_int_eq(sc->kind, HANDLER_BUILTIN);
	ck_assert_str_eq(sc->builtin, "echo");
	ck_assert_ptr_null(sc->exec_argv);
	/* args: a module's (module_forms); a built-in takes none (error_table). */
	ck_assert_uint_eq(sc->n_args, 0);
	ck_assert_ptr_null(config_args_get(sc, "nothing"));

	ck_assert_uint_eq(max_children(sc), 8);
	ck_assert_int_eq(sc->mpm.pos.line, 17);
	ck_assert_int_eq(sc->mpm.pos.col, 10);

	ck_assert(sc->user_explicit);
	ck_assert_str_eq(sc->user, "nobody");
	ck_assert_uint_eq(sc->uid, NOBODY);
	ck_assert_str_eq(sc->group, "root");
	ck_assert_uint_eq(sc->gid, 0);
	ck_assert_uint_eq(sc->n_groups, 2);
	ck_assert_uint_eq(sc->groups[0], NOGROUP);
	ck_assert_uint_eq(sc->groups[1], 0);
	ck_assert(sc->capabilities == ((1ULL << 10) | (1ULL << 0)));

	ck_assert_uint_eq(sc->n_environment, 3);
	ck_assert_str_eq(sc->environment[0].key, "A");
	ck_assert_str_eq(sc->environment[0].value, "1");
	ck_assert_str_eq(sc->environment[1].key, "B");
	ck_assert_str_eq(sc->environment[1].value, "two");
	ck_assert_str_eq(sc->environment[2].value, "");
	ck_assert_uint_eq(sc->n_pass_environment, 2);
	ck_assert_str_eq(sc->pass_environment[1], "PATH");
	ck_assert(sc->has_umask && sc->umask == 027);
	ck_assert(sc->has_nice && sc->nice == -5);

	ck_assert(sc->rlimits[RLIM_NOFILE].set);
	ck_assert_uint_eq(sc->rlimits[RLIM_NOFILE].value.rlim_cur, 1024);
	ck_assert_uint_eq(sc->rlimits[RLIM_NOFILE].value.rlim_max, 1024);
	ck_assert(sc->rlimits[RLIM_NPROC].value.rlim_cur == RLIM_INFINITY);
	ck_assert(sc->rlimits[RLIM_NPROC].value.rlim_max == RLIM_INFINITY);
	ck_assert_uint_eq(sc->rlimits[RLIM_AS].value.rlim_cur, 64 << 20);
	ck_assert_uint_eq(sc->rlimits[RLIM_CPU].value.rlim_cur, 10);
	ck_assert_uint_eq(sc->rlimits[RLIM_CPU].value.rlim_max, 20);
	ck_assert(sc->rlimits[RLIM_CORE].set);
	ck_assert_uint_eq(sc->rlimits[RLIM_CORE].value.rlim_max, 0);

	ck_assert_uint_eq(sc->shutdown_timeout_usec, 1500000);
	ck_assert_uint_eq(sc->limits.idle_timeout_usec, 30 * SEC);
	ck_assert_uint_eq(sc->limits.max_duration_usec, 3600 * SEC);
	ck_assert_ptr_nonnull(sc->fingerprint);
	config_unref(cfg);
}
END_TEST

START_TEST(minimal_service_gets_defaults)
{
	struct config *cfg = load_ok(NOBODY, "services:\n"
	                                     "  e: {listen: '127.0.0.1:7', builtin: echo}\n");
	const struct service_conf *sc = svc(cfg, "e");

	ck_assert_ptr_null(cfg->control_socket);
	ck_assert_ptr_null(cfg->control_group);
	ck_assert_int_eq(cfg->log_level, LOG_INFO);
	ck_assert_uint_eq(sc->n_listen, 1);
	ck_assert_int_eq(sc->listen[0].backlog, 4096);
	ck_assert_int_eq(sc->listen[0].pos.line, 2);
	ck_assert_int_eq(sc->listen[0].pos.col, 15);
	ck_assert_ptr_nonnull(sc->mpm.ops);
	ck_assert_uint_eq(max_children(sc), 256);
	/* No mpm key: the model's errors would point at the service. */
	ck_assert_int_eq(sc->mpm.pos.line, sc->pos.line);
	ck_assert_int_eq(sc->mpm.pos.col, sc->pos.col);
	/* Not root: the daemon's own identity. */
	ck_assert(!sc->user_explicit);
	ck_assert_str_eq(sc->user, "nobody");
	ck_assert_uint_eq(sc->uid, NOBODY);
	ck_assert_str_eq(sc->group, "nogroup");
	ck_assert_uint_eq(sc->gid, NOGROUP);
	ck_assert_uint_eq(sc->n_groups, 0);
	ck_assert(sc->capabilities == 0);
	ck_assert_uint_eq(sc->n_environment, 0);
	ck_assert_uint_eq(sc->n_pass_environment, 0);
	ck_assert(!sc->has_umask && !sc->has_nice);
	for (int i = 0; i < RLIM_COUNT; i++)
		ck_assert(!sc->rlimits[i].set);
	ck_assert_uint_eq(sc->shutdown_timeout_usec, 10 * SEC);
	ck_assert_uint_eq(sc->limits.idle_timeout_usec, 60 * SEC); /* a handler: the default */
	ck_assert_uint_eq(sc->limits.max_duration_usec, 0);
	ck_assert_uint_eq(sc->n_args, 0);
	config_unref(cfg);
}
END_TEST

START_TEST(exec_forms)
{
	struct config *cfg = load_ok(
	        NOBODY, "services:\n"
	                "  one: {listen: '127.0.0.1:1', exec: /bin/true}\n"
	                "  many: {listen: '127.0.0.1:2', exec: [/bin/cat, -u, '', '--x=y z']}\n");
	const struct service_conf *one = svc(cfg, "one"), *many = svc(cfg, "many");

	ck_assert_int_eq(one->kind, HANDLER_EXEC);
	ck_assert_str_eq(one->exec_argv[0], "/bin/true");
	ck_assert_ptr_null(one->exec_argv[1]);
	ck_assert_ptr_null(one->builtin);
	ck_assert_str_eq(many->exec_argv[0], "/bin/cat");
	ck_assert_str_eq(many->exec_argv[1], "-u");
	ck_assert_str_eq(many->exec_argv[2], "");
	ck_assert_str_eq(many->exec_argv[3], "--x=y z");
	ck_assert_ptr_null(many->exec_argv[4]);
	config_unref(cfg);
}
END_TEST

START_TEST(module_forms)
{
	struct config *cfg = load_ok(
	        NOBODY,
	        "services:\n"
	        "  plain: {listen: '127.0.0.1:1', module: '{D}/m.so'}\n"
	        "  map:\n"
	        "    listen: '127.0.0.1:2'\n"
	        "    module: {path: '{D}/m.so', args: {file: /q.txt, n: '2'}}\n"
	        "  outer: {listen: '127.0.0.1:3', module: {path: '{D}/m.so'}, args: {a: b}}\n");
	const struct service_conf *plain = svc(cfg, "plain"), *map = svc(cfg, "map"),
	                          *outer = svc(cfg, "outer");
	char so[TPATH];

	snprintf(so, sizeof(so), "%s/m.so", dir);
	ck_assert_int_eq(plain->kind, HANDLER_MODULE);
	ck_assert_str_eq(plain->module_path, so);
	ck_assert_uint_eq(plain->n_args, 0);
	ck_assert_ptr_null(plain->builtin);
	ck_assert_ptr_null(plain->exec_argv);
	ck_assert_int_eq(map->kind, HANDLER_MODULE);
	ck_assert_str_eq(map->module_path, so);
	ck_assert_uint_eq(map->n_args, 2);
	ck_assert_str_eq(config_args_get(map, "file"), "/q.txt");
	ck_assert_str_eq(config_args_get(map, "n"), "2");
	ck_assert_int_eq(map->args[0].pos.line, 5);
	ck_assert_int_eq(outer->kind, HANDLER_MODULE);
	ck_assert_uint_eq(outer->n_args, 1);
	ck_assert_str_eq(config_args_get(outer, "a"), "b");
	config_unref(cfg);
}
END_TEST

START_TEST(zero_services)
{
	static const char *const files[] = {"", "# nothing\n", "services: {}\n", "services:\n",
	                                    "log: {level: error}\n"};
	for (size_t i = 0; i < N(files); i++) {
		struct config *cfg = load_ok(NOBODY, files[i]);
		ck_assert_uint_eq(cfg->n_services, 0);
		ck_assert_ptr_null(config_find_service(cfg, "x"));
		config_unref(cfg);
	}
}
END_TEST

START_TEST(log_levels)
{
	static const struct {
		const char *name;
		int level;
	} t[] = {{"debug", LOG_DEBUG},
	         {"info", LOG_INFO},
	         {"notice", LOG_NOTICE},
	         {"warning", LOG_WARNING},
	         {"error", LOG_ERR}};
	char yaml[64];

	for (size_t i = 0; i < N(t); i++) {
		snprintf(yaml, sizeof(yaml), "log: {level: %s}\n", t[i].name);
		struct config *cfg = load_ok(NOBODY, yaml);
		ck_assert_int_eq(cfg->log_level, t[i].level);
		config_unref(cfg);
	}
}
END_TEST

START_TEST(defaults_merge)
{
	struct config *cfg = load_ok(ROOT, "defaults:\n"
	                                   "  user: nobody\n"
	                                   "  groups: [nogroup]\n"
	                                   "  environment: {A: da, B: db}\n"
	                                   "  pass_environment: [HOME]\n"
	                                   "  rlimits: {nofile: 100, core: 0}\n"
	                                   "  limits: {idle_timeout: 5s, max_duration: 1m}\n"
	                                   "  mpm: {model: fork, max_children: 3}\n"
	                                   "  shutdown_timeout: 2s\n"
	                                   "  umask: '0077'\n"
	                                   "  nice: 4\n"
	                                   "  capabilities: [chown]\n"
	                                   "services:\n"
	                                   "  a:\n"
	                                   "    listen: '127.0.0.1:1'\n"
	                                   "    builtin: echo\n"
	                                   "    environment: {B: sb, C: sc}\n"
	                                   "    pass_environment: []\n"
	                                   "    rlimits: {nofile: 200}\n"
	                                   "    limits: {idle_timeout: 7s}\n"
	                                   "    mpm: fork\n"
	                                   "    capabilities: []\n"
	                                   "  b:\n"
	                                   "    listen: '127.0.0.1:2'\n"
	                                   "    builtin: echo\n"
	                                   "    user: root\n"
	                                   "    nice: 0\n");
	const struct service_conf *a = svc(cfg, "a"), *b = svc(cfg, "b");

	/* a: the defaults' user, its own maps merged per key, its own mpm whole. */
	ck_assert(a->user_explicit);
	ck_assert_uint_eq(a->uid, NOBODY);
	ck_assert_uint_eq(a->gid, NOGROUP);
	ck_assert_str_eq(a->group, "nogroup");
	ck_assert_uint_eq(a->n_groups, 1);
	ck_assert_uint_eq(a->groups[0], NOGROUP);
	ck_assert(a->capabilities == 0);
	ck_assert_uint_eq(a->n_environment, 3);
	ck_assert_str_eq(a->environment[0].key, "A");
	ck_assert_str_eq(a->environment[0].value, "da");
	ck_assert_str_eq(a->environment[1].key, "B");
	ck_assert_str_eq(a->environment[1].value, "sb");
	ck_assert_str_eq(a->environment[2].key, "C");
	ck_assert_uint_eq(a->n_pass_environment, 0);
	ck_assert_uint_eq(a->rlimits[RLIM_NOFILE].value.rlim_cur, 200);
	ck_assert(a->rlimits[RLIM_CORE].set);
	ck_assert(!a->rlimits[RLIM_NPROC].set);
	ck_assert_uint_eq(a->limits.idle_timeout_usec, 7 * SEC);
	ck_assert_uint_eq(a->limits.max_duration_usec, 60 * SEC);
	ck_assert_uint_eq(max_children(a), 256);
	ck_assert_int_eq(a->mpm.pos.line, 21);
	ck_assert_uint_eq(a->shutdown_timeout_usec, 2 * SEC);
	ck_assert(a->has_umask && a->umask == 077);
	ck_assert(a->has_nice && a->nice == 4);

	/* b: explicitly root, and everything else inherited. */
	ck_assert(b->user_explicit);
	ck_assert_uint_eq(b->uid, 0);
	ck_assert_uint_eq(b->gid, 0);
	ck_assert_str_eq(b->user, "root");
	ck_assert_str_eq(b->group, "root");
	ck_assert(b->capabilities == 1);
	ck_assert_uint_eq(b->n_environment, 2);
	ck_assert_str_eq(b->environment[1].value, "db");
	ck_assert_uint_eq(b->n_pass_environment, 1);
	ck_assert_uint_eq(b->rlimits[RLIM_NOFILE].value.rlim_cur, 100);
	ck_assert_uint_eq(b->limits.idle_timeout_usec, 5 * SEC);
	ck_assert_uint_eq(max_children(b), 3);
	ck_assert_int_eq(b->mpm.pos.line, 8); /* where the inherited value is written */
	ck_assert(b->has_nice && b->nice == 0);
	config_unref(cfg);
}
END_TEST

START_TEST(defaults_group_and_user_group)
{
	struct config *cfg =
	        load_ok(ROOT, "defaults: {user: nobody, group: root}\n"
	                      "services:\n"
	                      "  a: {listen: '127.0.0.1:1', builtin: echo}\n"
	                      "  b: {listen: '127.0.0.1:2', builtin: echo, group: nogroup}\n"
	                      "  c: {listen: '127.0.0.1:3', builtin: echo, user: '0'}\n");

	ck_assert_uint_eq(svc(cfg, "a")->gid, 0);
	ck_assert_uint_eq(svc(cfg, "b")->gid, NOGROUP);
	/* The defaults' group applies to any user; only no group at all means the user's. */
	ck_assert_uint_eq(svc(cfg, "c")->uid, 0);
	ck_assert_str_eq(svc(cfg, "c")->user, "root");
	ck_assert_uint_eq(svc(cfg, "c")->gid, 0);
	config_unref(cfg);
}
END_TEST

START_TEST(unprivileged_ignores_default_identity)
{
	/* The example configuration's pattern: defaults.user for root, ignored otherwise. */
	struct config *cfg =
	        load_ok(NOBODY, "defaults: {user: root, group: root, groups: [root]}\n"
	                        "services:\n"
	                        "  a: {listen: '127.0.0.1:1', builtin: echo}\n"
	                        "  b: {listen: '127.0.0.1:2', builtin: echo, user: nobody,\n"
	                        "      group: nogroup, groups: [nogroup], capabilities: []}\n");
	const struct service_conf *a = svc(cfg, "a"), *b = svc(cfg, "b");

	ck_assert_uint_eq(a->uid, NOBODY);
	ck_assert_uint_eq(a->gid, NOGROUP);
	ck_assert(!a->user_explicit);
	ck_assert_uint_eq(a->n_groups, 0);
	ck_assert_uint_eq(b->uid, NOBODY);
	ck_assert(b->user_explicit);
	config_unref(cfg);
}
END_TEST

START_TEST(unprivileged_uid_without_passwd_entry)
{
	struct config *cfg = load_ok(4000000, "services:\n"
	                                      "  a: {listen: '127.0.0.1:1', builtin: echo}\n");
	const struct service_conf *a = svc(cfg, "a");

	ck_assert_uint_eq(a->uid, 4000000);
	ck_assert_str_eq(a->user, "4000000");
	ck_assert_uint_eq(a->gid, getegid());
	config_unref(cfg);
}
END_TEST

START_TEST(default_daemon_uid_is_euid)
{
	struct config_load_opts o = {.daemon_uid = (uid_t)-1};
	struct config *cfg = NULL;
	struct diag d;

	write_at("c.yaml",
	         "services:\n  a: {listen: '127.0.0.1:1', builtin: echo, user: nobody}\n");
	diag_init(&d);
	ck_assert_int_eq(config_load(main_path, &o, &cfg, &d), 0);
	ck_assert_uint_eq(svc(cfg, "a")->uid, NOBODY);
	config_unref(cfg);
	/* And NULL options mean the same. */
	ck_assert_int_eq(config_load(main_path, NULL, &cfg, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	config_unref(cfg);
	diag_free(&d);
}
END_TEST

START_TEST(anchors_and_styles)
{
	struct config *cfg = load_ok(
	        NOBODY, "defaults:\n"
	                "  environment: &env {A: '1'}\n"
	                "services:\n"
	                "  \"a\":   # comment\n"
	                "    listen: &l\n"
	                "      - |-\n"
	                "        127.0.0.1:1\n"
	                "    builtin: 'echo'\n"
	                "    environment: *env\n"
	                "  b: {listen: ['127.0.0.1:2'], builtin: \"time\", environment: *env}\n");

	ck_assert_str_eq(svc(cfg, "a")->listen[0].addr.key, "127.0.0.1:1");
	ck_assert_str_eq(svc(cfg, "a")->environment[0].value, "1");
	ck_assert_str_eq(svc(cfg, "b")->builtin, "time");
	config_unref(cfg);
}
END_TEST

START_TEST(ref_counting)
{
	struct config *cfg = load_ok(NOBODY, "services:\n"
	                                     "  a: {listen: '127.0.0.1:1', builtin: echo}\n");

	ck_assert_uint_eq(cfg->refs, 1);
	ck_assert_ptr_eq(config_ref(cfg), cfg);
	ck_assert_uint_eq(cfg->refs, 2);
	ck_assert_ptr_null(config_unref(cfg));
	ck_assert_uint_eq(cfg->refs, 1);
	ck_assert_str_eq(svc(cfg, "a")->name, "a");
	ck_assert_ptr_null(config_unref(cfg));
	ck_assert_ptr_null(config_unref(NULL));
	ck_assert_ptr_null(config_ref(NULL));
	ck_assert_ptr_null(config_find_service(NULL, "a"));
	ck_assert_ptr_null(config_args_get(NULL, "a"));
}
END_TEST

/* ------------------------------------------------------------------ limits and access */

static void assert_cidr(const struct cidr *c, const char *want)
{
	char buf[64];

	cidr_format(c, buf, sizeof(buf));
	ck_assert_str_eq(buf, want);
}

START_TEST(limits_every_key)
{
	struct config *cfg = load_ok(
	        NOBODY,
	        "log: {level: info, connections: 'json:{D}/conn.jsonl'}\n"
	        "services:\n"
	        "  e:\n"
	        "    listen:\n"
	        "      - {address: '127.0.0.1:7', proxy_protocol: true,\n"
	        "         trusted_proxies: ['10.0.0.1', '2001:db8::/32'], proxy_timeout: 250ms}\n"
	        "      - {address: 'systemd:e', proxy_protocol: yes, trusted_proxies: ['::1']}\n"
	        "      - {address: 'unix:/x', proxy_protocol: false}\n"
	        "      - '[::1]:7'\n"
	        "    builtin: echo\n"
	        "    limits:\n"
	        "      max_connections: 1024\n"
	        "      overload: reject\n"
	        "      banner: \"busy\\ntry later\"\n"
	        "      per_source: {max: 32, ipv4_prefix: 24, ipv6_prefix: 48}\n"
	        "      rate: 200/s\n"
	        "      burst: 400\n"
	        "      per_source_rate: 30/m\n"
	        "      per_source_burst: 2.5\n"
	        "    access:\n"
	        "      allow: ['10.0.0.1/8', '::1', '::ffff:192.0.2.0/120']\n"
	        "      deny: ['10.1.0.0/16']\n"
	        "      allow_users: [nobody, '4000000', root]\n"
	        "      allow_groups: [nogroup, '0']\n"
	        "    log_connections: journal\n");
	const struct service_conf *sc = svc(cfg, "e");
	const struct limits_conf *lim = &sc->limits;
	const struct access_conf *a = &sc->access;
	char path[TPATH];

	snprintf(path, sizeof(path), "%s/conn.jsonl", dir);
	ck_assert_int_eq(cfg->connlog, CONNLOG_JSON);
	ck_assert_str_eq(cfg->connlog_path, path);
	/* The service's own setting wins over log.connections. */
	ck_assert_int_eq(sc->connlog, CONNLOG_JOURNAL);
	ck_assert_ptr_null(sc->connlog_path);

	ck_assert(sc->listen[0].proxy_protocol);
	ck_assert_uint_eq(sc->listen[0].n_trusted_proxies, 2);
	assert_cidr(&sc->listen[0].trusted_proxies[0], "10.0.0.1/32");
	assert_cidr(&sc->listen[0].trusted_proxies[1], "2001:db8::/32");
	ck_assert_uint_eq(sc->listen[0].proxy_timeout_usec, 250000);
	ck_assert(sc->listen[1].proxy_protocol);
	ck_assert_uint_eq(sc->listen[1].n_trusted_proxies, 1);
	ck_assert_uint_eq(sc->listen[1].proxy_timeout_usec, 5 * SEC);
	ck_assert(!sc->listen[2].proxy_protocol);
	ck_assert_uint_eq(sc->listen[2].n_trusted_proxies, 0);
	ck_assert(!sc->listen[3].proxy_protocol);
	ck_assert_ptr_null(sc->listen[3].trusted_proxies);

	ck_assert_uint_eq(lim->max_connections, 1024);
	ck_assert_int_eq(lim->overload, OVERLOAD_REJECT);
	ck_assert_str_eq(lim->banner, "busy\ntry later");
	ck_assert_uint_eq(lim->per_source_max, 32);
	ck_assert_uint_eq(lim->ipv4_prefix, 24);
	ck_assert_uint_eq(lim->ipv6_prefix, 48);
	ck_assert(lim->rate == 200.0);
	ck_assert(lim->burst == 400.0);
	ck_assert(lim->per_source_rate == 0.5);
	ck_assert(lim->per_source_burst == 2.5);

	ck_assert_uint_eq(a->n_allow, 3);
	assert_cidr(&a->allow[0], "10.0.0.0/8");
	assert_cidr(&a->allow[1], "::1/128");
	assert_cidr(&a->allow[2], "192.0.2.0/24");
	ck_assert_uint_eq(a->n_deny, 1);
	assert_cidr(&a->deny[0], "10.1.0.0/16");
	ck_assert_uint_eq(a->n_allow_uids, 3);
	ck_assert_uint_eq(a->allow_uids[0], NOBODY);
	ck_assert_uint_eq(a->allow_uids[1], 4000000); /* a number needs no passwd entry */
	ck_assert_uint_eq(a->allow_uids[2], 0);
	ck_assert_uint_eq(a->n_allow_gids, 2);
	ck_assert_uint_eq(a->allow_gids[0], NOGROUP);
	ck_assert_uint_eq(a->allow_gids[1], 0);
	config_unref(cfg);
}
END_TEST

START_TEST(limits_unset)
{
	struct config *cfg = load_ok(NOBODY, "services:\n"
	                                     "  b: {listen: '127.0.0.1:1', builtin: echo}\n"
	                                     "  x: {listen: '127.0.0.1:2', exec: /bin/true}\n");
	const struct service_conf *sc = svc(cfg, "b");

	ck_assert_uint_eq(sc->limits.max_connections, 0);
	ck_assert_int_eq(sc->limits.overload, OVERLOAD_WAIT);
	ck_assert_ptr_null(sc->limits.banner);
	ck_assert_uint_eq(sc->limits.per_source_max, 0);
	ck_assert_uint_eq(sc->limits.ipv4_prefix, 32);
	ck_assert_uint_eq(sc->limits.ipv6_prefix, 64);
	ck_assert(sc->limits.rate == 0 && sc->limits.burst == 0);
	ck_assert(sc->limits.per_source_rate == 0 && sc->limits.per_source_burst == 0);
	ck_assert_uint_eq(sc->access.n_allow + sc->access.n_deny, 0);
	ck_assert_uint_eq(sc->access.n_allow_uids + sc->access.n_allow_gids, 0);
	ck_assert(!sc->listen[0].proxy_protocol);
	ck_assert_uint_eq(sc->listen[0].proxy_timeout_usec, 5 * SEC);
	/* Neither log.connections nor log_connections: the runtime picks by handler kind. */
	ck_assert_int_eq(cfg->connlog, CONNLOG_DEFAULT);
	ck_assert_int_eq(sc->connlog, CONNLOG_DEFAULT);
	ck_assert_int_eq(svc(cfg, "x")->connlog, CONNLOG_DEFAULT);
	ck_assert_ptr_null(sc->connlog_path);
	config_unref(cfg);
}
END_TEST

START_TEST(limits_values)
{
	static const struct {
		const char *limits;
		double rate, burst, ps_rate, ps_burst;
		uint32_t ps_max;
		unsigned v4, v6;
	} t[] = {
	        {"rate: 200/s", 200, 200, 0, 0, 0, 32, 64},
	        {"rate: 30/m", 0.5, 1, 0, 0, 0, 32, 64},
	        {"rate: 0.5/s", 0.5, 1, 0, 0, 0, 32, 64},
	        {"rate: 7200/h, burst: 1", 2, 1, 0, 0, 0, 32, 64},
	        {"rate: 1000000000/s", 1e9, 1e9, 0, 0, 0, 32, 64},
	        {"rate: 1.25/s, burst: 1.5", 1.25, 1.5, 0, 0, 0, 32, 64},
	        {"per_source_rate: 5/s", 0, 0, 5, 5, 0, 32, 64},
	        {"per_source_rate: 90/m, per_source_burst: 10", 0, 0, 1.5, 10, 0, 32, 64},
	        {"per_source: 1", 0, 0, 0, 0, 1, 32, 64},
	        {"per_source: 1000000", 0, 0, 0, 0, 1000000, 32, 64},
	        {"per_source: {max: 4}", 0, 0, 0, 0, 4, 32, 64},
	        {"per_source: {max: 4, ipv4_prefix: 0, ipv6_prefix: 0}", 0, 0, 0, 0, 4, 0, 0},
	        {"per_source: {max: 4, ipv4_prefix: 32, ipv6_prefix: 128}", 0, 0, 0, 0, 4, 32, 128},
	};
	char yaml[512];

	for (size_t i = 0; i < N(t); i++) {
		snprintf(yaml, sizeof(yaml),
		         "services:\n  e: {listen: '127.0.0.1:1', builtin: echo, limits: {%s}}\n",
		         t[i].limits);
		struct config *cfg = load_ok(NOBODY, yaml);
		const struct limits_conf *lim = &svc(cfg, "e")->limits;

		ck_assert_msg(lim->rate == t[i].rate && lim->burst == t[i].burst,
		              "%s: rate %g burst %g", t[i].limits, lim->rate, lim->burst);
		ck_assert_msg(lim->per_source_rate == t[i].ps_rate &&
		                      lim->per_source_burst == t[i].ps_burst,
		              "%s: per-source rate %g burst %g", t[i].limits, lim->per_source_rate,
		              lim->per_source_burst);
		ck_assert_uint_eq(lim->per_source_max, t[i].ps_max);
		ck_assert_uint_eq(lim->ipv4_prefix, t[i].v4);
		ck_assert_uint_eq(lim->ipv6_prefix, t[i].v6);
		config_unref(cfg);
	}
}
END_TEST

START_TEST(limits_bounds)
{
	struct config *cfg = load_ok(
	        NOBODY, "services:\n"
	                "  a: {listen: '127.0.0.1:1', builtin: echo,\n"
	                "      limits: {max_connections: 1, overload: wait, banner: ''}}\n"
	                "  b: {listen: [{address: '127.0.0.1:2', proxy_protocol: true,\n"
	                "               trusted_proxies: ['0.0.0.0/0'], proxy_timeout: 1ms}],\n"
	                "      builtin: echo, limits: {max_connections: 10000000}}\n"
	                "  c: {listen: [{address: '127.0.0.1:3', proxy_protocol: true,\n"
	                "               trusted_proxies: ['::/0'], proxy_timeout: 60s}],\n"
	                "      builtin: echo}\n");

	ck_assert_uint_eq(svc(cfg, "a")->limits.max_connections, 1);
	ck_assert_ptr_null(svc(cfg, "a")->limits.banner); /* '' is no banner */
	ck_assert_uint_eq(svc(cfg, "b")->limits.max_connections, 10000000);
	ck_assert_uint_eq(svc(cfg, "b")->listen[0].proxy_timeout_usec, 1000);
	ck_assert_uint_eq(svc(cfg, "c")->listen[0].proxy_timeout_usec, 60 * SEC);
	config_unref(cfg);
}
END_TEST

START_TEST(banner_length)
{
	char banner[600], yaml[1024];
	struct config *cfg;
	struct diag d;

	memset(banner, 'x', 512);
	banner[512] = '\0';
	snprintf(yaml, sizeof(yaml),
	         "services:\n  e: {listen: '127.0.0.1:1', builtin: echo, limits: {banner: %s}}\n",
	         banner);
	cfg = load_ok(NOBODY, yaml);
	ck_assert_uint_eq(strlen(svc(cfg, "e")->limits.banner), 512);
	config_unref(cfg);

	strcat(banner, "y");
	snprintf(yaml, sizeof(yaml),
	         "services:\n  e: {listen: '127.0.0.1:1', builtin: echo, limits: {banner: %s}}\n",
	         banner);
	ck_assert_int_eq(load(NOBODY, yaml, &cfg, &d), -1);
	assert_error_at(&d, main_path, yaml, "xxx",
	                "services.e.limits.banner: the banner is 513 bytes (at most 512)");
	ck_assert_uint_eq(d.n, 1);
	diag_free(&d);
}
END_TEST

START_TEST(limits_defaults_merge)
{
	struct config *cfg =
	        load_ok(NOBODY, "defaults:\n"
	                        "  limits:\n"
	                        "    idle_timeout: 5s\n"
	                        "    max_connections: 100\n"
	                        "    overload: reject\n"
	                        "    banner: busy\n"
	                        "    per_source: {max: 5, ipv4_prefix: 24}\n"
	                        "    rate: 10/s\n"
	                        "    burst: 50\n"
	                        "    per_source_rate: 1/s\n"
	                        "services:\n"
	                        "  a:\n"
	                        "    listen: '127.0.0.1:1'\n"
	                        "    builtin: echo\n"
	                        "    limits: {max_connections: 7, rate: 20/s, per_source: 2}\n"
	                        "  b:\n"
	                        "    listen: '127.0.0.1:2'\n"
	                        "    builtin: echo\n"
	                        "    limits: {banner: '', overload: wait}\n"
	                        "  c: {listen: '127.0.0.1:3', builtin: echo}\n");
	const struct limits_conf *a = &svc(cfg, "a")->limits, *b = &svc(cfg, "b")->limits,
	                         *c = &svc(cfg, "c")->limits;

	/* a: its own keys replace the defaults' one by one; the rest is inherited. */
	ck_assert_uint_eq(a->max_connections, 7);
	ck_assert_uint_eq(a->idle_timeout_usec, 5 * SEC);
	ck_assert_int_eq(a->overload, OVERLOAD_REJECT);
	ck_assert_str_eq(a->banner, "busy");
	/* per_source is one key: the short form drops the defaults' prefix too. */
	ck_assert_uint_eq(a->per_source_max, 2);
	ck_assert_uint_eq(a->ipv4_prefix, 32);
	/* A rate brings its own burst (here the default), not the defaults' 50. */
	ck_assert(a->rate == 20 && a->burst == 20);
	ck_assert(a->per_source_rate == 1 && a->per_source_burst == 1);

	/* b: an empty banner removes the inherited one. */
	ck_assert_ptr_null(b->banner);
	ck_assert_int_eq(b->overload, OVERLOAD_WAIT);
	ck_assert_uint_eq(b->max_connections, 100);
	ck_assert(b->rate == 10 && b->burst == 50);

	/* c: everything from defaults. */
	ck_assert_uint_eq(c->max_connections, 100);
	ck_assert_str_eq(c->banner, "busy");
	ck_assert_uint_eq(c->per_source_max, 5);
	ck_assert_uint_eq(c->ipv4_prefix, 24);
	ck_assert_uint_eq(c->ipv6_prefix, 64);
	ck_assert(c->rate == 10 && c->burst == 50);
	ck_assert(c->banner != svc(cfg, "a")->limits.banner); /* each service owns its copy */
	config_unref(cfg);
}
END_TEST

START_TEST(access_replaced_whole)
{
	struct config *cfg =
	        load_ok(NOBODY, "defaults:\n"
	                        "  access: {allow: ['10.0.0.0/8'], deny: ['10.1.0.0/16'],\n"
	                        "           allow_users: [nobody]}\n"
	                        "services:\n"
	                        "  a: {listen: '127.0.0.1:1', builtin: echo,\n"
	                        "      access: {deny: ['192.0.2.0/24']}}\n"
	                        "  b: {listen: '127.0.0.1:2', builtin: echo}\n"
	                        "  c: {listen: '127.0.0.1:3', builtin: echo, access: {}}\n"
	                        "  u: {listen: 'unix:/x', builtin: echo}\n"
	                        "  mixed: {listen: ['unix:/y', '127.0.0.1:4'], builtin: echo,\n"
	                        "          access: {allow: ['::1'], allow_groups: [nogroup]}}\n"
	                        "  sd: {listen: 'systemd:sd', builtin: echo,\n"
	                        "       access: {allow: ['::1'], allow_users: ['0']}}\n");
	const struct access_conf *a = &svc(cfg, "a")->access, *b = &svc(cfg, "b")->access;
	const struct access_conf *c = &svc(cfg, "c")->access, *u = &svc(cfg, "u")->access;
	const struct access_conf *m = &svc(cfg, "mixed")->access;

	/* a's own map replaces the defaults' as a whole: no inherited allow or users. */
	ck_assert_uint_eq(a->n_allow, 0);
	ck_assert_uint_eq(a->n_deny, 1);
	assert_cidr(&a->deny[0], "192.0.2.0/24");
	ck_assert_uint_eq(a->n_allow_uids, 0);
	ck_assert_uint_eq(b->n_allow, 1);
	ck_assert_uint_eq(b->n_deny, 1);
	ck_assert_uint_eq(b->n_allow_uids, 1);
	ck_assert(b->allow != svc(cfg, "u")->access.allow); /* copies, not shared */
	/* An empty map removes every rule. */
	ck_assert_uint_eq(c->n_allow + c->n_deny + c->n_allow_uids + c->n_allow_gids, 0);
	/* Inherited rules that cannot apply to a service's listeners are not an error. */
	ck_assert_uint_eq(u->n_allow, 1);
	ck_assert_uint_eq(u->n_allow_uids, 1);
	ck_assert_uint_eq(m->n_allow, 1);
	ck_assert_uint_eq(m->n_allow_gids, 1);
	ck_assert_uint_eq(svc(cfg, "sd")->access.n_allow_uids, 1);
	config_unref(cfg);
}
END_TEST

START_TEST(connlog_inherited)
{
	struct config *cfg = load_ok(NOBODY, "log: {connections: 'json:{D}/c.jsonl'}\n"
	                                     "services:\n"
	                                     "  a: {listen: '127.0.0.1:1', builtin: echo}\n"
	                                     "  b: {listen: '127.0.0.1:2', builtin: echo,\n"
	                                     "      log_connections: 'off'}\n"
	                                     "  c: {listen: '127.0.0.1:3', builtin: echo,\n"
	                                     "      log_connections: 'json:/tmp/other.jsonl'}\n"
	                                     "  d: {listen: '127.0.0.1:4', builtin: echo,\n"
	                                     "      log_connections: off}\n");
	char path[TPATH];

	snprintf(path, sizeof(path), "%s/c.jsonl", dir);
	ck_assert_int_eq(svc(cfg, "a")->connlog, CONNLOG_JSON);
	ck_assert_str_eq(svc(cfg, "a")->connlog_path, path);
	ck_assert(svc(cfg, "a")->connlog_path != cfg->connlog_path);
	ck_assert_int_eq(svc(cfg, "b")->connlog, CONNLOG_OFF);
	ck_assert_ptr_null(svc(cfg, "b")->connlog_path);
	ck_assert_int_eq(svc(cfg, "c")->connlog, CONNLOG_JSON);
	ck_assert_str_eq(svc(cfg, "c")->connlog_path, "/tmp/other.jsonl");
	ck_assert_int_eq(svc(cfg, "d")->connlog, CONNLOG_OFF);
	config_unref(cfg);

	cfg = load_ok(NOBODY, "log: {connections: 'off'}\n"
	                      "services:\n  a: {listen: '127.0.0.1:1', exec: /bin/true}\n");
	ck_assert_int_eq(cfg->connlog, CONNLOG_OFF);
	ck_assert_int_eq(svc(cfg, "a")->connlog, CONNLOG_OFF);
	config_unref(cfg);
	cfg = load_ok(NOBODY, "log: {connections: journal}\n"
	                      "services:\n  a: {listen: '127.0.0.1:1', builtin: echo}\n");
	ck_assert_int_eq(svc(cfg, "a")->connlog, CONNLOG_JOURNAL);
	config_unref(cfg);
}
END_TEST

/* ------------------------------------------------------------------ includes */

START_TEST(includes_in_order)
{
	char path[TPATH];

	mkdir_at("conf.d");
	mkdir_at("conf.d/dir.yaml"); /* a directory matching the pattern: skipped */
	mkdir_at("other");
	write_at("conf.d/b.yaml", "services:\n  b: {listen: '127.0.0.1:2', builtin: echo}\n");
	write_at("conf.d/a.yaml", "# first\nservices:\n"
	                          "  a: {listen: '127.0.0.1:1', builtin: echo, nice: 1}\n"
	                          "  a2: {listen: '127.0.0.1:12', builtin: echo}\n");
	write_at("conf.d/notes.txt", "not yaml: [\n");
	write_at("conf.d/empty.yaml", "");
	write_at("other/o.yaml", "services:\n  o: {listen: '127.0.0.1:3', builtin: echo}\n");
	struct config *cfg =
	        load_ok(NOBODY, "defaults: {nice: 2}\n"
	                        "services:\n"
	                        "  first: {listen: '127.0.0.1:4', builtin: echo}\n"
	                        "include: [conf.d/*.yaml, '{D}/other/*.yaml', nothing/*.yaml]\n"
	                        "log: {level: notice}\n");

	ck_assert_uint_eq(cfg->n_services, 5);
	ck_assert_str_eq(cfg->services[0].name, "first");
	ck_assert_str_eq(cfg->services[1].name, "a");
	ck_assert_str_eq(cfg->services[2].name, "a2");
	ck_assert_str_eq(cfg->services[3].name, "b");
	ck_assert_str_eq(cfg->services[4].name, "o");
	/* Positions name the included file, as globbed from the main file's directory. */
	snprintf(path, sizeof(path), "%s/conf.d/a.yaml", dir);
	ck_assert_str_eq(svc(cfg, "a")->pos.file, path);
	ck_assert_int_eq(svc(cfg, "a")->pos.line, 3);
	ck_assert_ptr_eq(svc(cfg, "a")->pos.file, svc(cfg, "a2")->pos.file); /* interned */
	snprintf(path, sizeof(path), "%s/other/o.yaml", dir);
	ck_assert_str_eq(svc(cfg, "o")->listen[0].pos.file, path);
	/* The main file's defaults apply to included services. */
	ck_assert_int_eq(svc(cfg, "a")->nice, 1);
	ck_assert_int_eq(svc(cfg, "b")->nice, 2);
	ck_assert_int_eq(cfg->log_level, LOG_NOTICE);
	config_unref(cfg);
}
END_TEST

START_TEST(include_single_string_and_self)
{
	/* "*.yaml" beside the main file matches the main file too: read once. */
	write_at("x.yaml", "services:\n  x: {listen: '127.0.0.1:2', builtin: echo}\n");
	struct config *cfg = load_ok(NOBODY, "include: '*.yaml'\n"
	                                     "services:\n"
	                                     "  m: {listen: '127.0.0.1:1', builtin: echo}\n");

	ck_assert_uint_eq(cfg->n_services, 2);
	ck_assert_str_eq(cfg->services[0].name, "x");
	ck_assert_str_eq(cfg->services[1].name, "m");
	config_unref(cfg);
}
END_TEST

START_TEST(include_twice_reads_once)
{
	mkdir_at("conf.d");
	write_at("conf.d/a.yaml", "services:\n  a: {listen: '127.0.0.1:1', builtin: echo}\n");
	struct config *cfg = load_ok(NOBODY, "include: [conf.d/a.yaml, conf.d/*]\n");

	ck_assert_uint_eq(cfg->n_services, 1);
	config_unref(cfg);
}
END_TEST

START_TEST(include_relative_to_cwd_path)
{
	char cwd[TPATH];
	struct config *cfg;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	mkdir_at("conf.d");
	write_at("conf.d/a.yaml", "services:\n  a: {listen: '127.0.0.1:1', builtin: echo}\n");
	write_at("c.yaml", "include: conf.d/*.yaml\n");
	ck_assert_int_eq(chdir(dir), 0);
	cfg = load_ok_path(NOBODY, "c.yaml");
	ck_assert_str_eq(cfg->path, "c.yaml");
	ck_assert_str_eq(svc(cfg, "a")->pos.file, "conf.d/a.yaml");
	config_unref(cfg);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* ------------------------------------------------------------------ fingerprints */

static char *fingerprint(uid_t uid, const char *yaml, const char *name)
{
	struct config *cfg = load_ok(uid, yaml);
	char *fp = strdup(svc(cfg, name)->fingerprint);

	config_unref(cfg);
	return fp;
}

#define FP_BASE                                                                                    \
	"defaults: {environment: {A: '1'}}\n"                                                      \
	"services:\n"                                                                              \
	"  a: {listen: '127.0.0.1:1', builtin: echo}\n"                                            \
	"  b: {listen: '127.0.0.1:2', builtin: echo, mpm: {model: fork, max_children: 4}}\n"

static const struct {
	const char *name;
	const char *yaml;
	const char *service;
	bool same;
} fp_cases[] = {
        {"reordered, block style, comments",
         "# a comment\n"
         "services:\n"
         "  b:\n"
         "    mpm:\n"
         "      max_children: 4\n"
         "      model: fork\n"
         "    builtin: echo\n"
         "    listen: ['127.0.0.1:2']\n"
         "  a: {builtin: echo, listen: \"127.0.0.1:1\"}\n"
         "defaults:\n"
         "  environment:\n"
         "    A: \"1\"\n",
         "b", true},
        {"the same for the other service",
         "services:\n"
         "  b: {listen: '127.0.0.1:2', builtin: echo, mpm: {model: "
         "fork, max_children: 4}}\n"
         "  a: {listen: '127.0.0.1:1', builtin: echo, environment: "
         "{A: '1'}}\n",
         "a", true},
        {"explicit defaults equal absent ones",
         "defaults: {environment: {A: '1'}}\n"
         "services:\n"
         "  a: {listen: [{address: '127.0.0.1:1', backlog: 4096}], "
         "builtin: echo, mpm: fork, shutdown_timeout: 10s}\n",
         "a", true},
        {"a default changed",
         "defaults: {environment: {A: '2'}}\n"
         "services:\n"
         "  a: {listen: '127.0.0.1:1', builtin: echo}\n",
         "a", false},
        {"an MPM option changed",
         "defaults: {environment: {A: '1'}}\n"
         "services:\n"
         "  b: {listen: '127.0.0.1:2', builtin: echo, mpm: {model: fork, "
         "max_children: 5}}\n",
         "b", false},
        {"a listen option changed",
         "defaults: {environment: {A: '1'}}\n"
         "services:\n"
         "  a: {listen: [{address: '127.0.0.1:1', nodelay: true}], "
         "builtin: echo}\n",
         "a", false},
        {"the handler changed",
         "defaults: {environment: {A: '1'}}\n"
         "services:\n"
         "  a: {listen: '127.0.0.1:1', builtin: time}\n",
         "a", false},
        {"a value imitating two",
         "services:\n"
         "  a: {listen: '127.0.0.1:1', builtin: echo, environment: {A: "
         "'1;env=1:B;val=1:2;'}}\n",
         "a", false},
        {"a module instead of a builtin",
         "defaults: {environment: {A: '1'}}\n"
         "services:\n"
         "  a: {listen: '127.0.0.1:1', module: '{D}/m.so'}\n",
         "a", false},
        {"a timeout changed",
         "defaults: {environment: {A: '1'}, limits: {idle_timeout: 1s}}\n"
         "services:\n"
         "  a: {listen: '127.0.0.1:1', builtin: echo}\n",
         "a", false},
};

START_TEST(fingerprint_table)
{
	char *base = fingerprint(NOBODY, FP_BASE, fp_cases[_i].service);
	char *other = fingerprint(NOBODY, fp_cases[_i].yaml, fp_cases[_i].service);

	ck_assert_msg((strcmp(base, other) == 0) == fp_cases[_i].same, "%s:\n%s\n%s",
	              fp_cases[_i].name, base, other);
	free(base);
	free(other);
}
END_TEST

/* Pairs of files differing only in the new keys: equal settings however they are
 * written give one fingerprint, any change gives another. */
#define FPA(x) "services:\n  a: {builtin: echo, " x "}\n"
#define FPL    "listen: '127.0.0.1:1'"
#define FPU    "listen: 'unix:/x'"
#define FPP(x) "listen: [{address: '127.0.0.1:1', proxy_protocol: true, " x "}]"

static const struct {
	const char *name;
	const char *one, *two;
	bool same;
} fp_pairs[] = {
        {"a rate written two ways, block style", FPA(FPL ", limits: {rate: 10/s}"),
         "services:\n  a:\n    limits:\n      burst: 10\n      rate: 600/m\n"
         "    listen: '127.0.0.1:1'\n    builtin: echo\n",
         true},
        {"rate changed", FPA(FPL ", limits: {rate: 10/s}"), FPA(FPL ", limits: {rate: 11/s}"),
         false},
        {"rate changed a little", FPA(FPL ", limits: {rate: 1/s, burst: 5}"),
         FPA(FPL ", limits: {rate: 1.000000001/s, burst: 5}"), false},
        {"burst changed", FPA(FPL ", limits: {rate: 10/s}"),
         FPA(FPL ", limits: {rate: 10/s, burst: 11}"), false},
        {"max_connections changed", FPA(FPL ", limits: {max_connections: 5}"),
         FPA(FPL ", limits: {max_connections: 6}"), false},
        {"overload changed", FPA(FPL ", limits: {max_connections: 5}"),
         FPA(FPL ", limits: {max_connections: 5, overload: reject}"), false},
        {"explicit overload default", FPA(FPL ", limits: {max_connections: 5}"),
         FPA(FPL ", limits: {max_connections: 5, overload: wait, banner: ''}"), true},
        {"banner changed", FPA(FPL ", limits: {banner: a}"), FPA(FPL ", limits: {banner: b}"),
         false},
        {"per_source short and long", FPA(FPL ", limits: {per_source: 3}"),
         FPA(FPL ", limits: {per_source: {ipv6_prefix: 64, max: 3, ipv4_prefix: 32}}"), true},
        {"per_source prefix changed", FPA(FPL ", limits: {per_source: 3}"),
         FPA(FPL ", limits: {per_source: {max: 3, ipv4_prefix: 24}}"), false},
        {"per_source changed", FPA(FPL ", limits: {per_source: 3}"),
         FPA(FPL ", limits: {per_source: 4}"), false},
        {"per_source_rate changed", FPA(FPL ", limits: {per_source_rate: 1/s}"),
         FPA(FPL ", limits: {per_source_rate: 2/s}"), false},
        {"per_source_burst changed", FPA(FPL ", limits: {per_source_rate: 1/s}"),
         FPA(FPL ", limits: {per_source_rate: 1/s, per_source_burst: 3}"), false},
        {"allow changed", FPA(FPL ", access: {allow: ['10.0.0.0/8']}"),
         FPA(FPL ", access: {allow: ['10.0.0.0/16']}"), false},
        {"allow became deny", FPA(FPL ", access: {allow: ['10.0.0.0/8']}"),
         FPA(FPL ", access: {deny: ['10.0.0.0/8']}"), false},
        {"host bits do not matter", FPA(FPL ", access: {allow: ['10.0.0.0/8']}"),
         FPA(FPL ", access: {allow: ['10.9.9.9/8']}"), true},
        {"empty access is no access", FPA(FPL), FPA(FPL ", access: {allow: [], deny: []}"), true},
        {"allow_users changed", FPA(FPU ", access: {allow_users: [nobody]}"),
         FPA(FPU ", access: {allow_users: [root]}"), false},
        {"allow_users by name or number", FPA(FPU ", access: {allow_users: [root]}"),
         FPA(FPU ", access: {allow_users: ['0']}"), true},
        {"allow_groups changed", FPA(FPU ", access: {allow_groups: [nogroup]}"),
         FPA(FPU ", access: {allow_groups: [root]}"), false},
        {"proxy_protocol turned on", FPA(FPL), FPA(FPP("trusted_proxies: ['10.0.0.0/8']")), false},
        {"trusted_proxies changed", FPA(FPP("trusted_proxies: ['10.0.0.0/8']")),
         FPA(FPP("trusted_proxies: ['10.0.0.0/9']")), false},
        {"proxy_timeout changed", FPA(FPP("trusted_proxies: ['::1']")),
         FPA(FPP("trusted_proxies: ['::1'], proxy_timeout: 4s")), false},
        {"explicit proxy_timeout default", FPA(FPP("trusted_proxies: ['::1']")),
         FPA(FPP("proxy_timeout: 5000ms, trusted_proxies: ['::1']")), true},
        {"explicit proxy_protocol default", FPA(FPL),
         FPA("listen: [{address: '127.0.0.1:1', proxy_protocol: false}]"), true},
        {"log_connections changed", FPA(FPL ", log_connections: 'off'"),
         FPA(FPL ", log_connections: journal"), false},
        {"log_connections set", FPA(FPL), FPA(FPL ", log_connections: journal"), false},
        {"log_connections file changed", FPA(FPL ", log_connections: 'json:/tmp/a.jsonl'"),
         FPA(FPL ", log_connections: 'json:/tmp/b.jsonl'"), false},
        {"log.connections inherited equals the service's own",
         "log: {connections: journal}\n" FPA(FPL), FPA(FPL ", log_connections: journal"), true},
        {"log.connections changed", "log: {connections: journal}\n" FPA(FPL),
         "log: {connections: 'off'}\n" FPA(FPL), false},
        {"limits from defaults equal the service's own",
         "defaults: {limits: {rate: 5/s}, access: {deny: ['::/0']}}\n" FPA(FPL),
         FPA(FPL ", limits: {rate: 5/s}, access: {deny: ['::/0']}"), true},
};

START_TEST(fingerprint_pairs)
{
	char *one = fingerprint(NOBODY, fp_pairs[_i].one, "a");
	char *two = fingerprint(NOBODY, fp_pairs[_i].two, "a");

	ck_assert_msg((strcmp(one, two) == 0) == fp_pairs[_i].same, "%s:\n%s\n%s",
	              fp_pairs[_i].name, one, two);
	free(one);
	free(two);
}
END_TEST

START_TEST(fingerprint_moved_to_include)
{
	char *base = fingerprint(NOBODY, FP_BASE, "b"), *moved;

	mkdir_at("conf.d");
	write_at("conf.d/b.yaml", "\n\nservices:\n"
	                          "    b: {listen: '127.0.0.1:2', builtin: echo,\n"
	                          "        mpm: {model: fork, max_children: 4}}\n");
	moved = fingerprint(NOBODY,
	                    "defaults: {environment: {A: '1'}}\n"
	                    "include: conf.d/*.yaml\n"
	                    "services:\n"
	                    "  a: {listen: '127.0.0.1:1', builtin: echo}\n",
	                    "b");
	ck_assert_str_eq(base, moved);
	free(base);
	free(moved);
}
END_TEST

START_TEST(fingerprint_module)
{
	char *a = fingerprint(NOBODY,
	                      "services:\n  a: {listen: '127.0.0.1:1', module: {path: '{D}/m.so', "
	                      "args: {x: y}}}\n",
	                      "a");
	char *same = fingerprint(NOBODY,
	                         "services:\n  a: {listen: '127.0.0.1:1', module: '{D}/m.so', "
	                         "args: {x: y}}\n",
	                         "a");
	char *path = fingerprint(NOBODY,
	                         "services:\n  a: {listen: '127.0.0.1:1', module: {path: "
	                         "'{D}/other.so', args: {x: y}}}\n",
	                         "a");
	char *arg =
	        fingerprint(NOBODY,
	                    "services:\n  a: {listen: '127.0.0.1:1', module: {path: '{D}/m.so', "
	                    "args: {x: z}}}\n",
	                    "a");

	/* Where the args are written does not matter; what they say and which file does. */
	ck_assert_str_eq(a, same);
	ck_assert_str_ne(a, path);
	ck_assert_str_ne(a, arg);
	free(a);
	free(same);
	free(path);
	free(arg);
}
END_TEST

START_TEST(fingerprint_identity)
{
	char *a = fingerprint(ROOT,
	                      "services:\n  a: {listen: '127.0.0.1:1', builtin: echo, "
	                      "user: nobody}\n",
	                      "a");
	char *b = fingerprint(ROOT,
	                      "defaults: {user: nobody}\nservices:\n  a: {listen: "
	                      "'127.0.0.1:1', builtin: echo}\n",
	                      "a");
	char *c = fingerprint(ROOT,
	                      "services:\n  a: {listen: '127.0.0.1:1', builtin: echo, "
	                      "user: nobody, capabilities: [chown]}\n",
	                      "a");

	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* ------------------------------------------------------------------ errors */

#define SVC      "services:\n  e: "
#define E_LISTEN "listen: '127.0.0.1:7'"
#define LIM(x)   SVC "{" E_LISTEN ", builtin: echo, limits: {" x "}}\n"
#define ACC(x)   SVC "{" E_LISTEN ", builtin: echo, access: {" x "}}\n"
#define UACC(x)  SVC "{listen: 'unix:/x', builtin: echo, access: {" x "}}\n"
#define PX(x)    SVC "{listen: [{address: '127.0.0.1:7', " x "}], builtin: echo}\n"
#define RATE_MSG                                                                                   \
	"expected a rate such as 200/s, 10/m or 0.5/h (a positive number per second, minute or "   \
	"hour), got "

static const struct {
	uid_t uid;
	const char *yaml;
	const char *marker;
	const char *msg;
} errors[] = {
        /* handlers */
        {NOBODY, SVC "{listen: '127.0.0.1:7', builtin: nosuch}\n", "nosuch",
         "services.e.builtin: unknown built-in 'nosuch' (expected one of: chargen, daytime, "
         "discard, echo, forward, time)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7'}\n",
         "  ^e:", "service 'e' needs one of builtin, exec or module"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', builtin: echo, exec: /bin/cat}\n", "exec",
         "service 'e' has both builtin and exec (expected exactly one of builtin, exec or "
         "module)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: {path: /nonexistent/x.so}}\n", "/non",
         "services.e.module.path: the module '/nonexistent/x.so' does not exist"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: /nonexistent/x.so}\n", "/non",
         "services.e.module: the module '/nonexistent/x.so' does not exist"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: m.so}\n", "m.so",
         "services.e.module: the module 'm.so' is a relative path (expected an absolute path)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: {path: /tmp}}\n", "/tmp",
         "services.e.module.path: the module '/tmp' is not a regular file"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: {args: {a: b}}}\n", "{args",
         "services.e.module: expected 'path' (the module's .so file)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: {path: '{D}/m.so', arg: {a: b}}}\n",
         "arg:", "unknown key 'arg' in services.e.module (expected one of: path, args)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: [/x.so]}\n", "[/x",
         "services.e.module: expected a module path or a map with 'path' and 'args', got a "
         "list"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: ~}\n", "~",
         "services.e.module: expected a module path or a map with 'path' and 'args', got "
         "nothing (null)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: {path: [a]}}\n", "[a]",
         "services.e.module.path: expected a string, got a list"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: {path: '{D}/m.so', args: {a: {b: c}}}}\n",
         "{b", "services.e.module.args.a: expected a string, got a map"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: {path: '{D}/m.so', args: [a]}}\n", "[a]",
         "services.e.module.args: expected a map, got a list"},
        {NOBODY,
         SVC "{listen: '127.0.0.1:7', args: {c: d}, module: {path: '{D}/m.so', args: {a: b}}}\n",
         "args: {a", "services.e.module: args given twice (here and in the service): keep one"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', builtin: echo, module: '{D}/m.so'}\n", "module",
         "service 'e' has both builtin and module (expected exactly one of builtin, exec or "
         "module)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', exec: [bin/cat, -u]}\n", "bin/cat",
         "services.e.exec: the program 'bin/cat' is a relative path (expected an absolute path)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', exec: /nonexistent/prog}\n", "/nonexistent",
         "services.e.exec: the program '/nonexistent/prog' does not exist"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', exec: ['{D}/noexec']}\n", "'{D}",
         "services.e.exec: the program '{D}/noexec' is not executable"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', exec: [/tmp]}\n", "/tmp]",
         "services.e.exec: the program '/tmp' is not executable (not a regular file)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', exec: []}\n", "[]",
         "services.e.exec: expected a program path or a non-empty list [program, arguments...], "
         "got an empty list"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', exec: [/bin/cat, [x]]}\n", "[x]",
         "services.e.exec[1]: expected a string, got a list"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', exec: /bin/cat, args: {a: b}}\n", "args",
         "services.e: args are for module services (a program takes its arguments in "
         "exec)"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', module: '{D}/m.so', args: {a: [1]}}\n", "[1]",
         "services.e.args.a: expected a string, got a list"},
        {NOBODY, SVC "{listen: '127.0.0.1:7', builtin: echo, args: {a: b}}\n", "args",
         "services.e: the built-in 'echo' takes no args"},
        /* listen */
        {NOBODY, SVC "{listen: '127.0.0.1:99999', builtin: echo}\n", "'127",
         "services.e.listen: invalid address '127.0.0.1:99999': the port must be between 1 and "
         "65535"},
        {NOBODY, "services:\n  e:\n    listen: [localhost:7]\n    builtin: echo\n", "localhost",
         "services.e.listen[0]: invalid address 'localhost:7': host names are not resolved: use a "
         "numeric address such as 127.0.0.1 or [::1]"},
        {NOBODY, SVC "{builtin: echo}\n",
         "  ^e:", "service 'e' needs listen (an address or a list of addresses)"},
        /* banners */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, banner: '{D}/nosuch'}\n", "'{D}/nosuch",
         "services.e.banner: cannot read the banner file '{D}/nosuch': No such file or "
         "directory"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, banner_fail: '{D}'}\n", "'{D}'",
         "services.e.banner_fail: the banner file '{D}' is not a regular file"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, banner_success: hello.txt}\n", "hello",
         "services.e.banner_success: expected an absolute path, got 'hello.txt'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, banner_success: [a]}\n", "[a]",
         "services.e.banner_success: expected a string, got a list"},
        {NOBODY, "defaults: {banner: '{D}/nosuch'}\n" SVC "{" E_LISTEN ", builtin: echo}\n",
         "'{D}/nosuch",
         "defaults.banner: cannot read the banner file '{D}/nosuch': No such "
         "file or directory"},
        {NOBODY, SVC "{" E_LISTEN ", exec: /bin/cat, mpm: prefork, banner: '{D}/hello.txt'}\n",
         "'{D}/hello",
         "service 'e': banner cannot be sent under model 'prefork' with a program "
         "(exec): the program accepts the connections itself, so superserverd never sees a "
         "client (models that can: fork)"},
        {NOBODY, SVC "{" E_LISTEN ", exec: /bin/cat, mpm: wait, banner_fail: '{D}/hello.txt'}\n",
         "'{D}/hello",
         "service 'e': banner_fail cannot be sent under model 'wait' with a "
         "program (exec): the program accepts the connections itself, so superserverd never "
         "sees a client (models that can: fork)"},
        {NOBODY,
         SVC "{listen: ['127.0.0.1:7', 'udp:127.0.0.1:7'], builtin: echo, mpm: event, "
             "banner_success: '{D}/hello.txt'}\n",
         "'udp",
         "service 'e': udp:127.0.0.1:7 is a datagram socket, and banner_success is sent "
         "on connections (a service with banners listens on stream sockets only)"},
        /* named ports */
        {NOBODY,
         "services:\n  e:\n    listen: ['127.0.0.1:7', '0.0.0.0:rsyncx']\n    builtin: echo\n",
         "'0.0",
         "services.e.listen[1]: invalid address '0.0.0.0:rsyncx': unknown service name "
         "'rsyncx' (not in {D}/services)"},
        {NOBODY, SVC "{listen: 'udp:[::]:rsync', builtin: echo}\n", "'udp",
         "services.e.listen: invalid address 'udp:[::]:rsync': {D}/services knows the service "
         "'rsync' only for tcp, not udp"},
        {NOBODY, SVC "{listen: '*:tftp', builtin: echo}\n", "'*",
         "services.e.listen: invalid address '*:tftp': {D}/services knows the service 'tftp' "
         "only for udp, not tcp"},
        {NOBODY, SVC "{listen: [{address: 'tcp:[::1]:r$ync'}], builtin: echo}\n", "'tcp",
         "services.e.listen[0].address: invalid address 'tcp:[::1]:r$ync': the port must be a "
         "number between 1 and 65535 or a service name"},
        {NOBODY,
         "services:\n  a: {listen: '0.0.0.0:873', builtin: echo}\n"
         "  b: {listen: '*:rsync', builtin: echo}\n",
         "'*:",
         "address '0.0.0.0:873' of service 'b' is already used by service 'a' (at "
         "{F}:2:15)"},
        {NOBODY, SVC "{listen: [], builtin: echo}\n", "[]",
         "services.e.listen: expected an address or a non-empty list of addresses, got an empty "
         "list"},
        {NOBODY, SVC "{listen: ['127.0.0.1:7'], builtin: echo, listen: x}\n", "^listen: x",
         "services.e: duplicate key 'listen' (first at 2:7)"},
        {NOBODY, "services:\n  e:\n    listen: [{backlog: 5}]\n    builtin: echo\n", "{backlog",
         "services.e.listen[0]: expected 'address'"},
        {NOBODY, "services:\n  e:\n    listen: [[a]]\n    builtin: echo\n", "[a]",
         "services.e.listen[0]: expected an address or a map with 'address', got a list"},
        {NOBODY,
         "services:\n  e:\n    listen: [{address: '127.0.0.1:7', mode: '0660'}]\n"
         "    builtin: echo\n",
         "mode", "services.e.listen[0]: mode is only for unix: addresses (127.0.0.1:7 is not one)"},
        {NOBODY,
         "services:\n  e:\n    listen: [{address: 'systemd:x', owner: nobody}]\n"
         "    builtin: echo\n",
         "owner", "services.e.listen[0]: owner is only for unix: addresses (systemd:x is not one)"},
        {NOBODY,
         "services:\n  e:\n    listen: [{address: '127.0.0.1:7', backlog: 0}]\n"
         "    builtin: echo\n",
         "backlog: ^0", "services.e.listen[0]: backlog must be between 1 and 65535 (got 0)"},
        {NOBODY,
         "services:\n  e:\n    listen: [{address: '127.0.0.1:7', backlog: lots}]\n"
         "    builtin: echo\n",
         "lots", "services.e.listen[0].backlog: expected a number, got 'lots'"},
        {NOBODY,
         "services:\n  e:\n    listen: [{address: '127.0.0.1:7', nodelay: maybe}]\n"
         "    builtin: echo\n",
         "maybe", "services.e.listen[0].nodelay: expected true or false, got 'maybe'"},
        {NOBODY,
         "services:\n  e:\n    listen: [{address: 'unix:/x', mode: rw}]\n"
         "    builtin: echo\n",
         "rw", "services.e.listen[0].mode: expected an octal mode such as '0660', got 'rw'"},
        {NOBODY,
         "services:\n  e:\n    listen: [{address: 'unix:/x', group: no_such_group_x}]\n"
         "    builtin: echo\n",
         "no_such", "services.e.listen[0].group: unknown group 'no_such_group_x'"},
        {NOBODY,
         "services:\n  e:\n    listen: [{address: 'unix:/x', port: 5}]\n"
         "    builtin: echo\n",
         "port",
         "unknown key 'port' in services.e.listen[0] (expected one of: address, backlog, "
         "reuseport, nodelay, keepalive, receive_buffer, send_buffer, mode, owner, group, "
         "proxy_protocol, trusted_proxies, "
         "proxy_timeout, tls)"},
        {NOBODY,
         "services:\n  a: {listen: '127.0.0.1:7', builtin: echo}\n"
         "  b: {listen: ['127.0.0.1:8', '127.0.0.1:7'], builtin: echo}\n",
         "'127.0.0.1:8', ^'127.0.0.1:7'",
         "address '127.0.0.1:7' of service 'b' is already used by service 'a' (at {F}:2:15)"},
        {NOBODY, SVC "{listen: ['[::1]:7', '[0::1]:7'], builtin: echo}\n",
         "'[0::", "address '[::1]:7' of service 'e' is already used by service 'e' (at {F}:2:16)"},
        /* mpm */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: evnt}\n", "evnt",
         "services.e.mpm: unknown model 'evnt' (expected one of: %MODELS%)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: {model: evnt, workers: 2}}\n", "evnt",
         "services.e.mpm: unknown model 'evnt' (expected one of: %MODELS%)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: {model: fork, max_children: 70000}}\n",
         "70000", "services.e.mpm: max_children must be between 1 and 65536 (got 70000)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: {model: fork, max_children: 0}}\n",
         "max_children: ^0", "services.e.mpm: max_children must be between 1 and 65536 (got 0)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: {model: fork, max_children: abc}}\n",
         "abc", "services.e.mpm.max_children: expected a number, got 'abc'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: {model: fork, workers: 2}}\n", "workers",
         "unknown key 'workers' in services.e.mpm (expected one of: model, max_children, "
         "acceptors)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: {model: fork, acceptors: 0}}\n",
         "acceptors: ^0", "services.e.mpm: acceptors must be between 1 and 64 (got 0)"},
        {NOBODY,
         SVC "{" E_LISTEN ", builtin: echo, mpm: {model: fork, max_children: 2, acceptors: 3}}\n",
         "{model", "service 'e': acceptors (3) must not exceed max_children (2)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: {max_children: 2}}\n", "{max",
         "services.e.mpm: expected 'model' (one of: %MODELS%)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, mpm: [fork]}\n", "[fork]",
         "services.e.mpm: expected a model name or a map with 'model', got a list"},
        /* types */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, user: [a]}\n", "[a]",
         "services.e.user: expected a string, got a list"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, environment: [A]}\n", "[A]",
         "services.e.environment: expected a map, got a list"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, pass_environment: {A: b}}\n", "{A",
         "services.e.pass_environment: expected a list, got a map"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, limits: 5s}\n", "5s",
         "services.e.limits: expected a map, got a string"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: ~}\n", "~",
         "services.e.builtin: expected a string, got nothing (null)"},
        {NOBODY, "services:\n  e: ~\n", "~", "services.e: expected a map, got nothing (null)"},
        {NOBODY, "services: [a]\n", "[a]", "services: expected a map, got a list"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, [k]: v}\n", "[k]",
         "services.e: expected a string as key, got a list"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, bogus: 1}\n", "bogus",
         "unknown key 'bogus' in service 'e' (expected one of: listen, builtin, exec, module, "
         "args, log_connections, user, group, groups, capabilities, environment, "
         "pass_environment, umask, nice, rlimits, shutdown_timeout, limits, access, mpm, banner, "
         "banner_success, banner_fail)"},
        {NOBODY,
         "services:\n  e:\n    listen: '127.0.0.1:7'\n    builtin: echo\n    builtin: time\n",
         "echo\n    ^builtin", "services.e: duplicate key 'builtin' (first at 4:5)"},
        {NOBODY,
         "services:\n  e: {listen: '127.0.0.1:7', builtin: echo}\n"
         "  e: {listen: '127.0.0.1:8', builtin: echo}\n",
         "}\n  ^e:", "service 'e' is defined twice (first defined at {F}:2:3)"},
        {NOBODY, "services:\n  'bad name!': {listen: '127.0.0.1:7', builtin: echo}\n", "'bad",
         "services: invalid service name 'bad name!' (expected 1 to 64 of A-Z a-z 0-9 _ . -)"},
        {NOBODY,
         "services:\n  x0123456789012345678901234567890123456789012345678901234567890123: "
         "{listen: '127.0.0.1:7', builtin: echo}\n",
         "x0123",
         "services: invalid service name "
         "'x0123456789012345678901234567890123456789012345678901234567890123' (expected 1 to 64 "
         "of A-Z a-z 0-9 _ . -)"},
        /* identity, root */
        {ROOT, SVC "{" E_LISTEN ", builtin: echo}\n", "  ^e:",
         "service 'e' would run as root: set 'user:' (e.g. user: nobody, or defaults.user) or "
         "write 'user: root' explicitly"},
        {ROOT, SVC "{" E_LISTEN ", builtin: echo, user: no_such_user_x}\n", "no_such",
         "services.e.user: unknown user 'no_such_user_x'"},
        {ROOT, SVC "{" E_LISTEN ", builtin: echo, user: '4000000'}\n", "'4000000'",
         "services.e.user: unknown user '4000000'"},
        {ROOT, SVC "{" E_LISTEN ", builtin: echo, user: nobody, group: no_such_group_x}\n",
         "no_such", "services.e.group: unknown group 'no_such_group_x'"},
        {ROOT, SVC "{" E_LISTEN ", builtin: echo, user: nobody, groups: [nogroup, no_such_g]}\n",
         "no_such", "services.e.groups[1]: unknown group 'no_such_g'"},
        {ROOT, SVC "{" E_LISTEN ", builtin: echo, user: nobody, capabilities: [chown, flying]}\n",
         "flying",
         "services.e.capabilities[1]: unknown capability 'flying' (expected a name such as "
         "CAP_NET_BIND_SERVICE or net_bind_service)"},
        {ROOT, SVC "{" E_LISTEN ", builtin: echo, user: nobody, capabilities: chown}\n", "chown",
         "services.e.capabilities: expected a list, got a string"},
        /* identity, not root */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, user: root}\n", "root",
         "superserverd is not running as root (uid 65534): service 'e' can only run as its user "
         "'nobody'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, group: root}\n", "root",
         "superserverd is not running as root (uid 65534): service 'e' can only run as its group "
         "'nogroup'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, groups: [nogroup, root]}\n", "[nogroup",
         "superserverd is not running as root (uid 65534): service 'e' can only have the groups "
         "of user 'nobody'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, capabilities: [CAP_NET_BIND_SERVICE]}\n",
         "[CAP", "service 'e': capabilities need superserverd to be started as root"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, user: no_such_user_x}\n", "no_such",
         "services.e.user: unknown user 'no_such_user_x'"},
        /* environment */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, environment: {1A: x}}\n", "1A",
         "services.e.environment: invalid variable name '1A' (expected letters, digits and _, not "
         "starting with a digit)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, environment: {A: ~}}\n", "~",
         "services.e.environment.A: expected a string, got nothing (write '' for an empty value)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, environment: {A: x, A: y}}\n", "x, ^A",
         "services.e.environment: duplicate key 'A' (first at 2:59)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, pass_environment: [OK, 'B-C']}\n", "'B-C'",
         "services.e.pass_environment[1]: invalid variable name 'B-C' (expected letters, digits "
         "and _, not starting with a digit)"},
        /* umask, nice */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, umask: '0999'}\n", "'0999'",
         "services.e.umask: expected an octal umask between 0000 and 0777 such as 0022, got "
         "'0999'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, umask: '01777'}\n", "'01777'",
         "services.e.umask: expected an octal umask between 0000 and 0777 such as 0022, got "
         "'01777'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, nice: 20}\n", "20",
         "services.e: nice must be between -20 and 19 (got 20)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, nice: abc}\n", "abc",
         "services.e.nice: expected a number, got 'abc'"},
        /* rlimits */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, rlimits: {stack: 1}}\n", "stack",
         "unknown key 'stack' in services.e.rlimits (expected one of: nofile, nproc, as, cpu, "
         "core)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, rlimits: {nofile: {soft: 10, hard: 5}}}\n",
         "10", "services.e.rlimits.nofile: the soft limit 10 is above the hard limit 5"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, rlimits: {nofile: unlimited}}\n", "unlimited",
         "services.e.rlimits: nofile cannot be unlimited (the kernel caps it at fs.nr_open)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, rlimits: {as: 64Q}}\n", "64Q",
         "services.e.rlimits.as: expected a size such as 64M or unlimited, got '64Q'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, rlimits: {cpu: 1m}}\n", "1m",
         "services.e.rlimits.cpu: expected seconds or unlimited, got '1m'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, rlimits: {nproc: -1}}\n", "-1",
         "services.e.rlimits.nproc: expected a number or unlimited, got '-1'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, rlimits: {core: {soft: 0}}}\n", "{soft",
         "services.e.rlimits.core: expected both soft and hard"},
        /* durations */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, shutdown_timeout: -1s}\n", "-1s",
         "services.e.shutdown_timeout: expected a duration such as 500ms, 30s, 5m or 1h, got "
         "'-1s'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, shutdown_timeout: 99999999999999999999s}\n",
         "9999",
         "services.e.shutdown_timeout: expected a duration such as 500ms, 30s, 5m or 1h, "
         "got '99999999999999999999s'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, shutdown_timeout: 366d}\n", "366d",
         "services.e: shutdown_timeout must be at most 365d (got 366d)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, limits: {max_conns: 5}}\n", "max_conns",
         "unknown key 'max_conns' in services.e.limits (expected one of: idle_timeout, "
         "max_duration, max_connections, overload, banner, per_source, rate, burst, "
         "per_source_rate, per_source_burst, datagram_reply_max)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, limits: {idle_timeout: soon}}\n", "soon",
         "services.e.limits.idle_timeout: expected a duration such as 500ms, 30s, 5m or 1h, got "
         "'soon'"},
        /* limits */
        {NOBODY, LIM("max_connections: 0"), "max_connections: ^0",
         "services.e.limits: max_connections must be between 1 and 10000000 (got 0)"},
        {NOBODY, LIM("max_connections: 10000001"), "10000001",
         "services.e.limits: max_connections must be between 1 and 10000000 (got 10000001)"},
        {NOBODY, LIM("max_connections: many"), "many",
         "services.e.limits.max_connections: expected a number, got 'many'"},
        {NOBODY, LIM("max_connections: -1"), "-1",
         "services.e.limits.max_connections: expected a number, got '-1'"},
        {NOBODY, LIM("overload: drop"), "drop",
         "services.e.limits.overload: expected wait or reject, got 'drop'"},
        {NOBODY, LIM("banner: [a]"), "[a]",
         "services.e.limits.banner: expected a string, got a list"},
        {NOBODY, LIM("banner: \"a\\0b\""), "\"a",
         "services.e.limits.banner: the value contains a NUL character"},
        {NOBODY, LIM("per_source: 0"), "per_source: ^0",
         "services.e.limits: per_source must be between 1 and 1000000 (got 0)"},
        {NOBODY, LIM("per_source: lots"), "lots",
         "services.e.limits.per_source: expected a number, got 'lots'"},
        {NOBODY, LIM("per_source: [1]"), "[1]",
         "services.e.limits.per_source: expected a number or a map with 'max' (and ipv4_prefix, "
         "ipv6_prefix), got a list"},
        {NOBODY, LIM("per_source: {ipv4_prefix: 24}"), "{ipv4",
         "services.e.limits.per_source: expected 'max' (how many connections one source may have "
         "open)"},
        {NOBODY, LIM("per_source: {max: 1000001}"), "1000001",
         "services.e.limits.per_source: max must be between 1 and 1000000 (got 1000001)"},
        {NOBODY, LIM("per_source: {max: 2, ipv4_prefix: 33}"), "33",
         "services.e.limits.per_source: ipv4_prefix must be between 0 and 32 (got 33)"},
        {NOBODY, LIM("per_source: {max: 2, ipv6_prefix: 129}"), "129",
         "services.e.limits.per_source: ipv6_prefix must be between 0 and 128 (got 129)"},
        {NOBODY, LIM("per_source: {max: 2, ipv6_prefix: x}"), "x}",
         "services.e.limits.per_source.ipv6_prefix: expected a number, got 'x'"},
        {NOBODY, LIM("per_source: {max: 2, prefix: 24}"), "prefix",
         "unknown key 'prefix' in services.e.limits.per_source (expected one of: max, ipv4_prefix, "
         "ipv6_prefix)"},
        {NOBODY, LIM("rate: 0/s"), "0/s", "services.e.limits.rate: " RATE_MSG "'0/s'"},
        {NOBODY, LIM("rate: 0.0/m"), "0.0/m", "services.e.limits.rate: " RATE_MSG "'0.0/m'"},
        {NOBODY, LIM("rate: fast"), "fast", "services.e.limits.rate: " RATE_MSG "'fast'"},
        {NOBODY, LIM("rate: 200"), "200", "services.e.limits.rate: " RATE_MSG "'200'"},
        {NOBODY, LIM("rate: -1/s"), "-1/s", "services.e.limits.rate: " RATE_MSG "'-1/s'"},
        {NOBODY, LIM("rate: 200/x"), "200/x", "services.e.limits.rate: " RATE_MSG "'200/x'"},
        {NOBODY, LIM("rate: 200/sec"), "200/", "services.e.limits.rate: " RATE_MSG "'200/sec'"},
        {NOBODY, LIM("rate: '200 /s'"), "'200", "services.e.limits.rate: " RATE_MSG "'200 /s'"},
        {NOBODY, LIM("rate: .5/s"), ".5", "services.e.limits.rate: " RATE_MSG "'.5/s'"},
        {NOBODY, LIM("rate: 5./s"), "5./", "services.e.limits.rate: " RATE_MSG "'5./s'"},
        {NOBODY, LIM("rate: 1e3/s"), "1e3", "services.e.limits.rate: " RATE_MSG "'1e3/s'"},
        {NOBODY, LIM("rate: 2000000000/s"), "2000",
         "services.e.limits: rate must be at most 1000000000/s (got 2000000000/s)"},
        {NOBODY, LIM("rate: 5/s, burst: 0"), "burst: ^0",
         "services.e.limits: burst must be between 1 and 1000000000 (got 0)"},
        {NOBODY, LIM("rate: 5/s, burst: 0.5"), "0.5",
         "services.e.limits: burst must be between 1 and 1000000000 (got 0.5)"},
        {NOBODY, LIM("rate: 5/s, burst: lots"), "lots",
         "services.e.limits.burst: expected a number such as 20, got 'lots'"},
        {NOBODY, LIM("burst: 10"), "burst",
         "services.e.limits: burst needs rate (the burst is the size of the rate's bucket): give "
         "both"},
        {NOBODY, LIM("per_source_rate: 5"), "5}",
         "services.e.limits.per_source_rate: " RATE_MSG "'5'"},
        {NOBODY, LIM("per_source_rate: 1/s, per_source_burst: -1"), "-1",
         "services.e.limits.per_source_burst: expected a number such as 20, got '-1'"},
        {NOBODY, LIM("per_source_burst: 3"), "per_source_burst",
         "services.e.limits: per_source_burst needs per_source_rate (the burst is the size of the "
         "rate's bucket): give both"},
        /* access */
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, access: [a]}\n", "[a]",
         "services.e.access: expected a map, got a list"},
        {NOBODY, ACC("allow: 10.0.0.0/8"), "10.0.0.0/8",
         "services.e.access.allow: expected a list, got a string"},
        {NOBODY, ACC("allow: ['10.0.0.0/33']"), "'10.0.0.0/33'",
         "services.e.access.allow[0]: invalid CIDR '10.0.0.0/33': prefix 33 is out of range for "
         "IPv4 (0-32)"},
        {NOBODY, ACC("deny: ['::1/128', nonsense]"), "nonsense",
         "services.e.access.deny[1]: invalid CIDR 'nonsense': expected an IPv4 or IPv6 address "
         "with an optional /prefix, such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"},
        {NOBODY, ACC("deny: ['::/200']"), "'::",
         "services.e.access.deny[0]: invalid CIDR '::/200': prefix 200 is out of range for IPv6 "
         "(0-128)"},
        {NOBODY, ACC("allow: [[a]]"), "[a]",
         "services.e.access.allow[0]: expected a string, got a list"},
        {NOBODY, ACC("only_from: []"), "only_from",
         "unknown key 'only_from' in services.e.access (expected one of: allow, deny, allow_users, "
         "allow_groups)"},
        {NOBODY, UACC("allow_users: [no_such_user_x]"), "no_such",
         "services.e.access.allow_users[0]: unknown user 'no_such_user_x'"},
        {NOBODY, UACC("allow_groups: [nogroup, no_such_group_x]"), "no_such",
         "services.e.access.allow_groups[1]: unknown group 'no_such_group_x'"},
        {NOBODY, UACC("allow_users: nobody"), "nobody",
         "services.e.access.allow_users: expected a list, got a string"},
        {NOBODY, ACC("allow_users: [nobody]"), "allow_users",
         "services.e.access: allow_users applies to unix: listeners only (service 'e' has none)"},
        {NOBODY, ACC("allow_users: [], allow_groups: ['0']"), "allow_groups",
         "services.e.access: allow_groups applies to unix: listeners only (service 'e' has none)"},
        {NOBODY, UACC("allow: ['10.0.0.0/8']"), "allow",
         "services.e.access: allow applies to TCP listeners only (service 'e' listens on unix: "
         "sockets only)"},
        {NOBODY,
         SVC "{listen: ['unix:/x', 'unix:/y'], builtin: echo, access: {allow: [], deny: ['::/0'], "
             "allow_users: [nobody]}}\n",
         "deny",
         "services.e.access: deny applies to TCP listeners only (service 'e' listens on unix: "
         "sockets only)"},
        /* listen: PROXY protocol */
        {NOBODY, PX("proxy_protocol: true"), "proxy_protocol",
         "services.e.listen[0]: proxy_protocol needs trusted_proxies: the peers allowed to send "
         "the "
         "header"},
        {NOBODY, PX("proxy_protocol: true, trusted_proxies: []"), "[]",
         "services.e.listen[0]: proxy_protocol needs trusted_proxies: the peers allowed to send "
         "the "
         "header"},
        {NOBODY, PX("trusted_proxies: ['10.0.0.1']"), "trusted_proxies",
         "services.e.listen[0]: trusted_proxies needs proxy_protocol: true"},
        {NOBODY, PX("proxy_protocol: false, trusted_proxies: ['10.0.0.1']"), "trusted_proxies",
         "services.e.listen[0]: trusted_proxies needs proxy_protocol: true"},
        {NOBODY, PX("proxy_timeout: 1s"), "proxy_timeout",
         "services.e.listen[0]: proxy_timeout needs proxy_protocol: true"},
        {NOBODY,
         SVC
         "{listen: [{address: 'unix:/x', proxy_protocol: true, trusted_proxies: ['10.0.0.1']}], "
         "builtin: echo}\n",
         "proxy_protocol",
         "services.e.listen[0]: proxy_protocol is only for TCP addresses (unix:/x is not one)"},
        {NOBODY, SVC "{listen: {address: '127.0.0.1:7', receive_buffer: 100}, builtin: echo}\n",
         "100",
         "services.e.listen.receive_buffer: receive_buffer must be between 1K and 1G (got 100)"},
        {NOBODY, SVC "{listen: {address: '127.0.0.1:7', send_buffer: lots}, builtin: echo}\n",
         "lots", "services.e.listen.send_buffer: expected a size such as 256K or 4M, got 'lots'"},
        {NOBODY, SVC "{listen: 'udp:127.0.0.1:7', builtin: echo, mpm: fork}\n", "'udp:",
         "service 'e': udp:127.0.0.1:7 is a datagram socket, which model 'fork' does not serve "
         "with a handler (models that do: event)"},
        {NOBODY, SVC "{listen: 'udp:[::1]:7', builtin: daytime, mpm: prefork}\n", "'udp:",
         "service 'e': udp:[::1]:7 is a datagram socket, which model 'prefork' does not serve "
         "with a handler (models that do: event)"},
        {NOBODY, SVC "{listen: 'unixgram:/x', builtin: echo, mpm: threadpool}\n", "'unixgram:",
         "service 'e': unixgram:/x is a datagram socket, which model 'threadpool' does not "
         "serve with a handler (models that do: event)"},
        {NOBODY, SVC "{listen: ['127.0.0.1:7', 'udp:127.0.0.1:7'], builtin: chargen, mpm: event}\n",
         "'udp:",
         "service 'e': builtin 'chargen' on udp:127.0.0.1:7: chargen over datagrams answers any "
         "datagram, however small, with up to 512 bytes: the classic amplifier of reflection "
         "attacks (CVE-1999-0103). Serve it over a stream address only"},
        {NOBODY,
         SVC "{listen: {address: 'udp:127.0.0.1:7', backlog: 5}, builtin: echo, mpm: event}\n",
         "backlog",
         "services.e.listen: backlog is only for stream sockets (udp:127.0.0.1:7 is a datagram "
         "socket)"},
        {NOBODY,
         SVC "{listen: [{address: 'unixgram:/x', nodelay: true}], builtin: echo, mpm: event}\n",
         "nodelay",
         "services.e.listen[0]: nodelay is only for stream sockets (unixgram:/x is a datagram "
         "socket)"},
        {NOBODY, LIM("datagram_reply_max: 0"), "0}",
         "services.e.limits: datagram_reply_max must be between 1 and 16384 (got 0)"},
        {NOBODY, LIM("datagram_reply_max: 16385"), "16385",
         "services.e.limits: datagram_reply_max must be between 1 and 16384 (got 16385)"},
        {NOBODY, LIM("datagram_reply_max: lots"), "lots",
         "services.e.limits.datagram_reply_max: expected a size in bytes such as 4 or 512, got "
         "'lots'"},
        {NOBODY, SVC "{listen: 'udp:127.0.0.1:7', exec: [/bin/true], mpm: fork}\n", "'udp:",
         "service 'e': udp:127.0.0.1:7 is a datagram socket, which model 'fork' does not serve "
         "with a program (exec) (models that do: wait)"},
        /* the wait model */
        {NOBODY, SVC "{listen: '127.0.0.1:7', builtin: daytime, mpm: wait}\n", "mpm: ^wait",
         "service 'e': model 'wait' serves programs (exec:) only: it hands the listening socket "
         "itself to a program; a built-in or module handler runs under fork, prefork, threadpool "
         "or event"},
        {NOBODY,
         SVC "{listen: '127.0.0.1:7', exec: [/bin/true], mpm: wait, access: {allow: "
             "['10.0.0.0/8']}}\n",
         "'127.0.0.1:7'",
         "service 'e': 127.0.0.1:7: access lists cannot be applied to a stream socket under model "
         "'wait': the program accepts the connections itself, so superserverd never sees a "
         "client (use model 'fork' to have each connection checked)"},
        {NOBODY,
         SVC "{listen: 'unix:/x', exec: [/bin/true], mpm: wait, access: {allow_users: [root]}}\n",
         "'unix:/x'",
         "service 'e': unix:/x: access lists cannot be applied to a stream socket under model "
         "'wait': the program accepts the connections itself, so superserverd never sees a "
         "client (use model 'fork' to have each connection checked)"},
        {NOBODY,
         SVC "{listen: '127.0.0.1:7', exec: [/bin/true], mpm: wait, limits: {per_source: 4}}\n",
         "'127.0.0.1:7'",
         "service 'e': 127.0.0.1:7: per-source limits cannot be applied to a stream socket under "
         "model 'wait': the program accepts the connections itself (use model 'fork')"},
        {NOBODY,
         SVC "{listen: 'udp:127.0.0.1:7', exec: [/bin/true], mpm: wait, limits: "
             "{per_source_rate: 5/s}}\n",
         "'udp:",
         "service 'e': udp:127.0.0.1:7: per-source limits cannot be applied under model 'wait': "
         "the program reads every datagram itself once it has the socket"},
        {NOBODY,
         SVC "{listen: 'udp:127.0.0.1:7', exec: [/bin/true], mpm: {model: wait, timeout: "
             "soon}}\n",
         "soon",
         "services.e.mpm.timeout: expected a duration such as 500ms, 30s or 5m, got 'soon'"},
        {NOBODY,
         SVC "{listen: [{address: '127.0.0.1:7', proxy_protocol: true, trusted_proxies: "
             "['10.0.0.1']}], exec: [/bin/true], mpm: wait}\n",
         "{address",
         "service 'e': proxy_protocol with exec is served by fork (the program is started for a "
         "connection whose header superserverd has read); not by wait, where the program accepts "
         "connections itself and would take the header for the client's bytes. With a built-in or "
         "module handler these models serve it: fork, prefork, threadpool, event"},
        {NOBODY, PX("proxy_protocol: maybe, trusted_proxies: ['10.0.0.1'], proxy_timeout: 1s"),
         "maybe", "services.e.listen[0].proxy_protocol: expected true or false, got 'maybe'"},
        {NOBODY, PX("proxy_protocol: true, trusted_proxies: ['10.0.0.0/99']"), "'10.0.0.0/99'",
         "services.e.listen[0].trusted_proxies[0]: invalid CIDR '10.0.0.0/99': prefix 99 is out of "
         "range for IPv4 (0-32)"},
        {NOBODY, PX("proxy_protocol: true, trusted_proxies: '10.0.0.1'"), "'10.0.0.1'",
         "services.e.listen[0].trusted_proxies: expected a list, got a string"},
        {NOBODY, PX("proxy_protocol: true, trusted_proxies: ['::1'], proxy_timeout: 0s"), "0s",
         "services.e.listen[0]: proxy_timeout must be between 1ms and 60s (got 0s)"},
        {NOBODY, PX("proxy_protocol: true, trusted_proxies: ['::1'], proxy_timeout: 999us"),
         "999us", "services.e.listen[0]: proxy_timeout must be between 1ms and 60s (got 999us)"},
        {NOBODY, PX("proxy_protocol: true, trusted_proxies: ['::1'], proxy_timeout: 61s"), "61s",
         "services.e.listen[0]: proxy_timeout must be between 1ms and 60s (got 61s)"},
        {NOBODY, PX("proxy_protocol: true, trusted_proxies: ['::1'], proxy_timeout: soon"), "soon",
         "services.e.listen[0].proxy_timeout: expected a duration such as 500ms, 30s, 5m or 1h, "
         "got 'soon'"},
        /* connection records */
        {NOBODY, "log: {connections: syslog}\n", "syslog",
         "log.connections: expected journal, off or json:/absolute/path/file.jsonl, got 'syslog'"},
        {NOBODY, "log: {connections: [a]}\n", "[a]",
         "log.connections: expected a string, got a list"},
        {NOBODY, "log: {connections: 'json:rel.jsonl'}\n", "'json",
         "log.connections: the json file 'rel.jsonl' is not an absolute path"},
        {NOBODY, "log: {connections: 'json:'}\n", "'json",
         "log.connections: the json file '' is not an absolute path"},
        {NOBODY, "log: {connections: 'json:/nonexistent-ss/x.jsonl'}\n", "'json",
         "log.connections: the directory '/nonexistent-ss' does not exist"},
        {NOBODY, "log: {connections: 'json:{D}/'}\n", "'json",
         "log.connections: the json file '{D}/' is a directory (expected a file)"},
        {NOBODY, "log: {connections: 'json:{D}'}\n", "'json",
         "log.connections: the json file '{D}' is a directory (expected a file)"},
        {NOBODY, "log: {connections: 'json:{D}/noexec/x.jsonl'}\n", "'json",
         "log.connections: '{D}/noexec' is not a directory"},
        {NOBODY, "log: {connection: journal}\n", "connection",
         "unknown key 'connection' in log (expected one of: level, connections)"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, log_connections: nope}\n", "nope",
         "services.e.log_connections: expected journal, off or json:/absolute/path/file.jsonl, got "
         "'nope'"},
        {NOBODY, SVC "{" E_LISTEN ", builtin: echo, log_connections: 'json:/nonexistent-ss/x'}\n",
         "'json", "services.e.log_connections: the directory '/nonexistent-ss' does not exist"},
        {NOBODY, "defaults: {log_connections: 'off'}\n", "log_connections",
         "'log_connections' cannot be set in defaults"},
        /* PROXY listeners a model cannot serve: refused by --check-config too */
        {NOBODY,
         SVC
         "{listen: [{address: '127.0.0.1:9', proxy_protocol: true, trusted_proxies: ['::1']}],\n"
         "    exec: [/bin/cat],\n"
         "    mpm: prefork}\n",
         "{address",
         "service 'e': proxy_protocol with exec is served by fork (the program is started for a "
         "connection whose header superserverd has read); not by prefork, where the program "
         "accepts connections itself and would take the header for the client's bytes. With a "
         "built-in or module handler these models serve it: fork, prefork, threadpool, event"},
        /* defaults */
        {NOBODY, "defaults:\n  listen: '127.0.0.1:9'\nservices: {}\n", "  ^listen",
         "'listen' cannot be set in defaults"},
        {NOBODY, "defaults: {builtin: echo}\n", "builtin", "'builtin' cannot be set in defaults"},
        {NOBODY, "defaults: {colour: red}\n", "colour",
         "unknown key 'colour' in defaults (expected one of: user, group, groups, capabilities, "
         "environment, pass_environment, umask, nice, rlimits, shutdown_timeout, limits, access, "
         "mpm, banner, banner_success, banner_fail)"},
        {NOBODY, "defaults: [a]\n", "[a]", "defaults: expected a map, got a list"},
        /* top level, control, log, include */
        {NOBODY, "colors: true\n", "colors",
         "unknown key 'colors' at the top level (expected one of: control, log, defaults, include, "
         "services)"},
        {NOBODY, "- a\n", "-",
         "expected a map at the top level (control, log, defaults, include, services), got a "
         "list"},
        {NOBODY, "log: {level: info}\nlog: {level: debug}\n", "}\n^log",
         "duplicate key 'log' (first at 1:1)"},
        {NOBODY, "control: {socket: run/x.sock}\n", "run/",
         "control.socket: expected an absolute path, got 'run/x.sock'"},
        {NOBODY,
         "control: {socket: "
         "/run/0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
         "234567890123456789012}\n",
         "/run", "control.socket: the path is too long for a unix socket (108 bytes, at most 107)"},
        {NOBODY, "control: {group: no_such_group_x}\n", "no_such",
         "control.group: unknown group 'no_such_group_x'"},
        {NOBODY, "control: {admin_group: no_such_group_x}\n", "no_such",
         "control.admin_group: unknown group 'no_such_group_x'"},
        {NOBODY, "control: {sockett: /x}\n", "sockett",
         "unknown key 'sockett' in control (expected one of: socket, group, admin_group)"},
        {NOBODY, "log: {level: verbose}\n", "verbose",
         "log.level: unknown level 'verbose' (expected one of: debug, info, notice, warning, "
         "error)"},
        {NOBODY, "log: info\n", "info", "log: expected a map, got a string"},
        {NOBODY, "include: {a: b}\n", "{a",
         "include: expected a file pattern or a list of patterns, got a map"},
        {NOBODY, "include: [[a]]\n", "[a]", "include[0]: expected a string, got a list"},
        {NOBODY, "services: {}\n---\nservices: {}\n", "---",
         "a configuration file holds one YAML document, found a second"},
};

START_TEST(error_table)
{
	struct config *cfg = (struct config *)&cfg; /* must be reset to NULL */
	struct diag d;
	int r = load(errors[_i].uid, errors[_i].yaml, &cfg, &d);
	char *all = diag_join(&d);

	ck_assert_msg(r == -1, "case %d loaded:\n%s", _i, errors[_i].yaml);
	ck_assert_ptr_null(cfg);
	assert_error_at(&d, main_path, errors[_i].yaml, errors[_i].marker, errors[_i].msg);
	ck_assert_msg(d.n == 1, "case %d: %zu errors:\n%s", _i, d.n, all);
	free(all);
	diag_free(&d);
}
END_TEST

START_TEST(syntax_error)
{
	struct config *cfg;
	struct diag d;
	char want[1024];

	ck_assert_int_eq(load(NOBODY, "services:\n  e: {listen: [}\n", &cfg, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	snprintf(want, sizeof(want),
	         "%s:2:16: did not find expected node content (while parsing a "
	         "flow node)",
	         main_path);
	assert_has(&d, want);
	diag_free(&d);

	ck_assert_int_eq(load(NOBODY, "services:\n  e: *nope\n", &cfg, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	snprintf(want, sizeof(want), "%s:2:6: found undefined alias", main_path);
	assert_has(&d, want);
	diag_free(&d);

	ck_assert_int_eq(load(NOBODY, "a: b\n\tc: d\n", &cfg, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_ptr_nonnull(strstr(d.msgs[0], "c.yaml:2:1: found a tab character that violates "
	                                        "indentation (while scanning a plain scalar)"));
	diag_free(&d);

	/* Invalid UTF-8: the reader gives an offset, turned into a position. */
	ck_assert_int_eq(load(NOBODY, "services:\n  \xc3\xa9\xff: {}\n", &cfg, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	snprintf(want, sizeof(want), "%s:2:4: invalid leading UTF-8 octet", main_path);
	assert_has(&d, want);
	diag_free(&d);
}
END_TEST

START_TEST(cannot_open)
{
	struct config *cfg;
	struct diag d;
	char path[TPATH], want[1024];

	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	ck_assert_int_eq(load_file(NOBODY, path, &cfg, &d), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_has(&d, want);
	ck_assert_uint_eq(d.n, 1);
	diag_free(&d);

	ck_assert_int_eq(load_file(NOBODY, dir, &cfg, &d), -1);
	snprintf(want, sizeof(want), "%s: cannot open: Is a directory", dir);
	assert_has(&d, want);
	diag_free(&d);
}
END_TEST

START_TEST(every_error_reported)
{
	static const char *yaml =
	        "services:\n"
	        "  a: {listen: '127.0.0.1:9', builtin: nosuch}\n"
	        "  b: {listen: '127.0.0.1:99999', builtin: echo}\n"
	        "  c: {listen: '127.0.0.1:1', builtin: echo, nice: 99, umask: x}\n"
	        "log: {level: loud}\n";
	struct config *cfg;
	struct diag d;
	char *all;

	ck_assert_int_eq(load(NOBODY, yaml, &cfg, &d), -1);
	assert_error_at(&d, main_path, yaml, "nosuch",
	                "services.a.builtin: unknown built-in 'nosuch' (expected one of: chargen, "
	                "daytime, discard, echo, forward, time)");
	assert_error_at(&d, main_path, yaml, "'127.0.0.1:99999'",
	                "services.b.listen: invalid address '127.0.0.1:99999': the port must be "
	                "between 1 and 65535");
	assert_error_at(&d, main_path, yaml, "99,",
	                "services.c: nice must be between -20 and 19 (got 99)");
	assert_error_at(&d, main_path, yaml, "x}",
	                "services.c.umask: expected an octal umask between 0000 and 0777 such as "
	                "0022, got 'x'");
	assert_error_at(&d, main_path, yaml, "loud",
	                "log.level: unknown level 'loud' (expected one of: debug, info, notice, "
	                "warning, error)");
	all = diag_join(&d);
	ck_assert_msg(d.n == 5, "%s", all);
	free(all);
	diag_free(&d);
}
END_TEST

/* An error in defaults is one error, however many services inherit it. */
static const struct {
	uid_t uid;
	const char *defaults;
	const char *marker;
	const char *msg;
} default_errors[] = {
        {NOBODY, "{nice: 99}", "99", "defaults: nice must be between -20 and 19 (got 99)"},
        {NOBODY, "{mpm: evnt}", "evnt",
         "defaults.mpm: unknown model 'evnt' (expected one of: %MODELS%)"},
        {NOBODY, "{mpm: {model: fork, max_children: 0}}", "0}",
         "defaults.mpm: max_children must be between 1 and 65536 (got 0)"},
        {ROOT, "{user: no_such_user_x}", "no_such", "defaults.user: unknown user 'no_such_user_x'"},
        {ROOT, "{user: nobody, group: no_such_group_x}", "no_such",
         "defaults.group: unknown group 'no_such_group_x'"},
        {NOBODY, "{capabilities: [chown]}", "[chown]",
         "defaults.capabilities: capabilities need superserverd to be started as root"},
        {NOBODY, "{environment: {A: x, A: y}}", "x, ^A",
         "defaults.environment: duplicate key 'A' (first at 1:26)"},
        {NOBODY, "{rlimits: {nofile: {soft: 2, hard: 1}}}", "2,",
         "defaults.rlimits.nofile: the soft limit 2 is above the hard limit 1"},
        {NOBODY, "{limits: {rate: fast}}", "fast", "defaults.limits.rate: " RATE_MSG "'fast'"},
        {NOBODY, "{limits: {burst: 5}}", "burst",
         "defaults.limits: burst needs rate (the burst is the size of the rate's bucket): give "
         "both"},
        {NOBODY, "{limits: {per_source: {max: 0}}}", "0}",
         "defaults.limits.per_source: max must be between 1 and 1000000 (got 0)"},
        {NOBODY, "{access: {deny: ['1.2.3.4/40']}}", "'1.2",
         "defaults.access.deny[0]: invalid CIDR '1.2.3.4/40': prefix 40 is out of range for IPv4 "
         "(0-32)"},
        {ROOT, "{user: nobody, access: {allow_users: [no_such_user_x]}}", "no_such",
         "defaults.access.allow_users[0]: unknown user 'no_such_user_x'"},
};

START_TEST(default_error_once)
{
	char yaml[1024];
	struct config *cfg;
	struct diag d;
	char *all;

	snprintf(yaml, sizeof(yaml),
	         "defaults: %s\n"
	         "services:\n"
	         "  a: {listen: '127.0.0.1:1', builtin: echo}\n"
	         "  b: {listen: '127.0.0.1:2', exec: /bin/true}\n"
	         "  c: {listen: '127.0.0.1:3', builtin: echo}\n",
	         default_errors[_i].defaults);
	ck_assert_int_eq(load(default_errors[_i].uid, yaml, &cfg, &d), -1);
	assert_error_at(&d, main_path, yaml, default_errors[_i].marker, default_errors[_i].msg);
	all = diag_join(&d);
	ck_assert_msg(d.n == 1, "%s", all);
	free(all);
	diag_free(&d);
}
END_TEST

START_TEST(aliased_map_checked_once)
{
	static const char *yaml =
	        "services:\n"
	        "  a: {listen: '127.0.0.1:1', builtin: echo, environment: &e {A: x, A: y}}\n"
	        "  b: {listen: '127.0.0.1:2', builtin: echo, environment: *e}\n";
	struct config *cfg;
	struct diag d;

	ck_assert_int_eq(load(NOBODY, yaml, &cfg, &d), -1);
	assert_error_at(&d, main_path, yaml, "x, ^A",
	                "services.a.environment: duplicate key 'A' (first at 2:62)");
	ck_assert_uint_eq(d.n, 1);
	diag_free(&d);
}
END_TEST

START_TEST(include_errors)
{
	char a[TPATH], b[TPATH], c[TPATH], want[2048];
	struct config *cfg;
	struct diag d;
	char *all;

	mkdir_at("conf.d");
	write_at("conf.d/a.yaml", "control: {socket: /x}\n"
	                          "include: other.yaml\n"
	                          "services:\n"
	                          "  dup: {listen: '127.0.0.1:2', builtin: echo}\n"
	                          "  x: {listen: '127.0.0.1:1', builtin: nosuch}\n");
	write_at("conf.d/b.yaml", "services: {y: [}\n");
	write_at("conf.d/c.yaml", "- just a list\n");
	snprintf(a, sizeof(a), "%s/conf.d/a.yaml", dir);
	snprintf(b, sizeof(b), "%s/conf.d/b.yaml", dir);
	snprintf(c, sizeof(c), "%s/conf.d/c.yaml", dir);
	ck_assert_int_eq(load(NOBODY,
	                      "services:\n"
	                      "  dup: {listen: '127.0.0.1:3', builtin: echo}\n"
	                      "include: conf.d/*.yaml\n",
	                      &cfg, &d),
	                 -1);
	snprintf(want, sizeof(want),
	         "%s:1:1: 'control' is not allowed in an included file (only "
	         "services)",
	         a);
	assert_has(&d, want);
	snprintf(want, sizeof(want),
	         "%s:2:1: include is only allowed in the main file (includes do not nest)", a);
	assert_has(&d, want);
	snprintf(want, sizeof(want),
	         "%s:4:3: service 'dup' is defined twice (first defined at %s:2:3)", a, main_path);
	assert_has(&d, want);
	snprintf(want, sizeof(want),
	         "%s:5:39: services.x.builtin: unknown built-in 'nosuch' (expected one of: "
	         "chargen, daytime, discard, echo, forward, time)",
	         a);
	assert_has(&d, want);
	snprintf(want, sizeof(want),
	         "%s:1:16: did not find expected node content (while parsing a "
	         "flow node)",
	         b);
	assert_has(&d, want);
	/* An included file is not the main file: its top level has other rules. */
	snprintf(want, sizeof(want), "%s:1:1: expected a map, got a list", c);
	assert_has(&d, want);
	all = diag_join(&d);
	ck_assert_msg(d.n == 6, "%s", all);
	free(all);
	diag_free(&d);
}
END_TEST

START_TEST(include_address_clash)
{
	char want[2048];
	struct config *cfg;
	struct diag d;

	mkdir_at("conf.d");
	write_at("conf.d/a.yaml", "services:\n  inc: {listen: '127.0.0.1:1', builtin: echo}\n");
	ck_assert_int_eq(load(NOBODY,
	                      "include: conf.d/*.yaml\n"
	                      "services:\n"
	                      "  main: {listen: '*:1', builtin: echo}\n"
	                      "  main2: {listen: '127.0.0.1:1', builtin: echo}\n",
	                      &cfg, &d),
	                 -1);
	snprintf(want, sizeof(want),
	         "%s:4:19: address '127.0.0.1:1' of service 'main2' is already used by service "
	         "'inc' (at %s/conf.d/a.yaml:2:17)",
	         main_path, dir);
	assert_has(&d, want);
	ck_assert_uint_eq(d.n, 1);
	diag_free(&d);
}
END_TEST

START_TEST(diag_basics)
{
	struct diag d;
	struct diag_pos pos = {"f.yaml", 3, 7}, nofile = {NULL, 1, 1}, noline = {"f.yaml", 0, 0};
	char *all;

	diag_init(&d);
	ck_assert_ptr_null(diag_join(&d));
	diag_error(&d, &pos, "bad %s", "thing");
	diag_error(&d, NULL, "plain");
	diag_error(&d, &nofile, "no file");
	diag_error(&d, &noline, "whole file");
	d.suppress++;
	diag_error(&d, &pos, "hidden");
	d.suppress--;
	ck_assert_uint_eq(diag_count(&d), 4);
	ck_assert_uint_eq(d.dropped, 1);
	all = diag_join(&d);
	ck_assert_str_eq(all, "f.yaml:3:7: bad thing\nplain\nno file\nf.yaml: whole file");
	free(all);
	for (int i = 0; i < 100; i++)
		diag_error(&d, &pos, "%d", i);
	ck_assert_uint_eq(diag_count(&d), 104);
	ck_assert_str_eq(d.msgs[103], "f.yaml:3:7: 99");
	diag_free(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_null(d.msgs);
	diag_free(&d); /* twice is harmless */
}
END_TEST

START_TEST(errors_append_to_existing_diag)
{
	struct config_load_opts o = {.daemon_uid = NOBODY};
	struct config *cfg;
	struct diag d;

	diag_init(&d);
	diag_error(&d, NULL, "earlier");
	write_at("c.yaml", "services: {}\n");
	/* An earlier message is not this load's failure. */
	ck_assert_int_eq(config_load(main_path, &o, &cfg, &d), 0);
	config_unref(cfg);
	write_at("c.yaml", "bad: 1\n");
	ck_assert_int_eq(config_load(main_path, &o, &cfg, &d), -1);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_str_eq(d.msgs[0], "earlier");
	diag_free(&d);
}
END_TEST

/* ------------------------------------------------------------------ bounds */

/* Writes REL of exactly LEN bytes: comment lines of 100 characters. */
static void write_comments(const char *rel, size_t len)
{
	char path[TPATH];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < len; i++)
		fputc(i % 101 == 100 ? '\n' : i % 101 == 0 ? '#' : 'x', f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The only error of loading YAML is MSG at LINE:COL of the main file. */
static void assert_only_error(const char *yaml, int line, int col, const char *msg)
{
	struct config *cfg;
	struct diag d;
	char want[4096], path[TPATH];
	char *all;
	FILE *f;

	/* Written as is: these files are larger than write_at() takes. */
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(yaml, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(load_file(NOBODY, main_path, &cfg, &d), -1);
	snprintf(want, sizeof(want), "%s:%d:%d: %s", main_path, line, col, msg);
	assert_has(&d, want);
	all = diag_join(&d);
	ck_assert_msg(d.n == 1, "%s", all);
	free(all);
	diag_free(&d);
}

START_TEST(nesting_bounded)
{
	char *yaml = malloc(100001), *ok = malloc(100);

	ck_assert_ptr_nonnull(yaml);
	ck_assert_ptr_nonnull(ok);
	struct config *cfg;
	struct diag d;

	/* 100 000 '[': refused at the 33rd, long before libyaml's scanner slows down. */
	memset(yaml, '[', 100000);
	yaml[100000] = '\0';
	assert_only_error(yaml, 1, 33,
	                  "lists and maps nest more than 32 deep here, the most a configuration "
	                  "may");
	/* Block style and maps count alike: the 33rd is a map inside 32 lists. */
	strcpy(yaml, "");
	for (int i = 0; i < 32; i++)
		strcat(yaml, "- ");
	strcat(yaml, "{a: b}\n");
	assert_only_error(yaml, 1, 65,
	                  "lists and maps nest more than 32 deep here, the most a configuration "
	                  "may");
	/* 32 deep is allowed: the error is the one about the key. */
	memset(ok, 0, 100);
	memcpy(ok, "x: ", 3);
	memset(ok + 3, '[', 31);
	memset(ok + 34, ']', 31);
	ok[65] = '\n';
	ck_assert_int_eq(load(NOBODY, ok, &cfg, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_ptr_nonnull(strstr(d.msgs[0], "c.yaml:1:1: unknown key 'x' at the top level"));
	diag_free(&d);
	free(yaml);
	free(ok);
}
END_TEST

START_TEST(file_size_bounded)
{
	struct config *cfg;
	struct diag d;
	char want[1024];

	/* 1 MiB exactly is allowed (only comments: no services). */
	write_comments("c.yaml", 1u << 20);
	cfg = load_ok_path(NOBODY, main_path);
	ck_assert_uint_eq(cfg->n_services, 0);
	config_unref(cfg);
	/* One byte more is not: the error is where the file goes past the bound. */
	write_comments("c.yaml", (1u << 20) + 1);
	ck_assert_int_eq(load_file(NOBODY, main_path, &cfg, &d), -1);
	snprintf(want, sizeof(want),
	         "%s:%u:%u: the file goes on past 1048576 bytes, the most a configuration file "
	         "may hold",
	         main_path, (1u << 20) / 101 + 1, (1u << 20) % 101 + 1);
	assert_has(&d, want);
	ck_assert_uint_eq(d.n, 1);
	diag_free(&d);
}
END_TEST

START_TEST(total_size_bounded)
{
	struct config *cfg;
	struct diag d;
	char want[1024], last[TPATH];
	size_t main_len = strlen("include: 'inc/*.yaml'\n"), left;

	mkdir_at("inc");
	for (int i = 0; i < 5; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "inc/%d.yaml", i);
		write_comments(rel, 1000000);
	}
	ck_assert_int_eq(load(NOBODY, "include: 'inc/*.yaml'\n", &cfg, &d), -1);
	/* The main file and four includes leave this much of the 4 MiB to the fifth. */
	left = (4u << 20) - main_len - 4 * 1000000;
	snprintf(last, sizeof(last), "%s/inc/4.yaml", dir);
	snprintf(want, sizeof(want),
	         "%s:%zu:%zu: the configuration goes on past 4194304 bytes, the most the main "
	         "file and its includes may hold together",
	         last, left / 101 + 1, left % 101 + 1);
	assert_has(&d, want);
	ck_assert_uint_eq(d.n, 1);
	diag_free(&d);
}
END_TEST

START_TEST(include_count_bounded)
{
	static const char *yaml = "include: ['a/*.yaml']\n";
	struct config *cfg;
	struct diag d;
	char path[TPATH];

	mkdir_at("a");
	for (int i = 0; i < 257; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "a/%03d.yaml", i);
		write_at(rel, "");
	}
	assert_only_error(yaml, 1, 11,
	                  "include[0]: the include patterns match more than 256 files, the most "
	                  "a configuration may include");
	/* 256 are fine. */
	snprintf(path, sizeof(path), "%s/a/256.yaml", dir);
	ck_assert_int_eq(unlink(path), 0);
	cfg = load_ok(NOBODY, yaml);
	config_unref(cfg);
	/* An include is a regular file: a FIFO would block the load. */
	snprintf(path, sizeof(path), "%s/a/000.yaml", dir);
	ck_assert_int_eq(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/a/fifo.yaml", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(load(NOBODY, yaml, &cfg, &d), -1);
	snprintf(path, sizeof(path), "%s/a/fifo.yaml: not a regular file", dir);
	assert_has(&d, path);
	ck_assert_uint_eq(d.n, 1);
	diag_free(&d);
}
END_TEST

/* "NAME: [*a, *a, ...]" with N aliases after "a: &a VALUE": the column of alias K. */
static char *alias_yaml(const char *value, int n)
{
	size_t len = strlen(value) + 16 + 4 * (size_t)n;
	char *y = malloc(len);

	ck_assert_ptr_nonnull(y);
	snprintf(y, len, "a: &a %s\nb: [", value);
	for (int i = 0; i < n; i++)
		strcat(y, "*a, ");
	strcat(y, "]\n");
	return y;
}

START_TEST(aliases_bounded)
{
	char *list = malloc(3 * 1000 + 3), *text = malloc(60000 + 3), *yaml;
	char want[512];

	/* A list of 1000 strings named 250 times would be 250 000 values. The loader walks
	 * what aliases name as often as they name it, so each counts in full: past 200 000
	 * the alias that goes over is refused. Values before it: the root map, 'a', the list
	 * and its 1000 strings, 'b', the list of aliases; each alias adds 1001. */
	strcpy(list, "[");
	for (int i = 0; i < 1000; i++)
		strcat(list, "x, ");
	strcat(list, "]");
	yaml = alias_yaml(list, 250);
	int k = (int)((200000 - 1004 - 2) / 1001) + 1; /* the first alias past the bound */
	snprintf(want, sizeof(want),
	         "this alias makes the configuration more than 200000 values (lists, maps and "
	         "strings), an alias counting as a copy of what it names");
	assert_only_error(yaml, 2, 5 + 4 * (k - 1), want);
	free(yaml);

	/* Bytes of strings likewise: 60 000 bytes named 300 times pass 16 MiB. */
	memset(text, 'y', 60000);
	text[60000] = '\0';
	yaml = alias_yaml(text, 300);
	k = (int)(((16u << 20) - 60000 - 2) / 60000) + 1;
	assert_only_error(yaml, 2, 5 + 4 * (k - 1),
	                  "this alias makes the configuration more than 16777216 bytes of "
	                  "strings, an alias counting as a copy of what it names");
	free(yaml);
	free(list);
	free(text);

	/* libyaml let an alias name the map it is in: a cycle. */
	assert_only_error("services: &s {x: *s}\n", 1, 18,
	                  "alias '*s' is inside the list or map it names (at 1:11)");
	assert_only_error("a: &x 1\nb: &x 2\n", 2, 4,
	                  "anchor '&x' is defined twice (first at 1:4)");
}
END_TEST

START_TEST(errors_capped)
{
	char *yaml = malloc(300 * 16 + 1);
	struct config *cfg;
	struct diag d;

	yaml[0] = '\0';
	for (int i = 0; i < 300; i++)
		sprintf(yaml + strlen(yaml), "k%d: 1\n", i);
	ck_assert_int_eq(load(NOBODY, yaml, &cfg, &d), -1);
	/* 199 messages and a last one saying more were left out; the count is all 300. */
	ck_assert_uint_eq(d.n, 200);
	ck_assert_str_eq(d.msgs[199], "more errors follow; only the first ones are shown");
	ck_assert_ptr_nonnull(strstr(d.msgs[198], ":199:1: unknown key 'k198'"));
	ck_assert_uint_eq(diag_count(&d), 300);
	diag_free(&d);
	free(yaml);
}
END_TEST

START_TEST(duplicate_keys_far_apart)
{
	static const char *yaml = "services:\n"
	                          "  e:\n"
	                          "    listen: '127.0.0.1:1'\n"
	                          "    builtin: echo\n"
	                          "    environment: {A: 1, B: 2, C: 3, A: 4, D: 5, A: 6, B: 7}\n";
	struct config *cfg;
	struct diag d;

	/* Each later one names the first, as when keys were compared one by one. */
	ck_assert_int_eq(load(NOBODY, yaml, &cfg, &d), -1);
	assert_error_at(&d, main_path, yaml, "3, ^A: 4",
	                "services.e.environment: duplicate key 'A' (first at 5:19)");
	assert_error_at(&d, main_path, yaml, "5, ^A: 6",
	                "services.e.environment: duplicate key 'A' (first at 5:19)");
	assert_error_at(&d, main_path, yaml, "6, ^B",
	                "services.e.environment: duplicate key 'B' (first at 5:25)");
	ck_assert_uint_eq(d.n, 3);
	diag_free(&d);
}
END_TEST

START_TEST(listen_single_map)
{
	struct config *cfg = load_ok(NOBODY, "services:\n"
	                                     "  e:\n"
	                                     "    listen: {address: '127.0.0.1:7', backlog: 5}\n"
	                                     "    builtin: echo\n");
	const struct service_conf *sc = svc(cfg, "e");

	ck_assert_uint_eq(sc->n_listen, 1);
	ck_assert_str_eq(sc->listen[0].addr.key, "127.0.0.1:7");
	ck_assert_int_eq(sc->listen[0].backlog, 5);
	config_unref(cfg);
	/* Its errors are those of a list item, at the map's own path. */
	assert_only_error("services:\n  e:\n    listen: {backlog: 5}\n    builtin: echo\n", 3, 13,
	                  "services.e.listen: expected 'address'");
}
END_TEST

/* Banner files: read at load (bytes as they are), per key from the defaults, "" drops
 * one, and a changed file is a changed service. */
START_TEST(banners)
{
	static const char yaml[] =
	        "defaults: {banner: '{D}/hello.txt', banner_fail: '{D}/f'}\n"
	        "services:\n"
	        "  a: {listen: '127.0.0.1:1', builtin: echo}\n"
	        "  b: {listen: '127.0.0.1:2', builtin: echo, banner: '',\n"
	        "      banner_success: '{D}/s'}\n"
	        "  c: {listen: '127.0.0.1:3', exec: /bin/cat, banner_fail: ''}\n";
	const struct service_conf *a, *b, *c;
	struct config *cfg, *cfg2;
	static char big[CONFIG_BANNER_MAX + 1];
	struct diag d;

	write_at("f", "no\n");
	write_at("s", "");
	cfg = load_ok(NOBODY, yaml);
	a = svc(cfg, "a"), b = svc(cfg, "b"), c = svc(cfg, "c");
	ck_assert_uint_eq(a->banners[BANNER_CONNECT].len, 7);
	ck_assert_mem_eq(a->banners[BANNER_CONNECT].data, "hello\r\n", 7);
	ck_assert_ptr_null(a->banners[BANNER_SUCCESS].path);
	ck_assert_mem_eq(a->banners[BANNER_FAIL].data, "no\n", 3);
	ck_assert_ptr_null(b->banners[BANNER_CONNECT].path);
	ck_assert_ptr_nonnull(b->banners[BANNER_SUCCESS].path); /* an empty file: nothing sent */
	ck_assert_uint_eq(b->banners[BANNER_SUCCESS].len, 0);
	ck_assert_ptr_nonnull(c->banners[BANNER_CONNECT].path);
	ck_assert_ptr_null(c->banners[BANNER_FAIL].path);

	/* The same file names with another content: a reload must see a change. */
	write_at("f", "nope\n");
	cfg2 = load_ok(NOBODY, yaml);
	ck_assert_str_ne(svc(cfg2, "a")->fingerprint, a->fingerprint);
	ck_assert_str_eq(svc(cfg2, "c")->fingerprint, c->fingerprint);
	config_unref(cfg2);
	config_unref(cfg);

	/* At the cap it loads; one byte more is an error. */
	memset(big, 'x', sizeof(big));
	write_bytes("f", big, CONFIG_BANNER_MAX);
	config_unref(load_ok(NOBODY, yaml));
	write_bytes("f", big, CONFIG_BANNER_MAX + 1);
	ck_assert_int_eq(load(NOBODY, yaml, &cfg, &d), -1);
	assert_error_at(&d, main_path, yaml, "'{D}/f'",
	                "defaults.banner_fail: the banner file '{D}/f' is 65537 bytes (at most "
	                "65536)");
	ck_assert_uint_eq(d.n, 1);
	diag_free(&d);
}
END_TEST

/* Named ports resolve through the load's services file into numeric keys; the file is
 * read again by the next load. */
START_TEST(named_ports)
{
	static const char yaml[] =
	        "services:\n"
	        "  e:\n"
	        "    listen: ['0.0.0.0:rsync', 'udp:[::]:tftp', '[::1]:nameserver',\n"
	        "             'udp:127.0.0.1:domain', '127.0.0.1:7']\n"
	        "    builtin: echo\n"
	        "    mpm: event\n";
	struct config *cfg = load_ok(NOBODY, yaml);
	const struct service_conf *sc = svc(cfg, "e");
	struct diag d;

	ck_assert_uint_eq(sc->n_listen, 5);
	ck_assert_str_eq(sc->listen[0].addr.key, "0.0.0.0:873");
	ck_assert_str_eq(sc->listen[1].addr.key, "udp:[::]:69");
	ck_assert_str_eq(sc->listen[2].addr.key, "[::1]:53");
	ck_assert_str_eq(sc->listen[3].addr.key, "udp:127.0.0.1:53");
	ck_assert_str_eq(sc->listen[4].addr.key, "127.0.0.1:7");
	config_unref(cfg);

	write_at("services", "rsync 8873/tcp\ntftp 6969/udp\nnameserver 5353/tcp\ndomain 53/udp\n");
	cfg = load_ok(NOBODY, yaml);
	sc = svc(cfg, "e");
	ck_assert_str_eq(sc->listen[0].addr.key, "0.0.0.0:8873");
	ck_assert_str_eq(sc->listen[1].addr.key, "udp:[::]:6969");
	ck_assert_str_eq(sc->listen[2].addr.key, "[::1]:5353");
	config_unref(cfg);

	/* Without a readable file every name is an error of its own, at its own place. */
	ck_assert_int_eq(unlink(services_path), 0);
	ck_assert_int_eq(load(NOBODY, yaml, &cfg, &d), -1);
	assert_error_at(&d, main_path, yaml, "'0.0.0.0:rsync'",
	                "services.e.listen[0]: invalid address '0.0.0.0:rsync': cannot read "
	                "{D}/services to look up the service name 'rsync': No such file or "
	                "directory");
	assert_error_at(&d, main_path, yaml, "'udp:127",
	                "services.e.listen[3]: invalid address 'udp:127.0.0.1:domain': cannot read "
	                "{D}/services to look up the service name 'domain': No such file or "
	                "directory");
	ck_assert_uint_eq(d.n, 4);
	diag_free(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *valid = tcase_create("valid"), *errs = tcase_create("errors");
	TCase *inc = tcase_create("includes"), *fp = tcase_create("fingerprint");
	TCase *lim = tcase_create("limits");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(valid, setup, teardown);
	tcase_add_test(valid, every_key);
	tcase_add_test(valid, named_ports);
	tcase_add_test(valid, banners);
	tcase_add_test(valid, minimal_service_gets_defaults);
	tcase_add_test(valid, exec_forms);
	tcase_add_test(valid, module_forms);
	tcase_add_test(valid, zero_services);
	tcase_add_test(valid, log_levels);
	tcase_add_test(valid, defaults_merge);
	tcase_add_test(valid, defaults_group_and_user_group);
	tcase_add_test(valid, unprivileged_ignores_default_identity);
	tcase_add_test(valid, unprivileged_uid_without_passwd_entry);
	tcase_add_test(valid, default_daemon_uid_is_euid);
	tcase_add_test(valid, anchors_and_styles);
	tcase_add_test(valid, ref_counting);
	tcase_add_test(valid, diag_basics);
	tcase_add_test(valid, errors_append_to_existing_diag);
	suite_add_tcase(s, valid);

	tcase_add_checked_fixture(lim, setup, teardown);
	tcase_add_test(lim, limits_every_key);
	tcase_add_test(lim, limits_unset);
	tcase_add_test(lim, limits_values);
	tcase_add_test(lim, limits_bounds);
	tcase_add_test(lim, banner_length);
	tcase_add_test(lim, limits_defaults_merge);
	tcase_add_test(lim, access_replaced_whole);
	tcase_add_test(lim, connlog_inherited);
	suite_add_tcase(s, lim);

	tcase_add_checked_fixture(inc, setup, teardown);
	tcase_add_test(inc, includes_in_order);
	tcase_add_test(inc, include_single_string_and_self);
	tcase_add_test(inc, include_twice_reads_once);
	tcase_add_test(inc, include_relative_to_cwd_path);
	tcase_add_test(inc, include_errors);
	tcase_add_test(inc, include_address_clash);
	suite_add_tcase(s, inc);

	tcase_add_checked_fixture(fp, setup, teardown);
	tcase_add_loop_test(fp, fingerprint_table, 0, N(fp_cases));
	tcase_add_loop_test(fp, fingerprint_pairs, 0, N(fp_pairs));
	tcase_add_test(fp, fingerprint_moved_to_include);
	tcase_add_test(fp, fingerprint_module);
	tcase_add_test(fp, fingerprint_identity);
	suite_add_tcase(s, fp);

	tcase_add_checked_fixture(errs, setup, teardown);
	tcase_add_loop_test(errs, error_table, 0, N(errors));
	tcase_add_test(errs, syntax_error);
	tcase_add_test(errs, cannot_open);
	tcase_add_test(errs, every_error_reported);
	tcase_add_loop_test(errs, default_error_once, 0, N(default_errors));
	tcase_add_test(errs, aliased_map_checked_once);
	tcase_add_test(errs, duplicate_keys_far_apart);
	tcase_add_test(errs, errors_capped);
	tcase_add_test(valid, listen_single_map);

	TCase *bounds = tcase_create("bounds");
	tcase_add_checked_fixture(bounds, setup, teardown);
	tcase_add_test(bounds, nesting_bounded);
	tcase_add_test(bounds, file_size_bounded);
	tcase_add_test(bounds, total_size_bounded);
	tcase_add_test(bounds, include_count_bounded);
	tcase_add_test(bounds, aliases_bounded);
	suite_add_tcase(s, bounds);
	suite_add_tcase(s, errs);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
