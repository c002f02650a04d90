/* What the files of the HTTP session share, and nothing else includes: the
 * session (struct px) and the px_* functions one file calls in another.
 * Calls only go down, in this order (a higher file calls lower ones, a
 * lower one reaches a higher one only through a function pointer it was
 * given):
 *   http_session.c   the intake: reading heads, keep-alive, watchers, stop
 *   http_exchange.c  one request: upstream, head out, bodies, response head
 *   http_connect.c   CONNECT, the ClientHello wait, the tunnels
 *   http_reply.c     warpd's own answers, the access line, the close after
 *   http_shape.c     the glue to request shaping
 * with http_route.c (where a request goes) a pure function beside them.
 * The public interface is http_session.h. */
#ifndef WARPD_HTTP_INT_H
#define WARPD_HTTP_INT_H

#include <ev.h>
#include <stdint.h>

#include "addr.h"
#include "body.h"
#include "buf.h"
#include "conn.h"
#include "http.h"
#include "outq.h"
#include "relay.h"
#include "resolve.h"
#include "session.h"
#include "shape.h"
#include "shape_auto.h"
#include "shape_exec.h"
#include "upstream.h"
#include "xbuf.h"

#define PX_MAX_READS 4 /* reads per callback */

enum px_phase {
    PX_IDLE,      /* keep-alive: waiting for a request's first byte */
    PX_HEAD,      /* reading a request head */
    PX_RESOLVING, /* upstream name lookup */
    PX_CONNECTING,
    PX_EXCHANGE, /* request body up, response down */
    PX_TUNNEL,   /* CONNECT or Upgrade: relaying bytes */
    PX_CLOSING,  /* flushing the last answer, then lingering */
};

struct px;

/* A request head (or ClientHello) being sent shaped: one allocation holding
 * the executor, the plan and its bytes, freed when the plan is sent. */
struct px_shape {
    struct shape_exec x;
    void (*then)(struct px *p, int err); /* what comes after the shaped bytes */
    struct shape_plan plan;
    char bytes[]; /* the flat head, then the plan's buffer */
};

/* One request, from its complete head (or warpd's answer to one that is
 * not) to its access line, freed when the connection goes back to waiting
 * or closes: a client between requests, or still sending its head, holds
 * only struct px and the bytes it sent. */
struct px_req {
    void (*on_end)(struct px *p); /* the exchange is over: the intake goes on */
    struct xbuf uin;
    struct outq uout;
    ev_tstamp last_io;     /* body phases: last transfer, for idle_timeout */
    struct px_shape *shp;  /* shaping in progress towards the upstream, or NULL */
    struct flight *flight; /* a CONNECT tunnel's first flight (flight.c), or NULL */
    struct shape_auto *au; /* auto's tries for this request, or NULL */
    size_t uscan;          /* http_head_end progress on uin */
    int method;
    int major, minor;
    enum body_framing req_body;
    uint64_t req_len;
    unsigned keep : 1;      /* client connection may carry another request */
    unsigned upgrade : 1;   /* request asked for a protocol upgrade */
    unsigned resp_head : 1; /* final response head sent to the client */
    unsigned resp_done : 1;
    unsigned up_close : 1;  /* upstream connection not reusable */
    unsigned reused : 1;    /* upstream came from the pool */
    unsigned retried : 1;   /* already retried on a fresh connection */
    unsigned head_kept : 1; /* request head still in cin (for a retry) */
    unsigned up_eof : 1;    /* the upstream closed (or failed): read nothing more */
    unsigned up_err : 1;    /* ...with an error rather than an EOF */
    unsigned pooled : 1;    /* counted by upstream_pool_get until px_drop_upstream */
    unsigned logme : 1;     /* a request started and is not logged yet */
    uint32_t head_len;
    struct body_codec reqc, respc;
    uint16_t port;
    int status;
    int user;                     /* auth_user index of the request's authenticated user, or -1 */
    uint64_t bytes_in, bytes_out; /* from / to the client, this request */
    ev_tstamp t_first;            /* the first response byte (s.t_start: the request's start) */
    char target[96];              /* start of the request-target, for the access log */
    char host[ADDR_HOSTMAX];
};

/* A client connection of the HTTP intake. Waiting for a request it holds
 * this and no buffer: the request's state is r, the upstream's s.up. */
struct px {
    struct session s; /* first: a struct session * of this proto is a struct px * */
    enum px_phase phase;
    uint32_t scan; /* http_head_end progress on cin */
    struct xbuf cin;
    struct outq cout;
    struct px_req *r; /* the request in progress, or NULL (px_req_get) */
};

/* http_exchange.c: one request through an upstream connection. */
/* Starts the request routed to p->host:p->port (allow_pool: a pooled
 * connection may carry it; parsed: the head, or NULL to read it again). */
void px_exchange_start(struct px *p, int allow_pool, const struct http_head *parsed);
void px_pump_request(struct px *p);
void px_pump_response(struct px *p);
void px_update_watchers(struct px *p);
/* Reads from c into x (up to head_max while a head is read, starting from a
 * buffer of first bytes; 0: BUF_SIZE or the buffer's room); *drained: the
 * socket had no more. The WD_* contract. */
ssize_t px_fill(struct conn *c, struct xbuf *x, size_t head_max, size_t first, int *drained);

/* http_connect.c: CONNECT and the tunnels (also after a 101). */
void px_connect_established(struct px *p);
/* Switches to relaying. pre_ba holds what the client gets first (the 200 or
 * 101 head and any bytes the upstream already sent). */
void px_start_tunnel(struct px *p, struct buf *pre_ba);

/* http_reply.c: what warpd answers itself, the access line, and the closing
 * that follows. */
void px_log_request(struct px *p, const char *close_reason);
/* The request's state, allocated when there is none (no method, no user
 * yet): a complete head, or an answer to one that is not. NULL when memory
 * is short. */
struct px_req *px_req_get(struct px *p);
void px_drop_upstream(struct px *p);
/* Closes the session after a failed client write: "client closed" when the
 * client left (EPIPE, ECONNRESET), else "client write failed". */
void px_client_write_failed(struct px *p);
void px_finish_closing(struct px *p);
void px_begin_closing(struct px *p);
void px_answer_with(struct px *p, int status, const char *what, const char *extra);
void px_answer_final(struct px *p, const struct http_head *h);
void px_answer(struct px *p, int status, const char *what);
/* 407 with the challenge. keep: the connection stays open (no Connection:
 * close); returns 0, or -1 when the session is closing or closed. */
int px_answer_auth(struct px *p, const char *what, int keep);

/* http_shape.c: request heads and ClientHellos sent through the shaper;
 * then(p, err) runs once the shaped bytes are all out (err 0) or failed.
 * px_shape_head returns 0 when the head is to be sent plainly, 1 when the
 * shaper took it (then follows), 2 when it went out shaped at once (no
 * then), -1 when that write failed. */
typedef void (*px_then_cb)(struct px *p, int err);
void px_shape_free(struct px *p);
int px_shape_head(struct px *p, const struct http_out *out, px_then_cb then);
/* auto: the request's tries (p->au), made when its destination's
 * strategy is auto, freed after its access line. */
void px_auto_prepare(struct px *p);
void px_auto_free(struct px *p);
/* auto: this try was blocked and none follows. "Nothing works" is
 * remembered only when every strategy was tried: a request that could not
 * be replayed (a body, a POST) says nothing about the others. */
void px_auto_lost(struct px *p);
/* How long to wait for the response head: auto's judging time while
 * another try may follow, else response_timeout. */
double px_response_wait(const struct px *p);

#endif
