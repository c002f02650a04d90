/* Client sessions, one struct for every mode. A session owns the accepted
 * client connection and at most one upstream connection, the pending name
 * lookup or connect, the relay of its blind phases and one phase timer; it
 * is on the worker's list from accept to session_close(), the one way out.
 * What differs between intakes (HTTP, CONNECT and the tunnel after it, TCP
 * mode) is a struct proto: an ops table chosen at accept, whose session
 * struct begins with a struct session. */
#ifndef WARPD_SESSION_H
#define WARPD_SESSION_H

#include <ev.h>
#include <sys/socket.h>

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "resolve.h"

struct session;
struct relay;
struct upstream_connect;

/* Worker-wide context the sessions share (read-only config, counters). */
struct session_env {
    struct ev_loop *loop;
    const struct config *cfg;
    int active;        /* sessions alive */
    int stopping;      /* graceful stop in progress */
    int accept_paused; /* at max_connections with no idle session to close */
    /* Sessions came or went, or (while accept_paused) one became idle. */
    void (*on_count_change)(struct session_env *env);
    struct session *sessions;               /* live sessions */
    struct session *idle_first, *idle_last; /* kept alive between requests */
    /* Closed sessions wait here until the callbacks that closed them have
     * returned: the reaper frees them before the loop polls again. */
    struct session *dead;
    ev_prepare reaper;
};

/* An intake: how a session of one mode behaves. The session core calls
 * these; they never call each other through it. */
struct proto {
    const char *name;
    size_t size; /* the intake's session struct, which begins with struct session */
    /* A client was accepted: start reading, or resolve and connect. */
    void (*start)(struct session *s);
    /* A client the allow/deny rules refuse, before anything is read. */
    void (*deny)(struct session *s);
    /* The session ends: write the access line and release what the intake
     * holds. The core has already stopped the timer, the lookup, the
     * connect and the relay; it closes both sockets afterwards. */
    void (*close)(struct session *s, const char *reason);
    /* A graceful stop began (NULL: the session just finishes). */
    void (*stop)(struct session *s);
};

typedef void (*session_timer_cb)(struct session *s);
/* Lookup done: status RESOLVE_OK with the addresses, or a RESOLVE_E* code. */
typedef void (*session_resolved_cb)(struct session *s, int status,
                                    const struct resolve_result *res);
/* Connect done: 0 with s->up open and s->up_name set, or the errno of the
 * last address tried. */
typedef void (*session_connected_cb)(struct session *s, int err);

/* What a session holds only while it has, or is getting, an upstream
 * connection: allocated by the first lookup, connect or pooled connection,
 * and freed when the session closes or (HTTP) its request is over, so that
 * a client waiting for a request does not pay for it. */
struct session_up {
    struct conn conn;            /* fd -1 when none */
    struct resolve_req *rq;      /* pending lookup, or NULL */
    struct upstream_connect *uc; /* while connecting only: it is large */
    union {                      /* the step under way: a lookup, or a connect */
        session_resolved_cb resolved;
        session_connected_cb connected;
    } then;
    char name[WD_ADDRSTRLEN]; /* upstream address as connected, "" if none */
};

struct session {
    struct session_env *env;
    const struct proto *proto;
    struct session *prev, *next;           /* the worker's live sessions */
    struct session *idle_prev, *idle_next; /* kept alive between requests, oldest first */
    struct conn client;
    struct session_up *up;       /* the upstream side, or NULL (session_up_get) */
    struct relay *relay;         /* blind phases only (TCP mode, tunnels) */
    ev_timer timer;              /* fires at `armed`, at or before `deadline` */
    ev_tstamp deadline;          /* the current phase's timeout, absolute (ev_now) */
    ev_tstamp armed;             /* when the timer fires, while it is active */
    session_timer_cb on_timeout; /* the phase's handler */
    ev_tstamp t_start;  /* what the access line times from: the session, or (HTTP) the request */
    unsigned char *hdr; /* a PROXY header being read (listen ... proxy_protocol), or NULL */
    uint32_t hdr_len;
    unsigned char closed : 1;  /* session_close ran: nothing more happens */
    unsigned char in_idle : 1; /* on the idle list */
    unsigned char shape;       /* strategy of the first flight's last try (access line) */
    unsigned char shape_tries; /* tries of the first flight; 0: not shaped */
    unsigned char intake;      /* metrics.h METRICS_INTAKE_*: where it counts as active */
    char peer[WD_ADDRSTRLEN];  /* client address as text */
};

