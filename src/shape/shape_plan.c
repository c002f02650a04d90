/* Request shaping, the planner of whole flights (see shape.h): picks the
 * legacy plans (split, warp, the TLS split of shape.c) or follows a
 * strategy's steps (shape_step.h) on an HTTP head or a TLS ClientHello.
 * Pure: no I/O, no clock, no allocation; the same bytes, policy and seed give
 * the same plan byte for byte.
 *
 * A strategy's plan is made in this order, whatever the order of its steps:
 *  1. HTTP byte edits, each done once: methodspace (a second SP after the
 *     method), pad (dummy lines after the request line), hostcase ("host"),
 *     hosttab or nospace (the whitespace after "Host:" becomes one tab, or
 *     nothing; nospace wins over hosttab), hostdot (a "." after the name,
 *     before any ":port"; not when the name ends with "." or "]"), domcase.
 *     For pad and tlsminor the last such step counts.
 *  2. TLS edits: tlsrec re-frames the first record's handshake bytes at the
 *     positions of every tlsrec step (resolved on the original bytes, kept
 *     when strictly inside the record's payload), each new header a copy of
 *     the original's with its length; tlsminor sets the version minor byte
 *     of these headers (bytes after the first record are not touched).
 *  3. The cuts of split, disorder, fake, oob and disoob: resolved on the
 *     edited head (HTTP), or on the original hello and moved past the
 *     inserted record headers (TLS: a cut at a record boundary stays before
 *     the header). Sorted, equal cuts merged; at most SHAPE_MAX_SEGS - 1 (the
 *     first ones), the last piece taking the rest.
 * Each piece ends at a cut and takes the steps that made that cut: disorder
 * gives seg.ttl = disorder_ttl; oob appends the urgent byte OOB_BYTE to the
 * piece in buf (seg.len counts it) with SHAPE_SEG_OOB; disoob both; fake
 * gives SHAPE_SEG_FAKE with ttl = fake_ttl and wins over the others on the
 * same piece (no urgent byte, no disorder: the real bytes go only by
 * retransmission). The piece after the last cut is plain. Fake bytes are a
 * template of the whole wire flight's length (shape_fake.c), stored right
 * after plan->len up to the end of the last fake piece; a fake piece's
 * fake_off points at the template's bytes at the piece's offset in the
 * stream (the wire bytes without urgent bytes).
 *
 * Draws of *rng (pinned by the unit tests): pad's lines in order, per line
 * the 16 name letters then the value characters (as warp's dummies), then
 * domcase, one draw per ASCII letter of the Host value, left to right (the
 * top bit set means lowercase, as mixed_case). Nothing else draws, but a
 * strategy with a warp step, which is warp's plan (shape.c) alone. */
#include <string.h>

#include "shape.h"

#define OOB_BYTE             'a' /* the urgent byte: taken out by the server's kernel */
#define PAD_NAME_LEN         16  /* letters after "X-" in a padding line's name */
#define PAD_LINE_MAX         150 /* bytes of one padding line, CRLF included */
#define PAD_LINE_FIX         (2 + PAD_NAME_LEN + 2 + 2) /* "X-" name ": " ... CRLF */
#define PAD_LINE_MIN         (PAD_LINE_FIX + 1)         /* a one-character value */
#define TLS_HDR              5
#define MAX_CUTS             (SHAPE_MAX_STEPS * SHAPE_STEP_POS)
#define DEFAULT_FAKE_TTL     8
#define DEFAULT_DISORDER_TTL 1

#define CUT_DISORDER 0x01
#define CUT_OOB      0x02
#define CUT_FAKE     0x04

static const char upper_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

struct cut {
    size_t at;    /* offset in the (edited) stream */
    uint8_t what; /* CUT_* */
};

/* What a strategy's steps ask for, gathered once. */
struct wants {
    int methodspace, hostcase, hosttab, nospace, hostdot, domcase, warp;
    int pad;     /* bytes of padding lines; 0 none */
    int minor;   /* record version minor byte; -1 keep */
    int cuts;    /* some split/disorder/fake/oob/disoob step */
    int tlsrec;  /* some tlsrec step */
    int fake;    /* some fake step */
    size_t npos; /* positions of tlsrec steps (5 bytes each) */
    size_t noob; /* positions of oob and disoob steps (1 byte each) */
};

