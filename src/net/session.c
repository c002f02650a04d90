/* The session core, the same for every mode: the worker's list, the
 * allow/deny check at accept, the phase timer, the name lookup and the
 * connect to each address in turn, the relay of the blind phases, the list
 * of connections kept alive between requests, and session_close(), the one
 * way out. What a mode does with its bytes is its struct proto's business
 * (proto/proto_tcp.c, http/http_session.c). */
#include "session.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "proxy_header.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "upstream.h"

#define SESSION_TIMER_SLACK 0.001 /* seconds a timeout may fire early */

/* ---- closing and freeing --------------------------------------------- */

void
session_drop_upstream(struct session *s)
{
    struct session_up *u = s->up;

    if (u == NULL)
        return;
    if (u->rq != NULL) {
        resolve_cancel(u->rq);
        u->rq = NULL;
    }
    if (u->uc != NULL) {
        upstream_cancel(u->uc);
        free(u->uc);
        u->uc = NULL;
    }
    conn_close(&u->conn);
}

struct session_up *
session_up_get(struct session *s)
{
    if (s->up == NULL && (s->up = calloc(1, sizeof(*s->up))) != NULL)
        conn_init(&s->up->conn, s->env->loop, -1, s);
    return s->up;
}

void
session_up_free(struct session *s)
{
    session_drop_upstream(s);
    free(s->up);
    s->up = NULL;
}

static void
session_reap_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct session_env *env = w->data;

    while (env->dead != NULL) {
        struct session *s = env->dead;

        env->dead = s->next;
        free(s);
    }
    ev_prepare_stop(loop, w);
}

void
session_close(struct session *s, const char *reason)
{
    struct session_env *env = s->env;

    if (s->closed)
        return;
    s->closed = 1;
    session_idle_leave(s);
    ev_timer_stop(env->loop, &s->timer);
    session_drop_upstream(s);
    if (s->relay != NULL)
        relay_stop(s->relay);
    /* The intake logs (the relay's counts and reason are still there). */
    if (s->hdr != NULL) { /* closed before its PROXY header was complete */
        free(s->hdr);
        s->hdr = NULL;
    } else {
        s->proto->close(s, reason);
    }
    free(s->relay);
    s->relay = NULL;
    metrics_intake(&s->intake, METRICS_INTAKE_NONE);
    conn_close(&s->client);
    session_up_free(s);

    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        env->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    /* Freed once every callback on the stack has returned. */
    s->prev = NULL;
    s->next = env->dead;
    env->dead = s;
    ev_prepare_start(env->loop, &env->reaper);
    env->active--;
    if (env->on_count_change != NULL)
        env->on_count_change(env);
}

/* ---- the phase timer --------------------------------------------------- */

static void
session_timer_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct session *s = w->data;
    ev_tstamp left = s->deadline - ev_now(loop);

    /* A millisecond of slack: the loop's clock and the timers' differ by
     * rounding, and firing that much early is harmless. */
    if (left > SESSION_TIMER_SLACK) {
        ev_timer_set(w, left, 0.);
        ev_timer_start(loop, w);
        s->armed = s->deadline;
        return;
    }
    s->on_timeout(s);
}

void
session_set_timer(struct session *s, session_timer_cb cb, double after)
{
    ev_tstamp at = ev_now(s->env->loop) + after;

    s->on_timeout = cb;
    s->deadline = at;
    if (ev_is_active(&s->timer) && s->armed <= at)
        return;
    ev_timer_stop(s->env->loop, &s->timer);
    ev_timer_set(&s->timer, after, 0.);
    ev_timer_start(s->env->loop, &s->timer);
    s->armed = at;
}

void
session_stop_timer(struct session *s)
{
    ev_timer_stop(s->env->loop, &s->timer);
}

/* ---- lookup and connect ------------------------------------------------ */

static void
session_lookup_done(void *arg, int status, const struct resolve_result *res)
{
    struct session *s = arg;

    s->up->rq = NULL;
    s->up->then.resolved(s, status, res);
}

int
session_resolve(struct session *s, const char *host, uint16_t port, session_resolved_cb cb)
{
    struct resolve_result res;
    struct session_up *u;

    if (resolve_now(host, port, &res)) {
        cb(s, RESOLVE_OK, &res);
        return WD_OK;
    }
    if ((u = session_up_get(s)) == NULL)
        return WD_ERROR;
    u->then.resolved = cb;
    u->rq = resolve_start(host, port, session_lookup_done, s);
    return u->rq != NULL ? WD_OK : WD_ERROR;
}

