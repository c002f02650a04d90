/* fuzz_shape: the shaping planner of strategies (shape_plan.c) and the step
 * language (shape_pos.c), with oracles beyond "does not crash":
 *  - a step word that parses formats to a word that parses to the same step,
 *    and formats the same again;
 *  - a plan of random steps on random bytes (or on a head or hello the
 *    fuzzer found) never needs more than shape_plan_size, its segments tile
 *    plan->len, at most SHAPE_MAX_SEGS, the last one plain; the wire bytes
 *    minus each OOB segment's last byte equal the plan of the same steps
 *    without their cuts (the byte edits alone); each fake piece's bytes are
 *    the fake template's at the same offset; on a hello, the records parse
 *    back to the original handshake bytes.
 *
 * Input: a mode byte. Mode & 1: the rest is a step word. Else: a count of
 * steps, then 4 bytes per step (kind, npos or argument, marker, offset),
 * then the flight. */
#include <string.h>

#include "fuzz.h"
#include "shape.h"

static char buf[1 << 18], ebuf[1 << 18], stream[1 << 18], tmpl[1 << 18], pay[1 << 18];

static void
word_oracle(const uint8_t *data, size_t size)
{
    char word[256], out[512], again[512], err[128];
    struct shape_step a, b;

    if (size >= sizeof(word))
        size = sizeof(word) - 1;
    memcpy(word, data, size);
    word[size] = '\0';
    if (shape_step_parse(word, &a, err, sizeof(err)) < 0) {
        FUZZ_CHECK(err[0] != '\0', "an error without a reason for '%s'", word);
        return;
    }
    shape_step_format(&a, out, sizeof(out));
    FUZZ_CHECK(shape_step_parse(out, &b, err, sizeof(err)) == 0, "'%s' -> '%s': %s", word, out,
               err);
    FUZZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0, "'%s' -> '%s' parses to another step", word, out);
    shape_step_format(&b, again, sizeof(again));
    FUZZ_CHECK(strcmp(out, again) == 0, "'%s' formats as '%s' then '%s'", word, out, again);
}

/* Steps from 4 bytes each: no warp (its plan is shape.c's, tested there). */
static size_t
read_steps(const uint8_t *d, size_t size, struct shape_policy *pol)
{
    size_t at = 1, n = size > 0 ? d[0] % 7 : 0;

    memset(pol, 0, sizeof(*pol));
    pol->strategy = SHAPE_USER;
    pol->fake_ttl = 8;
    pol->disorder_ttl = 1;
    strcpy(pol->fake_host, "fake.test");
    strcpy(pol->fake_sni, "fake.test");
    for (size_t i = 0; i < n && at + 4 <= size; i++, at += 4) {
        struct shape_step *st = &pol->strat.step[pol->strat.nstep++];

        st->kind = (uint8_t)(STEP_SPLIT + d[at] % (STEP_PAD - STEP_SPLIT + 1));
        st->arg = st->kind == STEP_PAD ? 1 + d[at + 1] * 8 : d[at + 1];
        st->npos = st->kind <= STEP_TLSREC ? (uint8_t)(1 + d[at + 1] % SHAPE_STEP_POS) : 0;
        for (int k = 0; k < st->npos; k++) {
            st->pos[k].mark = (int8_t)((d[at + 2] + k) % (SHAPE_MARK_EOH + 1));
            st->pos[k].off = (int8_t)(d[at + 3] + 13 * k);
            if (st->pos[k].mark == SHAPE_MARK_ABS && st->pos[k].off == 0)
                st->pos[k].off = 1;
        }
    }
    return at < size ? at : size;
}

static size_t
edits_only(const char *d, size_t len, const struct shape_policy *pol, uint64_t seed)
{
    struct shape_policy e = *pol;
    struct shape_plan plan = {ebuf, sizeof(ebuf), 0, {{0}}, 0};
    int k = 0, rc;

    for (int i = 0; i < pol->strat.nstep; i++)
        if (pol->strat.step[i].kind < STEP_SPLIT || pol->strat.step[i].kind > STEP_DISOOB)
            e.strat.step[k++] = pol->strat.step[i];
    e.strat.nstep = k;
    rc = shape_plan_flight(d, len, &e, &seed, &plan);
    FUZZ_CHECK(rc != -1, "the edits alone do not fit");
    if (rc == 1) {
        memcpy(ebuf, d, len);
        return len;
    }
    FUZZ_CHECK(plan.nseg == 1, "the edits alone make %d segments", plan.nseg);
    return plan.len;
}

