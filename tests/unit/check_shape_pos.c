/* Unit tests for src/shape/shape_pos.c: the position language and the step
 * words (every marker, offsets, negatives, every error with its exact text,
 * formatting round trips), and the markers of real flights: HTTP heads, and
 * a ClientHello captured from Python's ssl module (OpenSSL 3.0) with
 * server_hostname "www.blocked.example.org". */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "shape.h"
#include "shape_step.h"
#include "tutil.h"

/* 517 bytes: one handshake record; the SNI name at 127, 23 bytes. */
static const unsigned char HELLO[] = {
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x80, 0x84, 0x13, 0x7e, 0x3f,
    0x9a, 0xe3, 0x9d, 0xaa, 0x6c, 0xc4, 0x99, 0xd7, 0x52, 0xcb, 0x1e, 0x10, 0xdc, 0xec, 0x8a, 0x90,
    0x39, 0x79, 0x6e, 0x65, 0x33, 0xd3, 0xf1, 0xb3, 0x05, 0xa8, 0x02, 0x20, 0xd6, 0x6f, 0x29, 0x52,
    0x0e, 0xa5, 0xe2, 0xdb, 0x47, 0x1e, 0xc0, 0x78, 0x92, 0x11, 0x77, 0xc6, 0x55, 0xd6, 0xaf, 0x92,
    0x12, 0x7c, 0x60, 0xe8, 0x31, 0x24, 0x36, 0x56, 0x7f, 0xdc, 0x99, 0x5c, 0x00, 0x24, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0xc0, 0x2b, 0xc0, 0x2f, 0xcc, 0xa9, 0xcc, 0xa8,
    0xc0, 0x24, 0xc0, 0x28, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x9f, 0x00, 0x9e, 0x00, 0x6b, 0x00, 0x67,
    0x00, 0xff, 0x01, 0x00, 0x01, 0x8f, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x1a, 0x00, 0x00, 0x17, 0x77,
    0x77, 0x77, 0x2e, 0x62, 0x6c, 0x6f, 0x63, 0x6b, 0x65, 0x64, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70,
    0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a,
    0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00,
    0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00,
    0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03,
    0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06,
    0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02,
    0x06, 0x02, 0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03, 0x00, 0x2d, 0x00, 0x02, 0x01,
    0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0xbd, 0x22, 0xee, 0x39, 0x3f,
    0x91, 0x89, 0xf9, 0x60, 0xd2, 0x82, 0x87, 0x9e, 0x2d, 0x3b, 0x3b, 0x0b, 0x31, 0x42, 0xc2, 0x63,
    0xe2, 0x5d, 0x08, 0x6f, 0xab, 0xd3, 0xe1, 0x3c, 0x22, 0x06, 0x12, 0x00, 0x15, 0x00, 0xd6, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00,
};
#define HELLO_NAME 127

static void
pos_ok(const char *text, int mark, int32_t off)
{
    struct shape_pos p;
    char err[128] = "";

    ck_assert_msg(shape_pos_parse(text, strlen(text), &p, err, sizeof(err)) == 0, "%s: %s", text,
                  err);
    ck_assert_msg(p.mark == mark && p.off == off, "%s: mark %d off %d", text, p.mark, (int)p.off);
}

static void
pos_err(const char *text, const char *want)
{
    struct shape_pos p;
    char err[128] = "";

    ck_assert_int_eq(shape_pos_parse(text, strlen(text), &p, err, sizeof(err)), -1);
    ck_assert_str_eq(err, want);
}

static void
step_err(const char *word, const char *want)
{
    struct shape_step st;
    char err[128] = "";

    ck_assert_int_eq(shape_step_parse(word, &st, err, sizeof(err)), -1);
    ck_assert_str_eq(err, want);
}

