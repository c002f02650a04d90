/* HTTP sessions, one request through an upstream connection: a pooled
 * connection, or a lookup and a connect (a request to warpd's own address
 * is refused there, and addresses the destination filter denies: 403); the
 * regenerated head sent (shaped when the destination says so), or for
 * CONNECT the 200 and the tunnel, after a TLS ClientHello split when asked;
 * then the request body up and the response down at the same time, each
 * re-framed by body.c, with the response head in three cases: interim
 * (passed on to HTTP/1.1 clients), 101 (the tunnel), final. A reused
 * connection that dies before answering is retried once when the request
 * allows it. When the exchange is over, p->r->on_end (the intake) goes on;
 * errors before a response head reached the client are answered by
 * http_reply.c, after that the connection is closed so that the truncation
 * is visible. Nothing here touches a socket directly: conn.c does the I/O,
 * and bytes a socket did not take wait in the out queues while the
 * producing side stops (the backpressure). */
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "body.h"
#include "buf.h"
#include "conn.h"
#include "http.h"
#include "http_int.h"
#include "log.h"
#include "metrics.h"
#include "outq.h"
#include "proxy_header.h"
#include "upstream_pool.h"
#include "relay.h"
#include "shape_exec.h"
#include "xbuf.h"

#define PX_TIMER_SLACK 0.001 /* seconds a timeout may fire early */

static void px_up_read(struct conn *c);
static void px_up_write(struct conn *c);
static void px_up_ended(struct px *p);
static void px_upstream_failed(struct px *p, const char *what);
static void px_head_sent(struct px *p, int err);

/* Does addr reach one of our own listening sockets? */
static int
px_is_self(const struct config *cfg, const struct sockaddr *sa)
{
    for (int i = 0; i < cfg->nlisten; i++)
        if (addr_reaches((const struct sockaddr *)&cfg->listen[i].addr, sa))
            return 1;
    return 0;
}

/* Methods that may be sent twice (RFC 9110 section 9.2.2): only those are
 * retried after a pooled connection died under them. */
static int
px_idempotent(int method)
{
    switch (method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_OPTIONS:
    case HTTP_TRACE:
    case HTTP_PUT:
    case HTTP_DELETE:
        return 1;
    default:
        return 0;
    }
}

/* May this request go again on a fresh connection if the reused one turns
 * out dead before answering? Once only, never with a body. */
static int
px_may_retry(const struct px *p)
{
    return p->r->req_body == BODY_NONE && px_idempotent(p->r->method) &&
           ((p->r->reused && !p->r->retried) || (p->r->au != NULL && shape_auto_more(p->r->au)));
}

/* auto: this try was blocked; the next strategy goes on a fresh connection
 * when the request may be sent again. Returns 1 when it does. */
static int
px_auto_retry(struct px *p, const char *why)
{
    if (p->r->au == NULL || !p->r->head_kept || p->r->resp_head || !shape_auto_more(p->r->au))
        return 0;
    log_debug("auto: %s blocked with %s (%s)", p->r->host,
              config_shape_name(p->s.env->cfg, shape_auto_current(p->r->au)), why);
    shape_auto_next(p->r->au);
    p->r->head_kept = 0;
    px_drop_upstream(p);
    px_exchange_start(p, 0, NULL);
    return 1;
}

/* The upstream connection failed before answering: on a reused connection
 * that is what a pooled connection closed by the upstream looks like, so
 * try once more on a fresh one when the request allows it (head_kept says
 * the head is still in cin and px_may_retry held when it was sent);
 * otherwise answer 502. */
static void
px_upstream_failed(struct px *p, const char *what)
{
    if (p->r->head_kept && !p->r->resp_head && p->r->uin.end == 0) {
        if (p->r->reused && !p->r->retried) {
            p->r->retried = 1;
            p->r->head_kept = 0;
            px_drop_upstream(p);
            px_exchange_start(p, 0, NULL);
            return;
        }
        if (px_auto_retry(p, what))
            return;
    }
    px_auto_lost(p);
    p->r->up_close = 1;
    px_answer(p, 502, what);
}

