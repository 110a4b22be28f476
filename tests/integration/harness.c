/* Integration-test harness (see harness.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "harness.h"

const char *h_binary(void)
{
	const char *b = getenv("SUPERSERVERD");
	return b ? b : "./superserverd";
}

long long h_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_pause_ms(int ms)
{
	poll(NULL, 0, ms);
}

/* Ports are drawn below the kernel's ephemeral range (32768 and up by default): a port
 * the kernel hands to some test's client socket a moment later could not be bound by the
 * daemon. A port found free here is bound by the daemon only later, so two programs must
 * never hand out the same port. CTest runs test programs side by side and gives each a
 * slot of PORT_SLOT_SIZE ports of its own (SS_TEST_PORT_SLOT), but the same program may
 * run in several build trees at once (two builds, several checkouts on one machine), in
 * the same slot: so a port is also claimed, machine-wide, by binding the abstract unix
 * socket "@superserverd-test-port-N" (see claim_port). The claim lasts as long as the
 * process that drew the port (the test case Check forked), and the kernel drops it when
 * that process dies, however it dies. Within its range a program walks the ports in turn,
 * so it reuses one only after PORT_SLOT_SIZE others. The walk's position lives in shared
 * memory made before Check forks its test cases, or each case would start the walk over
 * on its predecessor's ports. Free means bindable on every address, for services
 * listening on 0.0.0.0. */
#define PORT_BASE 20000
#ifndef PORT_SLOTS /* tests/CMakeLists.txt sets both */
#define PORT_SLOTS     50
#define PORT_SLOT_SIZE 250
#endif
#define PORT_SPAN (PORT_SLOTS * PORT_SLOT_SIZE)

static struct {
	int base, span;
	unsigned *next; /* shared with forked test cases */
} ports;

__attribute__((constructor)) static void ports_init(void)
{
	const char *slot = getenv("SS_TEST_PORT_SLOT");
	char *end = NULL;
	long k = slot ? strtol(slot, &end, 10) : -1;
	unsigned start = 0;

	ports.base = PORT_BASE;
	ports.span = PORT_SPAN;
	if (slot && (!*slot || *end != '\0' || k < 0 || k >= PORT_SLOTS)) {
		/* The whole range would overlap every other program's slot. */
		fprintf(stderr, "harness: SS_TEST_PORT_SLOT=%s is not a slot (0 to %d): no ports\n",
		        slot, PORT_SLOTS - 1);
		return;
	}
	if (slot) {
		ports.base = PORT_BASE + (int)k * PORT_SLOT_SIZE;
		ports.span = PORT_SLOT_SIZE;
	} else if (getrandom(&start, sizeof(start), 0) != (ssize_t)sizeof(start)) {
		start = (unsigned)getpid(); /* run by hand: any start will do */
	}
	void *m = mmap(NULL, sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	               -1, 0);
	if (m == MAP_FAILED)
		return; /* h_free_port reports it */
	ports.next = m;
	*ports.next = start;
}

/* Claims PORT for this process among every process running this harness: the claim is
 * an abstract unix socket, left open (close-on-exec, so not in the daemon) until this
 * process exits. Returns 1 if claimed, 0 if another process (or this one) holds it, -1
 * on error. */
static int claim_port(int port)
{
	/* Ports this process claimed (a forked test case inherits its parent's claims):
	 * after a walk all around the range, reused rather than refused. */
	static unsigned char mine[PORT_SPAN / 8 + 1];
	int bit = port - PORT_BASE;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (bit >= 0 && bit < PORT_SPAN && (mine[bit / 8] & (1u << (bit % 8))))
		return 1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* sun_path[0] stays '\0': an abstract name, no file to clean up. */
	int len = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "superserverd-test-port-%d",
	                   port);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun,
	         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len)) == 0) {
		if (bit >= 0 && bit < PORT_SPAN)
			mine[bit / 8] |= (unsigned char)(1u << (bit % 8));
		return 1; /* fd deliberately kept: the claim */
	}
	int e = errno;
	close(fd);
	return e == EADDRINUSE ? 0 : -1;
}

