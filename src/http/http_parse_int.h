/* What the HTTP head parsers share, private to them: byte classes and the
 * word-at-a-time scans over them (inline, asked for on every byte of every
 * head), and the interfaces between the parser files, lowest first:
 * http_target.c (request-targets and hosts), http_fields.c (what the fields
 * mean), and http.c, which runs the strict pass (the one pass the daemon
 * makes over a head) and calls the others. http_check.c, http-parser as an
 * oracle for the tests, uses the same helpers. Not for code outside them. */
#ifndef WARPD_HTTP_PARSE_INT_H
#define WARPD_HTTP_PARSE_INT_H

#include <http_parser.h> /* enum http_method, the values of h->method */
#include <stdint.h>
#include <string.h>

#include "http.h"

/* ---- character classes ---------------------------------------------- */

static inline int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Character classes as tables: they are asked for every byte of every field
 * name and host, so a lookup beats a search. */
#define CC_TCHAR   1 /* tchar of RFC 9110 5.6.2 */
#define CC_REGNAME 2 /* reg-name of RFC 3986: unreserved, sub-delims and '%' */
static const unsigned char cclass[256] = {
    ['0' ... '9'] = CC_TCHAR | CC_REGNAME,
    ['A' ... 'Z'] = CC_TCHAR | CC_REGNAME,
    ['a' ... 'z'] = CC_TCHAR | CC_REGNAME,
    ['!'] = CC_TCHAR | CC_REGNAME,
    ['$'] = CC_TCHAR | CC_REGNAME,
    ['%'] = CC_TCHAR | CC_REGNAME,
    ['&'] = CC_TCHAR | CC_REGNAME,
    ['\''] = CC_TCHAR | CC_REGNAME,
    ['*'] = CC_TCHAR | CC_REGNAME,
    ['+'] = CC_TCHAR | CC_REGNAME,
    ['-'] = CC_TCHAR | CC_REGNAME,
    ['.'] = CC_TCHAR | CC_REGNAME,
    ['_'] = CC_TCHAR | CC_REGNAME,
    ['~'] = CC_TCHAR | CC_REGNAME,
    ['#'] = CC_TCHAR,
    ['^'] = CC_TCHAR,
    ['`'] = CC_TCHAR,
    ['|'] = CC_TCHAR,
    ['('] = CC_REGNAME,
    [')'] = CC_REGNAME,
    [','] = CC_REGNAME,
    [';'] = CC_REGNAME,
    ['='] = CC_REGNAME,
};

static inline int
is_tchar(unsigned char c)
{
    return cclass[c] & CC_TCHAR;
}

/* field-vchar, obs-text, SP and HTAB (RFC 9110 5.5): the bytes a field value
 * may hold, asked for every byte of every value. */
static const unsigned char value_bytes[256] = {
    ['\t'] = 1,
    [' ' ... '~'] = 1,
    [0x80 ... 0xff] = 1,
};

static inline int
is_value_byte(unsigned char c)
{
    return value_bytes[c];
}

/* Loads for looking at several bytes at once: memcpy compiles to a single
 * unaligned load. */
