/* The shaping executor: a small state machine per request, driven by the
 * socket's writability and one ev_timer. Segments with no pause between them
 * are written back to back, each marked MSG_EOR so that the kernel never
 * merges them (conn_send_segments); after a segment with a pause, it polls
 * until the kernel's not-sent count is zero, then pauses, so that the pause
 * is seen on the wire. TCP_NODELAY is set (upstream_connect does). */
#include "shape_exec.h"

#include <errno.h>

static void shape_exec_step(struct shape_exec *x);

/* Gives the conn's write side back to its owner. */
static void
shape_exec_release(struct shape_exec *x)
{
    x->active = 0;
    ev_timer_stop(x->c->loop, &x->timer);
    conn_want_write(x->c, 0);
    x->c->on_write = x->owner_write;
    x->c->wdata = x->owner_wdata;
}

static void
shape_exec_finish(struct shape_exec *x, int err)
{
    shape_exec_release(x);
    x->done(x, err);
}

/* The conn's write handler while the executor runs. */
static void
shape_exec_on_write(struct conn *c)
{
    struct shape_exec *x = c->wdata;

    if (x->active && x->waiting_write)
        shape_exec_step(x);
}

static void
shape_exec_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct shape_exec *x = w->data;
    const struct shape_seg *seg = &x->plan->seg[x->idx];

    if (x->written < seg->len) {
        shape_exec_step(x); /* the deferred start */
        return;
    }
    if (x->polls >= 0) {
        long unsent = conn_unsent(x->c);
        /* Still in the socket: ask again shortly, within a bound. */
        if (unsent > 0 && ++x->polls < SHAPE_POLL_LIMIT) {
            ev_timer_set(&x->timer, SHAPE_POLL_SEC, 0.);
            ev_timer_start(loop, &x->timer);
            return;
        }
        x->polls = -1; /* sent: now the pause, if any */
        if (seg->delay_ms > 0) {
            ev_timer_set(&x->timer, seg->delay_ms / 1000.0, 0.);
            ev_timer_start(loop, &x->timer);
            return;
        }
    }
    x->idx++;
    x->written = 0;
    x->polls = 0;
    shape_exec_step(x);
}

/* Sends from the current position to the end of the run of segments that
 * need no pause between them (the whole plan for split and for the TLS
 * split), back to back, every segment marked MSG_EOR: the kernel
 * keeps them apart even when one has to wait in the socket, so no segment
 * needs to have left before the next is written. Returns 1 when the run went
 * out whole (x then points at its last segment, written), 0 when the socket
 * took part of it or none (x points at the rest), -1 on an error (errno). */
static int
shape_exec_run(struct shape_exec *x)
{
    struct iovec iov[SHAPE_MAX_SEGS];
    const struct shape_plan *pl = x->plan;
    int i, n = 0;
    ssize_t sent;

    for (i = x->idx; i < pl->nseg; i++) {
        const struct shape_seg *sg = &pl->seg[i];
        uint32_t skip = i == x->idx ? x->written : 0;

        iov[n].iov_base = pl->buf + sg->off + skip;
        iov[n].iov_len = sg->len - skip;
        n++;
        if (sg->delay_ms > 0)
            break;
    }
    sent = conn_send_segments(x->c, iov, n);
    if (sent == WD_AGAIN)
        return 0;
    if (sent == WD_ERROR)
        return -1;
    /* Move the position past what was taken. */
    for (i = 0; i < n; i++) {
        if ((size_t)sent < iov[i].iov_len) {
            x->written += (uint32_t)sent;
            return 0;
        }
        sent -= (ssize_t)iov[i].iov_len;
        if (i < n - 1) {
            x->idx++;
            x->written = 0;
        } else {
            x->written = pl->seg[x->idx].len;
        }
    }
    return 1;
}

/* Sends runs of segments; after a segment with a pause, waits until it has
 * left the socket, then pauses. */
static void
shape_exec_step(struct shape_exec *x)
{
    for (;;) {
        const struct shape_seg *seg;
        int r;

        if (x->idx >= x->plan->nseg) {
            shape_exec_finish(x, 0);
            return;
        }
        r = shape_exec_run(x);
        if (r < 0) {
            shape_exec_finish(x, errno);
            return;
        }
        if (r == 0) {
            x->waiting_write = 1;
            conn_want_write(x->c, 1);
            return;
        }
        x->waiting_write = 0;
        conn_want_write(x->c, 0);
        seg = &x->plan->seg[x->idx];
        /* The last segment needs no wait: what follows may share its packet. */
        if (x->idx == x->plan->nseg - 1) {
            shape_exec_finish(x, 0);
            return;
        }
        /* A run ends with a segment that has a pause:
         * the pause starts once the segment has left, which usually
         * happened during the write already. */
        if (seg->delay_ms > 0 && conn_unsent(x->c) > 0) {
            x->polls = 0;
            ev_timer_set(&x->timer, SHAPE_POLL_SEC, 0.);
            ev_timer_start(x->c->loop, &x->timer);
            return;
        }
        if (seg->delay_ms > 0) {
            x->polls = -1;
            ev_timer_set(&x->timer, seg->delay_ms / 1000.0, 0.);
            ev_timer_start(x->c->loop, &x->timer);
            return;
        }
        x->idx++;
        x->written = 0;
    }
}

void
shape_exec_start(struct shape_exec *x, struct conn *c, const struct shape_plan *plan,
                 shape_exec_cb done, void *data)
{
    x->c = c;
    x->plan = plan;
    x->idx = 0;
    x->written = 0;
    x->waiting_write = 0;
    x->polls = 0;
    x->done = done;
    x->data = data;
    x->active = 1;
    x->owner_write = c->on_write;
    x->owner_wdata = c->wdata;
    c->on_write = shape_exec_on_write;
    c->wdata = x;
    ev_timer_init(&x->timer, shape_exec_timer_cb, 0., 0.);
    x->timer.data = x;
    /* Start from the loop: the caller's state is complete before any I/O. */
    ev_timer_start(c->loop, &x->timer);
}

void
shape_exec_cancel(struct shape_exec *x)
{
    if (x->active)
        shape_exec_release(x);
}
