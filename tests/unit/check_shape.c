/* Unit tests for src/shape/shape.c, shape_plan.c and shape_fake.c, the shaping
 * planner: byte-exact plans with fixed seeds for off, split and warp and their
 * knobs (golden values come from an independent model of the documented draw
 * order), the validity of every shaped request as http.c parses it, the TLS
 * ClientHello split on hellos assembled here, truncated and corrupted at every
 * byte; strategies of steps (each step alone and together, on heads and
 * hellos, segments and bytes exactly), the fake templates, and invariants
 * over thousands of random strategies. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "shape.h"
#include "tutil.h"

#define B(lit) lit, sizeof(lit) - 1

/* A realistic regenerated head: six fields, Host in the middle. */
static const char HEAD[] = "GET /news/today.html?lang=en HTTP/1.1\r\n"
                           "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
                           "Accept: text/html\r\n"
                           "Host: blocked.example.org\r\n"
                           "Accept-Language: en-US,en;q=0.5\r\n"
                           "Cookie: session=42\r\n"
                           "Via: 1.1 warpd\r\n"
                           "\r\n";
#define HEAD_LEN (sizeof(HEAD) - 1)
#define RL       "GET /news/today.html?lang=en HTTP/1.1\r\n"
#define BEFORE   "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html\r\n"
#define AFTER    "\r\nAccept-Language: en-US,en;q=0.5\r\nCookie: session=42\r\nVia: 1.1 warpd\r\n\r\n"

static struct http_head H0, H1; /* large: kept off the stack */
static char BUF[1 << 16];

static void
policy(struct shape_policy *pol, enum cfg_shape s)
{
    memset(pol, 0, sizeof(*pol));
    pol->strategy = s;
    pol->split_pos = 1;
    pol->delay_ms = 200;
    pol->dummy_headers = 32;
    pol->dummy_name_len = 16;
    pol->dummy_value_len = 128;
    pol->frag_first = 1;
    pol->frag_min = 2;
    pol->frag_max = 4;
    pol->frag_delays[0] = 200;
    pol->frag_delays[1] = 300;
    pol->nfrag_delays = 2;
}

static void
plan_init(struct shape_plan *plan, size_t cap)
{
    memset(plan, 0, sizeof(*plan));
    ck_assert_uint_le(cap, sizeof(BUF));
    plan->buf = BUF;
    plan->cap = cap;
}

/* Segments start at 0, follow each other without gap or overlap, are never
 * empty and end exactly at plan->len. */
static void
check_segments_tile(const struct shape_plan *plan)
{
    size_t at = 0;

    ck_assert_int_ge(plan->nseg, 1);
    ck_assert_int_le(plan->nseg, SHAPE_MAX_SEGS);
    for (int i = 0; i < plan->nseg; i++) {
        ck_assert_uint_eq(plan->seg[i].off, at);
        ck_assert_uint_gt(plan->seg[i].len, 0);
        at += plan->seg[i].len;
    }
    ck_assert_uint_eq(at, plan->len);
    ck_assert_uint_le(plan->len, plan->cap);
}

static void
seg_is(const struct shape_plan *plan, int i, const char *want, uint32_t delay)
{
    ck_assert_int_lt(i, plan->nseg);
    ck_assert_msg(plan->seg[i].len == strlen(want) &&
                      memcmp(plan->buf + plan->seg[i].off, want, strlen(want)) == 0,
                  "segment %d is \"%.*s\", want \"%s\"", i, (int)plan->seg[i].len,
                  plan->buf + plan->seg[i].off, want);
    ck_assert_uint_eq(plan->seg[i].delay_ms, delay);
}

static int
all_in(const char *p, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\0' || strchr(set, p[i]) == NULL)
            return 0;
    return 1;
}

#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define ALNUM UPPER "abcdefghijklmnopqrstuvwxyz0123456789"

/* "X-" + name_len A-Z, value of value_len [A-Za-z0-9]. */
static int
is_dummy(const struct http_field *f, int name_len, int value_len)
{
    return f->name.len == (uint32_t)name_len + 2 && memcmp(f->name.p, "X-", 2) == 0 &&
           all_in(f->name.p + 2, (size_t)name_len, UPPER) && f->value.len == (uint32_t)value_len &&
           all_in(f->value.p, (size_t)value_len, ALNUM);
}

/* The plan's bytes are a request http.c accepts, with ndummy dummy fields
 * first and then the original head's fields in their order, equal but for
 * the Host name's spelling and its value's letter case. */
static void
check_valid_request(const struct shape_plan *plan, const char *head, size_t len, int ndummy,
                    int name_len, int value_len)
{
    char *cat = malloc(plan->len);

    ck_assert_ptr_nonnull(cat);
    check_segments_tile(plan);
    for (int i = 0; i < plan->nseg; i++)
        memcpy(cat + plan->seg[i].off, plan->buf + plan->seg[i].off, plan->seg[i].len);
    ck_assert_int_eq(http_parse_request(head, len, &H0), 0);
    ck_assert_int_eq(http_parse_request(cat, plan->len, &H1), 0);
    ck_assert_uint_eq(H1.head_len, plan->len);
    ck_assert_int_eq(H1.method, H0.method);
    ck_assert_uint_eq(H1.target.len, H0.target.len);
    ck_assert_mem_eq(H1.target.p, H0.target.p, H0.target.len);
    ck_assert_int_eq(H1.nfields, H0.nfields + ndummy);
    for (int i = 0; i < ndummy; i++)
        ck_assert_msg(is_dummy(&H1.fields[i], name_len, value_len), "dummy %d: %.*s", i,
                      (int)H1.fields[i].name.len, H1.fields[i].name.p);
    ck_assert_int_eq(H1.host_idx, H0.host_idx + ndummy);
    for (int i = 0; i < H0.nfields; i++) {
        const struct http_field *a = &H0.fields[i], *b = &H1.fields[i + ndummy];

        ck_assert_uint_eq(a->name.len, b->name.len);
        ck_assert_uint_eq(a->value.len, b->value.len);
        if (i == H0.host_idx) {
            ck_assert_int_eq(strncasecmp(a->name.p, b->name.p, a->name.len), 0);
            ck_assert_int_eq(strncasecmp(a->value.p, b->value.p, a->value.len), 0);
        } else {
            ck_assert_mem_eq(a->name.p, b->name.p, a->name.len);
            ck_assert_mem_eq(a->value.p, b->value.p, a->value.len);
        }
    }
    free(cat);
}

/* ---- generator ------------------------------------------------------ */

START_TEST(test_rand_pinned)
{
    uint64_t s = 1, z = 0, c = 0x9E3779B97F4A7C15ULL;

    /* xorshift64* as published; values from an independent implementation */
    ck_assert_uint_eq(shape_rand(&s), 0x47e4ce4b896cdd1dULL);
    ck_assert_uint_eq(shape_rand(&s), 0xabcfa6a8e079651dULL);
    ck_assert_uint_eq(shape_rand(&s), 0xb9d10d8feb731f57ULL);
    /* a zero state is replaced, so it does not stick at zero */
    ck_assert_uint_eq(shape_rand(&z), 0x0d83b3e29a21487aULL);
    ck_assert_uint_ne(z, 0);
    ck_assert_uint_eq(shape_rand(&z), 0x54c44c79f1fe9d67ULL);
    ck_assert_uint_eq(shape_rand(&c), 0x0d83b3e29a21487aULL);
}
END_TEST

/* ---- off ------------------------------------------------------------ */

START_TEST(test_off_single_segment)
{
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 5;

    policy(&pol, SHAPE_OFF);
    pol.mixed_case = 1;
    strcpy(pol.host_name, "hOST");
    plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
    ck_assert_int_eq(plan.nseg, 1);
    seg_is(&plan, 0, HEAD, 0);
    ck_assert_uint_eq(rng, 5); /* no knob applies, nothing drawn */
    /* off needs no Host: the head just goes */
    ck_assert_int_eq(shape_plan_request(B("GET / HTTP/1.0\r\n\r\n"), &pol, &rng, &plan), 0);
    seg_is(&plan, 0, "GET / HTTP/1.0\r\n\r\n", 0);
}
END_TEST

/* ---- split ---------------------------------------------------------- */

static void
run_split(struct shape_policy *pol, uint64_t seed, struct shape_plan *plan)
{
    uint64_t rng = seed;

    plan_init(plan, shape_plan_size(HEAD_LEN, pol));
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, pol, &rng, plan), 0);
    check_valid_request(plan, HEAD, HEAD_LEN, 0, 0, 0);
}

START_TEST(test_split_default)
{
    struct shape_policy pol;
    struct shape_plan plan;

    policy(&pol, SHAPE_SPLIT);
    run_split(&pol, 1, &plan);
    ck_assert_int_eq(plan.nseg, 3);
    seg_is(&plan, 0, RL, 0);
    seg_is(&plan, 1, BEFORE "Host: b", 0);
    seg_is(&plan, 2, "locked.example.org" AFTER, 0);
    ck_assert_mem_eq(plan.buf, HEAD, HEAD_LEN); /* same bytes */

    pol.split_pos = 7;
    run_split(&pol, 1, &plan);
    ck_assert_int_eq(plan.nseg, 3);
    seg_is(&plan, 1, BEFORE "Host: blocked", 0);
    seg_is(&plan, 2, ".example.org" AFTER, 0);
}
END_TEST

/* A plan in fresh malloc'd memory (http_shape.c's): the legacy planners
 * set every field of a segment, so no stray TTL or flag is sent. */
START_TEST(test_split_segments_clean)
{
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 1;

    policy(&pol, SHAPE_SPLIT);
    plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
    memset(plan.seg, 0xbe, sizeof(plan.seg));
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
    for (int i = 0; i < plan.nseg; i++) {
        ck_assert_int_eq(plan.seg[i].ttl, 0);
        ck_assert_int_eq(plan.seg[i].flags, 0);
        ck_assert_uint_eq(plan.seg[i].fake_off, 0);
    }
    policy(&pol, SHAPE_WARP);
    plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
    memset(plan.seg, 0xbe, sizeof(plan.seg));
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
    for (int i = 0; i < plan.nseg; i++)
        ck_assert_int_eq(plan.seg[i].flags | plan.seg[i].ttl, 0);
}
END_TEST

START_TEST(test_split_clamped)
{
    struct shape_policy pol;
    struct shape_plan plan;

    policy(&pol, SHAPE_SPLIT);
    pol.split_pos = 0; /* below: after the first byte */
    run_split(&pol, 1, &plan);
    seg_is(&plan, 1, BEFORE "Host: b", 0);
    pol.split_pos = -5;
    run_split(&pol, 1, &plan);
    seg_is(&plan, 1, BEFORE "Host: b", 0);
    pol.split_pos = 1000; /* beyond: before the last byte */
    run_split(&pol, 1, &plan);
    ck_assert_int_eq(plan.nseg, 3);
    seg_is(&plan, 1, BEFORE "Host: blocked.example.or", 0);
    seg_is(&plan, 2, "g" AFTER, 0);
    pol.split_pos = 18; /* exactly value_len - 1 */
    run_split(&pol, 1, &plan);
    seg_is(&plan, 2, "g" AFTER, 0);
}
END_TEST

START_TEST(test_split_one_byte_host)
{
    static const char head[] = "GET / HTTP/1.1\r\nAccept: */*\r\nHost: a\r\nX-Y: z\r\n\r\n";
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 1;

    policy(&pol, SHAPE_SPLIT);
    pol.split_pos = 3;
    plan_init(&plan, shape_plan_size(sizeof(head) - 1, &pol));
    ck_assert_int_eq(shape_plan_request(head, sizeof(head) - 1, &pol, &rng, &plan), 0);
    ck_assert_int_eq(plan.nseg, 2);
    seg_is(&plan, 0, "GET / HTTP/1.1\r\n", 0);
    seg_is(&plan, 1, "Accept: */*\r\nHost: a\r\nX-Y: z\r\n\r\n", 0);
    check_valid_request(&plan, head, sizeof(head) - 1, 0, 0, 0);
}
END_TEST

START_TEST(test_split_method)
{
    struct shape_policy pol;
    struct shape_plan plan;

    policy(&pol, SHAPE_SPLIT);
    pol.split_method = 1;
    pol.split_pos = 3;
    run_split(&pol, 1, &plan);
    ck_assert_int_eq(plan.nseg, 4);
    seg_is(&plan, 0, "GET ", 0);
    seg_is(&plan, 1, "/news/today.html?lang=en HTTP/1.1\r\n", 0);
    seg_is(&plan, 2, BEFORE "Host: blo", 0);
    seg_is(&plan, 3, "cked.example.org" AFTER, 0);
}
END_TEST

