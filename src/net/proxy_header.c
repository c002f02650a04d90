/* The PROXY protocol header, v1 and v2, as bytes in and bytes out. Parsing
 * is resumable by being cheap: the caller hands in everything received so
 * far, and a prefix is judged as far as it goes, so a broken header is
 * refused as soon as its bytes show it and a good one waits for its end.
 * Addresses go through addr_parse_ip, the program's one IP-literal parser. */
#include "proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

#define V1_PREFIX    "PROXY "
#define V1_PREFIXLEN 6
#define V2_SIGLEN    12
#define V2_FIXED     16 /* signature, version/command, family/transport, length */
#define V2_LOCAL     0x0
#define V2_PROXY     0x1
#define V2_TCP4      0x11 /* AF_INET, STREAM */
#define V2_TCP6      0x21 /* AF_INET6, STREAM */
#define V2_UNSPEC    0x00
#define V2_BLOCK4    12 /* two IPv4 addresses and two ports */
#define V2_BLOCK6    36 /* two IPv6 addresses and two ports */
#define V1_PORTMAX   5  /* digits of 65535 */

static const unsigned char v2_sig[V2_SIGLEN] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* ---- v1 ------------------------------------------------------------------ */

/* Whether s[0..n) may be the start of a v1 field (0-1 addresses, 2-3 ports)
 * that has not ended yet: the right characters, not too many of them, and no
 * leading zero in a port. */
static int
v1_field_partial(int f, const char *s, size_t n, int family)
{
    size_t i;

    if (n > (f >= 2 ? V1_PORTMAX : family == AF_INET ? INET_ADDRSTRLEN - 1 : INET6_ADDRSTRLEN - 1))
        return 0;
    if (f >= 2 && n > 1 && s[0] == '0')
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c >= '0' && c <= '9')
            continue;
        if (f >= 2 || (c != '.' && family == AF_INET))
            return 0;
        if (c != '.' && c != ':' && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F'))
            return 0;
    }
    return 1;
}

/* Reads a whole v1 field s[0..n): field 0 or 1 an address of family into ip,
 * 2 or 3 a port without leading zeros into *port. 0 or -1. */
static int
v1_field(int f, const char *s, size_t n, int family, unsigned char *ip, uint16_t *port)
{
    if (f < 2)
        return addr_parse_ip(s, n, family, ip) == family ? 0 : -1;
    if (n > V1_PORTMAX || (n > 1 && s[0] == '0'))
        return -1;
    return addr_parse_port(s, n, 1, port) == 0 ? 0 : -1;
}

/* The fields of a TCP4/TCP6 line, s[0..n) after the word and its space:
 * "SRC DST SPORT DPORT". done: the line ends at n. Otherwise s is what has
 * arrived so far: the fields already followed by a space are read in full,
 * the last one is judged as a start. 1 for a good line (h filled), 0 for a
 * good start, PROXY_E_MALFORMED. */
static int
v1_tcp(const char *s, size_t n, int family, int done, struct proxy_header *h)
{
    unsigned char ip[2][16];
    uint16_t port[2] = {0, 0};
    size_t start = 0, i;
    int f = 0;

    for (i = 0; i <= n; i++) {
        if (i < n && s[i] != ' ')
            continue;
        if (i == n && !done)
            return f < 4 && v1_field_partial(f, s + start, n - start, family) ? 0
                                                                              : PROXY_E_MALFORMED;
        if (f >= 4 || v1_field(f, s + start, i - start, family, ip[f & 1], &port[f & 1]) < 0)
            return PROXY_E_MALFORMED;
        f++;
        start = i + 1;
    }
    if (f != 4)
        return PROXY_E_MALFORMED;
    h->srclen = addr_set(&h->src, family, ip[0], port[0]);
    h->dstlen = addr_set(&h->dst, family, ip[1], port[1]);
    return 1;
}

