/*
 * Test module (not installed): echo, except that input containing "crash" kills the
 * process with SIGSEGV, as a handler with a stray pointer would. The tests use it to
 * show that a crash takes down no more than the processing model puts at risk.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include <superserverd/handler.h>

static int crashtest_data(struct ss_conn *c, const void *buf, size_t len)
{
	int r;

	if (memmem(buf, len, "crash", 5)) {
		struct rlimit none = {0, 0};

		/* Die of the signal itself: no core file for every test run, and no
		 * sanitizer report (its SIGSEGV handler would turn this into one). */
		(void)setrlimit(RLIMIT_CORE, &none);
		(void)signal(SIGSEGV, SIG_DFL);
		(void)raise(SIGSEGV);
		return -EFAULT; /* not reached unless SIGSEGV is blocked */
	}
	r = ss_conn_write(c, buf, len);
	return r < 0 ? r : 0;
}

const struct ss_handler superserverd_handler = {
        SS_HANDLER_HEADER("crashtest"),
        .data = crashtest_data,
};
