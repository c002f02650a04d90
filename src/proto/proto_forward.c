/* The forward port with SOCKS on: HTTP proxy requests, SOCKS5 and SOCKS4/4a
 * on one port, told apart by the first byte the client sends (5 and 4 are
 * SOCKS versions; an HTTP request starts with a method's letter). The byte
 * is looked at (MSG_PEEK), not taken: the chosen intake then starts as if
 * the connection were its own from the beginning. One more system call per
 * connection, none per request. */
#include "proto_forward.h"

#include "http_session.h"
#include "proto_socks.h"

static struct proto forward; /* proto_http's ops until the byte is seen */

static void
forward_hand_over(struct session *s, const struct proto *to)
{
    s->proto = to;
    to->start(s);
}

static void
forward_sniff(struct conn *c)
{
    struct session *s = c->data;
    unsigned char b;
    ssize_t n = conn_peek(c, &b, 1);

    if (n == WD_AGAIN)
        return;
    if (n <= 0) {
        session_close(s, n == 0 ? "client closed" : "client read error");
        return;
    }
    conn_want_read(c, 0);
    forward_hand_over(s, b == 4 || b == 5 ? &proto_socks : &proto_http);
}

static void
forward_timeout(struct session *s)
{
    session_close(s, "nothing arrived in time");
}

static void
forward_start(struct session *s)
{
    s->client.on_read = forward_sniff;
    session_set_timer(s, forward_timeout, s->env->cfg->header_timeout);
    conn_want_read(&s->client, 1);
}

/* A refused client gets the HTTP answer (403) before anything is read. */
static void
forward_deny(struct session *s)
{
    s->proto = &proto_http;
    proto_http.deny(s);
}

/* Closed before its first byte: nothing to log (as an HTTP connection that
 * never sent a request). */
static void
forward_close(struct session *s, const char *reason)
{
}

/* A graceful stop before the first byte: the grace HTTP gives a connection
 * waiting for its request, then a close. */
static void
forward_stop(struct session *s)
{
    double grace = s->env->cfg->shutdown_timeout < 1.0 ? s->env->cfg->shutdown_timeout : 1.0;

    if (s->deadline - ev_now(s->env->loop) > grace)
        session_set_timer(s, forward_timeout, grace);
}

const struct proto *
proto_forward(void)
{
    if (forward.start == NULL) {
        forward.name = "forward";
        forward.size = proto_http.size > proto_socks.size ? proto_http.size : proto_socks.size;
        forward.start = forward_start;
        forward.deny = forward_deny;
        forward.close = forward_close;
        forward.stop = forward_stop;
    }
    return &forward;
}
