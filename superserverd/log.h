/*
 * Logging for the master and every service process. To the journal with structured
 * fields (SERVICE=, REMOTE_ADDR=, ...) when stderr is connected to it (JOURNAL_STREAM),
 * otherwise one line per message on stderr.
 */
#ifndef SUPERSERVERD_LOG_H
#define SUPERSERVERD_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Called first thing in main. */
void log_init(const char *ident);
void log_set_level(int level); /* LOG_DEBUG .. LOG_ERR */
int log_get_level(void);
/* Parses "debug", "info", "notice", "warning", "error". */
int log_level_from_string(const char *s);
bool log_to_journal(void);
/* The fd the journal client keeps open, or -1: a service process must not close it. */
int log_journal_fd(void);

/*
 * service may be NULL. Extra journal fields are passed as "KEY=value" strings
 * terminated by NULL in log_fields().
 */
void log_msg(int level, const char *service, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void log_fields(int level, const char *service, const char *const *fields, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#define log_debug(svc, ...)   log_msg(LOG_DEBUG, svc, __VA_ARGS__)
#define log_info(svc, ...)    log_msg(LOG_INFO, svc, __VA_ARGS__)
#define log_notice(svc, ...)  log_msg(LOG_NOTICE, svc, __VA_ARGS__)
#define log_warning(svc, ...) log_msg(LOG_WARNING, svc, __VA_ARGS__)
#define log_error(svc, ...)   log_msg(LOG_ERR, svc, __VA_ARGS__)

#endif
