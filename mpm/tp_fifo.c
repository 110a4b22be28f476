/* The timeout FIFO: sorted insertion from the tail, O(1) removal and head. */
#include "mpm/tp_fifo.h"

void tp_fifo_insert(struct tp_fifo *f, struct tp_fifo_node *n, uint64_t key)
{
	struct tp_fifo_node *after = f->tail;

	/* Equal keys keep arrival order: a node goes after the ones already there. */
	while (after && after->key > key)
		after = after->prev;
	n->key = key;
	n->prev = after;
	n->next = after ? after->next : f->head;
	if (n->next)
		n->next->prev = n;
	else
		f->tail = n;
	if (after)
		after->next = n;
	else
		f->head = n;
	n->linked = true;
	f->count++;
}

void tp_fifo_remove(struct tp_fifo *f, struct tp_fifo_node *n)
{
	if (!n->linked)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		f->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		f->tail = n->prev;
	n->prev = n->next = NULL;
	n->linked = false;
	f->count--;
}

struct tp_fifo_node *tp_fifo_first(const struct tp_fifo *f)
{
	return f->head;
}