/* A bounded writer into the plan buffer; err once something did not fit. */
struct out {
    char *p;
    size_t n, cap;
    int err;
};

static int
nsteps(const struct shape_policy *pol)
{
    int n = pol->strat.nstep;

    return n < 0 ? 0 : n > SHAPE_MAX_STEPS ? SHAPE_MAX_STEPS : n;
}

static int
npos(const struct shape_step *st)
{
    return st->npos > SHAPE_STEP_POS ? SHAPE_STEP_POS : st->npos;
}

static void
gather(const struct shape_policy *pol, struct wants *w)
{
    memset(w, 0, sizeof(*w));
    w->minor = -1;
    for (int i = 0; i < nsteps(pol); i++) {
        const struct shape_step *st = &pol->strat.step[i];

        switch (st->kind) {
        case STEP_METHODSPACE:
            w->methodspace = 1;
            break;
        case STEP_HOSTCASE:
            w->hostcase = 1;
            break;
        case STEP_HOSTTAB:
            w->hosttab = 1;
            break;
        case STEP_NOSPACE:
            w->nospace = 1;
            break;
        case STEP_HOSTDOT:
            w->hostdot = 1;
            break;
        case STEP_DOMCASE:
            w->domcase = 1;
            break;
        case STEP_WARP:
            w->warp = 1;
            break;
        case STEP_PAD:
            w->pad = st->arg < 1 ? 0 : st->arg > SHAPE_PAD_MAX ? SHAPE_PAD_MAX : st->arg;
            break;
        case STEP_TLSMINOR:
            w->minor = st->arg & 0xff;
            break;
        case STEP_TLSREC:
            w->tlsrec = 1;
            w->npos += (size_t)npos(st);
            break;
        case STEP_OOB:
        case STEP_DISOOB:
            w->noob += (size_t)npos(st); /* fall through */
        case STEP_SPLIT:
        case STEP_DISORDER:
        case STEP_FAKE:
            w->cuts = 1;
            w->fake |= st->kind == STEP_FAKE;
            break;
        default:
            break;
        }
    }
}

/* Bytes of the padding lines for pad:n. */
static size_t
pad_total(int n)
{
    return n <= 0 ? 0 : (size_t)n < PAD_LINE_MIN ? PAD_LINE_MIN : (size_t)n;
}

size_t
shape_plan_size(size_t head_len, const struct shape_policy *pol)
{
    struct wants w;
    size_t wire, size;

    if (pol->strategy == SHAPE_WARP)
        return head_len + shape_warp_growth(pol) + 16;
    if (pol->strategy < SHAPE_DISORDER || pol->strategy == SHAPE_AUTO)
        return head_len + 16; /* The slack is for callers that round or add a NUL. */
    gather(pol, &w);
    /* HTTP grows by its edits, TLS by its record headers: one bound for both. */
    wire = head_len + (size_t)w.methodspace + pad_total(w.pad) + (size_t)w.hosttab +
           (size_t)w.hostdot + TLS_HDR * w.npos;
    size = wire + w.noob + (w.fake ? wire : 0);
    if (w.warp && size < head_len + shape_warp_growth(pol) + SHAPE_TLS_GROWTH)
        size = head_len + shape_warp_growth(pol) + SHAPE_TLS_GROWTH;
    return size + 16;
}

/* ---- HTTP edits ----------------------------------------------------- */

