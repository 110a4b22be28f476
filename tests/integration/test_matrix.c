/* The same handlers under every model: each built-in and the qotd module, with 50
 * concurrent clients each, checking the exact bytes. An operator moves a service
 * from one model to another by changing one line; this is the proof. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

enum { CLIENTS = 50 };

static const char *const models[] = {
        "{model: fork}",
        "{model: prefork, start: 4, max_workers: 64}",
        "{model: threadpool, processes: 2, threads: 8}",
        "{model: event, workers: 2}",
};

enum svc { ECHO, DISCARD, CHARGEN, DAYTIME, TIME, QOTD, N_SVC };
static const char *const names[N_SVC] = {"echo", "discard", "chargen", "daytime", "time", "qotd"};
static int ports[N_SVC];

static bool check_echo(int i)
{
	char msg[128], buf[128];
	int len = snprintf(msg, sizeof(msg), "client %d: the quick brown fox %d\r\n", i, i * 31);
	ssize_t n = h_exchange("127.0.0.1", ports[ECHO], msg, true, buf, sizeof(buf), 20000);
	return n == len && memcmp(buf, msg, (size_t)len) == 0;
}

static bool check_discard(int i)
{
	char buf[16];
	return h_exchange("127.0.0.1", ports[DISCARD], "ignored\n", true, buf, sizeof(buf),
	                  20000) == 0;
}

static bool check_chargen(int i)
{
	char got[74 * 3];
	int fd = h_connect("127.0.0.1", ports[CHARGEN]);
	bool ok = fd >= 0 && h_read_n(fd, got, sizeof(got), 20000) == 0;
	if (fd >= 0)
		close(fd);
	for (int k = 0; ok && k < 3; k++)
		for (int j = 0; j < 72; j++)
			ok = ok && got[k * 74 + j] == (char)(32 + (k + j) % 95);
	return ok && got[72] == '\r' && got[73] == '\n';
}

static bool check_daytime(int i)
{
	char buf[64];
	struct tm tm;
	ssize_t n =
	        h_exchange("127.0.0.1", ports[DAYTIME], NULL, false, buf, sizeof(buf) - 1, 20000);
	if (n != 26)
		return false;
	buf[n] = '\0';
	char *end = strptime(buf, "%a %b %e %H:%M:%S %Y", &tm);
	return end == buf + 24 && memcmp(end, "\r\n", 2) == 0;
}

static bool check_time(int i)
{
	unsigned char b[8];
	ssize_t n = h_exchange("127.0.0.1", ports[TIME], NULL, false, (char *)b, sizeof(b), 20000);
	uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	uint32_t now = (uint32_t)((uint64_t)time(NULL) + 2208988800ULL);
	return n == 4 && v - now + 30 <= 60;
}

static bool check_qotd(int i)
{
	char buf[600];
	ssize_t n = h_exchange("127.0.0.1", ports[QOTD], NULL, false, buf, sizeof(buf) - 1, 20000);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, "Quote one.\r\n") == 0 ||
	       strcmp(buf, "Quote two,\r\non two lines.\r\n") == 0;
}

static bool (*const checks[N_SVC])(int) = {check_echo,    check_discard, check_chargen,
                                           check_daytime, check_time,    check_qotd};

struct job {
	enum svc svc;
	int i;
	bool ok;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	j->ok = checks[j->svc](j->i);
	return NULL;
}

static void run_model(const char *model)
{
	struct daemon d = {0};
	char quotes[256], mod[512];
	const char *moddir = getenv("SS_MODULE_DIR");

	ck_assert_msg(moddir != NULL, "SS_MODULE_DIR is not set");
	snprintf(mod, sizeof(mod), "%s/qotd.so", moddir);
	for (int s = 0; s < N_SVC; s++)
		ports[s] = h_free_port();
	ck_assert_int_eq(h_prepare(&d, "# placeholder\n"), 0);
	snprintf(quotes, sizeof(quotes), "%s/quotes.txt", d.dir);
	FILE *f = fopen(quotes, "w");
	ck_assert_ptr_nonnull(f);
	fputs("Quote one.\n%\nQuote two,\non two lines.\n", f);
	fclose(f);
	ck_assert_int_eq(
	        h_write_config(&d,
	                       "services:\n"
	                       "  echo: {listen: ['127.0.0.1:%d'], builtin: echo, mpm: %s}\n"
	                       "  discard: {listen: ['127.0.0.1:%d'], builtin: discard, mpm: %s}\n"
	                       "  chargen: {listen: ['127.0.0.1:%d'], builtin: chargen, mpm: %s}\n"
	                       "  daytime: {listen: ['127.0.0.1:%d'], builtin: daytime, mpm: %s}\n"
	                       "  time: {listen: ['127.0.0.1:%d'], builtin: time, mpm: %s}\n"
	                       "  qotd: {listen: ['127.0.0.1:%d'], mpm: %s,\n"
	                       "         module: {path: '%s', args: {file: '%s'}}}\n",
	                       ports[ECHO], model, ports[DISCARD], model, ports[CHARGEN], model,
	                       ports[DAYTIME], model, ports[TIME], model, ports[QOTD], model, mod,
	                       quotes),
	        0);
	ck_assert_int_eq(h_launch(&d), 0);
	for (int s = 0; s < N_SVC; s++) {
		pthread_t t[CLIENTS];
		struct job jobs[CLIENTS];
		int ok = 0;
		for (int i = 0; i < CLIENTS; i++) {
			jobs[i] = (struct job){.svc = (enum svc)s, .i = i};
			ck_assert_int_eq(pthread_create(&t[i], NULL, run_job, &jobs[i]), 0);
		}
		for (int i = 0; i < CLIENTS; i++) {
			pthread_join(t[i], NULL);
			ok += jobs[i].ok;
		}
		ck_assert_msg(ok == CLIENTS, "%s under %s: %d of %d clients got the right bytes",
		              names[s], model, ok, CLIENTS);
	}
	ck_assert_int_eq(h_stop(&d), 0);
}

START_TEST(matrix)
{
	run_model(models[_i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("every handler under every model");
	TCase *tc = tcase_create("matrix");
	tcase_add_loop_test(tc, matrix, 0, (int)(sizeof(models) / sizeof(models[0])));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
