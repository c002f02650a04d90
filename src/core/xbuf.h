/* Input buffers of the HTTP sessions: a pooled buffer while bytes are
 * pending, replaced by a larger malloc'd one only while a head does not fit
 * (up to max_header_size), and given back when empty so that an idle
 * connection holds none. */
#ifndef WARPD_XBUF_H
#define WARPD_XBUF_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* An input buffer: a pooled buffer normally, a larger one only while a head
 * does not fit (up to max_header_size). */
struct xbuf {
    char *data;
    uint32_t start, end, cap;
    struct buf *pooled; /* the pool buffer behind data, or NULL when malloc'd */
};

/* Takes a pooled buffer when none is held. Returns 0 or -1 (no memory). */
int xbuf_reserve(struct xbuf *x);
/* Free space at the tail, moving pending bytes to the front first. */
size_t xbuf_space(struct xbuf *x);
/* Replaces the storage by one of max bytes. Returns 0, or -1 when it is
 * already that large or memory is short. */
int xbuf_grow(struct xbuf *x, size_t max);
/* Gives the storage back when nothing is pending (or always, with force). */
void xbuf_release(struct xbuf *x, int force);

static inline size_t
xbuf_len(const struct xbuf *x)
{
    return x->end - x->start;
}

#endif
