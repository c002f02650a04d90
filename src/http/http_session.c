/* HTTP sessions (forward and reverse modes), the intake: one client
 * connection goes through requests one at a time. Heads are read (pipelined
 * ones wait in cin), validated by http.c, routed by http_route.c, then
 * either answered by warpd itself (http_reply.c) or sent through an
 * upstream (http_exchange.c), after which the connection is kept alive for
 * the next request or closed. Also here: the header and keep-alive
 * timeouts, the client's read and write handlers, and what a graceful stop
 * means for a connection waiting for a request. */
#include "http_session.h"

#include <errno.h>
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "http.h"
#include "flight.h"
#include "http_int.h"
#include "http_route.h"
#include "log.h"
#include "metrics.h"
#include "outq.h"
#include "xbuf.h"

/* At a graceful stop, how long a connection with no request in progress is
 * kept for a request that may already be on its way (capped by
 * shutdown_timeout). */
#define PX_STOP_GRACE 1.0

static void px_client_read(struct conn *c);
static void px_client_write(struct conn *c);
static void px_try_head(struct px *p);
static int px_ready_next(struct px *p);

/* The exchange is over (p->r->on_end): the next request, or the close. */
static void
px_next_request(struct px *p)
{
    if (px_ready_next(p))
        px_try_head(p);
}

/* The request's state goes with everything it holds: the upstream side,
 * a shaper, the tunnel's first flight, auto's tries. */
static void
px_req_free(struct px *p)
{
    if (p->r == NULL)
        return;
    px_drop_upstream(p);
    flight_free(p->r->flight);
    px_auto_free(p);
    free(p->r);
    p->r = NULL;
    session_up_free(&p->s);
}

/* The session ends (session_close): the access line of a request still
 * open, then everything the HTTP state holds. */
static void
px_on_close(struct session *s, const char *reason)
{
    struct px *p = (struct px *)s;

    /* A head that began and never ended is a request to log too. */
    if (p->r == NULL && p->phase == PX_HEAD && xbuf_len(&p->cin) > 0 && px_req_get(p) != NULL)
        p->r->logme = 1;
    if (p->r != NULL && s->relay != NULL) {
        p->r->bytes_in += s->relay->dir[0].bytes;
        p->r->bytes_out += s->relay->dir[1].bytes;
    }
    /* reason may point into the relay: it is still there. */
    px_log_request(p, reason);
    px_req_free(p);
    outq_clear(&p->cout);
    xbuf_release(&p->cin, 1);
}

/* Between requests, or before the first byte of one. */
static int
px_waiting(const struct px *p)
{
    return p->phase == PX_IDLE || (p->phase == PX_HEAD && xbuf_len(&p->cin) == 0);
}

/* The timeout of a connection that waits for a request while the worker
 * stops: the grace, or less when the usual deadline comes first. */
static ev_tstamp
px_stop_grace(const struct px *p, ev_tstamp usual)
{
    ev_tstamp g = PX_STOP_GRACE;

    if (p->s.env->cfg->shutdown_timeout < g)
        g = p->s.env->cfg->shutdown_timeout;
    return usual < g ? usual : g;
}

static void
px_header_timeout(struct session *s)
{
    struct px *p = (struct px *)s;

    if (s->env->stopping && px_waiting(p)) {
        /* The grace is over and nothing came: a FIN, then the lingering
         * close, so a client can tell this from a failure. */
        p->phase = PX_IDLE;
        px_begin_closing(p);
        return;
    }
    if (p->phase == PX_IDLE) {
        session_close(s, "keep-alive timeout");
        return;
    }
    px_answer(p, 408, "the request head did not arrive in time");
}

/* The request-target for the access log. Userinfo in an absolute URL
 * (http://user:password@host/) is refused with 400, but the line for that
 * answer must not carry the password: it is logged as "***". */
