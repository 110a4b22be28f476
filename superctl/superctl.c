/* superctl's entry point: the command line, the socket path, and dispatch. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superctl/superctl.h"
#include "version.h"

#define DEFAULT_CONFIG "/etc/superserverd/superserverd.yaml"

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: superctl [OPTIONS] COMMAND [NAME]\n"
	        "Show and control a running superserverd through its control socket.\n\n"
	        "Commands:\n"
	        "  status              one line per service\n"
	        "  stats [NAME]        everything about one service (or all)\n"
	        "  top                 live view, refreshed every second ('q' quits)\n"
	        "  metrics             Prometheus text exposition of the statistics\n"
	        "  version             the versions of superctl and of the daemon\n"
	        "  reload              reload the daemon's configuration\n"
	        "  upgrade             re-execute the daemon's binary without closing a socket\n"
	        "  start NAME          start a stopped service\n"
	        "  stop NAME           stop a service (closes its sockets)\n"
	        "  restart NAME        restart a service's processes\n"
	        "  drain NAME          stop accepting; clients wait in the backlog\n"
	        "  resume NAME         accept again after a drain\n"
	        "  check [FILE]        validate a configuration file (no daemon needed)\n"
	        "  import xinetd|inetd [PATH]\n"
	        "                      translate an xinetd or inetd configuration into YAML\n"
	        "                      (no daemon needed; superctl import --help)\n\n"
	        "Options:\n"
	        "  -j, --json            print the daemon's answers as JSON\n"
	        "  -s, --socket PATH     the control socket (default: from the configuration)\n"
	        "  -c, --config FILE     the daemon's configuration (default " DEFAULT_CONFIG ")\n"
	        "  -t, --timeout SECONDS bound of every wait (default 30)\n"
	        "      --no-block        stop/restart/drain/start/upgrade: do not wait for the\n"
	        "                        result\n"
	        "  -n, --iterations N    top: draw N frames, then exit\n"
	        "  -V, --version         print superctl's version and exit\n"
	        "  -h, --help            print this help and exit\n\n"
	        "Exit status: 0 success, 1 refused or failed, 2 usage error, 3 daemon not "
	        "reachable.\n"
	        "See superctl(1).\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("superctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'superctl --help'.\n", stderr);
	return SUPERCTL_USAGE;
}

int superctl_print_json(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | SUPERCTL_REAL_PRECISION) <
	            0 ||
	    fputc('\n', stdout) == EOF) {
		fprintf(stderr, "superctl: cannot write: %s\n", strerror(errno));
		return SUPERCTL_FAILED;
	}
	return SUPERCTL_OK;
}

int superctl_call(struct superctl *sc, const char *command, const char *service, json_t **reply_r)
{
	json_t *reply = NULL;
	int r = client_call(&sc->client, command, service, &reply);

	return superctl_outcome(sc, r, reply, reply_r);
}

int superctl_outcome(struct superctl *sc, int r, json_t *reply, json_t **reply_r)
{
	if (reply_r)
		*reply_r = NULL;
	if (r == -EPROTO) {
		fprintf(stderr, "superctl: %s: the answer is not a JSON object\n", sc->client.path);
		return SUPERCTL_FAILED;
	}
	if (r < 0) {
		fprintf(stderr, "superctl: cannot reach superserverd at %s: %s\n", sc->client.path,
		        r == -ETIMEDOUT ? "no answer in time" : strerror(-r));
		if (r == -ENOENT || r == -ECONNREFUSED)
			fprintf(stderr, "superctl: is superserverd running? (--socket PATH names "
			                "another socket)\n");
		else if (r == -EACCES)
			fprintf(stderr, "superctl: the socket is for the members of control.group "
			                "(see superctl(1), PERMISSIONS)\n");
		return SUPERCTL_UNREACHABLE;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *err = json_string_value(json_object_get(reply, "error"));
		const char *code = json_string_value(json_object_get(reply, "code"));
		fprintf(stderr, "superctl: %s%s%s%s\n", err ? err : "the daemon refused",
		        code ? " (" : "", code ? code : "", code ? ")" : "");
		/* Scripts reading --json get the refusal on stdout as well. */
		if (sc->json)
			superctl_print_json(reply);
		if (reply_r)
			*reply_r = reply; /* callers may want the details (reload's errors) */
		else
			json_decref(reply);
		return SUPERCTL_FAILED;
	}
	if (reply_r)
		*reply_r = reply;
	else
		json_decref(reply);
	return SUPERCTL_OK;
}

static bool parse_number(const char *s, double min, double max, double *v)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(d) || d < min || d > max)
		return false;
	*v = d;
	return true;
}