int h_free_port(void)
{
	if (!ports.next)
		return -1;
	for (int tries = 0; tries < ports.span; tries++) {
		unsigned v = __atomic_fetch_add(ports.next, 1, __ATOMIC_RELAXED);
		int port = ports.base + (int)(v % (unsigned)ports.span);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
		if (fd < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		close(fd);
		if (r != 0)
			continue; /* in use by someone, maybe not a test */
		/* Free now, but another harness may have drawn it and not started its daemon
		 * yet: only a port this process could claim is ours. */
		int c = claim_port(port);
		if (c < 0)
			return -1;
		if (c > 0)
			return port;
	}
	return -1;
}

static int vwrite_file(const char *path, const char *control_path, const char *fmt, va_list ap)
{
	char *text = NULL;
	FILE *f;

	if (vasprintf(&text, fmt, ap) < 0)
		return -1;
	f = fopen(path, "we");
	if (!f) {
		free(text);
		return -1;
	}
	/* As root a service needs a user; as anyone else defaults.user is ignored. */
	if (!strstr(text, "defaults:"))
		fputs("defaults: {user: nobody}\n", f);
	fputs(text, f);
	/* Each daemon its own control socket, appended so line numbers stay put. */
	if (!strstr(text, "control:") && control_path) {
		if (text[0] && text[strlen(text) - 1] != '\n')
			fputc('\n', f);
		fprintf(f, "control: {socket: '%s'}\n", control_path);
	}
	free(text);
	return fclose(f) == 0 ? 0 : -1;
}

int h_write_config(struct daemon *d, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vwrite_file(d->config, d->control, fmt, ap);
	va_end(ap);
	return r;
}

static int prepare_dir(struct daemon *d)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(d, 0, offsetof(struct daemon, allowed_errors));
	d->pid = -1;
	d->notify_fd = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/ss-test.XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	/* Services may run as nobody and must be able to reach files we put here. */
	chmod(d->dir, 0755);
	snprintf(d->config, sizeof(d->config), "%s/superserverd.yaml", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	snprintf(d->notify_path, sizeof(d->notify_path), "%s/notify.sock", d->dir);
	snprintf(d->control, sizeof(d->control), "%s/control.sock", d->dir);
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->notify_fd < 0)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->notify_path);
	if (bind(d->notify_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	return 0;
}

int h_prepare(struct daemon *d, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (prepare_dir(d) < 0)
		return -1;
	va_start(ap, fmt);
	r = vwrite_file(d->config, d->control, fmt, ap);
	va_end(ap);
	return r;
}

static void drain_notify(struct daemon *d)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(d->notify_fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		size_t room = sizeof(d->notify_seen) - d->notify_len - 1;
		/* Keep the most recent messages when the record fills up. */
		if ((size_t)n + 1 > room) {
			d->notify_len = 0;
			room = sizeof(d->notify_seen) - 1;
		}
		memcpy(d->notify_seen + d->notify_len, buf, (size_t)n);
		d->notify_len += (size_t)n;
		d->notify_seen[d->notify_len++] = '\n';
		d->notify_seen[d->notify_len] = '\0';
	}
}

void h_notify_clear(struct daemon *d)
{
	drain_notify(d);
	d->notify_len = 0;
	d->notify_seen[0] = '\0';
}

int h_wait_notify(struct daemon *d, const char *what, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;

	for (;;) {
		drain_notify(d);
		if (strstr(d->notify_seen, what))
			return 0;
		long long left = end - h_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = d->notify_fd, .events = POLLIN};
		poll(&p, 1, (int)(left > 100 ? 100 : left));
		/* A daemon that died will never say it. */
		if (d->pid > 0 && waitpid(d->pid, &d->exit_status, WNOHANG) == d->pid) {
			d->pid = -1;
			drain_notify(d);
			return strstr(d->notify_seen, what) ? 0 : -1;
		}
	}
}