START_TEST(test_split_path)
{
    struct shape_policy pol;
    struct shape_plan plan;

    policy(&pol, SHAPE_SPLIT);
    pol.split_path = 5;
    run_split(&pol, 1, &plan);
    ck_assert_int_eq(plan.nseg, 4);
    seg_is(&plan, 0, "GET /news", 0);
    seg_is(&plan, 1, "/today.html?lang=en HTTP/1.1\r\n", 0);
    seg_is(&plan, 2, BEFORE "Host: b", 0);

    pol.split_method = 1; /* both: three pieces of the request line */
    run_split(&pol, 1, &plan);
    ck_assert_int_eq(plan.nseg, 5);
    seg_is(&plan, 0, "GET ", 0);
    seg_is(&plan, 1, "/news", 0);
    seg_is(&plan, 2, "/today.html?lang=en HTTP/1.1\r\n", 0);

    pol.split_method = 0;
    pol.split_path = 1000; /* clamped inside the target: before its last byte */
    run_split(&pol, 1, &plan);
    seg_is(&plan, 0, "GET /news/today.html?lang=e", 0);
    seg_is(&plan, 1, "n HTTP/1.1\r\n", 0);
}
END_TEST

START_TEST(test_split_path_short_target)
{
    static const char head[] = "GET / HTTP/1.1\r\nHost: ab\r\n\r\n";
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 1;

    policy(&pol, SHAPE_SPLIT);
    pol.split_path = 4; /* a one-byte target is not split */
    pol.split_method = 1;
    plan_init(&plan, shape_plan_size(sizeof(head) - 1, &pol));
    ck_assert_int_eq(shape_plan_request(head, sizeof(head) - 1, &pol, &rng, &plan), 0);
    ck_assert_int_eq(plan.nseg, 4);
    seg_is(&plan, 0, "GET ", 0);
    seg_is(&plan, 1, "/ HTTP/1.1\r\n", 0);
    seg_is(&plan, 2, "Host: a", 0);
    seg_is(&plan, 3, "b\r\n\r\n", 0);
    check_valid_request(&plan, head, sizeof(head) - 1, 0, 0, 0);
}
END_TEST

/* ---- warp ----------------------------------------------------------- */

/* Fixed numbers small enough to write the whole plan down; the golden bytes
 * and pauses come from a separate model of the documented draw order. */
START_TEST(test_warp_exact)
{
    static const struct {
        const char *bytes;
        uint32_t delay;
    } want[] = {
        {RL, 100},  {"X-TTA: PX40d\r\nX-TFP: 4ZD4I\r\n" BEFORE "Host: ", 20},
        {"b", 30},  {"lo", 30},
        {"ck", 30}, {"ed.", 20},
        {"ex", 30}, {"amp", 20},
        {"le", 10}, {".or", 10},
        {"g", 0},   {AFTER, 0},
    };
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 42;

    policy(&pol, SHAPE_WARP);
    pol.delay_ms = 100;
    pol.dummy_headers = 2;
    pol.dummy_name_len = 3;
    pol.dummy_value_len = 5;
    pol.frag_first = 1;
    pol.frag_min = 2;
    pol.frag_max = 3;
    pol.frag_delays[0] = 10;
    pol.frag_delays[1] = 20;
    pol.frag_delays[2] = 30;
    pol.nfrag_delays = 3;
    plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
    ck_assert_int_eq(plan.nseg, (int)(sizeof(want) / sizeof(want[0])));
    for (int i = 0; i < plan.nseg; i++)
        seg_is(&plan, i, want[i].bytes, want[i].delay);
    ck_assert_uint_eq(plan.len, HEAD_LEN + 2 * (3 + 5 + 6));
    check_valid_request(&plan, HEAD, HEAD_LEN, 2, 3, 5);
}
END_TEST

START_TEST(test_warp_defaults)
{
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 12345;
    const struct shape_seg *s;
    size_t dummies = 32 * (2 + 16 + 2 + 128 + 2), host_off, host_len = 0;
    int nfrag;

    policy(&pol, SHAPE_WARP);
    plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
    ck_assert_uint_ge(plan.cap, HEAD_LEN + dummies);
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
    check_valid_request(&plan, HEAD, HEAD_LEN, 32, 16, 128);
    ck_assert_uint_eq(plan.len, HEAD_LEN + dummies);
    seg_is(&plan, 0, RL, 200);
    /* the dummy lines, the fields before Host, "Host: " */
    s = &plan.seg[1];
    ck_assert_uint_eq(s->len, dummies + strlen(BEFORE "Host: "));
    for (int i = 0; i < 32; i++) {
        const char *l = plan.buf + s->off + (size_t)i * 150;

        ck_assert_mem_eq(l, "X-", 2);
        ck_assert(all_in(l + 2, 16, UPPER));
        ck_assert_mem_eq(l + 18, ": ", 2);
        ck_assert(all_in(l + 20, 128, ALNUM));
        ck_assert_mem_eq(l + 148, "\r\n", 2);
    }
    ck_assert_mem_eq(plan.buf + s->off + dummies, BEFORE "Host: ", strlen(BEFORE "Host: "));
    ck_assert(s->delay_ms == 200 || s->delay_ms == 300);
    /* fragments: 1 byte, then 2-4 (the last may be shorter), pauses from
     * {200, 300} except after the last one */
    host_off = s->off + s->len;
    nfrag = plan.nseg - 3;
    ck_assert_int_ge(nfrag, 1 + (19 - 1 + 3) / 4);
    ck_assert_int_le(nfrag, 1 + (19 - 1 + 1) / 2);
    for (int i = 0; i < nfrag; i++) {
        s = &plan.seg[2 + i];
        ck_assert_uint_eq(s->off, host_off + host_len);
        if (i == 0)
            ck_assert_uint_eq(s->len, 1);
        else if (i < nfrag - 1)
            ck_assert(s->len >= 2 && s->len <= 4);
        else
            ck_assert(s->len >= 1 && s->len <= 4);
        if (i < nfrag - 1)
            ck_assert(s->delay_ms == 200 || s->delay_ms == 300);
        else
            ck_assert_uint_eq(s->delay_ms, 0);
        host_len += s->len;
    }
    ck_assert_uint_eq(host_len, 19);
    ck_assert_mem_eq(plan.buf + host_off, "blocked.example.org", 19);
    seg_is(&plan, plan.nseg - 1, AFTER, 0);
}
END_TEST

/* Over many seeds, both configured pauses occur and nothing else does. */
START_TEST(test_warp_delays_from_set)
{
    struct shape_policy pol;
    struct shape_plan plan;
    int seen200 = 0, seen300 = 0;

    policy(&pol, SHAPE_WARP);
    pol.dummy_headers = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        uint64_t rng = seed;

        plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
        ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
        for (int i = 1; i < plan.nseg - 2; i++) {
            uint32_t d = plan.seg[i].delay_ms;

            ck_assert(d == 200 || d == 300);
            seen200 += d == 200;
            seen300 += d == 300;
        }
        ck_assert_uint_eq(plan.seg[plan.nseg - 2].delay_ms, 0);
        ck_assert_uint_eq(plan.seg[plan.nseg - 1].delay_ms, 0);
    }
    ck_assert_int_gt(seen200, 0);
    ck_assert_int_gt(seen300, 0);
}
END_TEST

START_TEST(test_warp_seed_determinism)
{
    static char first[1 << 14];
    struct shape_policy pol;
    struct shape_plan a, b;
    uint64_t r1 = 777, r2 = 777, r3 = 778;
    size_t cap;

    policy(&pol, SHAPE_WARP);
    pol.mixed_case = 1;
    cap = shape_plan_size(HEAD_LEN, &pol);
    plan_init(&a, cap);
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &r1, &a), 0);
    memcpy(first, a.buf, a.len);
    plan_init(&b, cap);
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &r2, &b), 0);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_mem_eq(first, b.buf, b.len);
    ck_assert_int_eq(a.nseg, b.nseg);
    ck_assert_mem_eq(a.seg, b.seg, sizeof(a.seg[0]) * (size_t)a.nseg);
    ck_assert_uint_eq(r1, r2); /* the generator advanced identically */
    /* another seed: other dummy bytes (the first dummy line differs) */
    plan_init(&b, cap);
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &r3, &b), 0);
    ck_assert_int_ne(memcmp(first + strlen(RL), b.buf + strlen(RL), 150), 0);
    /* and the generator state carries on: the next request differs too */
    plan_init(&b, cap);
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &r1, &b), 0);
    ck_assert_int_ne(memcmp(first + strlen(RL), b.buf + strlen(RL), 150), 0);
}
END_TEST

/* A host long enough to need more fragments than a plan holds: the tail is
 * merged into the last allowed fragment. */
START_TEST(test_warp_fragment_cap)
{
    char head[512], host[200];
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 3;
    int n, nfrag;

    for (size_t i = 0; i < sizeof(host) - 1; i++)
        host[i] = i % 40 == 39 ? '.' : (char)('a' + i % 26);
    host[sizeof(host) - 1] = '\0';
    n = snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n\r\n", host);
    policy(&pol, SHAPE_WARP);
    pol.dummy_headers = 1;
    pol.frag_min = 1;
    pol.frag_max = 1;
    plan_init(&plan, shape_plan_size((size_t)n, &pol));
    ck_assert_int_eq(shape_plan_request(head, (size_t)n, &pol, &rng, &plan), 0);
    check_valid_request(&plan, head, (size_t)n, 1, 16, 128);
    nfrag = plan.nseg - 3;
    ck_assert_int_eq(nfrag, SHAPE_MAX_SEGS - 4);
    for (int i = 2; i < 2 + nfrag - 1; i++)
        ck_assert_uint_eq(plan.seg[i].len, 1);
    ck_assert_uint_eq(plan.seg[2 + nfrag - 1].len, 199 - (nfrag - 1));
    ck_assert_uint_eq(plan.seg[2 + nfrag - 1].delay_ms, 0);
    ck_assert_mem_eq(plan.buf + plan.seg[2].off, host, 199);
}
END_TEST

/* No pauses configured: fragments still, with no wait between them. */
START_TEST(test_warp_no_delays)
{
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 8;

    policy(&pol, SHAPE_WARP);
    pol.nfrag_delays = 0;
    pol.delay_ms = 0;
    pol.dummy_headers = 0;
    pol.frag_first = 50; /* longer than the host: a single fragment */
    plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
    ck_assert_int_eq(plan.nseg, 4);
    seg_is(&plan, 0, RL, 0);
    seg_is(&plan, 1, BEFORE "Host: ", 0);
    seg_is(&plan, 2, "blocked.example.org", 0);
    seg_is(&plan, 3, AFTER, 0);
    ck_assert_uint_eq(rng, 8); /* nothing to draw */
    check_valid_request(&plan, HEAD, HEAD_LEN, 0, 0, 0);
}
END_TEST

/* ---- knobs ---------------------------------------------------------- */

START_TEST(test_knobs_split)
{
    struct shape_policy pol;
    struct shape_plan plan;

    policy(&pol, SHAPE_SPLIT);
    pol.split_pos = 3;
    strcpy(pol.host_name, "hoSt");
    pol.mixed_case = 1;
    run_split(&pol, 7, &plan);
    ck_assert_int_eq(plan.nseg, 3);
    seg_is(&plan, 0, RL, 0);
    seg_is(&plan, 1, BEFORE "hoSt: blO", 0);
    seg_is(&plan, 2, "CKEd.EXample.ORg" AFTER, 0);

    /* each knob alone */
    pol.mixed_case = 0;
    run_split(&pol, 7, &plan);
    seg_is(&plan, 1, BEFORE "hoSt: blo", 0);
    seg_is(&plan, 2, "cked.example.org" AFTER, 0);
    pol.mixed_case = 1;
    pol.host_name[0] = '\0';
    run_split(&pol, 7, &plan);
    seg_is(&plan, 1, BEFORE "Host: blO", 0);
    /* "host" lowercase, as tpws and GoodbyeDPI send it */
    strcpy(pol.host_name, "host");
    pol.mixed_case = 0;
    run_split(&pol, 7, &plan);
    seg_is(&plan, 1, BEFORE "host: blo", 0);
}
END_TEST

START_TEST(test_knobs_warp)
{
    static const struct {
        const char *bytes;
        uint32_t delay;
    } want[] = {
        {RL, 50},      {"X-TW: FMr2\r\n" BEFORE "hoSt: ", 250},
        {"bL", 250},   {"ockE", 250},
        {"d.EX", 250}, {"amPL", 250},
        {"E.O", 250},  {"rg", 0},
        {AFTER, 0},
    };
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 9;

    policy(&pol, SHAPE_WARP);
    pol.delay_ms = 50;
    pol.dummy_headers = 1;
    pol.dummy_name_len = 2;
    pol.dummy_value_len = 4;
    pol.frag_first = 2;
    pol.frag_min = 3;
    pol.frag_max = 5;
    pol.frag_delays[0] = 250;
    pol.nfrag_delays = 1;
    strcpy(pol.host_name, "hoSt");
    pol.mixed_case = 1;
    plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
    ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
    ck_assert_int_eq(plan.nseg, (int)(sizeof(want) / sizeof(want[0])));
    for (int i = 0; i < plan.nseg; i++)
        seg_is(&plan, i, want[i].bytes, want[i].delay);
    check_valid_request(&plan, HEAD, HEAD_LEN, 1, 2, 4);
}
END_TEST

