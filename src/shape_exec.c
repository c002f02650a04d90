/* The shaping executor: a small state machine per request, driven by the
 * socket's writability and one ev_timer. For each segment: write it (possibly
 * over several writable events), poll until the kernel's not-sent count is
 * zero so the next write cannot be coalesced with it, then pause. With
 * TCP_NODELAY set (upstream_connect does) each segment then leaves alone. */
#include "shape_exec.h"

#include <errno.h>

static void shape_exec_step(struct shape_exec *x);

static void
shape_exec_finish(struct shape_exec *x, int err)
{
    x->active = 0;
    ev_timer_stop(x->c->loop, &x->timer);
    conn_want_write(x->c, 0);
    x->done(x, err);
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

/* Writes the current segment; moves on to waiting once it is all written. */
static void
shape_exec_step(struct shape_exec *x)
{
    for (;;) {
        const struct shape_seg *seg;

        if (x->idx >= x->plan->nseg) {
            shape_exec_finish(x, 0);
            return;
        }
        seg = &x->plan->seg[x->idx];
        while (x->written < seg->len) {
            ssize_t n =
                conn_write(x->c, x->plan->buf + seg->off + x->written, seg->len - x->written);
            if (n == WD_AGAIN) {
                x->waiting_write = 1;
                conn_want_write(x->c, 1);
                return;
            }
            if (n == WD_ERROR) {
                shape_exec_finish(x, errno);
                return;
            }
            x->written += (uint32_t)n;
        }
        x->waiting_write = 0;
        conn_want_write(x->c, 0);
        /* The last segment needs no wait: what follows may share its packet. */
        if (x->idx == x->plan->nseg - 1) {
            shape_exec_finish(x, 0);
            return;
        }
        /* Usually the kernel sent it during the write already: then a
         * segment without a pause is followed at once, with no trip
         * through the loop. Otherwise poll, then pause. */
        if (conn_unsent(x->c) > 0) {
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
    ev_timer_init(&x->timer, shape_exec_timer_cb, 0., 0.);
    x->timer.data = x;
    /* Start from the loop: the caller's state is complete before any I/O. */
    ev_timer_start(c->loop, &x->timer);
}

void
shape_exec_writable(struct shape_exec *x)
{
    if (x->active && x->waiting_write)
        shape_exec_step(x);
}

void
shape_exec_cancel(struct shape_exec *x)
{
    if (!x->active)
        return;
    x->active = 0;
    ev_timer_stop(x->c->loop, &x->timer);
}
