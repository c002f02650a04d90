/* The per-worker pool of idle upstream connections, keyed by host and port.
 * An idle connection is watched: if the upstream closes it or sends anything
 * while it is idle, it is dropped at once, so a reused connection is at worst
 * closed in flight (which the caller retries once for idempotent requests). */
#ifndef WARPD_UPSTREAM_POOL_H
#define WARPD_UPSTREAM_POOL_H

#include <ev.h>
#include <stdint.h>

#include "conn.h"

/* per_key: the pool keeps as many idle connections per key as the recent
 * peak of exchanges in flight to it (the max over the last
 * UPSTREAM_POOL_PEAK_SLOTS seconds). It needs no other bound: each exchange
 * belongs to a client connection, so the peak never exceeds
 * max_connections. */
#define UPSTREAM_POOL_AUTO       (-1)
#define UPSTREAM_POOL_PEAK_SLOTS 4

/* The recent peak of a count (exchanges in flight to one key): the max
 * over the slots of the last few whole seconds, the current one included.
 * O(1) per change, no allocation; exported for the unit tests. */
struct upstream_pool_peak {
    int64_t tick;                       /* the second the current slot covers */
    int cur;                            /* the count now */
    int slot[UPSTREAM_POOL_PEAK_SLOTS]; /* the max of each second, a ring */
};

/* Adds delta (+1 or -1) to the count at time now (seconds); the count
 * never goes below 0. */
void upstream_pool_peak_add(struct upstream_pool_peak *pk, int delta, double now);
/* The max of the count over the last UPSTREAM_POOL_PEAK_SLOTS seconds. */
int upstream_pool_peak_max(struct upstream_pool_peak *pk, double now);

/* Sets the loop and limits: max idle connections per key (0 disables the
 * pool, UPSTREAM_POOL_AUTO follows the demand) and how long one may stay
 * idle, in seconds. */
void upstream_pool_init(struct ev_loop *loop, int per_key, double idle_timeout);
/* Counts an exchange to host:port as begun (every call is matched by one
 * upstream_pool_done) and takes an idle connection to it into *dst (see
 * conn_move; data is its new owner), and the address it was connected to
 * into peer (WD_ADDRSTRLEN bytes; may be NULL). Returns 1, or 0 when there
 * is none. */
int upstream_pool_get(const char *host, uint16_t port, struct conn *dst, void *data, char *peer);
/* The exchange counted by upstream_pool_get is over (after its connection
 * was given back with upstream_pool_put, or closed). */
void upstream_pool_done(const char *host, uint16_t port);
/* Gives a connected, idle connection back to the pool, which owns it from
 * now on (and may close it at once when full or disabled); c is left
 * closed. Moving the conn keeps the fd's registration with the loop. peer
 * is the address it is connected to, as text ("" or NULL when unknown). */
void upstream_pool_put(const char *host, uint16_t port, struct conn *c, const char *peer);
/* Closes every idle connection (graceful stop, worker exit). */
void upstream_pool_clear(void);
int upstream_pool_count(void);

#endif
