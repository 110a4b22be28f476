/*
 * Helpers of the tests that run what `superctl import` made: the import itself, the
 * YAML's --check-config, files written for a test, programs run with a deadline (git,
 * tftp), and the real xinetd on the same service file, to compare answers with.
 */
#ifndef SS_TEST_HARNESS_IMPORT_H
#define SS_TEST_HARNESS_IMPORT_H

#include <stdbool.h>
#include <sys/types.h>

/* Runs `cd dir && superctl import --services <corpus services> ARGS`; returns the
 * YAML (caller frees) and the exit status in *status. */
char *hi_import(const char *dir, const char *args, int *status);
/* Fails the test unless `superserverd --check-config` accepts yaml. */
void hi_check_config(const char *yaml);
/* Writes a file (fails the test if it cannot). */
void hi_write(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs argv (PATH searched) with stdin from /dev/null and stdout+stderr to out (or
 * /dev/null); killed at the deadline. Returns its exit status, or -1 (killed, signal). */
int hi_run(const char *const argv[], const char *out, int timeout_ms);
/* The contents of a file (caller frees; NULL if unreadable); *len its size. */
char *hi_slurp(const char *path, size_t *len);
/* Something has 127.0.0.1:port bound on UDP (a bind there fails). */
bool hi_udp_bound(int port);

/* The real xinetd, installed by the bench only. */
struct hi_xinetd {
	pid_t pid;
	char conf[256], log[256];
};
/* Why xinetd cannot run here (not installed, not root), or NULL. */
const char *hi_xinetd_missing(void);
/* Writes dir/xinetd-real.conf, logging to dir/xinetd.log, with the services text after
 * the defaults, and starts `xinetd -dontfork` on it. The caller waits for its port. */
void hi_xinetd_start(struct hi_xinetd *x, const char *dir, const char *services);
/* SIGTERM and waits, then kills the servers it had started (a wait = yes server
 * outlives it); fails the test if either does not end. */
void hi_xinetd_stop(struct hi_xinetd *x);

#endif
