/* SOCKS5 (RFC 1928, with RFC 1929 username/password) and SOCKS4/4a on the
 * forward port: the greeting, the credentials when auth_user is set, one
 * CONNECT request, then the name looked up by warpd (c-ares, never the
 * client's resolver), connect_ports, warpd's own addresses and the
 * destination filter (deny_dest, allow_dest) checked, the
 * upstream connected, the reply with the upstream socket's local address,
 * and a relay that starts with any bytes the client sent after its request.
 * Every failure gets the reply code the protocol defines, then a close. One
 * access line per connection, "proto=socks5" or "proto=socks4". */
#include "proto_socks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "flight.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "socks.h"

/* The most a client sends before its tunnel: a greeting (2 + 255 bytes),
 * credentials (3 + 255 + 255) and a request (SOCKS4a: 8 + 256 + 256);
 * bytes past its request that came in the same reads are early data. */
#define SOCKS_IN_MAX 1024

enum socks_stage {
    SOCKS_GREETING, /* the first message: a SOCKS5 greeting or a SOCKS4 request */
    SOCKS_AUTH,     /* SOCKS5: the RFC 1929 user name and password */
    SOCKS_REQUEST,  /* SOCKS5: the request */
    SOCKS_UPSTREAM, /* lookup and connect */
    SOCKS_REPLIED,  /* the tunnel, or the failure reply being flushed */
};

struct socks_session {
    struct session s; /* first: a struct session * of this proto is one of these */
    enum socks_stage stage;
    int version;           /* 4 or 5 once the first byte is read */
    int user;              /* the auth_user index, or -1 */
    int rep;               /* the reply sent (SOCKS5 code; SOCKS4: 0x5A/0x5B), -1 before */
    struct flight *flight; /* the first flight being shaped, or NULL */
    struct socks_request req;
    size_t inlen;
    unsigned char in[SOCKS_IN_MAX];
};

/* ---- replies -------------------------------------------------------------- */

/* The failure reply, then the close once it is written (or at once when
 * the socket does not take it: a client that sends a broken greeting gets
 * no more than one attempt). */
static void
socks_fail(struct socks_session *ss, int rep, const char *why)
{
    unsigned char b[SOCKS5_REPLY_MAX];
    size_t n = ss->version == 4 ? socks4_reply(b, 0, NULL) : socks5_reply(b, rep, NULL);

    ss->rep = ss->version == 4 ? 0x5b : rep;
    ss->stage = SOCKS_REPLIED;
    if (conn_write(&ss->s.client, b, n) != (ssize_t)n)
        log_debug("%s: SOCKS reply not written whole", ss->s.peer);
    conn_shutdown_write(&ss->s.client);
    session_close(&ss->s, why);
}

/* Protocol errors before a request: SOCKS5 has no reply for a malformed
 * greeting, so the connection just closes. */
static void
socks_drop(struct socks_session *ss, const char *why)
{
    session_close(&ss->s, why);
}

/* ---- the upstream ----------------------------------------------------------- */

static int
socks_rep_for_errno(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return SOCKS5_REP_REFUSED;
    case ETIMEDOUT:
        return SOCKS5_REP_TTL_EXPIRED;
    case ENETUNREACH:
        return SOCKS5_REP_NET_UNREACH;
    case EHOSTUNREACH:
        return SOCKS5_REP_HOST_UNREACH;
    default:
        return SOCKS5_REP_FAILURE;
    }
}

