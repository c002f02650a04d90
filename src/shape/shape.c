/* Request shaping, the planning half (see shape.h): turns a request head into
 * segments and pauses for the off, split and warp strategies, and a TLS
 * ClientHello into a split inside its SNI host name; builds the policy
 * (shape_plan.c plans the strategies made of steps). Pure: the same input,
 * policy and seed always give the same plan, byte for byte, which is what
 * the unit tests pin down. */
#include <string.h>
#include <strings.h>

#include "shape.h"

/* Bounds on the warp numbers. The configuration validates its own ranges;
 * these only keep a wild policy from overflowing the size arithmetic. */
#define SHAPE_DUMMY_MAX     1000 /* dummy header lines */
#define SHAPE_DUMMY_LEN_MAX 8192 /* characters of a dummy name or value */
#define SHAPE_DELAY_MAX     60000
/* Host fragments in a warp plan: the request line, the dummy segment and the
 * rest take 3 segments, one more is kept spare. */
#define SHAPE_MAX_FRAGS (SHAPE_MAX_SEGS - 4)
#define TLS_RECORD_MAX  16384 /* largest plaintext record, RFC 8446 5.1 */

static const char upper_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* ---- random numbers ------------------------------------------------- */

/* The order of draws is part of the contract (the unit tests are byte-exact
 * with fixed seeds):
 *  1. mixed_case (split and warp): one draw per ASCII letter of the Host
 *     value, left to right; the top bit set means lowercase;
 *  2. warp: the dummy lines in order, per line one draw per name letter,
 *     then one per value character;
 *  3. warp: the pause of the "Host: " segment, then per fragment its length
 *     and its pause, as plan_warp says.
 * off draws nothing, split only (1). Choices among n use rand_below. */

/* xorshift64* (Vigna): tiny, fast and good enough to make dummy headers and
 * pauses unpredictable to a middlebox; it is not a cryptographic generator.
 * A zero state would stay zero forever, so it is replaced by a constant. */
