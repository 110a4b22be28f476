/*
 * Starting an `exec:` program on a socket, for the models that start programs
 * themselves (fork: one per connection; wait: one per readable listening socket): the
 * process (clone as vfork + execve, the socket on fd 0 and 1, a pipe on fd 2, a session of its
 * own, killed with its starter), and the relay of that pipe's lines to the log, tagged
 * with the service and the program's pid.
 */
#ifndef SUPERSERVERD_EXEC_SPAWN_H
#define SUPERSERVERD_EXEC_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct iovec;

/* How long a program's client may take to read the rest of a greeting when the
 * service has no idle_timeout. */
#define EXEC_PRELUDE_TIMEOUT_USEC (30ull * 1000 * 1000)

struct exec_spawn_req {
	int fd;       /* on the program's fd 0 and 1 */
	bool fd3_too; /* also on fd 3, for LISTEN_FDS=1 */
	int errfd;    /* on fd 2 */
	const char *path;
	char *const *argv;
	char *const *envp;
	/* An envp entry "LISTEN_PID=" with room after it: the child writes its own pid
	 * there between fork and exec (only it knows it in time). NULL: none. */
	char *listen_pid;
	size_t listen_pid_size;
	/* Bytes to write on fd before the program starts (the rest of a banner the socket
	 * did not take at once), waiting at most prelude_timeout_usec for the client to
	 * read; a client that does not is closed without the program. The child is then
	 * a fork, not a vfork (it may wait), and a program that cannot be executed is
	 * known only by its exit status 127. */
	const struct iovec *prelude;
	int n_prelude;
	uint64_t prelude_timeout_usec;
};

/*
 * Starts the program without copying the caller's address space, as vfork (the caller
 * resumes once the program has exec'd), nor the caller's descriptors at and above the
 * program's (req->fd, req->errfd). Returns 0 with *pid_r, or -errno (also when the
 * program could not be executed; that child is reaped like any other).
 */
int exec_spawn(const struct exec_spawn_req *req, pid_t *pid_r);
/* Moves FD, a descriptor the caller keeps while a program runs, out of the part of
 * its table that every spawn copies; returns its new number (FD itself if it cannot
 * move). */
int exec_spawn_keep(int fd);

/* A program's stderr, relayed line by line. */
struct exec_errbuf {
	pid_t pid;
	char remote[64]; /* REMOTE_ADDR= journal field of the program's client, or "" */
	size_t len;
	char buf[2048];
};

/* For program PID; PEER (may be NULL) names its client in the journal fields. */
void exec_errbuf_init(struct exec_errbuf *b, pid_t pid, const struct sockaddr *peer,
                      socklen_t peer_len);
/* Reads what the pipe FD holds and relays the complete lines under SERVICE's name.
 * Returns 1 while the pipe is open, 0 once it is closed or failed (what was left is
 * relayed then; the caller closes FD). */
int exec_errbuf_read(struct exec_errbuf *b, int fd, const char *service);
/* Relays what is left, a last line without its newline included. */
void exec_errbuf_flush(struct exec_errbuf *b, const char *service);

#endif
