/*
 * The stderr pipes of the programs a service process started (fork with exec:, wait),
 * relayed to the log until each closes: a program's children may hold the pipe past
 * its own exit. The model owns each entry's memory (its epoll tag first, an exec_pipe
 * inside); this list watches, reads, closes and frees them, freeing only after the
 * model's epoll batch, which may still hold an event for a closed one.
 */
#ifndef SUPERSERVERD_EXEC_PIPES_H
#define SUPERSERVERD_EXEC_PIPES_H

#include <sys/socket.h>
#include <sys/types.h>

#include "mpm/exec_spawn.h"

struct exec_pipe {
	struct exec_errbuf eb;
	int *fd;     /* the owner's tag's fd: -1 once closed, so late events are skipped */
	void *owner; /* what epoll's data.ptr names; freed with free() */
	struct exec_pipe *next, *prev;
};

struct exec_pipes {
	int epfd;
	const char *service;
	struct exec_pipe *live, *dead;
};

/*
 * Watches RFD, the read end of program PID's stderr (PEER, may be NULL, names its
 * client), as P inside OWNER, whose tag's fd is *FD (set here). On failure RFD is
 * closed (the program's writes then fail with EPIPE) and OWNER freed.
 */
void exec_pipes_watch(struct exec_pipes *ps, struct exec_pipe *p, void *owner, int *fd, int rfd,
                      pid_t pid, const struct sockaddr *peer, socklen_t peer_len);
/* P's fd is readable: relays what it holds; closes it once the writers are gone. */
void exec_pipes_read(struct exec_pipes *ps, struct exec_pipe *p);
/* After an epoll batch: frees the entries closed in it. */
void exec_pipes_free_dead(struct exec_pipes *ps);
/* Relays what is left of every pipe, closes and frees them all. */
void exec_pipes_close_all(struct exec_pipes *ps);
/* In a forked child that is not a program of ours: closes our read ends. */
void exec_pipes_close_in_child(struct exec_pipes *ps);

#endif
