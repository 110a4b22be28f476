/* The built-in handlers themselves, for the table in builtins.c (and tests). */
#ifndef SUPERSERVERD_BUILTIN_HANDLERS_H
#define SUPERSERVERD_BUILTIN_HANDLERS_H

#include "services/handler.h"

extern const struct ss_handler builtin_chargen;
extern const struct ss_handler builtin_daytime;
extern const struct ss_handler builtin_discard;
extern const struct ss_handler builtin_echo;
extern const struct ss_handler builtin_forward;
extern const struct ss_handler builtin_time;

#endif