/* word parses, formats as want, and want parses to the same step. */
static void
step_fmt(const char *word, const char *want)
{
    struct shape_step a, b;
    char err[128] = "", out[256];

    memset(&a, 0x5a, sizeof(a));
    ck_assert_msg(shape_step_parse(word, &a, err, sizeof(err)) == 0, "%s: %s", word, err);
    shape_step_format(&a, out, sizeof(out));
    ck_assert_str_eq(out, want);
    memset(&b, 0xa5, sizeof(b));
    ck_assert_int_eq(shape_step_parse(out, &b, err, sizeof(err)), 0);
    ck_assert_mem_eq(&a, &b, sizeof(a));
}

START_TEST(test_pos_markers)
{
    pos_ok("host", SHAPE_MARK_HOST, 0);
    pos_ok("sni", SHAPE_MARK_HOST, 0);
    pos_ok("endhost", SHAPE_MARK_ENDHOST, 0);
    pos_ok("sld", SHAPE_MARK_SLD, 0);
    pos_ok("midsld", SHAPE_MARK_MIDSLD, 0);
    pos_ok("method", SHAPE_MARK_METHOD, 0);
    pos_ok("eoh", SHAPE_MARK_EOH, 0);
}
END_TEST

START_TEST(test_pos_offsets)
{
    pos_ok("1", SHAPE_MARK_ABS, 1);
    pos_ok("517", SHAPE_MARK_ABS, 517);
    pos_ok("-1", SHAPE_MARK_ABS, -1);
    pos_ok("-65535", SHAPE_MARK_ABS, -65535);
    pos_ok("65535", SHAPE_MARK_ABS, 65535);
    pos_ok("007", SHAPE_MARK_ABS, 7);
    pos_ok("host+1", SHAPE_MARK_HOST, 1);
    pos_ok("sni+2", SHAPE_MARK_HOST, 2);
    pos_ok("host-3", SHAPE_MARK_HOST, -3);
    pos_ok("endhost-1", SHAPE_MARK_ENDHOST, -1);
    pos_ok("midsld+65535", SHAPE_MARK_MIDSLD, 65535);
    pos_ok("sld-65535", SHAPE_MARK_SLD, -65535);
    pos_ok("method+0", SHAPE_MARK_METHOD, 0);
    pos_ok("eoh-2", SHAPE_MARK_EOH, -2);
    {
        /* only len bytes are read: the rest of the buffer is not the position */
        struct shape_pos p;
        char err[64];

        ck_assert_int_eq(shape_pos_parse("host+12,5", 6, &p, err, sizeof(err)), 0);
        ck_assert_int_eq(p.mark, SHAPE_MARK_HOST);
        ck_assert_int_eq(p.off, 1);
    }
}
END_TEST

START_TEST(test_pos_errors)
{
    pos_err("", "empty position");
    pos_err("host+x", "position 'host+x': expected a number after '+'");
    pos_err("host-", "position 'host-': expected a number after '-'");
    pos_err("-", "position '-': expected a number after '-'");
    pos_err("-x", "position '-x': expected a number after '-'");
    pos_err("0", "position '0': a cut at 0 cuts nothing");
    pos_err("-0", "position '-0': a cut at 0 cuts nothing");
    pos_err("65536", "position '65536': offset over 65535");
    pos_err("-99999999999999999999", "position '-99999999999999999999': offset over 65535");
    pos_err("host+65536", "position 'host+65536': offset over 65535");
    pos_err("5x", "position '5x': unexpected 'x' after the number");
    pos_err("host+1-1", "position 'host+1-1': unexpected '-1' after the number");
    pos_err("host*2", "position 'host*2': expected '+' or '-' after 'host'");
    pos_err("sni 1", "position 'sni 1': expected '+' or '-' after 'sni'");
    pos_err("hots+1", "position 'hots+1': unknown marker 'hots'");
    pos_err("HOST", "position 'HOST': unknown marker 'HOST'");
    pos_err("+1", "position '+1': expected a number or a marker");
    pos_err(" 1", "position ' 1': expected a number or a marker");
    pos_err("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "position 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': unknown marker "
            "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'");
    {
        /* a short err buffer is cut, NUL-terminated */
        struct shape_pos p;
        char err[8];

        memset(err, 'z', sizeof(err));
        ck_assert_int_eq(shape_pos_parse("host+x", 6, &p, err, sizeof(err)), -1);
        ck_assert_str_eq(err, "positio");
    }
}
END_TEST

