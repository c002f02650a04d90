/* The symmetric relay. Each direction (src -> dst) runs the same pump: flush
 * what is buffered, read only into free space, pause the source while the
 * sink holds RELAY_HIGH_WATER bytes, resume under RELAY_LOW_WATER, and after
 * the source's EOF is flushed shut down the sink's write side. A buffer is
 * held only while bytes are in flight. */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
relay_fail(struct relay *r, const char *side, const char *what, int err)
{
    relay_done_cb done = r->on_done;

    snprintf(r->reason, sizeof(r->reason), "%s %s: %s", side, what, strerror(err));
    relay_stop(r);
    done(r, r->reason);
}

/* Writes buffered bytes to dst. Returns 0, or -1 after relay_fail. */
static int
dir_flush(struct relay *r, struct relay_dir *d, int di)
{
    while (d->b != NULL && buf_len(d->b) > 0) {
        ssize_t n = conn_write(d->dst, d->b->data + d->b->start, buf_len(d->b));
        if (n == WD_AGAIN)
            break;
        if (n == WD_ERROR) {
            relay_fail(r, r->name[1 - di], "write", errno);
            return -1;
        }
        d->b->start += (uint32_t)n;
        d->bytes += (uint64_t)n;
        r->last_active = ev_now(d->dst->loop);
    }
    if (d->b != NULL && buf_len(d->b) == 0) {
        buf_put(d->b);
        d->b = NULL;
    }
    conn_want_write(d->dst, d->b != NULL);
    return 0;
}

/* What a read from d->src returned (n, the WD_* contract): 1 when bytes
 * came (last_active moves), 0 when there is nothing more for now or the
 * source ended (eof set), -1 after relay_fail on an error. Both the
 * buffered and the splice path read through this. */
static int
dir_took(struct relay *r, struct relay_dir *d, int di, ssize_t n)
{
    if (n == WD_AGAIN)
        return 0;
    if (n == WD_ERROR) {
        relay_fail(r, r->name[di], "read", errno);
        return -1;
    }
    if (n == 0) {
        d->eof = 1;
        return 0;
    }
    r->last_active = ev_now(d->src->loop);
    return 1;
}

/* Reads from src into free space, at most RELAY_MAX_READS times, flushing
 * after each read. Returns 0, or -1 after relay_fail. */
static int
dir_fill(struct relay *r, struct relay_dir *d, int di)
{
    int i, took;

    for (i = 0; i < RELAY_MAX_READS && !d->eof; i++) {
        size_t space;
        ssize_t n;

        if (d->b == NULL && (d->b = buf_get()) == NULL) {
            relay_fail(r, r->name[di], "read", ENOMEM);
            return -1;
        }
        space = buf_space(d->b);
        if (space == 0)
            break;
        n = conn_read(d->src, d->b->data + d->b->end, space);
        if ((took = dir_took(r, d, di, n)) <= 0) {
            if (took < 0)
                return -1;
            break;
        }
        d->b->end += (uint32_t)n;
        if (dir_flush(r, d, di) < 0)
            return -1;
        /* A short read drained the socket: another would be EAGAIN. */
        if ((size_t)n < space)
            break;
        if (d->b != NULL && buf_len(d->b) >= RELAY_HIGH_WATER)
            break;
    }
    return 0;
}

/* One step of direction di. May call on_done (and so free r): the caller
 * must not touch r afterwards when it returns -1 or r->finished is set. */
/* Both directions done: report. Returns -1 (r may be gone). */
static int
relay_finish(struct relay *r)
{
    relay_done_cb done = r->on_done;

    relay_stop(r);
    done(r, NULL);
    return -1;
}

/* EOF seen and nothing pending: pass the EOF on. Returns 0 or -1. */
static int
dir_end(struct relay *r, struct relay_dir *d, int di)
{
    d->done = 1;
    if (conn_shutdown_write(d->dst) < 0 && errno != ENOTCONN) {
        relay_fail(r, r->name[1 - di], "shutdown", errno);
        return -1;
    }
    if (r->dir[0].done && r->dir[1].done)
        return relay_finish(r);
    return 0;
}

/* Bulk goes this way: a bigger pipe, once. The pipe is empty or holds one
 * chunk, which fits either size. When the kernel refuses (the user's pipe
 * pages are over /proc/sys/fs/pipe-user-pages-soft, say), the chunk stays
 * as it was, and so does the pipe. */
static void
dir_grow_pipe(struct relay_dir *d)
{
    int got = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_BULK);

    d->grown = 1;
    if (got >= RELAY_PIPE_BULK)
        d->chunk = RELAY_PIPE_BULK;
}

/* The splice path: the pipe is the buffer. The source is read only while
 * the pipe is empty, so the pipe never holds more than one chunk: that is
 * the backpressure. */