static void
session_connect_done(void *arg, int fd, int idx, int err)
{
    struct session *s = arg;
    struct session_up *u = s->up;

    if (fd >= 0) {
        addr_format((struct sockaddr *)&u->uc->addrs.addr[idx], u->name, sizeof(u->name));
        conn_init(&u->conn, s->env->loop, fd, s); /* upstream.c set TCP_NODELAY */
        err = 0;
    }
    free(u->uc); /* allowed from inside its callback */
    u->uc = NULL;
    u->then.connected(s, err);
}

int
session_connect(struct session *s, const struct resolve_result *res, session_connected_cb cb)
{
    struct session_up *u = session_up_get(s);

    if (u == NULL || (u->uc = malloc(sizeof(*u->uc))) == NULL)
        return WD_ERROR;
    u->then.connected = cb;
    upstream_connect_start(u->uc, s->env->loop, res, s->env->cfg->connect_timeout,
                           session_connect_done, s);
    return WD_OK;
}

/* ---- relaying ---------------------------------------------------------- */

static void
session_relay_done(struct relay *r, const char *reason)
{
    struct session *s = r->data;

    session_close(s, reason != NULL ? reason : r->end);
}

/* Idle timeout without re-arming on every byte: the relay stamps the time of
 * its last transfer and the timer re-aims itself at the remaining time. */
static void
session_relay_idle(struct session *s)
{
    ev_tstamp left = s->relay->last_active + s->env->cfg->idle_timeout - ev_now(s->env->loop);

    if (left <= SESSION_TIMER_SLACK) {
        session_close(s, "idle timeout");
        return;
    }
    session_set_timer(s, session_relay_idle, left);
}

int
session_relay(struct session *s, struct buf *pre_ab, struct buf *pre_ba, const char *end)
{
    s->relay = malloc(sizeof(*s->relay));
    if (s->relay == NULL) {
        buf_put(pre_ab);
        buf_put(pre_ba);
        session_close(s, "out of memory");
        return WD_ERROR;
    }
    relay_start(s->relay, &s->client, &s->up->conn, pre_ab, pre_ba, "client", "upstream",
                session_relay_done, s);
    s->relay->end = end;
    relay_use_splice(s->relay); /* blind bytes: zero-copy when pipes can be had */
    session_set_timer(s, session_relay_idle, s->env->cfg->idle_timeout);
    return WD_OK;
}

const char *
session_shape_note(const struct session *s, char *buf, size_t cap)
{
    if (cap == 0)
        return "";
    buf[0] = '\0';
    if (s->shape_tries > 0)
        snprintf(buf, cap, " shape=%s tries=%d", config_shape_name(s->env->cfg, s->shape),
                 s->shape_tries);
    return buf;
}

/* ---- kept alive between requests --------------------------------------- */

void
session_idle_enter(struct session *s)
{
    struct session_env *env = s->env;

    if (s->in_idle)
        return;
    s->in_idle = 1;
    s->idle_next = NULL;
    s->idle_prev = env->idle_last;
    if (env->idle_last != NULL)
        env->idle_last->idle_next = s;
    else
        env->idle_first = s;
    env->idle_last = s;
    /* The worker stopped accepting at max_connections: this one can make
     * room for a waiting client. */
    if (env->accept_paused && env->on_count_change != NULL)
        env->on_count_change(env);
}

void
session_idle_leave(struct session *s)
{
    struct session_env *env = s->env;

    if (!s->in_idle)
        return;
    s->in_idle = 0;
    if (s->idle_prev != NULL)
        s->idle_prev->idle_next = s->idle_next;
    else
        env->idle_first = s->idle_next;
    if (s->idle_next != NULL)
        s->idle_next->idle_prev = s->idle_prev;
    else
        env->idle_last = s->idle_prev;
    s->idle_prev = s->idle_next = NULL;
}

int
session_have_idle(const struct session_env *env)
{
    return env->idle_first != NULL;
}

int
session_close_idle(struct session_env *env)
{
    if (env->idle_first == NULL)
        return 0;
    session_close(env->idle_first, "closed for a new client at max_connections");
    return 1;
}

/* ---- clients the allow/deny rules refuse ------------------------------ */

/* A denied address that reconnects in a loop must not flood the error log:
 * at most this many info lines per second per worker, the rest counted and
 * the count given with the next line. The access log still has every one. */
#define SESSION_DENY_LOG_MAX 10

/* One such limit: denied clients have one, denied destinations another. */
struct session_log_limit {
    ev_tstamp window;       /* start of the current second */
    int logged;             /* lines logged in it */
    unsigned long unlogged; /* denials not logged since the last line */
};

static struct session_log_limit deny_limit, dest_limit;