START_TEST(test_step_kinds)
{
    static const struct {
        const char *word;
        int kind, npos, arg;
    } t[] = {
        {"split:1", STEP_SPLIT, 1, 0},
        {"disorder:sni+1", STEP_DISORDER, 1, 0},
        {"fake:-1", STEP_FAKE, 1, 0},
        {"oob:host,endhost", STEP_OOB, 2, 0},
        {"disoob:midsld", STEP_DISOOB, 1, 0},
        {"tlsrec:sni,sni+2,eoh-1", STEP_TLSREC, 3, 0},
        {"tlsminor:0", STEP_TLSMINOR, 0, 0},
        {"tlsminor:255", STEP_TLSMINOR, 0, 255},
        {"hostcase", STEP_HOSTCASE, 0, 0},
        {"domcase", STEP_DOMCASE, 0, 0},
        {"hostdot", STEP_HOSTDOT, 0, 0},
        {"hosttab", STEP_HOSTTAB, 0, 0},
        {"nospace", STEP_NOSPACE, 0, 0},
        {"methodspace", STEP_METHODSPACE, 0, 0},
        {"pad:1", STEP_PAD, 0, 1},
        {"pad:16384", STEP_PAD, 0, SHAPE_PAD_MAX},
        {"warp", STEP_WARP, 0, 0},
        {"split:1,2,3,4,5,6,7,8", STEP_SPLIT, 8, 0},
    };
    struct shape_step st;
    char err[128];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        memset(&st, 0x77, sizeof(st));
        ck_assert_msg(shape_step_parse(t[i].word, &st, err, sizeof(err)) == 0, "%s: %s", t[i].word,
                      err);
        ck_assert_int_eq(st.kind, t[i].kind);
        ck_assert_int_eq(st.npos, t[i].npos);
        ck_assert_int_eq(st.arg, t[i].arg);
        for (int k = t[i].npos; k < SHAPE_STEP_POS; k++)
            ck_assert(st.pos[k].mark == 0 && st.pos[k].off == 0);
    }
    ck_assert_int_eq(shape_step_parse("oob:host-1,endhost+2", &st, err, sizeof(err)), 0);
    ck_assert(st.pos[0].mark == SHAPE_MARK_HOST && st.pos[0].off == -1);
    ck_assert(st.pos[1].mark == SHAPE_MARK_ENDHOST && st.pos[1].off == 2);
}
END_TEST

START_TEST(test_step_errors)
{
    step_err("", "empty step");
    step_err(":1", "expected a step name before ':'");
    step_err("foo", "unknown step 'foo'");
    step_err("foo:host+1", "unknown step 'foo'");
    step_err("Split:1", "unknown step 'Split'");
    step_err("splitx:1", "unknown step 'splitx'");
    step_err("split", "'split' needs positions (split:P[,P...])");
    step_err("disorder:", "'disorder' needs positions (disorder:P[,P...])");
    step_err("split:1,,2", "empty position in 'split:1,,2'");
    step_err("split:1,", "empty position in 'split:1,'");
    step_err("split:,1", "empty position in 'split:,1'");
    step_err("split:1,2,3,4,5,6,7,8,9", "too many positions (at most 8)");
    step_err("fake:host+x", "position 'host+x': expected a number after '+'");
    step_err("oob:1,bogus", "position 'bogus': unknown marker 'bogus'");
    step_err("tlsrec:0", "position '0': a cut at 0 cuts nothing");
    step_err("tlsminor", "tlsminor needs a number 0-255");
    step_err("tlsminor:", "tlsminor needs a number 0-255");
    step_err("tlsminor:256", "tlsminor needs a number 0-255");
    step_err("tlsminor:-1", "tlsminor needs a number 0-255");
    step_err("tlsminor:1x", "tlsminor needs a number 0-255");
    step_err("pad", "pad needs a number of bytes 1-16384");
    step_err("pad:0", "pad needs a number of bytes 1-16384");
    step_err("pad:16385", "pad needs a number of bytes 1-16384");
    step_err("pad:99999999999999999999", "pad needs a number of bytes 1-16384");
    step_err("hostdot:1", "'hostdot' takes no argument");
    step_err("hostcase:", "'hostcase' takes no argument");
    step_err("domcase:x", "'domcase' takes no argument");
    step_err("hosttab:1", "'hosttab' takes no argument");
    step_err("nospace:1", "'nospace' takes no argument");
    step_err("methodspace:1", "'methodspace' takes no argument");
    step_err("warp:1", "'warp' takes no argument");
}
END_TEST

