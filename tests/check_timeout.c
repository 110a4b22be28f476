/*
 * The one per-test-case timeout of every Check program (unit and integration), set
 * before main() so that every tcase_create() reads it. Check's own default, 4 s, is a
 * margin a loaded machine overruns: a test case passed on an idle laptop and timed out
 * on a shared CI machine running other builds. The timeout only catches a hang, so it
 * is generous, and three times that under the sanitizers, which slow everything down
 * (and more under load). A test waits for its conditions with deadlines of its own; none
 * calls tcase_set_timeout. CK_DEFAULT_TIMEOUT set in the environment still wins, and
 * CK_TIMEOUT_MULTIPLIER still multiplies.
 */
#include <stdio.h>
#include <stdlib.h>

#define TEST_CASE_TIMEOUT_S 120

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

__attribute__((constructor)) static void test_case_timeout(void)
{
	char s[16];

	snprintf(s, sizeof(s), "%d", SANITIZED ? 3 * TEST_CASE_TIMEOUT_S : TEST_CASE_TIMEOUT_S);
	if (setenv("CK_DEFAULT_TIMEOUT", s, 0) < 0)
		perror("setenv CK_DEFAULT_TIMEOUT");
}
