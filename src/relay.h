/* The symmetric byte pump between two connections, one direction at a time
 * with the same code: read only into free buffer space, stop reading the
 * source while the sink lags (high-water mark), resume once it drained
 * (low-water mark), shutdown(SHUT_WR) the sink after the source's EOF is
 * flushed, and report when both directions are done. */
#ifndef WARPD_RELAY_H
#define WARPD_RELAY_H

#include <stdint.h>

#include "buf.h"
#include "conn.h"

/* Pending bytes at which the source is paused, and below which it resumes. */
#define RELAY_HIGH_WATER BUF_SIZE
#define RELAY_LOW_WATER  (BUF_SIZE / 2)
/* Reads per callback, so one busy connection cannot starve the loop. */
#define RELAY_MAX_READS 4

struct relay;
/* Called once: reason is NULL when both directions ended cleanly, else a
 * short text ("client reset", "upstream write error: ..."). The relay's
 * buffers are already returned; the conns are still open. */
typedef void (*relay_done_cb)(struct relay *r, const char *reason);
/* Called on every transfer, for idle timers. */
typedef void (*relay_activity_cb)(struct relay *r);

struct relay_dir {
    struct conn *src;
    struct conn *dst;
    struct buf *b;      /* bytes read from src not yet written to dst; NULL when none */
    uint64_t bytes;     /* bytes written to dst so far */
    unsigned eof : 1;   /* src reached EOF */
    unsigned done : 1;  /* EOF seen, buffer flushed, dst shut down */
    unsigned paused : 1; /* src reading stopped for backpressure */
};

struct relay {
    struct relay_dir dir[2]; /* [0] a->b, [1] b->a */
    relay_done_cb on_done;
    relay_activity_cb on_activity; /* may be NULL */
    void *data;
    const char *name[2]; /* "client", "upstream": used in reasons */
    unsigned finished : 1;
};

/* Takes over both conns' handlers and starts pumping. Bytes already held in
 * pre[0] (for a->b) or pre[1] (for b->a) are sent first; the relay owns them. */
void relay_start(struct relay *r, struct conn *a, struct conn *b, struct buf *pre_ab,
                 struct buf *pre_ba, relay_done_cb done, void *data);
/* Stops both conns' watchers and returns the buffers; does not close. */
void relay_stop(struct relay *r);

#endif
