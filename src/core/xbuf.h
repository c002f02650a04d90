/* Input buffers of the HTTP sessions, sized to what they hold: a small one
 * for a head (512 bytes, grown x4 while full), the pooled 16 KiB buffer for
 * bodies, a larger malloc'd one only while a head does not fit (up to
 * max_header_size). Given back when empty, so that an idle connection holds
 * none and a slow client's partial head holds about what it sent. */
#ifndef WARPD_XBUF_H
#define WARPD_XBUF_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define XBUF_SMALL    512  /* the first buffer of a head */
#define XBUF_MEDIUM   2048 /* the next one, before the pooled BUF_SIZE */
#define XBUF_FREE_MAX 128  /* free buffers kept per small size class */

/* An input buffer: storage of one of the size classes (XBUF_SMALL,
 * XBUF_MEDIUM, a pooled BUF_SIZE buffer) or a malloc'd larger head. */
struct xbuf {
    char *data;
    uint32_t start, end, cap;
    struct buf *pooled; /* the pool buffer behind data, or NULL when not one */
};

/* Makes sure storage of at least want bytes is held (XBUF_SMALL or
 * BUF_SIZE): takes it when none is held, moves pending bytes to it when the
 * one held is smaller. Returns 0 or -1 (no memory). */
int xbuf_reserve(struct xbuf *x, size_t want);
/* Free space at the tail, moving pending bytes to the front first. */
size_t xbuf_space(struct xbuf *x);
/* Moves to the next size class (x4, then BUF_SIZE, then max), at most max
 * bytes. Returns 0, or -1 when it is already max bytes or memory is short. */
int xbuf_grow(struct xbuf *x, size_t max);
/* Gives the storage back when nothing is pending (or always, with force). */
void xbuf_release(struct xbuf *x, int force);
/* Frees the small free lists (worker exit, for leak checkers). */
void xbuf_pool_clear(void);
/* Free buffers kept of the small size class of cap bytes. */
size_t xbuf_pool_free_count(size_t cap);

static inline size_t
xbuf_len(const struct xbuf *x)
{
    return x->end - x->start;
}

#endif
