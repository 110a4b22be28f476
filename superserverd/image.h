/*
 * The process image a connection process of a built-in is forked with: which of the
 * daemon's shared libraries it inherits.
 */
#ifndef SUPERSERVERD_IMAGE_H
#define SUPERSERVERD_IMAGE_H

#include <stdbool.h>

/* Records how many objects the dynamic linker loaded at start, before anything could
 * dlopen more: those make up its global lookup scope. Call first thing in main(). */
void image_note_start(void);

/*
 * Marks the libraries a built-in's connection process never calls (YAML, capabilities,
 * and the compression and crypto libraries libsystemd brings) MADV_DONTFORK, so each
 * fork copies and each exit tears down about half the mappings. Only libraries that
 * come after every library kept in the lookup order are left out: a kept library that
 * binds lazily then never has the dynamic linker read a left-out one. Returns how many
 * were left out (0: nothing to gain or not safe here; fork as usual), or -errno.
 *
 * After a trim, fork with _Fork(), not fork(): the atfork handlers a left-out library
 * registered must not run in the child. The caller must be single-threaded and its
 * children must only _exit().
 */
int image_trim_for_children(const char *who);

#endif