/* The line after "PROXY ", s[0..n), done or not (as for v1_tcp). */
static int
v1_line(const char *s, size_t n, int done, struct proxy_header *h)
{
    static const char *const words[] = {"TCP4", "TCP6", "UNKNOWN"};
    const char *sp = memchr(s, ' ', n);
    size_t w = sp != NULL ? (size_t)(sp - s) : n, i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t wl = strlen(words[i]);

        if (sp == NULL && !done && n <= wl && memcmp(s, words[i], n) == 0)
            return 0; /* the word is still arriving */
        if (w == wl && memcmp(s, words[i], wl) == 0)
            break;
    }
    if (i == 2) { /* UNKNOWN: anything may follow, up to the CRLF */
        h->local = 1;
        return done;
    }
    if (i > 2 || sp == NULL)
        return PROXY_E_MALFORMED;
    return v1_tcp(s + w + 1, n - w - 1, i == 0 ? AF_INET : AF_INET6, done, h);
}

/* b[0..len) starts with "PROXY ". */
static long
v1_parse(const unsigned char *b, size_t len, struct proxy_header *h)
{
    size_t lim = len < PROXY_V1_MAX ? len : PROXY_V1_MAX, i;
    const char *line = (const char *)b + V1_PREFIXLEN;
    int r;

    h->version = 1;
    for (i = V1_PREFIXLEN; i < lim; i++)
        if (b[i] == '\r' || b[i] == '\n')
            break;
    if (i == lim) /* no end yet: too long, or judge the start */
        return len >= PROXY_V1_MAX ? PROXY_E_MALFORMED : v1_line(line, i - V1_PREFIXLEN, 0, h);
    if (b[i] == '\n' || i + 2 > PROXY_V1_MAX || (i + 1 < len && b[i + 1] != '\n'))
        return PROXY_E_MALFORMED; /* a bare LF, no room for the LF, or CR then something else */
    r = v1_line(line, i - V1_PREFIXLEN, 1, h);
    if (r < 0)
        return r;
    return i + 1 < len ? (long)(i + 2) : 0; /* a good line waiting for its LF */
}

/* ---- v2 ------------------------------------------------------------------ */

/* The TLVs in b[0..n) are whole: each a type, a 16-bit length and that many
 * bytes, the last ending at n. */
static int
v2_tlvs_ok(const unsigned char *b, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (n - i < 3 || n - i - 3 < ((size_t)b[i + 1] << 8 | b[i + 2]))
            return 0;
        i += 3 + ((size_t)b[i + 1] << 8 | b[i + 2]);
    }
    return 1;
}

/* b[0..len) starts with the v2 signature and has at least 13 bytes. */
static long
v2_parse(const unsigned char *b, size_t len, struct proxy_header *h)
{
    unsigned cmd = b[12] & 0x0f, fam, need;
    size_t total;

    h->version = 2;
    if (b[12] >> 4 != 2 || cmd > V2_PROXY)
        return PROXY_E_MALFORMED;
    if (len < 14)
        return 0;
    fam = b[13];
    if (fam >> 4 > 3 ||
        (fam & 0x0f) > 2) /* neither UNSPEC/INET/INET6/UNIX nor UNSPEC/STREAM/DGRAM */
        return PROXY_E_MALFORMED;
    if (cmd == V2_PROXY && fam != V2_TCP4 && fam != V2_TCP6)
        return PROXY_E_FAMILY;
    if (len < V2_FIXED)
        return 0;
    total = V2_FIXED + ((size_t)b[14] << 8 | b[15]);
    need = cmd == V2_LOCAL ? 0 : fam == V2_TCP4 ? V2_BLOCK4 : V2_BLOCK6;
    if (total > PROXY_HEADER_MAX || total < V2_FIXED + need)
        return PROXY_E_MALFORMED;
    if (len < total)
        return 0;
    if (cmd == V2_LOCAL) {
        h->local = 1; /* a balancer's own connection (a health check): nothing to read */
        return (long)total;
    }
    if (!v2_tlvs_ok(b + V2_FIXED + need, total - V2_FIXED - need))
        return PROXY_E_MALFORMED;
    if (fam == V2_TCP4) {
        h->srclen = addr_set(&h->src, AF_INET, b + 16, (uint16_t)(b[24] << 8 | b[25]));
        h->dstlen = addr_set(&h->dst, AF_INET, b + 20, (uint16_t)(b[26] << 8 | b[27]));
    } else {
        h->srclen = addr_set(&h->src, AF_INET6, b + 16, (uint16_t)(b[48] << 8 | b[49]));
        h->dstlen = addr_set(&h->dst, AF_INET6, b + 32, (uint16_t)(b[50] << 8 | b[51]));
    }
    return (long)total;
}

