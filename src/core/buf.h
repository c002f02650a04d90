/* Fixed-size I/O buffers from a per-process (so per-worker) free list. A
 * connection holds a buffer only while bytes are in flight, so an idle
 * connection costs no buffer memory. */
#ifndef WARPD_BUF_H
#define WARPD_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BUF_SIZE     16384
#define BUF_FREE_MAX 1024 /* free buffers kept for reuse; more are returned to malloc */

struct buf {
    struct buf *next; /* free-list link */
    uint32_t start;   /* first unread byte */
    uint32_t end;     /* one past the last byte written */
    char data[BUF_SIZE];
};

/* Takes an empty buffer, or NULL when out of memory. */
struct buf *buf_get(void);
/* Returns a buffer to the free list (NULL is ignored). */
void buf_put(struct buf *b);
/* Frees the whole free list (worker exit, for leak checkers). */
void buf_pool_clear(void);
size_t buf_pool_free_count(void);
size_t buf_pool_used_count(void);

static inline size_t
buf_len(const struct buf *b)
{
    return b->end - b->start;
}
/* Free space at the tail, after moving pending bytes to the front when the
 * tail alone is short. */
size_t buf_space(struct buf *b);

#endif