static void
px_response_timeout(struct session *s)
{
    struct px *p = (struct px *)s;

    if (p->r->uin.end == 0 && px_auto_retry(p, "no answer in shape_auto_timeout"))
        return;
    px_auto_lost(p);
    px_answer(p, 504, "the upstream did not answer in time");
}

static void
px_idle_timeout(struct session *s)
{
    struct px *p = (struct px *)s;
    ev_tstamp left = p->r->last_io + s->env->cfg->idle_timeout - ev_now(s->env->loop);

    if (left > PX_TIMER_SLACK) {
        session_set_timer(s, px_idle_timeout, left);
        return;
    }
    if (p->r->resp_head)
        session_close(s, "idle timeout");
    else if (!p->r->reqc.done)
        px_answer(p, 408, "the request body stalled");
    else
        px_answer(p, 504, "the upstream did not answer in time");
}

/* upstream_proxy_protocol: a fresh connection starts with the header. A few
 * dozen bytes to a socket that has sent nothing: the kernel takes them. */
static int
px_send_proxy_header(struct px *p)
{
    unsigned char b[PROXY_HEADER_MAX];
    size_t n = session_proxy_header(&p->s, p->s.env->cfg->upstream_pp, b, sizeof(b));

    if (conn_write(&p->s.up->conn, b, n) != (ssize_t)n) {
        px_upstream_failed(p, "could not send the PROXY protocol header upstream");
        return -1;
    }
    return 0;
}

/* The upstream connection is ready: send the regenerated head (or, for
 * CONNECT, tell the client and start the tunnel). */
static void
px_send_head(struct px *p, const struct http_head *parsed)
{
    const struct config *cfg = p->s.env->cfg;
    struct http_head local;
    const struct http_head *hp = parsed;
    struct http_target t;
    struct http_req_opts o;
    struct http_out out;
    int shaped;

    conn_want_read(&p->s.up->conn, 0);
    p->s.up->conn.data = p;
    if (p->r->method == HTTP_CONNECT) {
        px_connect_established(p);
        return;
    }
    /* The head was validated already. A pooled connection is used at once
     * and gets the parsed form; after DNS or a connect, parsing again is
     * cheaper than keeping the parsed form for every waiting session. */
    if (hp == NULL) {
        if (http_parse_request(p->cin.data + p->cin.start, p->r->head_len, &local) != 0) {
            px_answer(p, 500, "internal error re-reading the request");
            return;
        }
        hp = &local;
    }
    if (http_parse_target(hp, &t) != 0) {
        px_answer(p, 500, "internal error re-reading the request");
        return;
    }
    memset(&o, 0, sizeof(o));
    o.target = &t;
    o.host_override = cfg->mode == MODE_REVERSE && cfg->upstream_host_header[0]
                          ? cfg->upstream_host_header
                          : NULL;
    o.body_out = hp->body;
    o.content_length = hp->content_length;
    o.via = cfg->via;
    o.upgrade = hp->upgrade;
    http_request_out(hp, &o, &out);
    if (!http_out_fits(&out, hp->nfields, cfg->max_header_size)) {
        px_answer(p, 431, "request head too large once forwarded (the fields warpd adds)");
        return;
    }
    /* Keep the head bytes while a retry on a fresh connection is possible. */
    px_auto_prepare(p);
    p->r->head_kept = px_may_retry(p);
    if (cfg->upstream_pp != 0 && !p->r->reused && px_send_proxy_header(p) < 0)
        return;
    shaped = px_shape_head(p, &out, px_head_sent);
    if (shaped < 0 || (shaped == 0 && outq_send(&p->s.up->conn, &p->r->uout, out.iov, out.n,
                                                out.bytes, NULL) < 0)) {
        px_upstream_failed(p, "could not send the request upstream");
        return;
    }
    p->r->bytes_in = p->r->head_len;
    if (!p->r->head_kept)
        p->cin.start += p->r->head_len;

    p->phase = PX_EXCHANGE;
    p->r->resp_head = p->r->resp_done = 0;
    p->r->uscan = 0;
    p->r->up_eof = p->r->up_err = 0;
    body_init(&p->r->reqc, p->r->req_body, p->r->req_len, p->r->req_body);
    if (p->r->reqc.done)
        session_set_timer(&p->s, px_response_timeout, px_response_wait(p));
    else
        session_set_timer(&p->s, px_idle_timeout, cfg->idle_timeout);
    p->r->last_io = ev_now(p->s.env->loop);
    px_pump_request(p);
}

