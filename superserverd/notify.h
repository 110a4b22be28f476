/*
 * Talking to the service manager: READY, RELOADING, STOPPING and STATUS through
 * sd_notify. Every call is a no-op without NOTIFY_SOCKET.
 */
#ifndef SUPERSERVERD_NOTIFY_H
#define SUPERSERVERD_NOTIFY_H

void notify_ready(const char *status);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
