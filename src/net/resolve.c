/* Asynchronous name resolution for one worker process: a single c-ares channel
 * whose sockets and retransmit timer are libev watchers, requests that can be
 * cancelled at any time, and a small TTL cache so that repeated names cost no
 * round trip. Names of the hosts table (read by the supervisor at config load)
 * are answered before the cache and never reach c-ares, whose own lookup of
 * /etc/hosts is turned off: it would read the file on every query, inside the
 * loop. User callbacks always run from their own zero-delay timer, never from
 * inside c-ares and never from resolve_start. */
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hosts.h"
#include "log.h"
#include "metrics.h"
#include "resolve.h"

#define RESOLVE_CACHE_SIZE 64
#define RESOLVE_TTL_MIN    1.0
#define RESOLVE_TTL_MAX    300.0
#define RESOLVE_HOSTMAX    256 /* longest cacheable name, with the NUL */
/* c-ares waits t for the first try and 2t for the second (one server), so
 * t = timeout / 3 makes the whole exchange fit the caller's timeout. */
#define RESOLVE_TRIES 2

struct resolve_req {
    struct resolve_req *r_prev, *r_next; /* every live request, so shutdown can free them */
    resolve_cb r_cb;                     /* NULL once nothing is owed to the user */
    void *r_arg;
    uint16_t r_port;
    unsigned r_in_ares : 1; /* c-ares still holds a pointer to us: only its callback may free */
    unsigned r_done : 1;    /* r_status/r_res are final and wait for delivery */
    int r_status;
    ev_timer r_timer; /* the lookup timeout, then re-armed at 0 to deliver */
    struct resolve_result r_res;
    char r_host[]; /* lowercased name as asked */
};

/* One c-ares socket and the watcher that feeds its readiness to c-ares. */
struct resolve_sock {
    ev_io s_io;
    struct resolve_sock *s_next;
};

struct resolve_cache_ent {
    double c_added;              /* ev_now() when stored: the oldest entry is replaced first */
    double c_expires;            /* ev_now() after which the entry is stale */
    struct resolve_result c_res; /* ports are 0; filled in on every hit */
    char c_host[];
};

static struct {
    struct ev_loop *loop;
    ares_channel channel;      /* NULL when not initialised */
    const struct hosts *hosts; /* fixed answers asked first; NULL: none */
    double timeout;
    int destroying; /* inside ares_destroy: c-ares callbacks must not reach users */
    ev_timer timer; /* fires at ares_timeout() to let c-ares retransmit or give up */
    struct resolve_sock *socks;
    struct resolve_req *reqs;
    struct resolve_cache_ent *cache[RESOLVE_CACHE_SIZE];
} rs;

static void
lowercase(char *dst, const char *src, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char c = src[i];
        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    dst[n] = '\0';
}

static void
result_set_port(struct resolve_result *res, uint16_t port)
{
    int i;

    for (i = 0; i < res->n; i++) {
        struct sockaddr *sa = (struct sockaddr *)&res->addr[i];
        if (sa->sa_family == AF_INET)
            ((struct sockaddr_in *)sa)->sin_port = htons(port);
        else if (sa->sa_family == AF_INET6)
            ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
    }
}

/* IPv4 dotted quads and IPv6 literals, the latter with or without brackets. */
static int
parse_literal(const char *host, struct resolve_result *res)
{
    char buf[INET6_ADDRSTRLEN + 2];
    uint8_t ip[16];
    size_t len = strlen(host);
    const char *lit = host;

    memset(res, 0, sizeof(*res));
    /* "[v6]" is IPv6 only; unbracketed, either family (addr_parse_ip). */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        if (len - 2 >= sizeof(buf) || addr_parse_ip(host + 1, len - 2, AF_INET6, ip) < 0)
            return 0;
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
        lit = buf;
    }
    if (addr_from_literal(lit, 0, &res->addr[0], &res->len[0]) != 0)
        return 0;
    res->n = 1;
    return 1;
}

/* RFC 6761 6.3: "localhost" and names under it are the loopback addresses
 * and never go to DNS (c-ares 1.18 refuses to ask for them and, with its own
 * hosts lookup off, would fail them), unless the hosts table says otherwise. */
static int
localhost_answer(const char *key, struct resolve_result *res)
{
    static const char name[] = "localhost";
    size_t n = strlen(key), k = sizeof(name) - 1;

    if (n > 0 && key[n - 1] == '.')
        n--;
    if (n < k || strncmp(key + n - k, name, k) != 0 || (n > k && key[n - k - 1] != '.'))
        return 0;
    memset(res, 0, sizeof(*res));
    addr_from_literal("127.0.0.1", 0, &res->addr[0], &res->len[0]);
    addr_from_literal("::1", 0, &res->addr[1], &res->len[1]);
    res->n = 2;
    return 1;
}

