/* HTTP sessions, the answers warpd gives itself: a short status page for an
 * error, the Allow list for OPTIONS and the reflected request for TRACE when
 * Max-Forwards is 0; then the close that follows any of them: flush the
 * answer, shut the sending side, and linger so that the client can read it. */
#include <http_parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "conn.h"
#include "http.h"
#include "log.h"
#include "outq.h"
#include "proxy_int.h"
#include "xbuf.h"

#define PX_LINGER 2.0 /* seconds to drain a client after an error answer */

static void
px_linger_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    px_close(w->data, "answered");
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
            px_close(p, "answered");
            return;
        }
    }
}

/* The last bytes for this client are queued: flush them, then linger. */
void
px_finish_closing(struct px *p)
{
    int r = outq_flush(&p->client, &p->cout);

    if (r < 0) {
        px_close(p, "client write failed");
        return;
    }
    if (r == 0) {
        conn_want_write(&p->client, 1);
        return;
    }
    conn_want_write(&p->client, 0);
    conn_shutdown_write(&p->client);
    xbuf_release(&p->cin, 1);
    p->client.on_read = px_linger_read;
    conn_want_read(&p->client, 1);
    px_set_timer(p, px_linger_timeout, PX_LINGER);
}

void
px_begin_closing(struct px *p)
{
    px_drop_upstream(p);
    p->phase = PX_CLOSING;
    conn_want_read(&p->client, 0);
    px_finish_closing(p);
}

/* Answers with a short plain-text status page and closes, or just closes
 * when a response is already under way (the client must see a truncation). */
/* Answers the client itself and closes: the head (status, Content-Type
 * when given, extra fields, Connection: close) and body are sent together. */
static void
px_reply(struct px *p, int status, const char *ctype, const char *extra, const char *body,
         size_t blen, const char *what)
{
    char head[512];
    struct iovec iov[2];
    int n;

    if (p->resp_head || p->phase == PX_CLOSING || p->phase == PX_TUNNEL) {
        px_close(p, what);
        return;
    }
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                 status, http_reason(status), ctype ? "Content-Type: " : "", ctype ? ctype : "",
                 ctype ? "\r\n" : "", blen, extra);
    if (n < 0 || (size_t)n >= sizeof(head))
        n = (int)sizeof(head) - 1;
    p->status = status;
    p->logme = 1;
    outq_clear(&p->cout);
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)n;
    iov[1].iov_base = (void *)(uintptr_t)body;
    iov[1].iov_len = blen;
    log_debug("%s: %d %s", p->peer, status, what);
    if (outq_send(&p->client, &p->cout, iov, 2, iov[0].iov_len + blen, &p->bytes_out) < 0) {
        px_close(p, "client write failed");
        return;
    }
    px_log_request(p, what);
    px_begin_closing(p);
}

void
px_answer_with(struct px *p, int status, const char *what, const char *extra)
{
    char body[256];
    int blen;

    blen = snprintf(body, sizeof(body), "warpd: %d %s: %s\r\n", status, http_reason(status), what);
    if (blen < 0 || (size_t)blen >= sizeof(body))
        blen = (int)sizeof(body) - 1;
    px_reply(p, status, "text/plain", extra, body, (size_t)blen, what);
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
                 p->env->cfg->mode == MODE_FORWARD ? "Allow: " PX_ALLOW_FORWARD "\r\n"
                                                   : "Allow: " PX_ALLOW_REVERSE "\r\n",
                 "", 0, "OPTIONS with Max-Forwards: 0");
        return;
    }
    if ((b = malloc(cap)) == NULL) {
        px_close(p, "out of memory");
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