static void
put(struct out *o, const void *s, size_t n)
{
    if (o->err || n > o->cap - o->n) {
        o->err = 1;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

/* Copies d[*src..to) and moves *src there. */
static void
copy_to(struct out *o, const char *d, size_t *src, size_t to)
{
    put(o, d + *src, to - *src);
    *src = to;
}

static uint32_t
rand_below(uint64_t *rng, uint32_t n)
{
    return (uint32_t)((shape_rand(rng) >> 32) % n);
}

/* pad:n: lines "X-<16 A-Z>: <[A-Za-z0-9]...>\r\n" of at most PAD_LINE_MAX
 * bytes, as even as can be, totalling n bytes exactly (PAD_LINE_MIN when n
 * is smaller). */
static void
pad_lines(struct out *o, int n, uint64_t *rng)
{
    size_t total = pad_total(n), k = (total + PAD_LINE_MAX - 1) / PAD_LINE_MAX;
    size_t base = total / k, extra = total % k;
    char *p;

    if (o->err || total > o->cap - o->n) {
        o->err = 1;
        return;
    }
    p = o->p + o->n;
    o->n += total;
    for (size_t i = 0; i < k; i++) {
        size_t vl = base + (i < extra ? 1 : 0) - PAD_LINE_FIX;

        *p++ = 'X';
        *p++ = '-';
        for (int j = 0; j < PAD_NAME_LEN; j++)
            *p++ = upper_alpha[rand_below(rng, sizeof(upper_alpha) - 1)];
        *p++ = ':';
        *p++ = ' ';
        for (size_t j = 0; j < vl; j++)
            *p++ = alnum[rand_below(rng, sizeof(alnum) - 1)];
        *p++ = '\r';
        *p++ = '\n';
    }
}

static void
mix_case(char *v, size_t n, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            v[i] = (char)((shape_rand(rng) >> 63) ? (c | 0x20) : (c & ~0x20));
    }
}

/* The edited head into plan->buf[0..plan->len), in the order of the file's
 * comment. Returns -1 when it does not fit. */
static int
http_edits(const char *d, size_t len, const struct shape_marks *m, const struct wants *w,
           uint64_t *rng, struct shape_plan *plan)
{
    struct out o = {plan->buf, 0, plan->cap, 0};
    size_t src = 0, val = 0, vend = 0, host = m->at[SHAPE_MARK_HOST];
    int has_host = m->field_off != SHAPE_NOMARK;

    if (w->methodspace) {
        copy_to(&o, d, &src, m->method_end + 1);
        put(&o, " ", 1);
    }
    if (w->pad > 0) {
        copy_to(&o, d, &src, m->rl_end);
        pad_lines(&o, w->pad, rng);
    }
    if (has_host) {
        size_t ne = m->at[SHAPE_MARK_ENDHOST];

        if (w->hostcase) {
            copy_to(&o, d, &src, m->field_off);
            put(&o, "host", 4);
            src += 4;
        }
        if (w->nospace || w->hosttab) {
            copy_to(&o, d, &src, m->colon + 1);
            put(&o, "\t", w->nospace ? 0 : 1);
            src = host;
        }
        copy_to(&o, d, &src, host);
        val = o.n;
        if (w->hostdot && ne > host && d[ne - 1] != '.' && d[ne - 1] != ']') {
            copy_to(&o, d, &src, ne);
            put(&o, ".", 1);
        }
        copy_to(&o, d, &src, m->value_end);
        vend = o.n;
    }
    copy_to(&o, d, &src, len);
    if (o.err)
        return -1;
    if (has_host && w->domcase)
        mix_case(plan->buf + val, vend - val, rng);
    plan->len = o.n;
    return 0;
}

/* ---- TLS edits ------------------------------------------------------ */

static void
sort_sizes(size_t *v, int *n)
{
    int k = 0;

    for (int i = 1; i < *n; i++) {
        size_t x = v[i];
        int j = i;

        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    for (int i = 0; i < *n; i++)
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    *n = k;
}

/* The tlsrec positions strictly inside the first record's payload, sorted
 * and distinct, in q[]; returns how many. */
static int
tls_boundaries(const struct shape_policy *pol, const struct shape_marks *m, size_t *q)
{
    size_t rec_end = m->at[SHAPE_MARK_EOH], at;
    int n = 0;

    for (int i = 0; i < nsteps(pol); i++) {
        const struct shape_step *st = &pol->strat.step[i];

        if (st->kind != STEP_TLSREC)
            continue;
        for (int k = 0; k < npos(st); k++)
            if (shape_pos_resolve(&st->pos[k], m, &at) == 0 && at > TLS_HDR && at < rec_end)
                q[n++] = at;
    }
    sort_sizes(q, &n);
    return n;
}

/* Where an offset of the original hello is once nq headers went in at q[]. */
static size_t
tls_map(size_t x, const size_t *q, int nq)
{
    size_t add = 0;

    for (int i = 0; i < nq && q[i] < x; i++)
        add += TLS_HDR;
    return x + add;
}

/* The first record as nq + 1 records, then the rest as it is. */
static int
tls_edits(const char *d, size_t len, const struct shape_marks *m, int minor, const size_t *q,
          int nq, struct shape_plan *plan)
{
    struct out o = {plan->buf, 0, plan->cap, 0};
    size_t rec_end = m->at[SHAPE_MARK_EOH], from = TLS_HDR;

    for (int i = 0; i <= nq; i++) {
        size_t to = i < nq ? q[i] : rec_end;
        unsigned char h[TLS_HDR];

        memcpy(h, d, 3);
        if (minor >= 0)
            h[2] = (unsigned char)minor;
        h[3] = (unsigned char)((to - from) >> 8);
        h[4] = (unsigned char)(to - from);
        put(&o, h, TLS_HDR);
        put(&o, d + from, to - from);
        from = to;
    }
    put(&o, d + rec_end, len - rec_end);
    if (o.err)
        return -1;
    plan->len = o.n;
    return 0;
}

/* ---- cuts and segments ---------------------------------------------- */

/* Every cut position of the steps, resolved on m, moved past the nq record
 * headers at q[] (none for HTTP), sorted, equal ones merged. */
static int
collect_cuts(const struct shape_policy *pol, const struct shape_marks *m, const size_t *q, int nq,
             struct cut *cuts)
{
    int n = 0, k = 0, j;
    size_t at;

    for (int i = 0; i < nsteps(pol); i++) {
        const struct shape_step *st = &pol->strat.step[i];
        uint8_t what = st->kind == STEP_DISORDER ? CUT_DISORDER
                       : st->kind == STEP_OOB    ? CUT_OOB
                       : st->kind == STEP_DISOOB ? CUT_DISORDER | CUT_OOB
                       : st->kind == STEP_FAKE   ? CUT_FAKE
                                                 : 0;

        if (st->kind < STEP_SPLIT || st->kind > STEP_DISOOB)
            continue;
        for (int p = 0; p < npos(st); p++) {
            if (shape_pos_resolve(&st->pos[p], m, &at) < 0)
                continue;
            at = tls_map(at, q, nq);
            for (j = n++; j > 0 && cuts[j - 1].at > at; j--)
                cuts[j] = cuts[j - 1];
            cuts[j] = (struct cut){at, what};
        }
    }
    for (int i = 0; i < n; i++) {
        if (k > 0 && cuts[k - 1].at == cuts[i].at)
            cuts[k - 1].what |= cuts[i].what;
        else
            cuts[k++] = cuts[i];
    }
    /* A TCP receiver keeps one urgent byte at a time: a second urgent
     * pointer before the first byte is read leaves that byte in the stream
     * (warpd's loopback test saw "GEaT"). So only the first oob cut of a
     * flight gets its byte; later ones stay cuts (disoob keeps its TTL). */
    for (int i = 0, seen = 0; i < k; i++) {
        if ((cuts[i].what & CUT_OOB) == 0 || (cuts[i].what & CUT_FAKE) != 0)
            continue;
        if (seen)
            cuts[i].what &= (uint8_t)~CUT_OOB;
        seen = 1;
    }
    return k < SHAPE_MAX_SEGS - 1 ? k : SHAPE_MAX_SEGS - 1;
}

static uint8_t
ttl_of(int ttl, int dflt)
{
    return (uint8_t)(ttl >= 1 && ttl <= 255 ? ttl : dflt);
}

/* Urgent bytes in, fake template after, segments: the stream is
 * plan->buf[0..plan->len) on entry. */
static int
lay_out(int kind, const struct shape_policy *pol, const struct cut *cuts, int n,
        struct shape_plan *plan)
{
    size_t L = plan->len, noob = 0, wire, end = L, s = 0, b = 0, fake_end = 0;

    for (int i = 0; i < n; i++) {
        if (cuts[i].what & CUT_FAKE)
            fake_end = cuts[i].at; /* the template is kept up to the last fake piece */
        else if (cuts[i].what & CUT_OOB)
            noob++;
    }
    wire = L + noob;
    if (wire + fake_end > plan->cap || wire + L > UINT32_MAX)
        return -1;
    for (int i = n - 1, shift = (int)noob; i >= 0; i--) {
        size_t c = cuts[i].at;

        if ((cuts[i].what & CUT_OOB) == 0 || (cuts[i].what & CUT_FAKE) != 0)
            continue;
        memmove(plan->buf + c + shift, plan->buf + c, end - c);
        shift--;
        plan->buf[c + shift] = OOB_BYTE;
        end = c;
    }
    if (fake_end > 0 && kind == SHAPE_FLIGHT_TLS)
        shape_fake_tls(plan->buf + wire, L, fake_end, pol->fake_sni);
    else if (fake_end > 0)
        shape_fake_http(plan->buf + wire, L, fake_end, pol->fake_host);
    for (int i = 0; i <= n; i++) {
        struct shape_seg *sg = &plan->seg[i];
        size_t c = i < n ? cuts[i].at : L;
        uint8_t what = i < n ? cuts[i].what : 0;

        memset(sg, 0, sizeof(*sg));
        sg->off = (uint32_t)b;
        sg->len = (uint32_t)(c - s);
        if (what & CUT_FAKE) {
            sg->flags = SHAPE_SEG_FAKE;
            sg->ttl = ttl_of(pol->fake_ttl, DEFAULT_FAKE_TTL);
            sg->fake_off = (uint32_t)(wire + s);
        } else {
            if (what & CUT_DISORDER)
                sg->ttl = ttl_of(pol->disorder_ttl, DEFAULT_DISORDER_TTL);
            if (what & CUT_OOB) {
                sg->flags = SHAPE_SEG_OOB;
                sg->len++;
            }
        }
        b += sg->len;
        s = c;
    }
    plan->nseg = n + 1;
    plan->len = wire;
    return 0;
}

/* ---- the planners --------------------------------------------------- */

/* Does any step act on this kind of flight? */
static int
applies(const struct wants *w, int kind)
{
    if (kind == SHAPE_FLIGHT_HTTP)
        return w->cuts || w->methodspace || w->pad || w->hostcase || w->hosttab || w->nospace ||
               w->hostdot || w->domcase;
    return kind == SHAPE_FLIGHT_TLS && (w->cuts || w->tlsrec || w->minor >= 0);
}

static int
plan_steps(const char *data, size_t len, const struct shape_policy *pol, uint64_t *rng,
           struct shape_plan *plan)
{
    struct shape_marks m;
    struct wants w;
    struct cut cuts[MAX_CUTS];
    size_t q[MAX_CUTS];
    int kind = shape_pos_marks(data, len, &m), nq = 0, n, rc;

    gather(pol, &w);
    if (!applies(&w, kind))
        return 1;
    if (len > UINT32_MAX)
        return -1;
    if (kind == SHAPE_FLIGHT_HTTP) {
        rc = http_edits(data, len, &m, &w, rng, plan);
        if (rc == 0)
            shape_pos_marks(plan->buf, plan->len, &m);
    } else {
        nq = tls_boundaries(pol, &m, q);
        rc = tls_edits(data, len, &m, w.minor, q, nq, plan);
    }
    if (rc < 0)
        return -1;
    n = collect_cuts(pol, &m, q, nq, cuts);
    if (n == 0 && plan->len == len && memcmp(plan->buf, data, len) == 0) {
        plan->len = 0;
        return 1;
    }
    if (lay_out(kind, pol, cuts, n, plan) < 0) {
        plan->len = 0;
        plan->nseg = 0;
        return -1;
    }
    return 0;
}

/* split and warp, and a strategy with a warp step: shape.c's plans. */
static int
plan_legacy(const char *data, size_t len, const struct shape_policy *pol, int strategy,
            uint64_t *rng, struct shape_plan *plan)
{
    struct shape_marks m;
    struct shape_policy p;
    int kind = shape_pos_marks(data, len, &m);

    if (kind == SHAPE_FLIGHT_TLS)
        return shape_plan_tls(data, len, pol, plan);
    if (kind != SHAPE_FLIGHT_HTTP)
        return 1;
    if (len + (strategy == SHAPE_WARP ? shape_warp_growth(pol) : 0) > plan->cap)
        return -1;
    p = *pol;
    p.strategy = strategy;
    return shape_plan_request(data, len, &p, rng, plan) == 0 ? 0 : 1;
}

int
shape_plan_flight(const char *data, size_t len, const struct shape_policy *pol, uint64_t *rng,
                  struct shape_plan *plan)
{
    struct wants w;

    plan->len = 0;
    plan->nseg = 0;
    switch (pol->strategy) {
    case SHAPE_OFF:
    case SHAPE_AUTO:
        return 1;
    case SHAPE_SPLIT:
    case SHAPE_WARP:
        return plan_legacy(data, len, pol, pol->strategy, rng, plan);
    default:
        break;
    }
    gather(pol, &w);
    if (w.warp)
        return plan_legacy(data, len, pol, SHAPE_WARP, rng, plan);
    return plan_steps(data, len, pol, rng, plan);
}
