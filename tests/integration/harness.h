/*
 * Integration-test harness: runs the real superserverd binary in a temporary
 * directory on a templated configuration, with a real datagram socket as its
 * NOTIFY_SOCKET, and talks to it over real loopback sockets. Every wait has a
 * deadline; nothing sleeps for a fixed time.
 */
#ifndef SS_TEST_HARNESS_H
#define SS_TEST_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct daemon {
	pid_t pid;
	char dir[64];          /* temporary directory, removed by h_stop */
	char config[128];      /* dir/superserverd.yaml */
	char log[128];         /* the daemon's stderr */
	char notify_path[100]; /* fits sun_path */
	char control[100];     /* the daemon's control socket (added to every config) */
	int notify_fd;
	char notify_seen[8192]; /* every notify message received so far, concatenated */
	size_t notify_len;
	int exit_status; /* after h_stop: waitpid status */
	/* Log lines at error level that the test expects (substring); others fail h_stop. */
	const char *allowed_errors[8];
	/* Extra environment for the daemon ("NAME=value"), NULL-terminated. */
	const char *env[8];
	/* Wrap the daemon in this argv prefix (e.g. systemd-socket-activate ...). */
	const char *const *wrapper;
};

/* Path of the superserverd binary under test ($SUPERSERVERD). */
const char *h_binary(void);
/* A TCP port that was free a moment ago, from this test program's own range; -1 if
 * none is. */
int h_free_port(void);
/* Milliseconds on CLOCK_MONOTONIC. */
long long h_now_ms(void);

/* Creates the temp dir and writes the configuration (printf format) without starting.
 * A configuration without its own `defaults:` gets `defaults: {user: nobody}` in front
 * (its first line), so the same test runs as root and as an ordinary user, and one
 * without `control:` gets `control: {socket: DIR/control.sock}` at its end. */
int h_prepare(struct daemon *d, const char *yaml_fmt, ...) __attribute__((format(printf, 2, 3)));
/* Rewrites the configuration file. */
int h_write_config(struct daemon *d, const char *yaml_fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Starts the prepared daemon and waits (up to 10 s) for READY=1. Returns 0 or -1. */
int h_launch(struct daemon *d);
/* Starts the prepared daemon without waiting for it. */
int h_spawn(struct daemon *d);
/* h_prepare + h_launch. */
int h_start(struct daemon *d, const char *yaml_fmt, ...) __attribute__((format(printf, 2, 3)));
/* Waits until a notify message containing `what` arrives after the current point. */
int h_wait_notify(struct daemon *d, const char *what, int timeout_ms);
/* Forgets the notify messages seen so far. */
void h_notify_clear(struct daemon *d);
/* SIGHUP and wait for the READY=1 that ends the reload. Returns 0 or -1. */
int h_reload(struct daemon *d);
/* SIGTERM, wait for exit (deadline), SIGKILL if needed; fails (returns -1) if the log
 * holds a sanitizer report or an unexpected error line. The notify messages sent until
 * the exit are in notify_seen afterwards. Removes the temp dir. */
int h_stop(struct daemon *d);
/* Like h_stop but does not judge the log; used in failure paths. */
void h_kill(struct daemon *d);
/* True if the log contains s. Waits up to timeout_ms for it to appear. */
bool h_log_wait(struct daemon *d, const char *s, int timeout_ms);
/* Prints the daemon's log to stderr (for failing tests). */
void h_dump_log(struct daemon *d);

/* Connects to host:port (or unix path when port is 0); -1 on failure. */
int h_connect(const char *host, int port);
/* True once a connection to host:port is refused (one that succeeds is closed): wait
 * for a listener to be gone with H_DEADLINE_WAIT(h_refused(...), ms). */
bool h_refused(const char *host, int port);
/* Reads until EOF or timeout; returns bytes read or -1 on timeout/error. */
ssize_t h_read_all(int fd, void *buf, size_t cap, int timeout_ms);
/* Reads exactly n bytes (deadline); returns 0 or -1. */
int h_read_n(int fd, void *buf, size_t n, int timeout_ms);
int h_write_all(int fd, const void *buf, size_t n);
/* Connects, optionally sends `send`, shuts down writing if `shut`, reads to EOF. */
ssize_t h_exchange(const char *host, int port, const char *send, bool shut, char *buf, size_t cap,
                   int timeout_ms);

/* Writes msg (at most 64 bytes) and reads the same bytes back (deadline 5 s). */
bool h_echoes(int fd, const char *msg);
/* Lines in a file (0 if it cannot be read). */
int h_count_lines(const char *path);

/* Lines of a file that contain s (-1 if it cannot be read). */
int h_count_in_file(const char *path, const char *s);
/* The only child of parent, or -1 while it has none or several (wait with
 * H_DEADLINE_WAIT). */
pid_t h_only_child(pid_t parent);

/* Pids of the daemon's direct children (service processes). Returns the count. */
int h_children(pid_t parent, pid_t *pids, int max);
/* Waits until `pid` has ended: gone, or a zombie nobody reaps (see pid_dead). */
bool h_wait_gone(pid_t pid, int timeout_ms);

#define H_DEADLINE_WAIT(cond, timeout_ms)                                                          \
	({                                                                                         \
		long long _end = h_now_ms() + (timeout_ms);                                        \
		bool _ok;                                                                          \
		while (!(_ok = (cond)) && h_now_ms() < _end)                                       \
			h_pause_ms(5);                                                             \
		_ok;                                                                               \
	})
/* A short pause inside a deadline loop (polling, not waiting for an event). */
void h_pause_ms(int ms);

#endif
