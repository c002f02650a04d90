/* Unit tests for src/net/proxy_header.c: good v1 and v2 headers with the
 * exact addresses they carry, every proper prefix of each waiting for more,
 * the client's bytes after a header left alone, each broken header with its
 * code (and its prefixes never taken), and headers written by
 * proxy_header_build reading back to the same addresses. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "proxy_header.h"
#include "tutil.h"

/* A byte string that may hold NULs, with its length. */
#define B(s) (const unsigned char *)(s), sizeof(s) - 1
#define SIG  "\r\n\r\n\0\r\nQUIT\n"
#define DATA "GET / HTTP/1.1\r\nHost: a\r\n\r\n" /* the client's own first bytes */
#define V2A4                                                                                       \
    "\xc0\x00\x02\x01\xc6\x33\x64\x07\x30\x39\x01\xbb" /* 192.0.2.1:12345 198.51.100.7:443 */
#define V2A6                                                                                       \
    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" /* 2001:db8::1 */                                 \
    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" /* 2001:db8::2 */                                 \
    "\xff\xff\0\0"                               /* ports 65535, 0 */
#define TLVS "\x01\x00\x02h2\x04\x00\x00"        /* ALPN "h2", an empty NOOP */

/* parse on an exact copy of b[0..n), so ASan sees a read past the end. */
static long
parse(const unsigned char *b, size_t n, struct proxy_header *h)
{
    unsigned char *c = malloc(n > 0 ? n : 1);
    long r;

    ck_assert_ptr_nonnull(c);
    memcpy(c, b, n);
    r = proxy_header_parse(c, n, h);
    free(c);
    return r;
}

/* The sockaddr parse must give for "text" (an IP literal) and port. */
static void
assert_addr(const struct sockaddr_storage *ss, socklen_t len, const char *text, unsigned port)
{
    struct sockaddr_storage want;
    socklen_t wlen;

    ck_assert_int_eq(addr_from_literal(text, (uint16_t)port, &want, &wlen), 0);
    ck_assert_int_eq(len, wlen);
    ck_assert_mem_eq(ss, &want, wlen);
}

/* ---- good headers -------------------------------------------------------- */