/* A spelling that is not "host" in some case would drop the Host field: it
 * is ignored. Letters only change case; digits, dots and the port do not. */
START_TEST(test_knobs_limits)
{
    static const char head[] = "GET / HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n\r\n";
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 11;

    policy(&pol, SHAPE_SPLIT);
    strcpy(pol.host_name, "Hostx");
    run_split(&pol, 1, &plan);
    seg_is(&plan, 1, BEFORE "Host: b", 0);
    strcpy(pol.host_name, "X-Host");
    run_split(&pol, 1, &plan);
    seg_is(&plan, 1, BEFORE "Host: b", 0);
    memcpy(pol.host_name, "HOSTHOSTHOSTHOST", 16); /* no terminator: read within bounds */
    run_split(&pol, 1, &plan);
    seg_is(&plan, 1, BEFORE "Host: b", 0);

    pol.host_name[0] = '\0';
    pol.mixed_case = 1;
    plan_init(&plan, shape_plan_size(sizeof(head) - 1, &pol));
    ck_assert_int_eq(shape_plan_request(head, sizeof(head) - 1, &pol, &rng, &plan), 0);
    ck_assert_mem_eq(plan.buf, head, sizeof(head) - 1);
    ck_assert_uint_eq(rng, 11); /* no letter, no draw */
}
END_TEST

/* ---- refusals ------------------------------------------------------- */

START_TEST(test_no_host)
{
    static const struct {
        const char *head;
        size_t len;
    } bad[] = {
        {B("GET / HTTP/1.1\r\nAccept: */*\r\nX-Host: a.b\r\n\r\n")}, /* no Host */
        {B("GET / HTTP/1.1\r\nHosts: a.b\r\n\r\n")},
        {B("GET / HTTP/1.1\r\nHost: a.b\r\nhost: c.d\r\n\r\n")}, /* two */
        {B("GET / HTTP/1.1\r\nHost: \r\n\r\n")},                 /* empty */
        {B("GET / HTTP/1.1\r\nHost: a.b\r\n")},                  /* no blank line */
        {B("GET / HTTP/1.1\r\nHost: a.b\r\nBroken\r\n\r\n")},    /* a line without colon */
        {B("\r\nGET / HTTP/1.1\r\nHost: a.b\r\n\r\n")},          /* empty request line */
        {B("GET / HTTP/1.1")},
        {B("")},
        /* Host after the blank line is body, not a field */
        {B("POST / HTTP/1.1\r\nContent-Length: 13\r\n\r\nHost: a.b\r\n\r\n")},
    };
    struct shape_policy pol;
    struct shape_plan plan;

    for (int s = SHAPE_SPLIT; s <= SHAPE_WARP; s++) {
        policy(&pol, (enum cfg_shape)s);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            uint64_t rng = 1;

            plan_init(&plan, sizeof(BUF));
            ck_assert_msg(shape_plan_request(bad[i].head, bad[i].len, &pol, &rng, &plan) == -1,
                          "strategy %d, case %zu", s, i);
            ck_assert_int_eq(plan.nseg, 0);
        }
    }
    /* the Host name matches in any case */
    policy(&pol, SHAPE_SPLIT);
    {
        uint64_t rng = 1;

        plan_init(&plan, sizeof(BUF));
        ck_assert_int_eq(
            shape_plan_request(B("GET / HTTP/1.1\r\nhOsT: ab\r\n\r\n"), &pol, &rng, &plan), 0);
        seg_is(&plan, 1, "hOsT: a", 0);
    }
}
END_TEST

/* Every prefix of a head is refused by split and warp (the blank line is
 * missing), and nothing is read beyond it: each prefix is its own heap block
 * of exactly that size, so ASan sees any stray read. */
START_TEST(test_truncated_heads)
{
    struct shape_policy pol;
    struct shape_plan plan;

    for (int s = SHAPE_SPLIT; s <= SHAPE_WARP; s++) {
        policy(&pol, (enum cfg_shape)s);
        for (size_t n = 0; n < HEAD_LEN; n++) {
            char *h = malloc(n ? n : 1);
            uint64_t rng = 1;

            memcpy(h, HEAD, n);
            plan_init(&plan, sizeof(BUF));
            ck_assert_int_eq(shape_plan_request(h, n, &pol, &rng, &plan), -1);
            free(h);
        }
    }
}
END_TEST

/* A buffer one byte short is refused and left alone beyond cap; exactly the
 * bytes needed is enough; shape_plan_size is an upper bound. */
START_TEST(test_cap_too_small)
{
    struct shape_policy pol;
    struct shape_plan plan;

    for (int s = SHAPE_OFF; s <= SHAPE_WARP; s++) {
        size_t need;
        uint64_t rng = 1;

        policy(&pol, (enum cfg_shape)s);
        plan_init(&plan, shape_plan_size(HEAD_LEN, &pol));
        ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
        need = plan.len;
        ck_assert_uint_le(need, shape_plan_size(HEAD_LEN, &pol));

        memset(BUF, 0x5a, sizeof(BUF));
        plan_init(&plan, need - 1);
        ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), -1);
        ck_assert_int_eq(plan.nseg, 0);
        for (size_t i = need - 1; i < need + 64; i++)
            ck_assert_int_eq(BUF[i], 0x5a);
        plan_init(&plan, 0);
        ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), -1);
        ck_assert_int_eq(BUF[0], 0x5a);

        plan_init(&plan, need);
        ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &rng, &plan), 0);
        check_segments_tile(&plan);
    }
}
END_TEST

/* ---- TLS ------------------------------------------------------------ */

enum sni_where { SNI_NONE, SNI_FIRST, SNI_MIDDLE, SNI_LAST };

struct hello {
    unsigned char b[20000];
    size_t len;      /* the record, plus `extra` bytes after it */
    size_t rec_len;  /* record payload length */
    size_t name_off; /* where the builder put the host name, 0 when none */
    size_t name_len;
};

static void
put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static size_t
rd16(const unsigned char *p)
{
    return (size_t)p[0] << 8 | p[1];
}

static size_t
add_ext(unsigned char *p, unsigned type, const unsigned char *data, size_t n)
{
    put16(p, type);
    put16(p + 2, n);
    if (n > 0)
        memcpy(p + 4, data, n);
    return 4 + n;
}

/* A TLS 1.3-style ClientHello in one record (record version 0x0301): 32-byte
 * session id, three suites, null compression, some extensions with the
 * server_name where asked, and `extra` bytes after the record. */
static void
build_hello(struct hello *h, const char *name, enum sni_where where, size_t extra)
{
    static const unsigned char versions[] = {0x04, 0x03, 0x04, 0x03, 0x03};
    static const unsigned char groups[] = {0x00, 0x04, 0x00, 0x1d, 0x00, 0x17};
    static const unsigned char alpn[] = {0x00, 0x0c, 0x02, 'h', '2', 0x08, 'h',
                                         't',  't',  'p',  '/', '1', '.',  '1'};
    unsigned char *p = h->b, *hs, *ext;
    size_t nl = name ? strlen(name) : 0, i = 0, e = 0, sni_at = 0;
    unsigned char sni[1024];

    memset(h, 0, sizeof(*h));
    p[0] = 22;
    p[1] = 3;
    p[2] = 1;
    hs = p + 5;
    hs[0] = 1;
    i = 4;
    hs[i++] = 3;
    hs[i++] = 3;
    for (int k = 0; k < 32; k++)
        hs[i++] = (unsigned char)(0xa0 + k); /* random */
    hs[i++] = 32;
    for (int k = 0; k < 32; k++)
        hs[i++] = (unsigned char)k; /* session id */
    put16(hs + i, 6);
    i += 2;
    memcpy(hs + i, "\x13\x01\x13\x02\xc0\x2f", 6);
    i += 6;
    hs[i++] = 1;
    hs[i++] = 0;
    ext = hs + i + 2;
    if (name) {
        put16(sni, nl + 3); /* server_name_list */
        sni[2] = 0;         /* host_name */
        put16(sni + 3, nl);
        memcpy(sni + 5, name, nl);
    }
    if (where == SNI_FIRST) {
        sni_at = e + 4 + 5;
        e += add_ext(ext + e, 0, sni, nl + 5);
    }
    e += add_ext(ext + e, 0x002b, versions, sizeof(versions)); /* supported_versions */
    e += add_ext(ext + e, 0x000a, groups, sizeof(groups));     /* supported_groups */
    if (where == SNI_MIDDLE) {
        sni_at = e + 4 + 5;
        e += add_ext(ext + e, 0, sni, nl + 5);
    }
    e += add_ext(ext + e, 0x0010, alpn, sizeof(alpn)); /* ALPN */
    e += add_ext(ext + e, 0x0017, NULL, 0);            /* extended_master_secret */
    if (where == SNI_LAST) {
        sni_at = e + 4 + 5;
        e += add_ext(ext + e, 0, sni, nl + 5);
    }
    put16(hs + i, e);
    i += 2 + e;
    hs[1] = (unsigned char)((i - 4) >> 16);
    hs[2] = (unsigned char)((i - 4) >> 8);
    hs[3] = (unsigned char)(i - 4);
    put16(p + 3, i);
    h->rec_len = i;
    h->len = 5 + i + extra;
    for (size_t k = 0; k < extra; k++)
        p[5 + i + k] = (unsigned char)(0x17 + k);
    if (where != SNI_NONE && name) {
        h->name_off = (size_t)(ext - p) + sni_at;
        h->name_len = nl;
        ck_assert_mem_eq(p + h->name_off, name, nl);
    }
}

static int
plan_tls(const struct hello *h, size_t len, int mode, int split_pos, struct shape_plan *plan)
{
    struct shape_policy pol;

    policy(&pol, SHAPE_SPLIT);
    pol.tls_mode = mode;
    pol.split_pos = split_pos;
    plan_init(plan, len + SHAPE_TLS_GROWTH);
    return shape_plan_tls((const char *)h->b, len, &pol, plan);
}

static void
check_mode1(const struct hello *h, int split_pos, size_t split)
{
    struct shape_plan plan;
    size_t at = h->name_off + split;

    ck_assert_int_eq(plan_tls(h, h->len, 1, split_pos, &plan), 0);
    check_segments_tile(&plan);
    ck_assert_uint_eq(plan.len, h->len);
    ck_assert_mem_eq(plan.buf, h->b, h->len);
    ck_assert_int_eq(plan.nseg, h->len > 5 + h->rec_len ? 3 : 2);
    ck_assert_uint_eq(plan.seg[0].len, at);
    ck_assert_uint_eq(plan.seg[1].off + plan.seg[1].len, 5 + h->rec_len);
    for (int i = 0; i < plan.nseg; i++)
        ck_assert_uint_eq(plan.seg[i].delay_ms, 0);
}

/* Mode 2: two well-formed handshake records whose payloads are the original
 * payload cut inside the name, then the bytes after the record unchanged. */
static void
check_mode2(const struct hello *h, int split_pos, size_t split)
{
    struct shape_plan plan;
    const unsigned char *o;
    size_t k = h->name_off + split - 5, la, lb;
    unsigned char *payload = malloc(h->rec_len);

    ck_assert_int_eq(plan_tls(h, h->len, 2, split_pos, &plan), 0);
    check_segments_tile(&plan);
    o = (const unsigned char *)plan.buf;
    ck_assert_uint_eq(plan.len, h->len + 5);
    ck_assert_int_eq(plan.nseg, h->len > 5 + h->rec_len ? 3 : 2);
    ck_assert(o[0] == 22 && o[1] == 3 && o[2] == 1);
    la = rd16(o + 3);
    ck_assert_uint_eq(la, k);
    ck_assert_uint_eq(plan.seg[0].len, 5 + la);
    ck_assert(o[5 + la] == 22 && o[6 + la] == 3 && o[7 + la] == 1);
    lb = rd16(o + 8 + la);
    ck_assert_uint_gt(lb, 0);
    ck_assert_uint_eq(la + lb, h->rec_len);
    ck_assert_uint_eq(plan.seg[1].off, 5 + la);
    ck_assert_uint_eq(plan.seg[1].len, 5 + lb);
    memcpy(payload, o + 5, la);
    memcpy(payload + la, o + 10 + la, lb);
    ck_assert_mem_eq(payload, h->b + 5, h->rec_len);
    /* the name really is cut: its first `split` bytes end record A */
    ck_assert_mem_eq(o + 5 + la - split, h->b + h->name_off, split);
    if (plan.nseg == 3) {
        ck_assert_uint_eq(plan.seg[2].len, h->len - 5 - h->rec_len);
        ck_assert_mem_eq(o + plan.seg[2].off, h->b + 5 + h->rec_len, plan.seg[2].len);
    }
    for (int i = 0; i < plan.nseg; i++)
        ck_assert_uint_eq(plan.seg[i].delay_ms, 0);
    free(payload);
}

