/* Client sessions. A session owns the client connection and at most one
 * upstream connection and moves through phases: resolving the upstream name,
 * connecting, relaying. Each phase has one timer, and session_close() is the
 * only way out: it cancels whatever is in flight, closes both sockets, writes
 * the access line and frees. The HTTP modes live in proxy.c. */
#include "session.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acl.h"
#include "addr.h"
#include "conn.h"
#include "log.h"
#include "proxy.h"
#include "relay.h"
#include "resolve.h"
#include "upstream.h"

enum session_phase {
    PH_RESOLVING,  /* waiting for the resolver */
    PH_CONNECTING, /* upstream connect in progress */
    PH_RELAYING,   /* bytes flowing both ways */
};

struct session {
    struct session_env *s_env;
    struct session *s_prev, *s_next; /* the worker's list of live sessions */
    enum session_phase s_phase;
    struct conn s_client;
    struct conn s_upstream;             /* fd -1 until connected */
    struct resolve_req *s_resolve;      /* pending lookup, or NULL */
    struct upstream_connect *s_connect; /* while connecting only: it is large */
    struct relay s_relay;
    ev_timer s_timer; /* the current phase's timeout */
    ev_tstamp s_start;
    char s_peer[WD_ADDRSTRLEN];                  /* client address as text */
    char s_upname[WD_ADDRSTRLEN + ADDR_HOSTMAX]; /* upstream as configured, then as connected */
};

static struct session *sessions; /* live sessions of this worker */

static void session_close(struct session *s, const char *reason);

static void
session_set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
session_close(struct session *s, const char *reason)
{
    struct session_env *env = s->s_env;
    uint64_t in = 0, out = 0;

    if (s->s_resolve != NULL)
        resolve_cancel(s->s_resolve);
    if (s->s_connect != NULL) {
        upstream_cancel(s->s_connect);
        free(s->s_connect);
    }
    if (s->s_phase == PH_RELAYING) {
        relay_stop(&s->s_relay);
        in = s->s_relay.dir[0].bytes;
        out = s->s_relay.dir[1].bytes;
    }
    ev_timer_stop(env->loop, &s->s_timer);
    conn_close(&s->s_client);
    conn_close(&s->s_upstream);
    log_access("client=%s upstream=%s in=%llu out=%llu time=%.3f close=\"%s\"", s->s_peer,
               s->s_upname, (unsigned long long)in, (unsigned long long)out,
               ev_now(env->loop) - s->s_start, reason);

    if (s->s_prev != NULL)
        s->s_prev->s_next = s->s_next;
    else
        sessions = s->s_next;
    if (s->s_next != NULL)
        s->s_next->s_prev = s->s_prev;
    free(s);
    env->active--;
    if (env->on_count_change != NULL)
        env->on_count_change(env);
}

/* ---- relaying ------------------------------------------------------- */

static void
session_relay_done(struct relay *r, const char *reason)
{
    session_close(r->data, reason != NULL ? reason : "done");
}

/* Idle timeout without re-arming on every byte: the relay stamps the time of
 * its last transfer and this timer re-aims itself at the remaining time. */
static void
session_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct session *s = w->data;
    ev_tstamp idle = s->s_env->cfg->idle_timeout;
    ev_tstamp left = s->s_relay.last_active + idle - ev_now(loop);

    if (left <= 0) {
        session_close(s, "idle timeout");
        return;
    }
    w->repeat = left;
    ev_timer_again(loop, w);
}

static void
session_connected(void *arg, int fd, int idx, int err)
{
    struct session *s = arg;
    char reason[128];

    if (fd < 0) {
        snprintf(reason, sizeof(reason), "upstream connect: %s",
                 err == ETIMEDOUT ? "timed out" : strerror(err));
        session_close(s, reason);
        return;
    }
    addr_format((struct sockaddr *)&s->s_connect->addrs.addr[idx], s->s_upname,
                sizeof(s->s_upname));
    free(s->s_connect); /* allowed from inside its callback */
    s->s_connect = NULL;
    conn_init(&s->s_upstream, s->s_env->loop, fd, s);
    s->s_phase = PH_RELAYING;
    relay_start(&s->s_relay, &s->s_client, &s->s_upstream, NULL, NULL, "client", "upstream",
                session_relay_done, s);
    relay_use_splice(&s->s_relay); /* blind bytes: zero-copy when pipes can be had */
    ev_timer_stop(s->s_env->loop, &s->s_timer);
    ev_timer_init(&s->s_timer, session_idle_cb, 0., s->s_env->cfg->idle_timeout);
    s->s_timer.data = s;
    ev_timer_again(s->s_env->loop, &s->s_timer);
}

static void
session_connect(struct session *s, const struct resolve_result *res)
{
    s->s_phase = PH_CONNECTING;
    s->s_connect = malloc(sizeof(*s->s_connect));
    if (s->s_connect == NULL) {
        session_close(s, "out of memory");
        return;
    }
    upstream_connect_start(s->s_connect, s->s_env->loop, res, s->s_env->cfg->connect_timeout,
                           session_connected, s);
}