/* Whether a denial may be logged now; if so, *more receives how many were
 * left out since the last line (and the count starts again). */
static int
session_log_take(struct session_log_limit *l, ev_tstamp now, unsigned long *more)
{
    if (now - l->window >= 1.0) {
        l->window = now;
        l->logged = 0;
    }
    if (l->logged >= SESSION_DENY_LOG_MAX) {
        l->unlogged++;
        return 0;
    }
    l->logged++;
    *more = l->unlogged;
    l->unlogged = 0;
    return 1;
}

static void
session_log_denied(struct session_env *env, const char *peer, int rule)
{
    const struct config *cfg = env->cfg;
    char why[ACL_TEXTLEN + 16], more[64] = "";
    unsigned long unlogged;

    if (!session_log_take(&deny_limit, ev_now(env->loop), &unlogged))
        return;
    if (rule >= 0) {
        char r[ACL_TEXTLEN];

        snprintf(why, sizeof(why), "by '%s'", acl_format(&cfg->acl[rule], r, sizeof(r)));
    } else {
        snprintf(why, sizeof(why), "(no rule matches: denied by default)");
    }
    if (unlogged > 0)
        snprintf(more, sizeof(more), " (and %lu more denied clients not logged)", unlogged);
    log_info("%s: client denied %s%s", peer, why, more);
}

/* ---- the destination filter (deny_dest, allow_dest) -------------------- */

const struct resolve_result *
session_dest_filter(struct session *s, const struct resolve_result *res,
                    struct resolve_result *scratch, char *why, size_t whylen)
{
    const struct config *cfg = s->env->cfg;
    char rule[DEST_TEXTLEN], other[DEST_TEXTLEN], a[WD_ADDRSTRLEN], more[80] = "";
    unsigned long unlogged;
    int first = -1;

    /* The upstream of reverse and tcp modes is the operator's own. With no
     * rule on a loopback-only warpd this is the whole cost. */
    if ((cfg->mode != MODE_FORWARD && cfg->mode != MODE_TRANSPARENT) ||
        (cfg->ndest == 0 && !config_dest_default(cfg)))
        return res;
    scratch->n = 0;
    for (int i = 0; i < res->n; i++) {
        if (config_dest_allowed(cfg, (const struct sockaddr *)&res->addr[i],
                                first < 0 ? rule : other, sizeof(rule))) {
            scratch->addr[scratch->n] = res->addr[i];
            scratch->len[scratch->n] = res->len[i];
            scratch->n++;
        } else if (first < 0) {
            first = i;
        }
    }
    if (first < 0)
        return res;
    addr_format((const struct sockaddr *)&res->addr[first], a, sizeof(a));
    snprintf(why, whylen, "destination %s denied (%s)", a, rule);
    if (scratch->n > 0) { /* the allowed addresses are tried */
        log_debug("%s: %s; %d other address(es) allowed", s->peer, why, scratch->n);
        return scratch;
    }
    if (session_log_take(&dest_limit, ev_now(s->env->loop), &unlogged)) {
        if (unlogged > 0)
            snprintf(more, sizeof(more), " (and %lu more denied destinations not logged)",
                     unlogged);
        log_info("%s: %s%s", s->peer, why, more);
    }
    return NULL;
}

/* The client is who it is (the socket's peer, or what a PROXY header
 * said): allow/deny, then the intake. */
static void
session_begin(struct session *s, const struct sockaddr *peer)
{
    const struct config *cfg = s->env->cfg;
    int rule;

    /* With no rules (the default) this is the only cost: one branch. */
    if (cfg->nacl > 0 && !acl_allows(cfg->acl, cfg->nacl, peer, &rule)) {
        session_log_denied(s->env, s->peer, rule);
        METRIC_INC(refused_acl);
        s->proto->deny(s);
        return;
    }
    s->proto->start(s);
}

/* ---- a PROXY protocol header first (listen ... proxy_protocol) -------- */

/* The bytes of the header are looked at (MSG_PEEK) and only those taken, so
 * that whatever follows it stays for the intake, which reads the socket as
 * if the connection were its own. Until the header is complete, what came
 * is kept in s->hdr (all of it is header: the parser says "need more" only
 * for a valid beginning). */
