/* Request shaping, the sending half: sends a shape plan one segment at a
 * time from the worker's loop. Each segment is written, then the executor
 * waits until the kernel has actually sent it (TCP_INFO, polled from a short
 * timer) so that it leaves as its own TCP segment, then waits the segment's
 * pause on an ev_timer. Nothing here blocks or sleeps; other sessions run on. */
#ifndef WARPD_SHAPE_EXEC_H
#define WARPD_SHAPE_EXEC_H

#include <ev.h>

#include "conn.h"
#include "shape.h"

#define SHAPE_POLL_SEC   0.001 /* how often "has it left the socket?" is asked */
#define SHAPE_POLL_LIMIT 2000  /* give up waiting after this many polls (2 s) and go on */

struct shape_exec;
/* err is 0 when every segment was written, else the errno of the failure. */
typedef void (*shape_exec_cb)(struct shape_exec *x, int err);

struct shape_exec {
    struct conn *c;
    const struct shape_plan *plan; /* kept alive by the caller until done */
    int idx;                       /* segment being sent */
    uint32_t written;              /* bytes of it written so far */
    int waiting_write;             /* blocked on the socket, waiting for room */
    int polls;                     /* TCP_INFO polls for the current segment */
    ev_timer timer;                /* poll or pause */
    shape_exec_cb done;
    void *data;
    int active;
    conn_handler owner_write; /* the conn's write handler, given back at the end */
    void *owner_wdata;
};

/* Starts sending; done runs later from the loop (never from inside this
 * call). Until then the executor owns c's write side (its handler and its
 * write interest, as relay_start takes over a conn); done is called after
 * the conn's own write handler is back, with write interest off. */
void shape_exec_start(struct shape_exec *x, struct conn *c, const struct shape_plan *plan,
                      shape_exec_cb done, void *data);
/* Stops without calling done, giving the write side back. Safe when not
 * active. */
void shape_exec_cancel(struct shape_exec *x);

#endif