static struct resolve_cache_ent *
cache_find(const char *key)
{
    int i;

    for (i = 0; i < RESOLVE_CACHE_SIZE; i++)
        if (rs.cache[i] != NULL && strcmp(rs.cache[i]->c_host, key) == 0)
            return rs.cache[i];
    return NULL;
}

/* Stores a successful answer. The slot is, in order of preference: the same
 * name, a free slot, an expired entry, the oldest entry. Out of memory only
 * means the answer is not cached. */
static void
cache_put(const char *key, const struct resolve_result *res, double ttl)
{
    double now = ev_now(rs.loop);
    size_t len = strlen(key);
    struct resolve_cache_ent *e;
    int i, slot = -1;

    if (len >= RESOLVE_HOSTMAX || res->n < 1)
        return;
    for (i = 0; i < RESOLVE_CACHE_SIZE && slot < 0; i++)
        if (rs.cache[i] != NULL && strcmp(rs.cache[i]->c_host, key) == 0)
            slot = i;
    for (i = 0; i < RESOLVE_CACHE_SIZE && slot < 0; i++)
        if (rs.cache[i] == NULL)
            slot = i;
    for (i = 0; i < RESOLVE_CACHE_SIZE && slot < 0; i++)
        if (rs.cache[i]->c_expires <= now)
            slot = i;
    if (slot < 0) {
        slot = 0;
        for (i = 1; i < RESOLVE_CACHE_SIZE; i++)
            if (rs.cache[i]->c_added < rs.cache[slot]->c_added)
                slot = i;
    }
    free(rs.cache[slot]);
    rs.cache[slot] = NULL;

    e = malloc(sizeof(*e) + len + 1);
    if (e == NULL)
        return;
    if (ttl < RESOLVE_TTL_MIN)
        ttl = RESOLVE_TTL_MIN;
    if (ttl > RESOLVE_TTL_MAX)
        ttl = RESOLVE_TTL_MAX;
    e->c_added = now;
    e->c_expires = now + ttl;
    e->c_res = *res;
    result_set_port(&e->c_res, 0);
    memcpy(e->c_host, key, len + 1);
    rs.cache[slot] = e;
}

static void
cache_clear(void)
{
    int i;

    for (i = 0; i < RESOLVE_CACHE_SIZE; i++) {
        free(rs.cache[i]);
        rs.cache[i] = NULL;
    }
}

/* Re-arms the channel timer for c-ares's next deadline, or stops it when no
 * query is outstanding. A 1 ms floor keeps a deadline that c-ares rounds to
 * "now" from turning into a busy loop. */
static void
channel_timer_update(void)
{
    struct timeval tv;
    double after;

    if (rs.channel == NULL || rs.destroying)
        return;
    ev_timer_stop(rs.loop, &rs.timer);
    if (ares_timeout(rs.channel, NULL, &tv) == NULL)
        return;
    after = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    if (after < 0.001)
        after = 0.001;
    ev_timer_set(&rs.timer, after, 0.);
    ev_timer_start(rs.loop, &rs.timer);
}

static void
channel_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    ares_process_fd(rs.channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    channel_timer_update();
}

/* The watcher may be freed by sock_state_cb while ares_process_fd runs, so
 * nothing here touches w after that call. */
static void
sock_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    int fd = w->fd;

    ares_process_fd(rs.channel, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    channel_timer_update();
}

/* c-ares tells us which of its sockets it wants to read or write; a socket
 * with no interest left is being closed. */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct resolve_sock **pp, *s;
    int events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

    for (pp = &rs.socks; (s = *pp) != NULL; pp = &s->s_next)
        if (s->s_io.fd == fd)
            break;
    if (events == 0) {
        if (s != NULL) {
            ev_io_stop(rs.loop, &s->s_io);
            *pp = s->s_next;
            free(s);
        }
        return;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            /* The query on this socket will end at the request timeout. */
            log_warnx("resolver: out of memory watching a DNS socket");
            return;
        }
        ev_io_init(&s->s_io, sock_io_cb, fd, events);
        s->s_next = rs.socks;
        rs.socks = s;
        ev_io_start(rs.loop, &s->s_io);
    } else if ((s->s_io.events & (EV_READ | EV_WRITE)) != events) {
        ev_io_stop(rs.loop, &s->s_io);
        ev_io_set(&s->s_io, fd, events);
        ev_io_start(rs.loop, &s->s_io);
    }
}

static void
req_free(struct resolve_req *r)
{
    ev_timer_stop(rs.loop, &r->r_timer);
    if (r->r_prev != NULL)
        r->r_prev->r_next = r->r_next;
    else
        rs.reqs = r->r_next;
    if (r->r_next != NULL)
        r->r_next->r_prev = r->r_prev;
    free(r);
}

