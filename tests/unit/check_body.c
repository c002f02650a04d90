/* Unit tests for src/http/body.c: every input -> output framing pair fed at once,
 * byte by byte and split at every offset the way the session code feeds it
 * (unconsumed tail kept, next bytes appended); strict chunked rejects; EOF
 * handling; output bounds and zero-copy slices. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "tutil.h"

#define S(lit) lit, sizeof(lit) - 1

/* What one simulated connection produced. */
struct run {
    int rc;          /* 0 complete, -1 rejected, 1 input exhausted without an end */
    char *out;       /* concatenated output */
    size_t outlen;   /* its length */
    size_t rest;     /* bytes of the input not consumed when the body ended */
    uint64_t total;  /* c->total at the end */
    int calls;       /* body_transcode calls */
    int max_n;       /* most iov pieces in one call */
    int partial_big; /* a call consumed less than it was given while o was full */
};

/* Every output piece must point into the input given to that call or into
 * o->scratch, and the reserve for body_eof must be left. */
static void
check_out(const struct body_out *o, const char *in, size_t len)
{
    size_t sum = 0;
    int i;

    ck_assert_int_le(o->n, BODY_MAX_IOV);
    ck_assert_uint_le(o->used, BODY_SCRATCH);
    for (i = 0; i < o->n; i++) {
        uintptr_t b = (uintptr_t)o->iov[i].iov_base, e = b + o->iov[i].iov_len;
        int in_input = b >= (uintptr_t)in && e <= (uintptr_t)in + len;
        int in_scratch = b >= (uintptr_t)o->scratch && e <= (uintptr_t)o->scratch + o->used;

        ck_assert_msg(in_input || in_scratch, "iov %d points outside input and scratch", i);
        ck_assert_uint_gt(o->iov[i].iov_len, 0);
        sum += o->iov[i].iov_len;
    }
    ck_assert_uint_eq(sum, o->bytes);
}

static void
append_out(struct run *r, const struct body_out *o)
{
    int i;

    for (i = 0; i < o->n; i++) {
        r->out = realloc(r->out, r->outlen + o->iov[i].iov_len + 1);
        ck_assert_ptr_nonnull(r->out);
        memcpy(r->out + r->outlen, o->iov[i].iov_base, o->iov[i].iov_len);
        r->outlen += o->iov[i].iov_len;
    }
}

/* Feeds msg[0..len) in pieces ending at cuts[0..ncuts) and then len, like the
 * session: append the piece to the pending bytes, transcode until nothing
 * moves, keep the unconsumed tail. At the end of the input, body_eof when
 * eof is set. */
static void
feed(enum body_framing in, uint64_t clen, enum body_framing out, const char *msg, size_t len,
     const size_t *cuts, int ncuts, int eof, struct run *r)
{
    struct body_codec c;
    struct body_out o;
    char *pend = malloc(len + 1);
    size_t plen = 0, fed = 0;
    int piece;

    ck_assert_ptr_nonnull(pend);
    memset(r, 0, sizeof(*r));
    r->rc = 1;
    body_init(&c, in, clen, out);
    for (piece = 0; piece <= ncuts && !c.done; piece++) {
        size_t end = piece < ncuts ? cuts[piece] : len;
        int guard;

        memcpy(pend + plen, msg + fed, end - fed);
        plen += end - fed;
        fed = end;
        for (guard = 0; guard < 100000; guard++) {
            ssize_t n;

            body_out_reset(&o);
            n = body_transcode(&c, pend, plen, &o);
            r->calls++;
            if (n < 0) {
                r->rc = -1;
                goto out;
            }
            ck_assert_uint_le((size_t)n, plen);
            check_out(&o, pend, plen);
            if (o.n > r->max_n)
                r->max_n = o.n;
            if ((size_t)n < plen && o.n > BODY_MAX_IOV / 2)
                r->partial_big = 1;
            /* The reserve for body_eof is always left. */
            if (!c.done) {
                ck_assert_int_lt(o.n, BODY_MAX_IOV);
                ck_assert_uint_le(o.used + 5, BODY_SCRATCH);
            }
            append_out(r, &o);
            memmove(pend, pend + n, plen - (size_t)n);
            plen -= (size_t)n;
            if (c.done || (n == 0 && o.n == 0))
                break;
        }
        ck_assert_int_lt(guard, 100000);
    }
    if (c.done) {
        r->rc = 0;
        r->rest = plen + (len - fed);
    } else if (eof) {
        body_out_reset(&o);
        r->rc = body_eof(&c, &o);
        check_out(&o, pend, 0);
        append_out(r, &o);
        if (r->rc == 0) {
            ck_assert(c.done);
            r->rest = plen;
        }
    }
out:
    r->total = c.total;
    free(pend);
}

/* A strict decoder of the output chunked framing: sizes in lowercase hex
 * without leading zeros, no extensions, no empty chunk but the last. Returns
 * 0 and the data and trailer section (without the final CRLF), or -1. */