/* Sets up the worker's context (the reaper). */
void session_env_init(struct session_env *env, struct ev_loop *loop, const struct config *cfg);
/* Starts a session of the intake proto on an accepted non-blocking client
 * socket (after the allow/deny check: proto->deny for a refused client).
 * proxy_header: the listener expects a PROXY protocol header first; the
 * address it carries is then the client's, for allow/deny, the log and all
 * the rest. */
void session_start(struct session_env *env, const struct proto *proto, int fd,
                   const struct sockaddr *peer, socklen_t len, int proxy_header);
/* The one way out: stops every watcher, cancels the lookup and the connect,
 * stops the relay, lets the intake log and release, closes both sockets.
 * Safe from inside any of the session's callbacks and more than once: the
 * memory stays valid (s->closed set) until the loop is about to poll. */
void session_close(struct session *s, const char *reason);

/* Cancels the lookup or the connect under way and closes the upstream
 * connection: the session goes on without one (a new request, a retry). */
void session_drop_upstream(struct session *s);
/* The upstream side, allocated (with a closed connection) when there is
 * none yet; NULL when memory is short. */
struct session_up *session_up_get(struct session *s);
/* Drops the upstream (session_drop_upstream) and frees its side. */
void session_up_free(struct session *s);

/* Whether the session has an open upstream connection. */
static inline int
session_up_open(const struct session *s)
{
    return s->up != NULL && s->up->conn.fd >= 0;
}

/* The upstream address as connected, "" when none. */
static inline const char *
session_up_name(const struct session *s)
{
    return s->up != NULL ? s->up->name : "";
}

/* The phase timer. Only moved when a deadline comes earlier than the one it
 * is armed for; a later one re-arms when the timer fires early, so a
 * keep-alive exchange costs no timer heap operation. */
void session_set_timer(struct session *s, session_timer_cb cb, double after);
void session_stop_timer(struct session *s);

/* Looks host up (from the cache at once when it can: the callback then runs
 * inside this call). Returns WD_OK, or WD_ERROR when the resolver is unavailable. */
int session_resolve(struct session *s, const char *host, uint16_t port, session_resolved_cb cb);
/* The destination filter (deny_dest, allow_dest, the safe default) on the
 * addresses a lookup gave, in forward and transparent modes (reverse and
 * tcp: res as it is). Returns res when every address is allowed, scratch
 * holding the allowed ones in order when some are, or NULL when none is;
 * then why says which address was refused and by what ("destination
 * 127.0.0.1:22 denied (default: loopback)", for the answer and the access
 * line) and an info line was logged, at most 10 per second per worker. */
const struct resolve_result *session_dest_filter(struct session *s,
                                                 const struct resolve_result *res,
                                                 struct resolve_result *scratch, char *why,
                                                 size_t whylen);
/* Connects to the addresses in turn (connect_timeout each). Returns WD_OK,
 * or WD_ERROR when out of memory. */
int session_connect(struct session *s, const struct resolve_result *res, session_connected_cb cb);
/* Relays bytes both ways until both sides are done, then closes the
 * session with the reason end (or what went wrong); idle_timeout applies.
 * pre_ab/pre_ba: bytes for the upstream and the client, sent first (owned
 * by the relay). Returns WD_OK, or WD_ERROR after closing the session. */
int session_relay(struct session *s, struct buf *pre_ab, struct buf *pre_ba, const char *end);

/* A PROXY protocol header (version 1 or 2) telling an upstream who the
 * client is (the socket's peer, or what a PROXY header in front said) and
 * the address it connected to. Returns its length (0: cap too small). */
size_t session_proxy_header(struct session *s, int version, unsigned char *out, size_t cap);

/* " shape=NAME tries=N" for the access line when the first flight was
 * shaped (s->shape_tries > 0), else "", written into buf. */
const char *session_shape_note(const struct session *s, char *buf, size_t cap);

/* The session now waits, kept alive, for its next request, or no longer. */
void session_idle_enter(struct session *s);
void session_idle_leave(struct session *s);
/* Whether a session waits, kept alive, for its next request; and closing
 * the one that waited the longest (1 if there was one), to admit a new
 * client at max_connections. */
int session_have_idle(const struct session_env *env);
int session_close_idle(struct session_env *env);

/* Graceful stop: each intake is told (HTTP: the grace for connections
 * waiting for a request); the others finish on their own. */
void session_stop_all(struct session_env *env);
/* Closes every session now (shutdown timeout, worker exit) and frees them. */
void session_close_all(struct session_env *env, const char *reason);

#endif