static void
px_copy_target(struct px *p, const struct http_head *h)
{
    const char *t = h->target.p, *auth = memmem(t, h->target.len, "://", 3);
    size_t len = h->target.len, n = 0, skip_from = len, skip_to = len;

    if (auth != NULL) {
        size_t a = (size_t)(auth - t) + 3, e = a, at = len;

        while (e < len && t[e] != '/' && t[e] != '?' && t[e] != '#') {
            if (t[e] == '@')
                at = e;
            e++;
        }
        if (at < len) {
            skip_from = a;
            skip_to = at;
        }
    }
    for (size_t i = 0; i < len && n < sizeof(p->r->target) - 1; i++) {
        char ch = t[i];

        if (i == skip_from) {
            for (int k = 0; k < 3 && n < sizeof(p->r->target) - 1; k++)
                p->r->target[n++] = '*';
            i = skip_to - 1;
            continue;
        }
        p->r->target[n++] = (ch == '"' || ch == '\\') ? '_' : ch;
    }
    p->r->target[n] = '\0';
}

/* A 407 (route said ROUTE_AUTH). The connection is kept open when nothing
 * follows the head that belongs to this request: no body (reading and
 * dropping one just to keep the connection is not worth it), and for
 * CONNECT no early tunnel bytes. Returns 1 when the connection waits for
 * the next request (the head is consumed and logged), 0 when it closes. */
static int
px_refuse_auth(struct px *p, const struct http_head *h, const char *what)
{
    int keep = p->r->keep &&
               (h->body == BODY_NONE || (h->body == BODY_LENGTH && h->content_length == 0)) &&
               !(h->method == HTTP_CONNECT && xbuf_len(&p->cin) > h->head_len);

    METRIC_INC(refused_auth);
    if (px_answer_auth(p, what, keep) < 0)
        return 0;
    px_log_request(p, NULL);
    p->cin.start += (uint32_t)h->head_len;
    return 1;
}

/* A complete, valid head is in cin: record it, route it (http_route), and
 * answer or start the exchange. Returns 1 when the request was answered and
 * the connection is ready for the next one (px_ready_next), 0 otherwise
 * (the session may be closed). */
static int
px_route(struct px *p, const struct http_head *h)
{
    const struct config *cfg = p->s.env->cfg;
    struct http_target t;
    struct route r;

    if (px_req_get(p) == NULL) {
        session_close(&p->s, "out of memory");
        return 0;
    }
    p->r->on_end = px_next_request;
    p->r->method = h->method;
    p->r->logme = 1;
    p->r->major = h->major;
    p->r->minor = h->minor;
    p->r->req_body = h->body;
    p->r->req_len = h->content_length;
    p->r->head_len = (uint32_t)h->head_len;
    p->r->upgrade = h->upgrade;
    px_copy_target(p, h);
    /* HTTP/1.1 clients are kept alive unless they say close; HTTP/1.0
     * clients only when they ask (h->close is clear only then). */
    p->r->keep = !h->close && cfg->keepalive_timeout > 0 && !p->s.env->stopping;

    http_route(cfg, h, &t, &r);
    p->r->user = r.user;
    switch (r.kind) {
    case ROUTE_ANSWER:
        px_answer_with(p, r.status, r.why, r.extra);
        return 0;
    case ROUTE_AUTH:
        return px_refuse_auth(p, h, r.why);
    case ROUTE_FINAL:
        px_answer_final(p, h);
        return 0;
    case ROUTE_UPSTREAM:
        break;
    }
    memcpy(p->r->host, r.host, strlen(r.host) + 1); /* both ADDR_HOSTMAX */
    p->r->port = r.port;
    /* A pooled connection may have told its upstream about another client
     * (upstream_proxy_protocol): then every request gets a fresh one. */
    px_exchange_start(p, !r.connect && cfg->upstream_pp == 0, h);
    return 0;
}

/* Forgets everything about the request that just ended (it was logged):
 * the connection holds no request state until the next head begins. */
