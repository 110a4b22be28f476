/*
 * superctl import xinetd|inetd: translates an xinetd or inetd configuration into
 * superserverd's YAML, locally (no daemon): the YAML on stdout or one file per service
 * in a directory, the report on stderr, and an exit status that says whether
 * everything mapped (0), something was approximated or left out (1), or the input had
 * errors (2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "superctl/imp_map.h"
#include "superctl/imp_yaml.h"
#include "superctl/inetd_parse.h"
#include "superctl/superctl.h"
#include "superctl/xinetd_map.h"

static void usage(FILE *f)
{
	fputs("Usage: superctl import xinetd|inetd [OPTIONS] [PATH]\n"
	      "Translate an xinetd configuration (default /etc/xinetd.conf and what it\n"
	      "includes) or an inetd.conf (default /etc/inetd.conf) into superserverd's YAML.\n\n"
	      "Options:\n"
	      "  -o, --output-dir DIR  one file per service, DIR/NAME.yaml (for include:)\n"
	      "      --services FILE   service names and ports from FILE (default "
	      "/etc/services)\n"
	      "      --other-host      do not look for programs, users, groups and banner\n"
	      "                        files on this host (importing for another machine)\n"
	      "      --bind ADDR       listen on ADDR instead of the configured addresses\n"
	      "      --port NAME=PORT  listen on PORT for the imported service NAME\n"
	      "  -h, --help            print this help and exit\n\n"
	      "The YAML goes to stdout, the report (FILE:LINE: severity: message) to stderr.\n"
	      "Exit status: 0 everything mapped, 1 something approximated or left out,\n"
	      "2 errors in the input (or a bad command line). See superctl(1).\n",
	      f);
}

static int write_dir(const char *dir, const struct imp_set *set, const char *origin,
                     struct imp_report *rep)
{
	for (size_t i = 0; i < set->n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s.yaml", dir, set->svc[i]->name);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			imp_report_add(rep, path, 0, IMP_ERROR, "cannot write it: %s",
			               strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		int r = imp_yaml_write_one(f, set->svc[i], origin);
		if (fclose(f) != 0 || r < 0) {
			imp_report_add(rep, path, 0, IMP_ERROR, "cannot write it: %s",
			               strerror(errno));
			return -1;
		}
	}
	return 0;
}

int cmd_import(int argc, char **argv)
{
	enum { OPT_SERVICES = 256, OPT_OTHER_HOST, OPT_BIND, OPT_PORT };
	static const struct option longopts[] = {
	        {"output-dir", required_argument, NULL, 'o'},
	        {"services", required_argument, NULL, OPT_SERVICES},
	        {"other-host", no_argument, NULL, OPT_OTHER_HOST},
	        {"bind", required_argument, NULL, OPT_BIND},
	        {"port", required_argument, NULL, OPT_PORT},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *outdir = NULL, *services_path = "/etc/services";
	struct imp_strv ports = {0};
	struct imp_set set = {0};
	struct svcnames *services = NULL;
	struct imp_report *rep = NULL;
	struct imp_ctx ctx = {0};
	int c, ret = 2;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outdir = optarg;
			break;
		case OPT_SERVICES:
			services_path = optarg;
			break;
		case OPT_OTHER_HOST:
			ctx.other_host = true;
			break;
		case OPT_BIND:
			ctx.bind = optarg;
			break;
		case OPT_PORT: {
			const char *eq = strchr(optarg, '=');
			char *end = NULL;
			long p = eq ? strtol(eq + 1, &end, 10) : 0;
			if (!eq || eq == optarg || !eq[1] || *end || p < 1 || p > 65535) {
				fprintf(stderr,
				        "superctl: --port wants NAME=PORT (1..65535), not '%s'\n",
				        optarg);
				goto out;
			}
			if (imp_strv_push(&ports, optarg) < 0)
				goto oom;
			break;
		}
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		default:
			fputs("Try 'superctl import --help'.\n", stderr);
			goto out;
		}
	}
	if (optind >= argc ||
	    (strcmp(argv[optind], "xinetd") != 0 && strcmp(argv[optind], "inetd") != 0)) {
		fprintf(stderr, "superctl: import wants a format, xinetd or inetd\n"
		                "Try 'superctl import --help'.\n");
		goto out;
	}
	const char *format = argv[optind++];
	bool xinetd = strcmp(format, "xinetd") == 0;
	const char *path = xinetd ? "/etc/xinetd.conf" : "/etc/inetd.conf";
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "superctl: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if (ctx.bind) {
		char buf[16];
		if (inet_pton(AF_INET, ctx.bind, buf) != 1 &&
		    inet_pton(AF_INET6, ctx.bind, buf) != 1) {
			fprintf(stderr, "superctl: --bind wants a numeric address, not '%s'\n",
			        ctx.bind);
			goto out;
		}
	}
	if (outdir) {
		struct stat st;
		if (stat(outdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "superctl: --output-dir %s: not a directory\n", outdir);
			goto out;
		}
	}
	if (!(rep = imp_report_new()))
		goto oom;
	int r = svcnames_load(services_path, &services);
	if (r == -ENOMEM)
		goto oom;
	if (r < 0)
		imp_report_add(rep, services_path, 0, IMP_ERROR,
		               "cannot read it: %s: service names cannot be resolved",
		               strerror(-r));
	ctx.rep = rep;
	ctx.services = services;
	ctx.ports = &ports;
	if ((xinetd ? xi_import(&ctx, path, &set) : inetd_import(&ctx, path, &set)) < 0)
		goto oom;
	char origin[4200];
	snprintf(origin, sizeof(origin), "%s %s", format, path);
	if (outdir) {
		write_dir(outdir, &set, origin, rep);
		if (set.n)
			imp_report_add(rep, NULL, 0, IMP_NOTE,
			               "%zu service%s written to %s: include them with include: "
			               "\"%s/*.yaml\"",
			               set.n, set.n == 1 ? "" : "s", outdir, outdir);
	} else if (imp_yaml_write(stdout, &set, origin) < 0 || fflush(stdout) != 0) {
		imp_report_add(rep, NULL, 0, IMP_ERROR, "cannot write the YAML: %s",
		               strerror(errno));
	}
	if (set.n == 0)
		imp_report_add(rep, NULL, 0, IMP_NOTE, "no service to import");
	imp_report_print(rep, stderr);
	ret = imp_report_status(rep);
	goto out;
oom:
	fputs("superctl: out of memory\n", stderr);
out:
	imp_strv_clear(&ports);
	imp_set_free(&set);
	svcnames_free(services);
	imp_report_free(rep);
	return ret;
}
