/* The stderr pipes of a service process's programs (see exec_pipes.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mpm/exec_pipes.h"
#include "superserverd/log.h"

void exec_pipes_watch(struct exec_pipes *ps, struct exec_pipe *p, void *owner, int *fd, int rfd,
                      pid_t pid, const struct sockaddr *peer, socklen_t peer_len)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = owner};

	p->owner = owner;
	p->fd = fd;
	*fd = rfd;
	exec_errbuf_init(&p->eb, pid, peer, peer_len);
	if (epoll_ctl(ps->epfd, EPOLL_CTL_ADD, rfd, &ev) < 0) {
		close(rfd);
		free(owner);
		return;
	}
	p->prev = NULL;
	p->next = ps->live;
	if (ps->live)
		ps->live->prev = p;
	ps->live = p;
}

/* Unlinks and closes; freed after the current epoll batch. */
static void pipe_close(struct exec_pipes *ps, struct exec_pipe *p)
{
	exec_errbuf_flush(&p->eb, ps->service);
	if (epoll_ctl(ps->epfd, EPOLL_CTL_DEL, *p->fd, NULL) < 0 && errno != ENOENT)
		log_warning(ps->service, "epoll_ctl: %s", strerror(errno));
	close(*p->fd);
	*p->fd = -1;
	if (p->prev)
		p->prev->next = p->next;
	else
		ps->live = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = NULL;
	p->next = ps->dead;
	ps->dead = p;
}

void exec_pipes_read(struct exec_pipes *ps, struct exec_pipe *p)
{
	if (*p->fd >= 0 && exec_errbuf_read(&p->eb, *p->fd, ps->service) == 0)
		pipe_close(ps, p); /* EOF or error */
}

void exec_pipes_free_dead(struct exec_pipes *ps)
{
	while (ps->dead) {
		struct exec_pipe *p = ps->dead;
		ps->dead = p->next;
		free(p->owner);
	}
}

void exec_pipes_close_all(struct exec_pipes *ps)
{
	while (ps->live)
		pipe_close(ps, ps->live);
	exec_pipes_free_dead(ps);
}

void exec_pipes_close_in_child(struct exec_pipes *ps)
{
	for (struct exec_pipe *p = ps->live; p; p = p->next)
		close(*p->fd);
}