START_TEST(test_tls_split_positions)
{
    static struct hello h;
    static const enum sni_where wh[] = {SNI_FIRST, SNI_MIDDLE, SNI_LAST};

    for (size_t w = 0; w < 3; w++) {
        for (size_t extra = 0; extra <= 7; extra += 7) {
            build_hello(&h, "blocked.example.org", wh[w], extra);
            check_mode1(&h, 1, 1);
            check_mode1(&h, 7, 7);
            check_mode1(&h, 0, 1);    /* clamped up */
            check_mode1(&h, 100, 18); /* clamped to name_len - 1 */
            check_mode2(&h, 1, 1);
            check_mode2(&h, 7, 7);
            check_mode2(&h, 100, 18);
        }
    }
}
END_TEST

/* The byte-exact picture for one small hello, mode 1 and mode 2. */
START_TEST(test_tls_exact)
{
    static struct hello h;
    struct shape_plan plan;
    const unsigned char *o;

    build_hello(&h, "ab.cd", SNI_FIRST, 0);
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 2, &plan), 0);
    ck_assert_int_eq(plan.nseg, 2);
    ck_assert_uint_eq(plan.seg[0].len, h.name_off + 2);
    ck_assert_mem_eq(plan.buf + plan.seg[0].len - 2, "ab", 2);
    ck_assert_mem_eq(plan.buf + plan.seg[1].off, ".cd", 3);

    ck_assert_int_eq(plan_tls(&h, h.len, 2, 2, &plan), 0);
    o = (const unsigned char *)plan.buf;
    ck_assert_int_eq(plan.nseg, 2);
    /* record A: header, the payload up to "ab" */
    ck_assert_mem_eq(o, "\x16\x03\x01", 3);
    ck_assert_uint_eq(rd16(o + 3), h.name_off - 5 + 2);
    ck_assert_mem_eq(o + 5, h.b + 5, h.name_off - 5 + 2);
    /* record B: header, ".cd" and the rest */
    ck_assert_mem_eq(o + h.name_off + 2, "\x16\x03\x01", 3);
    ck_assert_uint_eq(rd16(o + h.name_off + 5), h.len - h.name_off - 2);
    ck_assert_mem_eq(o + h.name_off + 7, ".cd", 3);
    ck_assert_mem_eq(o + h.name_off + 7, h.b + h.name_off + 2, h.len - h.name_off - 2);
}
END_TEST

START_TEST(test_tls_long_name)
{
    static struct hello h;
    char name[1001];

    for (size_t i = 0; i < sizeof(name) - 1; i++)
        name[i] = i % 60 == 59 ? '.' : (char)('a' + i % 26);
    name[sizeof(name) - 1] = '\0';
    build_hello(&h, name, SNI_LAST, 3);
    check_mode1(&h, 500, 500);
    check_mode2(&h, 500, 500);
    check_mode2(&h, 5000, 999);
}
END_TEST

START_TEST(test_tls_nothing_to_do)
{
    static struct hello h;
    struct shape_plan plan;
    static const char http[] = "GET / HTTP/1.1\r\nHost: blocked.example.org\r\n\r\n";

    build_hello(&h, NULL, SNI_NONE, 0);
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);
    ck_assert_int_eq(plan_tls(&h, h.len, 2, 1, &plan), 1);
    build_hello(&h, "x", SNI_FIRST, 0); /* one letter: nothing inside to split */
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);
    build_hello(&h, "blocked.example.org", SNI_MIDDLE, 0);
    ck_assert_int_eq(plan_tls(&h, h.len, 0, 1, &plan), 1); /* tls_mode off */
    ck_assert_int_eq(plan_tls(&h, h.len, 3, 1, &plan), 1);

    {
        struct shape_policy pol;

        policy(&pol, SHAPE_SPLIT);
        pol.tls_mode = 1;
        plan_init(&plan, sizeof(BUF));
        ck_assert_int_eq(shape_plan_tls(http, sizeof(http) - 1, &pol, &plan), 1);
        ck_assert_int_eq(shape_plan_tls("", 0, &pol, &plan), 1);
        ck_assert_int_eq(shape_plan_tls("\x16\x03\x01\x00", 4, &pol, &plan), 1);
        ck_assert_int_eq(plan.nseg, 0);
    }
}
END_TEST

/* Header fields that must be refused, each changed alone. */
START_TEST(test_tls_malformed)
{
    static struct hello h;
    struct shape_plan plan;
    unsigned char *hs = h.b + 5;

    build_hello(&h, "blocked.example.org", SNI_MIDDLE, 0);
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 0); /* the baseline works */

    h.b[0] = 23; /* application data */
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);
    h.b[0] = 22;
    h.b[2] = 0; /* SSL 3.0 */
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);
    h.b[2] = 4; /* no such record version */
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);
    h.b[2] = 3; /* 1.2 on the record layer is fine */
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 0);
    h.b[1] = 2;
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);
    h.b[1] = 3;
    hs[0] = 2; /* ServerHello */
    ck_assert_int_eq(plan_tls(&h, h.len, 2, 1, &plan), 1);
    hs[0] = 1;
    hs[3]++; /* the ClientHello runs past its record */
    ck_assert_int_eq(plan_tls(&h, h.len, 2, 1, &plan), 1);
    hs[3]--;

    /* each enclosing length in the server_name path one too long, alone:
     * name > its list, list > its extension, extension > the block, block >
     * the ClientHello (the lengths sit 2, 5, 7 and, for SNI first, 11 bytes
     * before the name) */
    for (size_t k = 0; k < 3; k++) {
        static const size_t back[] = {2, 5, 7};

        build_hello(&h, "blocked.example.org", SNI_LAST, 0);
        put16(h.b + h.name_off - back[k], rd16(h.b + h.name_off - back[k]) + 1);
        ck_assert_msg(plan_tls(&h, h.len, 1, 1, &plan) == 1, "length %zu before the name", back[k]);
    }
    build_hello(&h, "blocked.example.org", SNI_FIRST, 0);
    put16(h.b + h.name_off - 11, rd16(h.b + h.name_off - 11) + 1);
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);
    /* the extension block ending in the middle of the first extension's
     * header, then in the middle of its name */
    build_hello(&h, "blocked.example.org", SNI_FIRST, 0);
    put16(h.b + h.name_off - 11, 2);
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);
    build_hello(&h, "blocked.example.org", SNI_FIRST, 0);
    put16(h.b + h.name_off - 11, 4 + 5 + 10);
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 1, &plan), 1);

    /* a record claiming more than 2^14 bytes, even when they are all there */
    build_hello(&h, "blocked.example.org", SNI_LAST, 0);
    put16(h.b + 3, 16385);
    ck_assert_int_eq(plan_tls(&h, 5 + 16385, 1, 1, &plan), 1);
}
END_TEST

/* Every prefix of a complete hello is incomplete, whatever it contains; each
 * is its own heap block of exactly that size so ASan catches a stray read. */
START_TEST(test_tls_truncated)
{
    static struct hello h;
    static const enum sni_where wh[] = {SNI_FIRST, SNI_LAST};

    for (size_t w = 0; w < 2; w++) {
        build_hello(&h, "blocked.example.org", wh[w], 0);
        for (size_t n = 0; n < h.len; n++) {
            unsigned char *d = malloc(n ? n : 1);
            struct shape_policy pol;
            struct shape_plan plan;

            memcpy(d, h.b, n);
            policy(&pol, SHAPE_SPLIT);
            for (pol.tls_mode = 1; pol.tls_mode <= 2; pol.tls_mode++) {
                plan_init(&plan, sizeof(BUF));
                ck_assert_int_eq(shape_plan_tls((const char *)d, n, &pol, &plan), 1);
            }
            free(d);
        }
    }
}
END_TEST

/* Every byte of the record set to a few values: the planner either declines
 * or returns a plan that tiles and (mode 2) has consistent records. A
 * changed length field that still fits makes the walk land elsewhere, which
 * is fine as long as it never reads outside the data. */
START_TEST(test_tls_corrupted)
{
    static struct hello h;
    static const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    int planned = 0;

    build_hello(&h, "blocked.example.org", SNI_MIDDLE, 2);
    for (size_t i = 0; i < h.len; i++) {
        for (size_t v = 0; v < sizeof(vals) + 2; v++) {
            unsigned char *d = malloc(h.len);
            struct shape_policy pol;
            struct shape_plan plan;
            int rc;

            memcpy(d, h.b, h.len);
            d[i] =
                v < sizeof(vals) ? vals[v] : (unsigned char)(d[i] + (v == sizeof(vals) ? 1 : -1));
            policy(&pol, SHAPE_SPLIT);
            for (pol.tls_mode = 1; pol.tls_mode <= 2; pol.tls_mode++) {
                plan_init(&plan, sizeof(BUF));
                rc = shape_plan_tls((const char *)d, h.len, &pol, &plan);
                ck_assert(rc == 0 || rc == 1);
                if (rc == 1)
                    continue;
                planned++;
                check_segments_tile(&plan);
                if (pol.tls_mode == 2) {
                    const unsigned char *o = (const unsigned char *)plan.buf;
                    size_t la = rd16(o + 3), lb = rd16(o + 8 + la);

                    ck_assert_uint_eq(la + lb, rd16(d + 3));
                    ck_assert_uint_eq(plan.len, h.len + 5);
                    ck_assert_mem_eq(o + 5, d + 5, la);
                    ck_assert_mem_eq(o + 10 + la, d + 5 + la, lb);
                } else {
                    ck_assert_mem_eq(plan.buf, d, h.len);
                }
            }
            free(d);
        }
    }
    ck_assert_int_gt(planned, 0); /* bytes outside the lengths do not matter */
}
END_TEST

START_TEST(test_tls_cap_too_small)
{
    static struct hello h;
    struct shape_policy pol;
    struct shape_plan plan;

    build_hello(&h, "blocked.example.org", SNI_FIRST, 4);
    policy(&pol, SHAPE_SPLIT);
    pol.tls_mode = 1;
    memset(BUF, 0x5a, sizeof(BUF));
    plan_init(&plan, h.len - 1);
    ck_assert_int_eq(shape_plan_tls((const char *)h.b, h.len, &pol, &plan), -1);
    ck_assert_int_eq(BUF[0], 0x5a);
    plan_init(&plan, h.len);
    ck_assert_int_eq(shape_plan_tls((const char *)h.b, h.len, &pol, &plan), 0);
    pol.tls_mode = 2;
    memset(BUF, 0x5a, sizeof(BUF));
    plan_init(&plan, h.len + SHAPE_TLS_GROWTH - 1);
    ck_assert_int_eq(shape_plan_tls((const char *)h.b, h.len, &pol, &plan), -1);
    ck_assert_int_eq(BUF[0], 0x5a);
    plan_init(&plan, h.len + SHAPE_TLS_GROWTH);
    ck_assert_int_eq(shape_plan_tls((const char *)h.b, h.len, &pol, &plan), 0);
}
END_TEST

/* A server_name extension whose first entry is not a host_name, then one
 * that is: the host_name is found; with only the other entry, nothing. */
START_TEST(test_tls_sni_entry_types)
{
    static struct hello h;
    struct shape_plan plan;
    unsigned char *n;

    /* "zz.example.org" -> entry type 7 with length 2 ("zz"), then a
     * host_name entry of the remaining bytes minus 3: rewrite in place */
    build_hello(&h, "zzzzz.example.org", SNI_FIRST, 0);
    n = h.b + h.name_off - 3; /* name_type, length of the original entry */
    n[0] = 7;
    put16(n + 1, 2);
    n[5] = 0; /* a second entry after "zz": host_name */
    put16(n + 6, 17 - 2 - 3);
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 3, &plan), 0);
    ck_assert_uint_eq(plan.seg[0].len, h.name_off + 5 + 3);
    /* only the foreign entry */
    build_hello(&h, "zzzzz.example.org", SNI_FIRST, 0);
    h.b[h.name_off - 3] = 7;
    ck_assert_int_eq(plan_tls(&h, h.len, 1, 3, &plan), 1);
}
END_TEST

START_TEST(test_policy_host_name_copied)
{
    struct shape_policy pol;
    struct config c;
    char err[256];

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "shape_host_header", "hOsT", err, sizeof(err)), 0);
    memset(&pol, 'x', sizeof(pol));
    shape_policy_init(&c, SHAPE_SPLIT, &pol);
    ck_assert_str_eq(pol.host_name, "hOsT");
    ck_assert_int_eq(pol.strategy, SHAPE_SPLIT);
    config_init(&c); /* the default: the name as regenerated */
    memset(&pol, 'x', sizeof(pol));
    shape_policy_init(&c, SHAPE_WARP, &pol);
    ck_assert_str_eq(pol.host_name, "");
    ck_assert_int_eq(pol.delay_ms, 200);
}
END_TEST

/* ---- strategies of steps (shape_plan.c) ----------------------------- */

/* A short head: the request line is 17 bytes, the Host value starts at 23,
 * "blocked" at 27 (midsld 30), the name ends at 38, the head at 55. */