/* The upstream connection is open (s.up->name names it): fresh, or reused
 * from the pool. */
static void
px_use_upstream(struct px *p, int reused, const struct http_head *parsed)
{
    p->s.up->conn.on_read = px_up_read;
    p->s.up->conn.on_write = px_up_write;
    p->r->reused = reused;
    px_send_head(p, parsed);
}

static void
px_connected(struct session *s, int err)
{
    struct px *p = (struct px *)s;
    char what[ADDR_HOSTMAX + 96];

    if (err != 0) {
        snprintf(what, sizeof(what), "cannot connect to %s:%u: %s", p->r->host,
                 (unsigned)p->r->port, err == ETIMEDOUT ? "connect timed out" : strerror(err));
        px_answer(p, err == ETIMEDOUT ? 504 : 502, what);
        return;
    }
    px_use_upstream(p, 0, NULL);
}

static void
px_resolved(struct session *s, int status, const struct resolve_result *res)
{
    struct px *p = (struct px *)s;
    struct resolve_result allowed;
    char what[ADDR_HOSTMAX + DEST_TEXTLEN + 64];

    if (status != RESOLVE_OK) {
        snprintf(what, sizeof(what), "cannot resolve %s: %s", p->r->host, resolve_strerror(status));
        px_answer(p, status == RESOLVE_ETIMEOUT ? 504 : 502, what);
        return;
    }
    for (int i = 0; i < res->n; i++) {
        if (px_is_self(s->env->cfg, (const struct sockaddr *)&res->addr[i])) {
            px_answer(p, 508, "the request targets warpd itself");
            return;
        }
    }
    /* After DNS, so that a name resolving to a denied address is refused. */
    res = session_dest_filter(s, res, &allowed, what, sizeof(what));
    if (res == NULL) {
        px_answer(p, 403, what);
        return;
    }
    p->phase = PX_CONNECTING;
    if (session_connect(s, res, px_connected) < 0)
        px_answer(p, 503, "out of memory");
}

void
px_exchange_start(struct px *p, int allow_pool, const struct http_head *parsed)
{
    struct session_up *u = session_up_get(&p->s);

    if (u == NULL) {
        px_answer(p, 503, "out of memory");
        return;
    }
    p->r->pooled = allow_pool;
    if (allow_pool && upstream_pool_get(p->r->host, p->r->port, &u->conn, p, u->name)) {
        METRIC_INC(pool_reuses);
        px_use_upstream(p, 1, parsed);
        return;
    }
    METRIC_ADD(pool_misses, allow_pool != 0);
    p->phase = PX_RESOLVING;
    session_stop_timer(&p->s);
    px_update_watchers(p);
    if (session_resolve(&p->s, p->r->host, p->r->port, px_resolved) < 0)
        px_answer(p, 503, "resolver unavailable");
}

/* Request body: client -> upstream, while the upstream queue is empty. */
void
px_pump_request(struct px *p)
{
    /* Each round consumes bytes or stops, so this is bounded by cin's size.
     * A head still being sent shaped holds the body back. */
    while (!p->r->reqc.done && p->r->uout.bytes == 0 && p->r->shp == NULL) {
        struct body_out o;
        ssize_t n;

        if (xbuf_len(&p->cin) == 0)
            break;
        body_out_reset(&o);
        n = body_transcode(&p->r->reqc, p->cin.data + p->cin.start, xbuf_len(&p->cin), &o);
        if (n < 0) {
            px_answer(p, 400, "malformed request body framing");
            return;
        }
        p->cin.start += (uint32_t)n;
        p->r->bytes_in += (uint64_t)n;
        if (o.n > 0 && outq_send(&p->s.up->conn, &p->r->uout, o.iov, o.n, o.bytes, NULL) < 0) {
            px_answer(p, 502, "upstream write failed");
            return;
        }
        p->r->last_io = ev_now(p->s.env->loop);
        if (p->r->reqc.done) {
            if (!p->r->resp_head)
                session_set_timer(&p->s, px_response_timeout, px_response_wait(p));
        }
        if (n == 0)
            break;
    }
    px_update_watchers(p);
}

