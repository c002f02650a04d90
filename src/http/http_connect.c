/* HTTP sessions, CONNECT and the tunnels: the 200 once the upstream is
 * connected, the wait for a TLS ClientHello to send split on tls_split
 * ports, and the relay that carries both CONNECT tunnels and upgraded
 * (101) connections, starting with the bytes already read on either side. */
#include <http_parser.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "flight.h"
#include "http_int.h"
#include "metrics.h"
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
        p->r->bytes_out -= buf_len(pre_ba); /* the relay counts what it sends */
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

/* The upstream of a CONNECT is connected: the 200, then the tunnel. When
 * the destination's first flight may be shaped (a tls_split_ports port and
 * a strategy other than off), the tunnel starts with flight.c, which waits
 * for the client's first bytes (a ClientHello, an HTTP head) and sends them
 * shaped, or judged and replayed with auto. */
void
px_connect_established(struct px *p)
{
    const struct config *cfg = p->s.env->cfg;
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    struct buf *b;

    p->r->status = 200;
    p->r->t_first = ev_now(p->s.env->loop);
    metrics_intake(&p->s.intake, METRICS_INTAKE_CONNECT);
    p->r->bytes_in += p->r->head_len;
    p->cin.start += p->r->head_len;
    if (config_tls_split_port(cfg, p->r->port) && flight_wanted(cfg, p->r->host)) {
        size_t elen = xbuf_len(&p->cin);

        /* A few bytes to a socket that just sent its request: the kernel
         * takes them, as the SOCKS reply is sent. */
        if (conn_write(&p->s.client, ok, sizeof(ok) - 1) != (ssize_t)(sizeof(ok) - 1)) {
            px_client_write_failed(p);
            return;
        }
        p->r->bytes_out += sizeof(ok) - 1;
        p->phase = PX_TUNNEL;
        if (elen > BUF_SIZE) {
            session_close(&p->s, "too much early data");
            return;
        }
        p->r->flight =
            flight_start(&p->s, p->r->host, p->cin.data + p->cin.start, elen, "tunnel closed");
        xbuf_release(&p->cin, 1);
        return;
    }
    b = buf_get();
    if (b == NULL) {
        px_answer(p, 503, "out of memory");
        return;
    }
    memcpy(b->data, ok, sizeof(ok) - 1);
    b->end = sizeof(ok) - 1;
    px_start_tunnel(p, b);
}
