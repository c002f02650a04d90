/* The shaping executor: a small state machine per request, driven by the
 * socket's writability and one ev_timer. Segments with no pause between them
 * are written back to back, each marked MSG_EOR so that the kernel never
 * merges them (conn_send_segments); after a segment with a pause, it polls
 * until the kernel's not-sent count is zero, then pauses, so that the pause
 * is seen on the wire. A segment with a TTL or flags is a run of its own,
 * framed by two such waits (shape_exec.h). TCP_NODELAY is set
 * (upstream_connect does). */
#include "shape_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

static void shape_exec_step(struct shape_exec *x);

static unsigned long fake_fallbacks; /* this process's fakes sent as real bytes */

static int
shape_seg_special(const struct shape_seg *seg)
{
    return seg->ttl != 0 || seg->flags != 0;
}

/* The real bytes take the fake's place in the pages the socket still
 * refers to; then the pages and the pipe are let go (the socket keeps its
 * own references to the pages, so their content outlives the mapping). */
static void
shape_fake_end(struct shape_fake *fk)
{
    if (fk->map != NULL) {
        memcpy(fk->map, fk->map + fk->half, fk->len);
        munmap(fk->map, 2 * fk->half);
        fk->map = NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (fk->pipe[i] >= 0)
            close(fk->pipe[i]);
        fk->pipe[i] = -1;
    }
}

/* Maps pages holding the fake (then the real bytes, for later) and opens
 * the pipe. WD_OK or WD_ERROR (errno), with nothing left open. */
