/* The per-process buffer pool. Buffers are recycled through a free list so
 * the relay's hot path never calls malloc; the list is capped so a burst of
 * traffic does not pin memory forever. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

static struct buf *free_list;
static size_t free_count;
static size_t used_count;

struct buf *
buf_get(void)
{
    struct buf *b = free_list;

    if (b != NULL) {
        free_list = b->next;
        free_count--;
    } else {
        b = malloc(sizeof(*b));
        if (b == NULL)
            return NULL;
    }
    b->next = NULL;
    b->start = b->end = 0;
    used_count++;
    return b;
}

void
buf_put(struct buf *b)
{
    if (b == NULL)
        return;
    used_count--;
    if (free_count >= BUF_FREE_MAX) {
        free(b);
        return;
    }
    b->next = free_list;
    free_list = b;
    free_count++;
}

void
buf_pool_clear(void)
{
    while (free_list != NULL) {
        struct buf *b = free_list;
        free_list = b->next;
        free(b);
    }
    free_count = 0;
}

size_t
buf_pool_free_count(void)
{
    return free_count;
}

size_t
buf_pool_used_count(void)
{
    return used_count;
}

size_t
buf_space(struct buf *b)
{
    if (b->start == b->end) {
        b->start = b->end = 0;
    } else if (b->start > 0 && BUF_SIZE - b->end < BUF_SIZE / 4) {
        /* Compact only when the tail is short: a rare, bounded memmove. */
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    return BUF_SIZE - b->end;
}