/* The request and the response are both complete. */
static void
px_exchange_end(struct px *p)
{
    int reuse = !p->r->up_close && xbuf_len(&p->r->uin) == 0 && session_up_open(&p->s) &&
                !p->s.env->stopping && p->s.env->cfg->upstream_pp == 0;

    if (p->r->head_kept) {
        p->cin.start += p->r->head_len;
        p->r->head_kept = 0;
    }
    px_log_request(p, NULL);
    if (reuse)
        upstream_pool_put(p->r->host, p->r->port, &p->s.up->conn,
                          p->s.up->name); /* moves it: the connection is left closed */
    px_drop_upstream(p);
    p->r->on_end(p);
}

static void
px_response_complete(struct px *p)
{
    p->r->resp_done = 1;
    if (!p->r->reqc.done) {
        /* The upstream answered before taking the whole body: the client
         * connection cannot carry another request. */
        p->r->keep = 0;
        p->r->up_close = 1;
    }
    px_exchange_end(p);
}

/* An interim response (1xx but 101): passed on to HTTP/1.1 clients, never
 * to 1.0 ones. Returns 1 (read the next head), or -1 when the session
 * closed. */
static int
px_response_interim(struct px *p, const struct http_head *h, size_t len)
{
    struct http_resp_opts o;
    struct http_out out;

    p->r->uin.start += (uint32_t)len;
    p->r->uscan = 0;
    if (p->r->minor < 1)
        return 1;
    memset(&o, 0, sizeof(o));
    o.via = p->s.env->cfg->via;
    o.body_out = BODY_NONE;
    http_response_out(h, &o, &out);
    if (outq_send(&p->s.client, &p->cout, out.iov, out.n, out.bytes, &p->r->bytes_out) < 0) {
        px_client_write_failed(p);
        return -1;
    }
    return 1;
}

/* 101 Switching Protocols to a request that asked for it: its head, and
 * whatever the upstream sent after it, go to the client first, then both
 * sides are relayed. Returns -1: the phase changed or the session ended. */
static int
px_response_upgrade(struct px *p, const struct http_head *h, size_t len)
{
    struct http_resp_opts o;
    struct http_out out;
    struct buf *b;
    size_t rest;

    if (!p->r->upgrade || !p->r->reqc.done) {
        p->r->up_close = 1;
        px_answer(p, 502, "the upstream switched protocols without being asked");
        return -1;
    }
    memset(&o, 0, sizeof(o));
    o.via = p->s.env->cfg->via;
    o.upgrade = 1;
    o.body_out = BODY_NONE;
    http_response_out(h, &o, &out);
    rest = xbuf_len(&p->r->uin) - len;
    b = buf_get();
    if (b == NULL || out.bytes + rest > BUF_SIZE) {
        buf_put(b);
        px_answer(p, 502, "upgrade response too large");
        return -1;
    }
    for (int i = 0; i < out.n; i++) {
        memcpy(b->data + b->end, out.iov[i].iov_base, out.iov[i].iov_len);
        b->end += (uint32_t)out.iov[i].iov_len;
    }
    memcpy(b->data + b->end, p->r->uin.data + p->r->uin.start + len, rest);
    b->end += (uint32_t)rest;
    xbuf_release(&p->r->uin, 1);
    p->r->status = 101;
    p->r->t_first = ev_now(p->s.env->loop);
    px_start_tunnel(p, b);
    return -1;
}

/* How the final response is framed towards the client, and what that
 * means for keep-alive on both sides; fills o. */