static int
dechunk(const char *s, size_t n, char *data, size_t *dlen, char *tr, size_t *tlen)
{
    size_t pos = 0;

    *dlen = *tlen = 0;
    for (;;) {
        uint64_t sz = 0;
        size_t start = pos;

        while (pos < n && ((s[pos] >= '0' && s[pos] <= '9') || (s[pos] >= 'a' && s[pos] <= 'f'))) {
            sz = sz * 16 + (uint64_t)(s[pos] <= '9' ? s[pos] - '0' : s[pos] - 'a' + 10);
            pos++;
        }
        if (pos == start || (s[start] == '0' && pos - start > 1))
            return -1;
        if (pos + 2 > n || s[pos] != '\r' || s[pos + 1] != '\n')
            return -1;
        pos += 2;
        if (sz == 0)
            break;
        if (pos + sz + 2 > n || s[pos + sz] != '\r' || s[pos + sz + 1] != '\n')
            return -1;
        memcpy(data + *dlen, s + pos, sz);
        *dlen += sz;
        pos += sz + 2;
    }
    if (n - pos < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
        return -1;
    if (n - pos > 2 && (n - pos < 4 || s[n - 4] != '\r' || s[n - 3] != '\n'))
        return -1;
    memcpy(tr, s + pos, n - pos - 2);
    *tlen = n - pos - 2;
    return 0;
}

/* One framing case: a message (body then pipelined bytes), the expected
 * output when fed at once, the decoded data and trailer section. */
struct tcase {
    enum body_framing in, out;
    uint64_t clen;
    const char *msg;
    size_t len;
    size_t rest; /* pipelined bytes after the body */
    int eof;     /* the body ends with the connection */
    const char *want;
    size_t wantlen;
    uint64_t total;
};

/* Checks a run's output against the case: byte for byte when the output
 * framing carries no sizes or when fed at once, else through dechunk. */
static void
check_run(const struct tcase *t, const struct run *r, int at_once)
{
    ck_assert_int_eq(r->rc, 0);
    ck_assert_uint_eq(r->rest, t->rest);
    ck_assert_uint_eq(r->total, t->total);
    if (t->out != BODY_CHUNKED || at_once) {
        ck_assert_uint_eq(r->outlen, t->wantlen);
        ck_assert(r->outlen == 0 || memcmp(r->out, t->want, t->wantlen) == 0);
    } else {
        static char d1[4096], d2[4096], t1[4096], t2[4096];
        size_t dl1, dl2, tl1, tl2;

        ck_assert_int_eq(dechunk(t->want, t->wantlen, d1, &dl1, t1, &tl1), 0);
        ck_assert_int_eq(dechunk(r->out, r->outlen, d2, &dl2, t2, &tl2), 0);
        ck_assert_uint_eq(dl1, dl2);
        ck_assert_int_eq(memcmp(d1, d2, dl1), 0);
        ck_assert_uint_eq(tl1, tl2);
        ck_assert_int_eq(memcmp(t1, t2, tl1), 0);
    }
}

/* (a) at once, (b) one byte at a time, (c) split at every offset. */
static void
run_case(const struct tcase *t)
{
    size_t *cuts = malloc((t->len + 1) * sizeof(*cuts));
    struct run r;
    size_t i, k;

    ck_assert_ptr_nonnull(cuts);
    feed(t->in, t->clen, t->out, t->msg, t->len, NULL, 0, t->eof, &r);
    check_run(t, &r, 1);
    free(r.out);

    for (i = 0; i + 1 < t->len; i++)
        cuts[i] = i + 1;
    feed(t->in, t->clen, t->out, t->msg, t->len, cuts, t->len > 0 ? (int)t->len - 1 : 0, t->eof,
         &r);
    check_run(t, &r, 0);
    free(r.out);

    for (k = 0; k <= t->len; k++) {
        cuts[0] = k;
        feed(t->in, t->clen, t->out, t->msg, t->len, cuts, 1, t->eof, &r);
        check_run(t, &r, 0);
        free(r.out);
    }
    free(cuts);
}

#define PIPE "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"

static const char chunked_msg[] = "5;a=b;c=\"x y\"\r\nhello\r\n"
                                  "6 ; q = \"\\\"z\\\\\" ;r\r\n world\r\n"
                                  "A\r\n0123456789\r\n"
                                  "000;end\r\n"
                                  "X-Sum: abc\r\n"
                                  "Content-Length: 5\r\n"
                                  "hOsT: evil\r\n"
                                  "Proxy-Authorization: secret\r\n"
                                  "transfer-encoding: chunked\r\n"
                                  "X-Two:\t  spaced out \t\r\n"
                                  "X-Empty:\r\n"
                                  "X-Blank:   \r\n"
                                  "\r\n" PIPE;

START_TEST(test_length_to_length)
{
    struct tcase t = {BODY_LENGTH, BODY_LENGTH,      11, S("hello world" PIPE), sizeof(PIPE) - 1,
                      0,           S("hello world"), 11};
    run_case(&t);
}
END_TEST

START_TEST(test_length_to_chunked)
{
    struct tcase t = {BODY_LENGTH,
                      BODY_CHUNKED,
                      11,
                      S("hello world" PIPE),
                      sizeof(PIPE) - 1,
                      0,
                      S("b\r\nhello world\r\n0\r\n\r\n"),
                      11};
    run_case(&t);
}
END_TEST

START_TEST(test_length_to_close)
{
    struct tcase t = {BODY_LENGTH, BODY_CLOSE,       11, S("hello world" PIPE), sizeof(PIPE) - 1,
                      0,           S("hello world"), 11};
    run_case(&t);
}
END_TEST

START_TEST(test_close_to_close)
{
    struct tcase t = {BODY_CLOSE,
                      BODY_CLOSE,
                      0,
                      S("all of it\r\n0\r\n\r\nstill body"),
                      0,
                      1,
                      S("all of it\r\n0\r\n\r\nstill body"),
                      26};
    run_case(&t);
}
END_TEST

START_TEST(test_close_to_chunked)
{
    struct tcase t = {
        BODY_CLOSE, BODY_CHUNKED, 0, S("until the end"), 0, 1, S("d\r\nuntil the end\r\n0\r\n\r\n"),
        13};
    run_case(&t);
}
END_TEST

START_TEST(test_chunked_to_chunked)
{
    /* Extensions stripped, sizes regenerated, forbidden trailers dropped,
     * kept ones regenerated with OWS trimmed. */
    struct tcase t = {BODY_CHUNKED,
                      BODY_CHUNKED,
                      0,
                      chunked_msg,
                      sizeof(chunked_msg) - 1,
                      sizeof(PIPE) - 1,
                      0,
                      S("5\r\nhello\r\n6\r\n world\r\na\r\n0123456789\r\n0\r\n"
                        "X-Sum: abc\r\nX-Two: spaced out\r\nX-Empty:\r\nX-Blank: \r\n\r\n"),
                      21};
    run_case(&t);
}
END_TEST

START_TEST(test_chunked_to_close)
{
    struct tcase t = {BODY_CHUNKED,
                      BODY_CLOSE,
                      0,
                      chunked_msg,
                      sizeof(chunked_msg) - 1,
                      sizeof(PIPE) - 1,
                      0,
                      S("hello world0123456789"),
                      21};
    run_case(&t);
}
END_TEST

START_TEST(test_chunked_minimal)
{
    /* Only the last chunk; uppercase hex; 16 digits is the limit. */
    struct tcase t1 = {
        BODY_CHUNKED, BODY_CHUNKED, 0, S("0\r\n\r\n" PIPE), sizeof(PIPE) - 1, 0, S("0\r\n\r\n"), 0};
    struct tcase t3 = {BODY_CHUNKED,
                       BODY_CHUNKED,
                       0,
                       S("1;a;b\r\nx\r\n1;a ;b\t; c\r\ny\r\n0\r\n\r\n"),
                       0,
                       0,
                       S("1\r\nx\r\n1\r\ny\r\n0\r\n\r\n"),
                       2};
    struct tcase t2 = {BODY_CHUNKED,
                       BODY_CHUNKED,
                       0,
                       S("0000000000000003\r\nabc\r\nB\r\nhello "
                         "world\r\n0\r\n\r\n"),
                       0,
                       0,
                       S("3\r\nabc\r\nb\r\nhello world\r\n0\r\n\r\n"),
                       14};
    run_case(&t1);
    run_case(&t2);
    run_case(&t3);
}
END_TEST

START_TEST(test_chunked_to_none_discards)
{
    /* BODY_NONE as output: decoded and validated, nothing emitted. */
    struct tcase t = {BODY_CHUNKED,     BODY_NONE, 0,  chunked_msg, sizeof(chunked_msg) - 1,
                      sizeof(PIPE) - 1, 0,         "", 0,           21};
    run_case(&t);
}
END_TEST

START_TEST(test_length_zero)
{
    struct body_codec c;
    struct body_out o;
    struct tcase t = {BODY_LENGTH, BODY_CHUNKED,   0, S(PIPE), sizeof(PIPE) - 1,
                      0,           S("0\r\n\r\n"), 0};

    /* Done at once: nothing to send, nothing consumed. */
    body_init(&c, BODY_LENGTH, 0, BODY_LENGTH);
    ck_assert(c.done);
    body_out_reset(&o);
    ck_assert_int_eq(body_transcode(&c, PIPE, sizeof(PIPE) - 1, &o), 0);
    ck_assert_int_eq(o.n, 0);
    ck_assert_int_eq(body_eof(&c, &o), 0);

    /* Re-chunked, the empty body still owes its last chunk: sent by the
     * first call, even one with no input, or by body_eof. */
    body_init(&c, BODY_LENGTH, 0, BODY_CHUNKED);
    ck_assert(!c.done);
    body_out_reset(&o);
    ck_assert_int_eq(body_transcode(&c, "", 0, &o), 0);
    ck_assert(c.done);
    ck_assert_uint_eq(o.bytes, 5);
    ck_assert_int_eq(memcmp(o.iov[0].iov_base, "0\r\n\r\n", 5), 0);

    body_init(&c, BODY_LENGTH, 0, BODY_CHUNKED);
    body_out_reset(&o);
    ck_assert_int_eq(body_eof(&c, &o), 0);
    ck_assert_uint_eq(o.bytes, 5);

    run_case(&t);
}
END_TEST

START_TEST(test_none)
{
    struct body_codec c;
    struct body_out o;

    body_init(&c, BODY_NONE, 0, BODY_CHUNKED);
    ck_assert(c.done);
    body_out_reset(&o);
    ck_assert_int_eq(body_transcode(&c, PIPE, sizeof(PIPE) - 1, &o), 0);
    ck_assert_int_eq(o.n, 0);
    ck_assert_int_eq(body_eof(&c, &o), 0);
    ck_assert_int_eq(o.n, 0);
}
END_TEST

/* 10 MB through a 16 KiB window, as the session's buffer would see it. */
#define BIG    (10u * 1024 * 1024)
#define WINDOW 16384

START_TEST(test_large_length)
{
    static char win[WINDOW];
    struct body_codec c;
    struct body_out o;
    uint64_t sent = 0, out = 0;
    int calls = 0;

    memset(win, 'x', sizeof(win));
    body_init(&c, BODY_LENGTH, BIG, BODY_LENGTH);
    while (!c.done && calls < 10000) {
        size_t n = BIG - sent < WINDOW ? BIG - sent : WINDOW;
        ssize_t r;

        body_out_reset(&o);
        r = body_transcode(&c, win, n, &o);
        calls++;
        /* One slice per call, straight from the window. */
        ck_assert_int_eq(r, (ssize_t)n);
        ck_assert_int_eq(o.n, 1);
        ck_assert_ptr_eq(o.iov[0].iov_base, win);
        ck_assert_uint_eq(o.used, 0);
        sent += n;
        out += o.bytes;
    }
    ck_assert(c.done);
    ck_assert_uint_eq(out, BIG);
    ck_assert_uint_eq(c.total, BIG);
    ck_assert_int_eq(calls, BIG / WINDOW);

    /* Re-chunked: one chunk per window, then the last chunk. */
    body_init(&c, BODY_LENGTH, BIG, BODY_CHUNKED);
    sent = out = 0;
    calls = 0;
    while (!c.done && calls < 10000) {
        body_out_reset(&o);
        ck_assert_int_eq(body_transcode(&c, win, WINDOW, &o), WINDOW);
        calls++;
        ck_assert_int_le(o.n, 3);
        out += o.bytes;
    }
    ck_assert(c.done);
    ck_assert_uint_eq(out, (uint64_t)(BIG / WINDOW) * (WINDOW + 8) + 5);
    ck_assert_int_eq(memcmp(o.scratch + o.used - 7, "\r\n0\r\n\r\n", 7), 0);
}
END_TEST

START_TEST(test_large_chunk)
{
    /* One 10 MB chunk decoded through 16 KiB windows; the chunk header and
     * the closing framing share windows with data. */
    static char win[WINDOW];
    struct body_codec c;
    struct body_out o;
    uint64_t fed = 0, out = 0;
    const char *head = "a00000\r\n", *tail = "\r\n0\r\n\r\n";
    uint64_t len = 8 + BIG + 7;
    size_t keep = 0;
    int calls = 0;

    body_init(&c, BODY_CHUNKED, 0, BODY_CLOSE);
    while (!c.done && calls < 10000) {
        size_t n = 0;
        ssize_t r;

        /* Fill the window after the kept tail with the next message bytes. */
        while (keep + n < WINDOW && fed < len) {
            char b = fed < 8 ? head[fed] : fed < 8 + BIG ? 'y' : tail[fed - 8 - BIG];
            win[keep + n++] = b;
            fed++;
        }
        body_out_reset(&o);
        r = body_transcode(&c, win, keep + n, &o);
        calls++;
        ck_assert_int_ge(r, 0);
        ck_assert_int_le(o.n, 1);
        out += o.bytes;
        keep = keep + n - (size_t)r;
        memmove(win, win + r, keep);
    }
    ck_assert(c.done);
    ck_assert_uint_eq(keep, 0);
    ck_assert_uint_eq(out, BIG);
    ck_assert_uint_eq(c.total, BIG);
}
END_TEST

/* Inputs that must be rejected, whichever way they are split, by
 * body_transcode itself (no EOF is signalled). */
static const struct {
    const char *msg;
    size_t len;
} bad[] = {
    {S("zz\r\n")},
    {S("0x5\r\nhello\r\n0\r\n\r\n")},
    {S(" 5\r\nhello\r\n0\r\n\r\n")},
    {S("\r\n")},
    {S(";a\r\n")},
    {S("5 \r\nhello\r\n0\r\n\r\n")},
    {S("5\t\r\nhello\r\n0\r\n\r\n")},
    {S("5\nhello\r\n0\r\n\r\n")},
    {S("0\n\r\n")},
    {S("5\r\r;ABCDhello\r\n0\r\n\r\n")},
    {S("5\r;\nhello\r\n0\r\n\r\n")},
    {S("5\rXhello\r\n0\r\n\r\n")}, /* any byte after CR taken as LF */
    {S("5\r\nhelloXX0\r\n\r\n")},
    {S("5\r\nhello\rX0\r\n\r\n")},
    {S("5\r\nhello\n0\r\n\r\n")},
    {S("5\r\nhello\r0\r\n\r\n")},
    {S("00000000000000005\r\nhello\r\n0\r\n\r\n")}, /* 17 hex digits */
    {S("ffffffffffffffffff\r\n")},                  /* overflow */
    {S("5z\r\nhello\r\n0\r\n\r\n")},
    {S("5;\r\nhello\r\n0\r\n\r\n")},              /* ext without a name */
    {S("5;a \r\nhello\r\n0\r\n\r\n")},            /* BWS not followed by = or ; */
    {S("5;a=\r\nhello\r\n0\r\n\r\n")},            /* = without a value */
    {S("5;a=b c\r\nhello\r\n0\r\n\r\n")},         /* two tokens */
    {S("5;a\nxx\r\nhello\r\n0\r\n\r\n")},         /* bare LF in an extension */
    {S("5;a=\"x\001\"\r\nhello\r\n0\r\n\r\n")},   /* CTL in a quoted-string */
    {S("5;a=\"x\\\001\"\r\nhello\r\n0\r\n\r\n")}, /* CTL in a quoted-pair */
    {S("5;a=\"x\r\nhello\r\n0\r\n\r\n")},         /* unterminated quoted-string */
    {S("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n")},      /* junk after a quoted-string */
    {S("5;a\001=b\r\nhello\r\n0\r\n\r\n")},       /* CTL in an extension name */
    {S("5;a=b\177\r\nhello\r\n0\r\n\r\n")},       /* DEL in an extension value */
    {S("5;=b\r\nhello\r\n0\r\n\r\n")},
    {S("0\r\nX: a\nY: b\r\n\r\n")}, /* bare LF in a trailer */
    {S("0\r\nX : a\r\n\r\n")},      /* space before the colon */
    {S("0\r\nX\t: a\r\n\r\n")},
    {S("0\r\nX: a\r\n b\r\n\r\n")}, /* obs-fold */
    {S("0\r\nX: a\r\n\tb\r\n\r\n")},
    {S("0\r\n: a\r\n\r\n")},       /* empty name */
    {S("0\r\nX a\r\n\r\n")},       /* no colon */
    {S("0\r\nX: a\001b\r\n\r\n")}, /* CTL in a value */
    {S("0\r\nX: \000b\r\n\r\n")},  /* NUL first in a value */
    {S("0\r\nX: a\rb\r\n\r\n")},   /* bare CR in a value */
    {S("0\r\nX: a\r\n\n")},        /* bare LF ending the section */
    {S("0\r\nX: a\r\n\r\r")},
    {S("0\r\n\n")},
};

START_TEST(test_rejects)
{
    size_t i = (size_t)_i, k;
    enum body_framing outs[] = {BODY_CHUNKED, BODY_CLOSE};
    size_t *cuts = malloc(bad[i].len * sizeof(*cuts));
    struct run r;
    int o;

    ck_assert_ptr_nonnull(cuts);
    for (o = 0; o < 2; o++) {
        for (k = 0; k + 1 < bad[i].len; k++)
            cuts[k] = k + 1;
        feed(BODY_CHUNKED, 0, outs[o], bad[i].msg, bad[i].len, NULL, 0, 0, &r);
        ck_assert_msg(r.rc == -1, "case %zu accepted at once", i);
        free(r.out);
        feed(BODY_CHUNKED, 0, outs[o], bad[i].msg, bad[i].len, cuts, (int)bad[i].len - 1, 0, &r);
        ck_assert_msg(r.rc == -1, "case %zu accepted byte by byte", i);
        free(r.out);
        for (k = 0; k <= bad[i].len; k++) {
            cuts[0] = k;
            feed(BODY_CHUNKED, 0, outs[o], bad[i].msg, bad[i].len, cuts, 1, 0, &r);
            ck_assert_msg(r.rc == -1, "case %zu accepted split at %zu", i, k);
            free(r.out);
        }
    }
    free(cuts);
}
END_TEST

START_TEST(test_reject_in_one_call)
{
    /* A caller that has sent nothing yet (the session holding a response
     * head whose body bytes came in the same read) learns of a bad chunk in
     * that same call, good chunks before it or not: -1, not the count of
     * the good part, so it can answer 502 instead of sending the head and
     * closing. */
    static const struct {
        const char *msg;
        size_t len;
    } cases[] = {
        {S("zz\r\nhello\r\n0\r\n\r\n")},
        {S("5\r\nhello\r\nzz\r\n0\r\n\r\n")},
        {S("5\r\nhello\r\n6\r\n world\r\n5\nhello")},
        {S("5\r\nhelloXX0\r\n\r\n")},
        {S("5\r\nhello\r\n0\r\nX : y\r\n\r\n")},
    };
    enum body_framing outs[] = {BODY_CHUNKED, BODY_CLOSE, BODY_NONE};
    struct body_codec c;
    struct body_out o;
    size_t i;
    int k;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (k = 0; k < 3; k++) {
            body_init(&c, BODY_CHUNKED, 0, outs[k]);
            body_out_reset(&o);
            ck_assert_msg(body_transcode(&c, cases[i].msg, cases[i].len, &o) == -1,
                          "case %zu, out %d", i, k);
        }
    }
}
END_TEST