static void
socks_connected(struct session *s, int err)
{
    struct socks_session *ss = (struct socks_session *)s;
    struct sockaddr_storage bound;
    socklen_t blen;
    struct buf *pre_ba, *pre_ab = NULL;
    char why[128];

    if (err != 0) {
        snprintf(why, sizeof(why), "upstream connect: %s",
                 err == ETIMEDOUT ? "timed out" : strerror(err));
        socks_fail(ss, socks_rep_for_errno(err), why);
        return;
    }
    if (conn_local_addr(&s->up->conn, &bound, &blen) != WD_OK)
        memset(&bound, 0, sizeof(bound));
    ss->rep = ss->version == 4 ? 0x5a : SOCKS5_REP_OK;
    if (flight_wanted(s->env->cfg, ss->req.host)) {
        /* The reply goes out now (a few bytes to a socket that took the
         * request: the kernel takes them); the client's first flight is
         * then shaped by what it is. */
        unsigned char r[SOCKS5_REPLY_MAX];
        size_t n = ss->version == 4 ? socks4_reply(r, 1, (struct sockaddr *)&bound)
                                    : socks5_reply(r, SOCKS5_REP_OK, (struct sockaddr *)&bound);

        ss->stage = SOCKS_REPLIED;
        if (conn_write(&s->client, r, n) != (ssize_t)n) {
            session_close(s, "client write failed");
            return;
        }
        ss->flight = flight_start(s, ss->req.host, ss->in, ss->inlen, "done");
        ss->inlen = 0;
        return;
    }
    pre_ba = buf_get();
    if (pre_ba == NULL || (ss->inlen > 0 && (pre_ab = buf_get()) == NULL)) {
        buf_put(pre_ba);
        socks_fail(ss, SOCKS5_REP_FAILURE, "out of memory");
        return;
    }
    /* The reply goes first; early data the client sent after its request
     * goes to the upstream first. */
    {
        unsigned char *out = (unsigned char *)pre_ba->data;
        const struct sockaddr *sa = (const struct sockaddr *)&bound;

        pre_ba->end = (uint32_t)(ss->version == 4 ? socks4_reply(out, 1, sa)
                                                  : socks5_reply(out, SOCKS5_REP_OK, sa));
    }
    if (pre_ab != NULL) {
        memcpy(pre_ab->data, ss->in, ss->inlen);
        pre_ab->end = (uint32_t)ss->inlen;
        ss->inlen = 0;
    }
    ss->stage = SOCKS_REPLIED;
    session_relay(s, pre_ab, pre_ba, "done");
}

/* Does sa reach one of warpd's own listening sockets? */
static int
socks_is_self(const struct config *cfg, const struct sockaddr *sa)
{
    for (int i = 0; i < cfg->nlisten; i++)
        if (addr_reaches((const struct sockaddr *)&cfg->listen[i].addr, sa))
            return 1;
    return 0;
}

static void
socks_resolved(struct session *s, int status, const struct resolve_result *res)
{
    struct socks_session *ss = (struct socks_session *)s;
    struct resolve_result allowed;
    char why[ADDR_HOSTMAX + DEST_TEXTLEN + 64];

    if (status != RESOLVE_OK) {
        snprintf(why, sizeof(why), "cannot resolve %s: %s", ss->req.host, resolve_strerror(status));
        socks_fail(
            ss, status == RESOLVE_ETIMEOUT ? SOCKS5_REP_TTL_EXPIRED : SOCKS5_REP_HOST_UNREACH, why);
        return;
    }
    for (int i = 0; i < res->n; i++) {
        if (socks_is_self(s->env->cfg, (const struct sockaddr *)&res->addr[i])) {
            socks_fail(ss, SOCKS5_REP_NOT_ALLOWED, "the request targets warpd itself");
            return;
        }
    }
    /* After DNS: a name resolving to a denied address is refused (SOCKS4: 0x5B). */
    res = session_dest_filter(s, res, &allowed, why, sizeof(why));
    if (res == NULL) {
        socks_fail(ss, SOCKS5_REP_NOT_ALLOWED, why);
        return;
    }
    if (session_connect(s, res, socks_connected) != WD_OK)
        socks_fail(ss, SOCKS5_REP_FAILURE, "out of memory");
}

/* A complete request: only CONNECT, only to connect_ports. */
static void
socks_request(struct socks_session *ss)
{
    const struct config *cfg = ss->s.env->cfg;

    if (ss->req.command != SOCKS_CMD_CONNECT) {
        socks_fail(ss, SOCKS5_REP_COMMAND, "SOCKS command not supported (only CONNECT)");
        return;
    }
    if (!config_port_allowed(cfg, ss->req.port)) {
        socks_fail(ss, SOCKS5_REP_NOT_ALLOWED, "port not allowed (connect_ports)");
        return;
    }
    ss->stage = SOCKS_UPSTREAM;
    conn_want_read(&ss->s.client, 0);
    session_stop_timer(&ss->s);
    if (session_resolve(&ss->s, ss->req.host, ss->req.port, socks_resolved) != WD_OK)
        socks_fail(ss, SOCKS5_REP_FAILURE, "resolver unavailable");
}

