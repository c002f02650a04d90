/* HTTP sessions, the answers warpd gives itself: a short status page for an
 * error, the Allow list for OPTIONS and the reflected request for TRACE when
 * Max-Forwards is 0, the 407 challenge of proxy authentication; then the
 * close that follows most of them: flush the answer, shut the sending side,
 * and linger so that the client can read it. */
#include <errno.h>
#include <http_parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "auth.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "outq.h"
#include "http_int.h"
#include "http_page.h"
#include "http_route.h"
#include "upstream_pool.h"
#include "xbuf.h"

#define PX_LINGER 2.0 /* seconds to drain a client after an error answer */

void
px_log_request(struct px *p, const char *close_reason)
{
    const struct config *cfg = p->s.env->cfg;
    ev_tstamp now = ev_now(p->s.env->loop);
    int auth = cfg->mode == MODE_FORWARD && cfg->nauth_users > 0;
    char note[96];

    if (p->r == NULL)
        return; /* no request began */
    session_shape_note(&p->s, note, sizeof(note));
    p->s.shape_tries = 0; /* the next request counts its own */
    px_auto_free(p);
    if (p->r->logme)
        metrics_request(p->r->status, p->r->bytes_in, p->r->bytes_out);
    if (!p->r->logme || !log_access_enabled()) {
        p->r->logme = 0;
        return;
    }
    p->r->logme = 0;
    /* With authentication, the user the request was accepted for (a name
     * from the configuration, never what the client sent), as nginx's
     * $remote_user and squid's log do; "-" for none. */
    log_access("client=%s%s%s method=%s target=\"%s\" status=%d in=%llu out=%llu upstream=%s "
               "ttfb=%.3f time=%.3f%s%s%s%s",
               p->s.peer, auth ? " user=" : "",
               !auth             ? ""
               : p->r->user >= 0 ? cfg->auth_users[p->r->user].name
                                 : "-",
               p->r->method >= 0 ? http_method_str(p->r->method) : "-",
               p->r->target[0] ? p->r->target : "-", p->r->status,
               (unsigned long long)p->r->bytes_in, (unsigned long long)p->r->bytes_out,
               session_up_name(&p->s)[0] ? session_up_name(&p->s) : "-",
               p->r->t_first > 0 ? p->r->t_first - p->s.t_start : 0.0, now - p->s.t_start, note,
               close_reason ? " close=\"" : "", close_reason ? close_reason : "",
               close_reason ? "\"" : "");
}

/* A write to the client failed: a client that left (reset, or closed its
 * side while the answer streamed) is logged as such, not as warpd's fault. */
void
px_client_write_failed(struct px *p)
{
    int gone = errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN;

    session_close(&p->s, gone ? "client closed" : "client write failed");
}

void
px_drop_upstream(struct px *p)
{
    if (p->r == NULL) { /* no request: nothing of an upstream either */
        session_drop_upstream(&p->s);
        return;
    }
    px_shape_free(p);
    if (p->r->pooled) /* after upstream_pool_put, which counts it still in flight */
        upstream_pool_done(p->r->host, p->r->port);
    p->r->pooled = 0;
    session_drop_upstream(&p->s);
    outq_clear(&p->r->uout);
    xbuf_release(&p->r->uin, 1);
    p->r->up_close = 0;
}

static void
px_linger_timeout(struct session *s)
{
    session_close(s, "answered");
}

/* Drains what the client still sends so that closing does not turn into a
 * reset that destroys the answer before the client read it. */
static void
px_linger_read(struct conn *c)
{
    struct px *p = c->data;
    char sink[4096];

    for (int i = 0; i < PX_MAX_READS; i++) {
        ssize_t n = conn_read(c, sink, sizeof(sink));
        if (n == WD_AGAIN)
            return;
        if (n <= 0) {
            session_close(&p->s, "answered");
            return;
        }
    }
}

/* The last bytes for this client are queued: flush them, then linger. */
void
px_finish_closing(struct px *p)
{
    int r = outq_flush(&p->s.client, &p->cout);

    if (r == WD_ERROR) {
        px_client_write_failed(p);
        return;
    }
    if (r == WD_AGAIN) {
        conn_want_write(&p->s.client, 1);
        return;
    }
    conn_want_write(&p->s.client, 0);
    conn_shutdown_write(&p->s.client);
    xbuf_release(&p->cin, 1);
    p->s.client.on_read = px_linger_read;
    conn_want_read(&p->s.client, 1);
    session_set_timer(&p->s, px_linger_timeout, PX_LINGER);
}

void
px_begin_closing(struct px *p)
{
    session_idle_leave(&p->s);
    px_drop_upstream(p);
    p->phase = PX_CLOSING;
    conn_want_read(&p->s.client, 0);
    px_finish_closing(p);
}

