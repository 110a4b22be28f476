/*
 * A timeout FIFO: an intrusive doubly linked list kept in ascending key order, where
 * the key is a timestamp (last activity, start). Every member of one list shares one
 * timeout, so the earliest deadline is always the first node and checking the timers
 * costs O(1). Keys arrive almost in order, so insertion searches from the tail and
 * is O(1) in practice. Not thread-safe: one owner (the poller).
 */
#ifndef SUPERSERVERD_TP_FIFO_H
#define SUPERSERVERD_TP_FIFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_fifo_node {
	struct tp_fifo_node *prev, *next;
	uint64_t key;
	bool linked;
};

struct tp_fifo {
	struct tp_fifo_node *head, *tail;
	size_t count;
};

/* Links n (which must not be linked) after every node whose key is <= key. */
void tp_fifo_insert(struct tp_fifo *f, struct tp_fifo_node *n, uint64_t key);
/* Unlinks n if it is linked; harmless otherwise. */
void tp_fifo_remove(struct tp_fifo *f, struct tp_fifo_node *n);
/* The node with the smallest key (the oldest), or NULL. */
struct tp_fifo_node *tp_fifo_first(const struct tp_fifo *f);

#endif
