/* Transparent mode: a client's connection was redirected to warpd by the
 * kernel (nftables or iptables "redirect": SO_ORIGINAL_DST, IPv4 and IPv6;
 * TPROXY: the socket's own address), so warpd connects to where it was
 * going, shapes the first flight by what it is (flight.c), and relays. A
 * connection whose destination is one of warpd's own listeners is refused:
 * it would loop; one the destination filter denies is closed. warpd's own
 * upstream connections carry upstream_mark, for the nft rule that must not
 * redirect them again. */
#include "proto_transparent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "flight.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"

struct transparent_session {
    struct session s;
    struct flight *flight;
    char target[WD_ADDRSTRLEN]; /* where the client was going */
};

static void
transparent_connected(struct session *s, int err)
{
    struct transparent_session *ts = (struct transparent_session *)s;
    char reason[128];
    char host[WD_ADDRSTRLEN];
    uint16_t port;

    if (err != 0) {
        snprintf(reason, sizeof(reason), "upstream connect: %s",
                 err == ETIMEDOUT ? "timed out" : strerror(err));
        session_close(s, reason);
        return;
    }
    /* The per-destination rules see the address (without the port). */
    if (addr_parse_hostport(ts->target, host, sizeof(host), &port, NULL, 0) < 0)
        host[0] = '\0';
    ts->flight = flight_start(s, host, NULL, 0, "done");
}

static int
transparent_is_self(const struct config *cfg, const struct sockaddr *sa)
{
    for (int i = 0; i < cfg->nlisten; i++)
        if (addr_reaches((const struct sockaddr *)&cfg->listen[i].addr, sa))
            return 1;
    return 0;
}

static void
transparent_start(struct session *s)
{
    struct transparent_session *ts = (struct transparent_session *)s;
    struct resolve_result res, allowed;
    char why[DEST_TEXTLEN + WD_ADDRSTRLEN + 32];

    memset(&res, 0, sizeof(res));
    metrics_intake(&s->intake, METRICS_INTAKE_TRANSPARENT);
    if (conn_original_dst(&s->client, &res.addr[0], &res.len[0]) != WD_OK) {
        session_close(s, "no original destination");
        return;
    }
    res.n = 1;
    addr_format((struct sockaddr *)&res.addr[0], ts->target, sizeof(ts->target));
    if (transparent_is_self(s->env->cfg, (struct sockaddr *)&res.addr[0])) {
        log_warnx("%s: connection to warpd's own listener %s in transparent mode: refused (a "
                  "loop: is the redirect rule missing its exception for upstream_mark?)",
                  s->peer, ts->target);
        session_close(s, "loop: the destination is warpd itself");
        return;
    }
    if (session_dest_filter(s, &res, &allowed, why, sizeof(why)) == NULL) {
        session_close(s, why);
        return;
    }
    if (session_connect(s, &res, transparent_connected) != WD_OK)
        session_close(s, "out of memory");
}

static void
transparent_deny(struct session *s)
{
    session_close(s, "client address not allowed (allow/deny)");
}

static void
transparent_close(struct session *s, const char *reason)
{
    struct transparent_session *ts = (struct transparent_session *)s;
    uint64_t in = 0, out = 0;
    char note[96];

    flight_free(ts->flight);
    ts->flight = NULL;
    if (s->relay != NULL) {
        in = s->relay->dir[0].bytes;
        out = s->relay->dir[1].bytes;
    }
    metrics_bytes(in, out);
    log_access("client=%s proto=transparent target=%s upstream=%s in=%llu out=%llu time=%.3f%s "
               "close=\"%s\"",
               s->peer, ts->target[0] ? ts->target : "-",
               session_up_name(s)[0] ? session_up_name(s) : "-", (unsigned long long)in,
               (unsigned long long)out, ev_now(s->env->loop) - s->t_start,
               session_shape_note(s, note, sizeof(note)), reason);
}

const struct proto proto_transparent = {
    .name = "transparent",
    .size = sizeof(struct transparent_session),
    .start = transparent_start,
    .deny = transparent_deny,
    .close = transparent_close,
    .stop = NULL, /* a relay is in flight: it finishes, or shutdown_timeout ends it */
};
