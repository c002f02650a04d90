/* Output queues: bytes a socket did not take at once, copied into pooled
 * buffers so that the producer can move on; the producer stops while the
 * queue is not empty, which is the backpressure. The fast path writes
 * straight from the caller's iovecs and copies nothing. */
#ifndef WARPD_OUTQ_H
#define WARPD_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"
#include "conn.h"

/* Bytes a socket did not take yet, in pooled buffers. */
struct outq {
    struct buf *first, *last;
    size_t bytes;
};

void outq_clear(struct outq *q);
/* Queues bytes. Returns WD_OK, or WD_ERROR (out of memory). */
int outq_append(struct outq *q, const char *p, size_t len);
/* Writes what is queued: WD_DONE drained, WD_AGAIN bytes remain, WD_ERROR
 * write error (errno). */
int outq_flush(struct conn *c, struct outq *q);
/* Sends iov (total bytes, added to *counter unless NULL): straight to the socket when
 * nothing is queued, the rest copied into the queue. Returns WD_OK, or
 * WD_ERROR on a write error or out of memory. */
int outq_send(struct conn *c, struct outq *q, const struct iovec *iov, int n, size_t total,
              uint64_t *counter);

#endif