static void
session_header_read(struct conn *c)
{
    struct session *s = c->data;
    unsigned char look[PROXY_HEADER_MAX];
    struct proxy_header h;
    ssize_t n = conn_peek(c, look, sizeof(look) - s->hdr_len);
    long r;

    if (n == WD_AGAIN)
        return;
    if (n <= 0) {
        session_close(s, n == 0 ? "client closed before its PROXY header" : "client read error");
        return;
    }
    memmove(look + s->hdr_len, look, (size_t)n);
    memcpy(look, s->hdr, s->hdr_len);
    r = proxy_header_parse(look, s->hdr_len + (size_t)n, &h);
    if (r < 0) {
        log_info("%s: PROXY protocol header refused (%s)", s->peer,
                 r == PROXY_E_SIGNATURE ? "no PROXY header"
                 : r == PROXY_E_FAMILY  ? "address family not taken"
                                        : "malformed");
        session_close(s, "bad PROXY protocol header");
        return;
    }
    /* Take the header's bytes, and only those. */
    n = r > 0 ? (ssize_t)((size_t)r - s->hdr_len) : n;
    if (conn_read(c, s->hdr + s->hdr_len, (size_t)n) != n) {
        session_close(s, "client read error");
        return;
    }
    s->hdr_len += (uint32_t)n;
    if (r == 0)
        return;
    free(s->hdr);
    s->hdr = NULL;
    conn_want_read(c, 0);
    session_stop_timer(s);
    if (h.local) { /* a health check of the balancer itself: the peer is who it is */
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
            memset(&ss, 0, sizeof(ss));
        session_begin(s, (struct sockaddr *)&ss);
        return;
    }
    addr_format((struct sockaddr *)&h.src, s->peer, sizeof(s->peer));
    session_begin(s, (struct sockaddr *)&h.src);
}

static void
session_header_timeout(struct session *s)
{
    log_info("%s: no PROXY protocol header within header_timeout", s->peer);
    session_close(s, "no PROXY protocol header in time");
}

/* A peer proxy_protocol_from does not list may not say who the client is. */
static int
session_header_from_ok(const struct config *cfg, const struct sockaddr *peer)
{
    int rule;

    return cfg->npp_from == 0 || acl_allows(cfg->pp_from, cfg->npp_from, peer, &rule);
}

size_t
session_proxy_header(struct session *s, int version, unsigned char *out, size_t cap)
{
    struct sockaddr_storage src, dst;
    socklen_t slen, dlen;

    if (addr_from_text(s->peer, &src, &slen) < 0 ||
        conn_local_addr(&s->client, &dst, &dlen) != WD_OK)
        return proxy_header_build(out, cap, version, NULL, NULL); /* UNKNOWN / AF_UNSPEC */
    return proxy_header_build(out, cap, version, (struct sockaddr *)&src, (struct sockaddr *)&dst);
}

/* ---- public --------------------------------------------------------- */

void
session_env_init(struct session_env *env, struct ev_loop *loop, const struct config *cfg)
{
    memset(env, 0, sizeof(*env));
    env->loop = loop;
    env->cfg = cfg;
    ev_prepare_init(&env->reaper, session_reap_cb);
    env->reaper.data = env;
}

void
session_start(struct session_env *env, const struct proto *proto, int fd,
              const struct sockaddr *peer, socklen_t len, int proxy_header)
{
    struct session *s;
    int one = 1;

    s = calloc(1, proto->size);
    if (s == NULL || (proxy_header && (s->hdr = malloc(PROXY_HEADER_MAX)) == NULL)) {
        log_warnx("out of memory, dropping a client");
        METRIC_INC(refused_limit);
        free(s);
        close(fd);
        return;
    }
    s->env = env;
    s->proto = proto;
    s->t_start = ev_now(env->loop);
    METRIC_INC(accepted);
    conn_init(&s->client, env->loop, fd, s);
    ev_init(&s->timer, session_timer_fired);
    s->timer.data = s;
    addr_format(peer, s->peer, sizeof(s->peer));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    s->next = env->sessions;
    if (env->sessions != NULL)
        env->sessions->prev = s;
    env->sessions = s;
    env->active++;
    if (!proxy_header) {
        session_begin(s, peer);
        return;
    }
    if (!session_header_from_ok(env->cfg, peer)) {
        log_info("%s: PROXY protocol header not accepted from this peer (proxy_protocol_from)",
                 s->peer);
        session_close(s, "PROXY protocol peer not allowed");
        return;
    }
    s->client.on_read = session_header_read;
    session_set_timer(s, session_header_timeout, env->cfg->header_timeout);
    conn_want_read(&s->client, 1);
}

void
session_stop_all(struct session_env *env)
{
    struct session *s, *next;

    for (s = env->sessions; s != NULL; s = next) {
        next = s->next;
        if (s->proto->stop != NULL)
            s->proto->stop(s);
    }
}

void
session_close_all(struct session_env *env, const char *reason)
{
    while (env->sessions != NULL)
        session_close(env->sessions, reason);
    session_reap_cb(env->loop, &env->reaper, 0);
}