static int
shape_fake_begin(struct shape_fake *fk, const char *fake, const char *real, uint32_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    void *p;

    if (pg <= 0)
        pg = 4096;
    fk->len = len;
    fk->piped = 0;
    fk->half = ((size_t)len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
    p = mmap(NULL, 2 * fk->half, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return WD_ERROR;
    fk->map = p;
    memcpy(fk->map, fake, len);
    memcpy(fk->map + fk->half, real, len);
    if (pipe2(fk->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        int err = errno;
        fk->pipe[0] = fk->pipe[1] = -1;
        shape_fake_end(fk);
        errno = err;
        return WD_ERROR;
    }
    return WD_OK;
}

/* Puts the socket's TTL back and ends a fake: after the segment has left,
 * or when the executor stops early. */
static void
shape_exec_restore(struct shape_exec *x)
{
    shape_fake_end(&x->fake);
    if (x->saved_ttl > 0) {
        if (conn_set_ttl(x->c, x->saved_ttl) < 0 && x->c->fd >= 0)
            log_warn("shape: cannot restore the TTL to %d", x->saved_ttl);
        x->saved_ttl = 0;
    }
}

/* The kernel would not splice the fake: from here on the segment goes as
 * its real bytes at the socket's own TTL (what was spliced already becomes
 * real in place). */
static void
shape_exec_fake_plain(struct shape_exec *x, const char *why)
{
    if (fake_fallbacks++ == 0)
        log_warn("shape: %s refused, fake segments go as their real bytes", why);
    x->fake_plain++;
    shape_exec_restore(x);
}

/* Gives the conn's write side back to its owner. */
static void
shape_exec_release(struct shape_exec *x)
{
    shape_exec_restore(x);
    x->active = 0;
    x->phase = SHAPE_PH_IDLE;
    ev_timer_stop(x->c->loop, &x->timer);
    conn_want_write(x->c, 0);
    x->c->on_write = x->owner_write;
    x->c->wdata = x->owner_wdata;
}

/* Ends the run; x may be freed by done, so callers return right after. */
static void
shape_exec_finish(struct shape_exec *x, int err)
{
    shape_exec_release(x);
    if (x->now) {
        x->now_err = err;
        return;
    }
    x->done(x, err);
}

static void
shape_exec_wait(struct shape_exec *x, int phase, double secs)
{
    x->phase = phase;
    ev_timer_set(&x->timer, secs, 0.);
    ev_timer_start(x->c->loop, &x->timer);
}

static void
shape_exec_next(struct shape_exec *x)
{
    x->idx++;
    x->written = 0;
    x->ready = 0;
    x->polls = 0;
}

/* Sets up a segment with a TTL or flags, once the earlier bytes have left:
 * the TTL (the old one kept) and a fake's pages. What cannot be set up
 * degrades to something safe: the socket's TTL, or the real bytes. */
static void
shape_exec_prepare(struct shape_exec *x)
{
    const struct shape_plan *pl = x->plan;
    const struct shape_seg *seg = &pl->seg[x->idx];
    int fake = (seg->flags & SHAPE_SEG_FAKE) != 0;
    int old;

    x->ready = 1;
    if (fake && seg->ttl == 0) {
        /* At the socket's own TTL a fake would reach the server. */
        log_debug("shape: a fake segment without a TTL goes as its real bytes");
        x->fake_plain++;
        return;
    }
    if (seg->ttl != 0) {
        old = conn_ttl(x->c);
        if (old < 0 || conn_set_ttl(x->c, seg->ttl) < 0) {
            if (fake) {
                shape_exec_fake_plain(x, "setting the TTL");
                return;
            }
            log_warn("shape: cannot set the TTL to %d", seg->ttl);
        } else {
            x->saved_ttl = old;
        }
    }
    if (fake &&
        shape_fake_begin(&x->fake, pl->buf + seg->fake_off, pl->buf + seg->off, seg->len) < 0)
        shape_exec_fake_plain(x, "mapping pages for a fake");
}

/* Errors of splice(2) that say "not this way" rather than "the connection
 * failed": the fake is then given up, not the request. */
static int
shape_splice_refused(int err)
{
    return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == ENOMEM || err == EPERM ||
           err == EFAULT;
}

/* Moves the fake into the socket: the user pages into the pipe (vmsplice
 * makes the pipe refer to them), the pipe into the socket (splice makes the
 * socket's buffer refer to them; no copy either way). WD_DONE when all of it
 * went, or when it was given up (x->fake.map is NULL then and the rest goes
 * as real bytes); WD_AGAIN when the socket is full; WD_ERROR. */
static int
shape_exec_write_fake(struct shape_exec *x)
{
    struct shape_fake *fk = &x->fake;
    ssize_t n;

    while (fk->map != NULL && x->written < fk->len) {
        if (fk->piped == x->written) {
            struct iovec v = {fk->map + fk->piped, fk->len - fk->piped};

            do {
                n = vmsplice(fk->pipe[1], &v, 1, 0);
            } while (n < 0 && errno == EINTR);
            if (n <= 0) {
                shape_exec_fake_plain(x, "vmsplice");
                break;
            }
            fk->piped += (uint32_t)n;
        }
        n = conn_splice_out(x->c, fk->pipe[0], fk->piped - x->written);
        if (n == WD_AGAIN)
            return WD_AGAIN;
        if (n <= 0) {
            if (n == WD_ERROR && !shape_splice_refused(errno))
                return WD_ERROR;
            shape_exec_fake_plain(x, "splice");
            break;
        }
        x->written += (uint32_t)n;
    }
    return WD_DONE;
}

/* Writes the current segment, which has a TTL or flags, alone. WD_DONE when
 * it is all in the socket, WD_AGAIN when the socket has no room, WD_ERROR. */
static int
shape_exec_write_special(struct shape_exec *x)
{
    const struct shape_seg *seg = &x->plan->seg[x->idx];
    struct iovec v;
    ssize_t n;
    int r;

    if ((seg->flags & SHAPE_SEG_FAKE) && x->fake.map != NULL) {
        r = shape_exec_write_fake(x);
        if (r != WD_DONE)
            return r;
    }
    if (x->written == seg->len)
        return WD_DONE;
    v.iov_base = x->plan->buf + seg->off + x->written;
    v.iov_len = seg->len - x->written;
    if ((seg->flags & (SHAPE_SEG_OOB | SHAPE_SEG_FAKE)) == SHAPE_SEG_OOB)
        n = conn_send_oob(x->c, v.iov_base, v.iov_len);
    else
        n = conn_send_segments(x->c, &v, 1);
    if (n < 0)
        return (int)n;
    x->written += (uint32_t)n;
    return x->written == seg->len ? WD_DONE : WD_AGAIN;
}

/* Sends from the current position to the end of the run of plain segments
 * that need no pause between them (the whole plan for split and for the TLS
 * split), back to back, every segment marked MSG_EOR: the kernel keeps them
 * apart even when one has to wait in the socket, so no segment needs to have
 * left before the next is written. A run stops before a segment with a TTL
 * or flags. WD_DONE when the run went out whole (x then points at its last
 * segment, written), WD_AGAIN when the socket took part of it or none (x
 * points at the rest), WD_ERROR (errno). */
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

        if (i > x->idx && shape_seg_special(sg))
            break;
        iov[n].iov_base = pl->buf + sg->off + skip;
        iov[n].iov_len = sg->len - skip;
        n++;
        if (sg->delay_ms > 0)
            break;
    }
    if (n == 0)
        return WD_DONE;
    sent = conn_send_segments(x->c, iov, n);
    if (sent < 0)
        return (int)sent;
    /* Move the position past what was taken. */
    for (i = 0; i < n; i++) {
        if ((size_t)sent < iov[i].iov_len) {
            x->written += (uint32_t)sent;
            return WD_AGAIN;
        }
        sent -= (ssize_t)iov[i].iov_len;
        if (i < n - 1) {
            x->idx++;
            x->written = 0;
        } else {
            x->written = pl->seg[x->idx].len;
        }
    }
    return WD_DONE;
}

/* The current segment is written whole and must leave before anything else
 * (it has a pause, a TTL or flags): polls until it has, then puts the TTL
 * back and starts the pause. Returns 1 when the caller goes on with the next
 * segment now, 0 when a wait started or the run finished. */
static int
shape_exec_left(struct shape_exec *x)
{
    const struct shape_seg *seg = &x->plan->seg[x->idx];

    if (x->polls < SHAPE_POLL_LIMIT && conn_unsent(x->c) > 0) {
        shape_exec_wait(x, SHAPE_PH_LEFT, SHAPE_POLL_SEC);
        return 0;
    }
    if (x->polls >= SHAPE_POLL_LIMIT)
        log_debug("shape: segment %d still in the socket after %d polls", x->idx, x->polls);
    shape_exec_restore(x);
    if (x->idx == x->plan->nseg - 1) {
        shape_exec_finish(x, 0);
        return 0;
    }
    if (seg->delay_ms > 0) {
        shape_exec_wait(x, SHAPE_PH_PAUSE, seg->delay_ms / 1000.0);
        return 0;
    }
    return 1;
}

/* Sends segments until one has to wait: for room, for bytes to leave, for a
 * pause. */
static void
shape_exec_step(struct shape_exec *x)
{
    for (;;) {
        const struct shape_seg *seg;
        int special, r;

        if (x->idx >= x->plan->nseg) {
            shape_exec_finish(x, 0);
            return;
        }
        special = shape_seg_special(&x->plan->seg[x->idx]);
        /* The kernel applies the TTL to whatever it sends while it is low:
         * every earlier byte goes first. */
        if (special && !x->ready) {
            if (x->polls < SHAPE_POLL_LIMIT && conn_unsent(x->c) > 0) {
                shape_exec_wait(x, SHAPE_PH_DRAIN, SHAPE_POLL_SEC);
                return;
            }
            shape_exec_prepare(x);
        }
        r = special ? shape_exec_write_special(x) : shape_exec_run(x);
        if (r == WD_ERROR) {
            shape_exec_finish(x, errno);
            return;
        }
        if (r == WD_AGAIN) {
            x->phase = SHAPE_PH_WRITE;
            conn_want_write(x->c, 1);
            return;
        }
        conn_want_write(x->c, 0);
        seg = &x->plan->seg[x->idx];
        /* The last plain segment needs no wait: what follows may share its
         * packet. */
        if (!special && x->idx == x->plan->nseg - 1) {
            shape_exec_finish(x, 0);
            return;
        }
        if (special || seg->delay_ms > 0) {
            x->polls = 0;
            if (!shape_exec_left(x))
                return;
        }
        shape_exec_next(x);
    }
}

static void
shape_exec_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct shape_exec *x = w->data;

    switch (x->phase) {
    case SHAPE_PH_DRAIN:
        x->polls++;
        break;
    case SHAPE_PH_LEFT:
        x->polls++;
        if (!shape_exec_left(x))
            return;
        shape_exec_next(x);
        break;
    case SHAPE_PH_PAUSE:
        shape_exec_next(x);
        break;
    default: /* the deferred start */
        break;
    }
    shape_exec_step(x);
}

