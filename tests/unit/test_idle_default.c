/* The default idle_timeout: a built-in or module service without one gets 60 s, a
 * program run with exec gets none (it owns its socket), nor does a built-in whose
 * clients may stay silent (chargen) unless the configuration gives one, and `0` in the
 * service or in `defaults:` turns it off, the service's own value winning over the
 * defaults'. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "superserverd/config.h"
#include "superserverd/diag.h"

#define SEC    1000000ULL
#define NOBODY ((uid_t)65534)

static char path[] = "/tmp/ss-idle-default.XXXXXX";
static int fd = -1;

static void setup(void)
{
	strcpy(path, "/tmp/ss-idle-default.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
}

static void teardown(void)
{
	close(fd);
	unlink(path);
}

/* Loads DEFAULTS (a `defaults:` line or "") and six services, and returns the config. */
static struct config *load(const char *defaults)
{
	struct config_load_opts o = {.daemon_uid = NOBODY};
	struct config *cfg = NULL;
	struct diag d;
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
	        "%s"
	        "services:\n"
	        "  plain: {listen: '127.0.0.1:7', builtin: echo, mpm: prefork}\n"
	        "  off: {listen: '127.0.0.1:8', builtin: echo, limits: {idle_timeout: 0}}\n"
	        "  own: {listen: '127.0.0.1:9', builtin: echo, limits: {idle_timeout: 5s}}\n"
	        "  prog: {listen: '127.0.0.1:10', exec: [/bin/cat]}\n"
	        "  gen: {listen: '127.0.0.1:19', builtin: chargen}\n"
	        "  gen_own: {listen: '127.0.0.1:20', builtin: chargen, limits: {idle_timeout: "
	        "5s}}\n",
	        defaults);
	ck_assert_int_eq(fclose(f), 0);
	diag_init(&d);
	int r = config_load(path, &o, &cfg, &d);
	char *all = diag_join(&d);
	ck_assert_msg(r == 0, "load failed:\n%s", all ? all : "(no message)");
	free(all);
	diag_free(&d);
	return cfg;
}

static uint64_t idle(const struct config *cfg, const char *name)
{
	const struct service_conf *sc = config_find_service(cfg, name);
	ck_assert_ptr_nonnull(sc);
	return sc->limits.idle_timeout_usec;
}

START_TEST(handlers_get_a_minute_programs_nothing)
{
	struct config *cfg = load("");
	ck_assert_uint_eq(idle(cfg, "plain"), 60 * SEC);
	ck_assert_uint_eq(idle(cfg, "off"), 0);
	ck_assert_uint_eq(idle(cfg, "own"), 5 * SEC);
	ck_assert_uint_eq(idle(cfg, "prog"), 0);
	ck_assert_uint_eq(idle(cfg, "gen"), 0); /* its clients only read */
	ck_assert_uint_eq(idle(cfg, "gen_own"), 5 * SEC);
	config_unref(cfg);
}
END_TEST

START_TEST(zero_in_defaults_turns_it_off)
{
	struct config *cfg = load("defaults: {limits: {idle_timeout: 0}}\n");
	ck_assert_uint_eq(idle(cfg, "plain"), 0);
	ck_assert_uint_eq(idle(cfg, "off"), 0);
	ck_assert_uint_eq(idle(cfg, "own"), 5 * SEC);
	ck_assert_uint_eq(idle(cfg, "prog"), 0);
	config_unref(cfg);
}
END_TEST

START_TEST(defaults_value_replaces_the_default)
{
	/* Also for exec: written down, it is the operator's (and documented as not
	 * enforced for programs). */
	struct config *cfg = load("defaults: {limits: {idle_timeout: 10m}}\n");
	ck_assert_uint_eq(idle(cfg, "plain"), 600 * SEC);
	ck_assert_uint_eq(idle(cfg, "off"), 0);
	ck_assert_uint_eq(idle(cfg, "own"), 5 * SEC);
	ck_assert_uint_eq(idle(cfg, "prog"), 600 * SEC);
	ck_assert_uint_eq(idle(cfg, "gen"), 600 * SEC); /* written down: applied */
	config_unref(cfg);
}
END_TEST

START_TEST(fingerprint_sees_the_default)
{
	/* Writing the default down changes nothing, so a reload restarts nothing. */
	struct config *a = load("");
	struct config *b = load("defaults: {limits: {idle_timeout: 60s}}\n");
	ck_assert_str_eq(config_find_service(a, "plain")->fingerprint,
	                 config_find_service(b, "plain")->fingerprint);
	config_unref(a);
	config_unref(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("idle_default");
	TCase *tc = tcase_create("idle_default");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, handlers_get_a_minute_programs_nothing);
	tcase_add_test(tc, zero_in_defaults_turns_it_off);
	tcase_add_test(tc, defaults_value_replaces_the_default);
	tcase_add_test(tc, fingerprint_sees_the_default);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