uint64_t
shape_rand(uint64_t *state)
{
    uint64_t x = *state != 0 ? *state : 0x9E3779B97F4A7C15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A number in [0, n), n > 0, from the high half of one draw (the better bits
 * of xorshift64*); the modulo bias is irrelevant for n this small. */
static uint32_t
rand_below(uint64_t *rng, uint32_t n)
{
    return (uint32_t)((shape_rand(rng) >> 32) % n);
}

/* ---- policy numbers, sanitised -------------------------------------- */

static int
clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static size_t
dummy_line_len(const struct shape_policy *pol)
{
    /* "X-" name ": " value CRLF */
    return (size_t)clampi(pol->dummy_name_len, 0, SHAPE_DUMMY_LEN_MAX) +
           (size_t)clampi(pol->dummy_value_len, 0, SHAPE_DUMMY_LEN_MAX) + 6;
}

size_t
shape_warp_growth(const struct shape_policy *pol)
{
    return (size_t)clampi(pol->dummy_headers, 0, SHAPE_DUMMY_MAX) * dummy_line_len(pol);
}

/* The only growth of a legacy plan: warp's dummy lines. */
static size_t
dummy_bytes(const struct shape_policy *pol)
{
    return pol->strategy == SHAPE_WARP ? shape_warp_growth(pol) : 0;
}

/* A split point inside n >= 2 bytes: after `want` bytes, kept within [1, n-1]
 * so that both sides carry part of what is being hidden. */
static size_t
split_at(int want, size_t n)
{
    if (want < 1)
        return 1;
    return (size_t)want > n - 1 ? n - 1 : (size_t)want;
}

/* One of the configured fragment pauses; 0 (and no draw) when none is set. */
static uint32_t
pick_delay(const struct shape_policy *pol, uint64_t *rng)
{
    int n = clampi(pol->nfrag_delays, 0, (int)(sizeof(pol->frag_delays) / sizeof(int)));

    if (n == 0)
        return 0;
    return (uint32_t)clampi(pol->frag_delays[rand_below(rng, (uint32_t)n)], 0, SHAPE_DELAY_MAX);
}

/* ---- plan building -------------------------------------------------- */

/* Ends a segment at byte offset `at` of plan->buf; segments are cut in
 * increasing order, so the new one starts where the previous one ended. An
 * empty cut is dropped (the planner never asks for one). */
static int
cut(struct shape_plan *plan, size_t at, uint32_t delay)
{
    size_t start = 0;

    if (plan->nseg > 0)
        start = plan->seg[plan->nseg - 1].off + plan->seg[plan->nseg - 1].len;
    if (at <= start)
        return 0;
    if (plan->nseg >= SHAPE_MAX_SEGS)
        return -1;
    /* The whole segment: no TTL, no flag (the plan's memory may be fresh
     * from malloc; a stray SHAPE_SEG_FAKE would send garbage). */
    plan->seg[plan->nseg] = (struct shape_seg){
        .off = (uint32_t)start, .len = (uint32_t)(at - start), .delay_ms = delay};
    plan->nseg++;
    return 0;
}

/* ---- reading the head ----------------------------------------------- */

/* Where things are in a request head. */
struct head_map {
    size_t rl_end;     /* just after the request line's CRLF */
    size_t target_off; /* request-target: after "METHOD " (0 when the line has no SP) */
    size_t target_len; /* up to the SP before the version (0 when there is none) */
    size_t name_off;   /* the Host field's name */
    size_t val_off;    /* the Host value, without surrounding whitespace */
    size_t val_len;
};

const char *
shape_find_crlf(const char *p, size_t n)
{
    const char *cr;

    while ((cr = memchr(p, '\r', n)) != NULL) {
        size_t skip = (size_t)(cr - p) + 1;

        if (skip < n && cr[1] == '\n')
            return cr;
        p += skip;
        n -= skip;
    }
    return NULL;
}

/* A light lexical pass, not a validation (the head was validated and
 * regenerated by http.c): lines up to the blank line, exactly one field named
 * Host in any case. Returns 0, or -1 when the head is not of that shape. */
static int
map_head(const char *h, size_t len, struct head_map *m)
{
    const char *eol = shape_find_crlf(h, len);
    const char *sp1, *sp2;
    size_t pos, nhost = 0;

    memset(m, 0, sizeof(*m));
    if (eol == NULL || eol == h)
        return -1;
    m->rl_end = (size_t)(eol - h) + 2;
    sp1 = memchr(h, ' ', (size_t)(eol - h));
    if (sp1 != NULL) {
        m->target_off = (size_t)(sp1 - h) + 1;
        for (sp2 = eol - 1; sp2 > sp1 && *sp2 != ' '; sp2--)
            ;
        if (sp2 > sp1)
            m->target_len = (size_t)(sp2 - sp1) - 1;
    }
    for (pos = m->rl_end;;) {
        const char *line = h + pos, *colon, *v, *ve;

        eol = shape_find_crlf(line, len - pos);
        if (eol == NULL)
            return -1; /* no blank line: not a complete head */
        if (eol == line)
            break;
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL)
            return -1;
        if (colon - line == 4 && strncasecmp(line, "host", 4) == 0) {
            for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
                ;
            for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
                ;
            m->name_off = pos;
            m->val_off = (size_t)(v - h);
            m->val_len = (size_t)(ve - v);
            nhost++;
        }
        pos = (size_t)(eol - h) + 2;
    }
    /* Two Host fields are a request the origin must reject; none or an
     * empty one leave nothing to hide. Either way: send it unshaped. */
    return nhost == 1 && m->val_len > 0 ? 0 : -1;
}

/* Copies the head to the plan, leaving `gap` bytes after the request line for
 * the dummy headers, then applies the two knobs that change bytes. Mixed case
 * draws first, one draw per ASCII letter of the Host value, in order. */