/* Keeps the outcome and lets the request's timer hand it over on the next
 * loop iteration, outside whatever c-ares or resolve_start call we are in. */
static void
req_finish_later(struct resolve_req *r, int status)
{
    r->r_done = 1;
    r->r_status = status;
    ev_timer_stop(rs.loop, &r->r_timer);
    ev_timer_set(&r->r_timer, 0., 0.);
    ev_timer_start(rs.loop, &r->r_timer);
}

/* Either delivers a finished result or, if c-ares has not answered in time,
 * reports a timeout; in the latter case the request lives on until c-ares
 * lets go of it. The user callback runs last, when we no longer touch r. */
static void
req_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct resolve_req *r = w->data;
    struct resolve_result res;
    resolve_cb cb = r->r_cb;
    void *arg = r->r_arg;
    int status = RESOLVE_ETIMEOUT;

    memset(&res, 0, sizeof(res));
    if (r->r_done) {
        status = r->r_status;
        if (status == RESOLVE_OK)
            res = r->r_res;
    }
    r->r_cb = NULL;
    if (!r->r_in_ares)
        req_free(r);
    if (cb != NULL && status != RESOLVE_OK)
        METRIC_INC(dns_failures);
    if (cb != NULL)
        cb(arg, status, &res);
}

static int
map_status(int status)
{
    switch (status) {
    case ARES_SUCCESS:
        return RESOLVE_OK;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
        return RESOLVE_ENOTFOUND;
    case ARES_ETIMEOUT:
        return RESOLVE_ETIMEOUT;
    default:
        return RESOLVE_EFAIL;
    }
}

/* Copies up to RESOLVE_MAX_ADDRS TCP-usable addresses in c-ares's order and
 * returns the smallest TTL among them. */
static double
result_from_ares(struct resolve_result *res, const struct ares_addrinfo *ai, uint16_t port)
{
    const struct ares_addrinfo_node *nd;
    double ttl = RESOLVE_TTL_MAX;

    memset(res, 0, sizeof(*res));
    for (nd = ai != NULL ? ai->nodes : NULL; nd != NULL && res->n < RESOLVE_MAX_ADDRS;
         nd = nd->ai_next) {
        if (nd->ai_addr == NULL || (nd->ai_family != AF_INET && nd->ai_family != AF_INET6))
            continue;
        if (nd->ai_addrlen > sizeof(res->addr[0]))
            continue;
        memcpy(&res->addr[res->n], nd->ai_addr, nd->ai_addrlen);
        res->len[res->n] = nd->ai_addrlen;
        res->n++;
        if ((double)nd->ai_ttl < ttl)
            ttl = (double)nd->ai_ttl;
    }
    result_set_port(res, port);
    return ttl;
}

/* c-ares's answer. It may come synchronously from inside ares_getaddrinfo, from
 * ares_process_fd, or from ares_destroy; in no case is the user called here. */
static void
ares_done_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    struct resolve_req *r = arg;
    int st;
    double ttl;

    r->r_in_ares = 0;
    /* During ares_destroy a request whose A answer already arrived may be
     * reported as a success; it is dropped all the same. */
    if (rs.destroying || r->r_cb == NULL) {
        if (ai != NULL)
            ares_freeaddrinfo(ai);
        req_free(r);
        return;
    }
    st = map_status(status);
    ttl = result_from_ares(&r->r_res, st == RESOLVE_OK ? ai : NULL, r->r_port);
    if (ai != NULL)
        ares_freeaddrinfo(ai);
    if (st == RESOLVE_OK && r->r_res.n == 0)
        st = RESOLVE_ENOTFOUND;
    if (st == RESOLVE_OK)
        cache_put(r->r_host, &r->r_res, ttl);
    req_finish_later(r, st);
}

int
resolve_init(struct ev_loop *loop, const char *servers, int flags, const struct hosts *hosts,
             double timeout, char *err, size_t errlen)
{
    static char dns_only[] = "b"; /* c-ares's lookup order: DNS, never its own hosts file */
    struct ares_options opts;
    int mask, status;
    double ms;

    if (rs.channel != NULL) {
        snprintf(err, errlen, "resolver already initialised");
        return -1;
    }
    if (!(timeout > 0)) {
        snprintf(err, errlen, "resolver timeout must be positive");
        return -1;
    }
    status = ares_library_init(ARES_LIB_INIT_ALL);
    if (status != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(status));
        return -1;
    }
    ms = timeout * 1000.0 / (double)((1 << RESOLVE_TRIES) - 1);
    if (ms < 10)
        ms = 10;
    if (ms > 60000)
        ms = 60000;
    memset(&opts, 0, sizeof(opts));
    opts.timeout = (int)ms;
    opts.tries = RESOLVE_TRIES;
    opts.sock_state_cb = sock_state_cb;
    opts.sock_state_cb_data = NULL;
    opts.lookups = dns_only;
    /* USEVC: TCP for every query, not only after a truncated UDP answer;
     * an injector that forges UDP answers has no part in the exchange. */
    opts.flags = (flags & RESOLVE_TCP) ? ARES_FLAG_USEVC : 0;
    mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS;
    if (flags & RESOLVE_TCP)
        mask |= ARES_OPT_FLAGS;

    rs.loop = loop;
    rs.timeout = timeout;
    rs.hosts = hosts;
    status = ares_init_options(&rs.channel, &opts, mask);
    if (status != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(status));
        goto fail;
    }
    if (servers != NULL && servers[0] != '\0') {
        status = ares_set_servers_ports_csv(rs.channel, servers);
        if (status != ARES_SUCCESS) {
            snprintf(err, errlen, "bad resolver list \"%s\": %s", servers, ares_strerror(status));
            goto fail;
        }
    }
    ev_timer_init(&rs.timer, channel_timer_cb, 0., 0.);
    return 0;