static void
session_resolved(void *arg, int status, const struct resolve_result *res)
{
    struct session *s = arg;
    char reason[128];

    s->s_resolve = NULL;
    if (status != RESOLVE_OK) {
        snprintf(reason, sizeof(reason), "upstream resolve: %s", resolve_strerror(status));
        session_close(s, reason);
        return;
    }
    session_connect(s, res);
}

static void
session_start_tcp(struct session *s)
{
    const struct config *cfg = s->s_env->cfg;
    struct resolve_result res;

    if (resolve_now(cfg->upstream_host, cfg->upstream_port, &res)) {
        session_connect(s, &res);
        return;
    }
    s->s_phase = PH_RESOLVING;
    s->s_resolve = resolve_start(cfg->upstream_host, cfg->upstream_port, session_resolved, s);
    if (s->s_resolve == NULL)
        session_close(s, "upstream resolve: out of memory");
}

/* ---- clients the allow/deny rules refuse ------------------------------ */

/* A denied address that reconnects in a loop must not flood the error log:
 * at most this many info lines per second per worker, the rest counted and
 * the count given with the next line. The access log still has every one. */
#define SESSION_DENY_LOG_MAX 10

static ev_tstamp deny_window;       /* start of the current second */
static int deny_logged;             /* lines logged in it */
static unsigned long deny_unlogged; /* denied clients not logged since the last line */

static void
session_log_denied(struct session_env *env, const char *peer, int rule)
{
    const struct config *cfg = env->cfg;
    ev_tstamp now = ev_now(env->loop);
    char why[ACL_TEXTLEN + 16], more[64] = "";

    if (now - deny_window >= 1.0) {
        deny_window = now;
        deny_logged = 0;
    }
    if (deny_logged >= SESSION_DENY_LOG_MAX) {
        deny_unlogged++;
        return;
    }
    deny_logged++;
    if (rule >= 0) {
        char r[ACL_TEXTLEN];

        snprintf(why, sizeof(why), "by '%s'", acl_format(&cfg->acl[rule], r, sizeof(r)));
    } else {
        snprintf(why, sizeof(why), "(no rule matches: denied by default)");
    }
    if (deny_unlogged > 0)
        snprintf(more, sizeof(more), " (and %lu more denied clients not logged)", deny_unlogged);
    deny_unlogged = 0;
    log_info("%s: client denied %s%s", peer, why, more);
}

/* Refuses a client before anything is read from it: a tcp-mode client is
 * closed at once (it gets no byte); an HTTP client gets 403 (proxy_deny). */
static void
session_deny(struct session_env *env, int fd, const struct sockaddr *peer, socklen_t len, int rule)
{
    char text[WD_ADDRSTRLEN];

    addr_format(peer, text, sizeof(text));
    session_log_denied(env, text, rule);
    if (env->cfg->mode != MODE_TCP) {
        proxy_deny(env, fd, peer, len);
        return;
    }
    close(fd);
    log_access("client=%s upstream=- in=0 out=0 time=0.000 close=\"client address not allowed "
               "(allow/deny)\"",
               text);
}

/* ---- public --------------------------------------------------------- */

void
session_start(struct session_env *env, int fd, const struct sockaddr *peer, socklen_t len)
{
    const struct config *cfg = env->cfg;
    struct session *s;
    int rule;

    /* With no rules (the default) this is the only cost: one branch. */
    if (cfg->nacl > 0 && !acl_allows(cfg->acl, cfg->nacl, peer, &rule)) {
        session_deny(env, fd, peer, len, rule);
        return;
    }
    if (env->cfg->mode != MODE_TCP) {
        proxy_start(env, fd, peer, len);
        return;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        log_warnx("out of memory, dropping a client");
        close(fd);
        return;
    }
    s->s_env = env;
    s->s_start = ev_now(env->loop);
    conn_init(&s->s_client, env->loop, fd, s);
    conn_init(&s->s_upstream, env->loop, -1, s);
    ev_init(&s->s_timer, NULL);
    s->s_timer.data = s;
    addr_format(peer, s->s_peer, sizeof(s->s_peer));
    snprintf(s->s_upname, sizeof(s->s_upname), "%s:%u", env->cfg->upstream_host,
             (unsigned)env->cfg->upstream_port);
    session_set_nodelay(fd);

    s->s_next = sessions;
    if (sessions != NULL)
        sessions->s_prev = s;
    sessions = s;
    env->active++;

    session_start_tcp(s);
}

void
session_stop_idle(struct session_env *env)
{
    /* A TCP relay is always in flight: only HTTP sessions can be idle. */
    proxy_stop_idle(env);
}

int
session_have_idle(void)
{
    /* Only HTTP sessions wait between requests. */
    return proxy_have_idle();
}

int
session_close_idle(void)
{
    return proxy_close_idle();
}

void
session_close_all(struct session_env *env, const char *reason)
{
    proxy_close_all(env, reason);
    while (sessions != NULL)
        session_close(sessions, reason);
}
