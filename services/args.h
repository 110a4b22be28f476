/*
 * The handler's opaque struct ss_args: a read-only view over a service's `args:` map as
 * the configuration holds it. The view borrows the array; it must not outlive it.
 */
#ifndef SUPERSERVERD_ARGS_H
#define SUPERSERVERD_ARGS_H

#include <stddef.h>

struct config_kv;

struct ss_args {
	const struct config_kv *kv;
	size_t n;
};

void args_view(struct ss_args *a, const struct config_kv *kv, size_t n);

#endif
