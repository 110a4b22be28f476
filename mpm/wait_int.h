/*
 * The wait model's service process, shared between its files: wait.c (options, the
 * loop, watching sockets, stop) and wait_run.c (a program's run on one socket: the
 * waking datagram's access check, the start, the end, counters, records, backoff).
 * Internal to mpm/wait*.c.
 */
#ifndef SUPERSERVERD_WAIT_INT_H
#define SUPERSERVERD_WAIT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mpm/connlog.h"
#include "mpm/exec_env.h"
#include "mpm/exec_pipes.h"
#include "mpm/exec_spawn.h"
#include "mpm/mpm.h"
#include "superserverd/backoff.h"

/* After the timeout's SIGTERM, a program has this long before SIGKILL. */
#define WAIT_KILL_GRACE_USEC (5ULL * 1000 * 1000)
/* A stream program that ends sooner than this with a connection still pending did not
 * accept it (a pending connection cannot be told from the next one). */
#define WAIT_QUICK_USEC (1000ULL * 1000)
/* Bytes of the waking datagram remembered to tell whether the program read it. */
#define WAIT_HEAD_BYTES 64
/* Denied datagrams dropped per wake-up: a flood cannot starve the loop. */
#define WAIT_DROP_BATCH 64

struct wait_options {
	uint64_t timeout_usec; /* 0: a program may run for ever */
};

enum wait_tag_kind { WAIT_TAG_SOCKET, WAIT_TAG_STDERR, WAIT_TAG_SIGNAL };

/* What an epoll event's data.ptr points to: every registered object starts with one. */
struct wait_tag {
	enum wait_tag_kind kind;
	int fd;
};

enum wait_sock_state {
	WAIT_WATCHING, /* in the epoll set: readable starts the program */
	WAIT_RUNNING,  /* the program has the socket */
	WAIT_BACKOFF,  /* the last run failed: watched again at retry_at */
};

/* The datagram that woke the service: its source, length and first bytes. */
struct wait_head {
	struct sockaddr_storage from;
	socklen_t from_len;
	ssize_t len;
	unsigned char bytes[WAIT_HEAD_BYTES];
};

struct wait_sock {
	struct wait_tag tag; /* first: the listening socket */
	int type;            /* SOCK_STREAM or SOCK_DGRAM */
	const char *key;     /* the address, for messages */
	char *fdnames;       /* "LISTEN_FDNAMES=name" */
	enum wait_sock_state state;
	bool armed; /* in the epoll set */

	/* The run (RUNNING): */
	pid_t pid;
	uint64_t start_usec;
	uint64_t term_at; /* the timeout: SIGTERM then (0: none, or sent) */
	uint64_t kill_at; /* SIGKILL then (0: none) */
	bool timed_out;
	bool has_head; /* a datagram woke it: head is that datagram */
	struct wait_head head;

	struct backoff backoff;
	uint64_t retry_at; /* BACKOFF: watched again then */
};

/* A program's stderr, relayed until the pipe closes. */
struct wait_pipe {
	struct wait_tag tag; /* first */
	struct exec_pipe p;
};

struct wait_server {
	const struct worker_ctx *ctx;
	const char *name;
	uint64_t timeout_usec;
	int epfd;
	struct wait_tag sig;
	struct wait_sock *socks;
	size_t n_socks;
	unsigned running;
	bool stopping;
	bool check_access; /* `access` has CIDR rules: checked on waking datagrams */
	struct exec_pipes pipes;
	struct exec_env env;
	struct connlog connlog;
};

/* wait.c */
/* Puts S in or out of the epoll set. */
void wait_sock_arm(struct wait_server *w, struct wait_sock *s, bool on);
/* Relays a new program's stderr from the read end RFD. */
void wait_pipe_watch(struct wait_server *w, int rfd, pid_t pid, const struct sockaddr *peer,
                     socklen_t peer_len);

/* wait_run.c */
/*
 * Datagram socket S is readable: drops what `access` denies from the head of its
 * queue (counted) and remembers the datagram that is left in front. Returns true when
 * a datagram waits for the program, false when there is none (left to epoll).
 */
bool wait_run_gate(struct wait_server *w, struct wait_sock *s);
/* Starts the program on S (then RUNNING, or BACKOFF when it could not start). */
void wait_run_start(struct wait_server *w, struct wait_sock *s);
/* A child exited with STATUS: if it is a run's program, that run ends. */
void wait_run_reaped(struct wait_server *w, pid_t pid, int status);
/* Timeouts and backoffs due at NOW; returns the next deadline (0: none). */
uint64_t wait_run_timers(struct wait_server *w, uint64_t now);

#endif
