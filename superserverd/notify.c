/* sd_notify wrappers: the messages superserverd sends its service manager. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "superserverd/log.h"
#include "superserverd/notify.h"

static void send_notify(const char *msg)
{
	int r = sd_notify(0, msg);
	if (r < 0)
		log_warning(NULL, "cannot notify the service manager: %s", strerror(-r));
}

void notify_ready(const char *status)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s", status ? status : "running");
	send_notify(buf);
}

void notify_reloading(void)
{
	struct timespec ts;
	char buf[128];

	/* systemd (notify-reload) matches RELOADING=1 with the time the reload began. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ULL +
	                 (unsigned long long)ts.tv_nsec / 1000);
	send_notify(buf);
}

void notify_stopping(void)
{
	send_notify("STOPPING=1\nSTATUS=stopping");
}

void notify_status(const char *fmt, ...)
{
	char status[400], buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	snprintf(buf, sizeof(buf), "STATUS=%s", status);
	send_notify(buf);
}
