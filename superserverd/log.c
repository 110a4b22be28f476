/*
 * Logging: one place that decides between the journal's native protocol (structured
 * fields) and plain lines on stderr, for the master and every service process.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "superserverd/log.h"

static int log_level = LOG_INFO;
static bool log_journal;
static int log_journal_fdnum = -1;
static const char *log_ident = "superserverd";

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
        [LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

/* JOURNAL_STREAM names the stream systemd connected our stderr to; if stderr has been
 * redirected since, it no longer matches and plain lines are the right thing. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void fd_set_add(unsigned char *set, size_t n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		long fd = strtol(de->d_name, NULL, 10);
		if (fd > 2 && (size_t)fd < n && fd != dirfd(d))
			set[fd] = 1;
	}
	closedir(d);
}

/*
 * sd-journal keeps one datagram socket open for the life of the process. Service
 * processes close every fd they do not need, and closing that one would let its number
 * be reused by a client socket, so learn which fd it is by opening it now and looking
 * at what appeared.
 */
static void learn_journal_fd(void)
{
	unsigned char before[1024] = {0}, after[1024] = {0};

	fd_set_add(before, sizeof(before));
	sd_journal_send("MESSAGE=%s starting", log_ident, "PRIORITY=%d", LOG_DEBUG, NULL);
	fd_set_add(after, sizeof(after));
	for (int fd = 3; fd < (int)sizeof(after); fd++)
		if (after[fd] && !before[fd]) {
			int type;
			socklen_t len = sizeof(type);
			if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
			    type == SOCK_DGRAM) {
				log_journal_fdnum = fd;
				return;
			}
		}
	/* Without a known fd, service processes fall back to stderr, which is still the
	 * journal stream. */
	log_journal = false;
}

void log_init(const char *ident)
{
	if (ident)
		log_ident = ident;
	log_journal = stderr_is_journal();
	if (log_journal)
		learn_journal_fd();
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

bool log_to_journal(void)
{
	return log_journal;
}

int log_journal_fd(void)
{
	return log_journal ? log_journal_fdnum : -1;
}

int log_level_from_string(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} t[] = {{"debug", LOG_DEBUG},     {"info", LOG_INFO}, {"notice", LOG_NOTICE},
	         {"warning", LOG_WARNING}, {"error", LOG_ERR}, {"err", LOG_ERR}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].level;
	return -1;
}

static void log_vemit(int level, const char *service, const char *const *fields, const char *fmt,
                      va_list ap)
{
	char msg[4096];
	int saved = errno;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);

	if (log_journal) {
		struct iovec iov[24];
		char prio[32], svc[128], pid[32];
		char mbuf[sizeof(msg) + 16];
		size_t n = 0;

		snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s%s%s", service ? service : "",
		         service ? ": " : "", msg);
		iov[n++] = (struct iovec){mbuf, strlen(mbuf)};
		snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
		iov[n++] = (struct iovec){prio, strlen(prio)};
		if (service) {
			snprintf(svc, sizeof(svc), "SERVICE=%s", service);
			iov[n++] = (struct iovec){svc, strlen(svc)};
		}
		snprintf(pid, sizeof(pid), "SUPERSERVERD_PID=%d", (int)getpid());
		iov[n++] = (struct iovec){pid, strlen(pid)};
		for (size_t i = 0; fields && fields[i] && n < sizeof(iov) / sizeof(iov[0]); i++)
			iov[n++] = (struct iovec){(void *)fields[i], strlen(fields[i])};
		if (sd_journal_sendv(iov, (int)n) >= 0) {
			errno = saved;
			return;
		}
	}

	/* One write per line so lines from several processes do not interleave. */
	char line[sizeof(msg) + 256];
	int len =
	        snprintf(line, sizeof(line), "%s[%d]: %s: %s%s%s\n", log_ident, (int)getpid(),
	                 level_names[level & 7], service ? service : "", service ? ": " : "", msg);
	if (len > (int)sizeof(line) - 1)
		len = (int)sizeof(line) - 1;
	if (write(STDERR_FILENO, line, (size_t)len) < 0) {
		/* nowhere left to report it */
	}
	errno = saved;
}

void log_msg(int level, const char *service, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vemit(level, service, NULL, fmt, ap);
	va_end(ap);
}

void log_fields(int level, const char *service, const char *const *fields, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vemit(level, service, fields, fmt, ap);
	va_end(ap);
}
