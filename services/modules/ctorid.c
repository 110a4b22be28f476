/* Test module (not installed): tells each client the effective uid its constructor ran
 * with, so a test can see that module code never runs with the daemon's privileges,
 * not even before setup. */
#include <stdio.h>
#include <unistd.h>

#include <superserverd/handler.h>

static uid_t ctor_euid = (uid_t)-1;

static void __attribute__((constructor)) record_euid(void)
{
	ctor_euid = geteuid();
}

static int ctorid_open(struct ss_conn *c)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%u\r\n", (unsigned)ctor_euid);
	int r = ss_conn_write(c, line, (size_t)n);

	if (r < 0)
		return r;
	ss_conn_end(c);
	return 0;
}

const struct ss_handler superserverd_handler = {
        SS_HANDLER_HEADER("ctorid"),
        .open = ctorid_open,
};