long
proxy_header_parse(const unsigned char *b, size_t len, struct proxy_header *h)
{
    struct proxy_header t;
    long r;

    if (len == 0)
        return 0;
    memset(&t, 0, sizeof(t));
    if (b[0] == V1_PREFIX[0]) {
        if (memcmp(b, V1_PREFIX, len < V1_PREFIXLEN ? len : V1_PREFIXLEN) != 0)
            return PROXY_E_SIGNATURE;
        if (len < V1_PREFIXLEN)
            return 0;
        r = v1_parse(b, len, &t);
    } else {
        if (memcmp(b, v2_sig, len < V2_SIGLEN ? len : V2_SIGLEN) != 0)
            return PROXY_E_SIGNATURE;
        if (len <= V2_SIGLEN)
            return 0;
        r = v2_parse(b, len, &t);
    }
    if (r > 0)
        *h = t;
    return r;
}

/* ---- writing ------------------------------------------------------------- */

/* The 16 address bytes of sa (IPv4 mapped into IPv6) and its port; 0 or -1
 * for anything but AF_INET and AF_INET6. */
static int
ip6_of(const struct sockaddr *sa, unsigned char *ip, uint16_t *port)
{
    if (sa == NULL)
        return -1;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

        memcpy(ip, &sin6->sin6_addr, 16);
        *port = ntohs(sin6->sin6_port);
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

        memcpy(ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
        memcpy(ip + 12, &sin->sin_addr, 4);
        *port = ntohs(sin->sin_port);
        return 0;
    }
    return -1;
}

size_t
proxy_header_build(unsigned char *out, size_t cap, int version, const struct sockaddr *src,
                   const struct sockaddr *dst)
{
    unsigned char buf[V2_FIXED + V2_BLOCK6], ip[2][16];
    char text[2][INET6_ADDRSTRLEN], line[PROXY_V1_MAX + 1];
    uint16_t port[2];
    int known = ip6_of(src, ip[0], &port[0]) == 0 && ip6_of(dst, ip[1], &port[1]) == 0;
    int v4 = known && src->sa_family == AF_INET && dst->sa_family == AF_INET;
    size_t n, a = v4 ? 4 : 16, off = v4 ? 12 : 0; /* v4: the last 4 of the 16 bytes */
    int i;

    if (version == 1) {
        /* inet_ntop writes at most 39 characters for an IPv6 address (the
         * dotted form only for short mapped ones), so the line is at most
         * 6 + 4 + 2 * 40 + 2 * 6 + 2 = 104 bytes. */
        if (known)
            for (i = 0; i < 2; i++)
                inet_ntop(v4 ? AF_INET : AF_INET6, ip[i] + off, text[i], sizeof(text[i]));
        if (!known)
            n = (size_t)snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
        else
            n = (size_t)snprintf(line, sizeof(line), "PROXY TCP%c %s %s %u %u\r\n", v4 ? '4' : '6',
                                 text[0], text[1], (unsigned)port[0], (unsigned)port[1]);
        if (n >= sizeof(line) || n > cap)
            return 0;
        memcpy(out, line, n);
        return n;
    } else if (version == 2) {
        memcpy(buf, v2_sig, V2_SIGLEN);
        buf[12] = 0x20 | V2_PROXY;
        buf[13] = !known ? V2_UNSPEC : v4 ? V2_TCP4 : V2_TCP6;
        n = !known ? 0 : 2 * a + 4;
        buf[14] = 0;
        buf[15] = (unsigned char)n;
        if (known) {
            memcpy(buf + V2_FIXED, ip[0] + off, a);
            memcpy(buf + V2_FIXED + a, ip[1] + off, a);
            for (i = 0; i < 2; i++) {
                buf[V2_FIXED + 2 * a + 2 * i] = (unsigned char)(port[i] >> 8);
                buf[V2_FIXED + 2 * a + 2 * i + 1] = (unsigned char)port[i];
            }
        }
        n += V2_FIXED;
    } else {
        return 0;
    }
    if (n > cap)
        return 0;
    memcpy(out, buf, n);
    return n;
}