/* Builds "prefix" + n copies of fill + "suffix" in a malloc'd buffer. */
static char *
build(const char *prefix, const char *fill, size_t n, const char *suffix, size_t *len)
{
    size_t pl = strlen(prefix), fl = strlen(fill), sl = strlen(suffix), i;
    char *s = malloc(pl + fl * n + sl + 1);

    ck_assert_ptr_nonnull(s);
    memcpy(s, prefix, pl);
    for (i = 0; i < n; i++)
        memcpy(s + pl + i * fl, fill, fl);
    memcpy(s + pl + fl * n, suffix, sl);
    *len = pl + fl * n + sl;
    return s;
}

/* Result of feeding msg in pieces of step bytes; EOF is signalled after it
 * only when eof is set, so -1 without it comes from body_transcode. */
static int
chunked_rc(const char *msg, size_t len, enum body_framing out, size_t step, int eof)
{
    size_t *cuts = malloc((len / step + 1) * sizeof(*cuts));
    struct run r;
    int n = 0;
    size_t k;

    ck_assert_ptr_nonnull(cuts);
    for (k = step; k < len; k += step)
        cuts[n++] = k;
    feed(BODY_CHUNKED, 0, out, msg, len, cuts, n, eof, &r);
    free(r.out);
    free(cuts);
    return r.rc;
}

