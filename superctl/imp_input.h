/*
 * Opening the files an import reads: regular files only, never blocking. A FIFO, a
 * device or a socket in an includedir (or named on the command line) would hang the
 * import or feed it without end; xinetd itself reads regular files only.
 */
#ifndef SUPERCTL_IMP_INPUT_H
#define SUPERCTL_IMP_INPUT_H

#include <stdio.h>

/* PATH opened for reading, or NULL with errno set (EINVAL: not a regular file). */
FILE *imp_fopen_regular(const char *path);

#endif
