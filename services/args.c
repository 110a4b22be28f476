/* The ss_args_* accessors of handler.h over a configuration's key/value array. */
#include <string.h>

#include "services/args.h"
#include "services/handler.h"
#include "superserverd/config.h"

void args_view(struct ss_args *a, const struct config_kv *kv, size_t n)
{
	a->kv = kv;
	a->n = kv ? n : 0;
}

const char *ss_args_get(const struct ss_args *args, const char *key)
{
	if (!args || !key)
		return NULL;
	for (size_t i = 0; i < args->n; i++)
		if (strcmp(args->kv[i].key, key) == 0)
			return args->kv[i].value;
	return NULL;
}

size_t ss_args_count(const struct ss_args *args)
{
	return args ? args->n : 0;
}

const char *ss_args_key(const struct ss_args *args, size_t i)
{
	if (!args || i >= args->n)
		return NULL;
	return args->kv[i].key;
}