static void
px_reset_request(struct px *p)
{
    p->phase = PX_IDLE;
    p->scan = 0;
    p->s.t_start = ev_now(p->s.env->loop);
    px_req_free(p);
}

/* The request is over. Returns 1 when the connection is ready for the
 * next one and the caller should look at cin now; 0 when it closes, or
 * waits for its answer to drain (px_client_write goes on from there). */
static int
px_ready_next(struct px *p)
{
    if (!p->r->keep || (p->s.client.eof_seen && xbuf_len(&p->cin) == 0)) {
        px_begin_closing(p);
        return 0;
    }
    /* Next request: pipelined bytes may already be here. Even when the
     * worker is stopping: this answer promised keep-alive, so the client may
     * have sent its next request already; that one is answered with
     * Connection: close, within the stop grace. */
    px_reset_request(p);
    xbuf_release(&p->cin, 0);
    session_set_timer(&p->s, px_header_timeout,
                      p->s.env->stopping ? px_stop_grace(p, p->s.env->cfg->keepalive_timeout)
                                         : p->s.env->cfg->keepalive_timeout);
    session_idle_enter(&p->s);
    if (p->cout.bytes > 0) {
        conn_want_write(&p->s.client, 1);
        return 0;
    }
    return 1;
}

static void
px_client_write(struct conn *c)
{
    struct px *p = c->data;
    int r;

    if (p->phase == PX_CLOSING) {
        px_finish_closing(p);
        return;
    }
    r = outq_flush(c, &p->cout);
    if (r == WD_ERROR) {
        px_client_write_failed(p);
        return;
    }
    if (r == WD_AGAIN)
        return;
    conn_want_write(c, 0);
    if (p->phase == PX_EXCHANGE)
        px_pump_response(p);
    else if (p->phase == PX_IDLE || p->phase == PX_HEAD)
        px_try_head(p);
}

/* Reads the request heads waiting in cin, one after the other while each
 * is answered at once and the connection stays ready for the next (a 407
 * kept alive): a loop rather than a recursion, since a client may pipeline
 * many. Each round consumes a head or stops. */
static void
px_try_head(struct px *p)
{
    const struct config *cfg = p->s.env->cfg;
    struct http_head h;
    size_t scan;
    long len;
    int st;

    for (;;) {
        /* An answer still being written comes first: the next request
         * waits (reading stops) until px_client_write has flushed it, so
         * that answers never overtake or cut each other. */
        if (p->cin.data == NULL || xbuf_len(&p->cin) == 0 || p->cout.bytes > 0) {
            px_update_watchers(p);
            return;
        }
        if (p->phase == PX_IDLE) {
            session_idle_leave(&p->s);
            p->phase = PX_HEAD;
            p->s.t_start = ev_now(p->s.env->loop);
            session_set_timer(&p->s, px_header_timeout, cfg->header_timeout);
        }
        scan = p->scan;
        len = http_head_end(p->cin.data + p->cin.start, xbuf_len(&p->cin), cfg->max_header_size, 1,
                            &scan);
        p->scan = (uint32_t)scan;
        if (len < 0) {
            px_answer(p, (int)-len,
                      len == -431   ? "request head too large"
                      : len == -414 ? "request line too long"
                                    : "malformed request head");
            return;
        }
        if (len == 0) {
            if (p->s.client.eof_seen) {
                session_close(&p->s, "client closed mid-head");
                return;
            }
            px_update_watchers(p);
            return;
        }
        st = http_parse_request(p->cin.data + p->cin.start, (size_t)len, &h);
        if (st != 0) {
            px_answer(p, st, st == 431 ? "request head too large" : "invalid request");
            return;
        }
        if (!px_route(p, &h) || !px_ready_next(p))
            return;
    }
}

