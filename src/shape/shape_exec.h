/* Request shaping, the sending half: sends a shape plan one segment at a
 * time from the worker's loop. Each segment is written, then the executor
 * waits until the kernel has actually sent it (TCP_INFO, polled from a short
 * timer) so that it leaves as its own TCP segment, then waits the segment's
 * pause on an ev_timer. Segments may also go with a low TTL (disorder), with
 * an urgent byte (oob), or as a fake that the kernel's retransmission
 * replaces with the real bytes (fake). Nothing here blocks or sleeps; other
 * sessions run on. */
#ifndef WARPD_SHAPE_EXEC_H
#define WARPD_SHAPE_EXEC_H

#include <ev.h>

#include "conn.h"
#include "shape.h"

#define SHAPE_POLL_SEC   0.001 /* how often "has it left the socket?" is asked */
#define SHAPE_POLL_LIMIT 2000  /* give up waiting after this many polls (2 s) and go on */

/* What the executor waits for (struct shape_exec's phase). */
enum shape_phase {
    SHAPE_PH_IDLE,  /* not running */
    SHAPE_PH_START, /* the deferred start */
    SHAPE_PH_WRITE, /* room in the socket */
    SHAPE_PH_DRAIN, /* earlier bytes to leave, before a segment with a TTL or flags */
    SHAPE_PH_LEFT,  /* the segment just written to leave */
    SHAPE_PH_PAUSE  /* the end of the segment's pause */
};

/* A fake segment in flight: its pages, the pipe that carries them into the
 * socket by reference, and a copy of the real bytes to put in their place. */
struct shape_fake {
    char *map;      /* page-aligned: the fake at 0, the real bytes at half; NULL when none */
    size_t half;    /* the segment's length rounded up to whole pages */
    int pipe[2];    /* read and write ends; -1 when closed */
    uint32_t len;   /* bytes of the segment */
    uint32_t piped; /* bytes of the fake given to the pipe so far */
};

struct shape_exec;
/* err is 0 when every segment was written, else the errno of the failure. */
typedef void (*shape_exec_cb)(struct shape_exec *x, int err);

struct shape_exec {
    struct conn *c;
    const struct shape_plan *plan; /* kept alive by the caller until done */
    int idx;                       /* segment being sent */
    uint32_t written;              /* bytes of it written so far */
    int phase;                     /* enum shape_phase */
    int polls;                     /* TCP_INFO polls in this wait */
    int ready;                     /* the segment's TTL and fake are set up */
    int saved_ttl;                 /* the socket's TTL before this segment's; 0: unchanged */
    struct shape_fake fake;
    unsigned fake_plain; /* fakes sent as their real bytes (no TTL, or splice refused) */
    ev_timer timer;      /* poll or pause */
    shape_exec_cb done;
    void *data;
    int active;
    int now;                  /* inside shape_exec_start_now: done is not called */
    int now_err;              /* ...and how the run ended when it ended there */
    conn_handler owner_write; /* the conn's write handler, given back at the end */
    void *owner_wdata;
};

/* Starts sending; done runs later from the loop (never from inside this
 * call). Until then the executor owns c's write side (its handler and its
 * write interest, as relay_start takes over a conn); done is called after
 * the conn's own write handler is back, with write interest off, the
 * socket's TTL as it was, and no fake's pages or pipe left.
 *
 * A segment with ttl or flags (shape.h) goes alone: the executor first waits
 * until every earlier byte has left the socket, since the kernel applies the
 * TTL to whatever it sends while it is low; then it sets the TTL (read first,
 * put back after), writes the segment, and waits until it has left before
 * anything else. SHAPE_SEG_FAKE: the fake bytes are spliced from pages of
 * the executor's own, which the socket's buffer then shares; once they have
 * left at the low TTL, the real bytes are copied over them, so the kernel's
 * retransmission carries the real ones. A fake without a ttl, or one the
 * kernel refuses to splice (vmsplice or splice fail other than on the
 * connection), goes as its real bytes instead, alone, at the socket's TTL:
 * a fake must never reach the server. FAKE takes precedence over OOB. Each
 * wait gives up after SHAPE_POLL_LIMIT polls and goes on; only safe things
 * follow (the real bytes put in, the TTL put back). */
void shape_exec_start(struct shape_exec *x, struct conn *c, const struct shape_plan *plan,
                      shape_exec_cb done, void *data);
/* The same, except that sending begins inside this call: returns 1 when the
 * whole plan went out here (done is never called then; the write side is
 * back), 0 when the run goes on from the loop (done follows, as after
 * shape_exec_start), or WD_ERROR (errno) when a write failed here. A plan
 * of plain cuts, as split makes, is usually all sent at once, without a
 * turn of the loop. The caller's state must be ready for the bytes to be
 * on their way. */
int shape_exec_start_now(struct shape_exec *x, struct conn *c, const struct shape_plan *plan,
                         shape_exec_cb done, void *data);
/* Stops without calling done, giving the write side back, the TTL restored
 * and a fake's pages and pipe freed (any fake bytes still in the socket
 * become the real ones). Safe when not active. */
void shape_exec_cancel(struct shape_exec *x);
/* Fake segments this process sent as their real bytes because the kernel
 * refused the splice (the first one is logged as a warning). */
unsigned long shape_exec_fake_fallbacks(void);

#endif
