/* Finding the control socket the way the daemon chooses it (see client.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "superctl/client.h"
#include "superserverd/config.h"
#include "superserverd/control.h"

#define SYSTEM_SOCKET "/run/superserverd/control.sock"

static bool is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* control.socket from the daemon's file, judged as the daemon (root) would judge it. */
static int from_config(const char *config, char *buf, size_t len)
{
	struct config_load_opts opts = {.daemon_uid = 0};
	struct config *cfg = NULL;
	struct diag d;
	int r = -ENOENT;

	if (access(config, R_OK) < 0)
		return -errno;
	diag_init(&d);
	if (config_load(config, &opts, &cfg, &d) == 0 && cfg->control_socket) {
		int n = snprintf(buf, len, "%s", cfg->control_socket);
		r = n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
	}
	if (cfg)
		config_unref(cfg);
	diag_free(&d);
	return r;
}

int client_socket_path(const char *explicit_path, const char *config, char *buf, size_t len)
{
	int n, r;

	if (explicit_path) {
		n = snprintf(buf, len, "%s", explicit_path);
		return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
	}
	if (config && from_config(config, buf, len) == 0)
		return 0;
	r = control_default_path(buf, len);
	if (r < 0)
		return r;
	if (geteuid() != 0 && !is_socket(buf) && is_socket(SYSTEM_SOCKET))
		snprintf(buf, len, "%s", SYSTEM_SOCKET);
	return 0;
}
