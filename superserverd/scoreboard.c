/* The per-service scoreboard segment (see scoreboard.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "superserverd/scoreboard.h"

size_t scoreboard_size(unsigned n_slots)
{
	return sizeof(struct scoreboard) + (size_t)n_slots * sizeof(struct scoreboard_slot);
}

struct scoreboard *scoreboard_create(unsigned n_slots, int *fd_r)
{
	size_t size = scoreboard_size(n_slots);
	struct scoreboard *sb;
	int fd = memfd_create("superserverd-scoreboard", MFD_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	sb = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sb == MAP_FAILED)
		goto fail;
	/* Other services' processes must not see this segment. */
	if (madvise(sb, size, MADV_DONTFORK) < 0) {
		int e = errno;
		munmap(sb, size);
		errno = e;
		goto fail;
	}
	sb->magic = SCOREBOARD_MAGIC;
	sb->version = SCOREBOARD_VERSION;
	sb->n_slots = n_slots;
	*fd_r = fd;
	return sb;
fail : {
	int e = errno;
	close(fd);
	errno = e;
	return NULL;
}
}

struct scoreboard *scoreboard_attach(int fd)
{
	struct scoreboard head;
	struct scoreboard *sb;

	if (pread(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head))
		return NULL;
	if (head.magic != SCOREBOARD_MAGIC || head.version != SCOREBOARD_VERSION) {
		errno = EPROTO;
		return NULL;
	}
	sb = mmap(NULL, scoreboard_size(head.n_slots), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return sb == MAP_FAILED ? NULL : sb;
}

void scoreboard_unmap(struct scoreboard *sb)
{
	if (sb)
		munmap(sb, scoreboard_size(sb->n_slots));
}

const char *scoreboard_state_name(enum worker_state s)
{
	static const char *const names[] = {
		[WORKER_EMPTY] = "empty", [WORKER_STARTING] = "starting", [WORKER_IDLE] = "idle",
		[WORKER_BUSY] = "busy",	  [WORKER_STOPPING] = "stopping",
	};
	return (unsigned)s < WORKER_STATE_COUNT ? names[s] : "unknown";
}

void scoreboard_set_state(struct scoreboard_slot *slot, enum worker_state s)
{
	atomic_store_explicit(&slot->state, (uint32_t)s, memory_order_release);
}

uint64_t scoreboard_now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}