/* The conn's write handler while the executor runs. */
static void
shape_exec_on_write(struct conn *c)
{
    struct shape_exec *x = c->wdata;

    if (x->active && x->phase == SHAPE_PH_WRITE)
        shape_exec_step(x);
}

static void
shape_exec_setup(struct shape_exec *x, struct conn *c, const struct shape_plan *plan,
                 shape_exec_cb done, void *data)
{
    x->c = c;
    x->plan = plan;
    x->idx = 0;
    x->written = 0;
    x->polls = 0;
    x->ready = 0;
    x->saved_ttl = 0;
    memset(&x->fake, 0, sizeof(x->fake));
    x->fake.pipe[0] = x->fake.pipe[1] = -1;
    x->fake_plain = 0;
    x->done = done;
    x->data = data;
    x->active = 1;
    x->owner_write = c->on_write;
    x->owner_wdata = c->wdata;
    c->on_write = shape_exec_on_write;
    c->wdata = x;
    ev_timer_init(&x->timer, shape_exec_timer_cb, 0., 0.);
    x->timer.data = x;
    x->now = 0;
    x->now_err = 0;
}

void
shape_exec_start(struct shape_exec *x, struct conn *c, const struct shape_plan *plan,
                 shape_exec_cb done, void *data)
{
    shape_exec_setup(x, c, plan, done, data);
    /* Start from the loop: the caller's state is complete before any I/O. */
    shape_exec_wait(x, SHAPE_PH_START, 0.);
}

int
shape_exec_start_now(struct shape_exec *x, struct conn *c, const struct shape_plan *plan,
                     shape_exec_cb done, void *data)
{
    shape_exec_setup(x, c, plan, done, data);
    x->now = 1;
    shape_exec_step(x);
    x->now = 0;
    if (x->active)
        return 0;
    if (x->now_err != 0) {
        errno = x->now_err;
        return WD_ERROR;
    }
    return 1;
}

void
shape_exec_cancel(struct shape_exec *x)
{
    if (x->active)
        shape_exec_release(x);
}

unsigned long
shape_exec_fake_fallbacks(void)
{
    return fake_fallbacks;
}
