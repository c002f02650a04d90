/* Non-blocking connect to an upstream: tries each resolved address in turn,
 * each bounded by connect_timeout, and reports one result. */
#ifndef WARPD_UPSTREAM_H
#define WARPD_UPSTREAM_H

#include <ev.h>

#include "resolve.h"

struct upstream_connect;
/* fd >= 0 is a connected non-blocking socket now owned by the callee, and idx
 * the address used. fd < 0: every address failed; err is the last errno
 * (ETIMEDOUT for a timeout). */
typedef void (*upstream_cb)(void *arg, int fd, int idx, int err);

struct upstream_connect {
    struct ev_loop *loop;
    struct resolve_result addrs; /* copy of what to try */
    int idx;                     /* address being tried */
    int fd;                      /* socket of the attempt, -1 when none */
    int last_err;
    double timeout;
    ev_io io;      /* writable = connect finished */
    ev_timer timer; /* per-address connect timeout */
    upstream_cb cb;
    void *arg;
};

/* Starts trying; the callback runs later from the loop, exactly once, unless
 * upstream_cancel is called first. */
void upstream_connect_start(struct upstream_connect *u, struct ev_loop *loop,
                            const struct resolve_result *addrs, double timeout, upstream_cb cb,
                            void *arg);
void upstream_cancel(struct upstream_connect *u);

#endif