static enum body_framing
px_response_framing(struct px *p, const struct http_head *h, struct http_resp_opts *o)
{
    enum body_framing cout;

    if (h->body == BODY_NONE)
        cout = BODY_NONE;
    else if (h->body == BODY_LENGTH)
        cout = BODY_LENGTH;
    else if (p->r->minor >= 1)
        cout = BODY_CHUNKED; /* chunked, or read-until-close re-chunked: keeps keep-alive */
    else
        cout = BODY_CLOSE; /* HTTP/1.0 client: de-chunk, end with the close */
    if (cout == BODY_CLOSE)
        p->r->keep = 0;
    if (h->close || h->body == BODY_CLOSE)
        p->r->up_close = 1;
    memset(o, 0, sizeof(*o));
    o->via = p->s.env->cfg->via;
    o->body_out = cout;
    o->content_length = h->content_length;
    o->keep_length = h->body == BODY_NONE && (p->r->method == HTTP_HEAD || h->status == 304);
    o->close = !p->r->keep || !p->r->reqc.done || p->s.env->stopping;
    if (o->close)
        p->r->keep = 0;
    o->keep_alive = p->r->keep && p->r->minor == 0;
    return cout;
}

/* The final response head, re-framed, and the body bytes that came with it
 * in the same writev: a small response costs one system call, not two.
 * Returns 0 to go on with the body, -1 when the session ended. */
static int
px_response_final(struct px *p, const struct http_head *h, size_t len)
{
    const struct config *cfg = p->s.env->cfg;
    struct http_resp_opts o;
    struct http_out out;
    struct body_out bo; /* may hold framing bytes that out.iov points to */
    enum body_framing cout;

    if (h->te_coded) {
        /* TE is hop-by-hop and regenerated: a coding other than chunked
         * could not be passed on truthfully. */
        p->r->up_close = 1;
        px_answer(p, 502, "the upstream used a transfer coding warpd does not decode");
        return -1;
    }
    cout = px_response_framing(p, h, &o);
    http_response_out(h, &o, &out);
    if (!http_out_fits(&out, h->nfields, cfg->max_header_size)) {
        p->r->up_close = 1;
        px_answer(p, 502, "response head too large once forwarded (the fields warpd adds)");
        return -1;
    }
    p->r->status = h->status;
    p->r->t_first = ev_now(p->s.env->loop);
    p->r->uin.start += (uint32_t)len;
    p->r->resp_head = 1;
    body_init(&p->r->respc, h->body, h->content_length, cout);
    if (xbuf_len(&p->r->uin) > 0 && !p->r->respc.done) {
        ssize_t n;

        body_out_reset(&bo);
        n = body_transcode(&p->r->respc, p->r->uin.data + p->r->uin.start, xbuf_len(&p->r->uin),
                           &bo);
        if (n < 0) {
            /* The head is only queued below: nothing of this response
             * reached the client yet, so it gets a 502 like for any other
             * broken answer rather than a bare close. */
            p->r->resp_head = 0;
            p->r->up_close = 1;
            px_answer(p, 502, "malformed response body framing from the upstream");
            return -1;
        }
        if (out.n + bo.n <= HTTP_OUT_IOV) {
            memcpy(out.iov + out.n, bo.iov, (size_t)bo.n * sizeof(bo.iov[0]));
            out.n += bo.n;
            out.bytes += bo.bytes;
            p->r->uin.start += (uint32_t)n;
        } else {
            body_init(&p->r->respc, h->body, h->content_length, cout); /* not taken: undo */
        }
    }
    if (outq_send(&p->s.client, &p->cout, out.iov, out.n, out.bytes, &p->r->bytes_out) < 0) {
        px_client_write_failed(p);
        return -1;
    }
    p->r->last_io = ev_now(p->s.env->loop);
    session_set_timer(&p->s, px_idle_timeout, cfg->idle_timeout);
    return 0;
}

/* A response head is complete in uin: one of three cases. Returns 0 to go
 * on with the body, 1 when it was an interim one (read the next head), -1
 * when the session ended or changed phase. */
