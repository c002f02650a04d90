/* fuzz_proxy_header: the PROXY protocol header (proxy_header.c), read from
 * the input as a balancer's first bytes. A result is one of the documented
 * ones and never past the input; a complete result (a header or a refusal)
 * does not change when bytes are appended; every proper prefix of a header
 * waits for more; a header with addresses, written again in its version,
 * reads back to the same addresses. The first 37 bytes also make a pair of
 * addresses (IPv4, IPv6 or mixed) that is written and must read back, with
 * IPv4 mapped into IPv6 when the families differ. */
#include <netinet/in.h>
#include <string.h>

#include "fuzz.h"
#include "proxy_header.h"

/* parse on an exact copy of b[0..n), so ASan sees any read past n. */
static long
parse(const unsigned char *b, size_t n, struct proxy_header *h)
{
    unsigned char *c = (unsigned char *)fuzz_dup(b, n);
    long r = proxy_header_parse(c, n, h);

    free(c);
    return r;
}

static int
same(const struct proxy_header *a, const struct proxy_header *b)
{
    return a->version == b->version && a->local == b->local && a->srclen == b->srclen &&
           a->dstlen == b->dstlen && memcmp(&a->src, &b->src, a->srclen) == 0 &&
           memcmp(&a->dst, &b->dst, a->dstlen) == 0;
}

/* A header of r bytes at data: its prefixes wait, bytes after it are left
 * alone, and written again it reads back the same. */
static void
check_header(const uint8_t *data, long r, const struct proxy_header *h)
{
    unsigned char *buf = malloc((size_t)r + 64), *pre = malloc((size_t)r), out[PROXY_HEADER_MAX];
    struct proxy_header h2;
    size_t k, n;
    long r2;

    FUZZ_CHECK(buf != NULL && pre != NULL, "out of memory");
    FUZZ_CHECK(h->version == 1 || h->version == 2, "version %d", h->version);
    FUZZ_CHECK(h->version == 2 || r <= 107, "a v1 line of %ld bytes", r);
    FUZZ_CHECK(r <= PROXY_HEADER_MAX, "a header of %ld bytes", r);
    /* Every proper prefix, each at the end of an r-byte block, so that ASan
     * sees a read past it. */
    for (k = 0; k < (size_t)r; k++) {
        memcpy(pre + (size_t)r - k, data, k);
        r2 = proxy_header_parse(pre + (size_t)r - k, k, &h2);
        FUZZ_CHECK(r2 == 0, "a prefix of %zu of a %ld-byte header gives %ld", k, r, r2);
    }
    free(pre);
    /* The header alone, and followed by other bytes. */
    FUZZ_CHECK(parse(data, (size_t)r, &h2) == r && same(h, &h2),
               "the header alone reads otherwise");
    memcpy(buf, data, (size_t)r);
    memset(buf + r, '\n', 64);
    FUZZ_CHECK(proxy_header_parse(buf, (size_t)r + 64, &h2) == r && same(h, &h2),
               "bytes after the header change it");
    free(buf);
    if (h->local) {
        FUZZ_CHECK(h->srclen == 0 && h->dstlen == 0, "local with addresses");
        return;
    }
    FUZZ_CHECK(h->src.ss_family == h->dst.ss_family &&
                   (h->src.ss_family == AF_INET || h->src.ss_family == AF_INET6),
               "families %d, %d", h->src.ss_family, h->dst.ss_family);
    n = proxy_header_build(out, sizeof(out), h->version, (struct sockaddr *)&h->src,
                           (struct sockaddr *)&h->dst);
    FUZZ_CHECK(n > 0, "a header that parsed is not written again");
    FUZZ_CHECK(parse(out, n, &h2) == (long)n && same(h, &h2),
               "written again, it reads back otherwise: '%.*s'", (int)n, (const char *)out);
    FUZZ_CHECK(proxy_header_build(out, n - 1, h->version, (struct sockaddr *)&h->src,
                                  (struct sockaddr *)&h->dst) == 0,
               "written into too small a buffer");
}

/* Addresses from the input's bytes: the first byte picks the version and the
 * families, then 16 + 16 address bytes and two ports. */
static void
check_build(const uint8_t *d)
{
    struct sockaddr_storage a[2];
    struct sockaddr_in *sin;
    struct sockaddr_in6 *sin6;
    unsigned char out[PROXY_HEADER_MAX], want[2][16];
    struct proxy_header h;
    int version = d[0] & 1 ? 2 : 1, v6[2] = {d[0] & 2, d[0] & 4}, i, mixed = v6[0] != v6[1];
    size_t n;

    memset(a, 0, sizeof(a));
    for (i = 0; i < 2; i++) {
        uint16_t port = (uint16_t)(d[33 + 2 * i] << 8 | d[34 + 2 * i]);

        if (v6[i]) {
            sin6 = (struct sockaddr_in6 *)&a[i];
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            memcpy(&sin6->sin6_addr, d + 1 + 16 * i, 16);
            memcpy(want[i], d + 1 + 16 * i, 16);
        } else {
            sin = (struct sockaddr_in *)&a[i];
            sin->sin_family = AF_INET;
            sin->sin_port = htons(port);
            memcpy(&sin->sin_addr, d + 1 + 16 * i, 4);
            memcpy(want[i], "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
            memcpy(want[i] + (mixed ? 12 : 0), d + 1 + 16 * i, 4);
        }
    }
    n = proxy_header_build(out, sizeof(out), version, (struct sockaddr *)&a[0],
                           (struct sockaddr *)&a[1]);
    FUZZ_CHECK(n > 0 && parse(out, n, &h) == (long)n, "a written header does not read back");
    FUZZ_CHECK(h.version == version && !h.local, "version %d, local %d", h.version, h.local);
    for (i = 0; i < 2; i++) {
        struct sockaddr_storage *ss = i == 0 ? &h.src : &h.dst;

        if (!v6[0] && !v6[1]) {
            sin = (struct sockaddr_in *)ss;
            FUZZ_CHECK(sin->sin_family == AF_INET && memcmp(&sin->sin_addr, want[i], 4) == 0 &&
                           sin->sin_port == ((struct sockaddr_in *)&a[i])->sin_port,
                       "IPv4 address %d reads back otherwise", i);
        } else {
            sin6 = (struct sockaddr_in6 *)ss;
            FUZZ_CHECK(sin6->sin6_family == AF_INET6 &&
                           memcmp(&sin6->sin6_addr, want[i], 16) == 0 &&
                           sin6->sin6_port == ((struct sockaddr_in *)&a[i])->sin_port,
                       "IPv6 address %d reads back otherwise (mixed %d)", i, mixed);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_header h;
    unsigned char *more;
    long r = parse(data, size, &h);

    FUZZ_CHECK(r >= PROXY_E_FAMILY && r <= (long)size, "result %ld for %zu bytes", r, size);
    if (r > 0) {
        check_header(data, r, &h);
    } else if (r < 0) {
        /* A refusal stands whatever comes after. */
        more = malloc(size + 16);
        FUZZ_CHECK(more != NULL, "out of memory");
        memcpy(more, data, size);
        memcpy(more + size, "\r\n\r\n 1 2 3 4\r\n\0\n", 16);
        FUZZ_CHECK(proxy_header_parse(more, size + 16, &h) == r, "appended bytes change %ld", r);
        free(more);
    }
    if (size >= 37)
        check_build(data);
    return 0;
}