START_TEST(test_step_format)
{
    step_fmt("split:1", "split:1");
    step_fmt("split:host+1,-1,sni-2,midsld,endhost+3,method+2,eoh,sld",
             "split:host+1,-1,host-2,midsld,endhost+3,method+2,eoh,sld");
    step_fmt("disorder:sni+1", "disorder:host+1");
    step_fmt("fake:-1", "fake:-1");
    step_fmt("oob:host+0", "oob:host");
    step_fmt("disoob:007", "disoob:7");
    step_fmt("tlsrec:sni,eoh-5", "tlsrec:host,eoh-5");
    step_fmt("tlsminor:4", "tlsminor:4");
    step_fmt("pad:4096", "pad:4096");
    step_fmt("hostcase", "hostcase");
    step_fmt("domcase", "domcase");
    step_fmt("hostdot", "hostdot");
    step_fmt("hosttab", "hosttab");
    step_fmt("nospace", "nospace");
    step_fmt("methodspace", "methodspace");
    step_fmt("warp", "warp");
    step_fmt("split:midsld+65535,-65535,endhost-65535,1,2,3,4,5",
             "split:midsld+65535,-65535,endhost-65535,1,2,3,4,5");
}
END_TEST

/* Every marker with offsets from the bounds and around 0: format, parse back. */
START_TEST(test_pos_round_trip)
{
    static const int32_t offs[] = {-65535, -1000, -2, -1, 0, 1, 2, 9, 10, 65535};
    char text[32], err[128];

    for (int mark = SHAPE_MARK_ABS; mark <= SHAPE_MARK_EOH; mark++) {
        for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
            struct shape_pos p = {(int8_t)mark, offs[i]}, q;

            if (mark == SHAPE_MARK_ABS && offs[i] == 0)
                continue;
            shape_pos_format(&p, text, sizeof(text));
            ck_assert_msg(shape_pos_parse(text, strlen(text), &q, err, sizeof(err)) == 0, "%s: %s",
                          text, err);
            ck_assert_msg(q.mark == p.mark && q.off == p.off, "%s", text);
        }
    }
    {
        struct shape_pos p = {SHAPE_MARK_MIDSLD, -65535};

        shape_pos_format(&p, text, sizeof(text));
        ck_assert_str_eq(text, "midsld-65535");
        shape_pos_format(&p, text, 5); /* cut, NUL-terminated */
        ck_assert_str_eq(text, "mids");
    }
}
END_TEST

/* ---- markers -------------------------------------------------------- */

static size_t
mark_of(const struct shape_marks *m, int mark)
{
    return m->at[mark];
}

#define AT(m, k) mark_of(&(m), SHAPE_MARK_##k)

static int
marks(const char *s, struct shape_marks *m)
{
    return shape_pos_marks(s, strlen(s), m);
}