static const char SH[] = "GET /p HTTP/1.1\r\nHost: www.blocked.org\r\nAccept: */*\r\n\r\n";
#define SH_LEN (sizeof(SH) - 1)

/* A policy of user strategy 0 with the steps of `words` (space-separated). */
static void
spolicy(struct shape_policy *pol, const char *words)
{
    char w[1024], err[128], *save = NULL;

    policy(pol, SHAPE_USER);
    pol->fake_ttl = 8;
    pol->disorder_ttl = 1;
    strcpy(pol->fake_host, "fake.test");
    strcpy(pol->fake_sni, "fake.test");
    ck_assert_uint_lt(strlen(words), sizeof(w));
    strcpy(w, words);
    for (char *t = strtok_r(w, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        ck_assert_int_lt(pol->strat.nstep, SHAPE_MAX_STEPS);
        ck_assert_msg(shape_step_parse(t, &pol->strat.step[pol->strat.nstep++], err, sizeof(err)) ==
                          0,
                      "%s: %s", t, err);
    }
}

static int
plan_words(const char *data, size_t len, const char *words, uint64_t seed, struct shape_plan *plan)
{
    struct shape_policy pol;

    spolicy(&pol, words);
    plan_init(plan, shape_plan_size(len, &pol));
    return shape_plan_flight(data, len, &pol, &seed, plan);
}

/* Segment i is want[0..n) with that ttl and those flags (no pause). */
static void
seg_at(const struct shape_plan *plan, int i, const char *want, size_t n, int ttl, int flags)
{
    ck_assert_int_lt(i, plan->nseg);
    ck_assert_msg(plan->seg[i].len == n && memcmp(plan->buf + plan->seg[i].off, want, n) == 0,
                  "segment %d is \"%.*s\", want \"%.*s\"", i, (int)plan->seg[i].len,
                  plan->buf + plan->seg[i].off, (int)n, want);
    ck_assert_int_eq(plan->seg[i].ttl, ttl);
    ck_assert_int_eq(plan->seg[i].flags, flags);
    ck_assert_uint_eq(plan->seg[i].delay_ms, 0);
    if ((flags & SHAPE_SEG_FAKE) == 0)
        ck_assert_uint_eq(plan->seg[i].fake_off, 0);
}

/* Bytes a plan uses: its segments and its fake bytes. */
static size_t
plan_used(const struct shape_plan *plan)
{
    size_t end = plan->len;

    for (int i = 0; i < plan->nseg; i++)
        if ((plan->seg[i].flags & SHAPE_SEG_FAKE) && plan->seg[i].fake_off + plan->seg[i].len > end)
            end = plan->seg[i].fake_off + plan->seg[i].len;
    return end;
}

#define SEG(plan, i, lit, ttl, flags) seg_at(plan, i, lit, sizeof(lit) - 1, ttl, flags)

START_TEST(test_steps_split_http)
{
    struct shape_plan plan;

    ck_assert_int_eq(plan_words(B(SH), "split:host+1,midsld", 1, &plan), 0);
    check_segments_tile(&plan);
    ck_assert_int_eq(plan.nseg, 3);
    SEG(&plan, 0, "GET /p HTTP/1.1\r\nHost: w", 0, 0);
    SEG(&plan, 1, "ww.blo", 0, 0);
    SEG(&plan, 2, "cked.org\r\nAccept: */*\r\n\r\n", 0, 0);
    /* every marker, merged duplicates, steps in any order */
    ck_assert_int_eq(
        plan_words(B(SH), "split:eoh-2,sld,-1 split:method+3,endhost,sni,sld", 1, &plan), 0);
    ck_assert_int_eq(plan.nseg, 7);
    SEG(&plan, 0, "GET", 0, 0);
    SEG(&plan, 1, " /p HTTP/1.1\r\nHost: ", 0, 0);
    SEG(&plan, 2, "www.", 0, 0);
    SEG(&plan, 3, "blocked.org", 0, 0);
    SEG(&plan, 4, "\r\nAccept: */*\r\n", 0, 0);
    SEG(&plan, 5, "\r", 0, 0);
    SEG(&plan, 6, "\n", 0, 0);
}
END_TEST

START_TEST(test_steps_disorder_oob_http)
{
    struct shape_plan plan;

    ck_assert_int_eq(plan_words(B(SH), "disorder:host+1", 1, &plan), 0);
    ck_assert_int_eq(plan.nseg, 2);
    SEG(&plan, 0, "GET /p HTTP/1.1\r\nHost: w", 1, 0);
    SEG(&plan, 1, "ww.blocked.org\r\nAccept: */*\r\n\r\n", 0, 0);

    ck_assert_int_eq(plan_words(B(SH), "oob:host+1", 1, &plan), 0);
    check_segments_tile(&plan);
    ck_assert_uint_eq(plan.len, SH_LEN + 1);
    SEG(&plan, 0, "GET /p HTTP/1.1\r\nHost: wa", 0, SHAPE_SEG_OOB);
    SEG(&plan, 1, "ww.blocked.org\r\nAccept: */*\r\n\r\n", 0, 0);

    /* One urgent byte per flight: the second disoob cut keeps its TTL only. */
    ck_assert_int_eq(plan_words(B(SH), "disoob:host+1,midsld split:endhost", 1, &plan), 0);
    ck_assert_uint_eq(plan.len, SH_LEN + 1);
    ck_assert_int_eq(plan.nseg, 4);
    SEG(&plan, 0, "GET /p HTTP/1.1\r\nHost: wa", 1, SHAPE_SEG_OOB);
    SEG(&plan, 1, "ww.blo", 1, 0);
    SEG(&plan, 2, "cked.org", 0, 0);
    SEG(&plan, 3, "\r\nAccept: */*\r\n\r\n", 0, 0);

    /* oob and disorder at one cut: the piece has both */
    ck_assert_int_eq(plan_words(B(SH), "oob:5 disorder:5,-5", 1, &plan), 0);
    ck_assert_int_eq(plan.nseg, 3);
    SEG(&plan, 0, "GET /a", 1, SHAPE_SEG_OOB);
    SEG(&plan, 1, "p HTTP/1.1\r\nHost: www.blocked.org\r\nAccept: */", 1, 0);
    SEG(&plan, 2, "*\r\n\r\n", 0, 0);
    /* a disorder TTL of 0 in a policy built by hand means 1 */
    {
        struct shape_policy pol;
        uint64_t rng = 1;

        spolicy(&pol, "disorder:3");
        pol.disorder_ttl = 0;
        plan_init(&plan, shape_plan_size(SH_LEN, &pol));
        ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 0);
        ck_assert_int_eq(plan.seg[0].ttl, 1);
        pol.disorder_ttl = 64;
        ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 0);
        ck_assert_int_eq(plan.seg[0].ttl, 64);
    }
}
END_TEST

/* The fake request of the whole flight's length; a fake piece is its bytes at
 * the piece's offsets, stored after plan->len. */
START_TEST(test_steps_fake_http)
{
    static const char tmpl[] = "GET / HTTP/1.1\r\nHost: fake.test\r\nX-Pad: abcdefghijk\r\n\r\n";
    struct shape_plan plan;

    ck_assert_uint_eq(sizeof(tmpl) - 1, SH_LEN);
    ck_assert_int_eq(plan_words(B(SH), "fake:host+1", 1, &plan), 0);
    check_segments_tile(&plan);
    ck_assert_uint_eq(plan.len, SH_LEN);
    ck_assert_int_eq(plan.nseg, 2);
    SEG(&plan, 0, "GET /p HTTP/1.1\r\nHost: w", 8, SHAPE_SEG_FAKE);
    ck_assert_uint_eq(plan.seg[0].fake_off, SH_LEN);
    ck_assert_mem_eq(plan.buf + plan.seg[0].fake_off, "GET / HTTP/1.1\r\nHost: fak", 24);
    ck_assert_mem_eq(plan.buf + plan.len, tmpl, 24);
    ck_assert_uint_eq(plan_used(&plan), SH_LEN + 24); /* the template up to the fake's end */
    SEG(&plan, 1, "ww.blocked.org\r\nAccept: */*\r\n\r\n", 0, 0);
    ck_assert_uint_le(plan.len + SH_LEN, plan.cap);

    /* two fakes: the second at its own offset in the template; fake wins
     * over disorder and oob at the same cut; the pieces between are plain */
    ck_assert_int_eq(
        plan_words(B(SH), "fake:3,midsld disorder:midsld oob:midsld split:host", 1, &plan), 0);
    ck_assert_uint_eq(plan.len, SH_LEN);
    ck_assert_int_eq(plan.nseg, 4);
    SEG(&plan, 0, "GET", 8, SHAPE_SEG_FAKE);
    ck_assert_uint_eq(plan.seg[0].fake_off, SH_LEN);
    SEG(&plan, 1, " /p HTTP/1.1\r\nHost: ", 0, 0);
    SEG(&plan, 2, "www.blo", 8, SHAPE_SEG_FAKE);
    ck_assert_uint_eq(plan.seg[2].fake_off, SH_LEN + 23);
    ck_assert_mem_eq(plan.buf + plan.seg[2].fake_off, "ake.tes", 7);
    SEG(&plan, 3, "cked.org\r\nAccept: */*\r\n\r\n", 0, 0);
    /* fake with oob elsewhere: the template follows the urgent bytes */
    ck_assert_int_eq(plan_words(B(SH), "oob:2 fake:host", 1, &plan), 0);
    ck_assert_uint_eq(plan.len, SH_LEN + 1);
    SEG(&plan, 0, "GEa", 0, SHAPE_SEG_OOB);
    SEG(&plan, 1, "T /p HTTP/1.1\r\nHost: ", 8, SHAPE_SEG_FAKE);
    ck_assert_uint_eq(plan.seg[1].fake_off, SH_LEN + 1 + 2);
    ck_assert_mem_eq(plan.buf + plan.seg[1].fake_off, tmpl + 2, 21);
}
END_TEST

START_TEST(test_fake_http_template)
{
    static const char full[] = "GET / HTTP/1.1\r\nHost: f.t\r\n";
    char out[128];

    memset(out, '#', sizeof(out));
    shape_fake_http(out, 40, 40, "f.t");
    ck_assert_mem_eq(out, "GET / HTTP/1.1\r\nHost: f.t\r\nX-Pad: ab\r\n\r\n", 40);
    ck_assert_int_eq(out[40], '#');
    shape_fake_http(out, 38, 38, "f.t"); /* room for the shortest line: an empty value */
    ck_assert_mem_eq(out, "GET / HTTP/1.1\r\nHost: f.t\r\nX-Pad: \r\n\r\n", 38);
    shape_fake_http(out, 29, 29, "f.t"); /* no room at all: the blank line at once */
    ck_assert_mem_eq(out, "GET / HTTP/1.1\r\nHost: f.t\r\n\r\n", 29);
    shape_fake_http(out, 33, 33, "f.t"); /* 4 bytes, too few for a line: NULs */
    ck_assert_mem_eq(out, "GET / HTTP/1.1\r\nHost: f.t\r\n\0\0\0\0\r\n", 33);
    memset(out, '#', sizeof(out));
    shape_fake_http(out, 10, 10, "f.t"); /* shorter than the head: cut */
    ck_assert_mem_eq(out, full, 10);
    ck_assert_int_eq(out[10], '#');
    shape_fake_http(out, 66, 66, ""); /* no name: www.example.com, letters cycle */
    ck_assert_mem_eq(
        out, "GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Pad: abcdefghijklmnop\r\n\r\n", 66);
    shape_fake_http(out, 0, 0, "f.t");
    ck_assert_int_eq(out[0], 'G');
    /* keep: the first bytes of the same template, nothing after them */
    memset(out, '#', sizeof(out));
    shape_fake_http(out, 66, 45, "");
    ck_assert_mem_eq(out, "GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Pad: ab", 45);
    ck_assert_int_eq(out[45], '#');
}
END_TEST

/* Every byte edit alone, then together: the edited bytes exactly. */
START_TEST(test_steps_edits_http)
{
    static const struct {
        const char *words, *want;
    } t[] = {
        {"methodspace", "GET  /p HTTP/1.1\r\nHost: www.blocked.org\r\nAccept: */*\r\n\r\n"},
        {"hostcase", "GET /p HTTP/1.1\r\nhost: www.blocked.org\r\nAccept: */*\r\n\r\n"},
        {"hosttab", "GET /p HTTP/1.1\r\nHost:\twww.blocked.org\r\nAccept: */*\r\n\r\n"},
        {"nospace", "GET /p HTTP/1.1\r\nHost:www.blocked.org\r\nAccept: */*\r\n\r\n"},
        {"hosttab nospace", "GET /p HTTP/1.1\r\nHost:www.blocked.org\r\nAccept: */*\r\n\r\n"},
        {"hostdot", "GET /p HTTP/1.1\r\nHost: www.blocked.org.\r\nAccept: */*\r\n\r\n"},
        {"hostdot hostcase nospace methodspace",
         "GET  /p HTTP/1.1\r\nhost:www.blocked.org.\r\nAccept: */*\r\n\r\n"},
        {"methodspace nospace hostcase hostdot",
         "GET  /p HTTP/1.1\r\nhost:www.blocked.org.\r\nAccept: */*\r\n\r\n"},
    };
    struct shape_plan plan;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ck_assert_int_eq(plan_words(B(SH), t[i].words, 1, &plan), 0);
        ck_assert_int_eq(plan.nseg, 1);
        ck_assert_msg(plan.len == strlen(t[i].want) && memcmp(plan.buf, t[i].want, plan.len) == 0,
                      "%s: %.*s", t[i].words, (int)plan.len, plan.buf);
        seg_at(&plan, 0, t[i].want, strlen(t[i].want), 0, 0);
    }
}
END_TEST