START_TEST(test_line_limits)
{
    size_t len;
    char *s;
    size_t step[] = {1 << 20, 1, 7, 1000};
    int i;

    for (i = 0; i < 4; i++) {
        /* A size line of exactly BODY_MAX_LINE bytes passes, one more fails. */
        s = build("5;a=", "b", BODY_MAX_LINE - 6, "\r\nhello\r\n0\r\n\r\n", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CHUNKED, step[i], 0), 0);
        free(s);
        s = build("5;a=", "b", BODY_MAX_LINE - 5, "\r\nhello\r\n0\r\n\r\n", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CHUNKED, step[i], 0), -1);
        free(s);
        /* A size line that never ends is rejected once it is too long. */
        s = build("5;a=", "b", BODY_MAX_LINE * 2, "", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CHUNKED, step[i], 0), -1);
        free(s);
        /* The same for a trailer line, complete or not. */
        s = build("0\r\nX: ", "v", BODY_MAX_LINE - 5, "\r\n\r\n", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CHUNKED, step[i], 0), 0);
        free(s);
        s = build("0\r\nX: ", "v", BODY_MAX_LINE - 4, "\r\n\r\n", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CLOSE, step[i], 0), -1);
        free(s);
        /* An incomplete line of BODY_MAX_LINE bytes cannot end in time. */
        s = build("0\r\nX: ", "v", BODY_MAX_LINE - 3, "", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CLOSE, step[i], 0), -1);
        free(s);
        s = build("0\r\nX: ", "v", BODY_MAX_LINE - 4, "", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CLOSE, step[i], 0), 1);
        free(s);
        s = build("0\r\nX: ", "v", BODY_MAX_LINE * 2, "", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CLOSE, step[i], 0), -1);
        free(s);
        /* A trailer section (field lines and the empty line) of exactly
         * BODY_MAX_TRAILERS bytes passes, one more fails. */
        s = build("0\r\nX-Abcdefg: x\r\n", "X-A: b\r\n", (BODY_MAX_TRAILERS - 16) / 8, "\r\n",
                  &len);
        ck_assert_uint_eq(len - 3, BODY_MAX_TRAILERS);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CHUNKED, step[i], 0), 0);
        free(s);
        s = build("0\r\nX-Abcdefgh: x\r\n", "X-A: b\r\n", (BODY_MAX_TRAILERS - 16) / 8, "\r\n",
                  &len);
        ck_assert_uint_eq(len - 3, BODY_MAX_TRAILERS + 1);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CHUNKED, step[i], 0), -1);
        free(s);
        /* Over the limit with the section still open. */
        s = build("0\r\n", "X-A: b\r\n", BODY_MAX_TRAILERS / 8 + 1, "", &len);
        ck_assert_int_eq(chunked_rc(s, len, BODY_CLOSE, step[i], 0), -1);
        free(s);
    }
}
END_TEST

