/* Input buffers for the HTTP sessions (see xbuf.h). The two small size
 * classes have per-process (so per-worker) free lists, bounded like the
 * pool of buf.c, so that a busy worker does not malloc on every request. */
#include "xbuf.h"

#include <stdlib.h>
#include <string.h>

/* A free small buffer: the link lives in its first bytes. */
struct xbuf_free {
    struct xbuf_free *next;
};

struct xbuf_class {
    struct xbuf_free *list;
    size_t count;
};

static struct xbuf_class classes[2]; /* XBUF_SMALL, XBUF_MEDIUM */

static struct xbuf_class *
xbuf_class(size_t cap)
{
    if (cap == XBUF_SMALL)
        return &classes[0];
    if (cap == XBUF_MEDIUM)
        return &classes[1];
    return NULL;
}

/* Storage of cap bytes: from a small free list, the buffer pool, or malloc. */
static char *
xbuf_alloc(size_t cap, struct buf **pooled)
{
    struct xbuf_class *c = xbuf_class(cap);

    *pooled = NULL;
    if (cap == BUF_SIZE) {
        *pooled = buf_get();
        return *pooled != NULL ? (*pooled)->data : NULL;
    }
    if (c != NULL && c->list != NULL) {
        struct xbuf_free *f = c->list;

        c->list = f->next;
        c->count--;
        return (char *)f;
    }
    return malloc(cap);
}

/* Gives back storage taken by xbuf_alloc: its kind follows from cap. */
static void
xbuf_free(char *data, size_t cap, struct buf *pooled)
{
    struct xbuf_class *c = xbuf_class(cap);

    if (pooled != NULL) {
        buf_put(pooled);
    } else if (c != NULL && c->count < XBUF_FREE_MAX) {
        struct xbuf_free *f = (struct xbuf_free *)(void *)data;

        f->next = c->list;
        c->list = f;
        c->count++;
    } else {
        free(data);
    }
}

/* Moves the pending bytes to new storage of cap bytes (at the front). */
static int
xbuf_move(struct xbuf *x, size_t cap)
{
    struct buf *pooled;
    char *d = xbuf_alloc(cap, &pooled);

    if (d == NULL)
        return -1;
    if (x->data != NULL) {
        memcpy(d, x->data + x->start, xbuf_len(x));
        xbuf_free(x->data, x->cap, x->pooled);
    }
    x->end -= x->start;
    x->start = 0;
    x->data = d;
    x->pooled = pooled;
    x->cap = (uint32_t)cap;
    return 0;
}

int
xbuf_reserve(struct xbuf *x, size_t want)
{
    if (x->data == NULL)
        x->start = x->end = x->cap = 0;
    if (x->data != NULL && x->cap >= want)
        return 0;
    return xbuf_move(x, want);
}

/* Free space at the tail, moving pending bytes to the front first. */
size_t
xbuf_space(struct xbuf *x)
{
    if (x->start == x->end) {
        x->start = x->end = 0;
    } else if (x->start > 0) {
        memmove(x->data, x->data + x->start, x->end - x->start);
        x->end -= x->start;
        x->start = 0;
    }
    return x->cap - x->end;
}

/* One size class up: a head that does not fit in what it holds. */
int
xbuf_grow(struct xbuf *x, size_t max)
{
    size_t cap;

    if (x->cap >= max)
        return -1;
    if (x->cap < XBUF_MEDIUM && x->cap * 4 <= XBUF_MEDIUM)
        cap = x->cap > 0 ? (size_t)x->cap * 4 : XBUF_SMALL;
    else if (x->cap < BUF_SIZE)
        cap = BUF_SIZE;
    else
        cap = max;
    return xbuf_move(x, cap < max ? cap : max);
}

/* Gives the storage back when nothing is pending: idle connections hold none. */
void
xbuf_release(struct xbuf *x, int force)
{
    if (x->data == NULL || (!force && x->start != x->end))
        return;
    xbuf_free(x->data, x->cap, x->pooled);
    x->data = NULL;
    x->pooled = NULL;
    x->start = x->end = x->cap = 0;
}

void
xbuf_pool_clear(void)
{
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        while (classes[i].list != NULL) {
            struct xbuf_free *f = classes[i].list;

            classes[i].list = f->next;
            free(f);
        }
        classes[i].count = 0;
    }
}

size_t
xbuf_pool_free_count(size_t cap)
{
    struct xbuf_class *c = xbuf_class(cap);

    return c != NULL ? c->count : 0;
}
