/* Output queues (see outq.h). */
#include "outq.h"

#include <string.h>

void
outq_clear(struct outq *q)
{
    while (q->first != NULL) {
        struct buf *b = q->first;
        q->first = b->next;
        buf_put(b);
    }
    q->last = NULL;
    q->bytes = 0;
}

/* Queues bytes into pooled buffers. Returns 0 or -1 (out of memory). */
int
outq_append(struct outq *q, const char *p, size_t len)
{
    while (len > 0) {
        struct buf *b = q->last;
        size_t n;

        if (b == NULL || b->end == BUF_SIZE) {
            b = buf_get();
            if (b == NULL)
                return WD_ERROR;
            if (q->last != NULL)
                q->last->next = b;
            else
                q->first = b;
            q->last = b;
        }
        n = BUF_SIZE - b->end < len ? BUF_SIZE - b->end : len;
        memcpy(b->data + b->end, p, n);
        b->end += (uint32_t)n;
        q->bytes += n;
        p += n;
        len -= n;
    }
    return WD_OK;
}

/* Writes what is queued (the contract is in outq.h). */
int
outq_flush(struct conn *c, struct outq *q)
{
    while (q->first != NULL) {
        struct buf *b = q->first;
        ssize_t n = conn_write(c, b->data + b->start, buf_len(b));

        if (n == WD_AGAIN || n == WD_ERROR)
            return (int)n;
        b->start += (uint32_t)n;
        q->bytes -= (size_t)n;
        if (buf_len(b) == 0) {
            q->first = b->next;
            if (q->first == NULL)
                q->last = NULL;
            buf_put(b);
        }
    }
    return WD_DONE;
}

/* Sends iov: straight to the socket when nothing is queued, the rest copied
 * into the queue. */
int
outq_send(struct conn *c, struct outq *q, const struct iovec *iov, int n, size_t total,
          uint64_t *counter)
{
    size_t done = 0;
    int i;

    if (counter != NULL)
        *counter += total;
    if (q->bytes == 0 && total > 0) {
        ssize_t w = conn_writev(c, iov, n);
        if (w == WD_ERROR)
            return WD_ERROR;
        if (w > 0)
            done = (size_t)w;
    }
    for (i = 0; i < n && done < total; i++) {
        if (done >= iov[i].iov_len) {
            done -= iov[i].iov_len;
            total -= iov[i].iov_len;
            continue;
        }
        if (outq_append(q, (const char *)iov[i].iov_base + done, iov[i].iov_len - done) != WD_OK)
            return WD_ERROR;
        total -= iov[i].iov_len;
        done = 0;
    }
    return WD_OK;
}