/* Re-chunks msg (fed in pieces of step bytes) and feeds the output to a
 * second codec with the same limits, as a second warpd would. Returns the
 * second codec's result; *tr1 gets the length of the trailer section of the
 * first output (empty line included). */
static int
relay_twice(const char *msg, size_t len, size_t step, size_t *tr1)
{
    static char data[4096], tr[BODY_MAX_TRAILERS * 2];
    size_t *cuts = malloc((len / step + 1) * sizeof(*cuts));
    struct run r1, r2;
    int n = 0;
    size_t k, dlen;

    ck_assert_ptr_nonnull(cuts);
    for (k = step; k < len; k += step)
        cuts[n++] = k;
    feed(BODY_CHUNKED, 0, BODY_CHUNKED, msg, len, cuts, n, 0, &r1);
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(dechunk(r1.out, r1.outlen, data, &dlen, tr, tr1), 0);
    *tr1 += 2;
    feed(BODY_CHUNKED, 0, BODY_CHUNKED, r1.out, r1.outlen, NULL, 0, 0, &r2);
    if (r2.rc == 0) { /* and the second hop writes it on unchanged */
        ck_assert_uint_eq(r2.outlen, r1.outlen);
        ck_assert_int_eq(memcmp(r2.out, r1.out, r1.outlen), 0);
    }
    free(r1.out);
    free(r2.out);
    free(cuts);
    return r2.rc;
}