/* ---- the client's messages ------------------------------------------------ */

static void
socks_consume(struct socks_session *ss, long used)
{
    memmove(ss->in, ss->in + used, ss->inlen - (size_t)used);
    ss->inlen -= (size_t)used;
}

static void
socks_reply2(struct socks_session *ss, size_t (*make)(unsigned char *, int), int v)
{
    unsigned char b[2];

    make(b, v);
    /* Two bytes to a socket that has sent us bytes: they fit. */
    if (conn_write(&ss->s.client, b, 2) != 2)
        log_debug("%s: SOCKS reply not written whole", ss->s.peer);
}

/* The SOCKS5 method: user name and password when auth_user is set, else
 * none. Returns 2 (go on with what is left) or 0 (closed). */
static int
socks_method(struct socks_session *ss, const struct socks5_greeting *g)
{
    int users = ss->s.env->cfg->nauth_users > 0;

    if (users ? !g->userpass : !g->no_auth) {
        socks_reply2(ss, socks5_method_reply, SOCKS5_METHOD_REFUSED);
        socks_drop(ss, "no acceptable SOCKS5 authentication method");
        return 0;
    }
    socks_reply2(ss, socks5_method_reply, users ? SOCKS5_METHOD_USERPASS : SOCKS5_METHOD_NONE);
    ss->stage = users ? SOCKS_AUTH : SOCKS_REQUEST;
    return 2;
}

/* RFC 1929: the same users and constant-time check as the HTTP proxy's
 * Basic authentication. Returns 2 (go on) or 0 (closed). */
static int
socks_login(struct socks_session *ss, struct socks_userpass *u)
{
    const struct config *cfg = ss->s.env->cfg;
    int ok = auth_check_pair(cfg->auth_users, cfg->nauth_users, (unsigned char *)u->user, u->ulen,
                             (unsigned char *)u->pass, u->plen, &ss->user) == AUTH_OK;

    explicit_bzero(u, sizeof(*u));
    socks_reply2(ss, socks5_auth_reply, ok);
    if (!ok) {
        METRIC_INC(refused_auth);
        socks_drop(ss, "invalid credentials");
        return 0;
    }
    ss->stage = SOCKS_REQUEST;
    return 2;
}

/* Handles what is in the buffer. Returns 1 to read more, 0 when the session
 * moved on (upstream, or closed). */
static int
socks_step(struct socks_session *ss)
{
    const struct config *cfg = ss->s.env->cfg;
    long n;

    switch (ss->stage) {
    case SOCKS_GREETING: {
        struct socks5_greeting g;

        if (ss->version == 4) {
            n = socks4_parse_request(ss->in, ss->inlen, &ss->req);
            if (n > 0 && cfg->nauth_users > 0) {
                socks_fail(ss, 0, "SOCKS4 cannot authenticate (auth_user is set)");
                return 0;
            }
            break;
        }
        n = socks5_parse_greeting(ss->in, ss->inlen, &g);
        if (n <= 0)
            break;
        socks_consume(ss, n);
        return socks_method(ss, &g);
    }
    case SOCKS_AUTH: {
        struct socks_userpass u;

        n = socks5_parse_userpass(ss->in, ss->inlen, &u);
        if (n <= 0)
            break;
        socks_consume(ss, n);
        return socks_login(ss, &u);
    }
    case SOCKS_REQUEST:
        n = socks5_parse_request(ss->in, ss->inlen, &ss->req);
        break;
    default:
        return 0;
    }
    if (n == 0) {
        if (ss->inlen == sizeof(ss->in)) {
            socks_drop(ss, "SOCKS message too long");
            return 0;
        }
        return 1;
    }
    if (n == SOCKS_E_ATYP) {
        socks_fail(ss, SOCKS5_REP_ATYP, "SOCKS address type not supported");
        return 0;
    }
    if (n == SOCKS_E_COMMAND) {
        socks_fail(ss, SOCKS5_REP_COMMAND, "SOCKS command not supported (only CONNECT)");
        return 0;
    }
    if (n < 0) {
        if (ss->stage == SOCKS_REQUEST || ss->version == 4)
            socks_fail(ss, SOCKS5_REP_FAILURE, "malformed SOCKS request");
        else
            socks_drop(ss, "malformed SOCKS message");
        return 0;
    }
    socks_consume(ss, n); /* what is left is early data for the upstream */
    socks_request(ss);
    return 0;
}