/* Commands, how many NAME arguments each takes (min, max), and what runs them. */
enum kind {
	K_STATUS,
	K_STATS,
	K_TOP,
	K_METRICS,
	K_VERSION,
	K_RELOAD,
	K_UPGRADE,
	K_ACTION,
	K_CHECK
};
static const struct {
	const char *name;
	enum kind kind;
	int min_args, max_args;
} commands[] = {
        {"status", K_STATUS, 0, 0},   {"stats", K_STATS, 0, 1},     {"top", K_TOP, 0, 0},
        {"metrics", K_METRICS, 0, 0}, {"version", K_VERSION, 0, 0}, {"reload", K_RELOAD, 0, 0},
        {"start", K_ACTION, 1, 1},    {"stop", K_ACTION, 1, 1},     {"restart", K_ACTION, 1, 1},
        {"drain", K_ACTION, 1, 1},    {"resume", K_ACTION, 1, 1},   {"check", K_CHECK, 0, 1},
        {"upgrade", K_UPGRADE, 0, 0},
};

int main(int argc, char **argv)
{
	enum { OPT_NO_BLOCK = 256 };
	static const struct option longopts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"socket", required_argument, NULL, 's'},
	        {"config", required_argument, NULL, 'c'},
	        {"timeout", required_argument, NULL, 't'},
	        {"no-block", no_argument, NULL, OPT_NO_BLOCK},
	        {"iterations", required_argument, NULL, 'n'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct superctl sc = {.timeout_sec = 30, .config = DEFAULT_CONFIG};

	/* import has options of its own: it takes the rest of the command line. */
	if (argc > 1 && strcmp(argv[1], "import") == 0)
		return cmd_import(argc - 1, argv + 1);
	const char *socket_path = NULL;
	char path[108];
	double v;
	int c, r;

	while ((c = getopt_long(argc, argv, "js:c:t:n:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			sc.json = true;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'c':
			sc.config = optarg;
			break;
		case 't':
			if (!parse_number(optarg, 0.001, 86400 * 365, &v))
				return usage_error("--timeout wants seconds (> 0), not '%s'",
				                   optarg);
			sc.timeout_sec = v;
			sc.timeout_given = true;
			break;
		case OPT_NO_BLOCK:
			sc.no_block = true;
			break;
		case 'n':
			if (!parse_number(optarg, 1, 1e9, &v) || v != floor(v))
				return usage_error(
				        "--iterations wants a whole number >= 1, not '%s'", optarg);
			sc.iterations = (long)v;
			break;
		case 'V':
			printf("superctl %s\n", SUPERSERVERD_VERSION);
			return SUPERCTL_OK;
		case 'h':
			usage(stdout);
			return SUPERCTL_OK;
		default:
			fputs("Try 'superctl --help'.\n", stderr);
			return SUPERCTL_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("%s", "a command is needed (status, stats, top, ...)");

	const char *cmd = argv[optind++];
	int nargs = argc - optind, k = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			k = (int)i;
	if (k < 0)
		return usage_error("unknown command '%s'", cmd);
	if (nargs < commands[k].min_args)
		return usage_error("'%s' needs a service NAME", cmd);
	if (nargs > commands[k].max_args)
		return usage_error("unexpected argument '%s'", argv[optind + commands[k].max_args]);
	const char *arg = nargs ? argv[optind] : NULL;

	if (commands[k].kind == K_CHECK)
		return cmd_check(arg ? arg : sc.config);

	r = client_socket_path(socket_path, sc.config, path, sizeof(path));
	if (r < 0) {
		fprintf(stderr, "superctl: the control socket path is too long\n");
		return SUPERCTL_UNREACHABLE;
	}
	double ms = sc.timeout_sec * 1000;
	client_init(&sc.client, path, ms > 1e9 ? 1000000000 : (int)ms);

	switch (commands[k].kind) {
	case K_STATUS:
		r = cmd_status(&sc);
		break;
	case K_STATS:
		r = cmd_stats(&sc, arg);
		break;
	case K_TOP:
		r = cmd_top(&sc);
		break;
	case K_METRICS:
		r = cmd_metrics(&sc);
		break;
	case K_VERSION:
		r = cmd_version(&sc);
		break;
	case K_RELOAD:
		r = cmd_reload(&sc);
		break;
	case K_UPGRADE:
		r = cmd_upgrade(&sc);
		break;
	case K_ACTION:
		r = cmd_action(&sc, cmd, arg);
		break;
	case K_CHECK:
		r = SUPERCTL_USAGE; /* handled above */
		break;
	}
	client_close(&sc.client);
	free(sc.client.in);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "superctl: cannot write the output: %s\n", strerror(errno));
		return r ? r : SUPERCTL_FAILED;
	}
	return r;
}
