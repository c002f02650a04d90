/* The first flight of a blind tunnel, shaped by what it is (see flight.h).
 * The client's first bytes are collected (at most one pooled buffer, within
 * header_timeout) until they are a complete TLS record or an HTTP head, or
 * clearly neither; the upstream is watched meanwhile, and if it speaks
 * first (SSH, SMTP) nothing is shaped. The plan goes out through the
 * shaping executor; the bytes after it, and everything else, through the
 * relay. */
#include "flight.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "shape.h"
#include "shape_exec.h"

struct flight {
    struct session *s;
    struct buf *in;  /* the client's first bytes */
    const char *end; /* the relay's clean close reason */
    size_t flight;   /* bytes of in the plan covers */
    int strategy;
    unsigned by_bytes : 1; /* the client gave an address: rules see the SNI or Host */
    struct shape_exec x;
    struct shape_plan plan;
    unsigned running : 1; /* the executor has the upstream's write side */
    char bytes[];         /* the plan's buffer */
};

static uint64_t flight_rng; /* the worker's generator for warp's random parts */

static uint64_t *
flight_rng_state(const struct config *cfg)
{
    if (flight_rng == 0) {
        uint64_t seed = cfg->shape_seed;

        if (seed == 0 && getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
            seed = ((uint64_t)getpid() << 32) ^ (uint64_t)(ev_time() * 1e6);
        flight_rng = seed != 0 ? seed : 1;
    }
    return &flight_rng;
}

void
flight_free(struct flight *f)
{
    if (f == NULL)
        return;
    if (f->running)
        shape_exec_cancel(&f->x);
    buf_put(f->in);
    free(f);
}

/* The flight is out (or was never shaped): relay the rest. The session
 * owns f until it closes; only the buffer moves to the relay here. */
static void
flight_relay(struct flight *f)
{
    struct buf *rest = f->in;

    f->in = NULL;
    f->running = 0;
    if (rest != NULL) {
        rest->start += (uint32_t)f->flight;
        if (buf_len(rest) == 0) {
            buf_put(rest);
            rest = NULL;
        }
    }
    session_relay(f->s, rest, NULL, f->end);
}

static void
flight_sent(struct shape_exec *x, int err)
{
    struct flight *f = x->data;

    if (err != 0) {
        session_close(f->s, "could not send the first flight upstream");
        return;
    }
    flight_relay(f);
}

/* The length of a complete HTTP/1.x head at the start of b, 0 while it may
 * still come, -1 when the bytes are no HTTP head. */
static long
flight_http_head(const char *b, size_t len)
{
    size_t i = 0;

    while (i < len && b[i] >= 'A' && b[i] <= 'Z')
        i++;
    if (i == len)
        return 0;
    if (i == 0 || b[i] != ' ')
        return -1;
    for (i = 3; i < len; i++)
        if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r')
            return (long)(i + 1);
    return 0;
}

/* The client gave an address: the Host of its request head picks the
 * per-destination rule, if the head has one. */
static void
flight_host_strategy(struct flight *f, const char *b, size_t len)
{
    char host[256];
    size_t i, n = 0;

    for (i = 0; i + 7 < len; i++) {
        if (b[i] == '\n' && strncasecmp(b + i + 1, "host:", 5) == 0) {
            i += 6;
            while (i < len && (b[i] == ' ' || b[i] == '\t'))
                i++;
            while (i < len && n < sizeof(host) - 1 && b[i] != '\r' && b[i] != ':' && b[i] != ' ')
                host[n++] = b[i++];
            host[n] = '\0';
            if (n > 0)
                f->strategy = config_shape_for(f->s->env->cfg, host);
            return;
        }
    }
}

/* What is in f->in: 1 planned (f->plan, f->flight), 0 wait for more, -1
 * send as is. */
static int
flight_plan(struct flight *f)
{
    const struct config *cfg = f->s->env->cfg;
    const char *b = f->in->data + f->in->start;
    size_t len = buf_len(f->in);
    struct shape_policy pol;
    long head;

    if ((unsigned char)b[0] == 0x16) {
        size_t rec;
        char sni[256];

        if (len < 5)
            return 0;
        rec = 5 + ((size_t)(unsigned char)b[3] << 8 | (unsigned char)b[4]);
        if (cfg->tls_split == 0 || rec + SHAPE_TLS_GROWTH > f->plan.cap)
            return -1;
        if (len < rec)
            return 0;
        if (f->by_bytes && shape_tls_sni(b, rec, sni, sizeof(sni)) > 0)
            f->strategy = config_shape_for(cfg, sni);
        if (f->strategy == SHAPE_OFF)
            return -1;
        shape_policy_init(cfg, f->strategy, &pol);
        f->flight = rec;
        return shape_plan_tls(b, rec, &pol, &f->plan) == 0 ? 1 : -1;
    }
    if ((head = flight_http_head(b, len)) <= 0)
        return (int)head;
    if (f->by_bytes)
        flight_host_strategy(f, b, (size_t)head);
    if (f->strategy == SHAPE_OFF)
        return -1;
    shape_policy_init(cfg, f->strategy, &pol);
    if (shape_plan_size((size_t)head, &pol) > f->plan.cap)
        return -1;
    f->flight = (size_t)head;
    return shape_plan_request(b, (size_t)head, &pol, flight_rng_state(cfg), &f->plan) == 0 ? 1 : -1;
}

/* The client's bytes, while they may still become a flight to shape. The
 * conns' data pointers are f for the time of the flight (the relay takes
 * them over after it, as it does with every conn it is given). */
static void
flight_client_read(struct conn *c)
{
    struct flight *f = c->data;
    struct session *s = f->s;
    ssize_t n = conn_read(c, f->in->data + f->in->end, BUF_SIZE - f->in->end);
    int r;

    if (n == WD_AGAIN)
        return;
    if (n <= 0) {
        session_close(s, n == 0 ? "client closed" : "client read error");
        return;
    }
    f->in->end += (uint32_t)n;
    r = flight_plan(f);
    if (r == 0 && f->in->end < BUF_SIZE)
        return;
    conn_want_read(c, 0);
    conn_want_read(&s->up, 0);
    session_stop_timer(s);
    if (r <= 0) {
        f->flight = 0;
        flight_relay(f);
        return;
    }
    f->running = 1;
    shape_exec_start(&f->x, &s->up, &f->plan, flight_sent, f);
}

/* The upstream speaks first (or closes): nothing to shape, relay at once. */
static void
flight_up_read(struct conn *c)
{
    struct flight *f = c->data;

    conn_want_read(&f->s->client, 0);
    conn_want_read(c, 0);
    session_stop_timer(f->s);
    f->flight = 0;
    flight_relay(f);
}

/* The client sent nothing in header_timeout: relay, unshaped. */
static void
flight_timeout(struct session *s)
{
    struct flight *f = s->client.data;

    conn_want_read(&s->client, 0);
    conn_want_read(&s->up, 0);
    f->flight = 0;
    flight_relay(f);
}

/* A name decides the strategy at once; an address only once the first
 * bytes show the SNI or Host that the per-destination rules may name. */
static int
flight_by_bytes(const struct config *cfg, const char *host)
{
    unsigned char ip[16];

    return cfg->nshape_rules > 0 && addr_parse_ip(host, strlen(host), AF_UNSPEC, ip) >= 0;
}

int
flight_wanted(const struct config *cfg, const char *host)
{
    return config_shape_for(cfg, host) != SHAPE_OFF || flight_by_bytes(cfg, host);
}

struct flight *
flight_start(struct session *s, const char *host, const void *early, size_t elen, const char *end)
{
    const struct config *cfg = s->env->cfg;
    int strategy = config_shape_for(cfg, host);
    struct shape_policy pol;
    size_t cap;
    struct flight *f = NULL;
    int r, by_bytes;

    shape_policy_init(cfg, strategy, &pol);
    /* Room for a 16 KiB first flight, as planned for the larger of the two. */
    cap = shape_plan_size(BUF_SIZE, &pol);
    if (cap < BUF_SIZE + SHAPE_TLS_GROWTH)
        cap = BUF_SIZE + SHAPE_TLS_GROWTH;
    by_bytes = flight_by_bytes(cfg, host);
    if ((strategy == SHAPE_OFF && !by_bytes) || elen > BUF_SIZE ||
        (f = calloc(1, sizeof(*f) + cap)) == NULL || (f->in = buf_get()) == NULL) {
        struct buf *b = elen > 0 && elen <= BUF_SIZE ? buf_get() : NULL;

        free(f);
        if (b != NULL) {
            memcpy(b->data, early, elen);
            b->end = (uint32_t)elen;
        }
        session_relay(s, b, NULL, end);
        return NULL;
    }
    if (elen > 0)
        memcpy(f->in->data, early, elen);
    f->in->end = (uint32_t)elen;
    f->s = s;
    f->end = end;
    f->strategy = strategy;
    f->by_bytes = by_bytes;
    f->plan.buf = f->bytes;
    f->plan.cap = cap;
    s->client.data = f;
    s->client.on_read = flight_client_read;
    s->up.data = f;
    s->up.on_read = flight_up_read;
    conn_want_read(&s->client, 1);
    conn_want_read(&s->up, 1);
    session_set_timer(s, flight_timeout, cfg->header_timeout);
    /* Bytes the client sent with its request may be the whole flight. */
    if (elen > 0 && (r = flight_plan(f)) != 0) {
        conn_want_read(&s->client, 0);
        conn_want_read(&s->up, 0);
        session_stop_timer(s);
        if (r < 0) {
            f->flight = 0;
            flight_relay(f);
        } else {
            f->running = 1;
            shape_exec_start(&f->x, &s->up, &f->plan, flight_sent, f);
        }
    }
    return f;
}
