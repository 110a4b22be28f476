/* superserverd's entry point: command line, configuration check, then the master. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "superserverd/config.h"
#include "superserverd/image.h"
#include "superserverd/log.h"
#include "superserverd/master.h"
#include "version.h"

#define DEFAULT_CONFIG "/etc/superserverd/superserverd.yaml"

static void usage(FILE *f)
{
	fprintf(f, "Usage: superserverd [OPTIONS]\n"
	           "Serve the TCP, UDP and unix-socket services described in a YAML file.\n\n"
	           "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ")\n"
	           "  -t, --check-config  validate the configuration, print every error and exit\n"
	           "  -V, --version       print the version and exit\n"
	           "  -h, --help          print this help and exit\n\n"
	           "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the configuration,\n"
	           "SIGUSR1 reopens connection-record files, SIGUSR2 re-executes the binary\n"
	           "without closing a listening socket (upgrade).\n"
	           "See superserverd(8) and superserverd.yaml(5).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", no_argument, NULL, 't'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_CONFIG;
	struct config_load_opts opts = {.daemon_uid = geteuid()};
	struct config *cfg = NULL;
	struct diag d;
	int check = 0, c, r;

	image_note_start();
	while ((c = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'V':
			printf("superserverd %s\n", SUPERSERVERD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "superserverd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	log_init("superserverd");
	diag_init(&d);
	r = config_load(path, &opts, &cfg, &d);
	diag_report_warnings(&d, check || r < 0 ? stderr : NULL);
	if (r < 0) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.msgs[i]);
		fprintf(stderr, "superserverd: %s: %zu error%s\n", path, diag_count(&d),
		        diag_count(&d) == 1 ? "" : "s");
		diag_free(&d);
		return 1;
	}
	diag_free(&d);
	if (check) {
		printf("%s: configuration OK (%zu service%s)\n", path, cfg->n_services,
		       cfg->n_services == 1 ? "" : "s");
		config_unref(cfg);
		return 0;
	}
	static struct master_exec self;
	/* The path we were started by, as given when absolute: a symlink in it (an
	 * alternatives link, a "current" release directory) is followed anew at the
	 * upgrade. /proc/self/exe has resolved them already. */
	if (argv[0][0] == '/' && strlen(argv[0]) < sizeof(self.exe)) {
		snprintf(self.exe, sizeof(self.exe), "%s", argv[0]);
	} else {
		ssize_t n = readlink("/proc/self/exe", self.exe, sizeof(self.exe) - 1);
		self.exe[n > 0 ? n : 0] = '\0'; /* empty: upgrades are refused with a message */
	}
	self.argv = argv;
	return master_run(cfg, path, &opts, &self);
}