static void
socks_read(struct conn *c)
{
    struct socks_session *ss = c->data;
    ssize_t n = conn_read(c, ss->in + ss->inlen, sizeof(ss->in) - ss->inlen);
    int r;

    if (n == WD_AGAIN)
        return;
    if (n <= 0) {
        session_close(&ss->s, n == 0 ? "client closed mid-greeting" : "client read error");
        return;
    }
    ss->inlen += (size_t)n;
    if (ss->version == 0)
        ss->version = ss->in[0] == 4 ? 4 : 5;
    /* Each round consumes a message or stops: bounded by the buffer. */
    while ((r = socks_step(ss)) == 2)
        ;
}

static void
socks_timeout(struct session *s)
{
    session_close(s, "the SOCKS greeting or request did not arrive in time");
}

/* ---- the intake ------------------------------------------------------------ */

static void
socks_start(struct session *s)
{
    struct socks_session *ss = (struct socks_session *)s;

    ss->user = -1;
    ss->rep = -1;
    metrics_intake(&s->intake, METRICS_INTAKE_SOCKS);
    s->client.on_read = socks_read;
    session_set_timer(s, socks_timeout, s->env->cfg->header_timeout);
    conn_want_read(&s->client, 1);
}

static void
socks_deny(struct session *s)
{
    session_close(s, "client address not allowed (allow/deny)");
}

static void
socks_close(struct session *s, const char *reason)
{
    struct socks_session *ss = (struct socks_session *)s;
    const struct config *cfg = s->env->cfg;
    uint64_t in = 0, out = 0;
    char target[SOCKS_MAX_NAME + 16] = "-", note[96];

    flight_free(ss->flight);
    ss->flight = NULL;
    if (s->relay != NULL) {
        in = s->relay->dir[0].bytes;
        out = s->relay->dir[1].bytes;
    }
    if (ss->req.version != 0)
        snprintf(target, sizeof(target), ss->req.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
                 ss->req.host, (unsigned)ss->req.port);
    metrics_bytes(in, out);
    log_access("client=%s proto=socks%d%s%s target=%s reply=%d upstream=%s in=%llu out=%llu "
               "time=%.3f%s close=\"%s\"",
               s->peer, ss->version ? ss->version : 5, cfg->nauth_users > 0 ? " user=" : "",
               cfg->nauth_users == 0 ? ""
               : ss->user >= 0       ? cfg->auth_users[ss->user].name
                                     : "-",
               target, ss->rep, session_up_name(s)[0] ? session_up_name(s) : "-",
               (unsigned long long)in, (unsigned long long)out, ev_now(s->env->loop) - s->t_start,
               session_shape_note(s, note, sizeof(note)), reason);
}

/* A graceful stop: a client still in its greeting gets the same grace as an
 * HTTP client waiting for its request, then a close; a tunnel goes on. */
static void
socks_stop(struct session *s)
{
    struct socks_session *ss = (struct socks_session *)s;
    double grace = s->env->cfg->shutdown_timeout < 1.0 ? s->env->cfg->shutdown_timeout : 1.0;

    if (ss->stage <= SOCKS_REQUEST && s->deadline - ev_now(s->env->loop) > grace)
        session_set_timer(s, socks_timeout, grace);
}

const struct proto proto_socks = {
    .name = "socks",
    .size = sizeof(struct socks_session),
    .start = socks_start,
    .deny = socks_deny,
    .close = socks_close,
    .stop = socks_stop,
};