static inline uint16_t
load16(const char *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t
load32(const char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t
load64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Marks the bytes of x below 0x20 or equal to 0x7f (DEL), the ones a value
 * scan must look at: CR, HTAB and the CTLs. Subtracting 0x20 from each byte
 * sets its top bit when the byte was below 0x20 (and had not its own top bit
 * set); a borrow only travels upwards out of a byte that was below, so the
 * lowest mark is always a true one (marks above it may be false). XOR with
 * 0x7f turns DEL into the zero byte, found the same way. */
static inline uint64_t
ctl_marks(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;
    uint64_t del = x ^ (0x7f * ones);

    return (((x - 0x20 * ones) & ~x) | ((del - ones) & ~del)) & tops;
}

/* 8 bytes with the first one in the lowest bits, whatever the byte order. */
static inline uint64_t
load64_first_low(const char *p)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(load64(p));
#else
    return load64(p);
#endif
}

/* The number of value bytes at the start of p[0..n). Values are mostly plain
 * text: eight bytes are judged at once, and the first marked byte of a word
 * is either an HTAB to step over or the end of the value (its CR, or a byte
 * that does not belong). The last few bytes of the buffer go one by one. */
static inline size_t
value_span(const char *p, size_t n)
{
    size_t i = 0;

    while (i + 8 <= n) {
        uint64_t m = ctl_marks(load64_first_low(p + i));

        if (m == 0) {
            i += 8;
            continue;
        }
        i += (size_t)__builtin_ctzll(m) / 8;
        if (p[i] != '\t')
            return i;
        i++;
    }
    for (; i < n; i++)
        if (!is_value_byte((unsigned char)p[i]))
            return i;
    return n;
}

/* Marks the bytes of x that cannot be in a request-target: SP, the CTLs,
 * DEL and everything above. The below-0x21 half works as in ctl_marks;
 * adding 1 sets the top bit of 0x7f, the others above have it already, and
 * a carry only leaves a byte 0xff, itself marked: the lowest mark is exact. */
static inline uint64_t
target_marks(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;

    return (((x - 0x21 * ones) & ~x) | x | (x + ones)) & tops;
}

/* The number of bytes 0x21-0x7e at the start of p[0..n), eight at a time. */
static inline size_t
target_span(const char *p, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t m = target_marks(load64_first_low(p + i));

        if (m != 0)
            return i + (size_t)__builtin_ctzll(m) / 8;
    }
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    return i;
}

static inline int
is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* The number of bytes of class cc (CC_*) at the start of p[0..n). Field
 * names and hosts are asked for on every message: four bytes are judged per
 * step while all four belong, the rest one by one. */
static inline size_t
class_span(const char *p, size_t n, unsigned char cc)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;

    while (i + 4 <= n &&
           (cclass[u[i]] & cclass[u[i + 1]] & cclass[u[i + 2]] & cclass[u[i + 3]] & cc))
        i += 4;
    while (i < n && (cclass[u[i]] & cc))
        i++;
    return i;
}

static inline int
is_token(const char *p, size_t n)
{
    return n > 0 && class_span(p, n, CC_TCHAR) == n;
}

static inline int
caseeq(const char *p, size_t n, const char *lowerword)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (lowerword[i] == '\0' || lower((unsigned char)p[i]) != (unsigned char)lowerword[i])
            return 0;
    return lowerword[n] == '\0';
}

static inline int
slices_caseeq(struct http_slice a, struct http_slice b)
{
    uint32_t i;

    if (a.len != b.len)
        return 0;
    for (i = 0; i < a.len; i++)
        if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
            return 0;
    return 1;
}

static inline struct http_slice
slice(const char *p, size_t n)
{
    struct http_slice s = {p, (uint32_t)n};
    return s;
}

/* ---- http_target.c ---------------------------------------------------- */

/* uri-host [":" port], the host copied without brackets into host
 * (ADDR_HOSTMAX bytes) when given, *port (80 when absent and !need_port)
 * when given. Returns 0 or -1. */
int http_target_hostport(const char *p, size_t n, int need_port, char *host, uint16_t *port);

/* ---- http_fields.c ---------------------------------------------------- */

/* What the fields say about framing and the connection, all lines of a
 * name taken together in order. */
struct http_fsem {
    int n_host, n_cl, n_te, n_upgrade;
    int cl_bad;
    uint64_t cl;
    int te_bad;          /* an empty or non-token coding, or chunked twice */
    int te_chunked_last; /* chunked is the final coding */
    int te_other;        /* a coding besides chunked */
    int conn_bad;        /* a Connection element that is not a token */
    int conn_close, conn_keep_alive, conn_upgrade;
    int conn_names;  /* an element other than keep-alive and upgrade (which only
                      * name fields that are never forwarded anyway) */
    int upgrade_bad; /* an Upgrade element that is not a protocol, or h2c */
    int expect_continue;
    int n_mf, mf_bad, mf_idx; /* Max-Forwards: how many, not 1*DIGIT, the last */
    uint64_t mf;
};

/* Gives every field of h its id, sets h->host_idx and h->via_idx, and
 * collects what the fields say into s. */
void http_fields_collect(struct http_head *h, struct http_fsem *s);
/* Sets the hop flag of every field of h (h->upgrade decided). */
void http_fields_mark_hop(struct http_head *h, const struct http_fsem *s);

#endif