static void
copy_head(const char *h, size_t len, const struct head_map *m, size_t gap,
          const struct shape_policy *pol, uint64_t *rng, struct shape_plan *plan)
{
    size_t hn = strnlen(pol->host_name, sizeof(pol->host_name));
    char *out = plan->buf;

    memcpy(out, h, m->rl_end);
    memcpy(out + m->rl_end + gap, h + m->rl_end, len - m->rl_end);
    plan->len = len + gap;
    /* Only a respelling of "host" is used: anything else would lose the
     * Host field, and the request would no longer be the client's. */
    if (hn == 4 && strncasecmp(pol->host_name, "host", 4) == 0)
        memcpy(out + m->name_off + gap, pol->host_name, 4);
    if (pol->mixed_case) {
        char *v = out + m->val_off + gap;

        for (size_t i = 0; i < m->val_len; i++) {
            unsigned char c = (unsigned char)v[i];

            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
                v[i] = (char)((shape_rand(rng) >> 63) ? (c | 0x20) : (c & ~0x20));
        }
    }
}

/* Dummy lines "X-<A-Z...>: <[A-Za-z0-9]...>\r\n" at p, drawn line by line,
 * the name's letters then the value's characters. */
static void
fill_dummies(char *p, const struct shape_policy *pol, uint64_t *rng)
{
    int n = clampi(pol->dummy_headers, 0, SHAPE_DUMMY_MAX);
    int nl = clampi(pol->dummy_name_len, 0, SHAPE_DUMMY_LEN_MAX);
    int vl = clampi(pol->dummy_value_len, 0, SHAPE_DUMMY_LEN_MAX);

    for (int i = 0; i < n; i++) {
        *p++ = 'X';
        *p++ = '-';
        for (int j = 0; j < nl; j++)
            *p++ = upper_alpha[rand_below(rng, sizeof(upper_alpha) - 1)];
        *p++ = ':';
        *p++ = ' ';
        for (int j = 0; j < vl; j++)
            *p++ = alnum[rand_below(rng, sizeof(alnum) - 1)];
        *p++ = '\r';
        *p++ = '\n';
    }
}

/* split: [GET |][/pa|th HTTP/1.1\r\n] | ...Host: exa | mple.com\r\n...\r\n */
static int
plan_split(const struct head_map *m, const struct shape_policy *pol, struct shape_plan *plan)
{
    int rc = 0;

    if (pol->split_method && m->target_off > 0 && m->target_off < m->rl_end)
        rc |= cut(plan, m->target_off, 0);
    if (pol->split_path > 0 && m->target_len >= 2)
        rc |= cut(plan, m->target_off + split_at(pol->split_path, m->target_len), 0);
    rc |= cut(plan, m->rl_end, 0);
    if (m->val_len >= 2) /* a one-letter host is not split */
        rc |= cut(plan, m->val_off + split_at(pol->split_pos, m->val_len), 0);
    rc |= cut(plan, plan->len, 0);
    return rc;
}

/* warp, after WARP's own sender, which writes the request line, sleeps,
 * writes the dummy lines and "Host: ", then writes the host value in small
 * pieces "each preceded by a pause", then the rest at once. A plan carries
 * the pause AFTER each segment, so the pause before fragment k+1 is the delay
 * of fragment k, the pause before the first fragment is the delay of the
 * "Host: " segment, and the last fragment has none (nothing but the rest
 * follows, and WARP does not pause before the rest).
 * Draws, after copy_head's and fill_dummies': the "Host: " segment's pause;
 * then per fragment its length (not for the first, nor for the last allowed
 * one, which takes the whole remainder), then its pause unless it ended the
 * value. */
