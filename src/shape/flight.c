/* The first flight of a tunnel, shaped by what it is (see flight.h).
 * The client's first bytes are collected (at most one pooled buffer, within
 * header_timeout) until they are a complete TLS record or an HTTP head, or
 * clearly neither; the upstream is watched meanwhile, and if it speaks
 * first (SSH, SMTP) nothing is shaped. The plan goes out through the
 * shaping executor; the bytes after it, and everything else, through the
 * relay.
 *
 * With auto, after the plan is out the upstream's first answer is awaited
 * (shape_auto_timeout): a reset, a close, silence or a redirect to a block
 * page is a blocked try. When the flight may be sent again (a ClientHello;
 * an idempotent HTTP request without a body), the upstream connection is
 * dropped, a new one made to the same address and the same bytes planned
 * with the next strategy. The client sees only the try that passed. */
#include "flight.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "shape.h"
#include "shape_auto.h"
#include "shape_exec.h"

enum flight_kind { FK_UNKNOWN, FK_TLS, FK_HTTP, FK_OTHER };

struct flight {
    struct session *s;
    struct buf *in;          /* the client's first bytes (kept whole for replays) */
    struct buf *ans;         /* auto: the upstream's first answer bytes */
    const char *end;         /* the relay's clean close reason */
    size_t flight;           /* bytes of in the plan covers */
    int strategy;            /* the destination's strategy (SHAPE_AUTO included) */
    int kind;                /* enum flight_kind, once known */
    unsigned by_bytes : 1;   /* the client gave an address: rules see the SNI or Host */
    unsigned running : 1;    /* the executor has the upstream's write side */
    unsigned is_auto : 1;    /* strategy is auto: judge and maybe replay */
    unsigned replayable : 1; /* the flight may be sent again on a new connection */
    struct shape_auto au;
    /* auto: the upstream's address, for the replays (a reset socket no
     * longer says whom it was connected to) */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct shape_exec x;
    struct shape_plan plan; /* plan.buf is malloc'd per try */
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
    buf_put(f->ans);
    free(f->plan.buf);
    free(f);
}

/* The flight is out (or was never shaped): relay the rest, with pre_ba (the
 * answer read while judging) for the client first. The session owns f until
 * it closes; only the buffers move to the relay here. */
static void
flight_relay(struct flight *f, struct buf *pre_ba)
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
    session_relay(f->s, rest, pre_ba, f->end);
}

/* Both sides quiet while warpd sends or waits for an answer. */
static void
flight_hold(struct flight *f)
{
    conn_want_read(&f->s->client, 0);
    conn_want_read(&f->s->up->conn, 0);
    session_stop_timer(f->s);
}

/* ---- what the bytes are ----------------------------------------------- */

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

/* The value of the first field called name (with its colon) in head, into
 * out[cap] up to a blank, CR or ':' (so a Host loses its port). */
static size_t
flight_field(const char *b, size_t len, const char *name, char *out, size_t cap)
{
    size_t i, n = 0, nl = strlen(name);

    for (i = 0; i + nl + 1 < len; i++) {
        if (b[i] != '\n' || strncasecmp(b + i + 1, name, nl) != 0)
            continue;
        i += nl + 1;
        while (i < len && (b[i] == ' ' || b[i] == '\t'))
            i++;
        while (i < len && n < cap - 1 && b[i] != '\r' && b[i] != ':' && b[i] != ' ')
            out[n++] = b[i++];
        break;
    }
    out[n] = '\0';
    return n;
}

/* May this HTTP head be sent again on a new connection? An idempotent
 * method, no body, nothing after it (a body or a pipelined request). */
static int
flight_http_replayable(const char *b, size_t head, size_t have)
{
    static const char *const safe[] = {"GET ", "HEAD ", "OPTIONS ", "TRACE ", NULL};
    char v[32];
    int i;

    if (have != head)
        return 0;
    for (i = 0; safe[i] != NULL && strncmp(b, safe[i], strlen(safe[i])) != 0; i++)
        ;
    if (safe[i] == NULL || flight_field(b, head, "transfer-encoding:", v, sizeof(v)) > 0)
        return 0;
    return flight_field(b, head, "content-length:", v, sizeof(v)) == 0 || strcmp(v, "0") == 0;
}

