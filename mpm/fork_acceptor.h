/*
 * The fork model's acceptor, shared between its files: fork.c (options, the loop,
 * starting and reaping connection processes), fork_exec.c (programs: spawning, their
 * stderr) and fork_proxy.c (connections on PROXY listeners while their header
 * arrives). Internal to mpm/fork*.c.
 */
#ifndef SUPERSERVERD_FORK_ACCEPTOR_H
#define SUPERSERVERD_FORK_ACCEPTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mpm/admit.h"
#include "mpm/connlog.h"
#include "mpm/driver.h"
#include "mpm/exec_env.h"
#include "mpm/exec_pipes.h"
#include "mpm/fdlimit.h"
#include "mpm/mpm.h"
#include "mpm/proxy_accept.h"

enum fork_tag_kind { TAG_LISTENER, TAG_SIGNAL, TAG_STDERR, TAG_HEADER };

/* What an epoll event's data.ptr points to: every registered object starts with one. */
struct tag {
	enum fork_tag_kind kind;
	int fd;
};

struct fork_listener {
	struct tag tag; /* first */
	const struct listen_conf *lc;
	bool armed; /* EPOLLIN is in its interest set */
};

/* A connection on a PROXY listener whose header is on its way (fork_proxy.c). */
struct fork_header {
	struct tag tag; /* first; tag.fd is pa.fd */
	struct proxy_accept pa;
	struct fork_header *prev, *next; /* the acceptor's list, by deadline */
};

struct child;
struct iovec;

/* Programs behind TLS: one cell per connection process, in memory shared with it,
 * where it tells the acceptor that its handshake failed (so no program ran) and how
 * the connection ended: 0 nothing to tell, else 1 + an enum driver_outcome. */
struct fork_tls_reports {
	_Atomic uint8_t *cell; /* n cells, MAP_SHARED; NULL: no TLS listener for a program */
	unsigned *free;        /* the free cells' indices, n_free of them */
	unsigned n, n_free;
};

struct acceptor {
	const struct worker_ctx *ctx;
	const char *name;
	unsigned max_children;     /* this acceptor's share of max_children */
	unsigned max_children_all; /* the service's, across its acceptors */
	unsigned n_acceptors;      /* the service's, in scoreboard slots 0..n-1 */
	unsigned children;
	bool full; /* children + headers reached max_children: listeners paused */
	bool stopping;
	/* Built-in connection processes are forked without the libraries they never
	 * call (superserverd/image.h), and so with _Fork(). */
	bool trimmed;
	struct accept_shortage shortage;
	int epfd;
	struct tag sig;
	struct fork_listener *listeners;
	struct exec_pipes pipes; /* exec: the programs' stderr */
	int spare_pipe[2];       /* exec: the next program's stderr, made before accept */
	struct exec_env env;
	struct fork_tls_reports reports; /* exec on a TLS listener */
	struct driver_limits limits;
	struct child *table; /* open addressing by pid, linear probing */
	unsigned table_mask;
	struct admit admit;
	struct connlog connlog;
	uint64_t retry_at; /* accepting paused by admission (rate, max_connections) until */

	/* Headers being read, earliest deadline first. They count towards max_children:
	 * each becomes a process once its header is complete. */
	struct fork_header *headers, *headers_tail;
	unsigned n_headers;
};

/* fork.c */
/* In a connection process just forked: closes what belongs to the acceptor (its
 * epoll and signal descriptors, the listeners, the programs' pipes, other clients'
 * sockets still waiting for their header). */
void fork_child_close(struct acceptor *a);
/* Puts each listener in or out of the epoll set from the acceptor's state. */
void fork_listen_update(struct acceptor *a);
/*
 * A connection past accept (and past its PROXY header, if any) on listener LC (NULL:
 * one the configuration does not list) with PEER the client: admission, then a
 * process for it (which does the TLS handshake on a TLS listener). LOCAL (local_len 0:
 * the socket's own) is the address the client connected to. Consumes fd and the
 * ticket either way.
 */
void fork_serve(struct acceptor *a, const struct listen_conf *lc, int fd,
                struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len);

/* fork_exec.c */
/*
 * Spawns the service's program for the connection fd (on its fd 0 and 1; its stderr
 * relayed to the log), with PEER and LOCAL in its environment (see fork_serve). On a
 * TLS listener LC, a connection process instead, which does the handshake and relays
 * plaintext to the program (fork_tls_exec.c). Returns 0 with *pid_r and *report_r
 * (the process's report cell, -1: none), or -errno.
 */
int fork_exec_spawn(struct acceptor *a, const struct listen_conf *lc, int fd,
                    const struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                    socklen_t peer_len, const struct sockaddr_storage *local, socklen_t local_len,
                    pid_t *pid_r, int *report_r);
/* Makes the next program's stderr pipe ahead of its accept (nothing for a built-in).
 * Returns 0, or -errno: no descriptor is left for it. */
int fork_exec_room(struct acceptor *a);
/* A program's stderr is readable (or closed). */
void fork_exec_pipe_event(struct acceptor *a, struct tag *t);
/* Frees the relays closed during the epoll batch that just ended. */
void fork_exec_free_dead(struct acceptor *a);
/* In a built-in's connection process: closes the acceptor's ends of the pipes. */
void fork_exec_close_in_child(struct acceptor *a);
/* Relays what is left and closes every pipe (the acceptor is leaving). */
void fork_exec_cleanup(struct acceptor *a);

/* fork_tls_exec.c */
/* The report cells, when one of the service's TLS listeners serves its program.
 * Returns 0 or -errno. */
int fork_tls_exec_setup(struct acceptor *a);
void fork_tls_exec_cleanup(struct acceptor *a);
/*
 * Forks the connection process for a program behind TLS: the handshake, then the
 * program on a socketpair with the SSL_* variables beside the others, the relay
 * between the two (which writes GREETING, N_GREETING pieces of the service's banners,
 * to the client ahead of the program's output), and the program's exit status as the
 * process's own. ERRFD becomes the program's stderr (closed here in the acceptor's
 * stead by the caller). Returns 0 with *pid_r and *report_r, or -errno.
 */
int fork_tls_exec_start(struct acceptor *a, const struct listen_conf *lc, int fd, int errfd,
                        const struct iovec *greeting, int n_greeting,
                        const struct sockaddr_storage *peer, socklen_t peer_len,
                        const struct sockaddr_storage *local, socklen_t local_len, pid_t *pid_r,
                        int *report_r);
/* Once connection process with report cell CELL has been reaped: true when its
 * handshake failed (no program ran), with *outcome_r how the connection ended; frees
 * the cell either way. */
bool fork_tls_exec_report(struct acceptor *a, int cell, enum driver_outcome *outcome_r);

/* fork_proxy.c */
/* A socket just accepted on a PROXY listener: refused, served, or kept to wait. */
void fork_proxy_accepted(struct acceptor *a, const struct listen_conf *lc, int fd,
                         const struct admit_ticket *ticket, const struct sockaddr_storage *peer,
                         socklen_t peer_len);
/* The header's socket is readable (or closed, or failed). */
void fork_proxy_event(struct acceptor *a, struct fork_header *h);
/* Refuses the connections whose header is late at NOW. */
void fork_proxy_expire(struct acceptor *a, uint64_t now);
/* The earliest header deadline, or 0 when none is pending. */
uint64_t fork_proxy_next_deadline(const struct acceptor *a);
/* Closes every pending header (the acceptor is leaving). */
void fork_proxy_drop_all(struct acceptor *a);

#endif