fail:
    if (rs.channel != NULL)
        ares_destroy(rs.channel);
    rs.channel = NULL;
    rs.loop = NULL;
    rs.hosts = NULL;
    ares_library_cleanup();
    return -1;
}

void
resolve_shutdown(void)
{
    struct resolve_sock *s;

    if (rs.channel == NULL)
        return;
    /* ares_destroy reports every outstanding query (ares_done_cb frees them)
     * and closes its sockets (sock_state_cb frees their watchers). */
    rs.destroying = 1;
    ares_destroy(rs.channel);
    rs.channel = NULL;
    while (rs.reqs != NULL)
        req_free(rs.reqs);
    while ((s = rs.socks) != NULL) {
        ev_io_stop(rs.loop, &s->s_io);
        rs.socks = s->s_next;
        free(s);
    }
    ev_timer_stop(rs.loop, &rs.timer);
    cache_clear();
    ares_library_cleanup();
    rs.destroying = 0;
    rs.loop = NULL;
    rs.hosts = NULL;
}

int
resolve_now(const char *host, uint16_t port, struct resolve_result *res)
{
    char key[RESOLVE_HOSTMAX];
    struct resolve_cache_ent *e;
    size_t len = strlen(host);

    if (parse_literal(host, res)) {
        result_set_port(res, port);
        return 1;
    }
    if (rs.channel == NULL || len >= sizeof(key))
        return 0;
    res->n = hosts_lookup(rs.hosts, host, res->addr, res->len, RESOLVE_MAX_ADDRS);
    if (res->n > 0) {
        result_set_port(res, port);
        return 1;
    }
    lowercase(key, host, len);
    if (localhost_answer(key, res)) {
        result_set_port(res, port);
        return 1;
    }
    e = cache_find(key);
    if (e == NULL || e->c_expires <= ev_now(rs.loop))
        return 0;
    *res = e->c_res;
    result_set_port(res, port);
    METRIC_INC(dns_cache_hits);
    return 1;
}

struct resolve_req *
resolve_start(const char *host, uint16_t port, resolve_cb cb, void *arg)
{
    struct ares_addrinfo_hints hints;
    struct resolve_req *r;
    size_t len = strlen(host);

    if (rs.channel == NULL) {
        errno = EINVAL;
        return NULL;
    }
    r = calloc(1, sizeof(*r) + len + 1);
    if (r == NULL)
        return NULL;
    lowercase(r->r_host, host, len);
    r->r_cb = cb;
    r->r_arg = arg;
    r->r_port = port;
    r->r_next = rs.reqs;
    if (rs.reqs != NULL)
        rs.reqs->r_prev = r;
    rs.reqs = r;
    ev_timer_init(&r->r_timer, req_timer_cb, rs.timeout, 0.);
    r->r_timer.data = r;
    ev_timer_start(rs.loop, &r->r_timer);

    if (resolve_now(host, port, &r->r_res)) {
        req_finish_later(r, RESOLVE_OK);
        return r;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->r_in_ares = 1;
    METRIC_INC(dns_lookups);
    /* May call ares_done_cb before returning; that only stores the result. */
    ares_getaddrinfo(rs.channel, r->r_host, NULL, &hints, ares_done_cb, r);
    channel_timer_update();
    return r;
}

void
resolve_cancel(struct resolve_req *r)
{
    if (r == NULL)
        return;
    r->r_cb = NULL;
    ev_timer_stop(rs.loop, &r->r_timer);
    if (!r->r_in_ares)
        req_free(r);
}

const char *
resolve_strerror(int status)
{
    switch (status) {
    case RESOLVE_OK:
        return "ok";
    case RESOLVE_ENOTFOUND:
        return "name not found";
    case RESOLVE_ETIMEOUT:
        return "DNS timeout";
    default:
        return "DNS failure";
    }
}