/* Looks at f->in once it can tell what it is: sets f->kind and f->flight,
 * the strategy by the SNI or Host when the client gave an address, and
 * whether a replay is safe. Returns 1 known, 0 wait for more. */
static int
flight_classify(struct flight *f)
{
    const struct config *cfg = f->s->env->cfg;
    const char *b = f->in->data + f->in->start;
    size_t len = buf_len(f->in), rec;
    char name[256];
    long head;

    if ((unsigned char)b[0] == 0x16) {
        if (len < 5)
            return 0;
        rec = 5 + ((size_t)(unsigned char)b[3] << 8 | (unsigned char)b[4]);
        if (rec > BUF_SIZE) {
            f->kind = FK_OTHER;
            return 1;
        }
        if (len < rec)
            return 0;
        f->kind = FK_TLS;
        f->flight = rec;
        f->replayable = 1; /* no application data has reached the server */
        if (f->by_bytes && shape_tls_sni(b, rec, name, sizeof(name)) > 0)
            f->strategy = config_shape_for(cfg, name);
        return 1;
    }
    if ((head = flight_http_head(b, len)) == 0)
        return 0;
    if (head < 0) {
        f->kind = FK_OTHER;
        return 1;
    }
    f->kind = FK_HTTP;
    f->flight = (size_t)head;
    f->replayable = flight_http_replayable(b, (size_t)head, len);
    if (f->by_bytes && flight_field(b, (size_t)head, "host:", name, sizeof(name)) > 0)
        f->strategy = config_shape_for(cfg, name);
    return 1;
}

/* ---- planning and sending --------------------------------------------- */

/* Plans f's flight with strategy st into a fresh buffer: 0 planned, 1
 * nothing to do for these bytes, -1 not possible. */
static int
flight_plan_with(struct flight *f, int st)
{
    const struct config *cfg = f->s->env->cfg;
    struct shape_policy pol;
    size_t cap;

    free(f->plan.buf);
    memset(&f->plan, 0, sizeof(f->plan));
    if (st == SHAPE_OFF)
        return 1;
    shape_policy_init(cfg, st, &pol);
    cap = shape_plan_size(f->flight, &pol);
    f->plan.buf = malloc(cap);
    if (f->plan.buf == NULL)
        return -1;
    f->plan.cap = cap;
    return shape_plan_flight(f->in->data + f->in->start, f->flight, &pol, flight_rng_state(cfg),
                             &f->plan);
}

static void flight_sent(struct shape_exec *x, int err);

/* Sends the flight with the try's strategy: planned, or (off, nothing to
 * do) as one plain segment through the same executor, so that the judging
 * after it is the same. Skips auto's strategies that do nothing here. */
static void
flight_send(struct flight *f)
{
    struct session *s = f->s;
    int st = f->is_auto ? shape_auto_current(&f->au) : f->strategy, r;

    while ((r = flight_plan_with(f, st)) == 1 && f->is_auto && st != SHAPE_OFF &&
           shape_auto_more(&f->au))
        st = shape_auto_next(&f->au);
    if (r != 0) {
        /* As it is: one segment of the client's bytes. */
        free(f->plan.buf);
        memset(&f->plan, 0, sizeof(f->plan));
        f->plan.buf = malloc(f->flight);
        if (f->plan.buf == NULL) {
            session_close(s, "out of memory");
            return;
        }
        memcpy(f->plan.buf, f->in->data + f->in->start, f->flight);
        f->plan.cap = f->plan.len = f->flight;
        f->plan.seg[0].len = (uint32_t)f->flight;
        f->plan.nseg = 1;
        if (r < 0)
            st = SHAPE_OFF;
    }
    s->shape = (unsigned char)st;
    s->shape_tries++;
    metrics_shape(st);
    f->running = 1;
    shape_exec_start(&f->x, &s->up->conn, &f->plan, flight_sent, f);
}