START_TEST(test_marks_http)
{
    static const char head[] = "POST /form HTTP/1.1\r\n"
                               "User-Agent: x\r\n"
                               "Host: www.blocked.example.org:8080\r\n"
                               "Content-Length: 3\r\n"
                               "\r\n"
                               "abc";
    struct shape_marks m;
    size_t v = strstr(head, "www.") - head;

    ck_assert_int_eq(marks(head, &m), SHAPE_FLIGHT_HTTP);
    ck_assert_uint_eq(m.len, sizeof(head) - 1);
    ck_assert_uint_eq(AT(m, METHOD), 0);
    ck_assert_uint_eq(m.method_end, 4);
    ck_assert_uint_eq(m.rl_end, 21);
    ck_assert_uint_eq(m.field_off, 36);
    ck_assert_uint_eq(m.colon, 40);
    ck_assert_uint_eq(AT(m, HOST), v);
    ck_assert_uint_eq(v, 42);
    ck_assert_uint_eq(AT(m, ENDHOST), v + 23); /* before ":8080" */
    ck_assert_uint_eq(m.value_end, v + 28);
    ck_assert_uint_eq(AT(m, SLD), v + 12); /* "example" */
    ck_assert_uint_eq(AT(m, MIDSLD), v + 12 + 3);
    ck_assert_uint_eq(AT(m, EOH), sizeof(head) - 1 - 3);
}
END_TEST

/* The name's labels: one label, two, a trailing dot, an IPv6 literal, tabs
 * and trailing whitespace, a lowercase field name. */
START_TEST(test_marks_http_names)
{
    static const struct {
        const char *host_line;
        size_t host, endhost, sld, midsld;
    } t[] = {
        /* offsets from the start of the value */
        {"Host: localhost\r\n", 0, 9, 0, 4},     {"Host: example.com\r\n", 0, 11, 0, 3},
        {"Host: example.com.\r\n", 0, 12, 0, 3}, {"Host: www.example.com.:81\r\n", 0, 16, 4, 7},
        {"host:\t a.b.c.d  \r\n", 0, 7, 4, 4},   {"HOST:ab\r\n", 0, 2, 0, 1},
        {"Host: [::1]:8080\r\n", 0, 5, 0, 2},    {"Host: [::1]\r\n", 0, 5, 0, 2},
        {"Host: 10.1.2.3\r\n", 0, 8, 5, 5},      {"Host: x.org:\r\n", 0, 5, 0, 0},
        {"Host: a:b\r\n", 0, 3, 0, 1},
    };
    char head[256];
    struct shape_marks m;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *colon = strchr(t[i].host_line, ':');
        size_t v = 16 + (size_t)(colon - t[i].host_line) + 1;

        while (t[i].host_line[v - 16] == ' ' || t[i].host_line[v - 16] == '\t')
            v++;
        snprintf(head, sizeof(head), "GET / HTTP/1.1\r\n%s\r\n", t[i].host_line);
        ck_assert_int_eq(marks(head, &m), SHAPE_FLIGHT_HTTP);
        ck_assert_msg(AT(m, HOST) == v + t[i].host && AT(m, ENDHOST) == v + t[i].endhost &&
                          AT(m, SLD) == v + t[i].sld && AT(m, MIDSLD) == v + t[i].midsld,
                      "%s: %zu %zu %zu %zu", t[i].host_line, AT(m, HOST) - v, AT(m, ENDHOST) - v,
                      AT(m, SLD) - v, AT(m, MIDSLD) - v);
        ck_assert_uint_eq(AT(m, EOH), strlen(head));
    }
}
END_TEST

/* No single, non-empty Host: the name's markers are absent, the others not;
 * not a complete head, or not HTTP/1.x: no marker at all. */
