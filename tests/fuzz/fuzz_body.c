/* fuzz_body: the body codec (body.c) over every pair of input and output
 * framings, the input arriving in pieces cut where the fuzzer says. Oracles:
 * the outcome (complete, malformed, truncated), the bytes used and the data
 * decoded do not depend on the cuts or on the output framing; the output
 * decodes again, by body.c and by a small reference reader of the canonical
 * chunked form, into the same data; a complete chunked output is a fixed
 * point of chunked -> chunked.
 *
 * Input: a byte whose low 3 bits count the cuts, two bytes for the
 * Content-Length (modulo the body's length + 2), two bytes per cut, the body. */
#include <string.h>
#include <strings.h>

#include "body.h"
#include "common.h"
#include "fuzz.h"

#define MAX_CUTS 7

enum outcome { OUT_DONE, OUT_MALFORMED, OUT_TRUNCATED };

/* A growable byte string. */
struct bytes {
    char *p;
    size_t n, cap;
};

static void
bytes_add(struct bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 64;
        char *q = realloc(b->p, cap);

        FUZZ_CHECK(q != NULL, "out of memory");
        b->p = q;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static int
bytes_same(const struct bytes *a, const struct bytes *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

/* What one pass of the codec over the input gave. */
struct run {
    enum outcome outcome;
    size_t used;      /* input bytes the body took (when done) */
    uint64_t total;   /* c.total at the end */
    struct bytes out; /* everything emitted */
};

static const char *const framing_names[] = {"none", "length", "chunked", "close"};

/* Appends o's pieces, skipping the first `skip` bytes. */
static void
take_output(struct bytes *b, const struct body_out *o, size_t skip)
{
    size_t seen = 0;

    for (int i = 0; i < o->n; i++) {
        const char *p = o->iov[i].iov_base;
        size_t n = o->iov[i].iov_len;

        if (seen + n > skip)
            bytes_add(b, p + (skip > seen ? skip - seen : 0), n - (skip > seen ? skip - seen : 0));
        seen += n;
    }
    FUZZ_CHECK(seen == o->bytes, "iovecs hold %zu bytes, o.bytes says %zu", seen, o->bytes);
}

/* Feeds data[0..n) to a codec the way proxy.c does: each piece is appended
 * to what the codec left unconsumed (in a fresh block of exactly that size,
 * so that a read past it is caught), body_transcode is called until it needs
 * more, then body_eof when the input ends. cuts[] are increasing offsets. */
static void
run_codec(enum body_framing in, uint64_t len, enum body_framing outf, const char *data, size_t n,
          const size_t *cuts, int ncuts, struct run *r)
{
    struct body_codec c;
    struct body_out *o = malloc(sizeof(*o));
    char *win = NULL;
    size_t wlen = 0, pos = 0, base = 0, from = 0;

    FUZZ_CHECK(o != NULL, "out of memory");
    memset(r, 0, sizeof(*r));
    r->outcome = OUT_TRUNCATED;
    body_init(&c, in, len, outf);
    for (int k = 0; k <= ncuts && !c.done; k++) {
        size_t to = k < ncuts ? cuts[k] : n, keep = wlen - pos, idle = 0;
        char *w = malloc(keep + (to - from) > 0 ? keep + (to - from) : 1);

        FUZZ_CHECK(w != NULL, "out of memory");
        if (keep > 0)
            memcpy(w, win + pos, keep);
        if (to > from)
            memcpy(w + keep, data + from, to - from);
        free(win);
        win = w;
        wlen = keep + (to - from);
        base += pos;
        pos = 0;
        from = to;
        for (;;) {
            ssize_t used;

            body_out_reset(o);
            used = body_transcode(&c, win + pos, wlen - pos, o);
            if (used < 0) {
                r->outcome = OUT_MALFORMED;
                goto out;
            }
            FUZZ_CHECK((size_t)used <= wlen - pos, "consumed %zd of %zu bytes", used, wlen - pos);
            take_output(&r->out, o, 0);
            pos += (size_t)used;
            if (c.done)
                break;
            if (used == 0 && o->n == 0)
                break; /* needs more input */
            /* Each call consumes or finishes: emitting without consuming
             * happens once at most (the last chunk of an empty body). */
            idle = used == 0 ? idle + 1 : 0;
            FUZZ_CHECK(idle < 2, "body_transcode emits without consuming or finishing");
        }
    }
    if (c.done) {
        r->outcome = OUT_DONE;
        r->used = base + pos;
    } else {
        body_out_reset(o);
        if (body_eof(&c, o) == 0) {
            FUZZ_CHECK(pos == wlen, "body_eof accepted with %zu bytes unconsumed", wlen - pos);
            take_output(&r->out, o, 0);
            r->outcome = OUT_DONE;
            r->used = base + pos;
        }
        FUZZ_CHECK(in != BODY_CLOSE || r->outcome == OUT_DONE, "EOF did not end a close body");
    }
out:
    r->total = c.total;
    free(win);
    free(o);
}

static size_t
hexdigits(const char *p, size_t n, uint64_t *v)
{
    size_t i = 0;

    *v = 0;
    while (i < n && i < 16 && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
        *v = *v << 4 | (uint64_t)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
        i++;
    }
    return i;
}

/* A reference reader of the chunked form body.c writes: lowercase hex sizes
 * without leading zeros or extensions, "0\r\n", trailer lines as "name:"
 * with at most one SP before a value trimmed of OWS, the empty line. Output may stop after any
 * whole piece when the body was cut short. Fills data and trailers; returns whether the message is
 * complete. */
static int
ref_dechunk(const struct bytes *b, struct bytes *data, struct bytes *trailers)
{
    const char *p = b->p;
    size_t n = b->n, pos = 0, d;
    uint64_t v;

    for (;;) {
        if (pos == n)
            return 0;
        d = hexdigits(p + pos, n - pos, &v);
        FUZZ_CHECK(d > 0 && (d == 1 || p[pos] != '0'), "bad chunk size at %zu", pos);
        FUZZ_CHECK(n - pos - d >= 2 && p[pos + d] == '\r' && p[pos + d + 1] == '\n',
                   "no CRLF after a chunk size at %zu", pos);
        pos += d + 2;
        if (v == 0)
            break;
        FUZZ_CHECK(v <= n - pos && n - pos - v >= 2, "chunk of %llu bytes cut at %zu",
                   (unsigned long long)v, pos);
        FUZZ_CHECK(p[pos + v] == '\r' && p[pos + v + 1] == '\n', "no CRLF after chunk data");
        bytes_add(data, p + pos, (size_t)v);
        pos += (size_t)v + 2;
    }
    while (pos < n) {
        const char *lf = memchr(p + pos, '\n', n - pos);
        size_t line, name = 0, vs;

        FUZZ_CHECK(lf != NULL && lf > p + pos && lf[-1] == '\r', "trailer line cut at %zu", pos);
        line = (size_t)(lf - (p + pos)) + 1;
        if (line == 2) {
            FUZZ_CHECK(pos + 2 == n, "%zu bytes after the end of the message", n - pos - 2);
            return 1;
        }
        while (name < line && p[pos + name] != ':')
            name++;
        FUZZ_CHECK(name > 0 && name < line, "trailer line without a name");
        /* "name:" [SP] [value] CRLF, the value without OWS around it. */
        vs = name + 1 + (p[pos + name + 1] == ' ');
        FUZZ_CHECK(line == vs + 2 || (line > vs + 2 && p[pos + vs] != ' ' && p[pos + vs] != '\t' &&
                                      p[pos + line - 3] != ' ' && p[pos + line - 3] != '\t'),
                   "trailer line '%.*s' not in canonical form", (int)line - 2, p + pos);
        FUZZ_CHECK(!((name == 14 && strncasecmp(p + pos, "content-length", 14) == 0) ||
                     (name == 17 && strncasecmp(p + pos, "transfer-encoding", 17) == 0) ||
                     (name == 4 && strncasecmp(p + pos, "host", 4) == 0) ||
                     (name >= 6 && strncasecmp(p + pos, "proxy-", 6) == 0)),
                   "trailer '%.*s' passed on", (int)name, p + pos);
        bytes_add(trailers, p + pos, line);
        pos += line;
    }
    return 0;
}

/* The data a run's output stands for: itself unless it is chunked. */
static void
output_data(enum body_framing outf, const struct run *r, struct bytes *data, struct bytes *trailers)
{
    if (outf == BODY_CHUNKED) {
        int complete = ref_dechunk(&r->out, data, trailers);

        FUZZ_CHECK(complete == (r->outcome == OUT_DONE), "chunked output %s, outcome %d",
                   complete ? "complete" : "incomplete", r->outcome);
    } else {
        bytes_add(data, r->out.p, r->out.n);
    }
    /* The call that finds malformed framing counts data whose output the
     * caller drops with the message. */
    FUZZ_CHECK(outf == BODY_NONE || r->outcome == OUT_MALFORMED || data->n == r->total,
               "%zu data bytes out, the codec counted %llu", data->n, (unsigned long long)r->total);
}

static void
bytes_free(struct bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* One input framing with every output framing it allows. */
static void
check_input(enum body_framing in, uint64_t len, const char *data, size_t n, const size_t *cuts,
            int ncuts)
{
    static const enum body_framing outs[] = {BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE};
    struct run first, whole, split, again;
    struct bytes ref = {0}, dw = {0}, tw = {0}, ds = {0}, ts = {0}, da = {0}, ta = {0};
    int have_first = 0, have_ref = 0;

    for (size_t i = 0; i < WD_ARRAY_SIZE(outs); i++) {
        enum body_framing outf = outs[i];

        if (outf == BODY_LENGTH && in != BODY_LENGTH)
            continue; /* body_init's precondition */
        run_codec(in, len, outf, data, n, NULL, 0, &whole);
        run_codec(in, len, outf, data, n, cuts, ncuts, &split);

        /* The cuts change nothing but the chunk boundaries of the output. */
        FUZZ_CHECK(whole.outcome == split.outcome, "%s -> %s: outcome %d whole, %d cut",
                   framing_names[in], framing_names[outf], whole.outcome, split.outcome);
        FUZZ_CHECK(whole.used == split.used, "%s -> %s: used %zu whole, %zu cut", framing_names[in],
                   framing_names[outf], whole.used, split.used);
        output_data(outf, &whole, &dw, &tw);
        output_data(outf, &split, &ds, &ts);
        /* Malformed: how much went out before depends on the cuts. */
        FUZZ_CHECK(whole.outcome == OUT_MALFORMED || bytes_same(&dw, &ds),
                   "%s -> %s: data differs when cut", framing_names[in], framing_names[outf]);
        FUZZ_CHECK(whole.outcome == OUT_MALFORMED || bytes_same(&tw, &ts),
                   "%s -> %s: trailers differ when cut", framing_names[in], framing_names[outf]);
        FUZZ_CHECK(outf != BODY_NONE || whole.out.n == 0, "%s -> none emitted %zu bytes",
                   framing_names[in], whole.out.n);

        /* Nor does the output framing: outcome, length and data. */
        if (!have_first) {
            first = whole;
            first.out = (struct bytes){0};
            have_first = 1;
        } else {
            FUZZ_CHECK(whole.outcome == first.outcome && whole.used == first.used &&
                           whole.total == first.total,
                       "%s -> %s: outcome %d used %zu total %llu, with -> none %d %zu %llu",
                       framing_names[in], framing_names[outf], whole.outcome, whole.used,
                       (unsigned long long)whole.total, first.outcome, first.used,
                       (unsigned long long)first.total);
        }
        if (outf != BODY_NONE && !have_ref) {
            bytes_add(&ref, dw.p, dw.n);
            have_ref = 1;
        } else if (outf != BODY_NONE && whole.outcome != OUT_MALFORMED) {
            FUZZ_CHECK(bytes_same(&dw, &ref), "%s -> %s: other data than with the first framing",
                       framing_names[in], framing_names[outf]);
        }

        /* The output read again in its own framing gives the same data. */
        if (outf != BODY_NONE) {
            struct bytes *o = &whole.out;
            enum outcome want =
                outf == BODY_CLOSE || whole.outcome == OUT_DONE ? OUT_DONE : OUT_TRUNCATED;

            run_codec(outf, len, BODY_CLOSE, o->p, o->n, NULL, 0, &again);
            FUZZ_CHECK(again.outcome == want, "%s -> %s: output read again: outcome %d, first %d",
                       framing_names[in], framing_names[outf], again.outcome, whole.outcome);
            FUZZ_CHECK(again.outcome != OUT_DONE || again.used == o->n,
                       "%s -> %s: output read again used %zu of %zu bytes", framing_names[in],
                       framing_names[outf], again.used, o->n);
            FUZZ_CHECK(bytes_same(&again.out, &dw), "%s -> %s: output read again differs",
                       framing_names[in], framing_names[outf]);
            bytes_free(&again.out);
        }
        /* Complete chunked output is already canonical. */
        if (outf == BODY_CHUNKED && whole.outcome == OUT_DONE) {
            run_codec(BODY_CHUNKED, 0, BODY_CHUNKED, whole.out.p, whole.out.n, NULL, 0, &again);
            output_data(BODY_CHUNKED, &again, &da, &ta);
            FUZZ_CHECK(bytes_same(&again.out, &whole.out), "%s -> chunked: not a fixed point",
                       framing_names[in]);
            bytes_free(&again.out);
        }
        bytes_free(&whole.out);
        bytes_free(&split.out);
        bytes_free(&dw);
        bytes_free(&tw);
        bytes_free(&ds);
        bytes_free(&ts);
        bytes_free(&da);
        bytes_free(&ta);
    }
    bytes_free(&ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cuts[MAX_CUTS], n, len;
    int ncuts;
    char *body;

    if (size < 3)
        return 0;
    ncuts = data[0] & 7;
    len = (size_t)data[1] << 8 | data[2];
    if (size < 3 + 2 * (size_t)ncuts)
        return 0;
    n = size - 3 - 2 * (size_t)ncuts;
    len %= n + 2;
    for (int i = 0; i < ncuts; i++)
        cuts[i] = ((size_t)data[3 + 2 * i] << 8 | data[4 + 2 * i]) % (n + 1);
    /* Increasing order. */
    for (int i = 1; i < ncuts; i++)
        for (int j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];

            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }
    body = fuzz_dup(data + 3 + 2 * ncuts, n);
    check_input(BODY_LENGTH, len, body, n, cuts, ncuts);
    check_input(BODY_CHUNKED, 0, body, n, cuts, ncuts);
    check_input(BODY_CLOSE, 0, body, n, cuts, ncuts);
    free(body);
    return 0;
}