/* ---- auto: judging the answer and replaying ---------------------------- */

static void flight_judge_read(struct conn *c);
static void flight_judge_timeout(struct session *s);

/* The answer is the one the client gets: relay it. */
static void
flight_pass(struct flight *f)
{
    struct buf *ans = f->ans;

    f->ans = NULL;
    flight_hold(f);
    shape_auto_passed(&f->au, f->s->env->cfg);
    if (ans != NULL && buf_len(ans) == 0) {
        buf_put(ans);
        ans = NULL;
    }
    flight_relay(f, ans);
}

static void
flight_reconnected(struct session *s, int err)
{
    struct flight *f = s->client.data;

    if (err != 0) {
        session_close(s, "upstream connect failed while replaying the first flight");
        return;
    }
    s->up->conn.data = f;
    s->up->conn.on_read = flight_judge_read;
    flight_send(f);
}

/* A blocked try (why says how). Replays with the next strategy when that
 * is safe; else the client gets what the last try got. */
static void
flight_blocked(struct flight *f, const char *why)
{
    struct session *s = f->s;
    struct resolve_result res;

    flight_hold(f);
    log_debug("auto: %s blocked with %s (%s)", f->au.key[0] ? f->au.key : session_up_name(s),
              config_shape_name(s->env->cfg, shape_auto_current(&f->au)), why);
    if (f->replayable && shape_auto_more(&f->au) && f->peer_len > 0) {
        memset(&res, 0, sizeof(res));
        memcpy(&res.addr[0], &f->peer, f->peer_len);
        res.len[0] = f->peer_len;
        res.n = 1;
        shape_auto_next(&f->au);
        buf_put(f->ans);
        f->ans = NULL;
        session_drop_upstream(s);
        if (session_connect(s, &res, flight_reconnected) != WD_OK)
            session_close(s, "out of memory");
        return;
    }
    if (!shape_auto_more(&f->au))
        shape_auto_failed(&f->au, s->env->cfg);
    if (f->ans != NULL && buf_len(f->ans) > 0) {
        struct buf *ans = f->ans;

        f->ans = NULL;
        flight_relay(f, ans); /* a block page: the client sees it */
        return;
    }
    session_close(s, why);
}

/* After the flight, the first answer bytes decide. */
static void
flight_judge_read(struct conn *c)
{
    struct flight *f = c->data;
    const struct config *cfg = f->s->env->cfg;
    ssize_t n;
    int page = 0;

    if (f->ans == NULL && (f->ans = buf_get()) == NULL) {
        session_close(f->s, "out of memory");
        return;
    }
    n = conn_read(c, f->ans->data + f->ans->end, BUF_SIZE - f->ans->end);
    if (n == WD_AGAIN)
        return;
    if (n <= 0) {
        flight_blocked(f, n == 0 ? "upstream closed before answering"
                                 : "upstream reset before answering");
        return;
    }
    f->ans->end += (uint32_t)n;
    if (f->kind == FK_HTTP && cfg->nshape_auto_block_hosts > 0)
        page = shape_auto_block_page(cfg, f->ans->data, f->ans->end);
    if (page < 0 && f->ans->end < BUF_SIZE)
        return; /* a redirect whose Location has not come yet */
    if (page > 0) {
        flight_blocked(f, "upstream answered with a block page");
        return;
    }
    flight_pass(f);
}

static void
flight_judge_timeout(struct session *s)
{
    struct flight *f = s->client.data;

    if (!shape_auto_more(&f->au) || !f->replayable) {
        /* The last try, or one that cannot be replayed: wait on as any
         * tunnel would, with what came so far. */
        struct buf *ans = f->ans;

        f->ans = NULL;
        flight_hold(f);
        if (!shape_auto_more(&f->au))
            shape_auto_failed(&f->au, s->env->cfg);
        if (ans != NULL && buf_len(ans) == 0) {
            buf_put(ans);
            ans = NULL;
        }
        flight_relay(f, ans);
        return;
    }
    flight_blocked(f, "no answer in shape_auto_timeout");
}

