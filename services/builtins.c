/* The table of built-in handlers: the one place that lists them. */
#include <string.h>

#include "services/builtin_handlers.h"
#include "services/builtins.h"

/* Sorted by name, so builtin_names() reads well in messages. */
static const struct ss_handler *const builtin_table[] = {
        &builtin_chargen, &builtin_daytime, &builtin_discard, &builtin_echo, &builtin_time,
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
	return "chargen, daytime, discard, echo, time";
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