static int
dir_splice(struct relay *r, struct relay_dir *d, int di)
{
    for (int i = 0; i < RELAY_MAX_READS; i++) {
        while (d->piped > 0) {
            ssize_t n = conn_splice_out(d->dst, d->pipe[0], d->piped);
            if (n == WD_AGAIN) {
                conn_want_read(d->src, 0);
                conn_want_write(d->dst, 1);
                return 0;
            }
            if (n <= 0) {
                relay_fail(r, r->name[1 - di], "write", n == 0 ? EPIPE : errno);
                return -1;
            }
            d->piped -= (size_t)n;
            d->bytes += (uint64_t)n;
            r->last_active = ev_now(d->dst->loop);
        }
        conn_want_write(d->dst, 0);
        if (d->eof)
            break;
        {
            ssize_t n = conn_splice_in(d->src, d->pipe[1], d->chunk);
            int took = dir_took(r, d, di, n);

            if (took < 0)
                return -1;
            if (took == 0)
                break;
            d->piped += (size_t)n;
            if (!d->grown && d->bytes + d->piped >= RELAY_BULK_AFTER)
                dir_grow_pipe(d);
        }
    }
    if (d->piped > 0) { /* the loop's bound was hit with bytes in the pipe */
        conn_want_read(d->src, 0);
        conn_want_write(d->dst, 1);
        return 0;
    }
    conn_want_read(d->src, !d->eof);
    if (d->eof)
        return dir_end(r, d, di);
    return 0;
}

static int
dir_pump(struct relay *r, int di)
{
    struct relay_dir *d = &r->dir[di];
    size_t pending;

    if (d->done)
        return 0;
    if (d->pipe[0] >= 0 && d->b == NULL)
        return dir_splice(r, d, di);
    if (dir_flush(r, d, di) < 0)
        return -1;
    if (d->pipe[0] >= 0 && d->b == NULL)
        return dir_splice(r, d, di); /* the buffered bytes are out: splice on */
    if (!d->paused && dir_fill(r, d, di) < 0)
        return -1;

    pending = d->b != NULL ? buf_len(d->b) : 0;
    if (d->b != NULL && pending == 0) {
        /* Taken for a read that found nothing (or EOF): give it back. */
        buf_put(d->b);
        d->b = NULL;
    }
    if (!d->eof) {
        if (pending >= RELAY_HIGH_WATER)
            d->paused = 1;
        else if (pending < RELAY_LOW_WATER)
            d->paused = 0;
        conn_want_read(d->src, !d->paused);
    } else {
        conn_want_read(d->src, 0);
        if (pending == 0)
            return dir_end(r, d, di);
    }
    return 0;
}

static void
relay_on_read(struct conn *c)
{
    struct relay *r = c->data;
    dir_pump(r, r->dir[0].src == c ? 0 : 1);
}

static void
relay_on_write(struct conn *c)
{
    struct relay *r = c->data;
    dir_pump(r, r->dir[0].dst == c ? 0 : 1);
}

void
relay_start(struct relay *r, struct conn *a, struct conn *b, struct buf *pre_ab, struct buf *pre_ba,
            const char *name_a, const char *name_b, relay_done_cb done, void *data)
{
    memset(r, 0, sizeof(*r));
    r->dir[0].pipe[0] = r->dir[0].pipe[1] = -1;
    r->dir[1].pipe[0] = r->dir[1].pipe[1] = -1;
    r->dir[0].src = a;
    r->dir[0].dst = b;
    r->dir[0].b = pre_ab;
    r->dir[1].src = b;
    r->dir[1].dst = a;
    r->dir[1].b = pre_ba;
    r->name[0] = name_a;
    r->name[1] = name_b;
    r->on_done = done;
    r->data = data;
    r->last_active = ev_now(a->loop);
    a->data = r;
    b->data = r;
    a->on_read = b->on_read = relay_on_read;
    a->on_write = b->on_write = relay_on_write;
    conn_want_read(a, 1);
    conn_want_read(b, 1);
    conn_want_write(b, pre_ab != NULL && buf_len(pre_ab) > 0);
    conn_want_write(a, pre_ba != NULL && buf_len(pre_ba) > 0);
}

int
relay_use_splice(struct relay *r)
{
    int p0[2], p1[2];

    if (pipe2(p0, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    if (pipe2(p1, O_NONBLOCK | O_CLOEXEC) < 0) {
        close(p0[0]);
        close(p0[1]);
        return -1;
    }
    r->dir[0].chunk = r->dir[1].chunk = RELAY_PIPE_CHUNK;
    r->dir[0].pipe[0] = p0[0];
    r->dir[0].pipe[1] = p0[1];
    r->dir[1].pipe[0] = p1[0];
    r->dir[1].pipe[1] = p1[1];
    return 0;
}

void
relay_stop(struct relay *r)
{
    int i;

    if (r->finished)
        return;
    r->finished = 1;
    for (i = 0; i < 2; i++) {
        conn_want_read(r->dir[i].src, 0);
        conn_want_write(r->dir[i].dst, 0);
        r->dir[i].src->on_read = NULL;
        r->dir[i].src->on_write = NULL;
        buf_put(r->dir[i].b);
        r->dir[i].b = NULL;
        if (r->dir[i].pipe[0] >= 0) { /* what is still in it is dropped */
            close(r->dir[i].pipe[0]);
            close(r->dir[i].pipe[1]);
            r->dir[i].pipe[0] = r->dir[i].pipe[1] = -1;
        }
    }
}
