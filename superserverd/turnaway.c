/* The master turning clients of a failed service away (see turnaway.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "superserverd/listenfds.h"
#include "superserverd/log.h"
#include "superserverd/scoreboard.h"
#include "superserverd/turnaway.h"

/* accept4 calls per wake-up: a flood on a failed service must not starve the others. */
#define TURNAWAY_BATCH 64
/* Any datagram is dropped unread: only its arrival matters. */
#define TURNAWAY_DGRAM_BUF 1
/* Out of descriptors or memory: the socket stays readable, so stop looking a while. */
#define TURNAWAY_PAUSE_USEC (250ULL * 1000)
/* Below every other source, the control socket's (SD_EVENT_PRIORITY_IDLE) included: a
 * flood on a failed service must never keep an operator from starting it again. */
#define TURNAWAY_PRIORITY (SD_EVENT_PRIORITY_IDLE + 10)

struct turnaway {
	sd_event *event;
	sd_event_source **io;
	size_t n_io;
	sd_event_source *pause;
	char *banner; /* what a client is sent before the close; NULL: nothing */
	size_t banner_len;
	const char *name;
	_Atomic uint64_t *counter;      /* the service's scoreboard; NULL: none */
	struct scoreboard_dgram *dgram; /* the same for datagrams */
	uint64_t count;
};

static void set_watching(struct turnaway *t, int on)
{
	for (size_t i = 0; i < t->n_io; i++)
		if (sd_event_source_set_enabled(t->io[i], on) < 0)
			log_warning(t->name, "cannot %s a listening socket",
			            on ? "watch" : "stop watching");
}

static int on_pause_end(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct turnaway *t = userdata;

	t->pause = sd_event_source_disable_unref(t->pause);
	set_watching(t, SD_EVENT_ON);
	return 0;
}

static int on_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct turnaway *t = userdata;

	for (int i = 0; i < TURNAWAY_BATCH; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
			    errno == EPERM)
				continue;
			log_warning(t->name, "cannot accept to turn a client away: %s",
			            strerror(errno));
			set_watching(t, SD_EVENT_OFF);
			if (!t->pause &&
			    sd_event_add_time_relative(t->event, &t->pause, CLOCK_MONOTONIC,
			                               TURNAWAY_PAUSE_USEC, 0, on_pause_end, t) < 0)
				log_error(t->name, "cannot resume turning clients away");
			return 0;
		}
		/* Best effort and never blocking: the banner fits any fresh socket buffer. */
		if (t->banner && send(c, t->banner, t->banner_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug(t->name, "banner to a turned-away client: %s", strerror(errno));
		close(c);
		t->count++;
		if (t->counter)
			atomic_fetch_add(t->counter, 1);
	}
	return 0;
}

/* A datagram service that failed answers nothing: what waits in the socket is dropped
 * now, so that a request queued for minutes is not answered when the service returns. */
static int on_datagram(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct turnaway *t = userdata;
	char buf[TURNAWAY_DGRAM_BUF];

	for (int i = 0; i < TURNAWAY_BATCH; i++) {
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			/* An ICMP error queued on the socket: reported once, then gone. */
			continue;
		}
		t->count++;
		/* Received and dropped, so that the service's datagram counts add up. */
		if (t->dgram) {
			atomic_fetch_add(&t->dgram->dropped[DGRAM_DROP_FAILED], 1);
			atomic_fetch_add(&t->dgram->received, 1);
		}
	}
	return 0;
}

int turnaway_start(sd_event *event, const int *fds, size_t n, const struct iovec *msg, int n_msg,
                   const char *name, _Atomic uint64_t *counter, struct scoreboard_dgram *dgram,
                   struct turnaway **t_r)
{
	struct turnaway *t = calloc(1, sizeof(*t));
	int r = -ENOMEM;

	if (!t)
		return r;
	t->event = event;
	t->name = name;
	t->counter = counter;
	t->dgram = dgram;
	t->io = calloc(n ? n : 1, sizeof(*t->io));
	if (!t->io)
		goto fail;
	for (int i = 0; i < n_msg; i++)
		t->banner_len += msg[i].iov_len;
	if (t->banner_len && !(t->banner = malloc(t->banner_len)))
		goto fail;
	for (size_t i = 0, off = 0; i < (size_t)n_msg; off += msg[i].iov_len, i++)
		memcpy(t->banner + off, msg[i].iov_base, msg[i].iov_len);
	for (size_t i = 0; i < n; i++) {
		/* The loop in on_ready must end at EAGAIN, never block: a program the
		 * sockets were handed to may have cleared O_NONBLOCK on the very file
		 * description we share with it. */
		r = listenfds_set_blocking(fds[i], false);
		if (r < 0)
			goto fail;
		int type = 0;
		socklen_t tlen = sizeof(type);

		if (getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
			r = -errno;
			goto fail;
		}
		r = sd_event_add_io(event, &t->io[i], fds[i], EPOLLIN,
		                    type == SOCK_DGRAM ? on_datagram : on_ready, t);
		if (r < 0)
			goto fail;
		t->n_io++;
		r = sd_event_source_set_priority(t->io[i], TURNAWAY_PRIORITY);
		if (r < 0)
			goto fail;
	}
	*t_r = t;
	return 0;
fail:
	turnaway_free(t);
	return r;
}

uint64_t turnaway_free(struct turnaway *t)
{
	uint64_t n;

	if (!t)
		return 0;
	for (size_t i = 0; i < t->n_io; i++)
		sd_event_source_disable_unref(t->io[i]);
	sd_event_source_disable_unref(t->pause);
	n = t->count;
	free(t->io);
	free(t->banner);
	free(t);
	return n;
}