static int
plan_warp(const struct head_map *m, size_t gap, const struct shape_policy *pol, uint64_t *rng,
          struct shape_plan *plan)
{
    int fmin = clampi(pol->frag_min, 1, 65535);
    int fmax = clampi(pol->frag_max, fmin, 65535);
    size_t first = (size_t)clampi(pol->frag_first, 1, 65535);
    size_t base = m->val_off + gap, pos = 0;
    int rc = 0, nfrag = 0;

    rc |= cut(plan, m->rl_end, (uint32_t)clampi(pol->delay_ms, 0, SHAPE_DELAY_MAX));
    rc |= cut(plan, base, pick_delay(pol, rng));
    while (pos < m->val_len) {
        size_t flen, left = m->val_len - pos;

        if (nfrag == 0)
            flen = first;
        else if (nfrag == SHAPE_MAX_FRAGS - 1)
            flen = left;
        else
            flen = (size_t)fmin + rand_below(rng, (uint32_t)(fmax - fmin + 1));
        if (flen > left)
            flen = left;
        pos += flen;
        nfrag++;
        rc |= cut(plan, base + pos, pos < m->val_len ? pick_delay(pol, rng) : 0);
    }
    rc |= cut(plan, plan->len, 0);
    return rc;
}

int
shape_plan_request(const char *head, size_t len, const struct shape_policy *pol, uint64_t *rng,
                   struct shape_plan *plan)
{
    struct head_map m;
    size_t gap = dummy_bytes(pol);

    plan->len = 0;
    plan->nseg = 0;
    if (pol->strategy == SHAPE_OFF) {
        /* No Host needed: the head goes as it is. */
        if (len == 0 || len > plan->cap || len > UINT32_MAX)
            return -1;
        memcpy(plan->buf, head, len);
        plan->len = len;
        return cut(plan, len, 0);
    }
    if (pol->strategy != SHAPE_SPLIT && pol->strategy != SHAPE_WARP)
        return -1;
    if (map_head(head, len, &m) < 0)
        return -1;
    if (len + gap > plan->cap || len + gap > UINT32_MAX)
        return -1;
    copy_head(head, len, &m, gap, pol, rng, plan);
    if (pol->strategy == SHAPE_SPLIT) {
        if (plan_split(&m, pol, plan) == 0)
            return 0;
    } else {
        fill_dummies(plan->buf + m.rl_end, pol, rng);
        if (plan_warp(&m, gap, pol, rng, plan) == 0)
            return 0;
    }
    plan->len = 0;
    plan->nseg = 0;
    return -1;
}

/* ---- TLS ------------------------------------------------------------ */

static size_t
rd16(const unsigned char *p)
{
    return (size_t)p[0] << 8 | p[1];
}

/* Finds the host_name of the server_name extension (RFC 6066 3) in a
 * handshake payload p[0..n). Every length is checked against what encloses
 * it before it is used: the record, the ClientHello, the extensions block,
 * the extension, the name list. Returns 0 with the name's offset in p. */
static int
find_sni(const unsigned char *p, size_t n, size_t *name_off, size_t *name_len)
{
    size_t i, end, ext_end;

    if (n < 4 || p[0] != 1) /* handshake type client_hello */
        return -1;
    end = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (end > n - 4)
        return -1; /* the ClientHello continues in another record */
    end += 4;
    i = 4 + 2 + 32; /* legacy_version, random */
    if (i + 1 > end)
        return -1;
    i += 1 + (size_t)p[i]; /* legacy_session_id */
    if (i + 2 > end)
        return -1;
    i += 2 + rd16(p + i); /* cipher_suites */
    if (i + 1 > end)
        return -1;
    i += 1 + (size_t)p[i]; /* legacy_compression_methods */
    if (i + 2 > end)
        return -1; /* no extensions at all */
    ext_end = i + 2 + rd16(p + i);
    i += 2;
    if (ext_end > end)
        return -1;
    while (ext_end - i >= 4) {
        size_t type = rd16(p + i), xlen = rd16(p + i + 2), j, list_end;

        i += 4;
        if (xlen > ext_end - i)
            return -1;
        if (type != 0) {
            i += xlen;
            continue;
        }
        if (xlen < 2)
            return -1;
        list_end = i + 2 + rd16(p + i);
        if (list_end > i + xlen)
            return -1;
        for (j = i + 2; list_end - j >= 3;) {
            size_t name_type = p[j], len = rd16(p + j + 1);

            j += 3;
            if (len > list_end - j)
                return -1;
            if (name_type == 0) {
                if (len == 0)
                    return -1;
                *name_off = j;
                *name_len = len;
                return 0;
            }
            j += len;
        }
        return -1;
    }
    return -1;
}

