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