int h_spawn(struct daemon *d)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		const char *argv[32];
		int n = 0, fd;

		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(127);
		setenv("NOTIFY_SOCKET", d->notify_path, 1);
		unsetenv("JOURNAL_STREAM");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		for (int i = 0; i < 8 && d->env[i]; i++)
			putenv((char *)d->env[i]);
		for (int i = 0; d->wrapper && d->wrapper[i] && n < 24; i++)
			argv[n++] = d->wrapper[i];
		argv[n++] = h_binary();
		argv[n++] = "-c";
		argv[n++] = d->config;
		argv[n] = NULL;
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	d->pid = pid;
	return 0;
}

int h_launch(struct daemon *d)
{
	if (h_spawn(d) < 0)
		return -1;
	if (h_wait_notify(d, "READY=1", 15000) < 0) {
		fprintf(stderr, "superserverd did not become ready\n");
		/* Harnesses never hand out the same port (claim_port); a program that is not
		 * one can still bind it between h_free_port and the daemon's bind. */
		if (h_log_wait(d, "Address already in use", 0))
			fprintf(stderr,
			        "a port h_free_port found free was taken by another program "
			        "before the daemon could bind it: is something else (a "
			        "benchmark?) using ports %d to %d?\n",
			        ports.base, ports.base + ports.span - 1);
		h_dump_log(d);
		return -1;
	}
	return 0;
}

int h_start(struct daemon *d, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (prepare_dir(d) < 0)
		return -1;
	va_start(ap, fmt);
	r = vwrite_file(d->config, d->control, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	return h_launch(d);
}

int h_reload(struct daemon *d)
{
	h_notify_clear(d);
	if (d->pid <= 0 || kill(d->pid, SIGHUP) < 0)
		return -1;
	if (h_wait_notify(d, "RELOADING=1", 10000) < 0)
		return -1;
	return h_wait_notify(d, "READY=1", 10000);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	fclose(f);
	return buf;
}

bool h_log_wait(struct daemon *d, const char *s, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	for (;;) {
		char *log = slurp(d->log);
		bool found = log && strstr(log, s);
		free(log);
		if (found)
			return true;
		if (h_now_ms() >= end)
			return false;
		h_pause_ms(10);
	}
}

void h_dump_log(struct daemon *d)
{
	char *log = slurp(d->log);
	fprintf(stderr, "---- superserverd log (%s) ----\n%s---- end ----\n", d->log,
	        log ? log : "(none)\n");
	free(log);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void cleanup_dir(struct daemon *d)
{
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	if (d->dir[0])
		nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	d->dir[0] = '\0';
}

static bool wait_exit(struct daemon *d, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	while (d->pid > 0) {
		pid_t r = waitpid(d->pid, &d->exit_status, WNOHANG);
		if (r == d->pid || (r < 0 && errno == ECHILD)) {
			d->pid = -1;
			return true;
		}
		if (h_now_ms() >= end)
			return false;
		h_pause_ms(10);
	}
	return true;
}

/* Lines that mean the daemon misbehaved even if the test's checks passed. */
static bool log_is_clean(struct daemon *d)
{
	char *log = slurp(d->log), *line, *save = NULL;
	bool clean = true;

	if (!log)
		return true;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool bad = strstr(line, "Sanitizer") || strstr(line, "runtime error:") ||
		           strstr(line, ": error: ") || strstr(line, ": crit: ") ||
		           strstr(line, ": alert: ");
		for (int i = 0; bad && i < 8 && d->allowed_errors[i]; i++)
			if (strstr(line, d->allowed_errors[i]))
				bad = false;
		if (bad) {
			fprintf(stderr, "unexpected log line: %s\n", line);
			clean = false;
		}
	}
	free(log);
	return clean;
}

int h_stop(struct daemon *d)
{
	bool clean;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		if (!wait_exit(d, 20000)) {
			fprintf(stderr, "superserverd did not stop within 20 s: killing it\n");
			kill(d->pid, SIGKILL);
			wait_exit(d, 5000);
			h_dump_log(d);
			cleanup_dir(d);
			return -1;
		}
	}
	/* What the daemon told systemd on its way out, for the test to read afterwards. */
	drain_notify(d);
	clean = log_is_clean(d);
	if (!clean || !WIFEXITED(d->exit_status) || WEXITSTATUS(d->exit_status) != 0) {
		fprintf(stderr, "superserverd exit status 0x%x\n", d->exit_status);
		h_dump_log(d);
		cleanup_dir(d);
		return -1;
	}
	cleanup_dir(d);
	return 0;
}

