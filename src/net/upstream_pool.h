/* The per-worker pool of idle upstream connections, keyed by host and port.
 * An idle connection is watched: if the upstream closes it or sends anything
 * while it is idle, it is dropped at once, so a reused connection is at worst
 * closed in flight (which the caller retries once for idempotent requests). */
#ifndef WARPD_UPSTREAM_POOL_H
#define WARPD_UPSTREAM_POOL_H

#include <ev.h>
#include <stdint.h>

#include "conn.h"

/* Sets the loop and limits: max idle connections per key (0 disables the
 * pool) and how long one may stay idle, in seconds. */
void upstream_pool_init(struct ev_loop *loop, int per_key, double idle_timeout);
/* Takes an idle connection to host:port into *dst (see conn_move; data is
 * its new owner), and the address it was connected to into peer
 * (WD_ADDRSTRLEN bytes; may be NULL). Returns 1, or 0 when there is none. */
int upstream_pool_get(const char *host, uint16_t port, struct conn *dst, void *data, char *peer);
/* Gives a connected, idle connection back to the pool, which owns it from
 * now on (and may close it at once when full or disabled); c is left
 * closed. Moving the conn keeps the fd's registration with the loop. peer
 * is the address it is connected to, as text ("" or NULL when unknown). */
void upstream_pool_put(const char *host, uint16_t port, struct conn *c, const char *peer);
/* Closes every idle connection (graceful stop, worker exit). */
void upstream_pool_clear(void);
int upstream_pool_count(void);

#endif