static void
flight_sent(struct shape_exec *x, int err)
{
    struct flight *f = x->data;
    struct session *s = f->s;

    f->running = 0;
    if (err != 0 && !(f->is_auto && f->replayable && shape_auto_more(&f->au))) {
        session_close(s, "could not send the first flight upstream");
        return;
    }
    if (err != 0) {
        flight_blocked(f, "upstream write failed");
        return;
    }
    if (!f->is_auto) {
        flight_relay(f, NULL);
        return;
    }
    s->up->conn.on_read = flight_judge_read;
    conn_want_read(&s->up->conn, 1);
    session_set_timer(s, flight_judge_timeout, s->env->cfg->shape_auto_timeout);
}

/* ---- collecting the first bytes ----------------------------------------- */

/* f->in holds enough to decide: shape it, or relay it as it is. */
static void
flight_go(struct flight *f)
{
    const struct config *cfg = f->s->env->cfg;

    flight_hold(f);
    if (f->kind == FK_OTHER || f->strategy == SHAPE_OFF) {
        f->flight = 0;
        flight_relay(f, NULL);
        return;
    }
    if (f->strategy == SHAPE_AUTO) {
        char key[256];
        const char *k = session_up_name(f->s);

        if (f->kind == FK_TLS &&
            shape_tls_sni(f->in->data + f->in->start, f->flight, key, sizeof(key)) > 0)
            k = key;
        else if (f->kind == FK_HTTP &&
                 flight_field(f->in->data + f->in->start, f->flight, "host:", key, sizeof(key)) > 0)
            k = key;
        f->is_auto = 1;
        shape_auto_begin(&f->au, cfg, k);
        f->peer_len = sizeof(f->peer);
        if (getpeername(f->s->up->conn.fd, (struct sockaddr *)&f->peer, &f->peer_len) < 0)
            f->peer_len = 0; /* no replay then */
    }
    flight_send(f);
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

    if (n == WD_AGAIN)
        return;
    if (n <= 0) {
        session_close(s, n == 0 ? "client closed" : "client read error");
        return;
    }
    f->in->end += (uint32_t)n;
    if (flight_classify(f) == 0 && f->in->end < BUF_SIZE)
        return;
    if (f->kind == FK_UNKNOWN)
        f->kind = FK_OTHER; /* a full buffer that is still no flight */
    flight_go(f);
}

/* The upstream speaks first (or closes): nothing to shape, relay at once. */
static void
flight_up_read(struct conn *c)
{
    struct flight *f = c->data;

    flight_hold(f);
    f->flight = 0;
    flight_relay(f, NULL);
}

/* The client sent nothing in header_timeout: relay, unshaped. */
static void
flight_timeout(struct session *s)
{
    struct flight *f = s->client.data;

    flight_hold(f);
    f->flight = 0;
    flight_relay(f, NULL);
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
    int strategy = config_shape_for(cfg, host), by_bytes = flight_by_bytes(cfg, host);
    struct flight *f = NULL;

    if ((strategy == SHAPE_OFF && !by_bytes) || elen > BUF_SIZE ||
        (f = calloc(1, sizeof(*f))) == NULL || (f->in = buf_get()) == NULL) {
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
    s->client.data = f;
    s->client.on_read = flight_client_read;
    s->up->conn.data = f;
    s->up->conn.on_read = flight_up_read;
    conn_want_read(&s->client, 1);
    conn_want_read(&s->up->conn, 1);
    session_set_timer(s, flight_timeout, cfg->header_timeout);
    /* Bytes the client sent with its request may be the whole flight. */
    if (elen > 0 && flight_classify(f) != 0)
        flight_go(f);
    return f;
}