static const struct {
    const unsigned char *b;
    size_t n;
    int version, local;
    const char *src, *dst; /* NULL when local */
    unsigned sport, dport;
} good[] = {
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n"), 1, 0, "192.0.2.1", "198.51.100.7", 12345,
     443},
    {B("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"), 1, 0, "0.0.0.0", "255.255.255.255", 0,
     65535},
    {B("PROXY TCP6 2001:db8::1 2001:DB8::2 1 80\r\n"), 1, 0, "2001:db8::1", "2001:db8::2", 1, 80},
    {B("PROXY TCP6 ::ffff:192.0.2.1 ::1 40000 8080\r\n"), 1, 0, "::ffff:192.0.2.1", "::1", 40000,
     8080},
    /* The longest TCP6 line (104 bytes), and an UNKNOWN line of the most the
     * spec allows (107 bytes). */
    {B("PROXY UNKNOWN 0123456789012345678901234567890123456789012345678901234567890123456789"
       "012345678901234567890\r\n"),
     1, 1, NULL, NULL, 0, 0},
    {B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
       "65535 65535\r\n"),
     1, 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     65535, 65535},
    {B("PROXY UNKNOWN\r\n"), 1, 1, NULL, NULL, 0, 0},
    {B("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), 1, 1, NULL, NULL, 0, 0},
    {B("PROXY UNKNOWN \x01whatever\x7f\r\n"), 1, 1, NULL, NULL, 0, 0},
    {B(SIG "\x21\x11\x00\x0c" V2A4), 2, 0, "192.0.2.1", "198.51.100.7", 12345, 443},
    {B(SIG "\x21\x11\x00\x14" V2A4 TLVS), 2, 0, "192.0.2.1", "198.51.100.7", 12345, 443},
    {B(SIG "\x21\x21\x00\x24" V2A6), 2, 0, "2001:db8::1", "2001:db8::2", 65535, 0},
    {B(SIG "\x21\x21\x00\x2c" V2A6 TLVS), 2, 0, "2001:db8::1", "2001:db8::2", 65535, 0},
    /* LOCAL: a health check; whatever follows in its length is ignored. */
    {B(SIG "\x20\x00\x00\x00"), 2, 1, NULL, NULL, 0, 0},
    {B(SIG "\x20\x00\x00\x03"
           "abc"),
     2, 1, NULL, NULL, 0, 0},
    {B(SIG "\x20\x11\x00\x0c" V2A4), 2, 1, NULL, NULL, 0, 0},
    {B(SIG "\x20\x31\x00\x01"
           "x"),
     2, 1, NULL, NULL, 0, 0},
};

START_TEST(test_good)
{
    struct proxy_header h;

    memset(&h, 0xa5, sizeof(h));
    ck_assert_int_eq(parse(good[_i].b, good[_i].n, &h), (long)good[_i].n);
    ck_assert_int_eq(h.version, good[_i].version);
    ck_assert_int_eq(h.local, good[_i].local);
    if (good[_i].local) {
        ck_assert_int_eq(h.srclen, 0);
        ck_assert_int_eq(h.dstlen, 0);
        return;
    }
    assert_addr(&h.src, h.srclen, good[_i].src, good[_i].sport);
    assert_addr(&h.dst, h.dstlen, good[_i].dst, good[_i].dport);
}
END_TEST

/* Every proper prefix waits for more, and h is not touched meanwhile. */
START_TEST(test_good_prefixes)
{
    struct proxy_header h, untouched;
    size_t k;

    memset(&untouched, 0x5a, sizeof(untouched));
    for (k = 0; k < good[_i].n; k++) {
        h = untouched;
        ck_assert_msg(parse(good[_i].b, k, &h) == 0, "prefix of %zu bytes of case %d", k, _i);
        ck_assert_mem_eq(&h, &untouched, sizeof(h));
    }
}
END_TEST

/* The client's bytes after the header are not part of it, whatever they are
 * (even the start of another header). */
START_TEST(test_good_then_data)
{
    static const char *const tails[] = {DATA, "PROXY ", SIG, "\r\n", "\n"};
    unsigned char buf[PROXY_HEADER_MAX + 64];
    struct proxy_header h, alone;
    size_t t;

    ck_assert_int_eq(parse(good[_i].b, good[_i].n, &alone), (long)good[_i].n);
    for (t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        memcpy(buf, good[_i].b, good[_i].n);
        memcpy(buf + good[_i].n, tails[t], strlen(tails[t]));
        ck_assert_int_eq(parse(buf, good[_i].n + strlen(tails[t]), &h), (long)good[_i].n);
        ck_assert_int_eq(h.srclen, alone.srclen);
        ck_assert_mem_eq(&h.src, &alone.src, h.srclen);
        ck_assert_mem_eq(&h.dst, &alone.dst, h.dstlen);
    }
}
END_TEST

/* ---- broken headers ------------------------------------------------------ */

static const struct {
    const unsigned char *b;
    size_t n;
    long code;
} bad[] = {
    /* Not a PROXY header at all, refused at the first byte that shows it. */
    {B("GET / HTTP/1.1\r\n"), PROXY_E_SIGNATURE},
    {B("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_E_SIGNATURE},
    {B("PROXY\tTCP4"), PROXY_E_SIGNATURE},
    {B("PROXX"), PROXY_E_SIGNATURE},
    {B("\x05\x01\x00"), PROXY_E_SIGNATURE},
    {B("\r\n\r\n\0\r\nQUIT\r"), PROXY_E_SIGNATURE},
    {B("\r\n\r\nX"), PROXY_E_SIGNATURE},
    /* v1 lines. */
    {B("PROXY TCP4 2001:db8::1 198.51.100.7 1 2\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 65536 443\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 1 100000\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 080 443\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 00 443\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 -1 443\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 +1 443\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 1 443\n"), PROXY_E_MALFORMED}, /* a bare LF */
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 1 443\rX"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 1 443 \r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1  198.51.100.7 1 443\r\n"), PROXY_E_MALFORMED},
    {B("PROXY  TCP4 192.0.2.1 198.51.100.7 1 443\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.1 198.51.100.7 1 2 3\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.01 198.51.100.7 1 2\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2 198.51.100.7 1 2\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 192.0.2.256 198.51.100.7 1 2\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4 localhost"), PROXY_E_MALFORMED},
    {B("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), PROXY_E_MALFORMED},
    {B("PROXY TCP4\r\n"), PROXY_E_MALFORMED},
    {B("PROXY tcp4 192.0.2.1 198.51.100.7 1 2\r\n"), PROXY_E_MALFORMED},
    {B("PROXY UDP4 192.0.2.1 198.51.100.7 1 2\r\n"), PROXY_E_MALFORMED},
    {B("PROXY UNKNOWNX\r\n"), PROXY_E_MALFORMED},
    {B("PROXY UNKNOWN x\ny\r\n"), PROXY_E_MALFORMED},
    {B("PROXY \r\n"), PROXY_E_MALFORMED},
    /* Too long: 108 bytes with the CRLF, and 107 bytes with no end yet. */
    {B("PROXY UNKNOWN 0123456789012345678901234567890123456789012345678901234567890123456789"
       "0123456789012345678901\r\n"),
     PROXY_E_MALFORMED},
    {B("PROXY UNKNOWN 0123456789012345678901234567890123456789012345678901234567890123456789"
       "01234567890123456789012"),
     PROXY_E_MALFORMED},
    {B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ffff:ffff:ffff:ffff:ffff:"
       "ffff:255.255.255.255 65535 65535\r\n"),
     PROXY_E_MALFORMED},
    /* v2: version and command nibbles. */
    {B(SIG "\x11\x11\x00\x0c" V2A4), PROXY_E_MALFORMED}, /* version 1 */
    {B(SIG "\x31\x11\x00\x0c" V2A4), PROXY_E_MALFORMED},
    {B(SIG "\x22\x11\x00\x0c" V2A4), PROXY_E_MALFORMED}, /* command 2 */
    {B(SIG "\x11"), PROXY_E_MALFORMED},                  /* known at the 13th byte */
    /* Families and transports warpd does not take, and undefined ones. */
    {B(SIG "\x21\x31\x00\xd8"), PROXY_E_FAMILY},         /* AF_UNIX stream */
    {B(SIG "\x21\x12\x00\x0c" V2A4), PROXY_E_FAMILY},    /* UDP over IPv4 */
    {B(SIG "\x21\x22\x00\x24" V2A6), PROXY_E_FAMILY},    /* UDP over IPv6 */
    {B(SIG "\x21\x10\x00\x0c" V2A4), PROXY_E_FAMILY},    /* IPv4, transport unspecified */
    {B(SIG "\x21\x00\x00\x00"), PROXY_E_FAMILY},         /* PROXY with AF_UNSPEC */
    {B(SIG "\x21\x41\x00\x0c" V2A4), PROXY_E_MALFORMED}, /* family 4 */
    {B(SIG "\x21\x13\x00\x0c" V2A4), PROXY_E_MALFORMED}, /* transport 3 */
    {B(SIG "\x20\x51\x00\x00"), PROXY_E_MALFORMED},      /* LOCAL, family 5 */
    /* Lengths. */
    {B(SIG "\x21\x11\x00\x0b" V2A4), PROXY_E_MALFORMED}, /* too short for IPv4 */
    {B(SIG "\x21\x21\x00\x0c" V2A4), PROXY_E_MALFORMED}, /* too short for IPv6 */
    {B(SIG "\x21\x21\x00\x00"), PROXY_E_MALFORMED},
    {B(SIG "\x21\x11\x04\x01"), PROXY_E_MALFORMED}, /* 16 + 1025: past PROXY_HEADER_MAX */
    {B(SIG "\x20\x00\xff\xff"), PROXY_E_MALFORMED},
    /* TLVs that do not fill the rest exactly. */
    {B(SIG "\x21\x11\x00\x0d" V2A4 "\x04"), PROXY_E_MALFORMED},
    {B(SIG "\x21\x11\x00\x10" V2A4 "\x01\x00\x02h"), PROXY_E_MALFORMED},
};

START_TEST(test_bad)
{
    struct proxy_header h, untouched;
    unsigned char buf[PROXY_HEADER_MAX + 64];
    size_t k;
    long r;

    memset(&untouched, 0x5a, sizeof(untouched));
    h = untouched;
    r = parse(bad[_i].b, bad[_i].n, &h);
    ck_assert_msg(r == bad[_i].code, "case %d: %ld, not %ld", _i, r, bad[_i].code);
    ck_assert_mem_eq(&h, &untouched, sizeof(h));
    /* No prefix is taken as a header, and more bytes do not mend it. */
    for (k = 0; k < bad[_i].n; k++) {
        r = parse(bad[_i].b, k, &h);
        ck_assert_msg(r == 0 || r == bad[_i].code, "case %d, %zu bytes: %ld", _i, k, r);
    }
    memcpy(buf, bad[_i].b, bad[_i].n);
    memcpy(buf + bad[_i].n, DATA, sizeof(DATA) - 1);
    ck_assert_int_eq(parse(buf, bad[_i].n + sizeof(DATA) - 1, &h), bad[_i].code);
}
END_TEST

/* A v2 header of exactly PROXY_HEADER_MAX bytes (IPv4 and one big TLV) is
 * taken; one byte more is not. */
START_TEST(test_v2_max)
{
    unsigned char buf[PROXY_HEADER_MAX + 1];
    size_t tlv = PROXY_HEADER_MAX - 16 - 12 - 3;
    struct proxy_header h;

    memset(buf, 'x', sizeof(buf));
    memcpy(buf, SIG "\x21\x11", 14);
    buf[14] = (unsigned char)((PROXY_HEADER_MAX - 16) >> 8);
    buf[15] = (unsigned char)(PROXY_HEADER_MAX - 16);
    memcpy(buf + 16, V2A4, 12);
    buf[28] = 0xee;
    buf[29] = (unsigned char)(tlv >> 8);
    buf[30] = (unsigned char)tlv;
    ck_assert_int_eq(parse(buf, PROXY_HEADER_MAX, &h), PROXY_HEADER_MAX);
    assert_addr(&h.src, h.srclen, "192.0.2.1", 12345);
    ck_assert_int_eq(parse(buf, PROXY_HEADER_MAX - 1, &h), 0);
    buf[15]++;
    buf[30]++;
    ck_assert_int_eq(parse(buf, PROXY_HEADER_MAX + 1, &h), PROXY_E_MALFORMED);
}
END_TEST

/* ---- writing ------------------------------------------------------------- */

static const struct {
    int version;
    const char *src, *dst;     /* IP literals */
    unsigned sport, dport;     /* ... with these ports */
    const char *rsrc, *rdst;   /* what reads back (IPv4 mapped when mixed) */
    const unsigned char *want; /* the exact bytes, or NULL */
    size_t wantlen;
} trips[] = {
    {1, "192.0.2.1", "198.51.100.7", 12345, 443, "192.0.2.1", "198.51.100.7",
     B("PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n")},
    {1, "2001:db8::1", "2001:db8::2", 65535, 0, "2001:db8::1", "2001:db8::2",
     B("PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n")},
    {1, "192.0.2.1", "2001:db8::2", 1, 2, "::ffff:192.0.2.1", "2001:db8::2",
     B("PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 2\r\n")},
    {1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "::1", 65535, 65535,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "::1", NULL, 0},
    {2, "192.0.2.1", "198.51.100.7", 12345, 443, "192.0.2.1", "198.51.100.7",
     B(SIG "\x21\x11\x00\x0c" V2A4)},
    {2, "2001:db8::1", "2001:db8::2", 65535, 0, "2001:db8::1", "2001:db8::2",
     B(SIG "\x21\x21\x00\x24" V2A6)},
    {2, "2001:db8::1", "198.51.100.7", 7, 8, "2001:db8::1", "::ffff:198.51.100.7", NULL, 0},
    {2, "::", "0.0.0.0", 0, 0, "::", "::ffff:0.0.0.0", NULL, 0},
};

START_TEST(test_round_trip)
{
    struct sockaddr_storage src, dst;
    socklen_t len;
    unsigned char out[PROXY_HEADER_MAX];
    struct proxy_header h;
    size_t n, cap;

    ck_assert_int_eq(addr_from_literal(trips[_i].src, (uint16_t)trips[_i].sport, &src, &len), 0);
    ck_assert_int_eq(addr_from_literal(trips[_i].dst, (uint16_t)trips[_i].dport, &dst, &len), 0);
    n = proxy_header_build(out, sizeof(out), trips[_i].version, (struct sockaddr *)&src,
                           (struct sockaddr *)&dst);
    ck_assert_uint_gt(n, 0);
    if (trips[_i].want != NULL) {
        ck_assert_uint_eq(n, trips[_i].wantlen);
        ck_assert_mem_eq(out, trips[_i].want, n);
    }
    ck_assert_int_eq(parse(out, n, &h), (long)n);
    ck_assert_int_eq(h.version, trips[_i].version);
    ck_assert_int_eq(h.local, 0);
    assert_addr(&h.src, h.srclen, trips[_i].rsrc, trips[_i].sport);
    assert_addr(&h.dst, h.dstlen, trips[_i].rdst, trips[_i].dport);
    /* Too small a buffer: 0, and nothing past cap is written. */
    for (cap = 0; cap < n; cap++) {
        memset(out, 0xa5, sizeof(out));
        ck_assert_uint_eq(proxy_header_build(out, cap, trips[_i].version, (struct sockaddr *)&src,
                                             (struct sockaddr *)&dst),
                          0);
        ck_assert_int_eq(out[cap], 0xa5);
    }
    ck_assert_uint_eq(proxy_header_build(out, n, trips[_i].version, (struct sockaddr *)&src,
                                         (struct sockaddr *)&dst),
                      n);
}
END_TEST

/* Addresses that are not IP: v1 says UNKNOWN, v2 PROXY with AF_UNSPEC (which
 * warpd itself does not take); a version other than 1 or 2 writes nothing. */
START_TEST(test_build_unknown)
{
    struct sockaddr_un un;
    struct sockaddr_storage ip;
    socklen_t len;
    unsigned char out[PROXY_HEADER_MAX];
    struct proxy_header h;

    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    ck_assert_int_eq(addr_from_literal("192.0.2.1", 80, &ip, &len), 0);
    ck_assert_uint_eq(
        proxy_header_build(out, sizeof(out), 1, (struct sockaddr *)&un, (struct sockaddr *)&ip),
        15);
    ck_assert_mem_eq(out, "PROXY UNKNOWN\r\n", 15);
    ck_assert_int_eq(parse(out, 15, &h), 15);
    ck_assert_int_eq(h.local, 1);
    ck_assert_uint_eq(proxy_header_build(out, sizeof(out), 2, (struct sockaddr *)&ip, NULL), 16);
    ck_assert_mem_eq(out, SIG "\x21\x00\x00\x00", 16);
    ck_assert_int_eq(parse(out, 16, &h), PROXY_E_FAMILY);
    ck_assert_uint_eq(
        proxy_header_build(out, sizeof(out), 3, (struct sockaddr *)&ip, (struct sockaddr *)&ip), 0);
    ck_assert_uint_eq(
        proxy_header_build(out, sizeof(out), 0, (struct sockaddr *)&ip, (struct sockaddr *)&ip), 0);
}
END_TEST

static Suite *
proxy_header_suite(void)
{
    Suite *s = suite_create("proxy_header");
    TCase *tc = tcase_create("proxy_header");
    int ngood = (int)(sizeof(good) / sizeof(good[0]));

    tcase_add_loop_test(tc, test_good, 0, ngood);
    tcase_add_loop_test(tc, test_good_prefixes, 0, ngood);
    tcase_add_loop_test(tc, test_good_then_data, 0, ngood);
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_v2_max);
    tcase_add_loop_test(tc, test_round_trip, 0, (int)(sizeof(trips) / sizeof(trips[0])));
    tcase_add_test(tc, test_build_unknown);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(proxy_header_suite());
}