static int
px_response_head(struct px *p, size_t len)
{
    struct http_head h;

    if (http_parse_response(p->r->uin.data + p->r->uin.start, len, p->r->method, &h) != 0) {
        p->r->up_close = 1;
        px_answer(p, 502, "invalid response from the upstream");
        return -1;
    }
    if (p->r->au != NULL && !p->r->resp_head) {
        const struct config *cfg = p->s.env->cfg;

        if (cfg->nshape_auto_block_hosts > 0 &&
            shape_auto_block_page(cfg, p->r->uin.data + p->r->uin.start, len) == 1) {
            if (px_auto_retry(p, "a block page"))
                return -1;
            px_auto_lost(p); /* the client gets the block page */
        } else {
            shape_auto_passed(p->r->au, cfg);
        }
    }
    if (p->r->head_kept) { /* an answer came: no retry any more */
        p->cin.start += p->r->head_len;
        p->r->head_kept = 0;
    }
    if (h.status >= 100 && h.status < 200 && h.status != 101)
        return px_response_interim(p, &h, len);
    if (h.status == 101)
        return px_response_upgrade(p, &h, len);
    return px_response_final(p, &h, len);
}

/* Response: upstream -> client, while the client queue is empty. */
void
px_pump_response(struct px *p)
{
    /* Each round consumes bytes or stops, so this is bounded by uin's size. */
    while (p->cout.bytes == 0) {
        struct body_out o;
        ssize_t n;

        if (!p->r->resp_head) {
            long len = http_head_end(p->r->uin.data + p->r->uin.start, xbuf_len(&p->r->uin),
                                     p->s.env->cfg->max_header_size, 0, &p->r->uscan);
            int r;

            if (len < 0) {
                p->r->up_close = 1;
                px_answer(p, 502, "invalid or oversized response head from the upstream");
                return;
            }
            if (len == 0)
                break;
            r = px_response_head(p, (size_t)len);
            if (r < 0)
                return;
            if (r == 1)
                continue;
            if (p->r->respc.done) {
                px_response_complete(p);
                return;
            }
        }
        if (xbuf_len(&p->r->uin) == 0 && !(p->r->respc.in == BODY_LENGTH && p->r->respc.left == 0))
            break;
        body_out_reset(&o);
        n = body_transcode(&p->r->respc, p->r->uin.data + p->r->uin.start, xbuf_len(&p->r->uin),
                           &o);
        if (n < 0) {
            p->r->up_close = 1;
            session_close(&p->s, "malformed response body framing from the upstream");
            return;
        }
        p->r->uin.start += (uint32_t)n;
        if (o.n > 0 &&
            outq_send(&p->s.client, &p->cout, o.iov, o.n, o.bytes, &p->r->bytes_out) < 0) {
            px_client_write_failed(p);
            return;
        }
        p->r->last_io = ev_now(p->s.env->loop);
        if (p->r->respc.done) {
            px_response_complete(p);
            return;
        }
        if (n == 0)
            break;
    }
    if (p->r->up_eof && p->cout.bytes == 0) {
        px_up_ended(p);
        return;
    }
    px_update_watchers(p);
}

/* Reads from a connection into its input buffer. Returns bytes read, 0 on
 * EOF, WD_AGAIN, or WD_ERROR. A head starts in a buffer of first bytes
 * (XBUF_SMALL for a client, whose partial head may wait long) and grows
 * while full up to head_max; a body reads into BUF_SIZE at once. */
ssize_t
px_fill(struct conn *c, struct xbuf *x, size_t head_max, size_t first, int *drained)
{
    size_t space;

    *drained = 0;

    if (xbuf_reserve(x, head_max > 0 ? first : BUF_SIZE) < 0) {
        errno = ENOMEM;
        return WD_ERROR;
    }
    space = xbuf_space(x);
    if (space == 0 && head_max > 0 && xbuf_grow(x, head_max) == 0)
        space = xbuf_space(x);
    if (space == 0)
        return WD_AGAIN; /* full: the caller's parser decides */
    {
        ssize_t n = conn_read(c, x->data + x->end, space);
        if (n > 0)
            x->end += (uint32_t)n;
        /* A short read drained the socket: reading again would only
         * return EAGAIN (the watcher says when more arrives). */
        *drained = n > 0 && (size_t)n < space;
        return n;
    }
}