static void
px_client_read(struct conn *c)
{
    struct px *p = c->data;

    for (int i = 0; i < PX_MAX_READS; i++) {
        int in_head = p->phase == PX_IDLE || p->phase == PX_HEAD;
        int drained;
        ssize_t n;

        if (!in_head && p->phase == PX_EXCHANGE && !p->r->reqc.done && p->r->uout.bytes > 0)
            break; /* the body waits for the upstream to drain */
        n = px_fill(c, &p->cin, in_head ? p->s.env->cfg->max_header_size : 0, XBUF_SMALL, &drained);
        if (n == WD_AGAIN)
            break;
        if (n == WD_ERROR) {
            session_close(&p->s, errno == ECONNRESET ? "client closed" : "client read error");
            return;
        }
        if (n == 0) {
            if (in_head && xbuf_len(&p->cin) == 0) {
                session_close(&p->s,
                              p->phase == PX_IDLE ? "client closed" : "client closed mid-head");
                return;
            }
            if (in_head) {
                session_close(&p->s, "client closed mid-head");
                return;
            }
            /* EOF between requests or after this one's body (the conn
             * keeps it: eof_seen): the exchange goes on, and the
             * connection ends once cin is used up. */
            conn_want_read(c, 0);
            if (p->phase != PX_EXCHANGE)
                return;
            px_pump_request(p);
            if (p->phase == PX_EXCHANGE && !p->r->reqc.done)
                session_close(&p->s, "client closed in the middle of the request body");
            return;
        }
        if (in_head) {
            px_try_head(p);
            return;
        }
        if (p->phase == PX_EXCHANGE && !p->r->reqc.done) {
            px_pump_request(p);
            return;
        }
        /* Bytes of a later request (or early body): they wait in cin. */
        if (drained)
            break;
    }
    if (p->phase == PX_IDLE || p->phase == PX_HEAD)
        px_try_head(p);
    else if (p->phase == PX_EXCHANGE && !p->r->reqc.done)
        px_pump_request(p);
    else
        px_update_watchers(p);
}

/* The HTTP state of a new session, before its first byte is read. */
static struct px *
px_init(struct session *s)
{
    struct px *p = (struct px *)s;

    s->client.on_read = px_client_read;
    s->client.on_write = px_client_write;
    return p;
}

/* A client was accepted: its first request has header_timeout from the
 * connection's start. */
static void
px_start(struct session *s)
{
    struct px *p = px_init(s);

    metrics_intake(&s->intake, METRICS_INTAKE_HTTP);
    session_set_timer(s, px_header_timeout, s->env->cfg->header_timeout);
    p->phase = PX_HEAD;
    conn_want_read(&s->client, 1);
}

/* The 403 goes out before anything is read: a denied client gets no header
 * buffer and no header_timeout to hold, and nothing it sends is parsed. The
 * answer is the usual error path (px_answer): Connection: close, then the
 * sending side is shut and the client drained for a while (the lingering
 * close), so that a client still sending its request or a body reads the
 * whole 403 instead of losing it to a reset. No upstream is ever chosen. */
static void
px_deny(struct session *s)
{
    struct px *p = px_init(s);

    p->phase = PX_IDLE;
    px_answer(p, 403, "client address not allowed (allow/deny)");
}

/* A graceful stop: a connection waiting for a request is not closed at
 * once, since its request may be in the kernel's buffer or on its way and
 * closing would reset it. It gets the stop grace, and a request that comes
 * in it is answered with Connection: close (px_response_head sees
 * env->stopping). The others finish their exchange, which also ends with
 * Connection: close. */
static void
px_stop(struct session *s)
{
    struct px *p = (struct px *)s;

    if (px_waiting(p))
        session_set_timer(s, px_header_timeout,
                          px_stop_grace(p, s->deadline - ev_now(s->env->loop)));
}

/* What an idle client connection costs (DESIGN 6: at most 512 bytes of
 * the worker's memory each, the allocator's and libev's share included). */
_Static_assert(sizeof(struct px) <= 400, "struct px is what every idle connection holds");

const struct proto proto_http = {
    .name = "http",
    .size = sizeof(struct px),
    .start = px_start,
    .deny = px_deny,
    .close = px_on_close,
    .stop = px_stop,
};
