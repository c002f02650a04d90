/* TCP mode: resolve the configured upstream (from the cache when it can),
 * connect to its addresses in turn, then relay until both sides are done.
 * A client that the allow/deny rules refuse is closed at once, without a
 * byte. One access line per connection. */
#include "proto_tcp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "relay.h"

struct tcp_session {
    struct session s;
    unsigned denied : 1; /* refused at accept: no upstream was ever chosen */
};

static void
tcp_connected(struct session *s, int err)
{
    char reason[128];

    if (err != 0) {
        snprintf(reason, sizeof(reason), "upstream connect: %s",
                 err == ETIMEDOUT ? "timed out" : strerror(err));
        session_close(s, reason);
        return;
    }
    /* upstream_proxy_protocol: the header goes first. */
    if (s->env->cfg->upstream_pp != 0) {
        struct buf *b = buf_get();

        if (b == NULL) {
            session_close(s, "out of memory");
            return;
        }
        b->end = (uint32_t)session_proxy_header(s, s->env->cfg->upstream_pp,
                                                (unsigned char *)b->data, BUF_SIZE);
        session_relay(s, b, NULL, "done");
        return;
    }
    session_relay(s, NULL, NULL, "done");
}

static void
tcp_resolved(struct session *s, int status, const struct resolve_result *res)
{
    char reason[128];

    if (status != RESOLVE_OK) {
        snprintf(reason, sizeof(reason), "upstream resolve: %s", resolve_strerror(status));
        session_close(s, reason);
        return;
    }
    if (session_connect(s, res, tcp_connected) < 0)
        session_close(s, "out of memory");
}

static void
tcp_start(struct session *s)
{
    const struct config *cfg = s->env->cfg;

    metrics_intake(&s->intake, METRICS_INTAKE_TCP);
    if (session_resolve(s, cfg->upstream_host, cfg->upstream_port, tcp_resolved) < 0)
        session_close(s, "upstream resolve: out of memory");
}

static void
tcp_deny(struct session *s)
{
    ((struct tcp_session *)s)->denied = 1;
    session_close(s, "client address not allowed (allow/deny)");
}

static void
tcp_close(struct session *s, const char *reason)
{
    const struct config *cfg = s->env->cfg;
    uint64_t in = 0, out = 0;
    char up[WD_ADDRSTRLEN + ADDR_HOSTMAX];

    if (s->relay != NULL) {
        in = s->relay->dir[0].bytes;
        out = s->relay->dir[1].bytes;
    }
    /* The upstream as connected, else as configured. */
    if (((struct tcp_session *)s)->denied)
        snprintf(up, sizeof(up), "-");
    else if (session_up_name(s)[0] != '\0')
        snprintf(up, sizeof(up), "%s", session_up_name(s));
    else
        snprintf(up, sizeof(up), "%s:%u", cfg->upstream_host, (unsigned)cfg->upstream_port);
    metrics_bytes(in, out);
    log_access("client=%s upstream=%s in=%llu out=%llu time=%.3f close=\"%s\"", s->peer, up,
               (unsigned long long)in, (unsigned long long)out, ev_now(s->env->loop) - s->t_start,
               reason);
}

const struct proto proto_tcp = {
    .name = "tcp",
    .size = sizeof(struct tcp_session),
    .start = tcp_start,
    .deny = tcp_deny,
    .close = tcp_close,
    .stop = NULL, /* a relay is always in flight: it finishes, or shutdown_timeout ends it */
};