/* hostdot and the name's end: before a port, not after a dot or "]". */
START_TEST(test_steps_hostdot_names)
{
    static const struct {
        const char *in, *out; /* the Host line */
    } t[] = {
        {"Host: a.org:8080", "Host: a.org.:8080"}, {"Host: [::1]:8080", "Host: [::1]:8080"},
        {"Host: a.org.", "Host: a.org."},          {"Host: localhost", "Host: localhost."},
        {"Host:\t a.org \t", "Host:\t a.org. \t"},
    };
    char in[128], out[128];
    struct shape_plan plan;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int rc;

        snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n%s\r\n\r\n", t[i].in);
        snprintf(out, sizeof(out), "GET / HTTP/1.1\r\n%s\r\n\r\n", t[i].out);
        rc = plan_words(in, strlen(in), "hostdot", 1, &plan);
        if (strcmp(t[i].in, t[i].out) == 0) {
            ck_assert_int_eq(rc, 1); /* nothing changed, nothing to do */
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_msg(plan.len == strlen(out) && memcmp(plan.buf, out, plan.len) == 0, "%.*s",
                      (int)plan.len, plan.buf);
    }
    /* nospace and hosttab on whitespace of any kind */
    snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: \t a.org\r\n\r\n");
    ck_assert_int_eq(plan_words(in, strlen(in), "hosttab", 1, &plan), 0);
    ck_assert_mem_eq(plan.buf, "GET / HTTP/1.1\r\nHost:\ta.org\r\n\r\n", plan.len);
    snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost:a.org\r\n\r\n");
    ck_assert_int_eq(plan_words(in, strlen(in), "hosttab", 1, &plan), 0);
    ck_assert_mem_eq(plan.buf, "GET / HTTP/1.1\r\nHost:\ta.org\r\n\r\n", plan.len);
    ck_assert_int_eq(plan_words(in, strlen(in), "nospace", 1, &plan), 1);
}
END_TEST

/* domcase: one draw per ASCII letter of the Host value, top bit set =
 * lowercase; the model below is the documented draw order. */
START_TEST(test_steps_domcase)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: Www.Blocked-1.ORG:8080\r\n\r\n";
    const char *v = strstr(in, "Www");
    struct shape_plan plan;
    char want[sizeof(in)];

    for (uint64_t seed = 1; seed < 40; seed++) {
        uint64_t model = seed;

        memcpy(want, in, sizeof(in));
        for (char *c = want + (v - in); *c != '\r'; c++)
            if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))
                *c = (char)((shape_rand(&model) >> 63) ? (*c | 0x20) : (*c & ~0x20));
        int rc = plan_words(B(in), "domcase", seed, &plan);

        if (memcmp(want, in, sizeof(in)) == 0) {
            ck_assert_int_eq(rc, 1);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(plan.nseg, 1);
        ck_assert_mem_eq(plan.buf, want, sizeof(in) - 1);
    }
    /* a pinned picture for seed 1 */
    ck_assert_int_eq(plan_words(B(in), "domcase", 1, &plan), 0);
    ck_assert_mem_eq(plan.buf + (v - in), "Www.BLockEd-1.ORG:8080", 22);
}
END_TEST

/* The model of pad's lines: total bytes, lines of at most 150, as even as
 * can be, each "X-" 16 A-Z ": " value CRLF, drawn name then value. */
static size_t
model_pad(char *p, int n, uint64_t *rng)
{
    size_t total = (size_t)n < 23 ? 23 : (size_t)n, k = (total + 149) / 150;
    char *start = p;

    for (size_t i = 0; i < k; i++) {
        size_t line = total / k + (i < total % k ? 1 : 0);

        *p++ = 'X';
        *p++ = '-';
        for (int j = 0; j < 16; j++)
            *p++ = UPPER[(shape_rand(rng) >> 32) % 26];
        *p++ = ':';
        *p++ = ' ';
        for (size_t j = 0; j < line - 22; j++)
            *p++ = ALNUM[(shape_rand(rng) >> 32) % 62];
        *p++ = '\r';
        *p++ = '\n';
    }
    return (size_t)(p - start);
}

/* The plan's wire bytes are a request http.c accepts, with extra fields
 * first and then the original's, the Host value equal but for letter case
 * and a trailing dot. */
static void
check_parses(const struct shape_plan *plan, const char *head, size_t len, int extra)
{
    ck_assert_int_eq(http_parse_request(head, len, &H0), 0);
    ck_assert_int_eq(http_parse_request(plan->buf, plan->len, &H1), 0);
    ck_assert_uint_eq(H1.head_len, plan->len);
    ck_assert_int_eq(H1.nfields, H0.nfields + extra);
    ck_assert_int_eq(H1.host_idx, H0.host_idx + extra);
    for (int i = 0; i < extra; i++)
        ck_assert_mem_eq(H1.fields[i].name.p, "X-", 2);
    ck_assert_int_eq(strncasecmp(H1.fields[H1.host_idx].value.p, H0.fields[H0.host_idx].value.p,
                                 H0.fields[H0.host_idx].value.len),
                     0);
}

START_TEST(test_steps_pad)
{
    static const int sizes[] = {1, 22, 23, 24, 149, 150, 151, 299, 300, 301, 1000, SHAPE_PAD_MAX};
    static char want[SHAPE_PAD_MAX + 256];
    struct shape_plan plan;
    char words[64];

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t model = 7;
        size_t n;

        memcpy(want, SH, 17);
        n = model_pad(want + 17, sizes[i], &model);
        ck_assert_uint_eq(n, sizes[i] < 23 ? 23 : (size_t)sizes[i]);
        memcpy(want + 17 + n, SH + 17, SH_LEN - 17);
        /* domcase draws after pad */
        for (char *c = want + 17 + n + 6; *c != '\r'; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)((shape_rand(&model) >> 63) ? (*c | 0x20) : (*c & ~0x20));
        snprintf(words, sizeof(words), "domcase pad:%d", sizes[i]);
        ck_assert_int_eq(plan_words(B(SH), words, 7, &plan), 0);
        ck_assert_uint_eq(plan.len, SH_LEN + n);
        ck_assert_mem_eq(plan.buf, want, plan.len);
        check_segments_tile(&plan);
        if (n < 4000) /* http.c's own limit on a head is lower than pad's */
            check_parses(&plan, SH, SH_LEN, (int)((n + 149) / 150));
    }
    /* the last pad step counts */
    ck_assert_int_eq(plan_words(B(SH), "pad:500 pad:30", 7, &plan), 0);
    ck_assert_uint_eq(plan.len, SH_LEN + 30);
}
END_TEST

/* ---- steps on a ClientHello ----------------------------------------- */

/* Parses the records at the start of s[0..n) while they are handshake
 * records: their payloads into pay (returned length), *used the bytes they
 * took, every header's minor byte must be `minor`. */
static size_t
records(const unsigned char *s, size_t n, int minor, unsigned char *pay, size_t want, size_t *used)
{
    size_t at = 0, got = 0;

    while (got < want) {
        size_t l;

        ck_assert_uint_ge(n - at, 5);
        ck_assert_int_eq(s[at], 22);
        ck_assert_int_eq(s[at + 1], 3);
        ck_assert_int_eq(s[at + 2], minor);
        l = rd16(s + at + 3);
        ck_assert_uint_gt(l, 0);
        ck_assert_uint_le(l, n - at - 5);
        memcpy(pay + got, s + at + 5, l);
        got += l;
        at += 5 + l;
    }
    *used = at;
    return got;
}

START_TEST(test_steps_tlsrec)
{
    static struct hello h;
    static unsigned char pay[20000];
    struct shape_plan plan;
    size_t k, used;
    const unsigned char *o;

    build_hello(&h, "www.blocked.org", SNI_MIDDLE, 0);
    ck_assert_int_eq(plan_words((const char *)h.b, h.len, "tlsrec:sni+2", 1, &plan), 0);
    o = (const unsigned char *)plan.buf;
    ck_assert_int_eq(plan.nseg, 1);
    ck_assert_uint_eq(plan.len, h.len + 5);
    k = h.name_off + 2 - 5;
    ck_assert_mem_eq(o, "\x16\x03\x01", 3);
    ck_assert_uint_eq(rd16(o + 3), k);
    ck_assert_mem_eq(o + 5, h.b + 5, k);
    ck_assert_mem_eq(o + 5 + k, "\x16\x03\x01", 3);
    ck_assert_uint_eq(rd16(o + 8 + k), h.rec_len - k);
    ck_assert_mem_eq(o + 10 + k, "w.blocked.org", 13);
    ck_assert_mem_eq(o + 10 + k, h.b + 5 + k, h.rec_len - k);

    /* several positions, in any order; outside the payload dropped (1, 5,
     * eoh), duplicates merged; tlsminor on every new header */
    ck_assert_int_eq(plan_words((const char *)h.b, h.len,
                                "tlsminor:4 tlsrec:midsld,6,1,5,eoh tlsrec:sni+2,-1,6", 1, &plan),
                     0);
    o = (const unsigned char *)plan.buf;
    ck_assert_uint_eq(plan.len, h.len + 4 * 5);
    ck_assert_uint_eq(records(o, plan.len, 4, pay, h.rec_len, &used), h.rec_len);
    ck_assert_uint_eq(used, plan.len);
    ck_assert_mem_eq(pay, h.b + 5, h.rec_len);
    ck_assert_uint_eq(rd16(o + 3), 1); /* the record of one byte: at 6 */
    ck_assert_uint_eq(rd16(o + 5 + 1 + 3), h.name_off + 2 - 6);
    ck_assert_uint_eq(rd16(o + plan.len - 3), 1); /* the last, at -1 */

    /* tlsminor alone; the same minor: nothing to do */
    ck_assert_int_eq(plan_words((const char *)h.b, h.len, "tlsminor:3", 1, &plan), 0);
    ck_assert_int_eq(plan.nseg, 1);
    ck_assert_int_eq(plan.buf[2], 3);
    ck_assert_mem_eq(plan.buf + 3, h.b + 3, h.len - 3);
    ck_assert_int_eq(plan_words((const char *)h.b, h.len, "tlsminor:1", 1, &plan), 1);
    ck_assert_int_eq(plan_words((const char *)h.b, h.len, "tlsrec:eoh,5,1", 1, &plan), 1);
}
END_TEST

/* Cuts are resolved on the original hello and moved past the new headers; a
 * cut at a record boundary stays before the header. Bytes after the first
 * record keep their minor. */
START_TEST(test_steps_tls_cuts)
{
    static struct hello h;
    struct shape_plan plan;
    size_t n;

    build_hello(&h, "www.blocked.org", SNI_FIRST, 7);
    n = h.name_off;
    ck_assert_int_eq(plan_words((const char *)h.b, h.len,
                                "tlsrec:sni+2 tlsminor:0 split:sni+2 disorder:sni+3 oob:eoh", 1,
                                &plan),
                     0);
    check_segments_tile(&plan);
    ck_assert_uint_eq(plan.len, h.len + 5 + 1);
    ck_assert_int_eq(plan.nseg, 4);
    ck_assert_uint_eq(plan.seg[0].len, n + 2);
    ck_assert_mem_eq(plan.buf + n, "ww", 2);
    ck_assert_int_eq(plan.buf[2], 0);
    ck_assert_uint_eq(plan.seg[1].len, 5 + 1);
    ck_assert_mem_eq(plan.buf + plan.seg[1].off, "\x16\x03\x00", 3);
    ck_assert_int_eq(plan.buf[plan.seg[1].off + 5], 'w');
    ck_assert_int_eq(plan.seg[1].ttl, 1);
    ck_assert_uint_eq(plan.seg[2].off + plan.seg[2].len, 5 + h.rec_len + 5 + 1);
    ck_assert_int_eq(plan.seg[2].flags, SHAPE_SEG_OOB);
    ck_assert_int_eq(plan.buf[plan.seg[2].off + plan.seg[2].len - 1], 'a');
    ck_assert_uint_eq(plan.seg[3].len, 7);
    ck_assert_mem_eq(plan.buf + plan.seg[3].off, h.b + 5 + h.rec_len, 7);
    /* the HTTP-only steps and markers do nothing to a hello */
    ck_assert_int_eq(plan_words((const char *)h.b, h.len,
                                "hostcase domcase hostdot hosttab nospace methodspace pad:100 "
                                "split:method+1",
                                1, &plan),
                     1);
}
END_TEST