START_TEST(test_marks_http_absent)
{
    static const char *no_host[] = {
        "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost:  \r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
    };
    static const char *other[] = {
        "",
        "GET / HTTP/1.1\r\nHost: a\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\r",
        "GET / HTTP/2\r\nHost: a\r\n\r\n",
        "GET /\r\nHost: a\r\n\r\n",
        "GET HTTP/1.1\r\nHost: a\r\n\r\n",
        " / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon\r\n\r\n",
        "\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n",
    };
    struct shape_marks m;

    for (size_t i = 0; i < sizeof(no_host) / sizeof(no_host[0]); i++) {
        ck_assert_int_eq(marks(no_host[i], &m), SHAPE_FLIGHT_HTTP);
        ck_assert_uint_eq(AT(m, HOST), SHAPE_NOMARK);
        ck_assert_uint_eq(AT(m, ENDHOST), SHAPE_NOMARK);
        ck_assert_uint_eq(AT(m, SLD), SHAPE_NOMARK);
        ck_assert_uint_eq(AT(m, MIDSLD), SHAPE_NOMARK);
        ck_assert_uint_eq(m.field_off, SHAPE_NOMARK);
        ck_assert_uint_eq(AT(m, METHOD), 0);
        ck_assert_uint_eq(AT(m, EOH), strlen(no_host[i]));
    }
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        ck_assert_msg(marks(other[i], &m) == SHAPE_FLIGHT_OTHER, "%s", other[i]);
        for (int k = SHAPE_MARK_HOST; k <= SHAPE_MARK_EOH; k++)
            ck_assert_uint_eq(m.at[k], SHAPE_NOMARK);
    }
}
END_TEST

START_TEST(test_marks_tls)
{
    struct shape_marks m;

    ck_assert_int_eq(shape_pos_marks((const char *)HELLO, sizeof(HELLO), &m), SHAPE_FLIGHT_TLS);
    ck_assert_mem_eq(HELLO + HELLO_NAME, "www.blocked.example.org", 23);
    ck_assert_uint_eq(AT(m, HOST), HELLO_NAME);
    ck_assert_uint_eq(AT(m, ENDHOST), HELLO_NAME + 23);
    ck_assert_uint_eq(AT(m, SLD), HELLO_NAME + 12);
    ck_assert_uint_eq(AT(m, MIDSLD), HELLO_NAME + 15);
    ck_assert_uint_eq(AT(m, EOH), 517);
    ck_assert_uint_eq(AT(m, METHOD), SHAPE_NOMARK);
    /* more bytes after the record: eoh stays at its end */
    {
        static unsigned char two[sizeof(HELLO) + 7];

        memcpy(two, HELLO, sizeof(HELLO));
        memcpy(two + sizeof(HELLO), "\x17\x03\x03\x00\x02hi", 7);
        ck_assert_int_eq(shape_pos_marks((const char *)two, sizeof(two), &m), SHAPE_FLIGHT_TLS);
        ck_assert_uint_eq(AT(m, EOH), 517);
        ck_assert_uint_eq(m.len, sizeof(two));
    }
    /* an incomplete record has no marker at all */
    for (size_t n = 0; n < sizeof(HELLO); n += 37) {
        ck_assert_int_eq(shape_pos_marks((const char *)HELLO, n, &m), SHAPE_FLIGHT_OTHER);
        ck_assert_uint_eq(AT(m, EOH), SHAPE_NOMARK);
    }
}
END_TEST

/* A record whose server_name is broken (a name type other than host_name) is
 * still TLS: eoh, and no name. */
START_TEST(test_marks_tls_no_name)
{
    static unsigned char h[sizeof(HELLO)];
    struct shape_marks m;

    memcpy(h, HELLO, sizeof(h));
    h[HELLO_NAME - 3] = 1;
    ck_assert_int_eq(shape_pos_marks((const char *)h, sizeof(h), &m), SHAPE_FLIGHT_TLS);
    ck_assert_uint_eq(AT(m, HOST), SHAPE_NOMARK);
    ck_assert_uint_eq(AT(m, MIDSLD), SHAPE_NOMARK);
    ck_assert_uint_eq(AT(m, EOH), 517);
    /* a zero-length record is not a flight */
    ck_assert_int_eq(shape_pos_marks("\x16\x03\x01\x00\x00", 5, &m), SHAPE_FLIGHT_OTHER);
}
END_TEST

