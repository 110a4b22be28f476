/*
 * The scoreboard: one shared-memory segment per service, created by the master
 * before the service's processes fork, written by those processes with atomics and
 * read by the master (supervision, prefork scaling, statistics). No pointers inside,
 * so every process can map it anywhere.
 *
 * The segment is a memfd. The master maps it with MADV_DONTFORK so a service
 * process never inherits another service's mapping; each service process maps its
 * own segment again from the fd it is handed.
 */
#ifndef SUPERSERVERD_SCOREBOARD_H
#define SUPERSERVERD_SCOREBOARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SCOREBOARD_MAGIC 0x53534230u /* "SSB0" */
#define SCOREBOARD_VERSION 1u

enum worker_state {
	WORKER_EMPTY = 0, /* no process in this slot */
	WORKER_STARTING,  /* forked, not yet serving */
	WORKER_IDLE,      /* waiting for a connection */
	WORKER_BUSY,      /* serving (for pools: at least one connection, and no room) */
	WORKER_STOPPING,  /* finishing its connections before it exits */
	WORKER_STATE_COUNT,
};

struct scoreboard_slot {
	_Atomic int32_t pid;
	_Atomic uint32_t state;  /* enum worker_state */
	_Atomic uint32_t active; /* connections open in this process now */
	_Atomic uint64_t served; /* connections this process finished */
	_Atomic uint64_t last_activity_usec; /* CLOCK_MONOTONIC of the last accept or end */
};

/* Service-wide counters; they survive the processes that update them. */
struct scoreboard_counters {
	_Atomic uint64_t accepted;
	_Atomic uint64_t completed;
	_Atomic uint64_t handler_errors;
	_Atomic uint64_t timeouts;
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t bytes_out;
};

struct scoreboard {
	uint32_t magic;
	uint32_t version;
	uint32_t n_slots;
	uint32_t reserved;
	_Atomic uint64_t generation;
	struct scoreboard_counters counters;
	struct scoreboard_slot slots[];
};

/* Master: creates a segment for n_slots workers. Returns NULL (errno set) on failure. */
struct scoreboard *scoreboard_create(unsigned n_slots, int *fd_r);
/* Service process: maps the segment behind fd (then the fd may be closed). */
struct scoreboard *scoreboard_attach(int fd);
void scoreboard_unmap(struct scoreboard *sb);
size_t scoreboard_size(unsigned n_slots);

const char *scoreboard_state_name(enum worker_state s);

/* Helpers for workers. */
void scoreboard_set_state(struct scoreboard_slot *slot, enum worker_state s);
uint64_t scoreboard_now_usec(void);

#endif