/* The fake hello: a well-formed record for fake_sni of exactly the flight's
 * length (padding extension), cut when the flight is shorter. */
START_TEST(test_fake_tls_template)
{
    static char out[20000];
    char name[300];
    size_t min;

    memset(out, '#', sizeof(out));
    shape_fake_tls(out, 100, 100, "fake.test");
    ck_assert_int_eq(out[100], '#');
    ck_assert_mem_eq(out, "\x16\x03\x01", 3);
    for (min = 150; min < 400; min++) { /* the smallest whole hello */
        shape_fake_tls(out, min, min, "fake.test");
        if (shape_tls_sni(out, min, name, sizeof(name)) > 0)
            break;
    }
    ck_assert_uint_lt(min, 400);
    for (size_t len = min; len < 17000; len += len < min + 300 ? 1 : 997) {
        size_t rec = len < 16389 ? len : 16389, ext;

        memset(out, '#', len + 1);
        shape_fake_tls(out, len, len, "fake.test");
        ck_assert_int_eq(out[len], '#');
        ck_assert_int_eq(shape_tls_sni(out, len, name, sizeof(name)), 9);
        ck_assert_str_eq(name, "fake.test");
        ck_assert_uint_eq(rd16((unsigned char *)out + 3), rec - 5);
        ck_assert_uint_eq(rd16((unsigned char *)out + 7), rec - 9);
        /* the padding extension is last and fills the rest */
        ext = rd16((unsigned char *)out + rec - (rec - min) - 2);
        ck_assert_uint_eq(ext, rec - min);
        ck_assert_uint_eq(rd16((unsigned char *)out + rec - (rec - min) - 4), 21);
        for (size_t i = rec - (rec - min); i < len; i++)
            ck_assert_int_eq(out[i], 0);
    }
    /* shorter: the smallest hello cut */
    {
        static char whole[1000];

        shape_fake_tls(whole, min, min, "fake.test");
        for (size_t len = 0; len < min; len += 13) {
            shape_fake_tls(out, len, len, "fake.test");
            ck_assert_mem_eq(out, whole, len);
        }
    }
    /* keep: a prefix of the same bytes, also in the NULs after a record */
    {
        static char whole[17000];

        for (size_t len = min; len < 17000; len += 4111) {
            shape_fake_tls(whole, len, len, "fake.test");
            for (size_t keep = 0; keep <= len; keep += 1 + keep / 3) {
                memset(out, '#', keep + 1);
                shape_fake_tls(out, len, keep, "fake.test");
                ck_assert_mem_eq(out, whole, keep);
                ck_assert_int_eq(out[keep], '#');
            }
        }
    }
    /* no name: www.example.com; a name of 255 bytes */
    shape_fake_tls(out, 1000, 1000, "");
    ck_assert_int_eq(shape_tls_sni(out, 1000, name, sizeof(name)), 15);
    memset(name, 'q', 255);
    name[255] = '\0';
    shape_fake_tls(out, 1000, 1000, name);
    ck_assert_int_eq(shape_tls_sni(out, 1000, name, sizeof(name)), 255);
}
END_TEST

START_TEST(test_steps_fake_tls)
{
    static struct hello h;
    static char tmpl[20000];
    struct shape_plan plan;
    char name[64];

    char longname[301];

    /* a hello longer than the smallest fake one, so the fake parses whole */
    memset(longname, 'q', 300);
    memcpy(longname + 296, ".org", 5);
    build_hello(&h, longname, SNI_LAST, 0);
    ck_assert_int_eq(plan_words((const char *)h.b, h.len, "fake:sni+1 tlsrec:sni", 1, &plan), 0);
    ck_assert_uint_eq(plan.len, h.len + 5);
    ck_assert_int_eq(plan.nseg, 2);
    ck_assert_int_eq(plan.seg[0].flags, SHAPE_SEG_FAKE);
    ck_assert_int_eq(plan.seg[0].ttl, 8);
    ck_assert_uint_eq(plan.seg[0].len, h.name_off + 5 + 1);
    ck_assert_uint_eq(plan.seg[0].fake_off, plan.len);
    shape_fake_tls(tmpl, plan.len, plan.len, "fake.test");
    ck_assert_uint_eq(plan_used(&plan), plan.len + plan.seg[0].len);
    ck_assert_mem_eq(plan.buf + plan.len, tmpl, plan.seg[0].len);
    ck_assert_int_eq(shape_tls_sni(tmpl, plan.len, name, sizeof(name)), 9);
    ck_assert_uint_le(plan.len * 2, plan.cap);
}
END_TEST

/* ---- what plans nothing, what does not fit -------------------------- */

START_TEST(test_flight_nothing_to_do)
{
    static struct hello h;
    static const char other[] = "SSH-2.0-OpenSSH_9.2\r\n";
    static const char partial[] = "GET / HTTP/1.1\r\nHost: www.blocked.org\r\n";
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 1;

    build_hello(&h, "www.blocked.org", SNI_MIDDLE, 0);
    for (int s = SHAPE_OFF; s <= SHAPE_AUTO; s += SHAPE_AUTO) {
        policy(&pol, (enum cfg_shape)s);
        plan_init(&plan, sizeof(BUF));
        ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 1);
        ck_assert_int_eq(plan.nseg, 0);
        ck_assert_int_eq(shape_plan_flight((const char *)h.b, h.len, &pol, &rng, &plan), 1);
    }
    ck_assert_int_eq(plan_words(B(SH), "tlsrec:sni+1 tlsminor:1", 1, &plan), 1);
    ck_assert_int_eq(plan.nseg, 0);
    ck_assert_uint_eq(plan.len, 0);
    ck_assert_int_eq(plan_words(B(SH), "split:sni+100,host-100,eoh,57", 1, &plan), 1);
    ck_assert_int_eq(plan_words(B(other), "split:1 fake:2 hostcase", 1, &plan), 1);
    ck_assert_int_eq(plan_words(B(partial), "split:host+1", 1, &plan), 1);
    ck_assert_int_eq(plan_words((const char *)h.b, h.len - 1, "split:1", 1, &plan), 1);
    build_hello(&h, NULL, SNI_NONE, 0);
    ck_assert_int_eq(plan_words((const char *)h.b, h.len, "split:sni+1 tlsrec:midsld", 1, &plan),
                     1);
    ck_assert_int_eq(plan_words((const char *)h.b, h.len, "split:eoh-1", 1, &plan), 0);
    /* a strategy without steps */
    spolicy(&pol, "");
    plan_init(&plan, sizeof(BUF));
    ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 1);
    /* split on a head without Host: nothing (shape_plan_request said -1) */
    policy(&pol, SHAPE_SPLIT);
    ck_assert_int_eq(shape_plan_flight(B("GET / HTTP/1.1\r\nA: b\r\n\r\n"), &pol, &rng, &plan), 1);
    ck_assert_int_eq(shape_plan_flight(B(other), &pol, &rng, &plan), 1);
}
END_TEST

START_TEST(test_flight_cap)
{
    static struct hello h;
    static const char *words[] = {"split:host+1", "fake:host+1 oob:2 pad:200 tlsrec:sni",
                                  "tlsrec:sni+1,sni+2 disoob:midsld", "warp", "domcase split:3"};
    struct shape_policy pol;
    struct shape_plan plan;

    build_hello(&h, "www.blocked.org", SNI_MIDDLE, 3);
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        for (int f = 0; f < 3; f++) {
            const char *d = f == 0 ? SH : f == 1 ? HEAD : (const char *)h.b;
            size_t len = f == 0 ? SH_LEN : f == 1 ? HEAD_LEN : h.len, need;
            uint64_t rng = 5;

            spolicy(&pol, words[w]);
            pol.tls_mode = 2;
            plan_init(&plan, shape_plan_size(len, &pol));
            ck_assert_int_eq(shape_plan_flight(d, len, &pol, &rng, &plan), 0);
            need = plan_used(&plan);
            ck_assert_uint_le(need, plan.cap);
            memset(BUF, 0x5a, sizeof(BUF));
            plan_init(&plan, need - 1);
            rng = 5;
            ck_assert_int_eq(shape_plan_flight(d, len, &pol, &rng, &plan), -1);
            ck_assert_int_eq(plan.nseg, 0);
            for (size_t i = need - 1; i < need + 64; i++)
                ck_assert_int_eq(BUF[i], 0x5a);
            plan_init(&plan, need);
            rng = 5;
            ck_assert_msg(shape_plan_flight(d, len, &pol, &rng, &plan) == 0, "%s on %d", words[w],
                          f);
        }
    }
}
END_TEST

/* ---- legacy strategies and the policy ------------------------------- */

static void
same_plan(const struct shape_plan *a, const char *abuf, const struct shape_plan *b,
          const char *bbuf)
{
    ck_assert_uint_eq(a->len, b->len);
    ck_assert_mem_eq(abuf, bbuf, a->len);
    ck_assert_int_eq(a->nseg, b->nseg);
    ck_assert_mem_eq(a->seg, b->seg, sizeof(a->seg[0]) * (size_t)a->nseg);
}

/* split and warp through shape_plan_flight are today's plans, byte for
 * byte; so is a strategy with a warp step (its other steps ignored). */
START_TEST(test_flight_legacy)
{
    static char other[1 << 16];
    static struct hello h;
    struct shape_policy pol;
    struct shape_plan a, b;

    build_hello(&h, "www.blocked.org", SNI_MIDDLE, 0);
    for (int s = 0; s < 3; s++) {
        for (uint64_t seed = 1; seed < 20; seed++) {
            uint64_t r1 = seed, r2 = seed;

            if (s < 2)
                policy(&pol, s == 0 ? SHAPE_SPLIT : SHAPE_WARP);
            else
                spolicy(&pol, "hostdot split:1 warp fake:3");
            pol.mixed_case = (int)(seed & 1);
            pol.tls_mode = (int)(seed % 3);
            plan_init(&a, shape_plan_size(HEAD_LEN, &pol));
            ck_assert_int_eq(shape_plan_flight(HEAD, HEAD_LEN, &pol, &r1, &a), 0);
            memset(&b, 0, sizeof(b));
            b.buf = other;
            b.cap = sizeof(other);
            if (s == 2)
                pol.strategy = SHAPE_WARP;
            ck_assert_int_eq(shape_plan_request(HEAD, HEAD_LEN, &pol, &r2, &b), 0);
            same_plan(&a, BUF, &b, other);
            ck_assert_uint_eq(r1, r2);
            if (s == 2)
                pol.strategy = SHAPE_USER;
            ck_assert_int_eq(shape_plan_flight((const char *)h.b, h.len, &pol, &r1, &a),
                             pol.tls_mode == 0 ? 1 : 0);
            ck_assert_int_eq(shape_plan_tls((const char *)h.b, h.len, &pol, &b),
                             pol.tls_mode == 0 ? 1 : 0);
            if (pol.tls_mode != 0)
                same_plan(&a, BUF, &b, other);
        }
    }
}
END_TEST

START_TEST(test_policy_steps)
{
    static const int kinds[] = {STEP_DISORDER, STEP_FAKE, STEP_OOB, STEP_TLSREC};
    struct shape_policy pol;
    struct shape_plan plan;
    struct config c;
    char err[256];
    uint64_t rng = 1;

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "shape_split_pos", "3", err, sizeof(err)), 0);
    for (int s = SHAPE_DISORDER; s <= SHAPE_TLSREC; s++) {
        memset(&pol, 'x', sizeof(pol));
        shape_policy_init(&c, s, &pol);
        ck_assert_int_eq(pol.strategy, s);
        ck_assert_int_eq(pol.strat.nstep, 1);
        ck_assert_int_eq(pol.strat.step[0].kind, kinds[s - SHAPE_DISORDER]);
        ck_assert_int_eq(pol.strat.step[0].npos, 1);
        ck_assert_int_eq(pol.strat.step[0].pos[0].mark, SHAPE_MARK_HOST);
        ck_assert_int_eq(pol.strat.step[0].pos[0].off, 3);
        ck_assert_int_eq(pol.fake_ttl, 8);
        ck_assert_int_eq(pol.disorder_ttl, 1);
        ck_assert_str_eq(pol.fake_host, c.shape_fake_host);
        ck_assert_str_eq(pol.fake_sni, c.shape_fake_sni);
    }
    shape_policy_init(&c, SHAPE_DISORDER, &pol);
    plan_init(&plan, shape_plan_size(SH_LEN, &pol));
    ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 0);
    SEG(&plan, 0, "GET /p HTTP/1.1\r\nHost: www", 1, 0);
    shape_policy_init(&c, SHAPE_TLSREC, &pol);
    ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 1);
    shape_policy_init(&c, SHAPE_AUTO, &pol);
    ck_assert_int_eq(pol.strat.nstep, 0);
    ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 1);

    ck_assert_int_eq(config_set(&c, "strategy", "ru split:1 disorder:sni+1 tlsrec:sni fake:-1", err,
                                sizeof(err)),
                     0);
    ck_assert_int_eq(config_set(&c, "shape_fake_ttl", "5", err, sizeof(err)), 0);
    shape_policy_init(&c, SHAPE_USER, &pol);
    ck_assert_str_eq(pol.strat.name, "ru");
    ck_assert_int_eq(pol.strat.nstep, 4);
    ck_assert_int_eq(pol.strat.step[3].kind, STEP_FAKE);
    ck_assert_int_eq(pol.fake_ttl, 5);
    plan_init(&plan, shape_plan_size(SH_LEN, &pol));
    ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 0);
    ck_assert_int_eq(plan.nseg, 4);
    SEG(&plan, 0, "G", 0, 0);
    SEG(&plan, 1, "ET /p HTTP/1.1\r\nHost: w", 1, 0);
    SEG(&plan, 2, "ww.blocked.org\r\nAccept: */*\r\n\r", 5, SHAPE_SEG_FAKE);
    SEG(&plan, 3, "\n", 0, 0);
    shape_policy_init(&c, SHAPE_USER + 1, &pol); /* no such strategy: no steps */
    ck_assert_int_eq(pol.strat.nstep, 0);
    ck_assert_int_eq(shape_plan_flight(B(SH), &pol, &rng, &plan), 1);
}
END_TEST