static long
resolve(const char *text, const struct shape_marks *m)
{
    struct shape_pos p;
    char err[128];
    size_t at = 12345;

    ck_assert_msg(shape_pos_parse(text, strlen(text), &p, err, sizeof(err)) == 0, "%s", err);
    if (shape_pos_resolve(&p, m, &at) < 0) {
        ck_assert_uint_eq(at, 12345);
        return -1;
    }
    return (long)at;
}

START_TEST(test_resolve)
{
    static const char head[] = "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
    struct shape_marks m;

    ck_assert_int_eq(marks(head, &m), SHAPE_FLIGHT_HTTP);
    ck_assert_int_eq(resolve("1", &m), 1);
    ck_assert_int_eq(resolve("40", &m), 40);
    ck_assert_int_eq(resolve("41", &m), -1); /* len: not a cut */
    ck_assert_int_eq(resolve("-1", &m), 40);
    ck_assert_int_eq(resolve("-40", &m), 1);
    ck_assert_int_eq(resolve("-41", &m), -1);
    ck_assert_int_eq(resolve("host", &m), 22);
    ck_assert_int_eq(resolve("sni+1", &m), 23);
    ck_assert_int_eq(resolve("host-22", &m), -1);
    ck_assert_int_eq(resolve("host-21", &m), 1);
    ck_assert_int_eq(resolve("endhost", &m), 37);
    ck_assert_int_eq(resolve("sld", &m), 26);
    ck_assert_int_eq(resolve("midsld", &m), 29);
    ck_assert_int_eq(resolve("method", &m), -1); /* 0 */
    ck_assert_int_eq(resolve("method+3", &m), 3);
    ck_assert_int_eq(resolve("eoh", &m), -1); /* the end */
    ck_assert_int_eq(resolve("eoh-2", &m), 39);
    ck_assert_int_eq(resolve("endhost+65535", &m), -1);

    ck_assert_int_eq(shape_pos_marks((const char *)HELLO, sizeof(HELLO), &m), SHAPE_FLIGHT_TLS);
    ck_assert_int_eq(resolve("sni", &m), HELLO_NAME);
    ck_assert_int_eq(resolve("host+1", &m), HELLO_NAME + 1);
    ck_assert_int_eq(resolve("midsld", &m), HELLO_NAME + 15);
    ck_assert_int_eq(resolve("method+1", &m), -1);
    ck_assert_int_eq(resolve("eoh-1", &m), 516);
    ck_assert_int_eq(resolve("-1", &m), 516);

    /* other bytes: only absolute positions */
    ck_assert_int_eq(marks("hello world", &m), SHAPE_FLIGHT_OTHER);
    ck_assert_int_eq(resolve("3", &m), 3);
    ck_assert_int_eq(resolve("-3", &m), 8);
    ck_assert_int_eq(resolve("host", &m), -1);
    ck_assert_int_eq(resolve("eoh-1", &m), -1);
    {
        /* a marker number out of range is absent, not a read out of bounds */
        struct shape_pos p = {99, 0};
        size_t at;

        ck_assert_int_eq(shape_pos_resolve(&p, &m, &at), -1);
        p.mark = -1;
        ck_assert_int_eq(shape_pos_resolve(&p, &m, &at), -1);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shape_pos");
    TCase *lang = tcase_create("language");
    TCase *mk = tcase_create("markers");

    tcase_add_test(lang, test_pos_markers);
    tcase_add_test(lang, test_pos_offsets);
    tcase_add_test(lang, test_pos_errors);
    tcase_add_test(lang, test_step_kinds);
    tcase_add_test(lang, test_step_errors);
    tcase_add_test(lang, test_step_format);
    tcase_add_test(lang, test_pos_round_trip);
    suite_add_tcase(s, lang);
    tcase_add_test(mk, test_marks_http);
    tcase_add_test(mk, test_marks_http_names);
    tcase_add_test(mk, test_marks_http_absent);
    tcase_add_test(mk, test_marks_tls);
    tcase_add_test(mk, test_marks_tls_no_name);
    tcase_add_test(mk, test_resolve);
    suite_add_tcase(s, mk);
    return tu_run_suite(s);
}
