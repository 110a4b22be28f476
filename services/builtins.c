/* The table of built-in handlers: the one place that lists them, and their load-time
 * argument checks. */
#include <string.h>

#include "services/builtin_handlers.h"
#include "services/builtins.h"
#include "services/forward.h"

/* Sorted by name, so builtin_names() reads well in messages. */
static const struct ss_handler *const builtin_table[] = {
        &builtin_chargen, &builtin_daytime, &builtin_discard,
        &builtin_echo,    &builtin_forward, &builtin_time,
};

#define N_BUILTIN (sizeof(builtin_table) / sizeof(builtin_table[0]))

const struct ss_handler *builtin_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < N_BUILTIN; i++)
		if (strcmp(builtin_table[i]->name, name) == 0)
			return builtin_table[i];
	return NULL;
}

const char *builtin_names(void)
{
	return "chargen, daytime, discard, echo, forward, time";
}

const char *builtin_no_datagram_reason(const char *name)
{
	const struct ss_handler *h = builtin_find(name);

	if (!h || h->datagram)
		return NULL;
	/* The one refused on purpose: every other built-in without a datagram form would
	 * simply lack one. */
	if (strcmp(name, "chargen") == 0)
		return "chargen over datagrams answers any datagram, however small, with up to 512 "
		       "bytes: the classic amplifier of reflection attacks (CVE-1999-0103). Serve "
		       "it over a stream address only";
	return "this built-in has no datagram form";
}

static int check_forward(const struct ss_args *args, const char **key_r, char *err, size_t errlen)
{
	struct forward_conf fc;

	return forward_parse_args(args, &fc, key_r, err, errlen);
}

/* Built-ins whose args are checked when the configuration is loaded. */
static const struct {
	const char *name;
	int (*check)(const struct ss_args *args, const char **key_r, char *err, size_t errlen);
} builtin_checks[] = {
        {"forward", check_forward},
};

int builtin_check_args(const char *name, const struct ss_args *args, const char **key_r, char *err,
                       size_t errlen)
{
	*key_r = NULL;
	for (size_t i = 0; i < sizeof(builtin_checks) / sizeof(builtin_checks[0]); i++)
		if (strcmp(builtin_checks[i].name, name) == 0)
			return builtin_checks[i].check(args, key_r, err, errlen);
	return 0;
}