/* At most SHAPE_MAX_SEGS segments: the first cuts are kept. */
START_TEST(test_steps_max_segments)
{
    static char big[4096];
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t rng = 1;
    size_t n;

    n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a.org\r\nX: %0300d\r\n\r\n", 0);
    spolicy(&pol, "");
    for (int i = 0; i < SHAPE_MAX_STEPS; i++) {
        struct shape_step *st = &pol.strat.step[pol.strat.nstep++];

        st->kind = (uint8_t)(i % 2 ? STEP_OOB : STEP_SPLIT);
        st->npos = SHAPE_STEP_POS;
        for (int k = 0; k < SHAPE_STEP_POS; k++)
            st->pos[k] = (struct shape_pos){SHAPE_MARK_ABS, 200 - (i * SHAPE_STEP_POS + k)};
    }
    plan_init(&plan, shape_plan_size(n, &pol));
    ck_assert_int_eq(shape_plan_flight(big, n, &pol, &rng, &plan), 0);
    check_segments_tile(&plan);
    ck_assert_int_eq(plan.nseg, SHAPE_MAX_SEGS);
    for (int i = 0; i < SHAPE_MAX_SEGS - 1; i++)
        ck_assert_uint_eq(plan.seg[i].len, i == 0 ? 73 + 1 : 1 + (plan.seg[i].flags ? 1 : 0));
}
END_TEST

/* ---- invariants over many strategies and seeds ---------------------- */

/* A random strategy of 1-6 steps (no warp) with random positions. */
static void
random_strategy(struct shape_policy *pol, uint64_t *r, size_t len)
{
    spolicy(pol, "");
    pol->strat.nstep = 1 + (int)(shape_rand(r) % 6);
    for (int i = 0; i < pol->strat.nstep; i++) {
        struct shape_step *st = &pol->strat.step[i];

        st->kind = (uint8_t)(STEP_SPLIT + shape_rand(r) % (STEP_PAD - STEP_SPLIT + 1));
        if (st->kind == STEP_PAD)
            st->arg = 1 + (int32_t)(shape_rand(r) % 400);
        if (st->kind == STEP_TLSMINOR)
            st->arg = (int32_t)(shape_rand(r) % 256);
        if (st->kind > STEP_TLSREC)
            continue;
        st->npos = (uint8_t)(1 + shape_rand(r) % SHAPE_STEP_POS);
        for (int k = 0; k < st->npos; k++) {
            int8_t mark = (int8_t)(shape_rand(r) % (SHAPE_MARK_EOH + 1));
            int32_t off = (int32_t)(shape_rand(r) % 41) - 20;

            if (mark == SHAPE_MARK_ABS)
                off = (int32_t)(shape_rand(r) % (2 * len + 2)) - (int32_t)len - 1;
            if (mark == SHAPE_MARK_ABS && off == 0)
                off = 1;
            st->pos[k] = (struct shape_pos){mark, off};
        }
    }
}

/* The plan of pol's byte edits alone (its cut steps taken out): the stream
 * the full plan must carry once its urgent bytes are removed. */
static size_t
edits_only(const char *d, size_t len, const struct shape_policy *pol, uint64_t seed, char *out)
{
    static char ebuf[1 << 16];
    struct shape_policy e = *pol;
    struct shape_plan plan;
    int k = 0, rc;

    for (int i = 0; i < pol->strat.nstep; i++)
        if (pol->strat.step[i].kind < STEP_SPLIT || pol->strat.step[i].kind > STEP_DISOOB)
            e.strat.step[k++] = pol->strat.step[i];
    e.strat.nstep = k;
    memset(&plan, 0, sizeof(plan));
    plan.buf = ebuf;
    plan.cap = sizeof(ebuf);
    rc = shape_plan_flight(d, len, &e, &seed, &plan);
    ck_assert_int_ne(rc, -1);
    if (rc == 1) {
        memcpy(out, d, len);
        return len;
    }
    ck_assert_int_eq(plan.nseg, 1);
    memcpy(out, ebuf, plan.len);
    return plan.len;
}

static int
has_step(const struct shape_policy *pol, int kind)
{
    for (int i = 0; i < pol->strat.nstep; i++)
        if (pol->strat.step[i].kind == kind)
            return 1;
    return 0;
}

static void
check_invariants(const char *d, size_t len, int tls, const struct shape_policy *pol, uint64_t seed,
                 const struct shape_plan *plan)
{
    static char stream[1 << 16], edited[1 << 16], tmpl[1 << 16];
    static unsigned char pay[1 << 16];
    size_t n = 0, elen, used;
    int fakes = 0;

    check_segments_tile(plan);
    ck_assert_uint_le(plan_used(plan), shape_plan_size(len, pol));
    for (int i = 0; i < plan->nseg; i++) {
        const struct shape_seg *s = &plan->seg[i];
        size_t real = s->len - ((s->flags & SHAPE_SEG_OOB) ? 1 : 0);

        ck_assert_uint_gt(real, 0);
        ck_assert_int_ne(s->flags, SHAPE_SEG_OOB | SHAPE_SEG_FAKE);
        if (s->flags & SHAPE_SEG_OOB)
            ck_assert_int_eq(plan->buf[s->off + s->len - 1], 'a');
        if (s->flags & SHAPE_SEG_FAKE) {
            fakes++;
            ck_assert_int_eq(s->ttl, 8);
            ck_assert_uint_ge(s->fake_off, plan->len);
            ck_assert_uint_eq(s->fake_off - plan->len, n); /* same offset in the template */
        }
        ck_assert(i < plan->nseg - 1 || (s->flags == 0 && s->ttl == 0));
        memcpy(stream + n, plan->buf + s->off, real);
        n += real;
    }
    elen = edits_only(d, len, pol, seed, edited);
    ck_assert_uint_eq(n, elen);
    ck_assert_mem_eq(stream, edited, n);
    if (fakes > 0) {
        if (tls)
            shape_fake_tls(tmpl, n, n, "fake.test");
        else
            shape_fake_http(tmpl, n, n, "fake.test");
        ck_assert_mem_eq(plan->buf + plan->len, tmpl, plan_used(plan) - plan->len);
    }
    if (tls) {
        size_t rec = rd16((const unsigned char *)d + 3), got;
        int minor = (unsigned char)d[2];

        for (int i = 0; i < pol->strat.nstep; i++)
            if (pol->strat.step[i].kind == STEP_TLSMINOR)
                minor = pol->strat.step[i].arg;
        got = records((unsigned char *)stream, n, minor, pay, rec, &used);
        ck_assert_uint_eq(got, rec);
        ck_assert_mem_eq(pay, d + 5, rec);
        ck_assert_uint_eq(n - used, len - 5 - rec);
        ck_assert_mem_eq(stream + used, d + 5 + rec, n - used);
    } else if (!has_step(pol, STEP_METHODSPACE)) {
        ck_assert_int_eq(http_parse_request(stream, n, &H1), 0);
        ck_assert_uint_eq(H1.head_len, n);
    }
}

START_TEST(test_steps_invariants)
{
    static struct hello h;
    static const char port_head[] = "POST /x HTTP/1.1\r\nHost: Www.Blocked.example.org:8443\r\n"
                                    "Content-Length: 0\r\n\r\n";
    struct shape_policy pol;
    struct shape_plan plan;
    uint64_t r = 42;
    int planned = 0;

    for (int iter = 0; iter < 4000; iter++) {
        int f = iter % 4, rc;
        const char *d;
        size_t len;
        uint64_t seed = (uint64_t)iter + 1, s2 = seed;

        if (f == 3 && iter % 16 == 3)
            build_hello(&h, iter % 32 == 3 ? "a" : "www.blocked.example.org",
                        (enum sni_where)(1 + (iter / 16) % 3), (size_t)(iter % 3));
        d = f == 0 ? SH : f == 1 ? HEAD : f == 2 ? port_head : (const char *)h.b;
        len = f == 0 ? SH_LEN : f == 1 ? HEAD_LEN : f == 2 ? sizeof(port_head) - 1 : h.len;
        random_strategy(&pol, &r, len);
        plan_init(&plan, shape_plan_size(len, &pol));
        rc = shape_plan_flight(d, len, &pol, &s2, &plan);
        ck_assert_int_ne(rc, -1);
        if (rc == 1) {
            ck_assert_int_eq(plan.nseg, 0);
            continue;
        }
        planned++;
        check_invariants(d, len, f == 3, &pol, seed, &plan);
    }
    ck_assert_int_gt(planned, 2000);
}
END_TEST

static Suite *
shape_suite(void)
{
    Suite *s = suite_create("shape");
    TCase *req = tcase_create("request");
    TCase *tls = tcase_create("tls");
    TCase *steps = tcase_create("steps");

    tcase_add_test(req, test_rand_pinned);
    tcase_add_test(req, test_policy_host_name_copied);
    tcase_add_test(req, test_off_single_segment);
    tcase_add_test(req, test_split_default);
    tcase_add_test(req, test_split_segments_clean);
    tcase_add_test(req, test_split_clamped);
    tcase_add_test(req, test_split_one_byte_host);
    tcase_add_test(req, test_split_method);
    tcase_add_test(req, test_split_path);
    tcase_add_test(req, test_split_path_short_target);
    tcase_add_test(req, test_warp_exact);
    tcase_add_test(req, test_warp_defaults);
    tcase_add_test(req, test_warp_delays_from_set);
    tcase_add_test(req, test_warp_seed_determinism);
    tcase_add_test(req, test_warp_fragment_cap);
    tcase_add_test(req, test_warp_no_delays);
    tcase_add_test(req, test_knobs_split);
    tcase_add_test(req, test_knobs_warp);
    tcase_add_test(req, test_knobs_limits);
    tcase_add_test(req, test_no_host);
    tcase_add_test(req, test_truncated_heads);
    tcase_add_test(req, test_cap_too_small);
    suite_add_tcase(s, req);
    tcase_set_timeout(tls, 30);
    tcase_add_test(tls, test_tls_split_positions);
    tcase_add_test(tls, test_tls_exact);
    tcase_add_test(tls, test_tls_long_name);
    tcase_add_test(tls, test_tls_nothing_to_do);
    tcase_add_test(tls, test_tls_malformed);
    tcase_add_test(tls, test_tls_truncated);
    tcase_add_test(tls, test_tls_corrupted);
    tcase_add_test(tls, test_tls_cap_too_small);
    tcase_add_test(tls, test_tls_sni_entry_types);
    suite_add_tcase(s, tls);
    tcase_set_timeout(steps, 60);
    tcase_add_test(steps, test_steps_split_http);
    tcase_add_test(steps, test_steps_disorder_oob_http);
    tcase_add_test(steps, test_steps_fake_http);
    tcase_add_test(steps, test_fake_http_template);
    tcase_add_test(steps, test_steps_edits_http);
    tcase_add_test(steps, test_steps_hostdot_names);
    tcase_add_test(steps, test_steps_domcase);
    tcase_add_test(steps, test_steps_pad);
    tcase_add_test(steps, test_steps_tlsrec);
    tcase_add_test(steps, test_steps_tls_cuts);
    tcase_add_test(steps, test_fake_tls_template);
    tcase_add_test(steps, test_steps_fake_tls);
    tcase_add_test(steps, test_flight_nothing_to_do);
    tcase_add_test(steps, test_flight_cap);
    tcase_add_test(steps, test_flight_legacy);
    tcase_add_test(steps, test_policy_steps);
    tcase_add_test(steps, test_steps_max_segments);
    tcase_add_test(steps, test_steps_invariants);
    suite_add_tcase(s, steps);
    return s;
}

int
main(void)
{
    return tu_run_suite(shape_suite());
}
