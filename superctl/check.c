/*
 * superctl check: validates a configuration file without a daemon, judged as the
 * current user would run superserverd, and says so exactly as
 * `superserverd --check-config` does, so scripts can use either.
 */
#include <stdio.h>
#include <unistd.h>

#include "superctl/superctl.h"
#include "superserverd/config.h"

int cmd_check(const char *path)
{
	struct config_load_opts opts = {.daemon_uid = geteuid()};
	struct config *cfg = NULL;
	struct diag d;

	diag_init(&d);
	int r = config_load(path, &opts, &cfg, &d);
	diag_report_warnings(&d, stderr);
	if (r < 0) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.msgs[i]);
		fprintf(stderr, "superserverd: %s: %zu error%s\n", path, diag_count(&d),
		        diag_count(&d) == 1 ? "" : "s");
		diag_free(&d);
		return SUPERCTL_FAILED;
	}
	diag_free(&d);
	printf("%s: configuration OK (%zu service%s)\n", path, cfg->n_services,
	       cfg->n_services == 1 ? "" : "s");
	config_unref(cfg);
	return SUPERCTL_OK;
}
