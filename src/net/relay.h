/* The symmetric byte pump between two connections, one direction at a time
 * with the same code: read only into free buffer space, stop reading the
 * source while the sink lags (high-water mark), resume once it drained
 * (low-water mark), shutdown(SHUT_WR) the sink after the source's EOF is
 * flushed, and report when both directions are done. */
#ifndef WARPD_RELAY_H
#define WARPD_RELAY_H

#include <stdint.h>

#include "buf.h"
#include "conn.h"

/* Pending bytes at which the source is paused, and below which it resumes. */
#define RELAY_HIGH_WATER BUF_SIZE
#define RELAY_LOW_WATER  (BUF_SIZE / 2)
/* Reads per callback, so one busy connection cannot starve the loop. */
#define RELAY_MAX_READS 16
/* Bytes moved per splice into a pipe (its default capacity on Linux). */
#define RELAY_PIPE_CHUNK 65536
/* A direction that has moved RELAY_BULK_AFTER bytes carries bulk: its pipe
 * grows to RELAY_PIPE_BULK (F_SETPIPE_SZ), so that each pair of splices can
 * move four times as much. */
#define RELAY_PIPE_BULK  (4 * RELAY_PIPE_CHUNK)
#define RELAY_BULK_AFTER (4 * RELAY_PIPE_CHUNK)

struct relay;
/* Called once: reason is NULL when both directions ended cleanly, else a
 * short text ("client reset", "upstream write error: ..."). The relay's
 * buffers are already returned; the conns are still open. */
typedef void (*relay_done_cb)(struct relay *r, const char *reason);

struct relay_dir {
    struct conn *src;
    struct conn *dst;
    struct buf *b;       /* bytes read from src not yet written to dst; NULL when none */
    uint64_t bytes;      /* bytes written to dst so far */
    unsigned eof : 1;    /* src reached EOF */
    unsigned done : 1;   /* EOF seen, buffer flushed, dst shut down */
    unsigned paused : 1; /* src reading stopped for backpressure */
    unsigned grown : 1;  /* the pipe was asked to grow (RELAY_PIPE_BULK), once */
    int pipe[2];         /* splice mode: the kernel buffer between src and dst; -1 when off */
    size_t piped;        /* bytes in the pipe not yet written to dst */
    size_t chunk;        /* bytes asked of each splice from src (RELAY_PIPE_CHUNK, or more) */
};

struct relay {
    struct relay_dir dir[2]; /* [0] a->b, [1] b->a */
    relay_done_cb on_done;
    void *data;            /* the owner (session) */
    const char *name[2];   /* names of a and b for reasons: "client", "upstream" */
    ev_tstamp last_active; /* loop time of the last byte moved, for idle timers */
    char reason[128];      /* storage for the reason passed to on_done */
    const char *end;       /* the owner's word for a clean end (the relay does not read it) */
    unsigned finished : 1; /* on_done was called; nothing more happens */
};

/* Takes over both conns (their handlers and data pointers) and starts
 * pumping from the loop; no I/O happens inside this call. Bytes already held
 * in pre_ab (for a->b) or pre_ba (for b->a) are sent first; the relay owns
 * those buffers. name_a/name_b label the sides in reasons. */
void relay_start(struct relay *r, struct conn *a, struct conn *b, struct buf *pre_ab,
                 struct buf *pre_ba, const char *name_a, const char *name_b, relay_done_cb done,
                 void *data);
/* Switches a started relay to splice(2): bytes then move from socket to
 * socket through a pipe per direction without entering user space (bytes
 * already buffered, such as pre_ab/pre_ba, are sent first). For blind
 * relays only (TCP mode, tunnels). Returns 0, or -1 when pipes cannot be
 * had (the relay then just goes on with buffers). */
int relay_use_splice(struct relay *r);
/* Stops both conns' watchers and returns the buffers; does not close. */
void relay_stop(struct relay *r);

#endif