int
shape_tls_name(const char *data, size_t len, size_t *off, size_t *name_len)
{
    const unsigned char *d = (const unsigned char *)data;
    size_t rec_len;

    if (len < 5 || d[0] != 22 || d[1] != 3)
        return -1;
    rec_len = rd16(d + 3);
    if (rec_len > len - 5 || find_sni(d + 5, rec_len, off, name_len) < 0 || *name_len == 0)
        return -1;
    *off += 5;
    return 0;
}

int
shape_tls_sni(const char *data, size_t len, char *name, size_t cap)
{
    size_t off, n;

    if (shape_tls_name(data, len, &off, &n) < 0 || n >= cap)
        return -1;
    memcpy(name, data + off, n);
    name[n] = '\0';
    return (int)n;
}

int
shape_plan_tls(const char *data, size_t len, const struct shape_policy *pol,
               struct shape_plan *plan)
{
    const unsigned char *d = (const unsigned char *)data;
    size_t rec_len, rec_end, name_off, name_len, at;

    plan->len = 0;
    plan->nseg = 0;
    if (pol->tls_mode != 1 && pol->tls_mode != 2)
        return 1;
    /* A handshake record, TLS 1.0-1.2 on the record layer (1.3 says 1.2). */
    if (len < 5 || d[0] != 22 || d[1] != 3 || d[2] < 1 || d[2] > 3)
        return 1;
    rec_len = rd16(d + 3);
    if (rec_len > TLS_RECORD_MAX || rec_len > len - 5)
        return 1;
    rec_end = 5 + rec_len;
    if (find_sni(d + 5, rec_len, &name_off, &name_len) < 0)
        return 1;
    /* A one-letter name cannot be split inside. */
    if (name_len < 2)
        return 1;
    name_off += 5;
    at = name_off + split_at(pol->split_pos, name_len);
    if (len > UINT32_MAX - SHAPE_TLS_GROWTH)
        return -1;
    if (pol->tls_mode == 1) {
        if (len > plan->cap)
            return -1;
        memcpy(plan->buf, data, len);
        plan->len = len;
        cut(plan, at, 0);
        cut(plan, rec_end, 0);
        cut(plan, len, 0);
        return 0;
    }
    /* Two records carrying the same handshake bytes; a handshake message may
     * span records (RFC 8446 5.1), and neither fragment is empty. */
    if (len + SHAPE_TLS_GROWTH > plan->cap)
        return -1;
    {
        unsigned char *o = (unsigned char *)plan->buf;
        size_t k = at - 5, rest = rec_len - k;

        memcpy(o, d, 3);
        o[3] = (unsigned char)(k >> 8);
        o[4] = (unsigned char)k;
        memcpy(o + 5, d + 5, k);
        memcpy(o + 5 + k, d, 3);
        o[5 + k + 3] = (unsigned char)(rest >> 8);
        o[5 + k + 4] = (unsigned char)rest;
        memcpy(o + 10 + k, d + at, len - at);
        plan->len = len + SHAPE_TLS_GROWTH;
        cut(plan, 5 + k, 0);
        cut(plan, rec_end + SHAPE_TLS_GROWTH, 0);
        cut(plan, plan->len, 0);
    }
    return 0;
}