static void
check_records(const char *s, size_t n, const char *d, size_t len)
{
    size_t rec = (size_t)(unsigned char)d[3] << 8 | (unsigned char)d[4], got = 0, at = 0;

    while (got < rec) {
        size_t l;

        FUZZ_CHECK(n - at >= 5 && s[at] == 22 && s[at + 1] == 3, "no record at %zu", at);
        l = (size_t)(unsigned char)s[at + 3] << 8 | (unsigned char)s[at + 4];
        FUZZ_CHECK(l > 0 && l <= n - at - 5 && got + l <= rec, "bad record length %zu", l);
        memcpy(pay + got, s + at + 5, l);
        got += l;
        at += 5 + l;
    }
    FUZZ_CHECK(memcmp(pay, d + 5, rec) == 0, "records carry other handshake bytes");
    FUZZ_CHECK(n - at == len - 5 - rec && memcmp(s + at, d + 5 + rec, n - at) == 0,
               "the bytes after the record differ");
}

static void
plan_oracle(const char *d, size_t len, const struct shape_policy *pol)
{
    struct shape_plan plan = {buf, shape_plan_size(len, pol), 0, {{0}}, 0};
    uint64_t seed = 7, rng = seed;
    size_t n = 0, end, elen, fake_end = 0;
    struct shape_marks m;
    int rc;

    FUZZ_CHECK(plan.cap <= sizeof(buf), "shape_plan_size %zu", plan.cap);
    rc = shape_plan_flight(d, len, pol, &rng, &plan);
    FUZZ_CHECK(rc == 0 || rc == 1, "shape_plan_flight %d with shape_plan_size bytes", rc);
    if (rc == 1) {
        FUZZ_CHECK(plan.nseg == 0 && plan.len == 0, "nothing to do, yet a plan");
        return;
    }
    FUZZ_CHECK(plan.nseg >= 1 && plan.nseg <= SHAPE_MAX_SEGS, "%d segments", plan.nseg);
    end = plan.len;
    for (int i = 0, off = 0; i < plan.nseg; i++) {
        const struct shape_seg *s = &plan.seg[i];
        size_t real = s->len - ((s->flags & SHAPE_SEG_OOB) ? 1 : 0);

        FUZZ_CHECK(s->off == (uint32_t)off && real > 0, "segment %d does not tile", i);
        FUZZ_CHECK(i < plan.nseg - 1 || (s->flags == 0 && s->ttl == 0), "last segment not plain");
        if (s->flags & SHAPE_SEG_FAKE) {
            FUZZ_CHECK(s->fake_off == plan.len + n, "fake %d not at its offset", i);
            end = s->fake_off + s->len;
            fake_end = n + s->len;
        }
        memcpy(stream + n, buf + s->off, real);
        n += real;
        off += (int)s->len;
        if (i == plan.nseg - 1)
            FUZZ_CHECK((size_t)off == plan.len, "segments end at %d, not %zu", off, plan.len);
    }
    FUZZ_CHECK(end <= plan.cap, "the plan uses %zu of %zu bytes", end, plan.cap);
    elen = edits_only(d, len, pol, seed);
    FUZZ_CHECK(elen == n && memcmp(ebuf, stream, n) == 0, "wire minus urgent bytes != edits");
    if (fake_end > 0) {
        if (shape_pos_marks(d, len, &m) == SHAPE_FLIGHT_TLS)
            shape_fake_tls(tmpl, n, fake_end, pol->fake_sni);
        else
            shape_fake_http(tmpl, n, fake_end, pol->fake_host);
        FUZZ_CHECK(memcmp(buf + plan.len, tmpl, fake_end) == 0, "fake bytes != the template");
    }
    if (shape_pos_marks(d, len, &m) == SHAPE_FLIGHT_TLS)
        check_records(stream, n, d, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct shape_policy pol;
    size_t at;
    char *d;

    if (size == 0)
        return 0;
    if (data[0] & 1) {
        word_oracle(data + 1, size - 1);
        return 0;
    }
    at = 1 + read_steps(data + 1, size - 1, &pol);
    if (size - at > 20000)
        return 0;
    d = fuzz_dup(data + at, size - at);
    plan_oracle(d, size - at, &pol);
    free(d);
    return 0;
}