void h_kill(struct daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		wait_exit(d, 5000);
	}
	cleanup_dir(d);
}

int h_connect(const char *host, int port)
{
	int fd;

	if (port == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", host);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
	} else if (strchr(host, ':')) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
		inet_pton(AF_INET6, host, &sin6.sin6_addr);
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0)
			return fd;
	} else {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
		inet_pton(AF_INET, host, &sin.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			return fd;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

bool h_refused(const char *host, int port)
{
	int fd = h_connect(host, port);

	if (fd >= 0)
		close(fd);
	return fd < 0;
}

ssize_t h_read_all(int fd, void *buf, size_t cap, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	size_t got = 0;

	for (;;) {
		long long left = end - h_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(fd, (char *)buf + got, cap - got);
		if (n == 0)
			return (ssize_t)got;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return errno == ECONNRESET ? (ssize_t)got : -1;
		}
		got += (size_t)n;
		if (got == cap)
			return (ssize_t)got;
	}
}

int h_read_n(int fd, void *buf, size_t n, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	size_t got = 0;

	while (got < n) {
		long long left = end - h_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int h_write_all(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = send(fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

ssize_t h_exchange(const char *host, int port, const char *send_str, bool shut, char *buf,
                   size_t cap, int timeout_ms)
{
	int fd = h_connect(host, port);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (send_str && h_write_all(fd, send_str, strlen(send_str)) < 0) {
		close(fd);
		return -1;
	}
	if (shut)
		shutdown(fd, SHUT_WR);
	n = h_read_all(fd, buf, cap, timeout_ms);
	close(fd);
	return n;
}

int h_children(pid_t parent, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		char path[64], buf[512];
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			int ppid = 0;
			char state;
			if (p && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && ppid == parent &&
			    state != 'Z')
				pids[n++] = pid;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

bool h_echoes(int fd, const char *msg)
{
	char buf[64];
	size_t n = strlen(msg);

	return n <= sizeof(buf) && h_write_all(fd, msg, n) == 0 &&
	       h_read_n(fd, buf, n, 5000) == 0 && memcmp(buf, msg, n) == 0;
}

int h_count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int h_count_in_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) >= 0)
		n += strstr(line, s) != NULL;
	free(line);
	fclose(f);
	return n;
}

pid_t h_only_child(pid_t parent)
{
	pid_t kids[2];

	return h_children(parent, kids, 2) == 1 ? kids[0] : -1;
}

/* PID has ended: no such process, or a zombie. Where the reaper of orphans does not
 * reap (a container whose PID 1 is a shell, say), a program that outlived its parent
 * stays a zombie: dead, holding nothing, but still there for kill(). */
static bool pid_dead(pid_t pid)
{
	char path[64], stat[512];
	const char *end;
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return false;
	stat[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses. */
	end = strrchr(stat, ')');
	return end && end[1] == ' ' && end[2] == 'Z';
}

bool h_wait_gone(pid_t pid, int timeout_ms)
{
	return H_DEADLINE_WAIT(pid_dead(pid), timeout_ms);
}