/* The steps of a built-in strategy beyond the legacy three: one step at the
 * Host/SNI name + shape_split_pos. */
static void
builtin_steps(const char *name, int kind, int split_pos, struct shape_strategy *st)
{
    size_t n = strnlen(name, sizeof(st->name) - 1);

    memcpy(st->name, name, n);
    st->name[n] = '\0';
    st->nstep = 1;
    st->step[0].kind = (uint8_t)kind;
    st->step[0].npos = 1;
    st->step[0].pos[0].mark = SHAPE_MARK_HOST;
    st->step[0].pos[0].off = clampi(split_pos, -SHAPE_POS_OFFSET_MAX, SHAPE_POS_OFFSET_MAX);
}

/* pol->strat and the knobs of the steps. */
static void
policy_steps(const struct config *cfg, int strategy, struct shape_policy *pol)
{
    size_t n;

    pol->fake_ttl = cfg->shape_fake_ttl;
    pol->disorder_ttl = cfg->shape_disorder_ttl;
    n = strnlen(cfg->shape_fake_host, sizeof(pol->fake_host) - 1);
    memcpy(pol->fake_host, cfg->shape_fake_host, n);
    pol->fake_host[n] = '\0';
    n = strnlen(cfg->shape_fake_sni, sizeof(pol->fake_sni) - 1);
    memcpy(pol->fake_sni, cfg->shape_fake_sni, n);
    pol->fake_sni[n] = '\0';
    switch (strategy) {
    case SHAPE_DISORDER:
        builtin_steps("disorder", STEP_DISORDER, cfg->shape_split_pos, &pol->strat);
        break;
    case SHAPE_FAKE:
        builtin_steps("fake", STEP_FAKE, cfg->shape_split_pos, &pol->strat);
        break;
    case SHAPE_OOB:
        builtin_steps("oob", STEP_OOB, cfg->shape_split_pos, &pol->strat);
        break;
    case SHAPE_TLSREC:
        builtin_steps("tlsrec", STEP_TLSREC, cfg->shape_split_pos, &pol->strat);
        break;
    default:
        if (strategy >= SHAPE_USER && strategy - SHAPE_USER < cfg->nstrategies &&
            strategy - SHAPE_USER < CFG_MAX_STRATEGIES)
            pol->strat = cfg->strategies[strategy - SHAPE_USER];
        break;
    }
}

/* The policy for one destination: the configuration's knobs with the
 * strategy that the destination's rule chose. */
void
shape_policy_init(const struct config *cfg, int strategy, struct shape_policy *pol)
{
    size_t hn;

    memset(pol, 0, sizeof(*pol));
    pol->strategy = strategy;
    policy_steps(cfg, strategy, pol);
    pol->split_pos = cfg->shape_split_pos;
    pol->split_method = cfg->shape_split_method;
    pol->split_path = cfg->shape_split_path;
    pol->delay_ms = cfg->shape_delay_ms;
    pol->dummy_headers = cfg->shape_dummy_headers;
    pol->dummy_name_len = cfg->shape_dummy_name_length;
    pol->dummy_value_len = cfg->shape_dummy_length;
    pol->frag_first = cfg->shape_frag_first;
    pol->frag_min = cfg->shape_frag_min;
    pol->frag_max = cfg->shape_frag_max;
    pol->nfrag_delays = cfg->nshape_frag_delays;
    for (int i = 0; i < cfg->nshape_frag_delays && i < 4; i++)
        pol->frag_delays[i] = cfg->shape_frag_delays[i];
    /* Built for every shaped request: a bounded copy, not snprintf. */
    hn = strnlen(cfg->shape_host_header, sizeof(pol->host_name) - 1);
    memcpy(pol->host_name, cfg->shape_host_header, hn);
    pol->host_name[hn] = '\0';
    pol->mixed_case = cfg->shape_mixed_case;
    pol->tls_mode = cfg->tls_split;
}