/* The upstream closed and everything it sent was processed. */
static void
px_up_ended(struct px *p)
{
    struct body_out o;

    if (!p->r->resp_head) {
        px_upstream_failed(p, p->r->up_err ? "upstream read error before answering"
                                           : "the upstream closed the connection before answering");
        return;
    }
    body_out_reset(&o);
    if (p->r->up_err || xbuf_len(&p->r->uin) > 0 || body_eof(&p->r->respc, &o) < 0) {
        session_close(&p->s, "the upstream closed in the middle of the response body");
        return;
    }
    if (o.n > 0 && outq_send(&p->s.client, &p->cout, o.iov, o.n, o.bytes, &p->r->bytes_out) < 0) {
        px_client_write_failed(p);
        return;
    }
    px_response_complete(p);
}

static void
px_up_read(struct conn *c)
{
    struct px *p = c->data;

    for (int i = 0; i < PX_MAX_READS && p->cout.bytes == 0 && !p->r->up_eof; i++) {
        int drained;
        ssize_t n = px_fill(c, &p->r->uin, p->r->resp_head ? 0 : p->s.env->cfg->max_header_size,
                            BUF_SIZE, &drained);

        if (n == WD_AGAIN)
            break;
        if (n == WD_ERROR || n == 0) {
            p->r->up_eof = 1;
            p->r->up_err = n == WD_ERROR;
            p->r->up_close = 1;
            conn_want_read(c, 0);
        }
        if (drained)
            break;
    }
    px_pump_response(p);
}

static void
px_up_write(struct conn *c)
{
    struct px *p = c->data;
    int r;

    r = outq_flush(c, &p->r->uout);

    if (r == WD_ERROR) {
        p->r->up_close = 1;
        px_answer(p, 502, "upstream write failed");
        return;
    }
    if (r == WD_AGAIN)
        return;
    conn_want_write(c, 0);
    px_pump_request(p);
}

/* Which watchers should run, from the state: the one place that decides. */
void
px_update_watchers(struct px *p)
{
    int client_rd = 0, up_rd = 0;

    /* The client is read whenever there is room: a pipelined request or
     * early body bytes simply wait in cin. Keeping the watcher on saves
     * re-arming it in the kernel for every request. A buffer smaller
     * than BUF_SIZE (a head's) has room: px_fill grows it for a body. */
    int room = p->cin.data == NULL || p->cin.cap < BUF_SIZE || xbuf_len(&p->cin) < p->cin.cap;

    switch (p->phase) {
    case PX_IDLE:
    case PX_HEAD:
        client_rd = p->cout.bytes == 0 && !p->s.client.eof_seen;
        break;
    case PX_RESOLVING:
    case PX_CONNECTING:
        client_rd = room && !p->s.client.eof_seen;
        break;
    case PX_EXCHANGE:
        client_rd = room && !p->s.client.eof_seen && (p->r->reqc.done || p->r->uout.bytes == 0);
        up_rd = !p->r->resp_done && p->cout.bytes == 0 && !p->r->up_eof;
        break;
    default:
        return;
    }
    conn_want_read(&p->s.client, client_rd);
    if (session_up_open(&p->s)) {
        conn_want_read(&p->s.up->conn, up_rd);
        if (p->r->shp == NULL) /* else the shaper owns the write side */
            conn_want_write(&p->s.up->conn, p->r->uout.bytes > 0);
    }
    conn_want_write(&p->s.client, p->cout.bytes > 0);
}

/* The shaped request head is out: the body follows. */
static void
px_head_sent(struct px *p, int err)
{
    if (err != 0) {
        px_upstream_failed(p, "could not send the request upstream");
        return;
    }
    px_pump_request(p);
}