START_TEST(test_trailers_never_longer)
{
    static const char *const lines[] = {"a:x\r\n", "b: x\r\n", "c:\tx\r\n",   "d:  x \t\r\n",
                                        "e:\r\n",  "f:  \r\n", "g:x y\t\r\n", "h:\t \"q\"\r\n"};
    size_t step[] = {1 << 20, 1, 7, 1000};
    size_t len, tr1, n, l;
    unsigned long st = 5;
    char *s;
    int i;

    for (i = 0; i < 4; i++) {
        /* The reproducer: 8 002 bytes of "a:x" trailers, under the limit.
         * Written back as received (an added SP made them 9 602 bytes, and
         * the next hop refused them). */
        s = build("5\r\nhello\r\n0\r\n", "a:x\r\n", 1600, "\r\n", &len);
        ck_assert_int_eq(relay_twice(s, len, step[i], &tr1), 0);
        ck_assert_uint_eq(tr1, 8002);
        free(s);
    }
    /* Every spacing, up to a section of exactly BODY_MAX_TRAILERS bytes:
     * the output is never longer and the next hop takes it. */
    s = malloc(BODY_MAX_TRAILERS + 64);
    ck_assert_ptr_nonnull(s);
    memcpy(s, "3\r\nabc\r\n0\r\n", 11);
    n = 11;
    /* Lines are at most 9 bytes: random ones while 13 or more bytes are
     * left (the empty line included), then one of exactly what is left. */
    while (BODY_MAX_TRAILERS - (n - 11 + 2) >= 13) {
        st = st * 6364136223846793005UL + 1442695040888963407UL;
        l = strlen(lines[(st >> 33) % 8]);
        memcpy(s + n, lines[(st >> 33) % 8], l);
        n += l;
    }
    l = BODY_MAX_TRAILERS - (n - 11 + 2);
    memcpy(s + n, "p:", 2);
    memset(s + n + 2, 'v', l - 4);
    memcpy(s + n + l - 2, "\r\n", 2);
    n += l;
    memcpy(s + n, "\r\n", 2);
    n += 2;
    ck_assert_uint_eq(n - 11, BODY_MAX_TRAILERS);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(relay_twice(s, n, step[i], &tr1), 0);
        ck_assert_uint_le(tr1, BODY_MAX_TRAILERS);
    }
    free(s);
}
END_TEST

START_TEST(test_eof)
{
    struct run r;
    static const char chunked_cut[][24] = {"",
                                           "5",
                                           "5;a",
                                           "5\r",
                                           "5\r\nhel",
                                           "5\r\nhello",
                                           "5\r\nhello\r",
                                           "5\r\nhello\r\n0\r\n",
                                           "5\r\nhello\r\n0\r\nX: y\r\n",
                                           "5\r\nhello\r\n0\r\nX"};
    size_t i;

    /* Truncated Content-Length body. */
    feed(BODY_LENGTH, 10, BODY_LENGTH, S("hello"), NULL, 0, 1, &r);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_uint_eq(r.outlen, 5);
    free(r.out);
    feed(BODY_LENGTH, 10, BODY_CHUNKED, S("hello"), NULL, 0, 1, &r);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_uint_eq(r.outlen, 10); /* "5\r\nhello\r\n", no last chunk */
    free(r.out);
    /* Truncated chunked bodies, output either way: no last chunk is made up. */
    for (i = 0; i < sizeof(chunked_cut) / sizeof(chunked_cut[0]); i++) {
        feed(BODY_CHUNKED, 0, BODY_CLOSE, chunked_cut[i], strlen(chunked_cut[i]), NULL, 0, 1, &r);
        ck_assert_int_eq(r.rc, -1);
        free(r.out);
        feed(BODY_CHUNKED, 0, BODY_CHUNKED, chunked_cut[i], strlen(chunked_cut[i]), NULL, 0, 1, &r);
        ck_assert_int_eq(r.rc, -1);
        ck_assert(r.outlen < 7 || memcmp(r.out + r.outlen - 7, "\r\n0\r\n\r\n", 7) != 0);
        free(r.out);
    }
    /* Close-delimited: EOF is the end. */
    feed(BODY_CLOSE, 0, BODY_CHUNKED, "", 0, NULL, 0, 1, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.outlen, 5);
    ck_assert_int_eq(memcmp(r.out, "0\r\n\r\n", 5), 0);
    free(r.out);
    feed(BODY_CLOSE, 0, BODY_CLOSE, S("abc"), NULL, 0, 1, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.outlen, 3);
    free(r.out);
    /* Complete bodies: EOF afterwards changes nothing. */
    {
        struct body_codec c;
        struct body_out o;

        body_init(&c, BODY_CHUNKED, 0, BODY_CHUNKED);
        body_out_reset(&o);
        ck_assert_int_eq(body_transcode(&c, S("1\r\na\r\n0\r\n\r\n"), &o), 11);
        ck_assert(c.done);
        body_out_reset(&o);
        ck_assert_int_eq(body_eof(&c, &o), 0);
        ck_assert_int_eq(o.n, 0);
        ck_assert_int_eq(body_transcode(&c, S("1\r\na\r\n"), &o), 0);
        ck_assert_int_eq(o.n, 0);

        body_init(&c, BODY_LENGTH, 3, BODY_CLOSE);
        body_out_reset(&o);
        ck_assert_int_eq(body_transcode(&c, S("abc"), &o), 3);
        ck_assert_int_eq(body_eof(&c, &o), 0);
        ck_assert_int_eq(o.n, 1);
    }
}
END_TEST

START_TEST(test_eof_after_full_output)
{
    /* body_transcode always leaves room for body_eof's last chunk, even
     * when it stopped because o was full. */
    struct body_codec c;
    struct body_out o;
    static char data[64];
    int i;

    memset(data, 'd', sizeof(data));
    body_init(&c, BODY_CLOSE, 0, BODY_CHUNKED);
    body_out_reset(&o);
    for (i = 0; i < 40; i++) /* appended to the same o until it is full */
        if (body_transcode(&c, data + i, 1, &o) == 0)
            break;
    ck_assert_int_lt(i, 40);
    ck_assert_int_eq(body_eof(&c, &o), 0);
    ck_assert(c.done);
    ck_assert_int_le(o.n, BODY_MAX_IOV);
    ck_assert_int_eq(memcmp(o.scratch + o.used - 7, "\r\n0\r\n\r\n", 7), 0);
}
END_TEST

