/*
 * Restart policy for service processes: exponential backoff for processes that die
 * young, and the point at which a service is declared failed. Pure logic.
 */
#ifndef SUPERSERVERD_BACKOFF_H
#define SUPERSERVERD_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#define BACKOFF_MIN_USEC     (100ULL * 1000)       /* first restart after 100 ms */
#define BACKOFF_MAX_USEC     (30ULL * 1000 * 1000) /* never wait longer than 30 s */
#define BACKOFF_HEALTHY_USEC (5ULL * 1000 * 1000)  /* a process that lived this long was healthy */
#define BACKOFF_MAX_FAILURES 8                     /* consecutive early deaths before "failed" */

struct backoff {
	unsigned failures; /* consecutive deaths of processes that had not become healthy */
};

/*
 * Records a process death after it lived `lived_usec`. Returns true and sets
 * *delay_r when the process should be restarted after that delay, false when the
 * service has failed too often in a row.
 */
bool backoff_next(struct backoff *b, uint64_t lived_usec, uint64_t *delay_r);
void backoff_reset(struct backoff *b);

#endif
