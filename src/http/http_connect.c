/* HTTP sessions, CONNECT and the tunnels: the 200 once the upstream is
 * connected, the wait for a TLS ClientHello to send split on tls_split
 * ports, and the relay that carries both CONNECT tunnels and upgraded
 * (101) connections, starting with the bytes already read on either side. */
#include <http_parser.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "http_int.h"
#include "outq.h"
#include "xbuf.h"

/* Moves the unread bytes of x into a pooled buffer the relay can own. */
static struct buf *
px_leftover(struct xbuf *x, int *err)
{
    struct buf *b;
    size_t n = xbuf_len(x);

    *err = 0;
    if (n == 0) {
        xbuf_release(x, 1);
        return NULL;
    }
    if (x->pooled != NULL) {
        b = x->pooled;
        b->start = x->start;
        b->end = x->end;
        x->pooled = NULL;
        x->data = NULL;
        x->start = x->end = x->cap = 0;
        return b;
    }
    if (n > BUF_SIZE || (b = buf_get()) == NULL) {
        *err = 1;
        return NULL;
    }
    memcpy(b->data, x->data + x->start, n);
    b->end = (uint32_t)n;
    xbuf_release(x, 1);
    return b;
}

void
px_start_tunnel(struct px *p, struct buf *pre_ba)
{
    struct buf *pre_ab;
    int err;

    if (pre_ba == NULL && p->cout.first != NULL) {
        /* The 200 of a CONNECT that waited for a ClientHello, not yet all
         * written: the relay sends it first. It is small: one buffer. */
        pre_ba = p->cout.first;
        p->cout.first = p->cout.last = NULL;
        p->cout.bytes = 0;
        p->bytes_out -= buf_len(pre_ba); /* the relay counts what it sends */
    }
    pre_ab = px_leftover(&p->cin, &err);
    if (err) {
        buf_put(pre_ba);
        session_close(&p->s, "too much early data");
        return;
    }
    p->phase = PX_TUNNEL;
    session_relay(&p->s, pre_ab, pre_ba, "tunnel closed");
}

/* The ClientHello after a CONNECT did not come within header_timeout. */
static void
px_hello_timeout(struct session *s)
{
    px_answer((struct px *)s, 408, "the request head did not arrive in time");
}

/* The shaped ClientHello is out (or was let through as is): relay the rest. */
static void
px_hello_sent(struct px *p, int err)
{
    if (err != 0) {
        /* The 200 went out already: this closes the connection. */
        p->up_close = 1;
        px_answer(p, 502, "could not send the request upstream");
        return;
    }
    px_start_tunnel(p, NULL);
}

void
px_hello_more(struct px *p)
{
    px_hello_try(p, px_hello_sent);
}

/* The upstream of a CONNECT is connected: the 200, then the tunnel; on a
 * tls_split port with shaping on, the tunnel waits for the client's TLS
 * ClientHello first, to send it split (px_hello_more). */
void
px_connect_established(struct px *p)
{
    const struct config *cfg = p->s.env->cfg;
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    struct buf *b = buf_get();

    if (b == NULL) {
        px_answer(p, 503, "out of memory");
        return;
    }
    memcpy(b->data, ok, sizeof(ok) - 1);
    b->end = sizeof(ok) - 1;
    p->status = 200;
    p->t_first = ev_now(p->s.env->loop);
    p->bytes_in += p->head_len;
    p->cin.start += p->head_len;
    if (cfg->tls_split != 0 && config_tls_split_port(cfg, p->port) &&
        config_shape_for(cfg, p->host) != SHAPE_OFF) {
        struct iovec iov = {b->data, buf_len(b)};
        int r = outq_send(&p->s.client, &p->cout, &iov, 1, iov.iov_len, &p->bytes_out);

        buf_put(b);
        if (r < 0) {
            session_close(&p->s, "client write failed");
            return;
        }
        p->phase = PX_HELLO;
        session_set_timer(&p->s, px_hello_timeout, cfg->header_timeout);
        conn_want_read(&p->s.client, 1);
        conn_want_write(&p->s.client, p->cout.bytes > 0);
        px_hello_try(p, px_hello_sent);
        return;
    }
    px_start_tunnel(p, b);
}