/* Writes warpd's own answer: the head (status, Content-Type when given,
 * extra fields, the Connection field given) and the body, together.
 * Returns 0, or -1 after closing the session when the client cannot be
 * written to. */
static int
px_send_page(struct px *p, int status, const char *ctype, const char *extra, const char *body,
             size_t blen, const char *connection, const char *what)
{
    char head[HTTP_PAGE_HEAD_MAX];
    struct iovec iov[2];
    size_t n = http_page_head(head, sizeof(head), status, ctype, extra, blen, connection);

    p->r->status = status;
    p->r->logme = 1;
    outq_clear(&p->cout);
    iov[0].iov_base = head;
    iov[0].iov_len = n;
    iov[1].iov_base = (void *)(uintptr_t)body;
    iov[1].iov_len = blen;
    log_debug("%s: %d %s", p->s.peer, status, what);
    if (outq_send(&p->s.client, &p->cout, iov, 2, iov[0].iov_len + blen, &p->r->bytes_out) < 0) {
        px_client_write_failed(p);
        return -1;
    }
    return 0;
}

struct px_req *
px_req_get(struct px *p)
{
    struct px_req *r = p->r;

    if (r == NULL && (r = calloc(1, sizeof(*r))) != NULL) {
        r->method = -1;
        r->user = -1;
        p->r = r;
    }
    return r;
}

/* Answers the client itself and closes (Connection: close, then the
 * lingering close), or just closes when a response is already under way
 * (the client must see a truncation). */
static void
px_reply(struct px *p, int status, const char *ctype, const char *extra, const char *body,
         size_t blen, const char *what)
{
    if (px_req_get(p) == NULL) {
        session_close(&p->s, "out of memory");
        return;
    }
    /* A response head, or the 200 of a CONNECT (PX_TUNNEL), went out
     * already: only a close can tell the client now. */
    if (p->r->resp_head || p->phase == PX_CLOSING || p->phase == PX_TUNNEL) {
        session_close(&p->s, what);
        return;
    }
    if (px_send_page(p, status, ctype, extra, body, blen, "Connection: close\r\n", what) < 0)
        return;
    px_log_request(p, what);
    px_begin_closing(p);
}

void
px_answer_with(struct px *p, int status, const char *what, const char *extra)
{
    char body[HTTP_PAGE_BODY_MAX];
    size_t blen = http_page_text(body, sizeof(body), status, what);

    px_reply(p, status, "text/plain", extra, body, blen, what);
}

/* A TRACE or OPTIONS whose Max-Forwards is 0 ends here (RFC 9110 7.6.2):
 * OPTIONS is told what warpd forwards, TRACE gets its request reflected
 * (9.3.8), without credentials and cookies. */
void
px_answer_final(struct px *p, const struct http_head *h)
{
    size_t cap = h->head_len + (size_t)h->nfields + 2;
    char *b;

    if (h->method == HTTP_OPTIONS) {
        px_reply(p, 200, NULL,
                 p->s.env->cfg->mode == MODE_FORWARD ? "Allow: " ROUTE_ALLOW_FORWARD "\r\n"
                                                     : "Allow: " ROUTE_ALLOW_REVERSE "\r\n",
                 "", 0, "OPTIONS with Max-Forwards: 0");
        return;
    }
    if ((b = malloc(cap)) == NULL) {
        session_close(&p->s, "out of memory");
        return;
    }
    px_reply(p, 200, "message/http", "", b, http_trace_body(h, b, cap),
             "TRACE with Max-Forwards: 0");
    free(b);
}

void
px_answer(struct px *p, int status, const char *what)
{
    px_answer_with(p, status, what, "");
}

/* 407 with the Basic challenge (RFC 9110 11.7.1 and 15.5.8: at least one
 * Proxy-Authenticate; RFC 7617: realm, and charset to say that credentials
 * are read as UTF-8). Framed by Content-Length, so that with keep the
 * connection stays open for the retry with credentials that browsers and
 * curl --proxy-anyauth make; without keep it is the usual close. */
int
px_answer_auth(struct px *p, const char *what, int keep)
{
    char body[HTTP_PAGE_BODY_MAX], extra[AUTH_REALM_MAX + 64];
    size_t blen;

    http_page_challenge(extra, sizeof(extra), p->s.env->cfg->auth_realm);
    if (!keep) {
        px_answer_with(p, 407, what, extra);
        return -1;
    }
    blen = http_page_text(body, sizeof(body), 407, what);
    /* An HTTP/1.0 client kept alive is told so (RFC 9112 C.2.2). */
    return px_send_page(p, 407, "text/plain", extra, body, blen,
                        p->r->minor == 0 ? "Connection: keep-alive\r\n" : "", what);
}