START_TEST(test_many_small_chunks)
{
    /* Thousands of 1-byte chunks and many non-canonical trailers fed at
     * once: each call stops before o overflows and the body completes over
     * several calls, byte-exact. */
    size_t len, elen, i;
    char *msg = build("", "1;x=y\r\nz\r\n", 3000, "", &len);
    char *want, *p;
    struct run r;
    static const char trailers[] = "X-T:  v  \r\n";

    msg = realloc(msg, len + 4 + 200 * (sizeof(trailers) - 1) + 2 + sizeof(PIPE));
    ck_assert_ptr_nonnull(msg);
    p = msg + len;
    memcpy(p, "0\r\n", 3);
    p += 3;
    for (i = 0; i < 200; i++, p += sizeof(trailers) - 1)
        memcpy(p, trailers, sizeof(trailers) - 1);
    memcpy(p, "\r\n" PIPE, 2 + sizeof(PIPE) - 1);
    p += 2 + sizeof(PIPE) - 1;
    len = (size_t)(p - msg);

    feed(BODY_CHUNKED, 0, BODY_CHUNKED, msg, len, NULL, 0, 0, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.rest, sizeof(PIPE) - 1);
    ck_assert_uint_eq(r.total, 3000);
    ck_assert_int_gt(r.calls, 3000 / BODY_MAX_IOV);
    ck_assert(r.partial_big);
    ck_assert_int_le(r.max_n, BODY_MAX_IOV);
    /* Each call's output is a run of whole chunks, so with this input the
     * bytes are fixed whatever the call boundaries. */
    want = build("", "1\r\nz\r\n", 3000, "0\r\n", &elen);
    want = realloc(want, elen + 200 * 8 + 2);
    ck_assert_ptr_nonnull(want);
    for (i = 0; i < 200; i++, elen += 8)
        memcpy(want + elen, "X-T: v\r\n", 8);
    memcpy(want + elen, "\r\n", 2);
    elen += 2;
    ck_assert_uint_eq(r.outlen, elen);
    ck_assert_int_eq(memcmp(r.out, want, elen), 0);
    free(r.out);

    feed(BODY_CHUNKED, 0, BODY_CLOSE, msg, len, NULL, 0, 0, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.outlen, 3000);
    ck_assert_int_gt(r.calls, 3000 / BODY_MAX_IOV);
    free(r.out);
    free(want);
    free(msg);
}
END_TEST

START_TEST(test_zero_copy)
{
    /* Data pieces are the input bytes themselves; canonical trailer lines
     * too; generated framing lives in scratch. */
    static const char in[] = "3;e=1\r\nabc\r\n0\r\nX-Sum: abc\r\n\r\n";
    struct body_codec c;
    struct body_out o;

    body_init(&c, BODY_CHUNKED, 0, BODY_CHUNKED);
    body_out_reset(&o);
    ck_assert_int_eq(body_transcode(&c, in, sizeof(in) - 1, &o), (ssize_t)sizeof(in) - 1);
    ck_assert(c.done);
    ck_assert_int_eq(o.n, 5);
    ck_assert_ptr_eq(o.iov[0].iov_base, o.scratch); /* "3\r\n" */
    ck_assert_uint_eq(o.iov[0].iov_len, 3);
    ck_assert_ptr_eq(o.iov[1].iov_base, in + 7);  /* "abc" */
    ck_assert_uint_eq(o.iov[2].iov_len, 5);       /* "\r\n0\r\n" in one piece */
    ck_assert_ptr_eq(o.iov[3].iov_base, in + 15); /* the trailer line */
    ck_assert_uint_eq(o.iov[3].iov_len, 12);
    ck_assert_uint_eq(o.iov[4].iov_len, 2);
    ck_assert_uint_eq(o.bytes, 3 + 3 + 5 + 12 + 2);
    ck_assert_uint_eq(c.total, 3);
}
END_TEST

START_TEST(test_incomplete_line_waits)
{
    /* An incomplete trailer line is not consumed; the data before it is. */
    struct body_codec c;
    struct body_out o;
    static const char in[] = "2\r\nab\r\n0\r\nX-A: 1\r\nX-B: 2";

    body_init(&c, BODY_CHUNKED, 0, BODY_CHUNKED);
    body_out_reset(&o);
    ck_assert_int_eq(body_transcode(&c, in, sizeof(in) - 1, &o), (ssize_t)sizeof(in) - 1 - 6);
    ck_assert(!c.done);
    body_out_reset(&o);
    ck_assert_int_eq(body_transcode(&c, "X-B: 2", 6, &o), 0);
    ck_assert_int_eq(o.n, 0);
    ck_assert_int_eq(body_transcode(&c, "X-B: 2\r\n\r\nNEXT", 14, &o), 10);
    ck_assert(c.done);
    ck_assert_uint_eq(o.bytes, 10);
}
END_TEST

START_TEST(test_trailer_names)
{
    /* Every framing, routing, authentication or content-format field is
     * dropped, whatever its case; look-alike names are kept. */
    static const char in[] =
        "0\r\n"
        "Transfer-Encoding: chunked\r\nContent-Length: 1\r\nHost: h\r\n"
        "Connection: close\r\nTrailer: X\r\nTE: trailers\r\n"
        "Keep-Alive: 1\r\nUpgrade: h2c\r\nVia: 1.1 x\r\n"
        "Max-Forwards: 1\r\nExpect: 100-continue\r\nAuthorization: x\r\n"
        "WWW-Authenticate: x\r\nContent-Encoding: gzip\r\n"
        "Content-Type: a/b\r\nContent-Range: x\r\nPROXY-connection: x\r\n"
        "proxy-authenticate: x\r\nProxy-: x\r\n"
        "TEx: 1\r\nHosts: 2\r\nProxy: 3\r\nX-Host: 4\r\ngrpc-status: 0\r\n\r\n";
    static const char want[] = "0\r\nTEx: 1\r\nHosts: 2\r\nProxy: 3\r\nX-Host: 4\r\n"
                               "grpc-status: 0\r\n\r\n";
    struct run r;

    feed(BODY_CHUNKED, 0, BODY_CHUNKED, in, sizeof(in) - 1, NULL, 0, 0, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.outlen, sizeof(want) - 1);
    ck_assert_int_eq(memcmp(r.out, want, sizeof(want) - 1), 0);
    free(r.out);
}
END_TEST

/* Makes o look like a body_out that already holds k pieces from an earlier
 * call, as the session code passes it: real slices of a buffer elsewhere,
 * not uninitialised entries (body_transcode looks at the last one to merge
 * generated bytes into it). */
static void
preuse(struct body_out *o, int k)
{
    static const char before[BODY_MAX_IOV] = "earlier output, not scratch";
    int i;

    body_out_reset(o);
    for (i = 0; i < k; i++) {
        o->iov[i].iov_base = (void *)(uintptr_t)(before + i);
        o->iov[i].iov_len = 1;
    }
    o->n = k;
    o->bytes = (size_t)k;
}

