/*
 * Loadable handlers: dlopen, find the ss_handler the module exports, and refuse it
 * unless its ABI stamp says the callbacks mean what we think they mean.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superserverd/module.h"

/* The struct as ABI 1.0 defined it ends with `close`: anything shorter was not built
 * from any handler.h of ours. */
#define HANDLER_SIZE_1_0 (offsetof(struct ss_handler, close) + sizeof(void (*)(void)))

static void load_error(const char *path, char *err, size_t errlen)
{
	const char *why = dlerror();

	if (!why)
		why = "unknown error";
	/* glibc usually starts its message with the path already. */
	if (strncmp(why, path, strlen(path)) == 0)
		snprintf(err, errlen, "%s", why);
	else
		snprintf(err, errlen, "%s: %s", path, why);
}

static int check_stamp(const char *path, const struct ss_handler *h, char *err, size_t errlen)
{
	if (h->abi_major != SS_HANDLER_ABI_MAJOR || h->abi_minor > SS_HANDLER_ABI_MINOR) {
		/* An older minor is fine (additions only); a newer one may rely on callbacks
		 * we would never call. */
		snprintf(err, errlen,
		         "%s: built for handler ABI %u.%u, superserverd provides %u.%u (%s)", path,
		         (unsigned)h->abi_major, (unsigned)h->abi_minor,
		         (unsigned)SS_HANDLER_ABI_MAJOR, (unsigned)SS_HANDLER_ABI_MINOR,
		         h->abi_major == SS_HANDLER_ABI_MAJOR ? "it needs a newer superserverd"
		                                              : "rebuild it against this version's "
		                                                "handler.h");
		return -1;
	}
	if (h->struct_size < HANDLER_SIZE_1_0) {
		snprintf(err, errlen,
		         "%s: its handler struct is %u bytes, smaller than any handler ABI %u "
		         "struct (%zu bytes): was it built with SS_HANDLER_HEADER?",
		         path, (unsigned)h->struct_size, (unsigned)SS_HANDLER_ABI_MAJOR,
		         (size_t)HANDLER_SIZE_1_0);
		return -1;
	}
	if (!h->name || !h->name[0]) {
		snprintf(err, errlen, "%s: the handler has no name", path);
		return -1;
	}
	return 0;
}

const struct ss_handler *module_load(const char *path, char *err, size_t errlen)
{
	const struct ss_handler *sym;
	struct ss_handler *copy;
	void *dl;

	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		load_error(path, err, errlen);
		return NULL;
	}
	(void)dlerror();
	sym = dlsym(dl, SS_HANDLER_SYMBOL);
	if (!sym) {
		snprintf(err, errlen, "%s: no symbol '%s' (is it a superserverd handler module?)",
		         path, SS_HANDLER_SYMBOL);
		goto fail;
	}
	if (check_stamp(path, sym, err, errlen) < 0)
		goto fail;
	copy = calloc(1, sizeof(*copy));
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	memcpy(copy, sym, sym->struct_size < sizeof(*copy) ? sym->struct_size : sizeof(*copy));
	/* The handle is never closed: the copy points into the module's code. */
	return copy;
fail:
	if (dlclose(dl) != 0)
		(void)dlerror(); /* nothing more useful to say than the first error */
	return NULL;
}
