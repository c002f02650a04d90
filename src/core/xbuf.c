/* Input buffers for the HTTP sessions (see xbuf.h). */
#include "xbuf.h"

#include <stdlib.h>
#include <string.h>

int
xbuf_reserve(struct xbuf *x)
{
    if (x->data != NULL)
        return 0;
    x->pooled = buf_get();
    if (x->pooled == NULL)
        return -1;
    x->data = x->pooled->data;
    x->cap = BUF_SIZE;
    x->start = x->end = 0;
    return 0;
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

/* Replaces the pooled buffer by one of max bytes (a head that does not fit). */
int
xbuf_grow(struct xbuf *x, size_t max)
{
    char *d;

    if (x->cap >= max)
        return -1;
    d = malloc(max);
    if (d == NULL)
        return -1;
    memcpy(d, x->data + x->start, xbuf_len(x));
    x->end -= x->start;
    x->start = 0;
    if (x->pooled != NULL)
        buf_put(x->pooled);
    else
        free(x->data);
    x->pooled = NULL;
    x->data = d;
    x->cap = (uint32_t)max;
    return 0;
}

/* Gives the storage back when nothing is pending: idle connections hold none. */
void
xbuf_release(struct xbuf *x, int force)
{
    if (x->data == NULL || (!force && x->start != x->end))
        return;
    if (x->pooled != NULL)
        buf_put(x->pooled);
    else
        free(x->data);
    x->data = NULL;
    x->pooled = NULL;
    x->start = x->end = x->cap = 0;
}
