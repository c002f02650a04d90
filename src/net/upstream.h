/* Non-blocking connect to an upstream: tries each resolved address in turn,
 * each bounded by connect_timeout, and reports one result. */
#ifndef WARPD_UPSTREAM_H
#define WARPD_UPSTREAM_H

#include <ev.h>

#include "resolve.h"

struct upstream_connect;
/* fd >= 0 is a connected non-blocking socket (TCP_NODELAY set) now owned by
 * the callback's owner, and idx the address used. fd < 0: every address
 * failed; err is the last errno (ETIMEDOUT for a timeout, EDESTADDRREQ for an
 * empty list). The struct may be freed or reused from inside the callback. */
typedef void (*upstream_cb)(void *arg, int fd, int idx, int err);

struct upstream_connect {
    struct ev_loop *loop;
    struct resolve_result addrs; /* copy of what to try */
    int idx;                     /* address being tried */
    int fd;                      /* socket of the attempt, -1 when none */
    int last_err;
    double timeout;
    ev_io io;       /* writable = connect finished */
    ev_timer timer; /* per-address connect timeout */
    upstream_cb cb;
    void *arg;
};

/* Starts trying; the callback runs later from the loop, exactly once, unless
 * upstream_cancel is called first. A timeout <= 0 means no per-address limit. */
void upstream_connect_start(struct upstream_connect *u, struct ev_loop *loop,
                            const struct resolve_result *addrs, double timeout, upstream_cb cb,
                            void *arg);
/* The SO_MARK every upstream socket of this worker gets from now on (0:
 * none): upstream_mark, set once at the worker's start. */
void upstream_set_mark(int mark);
/* Closes the socket of an attempt in progress and stops the watchers; the
 * callback will not run. A no-op after the callback, on a second call, and on
 * a zero-filled struct that was never started. */
void upstream_cancel(struct upstream_connect *u);

#endif
