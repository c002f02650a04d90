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
/* Queues bytes. Returns 0 or -1 (out of memory). */
int outq_append(struct outq *q, const char *p, size_t len);
/* Writes what is queued: 1 drained, 0 bytes remain, -1 write error (errno). */
int outq_flush(struct conn *c, struct outq *q);
/* Sends iov (total bytes, added to *counter): straight to the socket when
 * nothing is queued, the rest copied into the queue. Returns 0, or -1 on a
 * write error or out of memory. */
int outq_send(struct conn *c, struct outq *q, const struct iovec *iov, int n, size_t total,
              uint64_t *counter);

#endif