START_TEST(test_appends_to_used_out)
{
    /* The output is appended to what o already holds: with scratch nearly
     * full nothing is emitted or consumed; with a little more room one chunk
     * fits and body_eof still has room for its last chunk. */
    struct body_codec c;
    struct body_out o;
    static const char data[] = "0123456789";

    body_init(&c, BODY_CLOSE, 0, BODY_CHUNKED);
    body_out_reset(&o);
    o.used = BODY_SCRATCH - 20;
    ck_assert_int_eq(body_transcode(&c, data, 10, &o), 0);
    ck_assert_int_eq(o.n, 0);
    ck_assert_uint_eq(o.used, BODY_SCRATCH - 20);
    o.used = BODY_SCRATCH - 30;
    ck_assert_int_eq(body_transcode(&c, data, 10, &o), 10);
    ck_assert_int_eq(o.n, 3);
    ck_assert_uint_eq(o.bytes, 3 + 10 + 2);
    ck_assert_int_eq(body_eof(&c, &o), 0);
    ck_assert_uint_le(o.used, BODY_SCRATCH);
    ck_assert_uint_eq(o.bytes, 3 + 10 + 2 + 5);

    /* The same with the iov array nearly full. */
    body_init(&c, BODY_LENGTH, 10, BODY_CHUNKED);
    preuse(&o, BODY_MAX_IOV - 3);
    ck_assert_int_eq(body_transcode(&c, data, 10, &o), 0);
    ck_assert_int_eq(o.n, BODY_MAX_IOV - 3);
    ck_assert_uint_eq(o.bytes, BODY_MAX_IOV - 3);
    preuse(&o, BODY_MAX_IOV - 4);
    ck_assert_int_eq(body_transcode(&c, data, 10, &o), 10);
    ck_assert(c.done);
    ck_assert_int_le(o.n, BODY_MAX_IOV);
    /* The earlier pieces are untouched and the new ones follow them. */
    ck_assert_ptr_eq(o.iov[BODY_MAX_IOV - 5].iov_base,
                     (char *)o.iov[0].iov_base + BODY_MAX_IOV - 5);
    ck_assert_uint_eq(o.iov[BODY_MAX_IOV - 5].iov_len, 1);
    ck_assert_uint_eq(o.bytes, BODY_MAX_IOV - 4 + 3 + 10 + 2 + 5);
}
END_TEST

/* Feeds a whole chunked message (body then PIPE) to calls whose o arrives
 * with k pieces already used, for every k up to kmax, so the calls stop at
 * every possible place. With the whole message present each input chunk is
 * one output chunk, so the output is byte-exact whatever the stops. */
static void
every_stop_point(const char *msg, size_t mlen, const char *want, size_t wlen, int kmax)
{
    static char got[4096];
    int k, i, calls;

    for (k = 0; k <= kmax; k++) {
        struct body_codec c;
        struct body_out o;
        size_t off = 0, len = 0;

        body_init(&c, BODY_CHUNKED, 0, BODY_CHUNKED);
        for (calls = 0; !c.done && calls < 100; calls++) {
            ssize_t n;

            preuse(&o, k);
            n = body_transcode(&c, msg + off, mlen - off, &o);
            ck_assert_int_ge(n, 0);
            ck_assert(n > 0 || o.n > k || c.done); /* progress on every call */
            ck_assert_int_le(o.n, BODY_MAX_IOV);
            for (i = k; i < o.n; i++) {
                ck_assert_uint_le(len + o.iov[i].iov_len, sizeof(got));
                memcpy(got + len, o.iov[i].iov_base, o.iov[i].iov_len);
                len += o.iov[i].iov_len;
            }
            off += (size_t)n;
        }
        ck_assert(c.done);
        ck_assert_uint_eq(mlen - off, sizeof(PIPE) - 1);
        ck_assert_uint_eq(len, wlen);
        ck_assert_int_eq(memcmp(got, want, len), 0);
        if (k == kmax)
            ck_assert_int_gt(calls, 1);
    }
}

START_TEST(test_every_stop_point)
{
    /* A non-canonical trailer needs 4 pieces plus the reserve. */
    static const char want[] = "5\r\nhello\r\n6\r\n world\r\na\r\n0123456789\r\n0\r\n"
                               "X-Sum: abc\r\nX-Two: spaced out\r\nX-Empty:\r\nX-Blank: \r\n\r\n";
    static const char msg2[] = "5\r\nhello\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n" PIPE;
    static const char want2[] = "5\r\nhello\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n";

    every_stop_point(chunked_msg, sizeof(chunked_msg) - 1, want, sizeof(want) - 1,
                     BODY_MAX_IOV - 5);
    /* A chunk needs 3 pieces plus the reserve. */
    every_stop_point(msg2, sizeof(msg2) - 1, want2, sizeof(want2) - 1, BODY_MAX_IOV - 4);
}
END_TEST

static Suite *
body_suite(void)
{
    Suite *s = suite_create("body");
    TCase *tc = tcase_create("framing");
    TCase *tr = tcase_create("rejects");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_length_to_length);
    tcase_add_test(tc, test_length_to_chunked);
    tcase_add_test(tc, test_length_to_close);
    tcase_add_test(tc, test_close_to_close);
    tcase_add_test(tc, test_close_to_chunked);
    tcase_add_test(tc, test_chunked_to_chunked);
    tcase_add_test(tc, test_chunked_to_close);
    tcase_add_test(tc, test_chunked_minimal);
    tcase_add_test(tc, test_chunked_to_none_discards);
    tcase_add_test(tc, test_length_zero);
    tcase_add_test(tc, test_none);
    tcase_add_test(tc, test_large_length);
    tcase_add_test(tc, test_large_chunk);
    tcase_add_test(tc, test_line_limits);
    tcase_add_test(tc, test_eof);
    tcase_add_test(tc, test_eof_after_full_output);
    tcase_add_test(tc, test_many_small_chunks);
    tcase_add_test(tc, test_zero_copy);
    tcase_add_test(tc, test_incomplete_line_waits);
    tcase_add_test(tc, test_trailer_names);
    tcase_add_test(tc, test_appends_to_used_out);
    tcase_add_test(tc, test_trailers_never_longer);
    tcase_add_test(tc, test_reject_in_one_call);
    tcase_add_test(tc, test_every_stop_point);
    suite_add_tcase(s, tc);
    tcase_set_timeout(tr, 60);
    tcase_add_loop_test(tr, test_rejects, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    suite_add_tcase(s, tr);
    return s;
}

int
main(void)
{
    return tu_run_suite(body_suite());
}
