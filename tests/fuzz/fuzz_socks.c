/* fuzz_socks: the SOCKS parsers (socks.c), chosen by the first input byte
 * (modulo 4: SOCKS5 greeting, RFC 1929 credentials, SOCKS5 request, SOCKS4
 * request); the rest is the message. Oracles: a message taken is never
 * longer than the input; every proper prefix of a complete message needs
 * more (0), every longer input, trailing bytes included, gives the same
 * message; an error shows at one prefix length and stays from there on; the
 * fields keep their bounds (names 1..255 bytes with no control byte,
 * addresses that are their text); a parsed message written back by a small
 * encoder here parses again to the same fields (and, but for what the
 * encoding cannot carry, the same bytes); the SOCKS5 reply for a parsed
 * address carries it in the request's own encoding. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "fuzz.h"
#include "socks.h"

enum target { T_GREET, T_USERPASS, T_REQ5, T_REQ4, T_COUNT };

/* The longest message any parser takes (SOCKS4a: header, 255-byte userid
 * and name, two NULs); past it every parser has decided. */
#define MSG_MAX (8 + 2 * (SOCKS_MAX_NAME + 1))

/* Whatever a parser fills. */
union parsed {
    struct socks5_greeting g;
    struct socks_userpass u;
    struct socks_request r;
};

static const size_t parsed_size[T_COUNT] = {
    sizeof(struct socks5_greeting),
    sizeof(struct socks_userpass),
    sizeof(struct socks_request),
    sizeof(struct socks_request),
};

/* Parses data[0..n) as t, from a block of exactly n bytes. */
static long
parse(enum target t, const uint8_t *data, size_t n, union parsed *p)
{
    unsigned char *b = (unsigned char *)fuzz_dup(data, n);
    long r = 0;

    memset(p, 0xa5, sizeof(*p));
    switch (t) {
    case T_GREET:
        r = socks5_parse_greeting(b, n, &p->g);
        break;
    case T_USERPASS:
        r = socks5_parse_userpass(b, n, &p->u);
        break;
    case T_REQ5:
        r = socks5_parse_request(b, n, &p->r);
        break;
    case T_REQ4:
    case T_COUNT:
        r = socks4_parse_request(b, n, &p->r);
        break;
    }
    free(b);
    return r;
}

/* The result and fields of a parse are those of another. */
static int
same(enum target t, long r1, const union parsed *a, long r2, const union parsed *b)
{
    if (r1 != r2)
        return 0;
    if (r1 > 0 || (r1 == SOCKS_E_COMMAND && (t == T_REQ5 || t == T_REQ4)))
        return memcmp(a, b, parsed_size[t]) == 0;
    return 1;
}

static void
check_text(const char *s, size_t max, int ctl, const char *what)
{
    size_t n = strnlen(s, max + 1);

    FUZZ_CHECK(n <= max, "%s not terminated within %zu bytes", what, max);
    for (size_t i = 0; ctl && i < n; i++)
        FUZZ_CHECK((unsigned char)s[i] >= 0x20, "%s has byte 0x%02x", what, (unsigned char)s[i]);
}

/* The bounds of a request's fields. */
static void
check_request(enum target t, const struct socks_request *r)
{
    unsigned char addr[16] = {0};

    FUZZ_CHECK(r->version == (t == T_REQ5 ? 5 : 4), "version %d", r->version);
    check_text(r->host, SOCKS_MAX_NAME, r->is_name, "host");
    check_text(r->user, SOCKS_MAX_NAME, 1, "userid");
    FUZZ_CHECK(t == T_REQ4 || r->user[0] == '\0', "a SOCKS5 request with a userid");
    if (r->is_name) {
        FUZZ_CHECK(r->host[0] != '\0', "empty name");
        FUZZ_CHECK(r->family == AF_UNSPEC, "a name with family %d", r->family);
    } else {
        FUZZ_CHECK(r->family == AF_INET || (t == T_REQ5 && r->family == AF_INET6), "family %d",
                   r->family);
        FUZZ_CHECK(inet_pton(r->family, r->host, addr) == 1, "host '%s' is no address", r->host);
    }
    FUZZ_CHECK(memcmp(addr, r->addr, sizeof(addr)) == 0, "addr is not host '%s'", r->host);
}

/* ---- the encoders ---------------------------------------------------------- */

static size_t
encode_greeting(const struct socks5_greeting *g, unsigned char *out)
{
    size_t n = 2;

    out[0] = 5;
    if (g->no_auth)
        out[n++] = SOCKS5_METHOD_NONE;
    if (g->userpass)
        out[n++] = SOCKS5_METHOD_USERPASS;
    if (n == 2)
        out[n++] = 0x80; /* a method nobody knows */
    out[1] = (unsigned char)(n - 2);
    return n;
}

static size_t
encode_userpass(const struct socks_userpass *u, unsigned char *out)
{
    out[0] = 1;
    out[1] = (unsigned char)u->ulen;
    memcpy(out + 2, u->user, u->ulen);
    out[2 + u->ulen] = (unsigned char)u->plen;
    memcpy(out + 3 + u->ulen, u->pass, u->plen);
    return 3 + u->ulen + u->plen;
}

static size_t
encode_request5(const struct socks_request *r, unsigned char *out)
{
    size_t n = 4;

    out[0] = 5;
    out[1] = (unsigned char)r->command;
    out[2] = 0;
    if (r->is_name) {
        out[3] = 3;
        out[4] = (unsigned char)strlen(r->host);
        memcpy(out + 5, r->host, out[4]);
        n = 5 + out[4];
    } else if (r->family == AF_INET) {
        out[3] = 1;
        n = 4 + 4;
        inet_pton(AF_INET, r->host, out + 4);
    } else {
        out[3] = 4;
        n = 4 + 16;
        inet_pton(AF_INET6, r->host, out + 4);
    }
    out[n++] = (unsigned char)(r->port >> 8);
    out[n++] = (unsigned char)r->port;
    return n;
}

/* A SOCKS4a name goes with DSTIP 0.0.0.1 (the last byte is not kept). */
static size_t
encode_request4(const struct socks_request *r, unsigned char *out)
{
    size_t n, ulen = strlen(r->user);

    out[0] = 4;
    out[1] = (unsigned char)r->command;
    out[2] = (unsigned char)(r->port >> 8);
    out[3] = (unsigned char)r->port;
    if (r->is_name)
        memcpy(out + 4, "\0\0\0\1", 4);
    else
        inet_pton(AF_INET, r->host, out + 4);
    memcpy(out + 8, r->user, ulen + 1);
    n = 8 + ulen + 1;
    if (r->is_name) {
        memcpy(out + n, r->host, strlen(r->host) + 1);
        n += strlen(r->host) + 1;
    }
    return n;
}

/* ---- the oracles ----------------------------------------------------------- */

/* Every prefix: 0 before the message (or the error) shows, then the full
 * result and fields. */
static void
check_prefixes(enum target t, const uint8_t *b, size_t len, long r, const union parsed *p)
{
    size_t top = len < MSG_MAX + 1 ? len : MSG_MAX + 1;
    int decided = 0;
    union parsed q;

    for (size_t n = 0; n <= top; n++) {
        long rn = parse(t, b, n, &q);

        if (r > 0 && n < (size_t)r)
            FUZZ_CHECK(rn == 0, "prefix of %zu bytes of a %ld-byte message: %ld", n, r, rn);
        else if (r > 0 || decided)
            FUZZ_CHECK(same(t, rn, &q, r, p), "%zu bytes: %ld, %zu bytes: %ld", n, rn, len, r);
        else if (rn != 0)
            FUZZ_CHECK(rn == r, "%zu bytes: %ld, %zu bytes: %ld", n, rn, len, r);
        decided = decided || rn != 0;
    }
    FUZZ_CHECK(len <= MSG_MAX || r != 0, "still undecided after %zu bytes", len);
}

/* Trailing bytes (the input again, as a pipelining client might send) do not
 * change a decided result. */
static void
check_trailing(enum target t, const uint8_t *b, size_t len, long r, const union parsed *p)
{
    uint8_t *more = malloc(2 * len + 1);
    union parsed q;
    long r2;

    FUZZ_CHECK(more != NULL, "out of memory");
    memcpy(more, b, len);
    memcpy(more + len, b, len);
    more[2 * len] = 0;
    r2 = parse(t, more, 2 * len + 1, &q);
    free(more);
    if (r != 0)
        FUZZ_CHECK(same(t, r2, &q, r, p), "with trailing bytes: %ld, without: %ld", r2, r);
}

/* The SOCKS5 reply for the request's address carries ATYP, address and port
 * as the request did. */
static void
check_reply(const struct socks_request *r, const unsigned char *enc, size_t n)
{
    struct sockaddr_storage ss;
    unsigned char out[SOCKS5_REPLY_MAX];
    size_t m;

    memset(&ss, 0, sizeof(ss));
    if (r->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons(r->port);
        memcpy(&s4->sin_addr, r->addr, 4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(r->port);
        memcpy(&s6->sin6_addr, r->addr, 16);
    }
    m = socks5_reply(out, SOCKS5_REP_OK, (struct sockaddr *)&ss);
    FUZZ_CHECK(m == n && memcmp(out, "\x05\x00\x00", 3) == 0 &&
                   memcmp(out + 3, enc + 3, n - 3) == 0,
               "the reply does not carry the request's address %s:%u", r->host, r->port);
}

/* Written back, the message parses again to the same fields. A request
 * refused for its command was complete too, so its bytes are compared the
 * same way. */
static void
check_roundtrip(enum target t, const uint8_t *b, size_t len, long r, const union parsed *p)
{
    unsigned char enc[MSG_MAX + 8];
    size_t n = 0;
    union parsed q;

    switch (t) {
    case T_GREET:
        n = encode_greeting(&p->g, enc);
        break;
    case T_USERPASS:
        n = encode_userpass(&p->u, enc);
        FUZZ_CHECK(n == (size_t)r && memcmp(enc, b, n) == 0, "credentials encode differently");
        break;
    case T_REQ5:
        n = encode_request5(&p->r, enc);
        FUZZ_CHECK((r < 0 || n == (size_t)r) && n <= len && memcmp(enc, b, n) == 0,
                   "request encodes differently");
        if (r > 0 && !p->r.is_name)
            check_reply(&p->r, enc, n);
        break;
    case T_REQ4:
    case T_COUNT:
        n = encode_request4(&p->r, enc);
        FUZZ_CHECK((r < 0 || n == (size_t)r) && n <= len && memcmp(enc, b, 7) == 0 &&
                       memcmp(enc + 8, b + 8, n - 8) == 0 && (p->r.is_name || enc[7] == b[7]),
                   "request encodes differently");
        break;
    }
    FUZZ_CHECK(same(t, parse(t, enc, n, &q), &q, r > 0 ? (long)n : r, p),
               "written back, it reads differently");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum target t;
    union parsed p;
    long r;

    if (size < 1)
        return 0;
    t = (enum target)(data[0] % T_COUNT);
    data++;
    size--;
    r = parse(t, data, size, &p);
    FUZZ_CHECK(r >= SOCKS_E_COMMAND && r <= (long)size, "result %ld for %zu bytes", r, size);
    FUZZ_CHECK(r != SOCKS_E_ATYP || t == T_REQ5, "SOCKS_E_ATYP from parser %d", t);
    FUZZ_CHECK(r != SOCKS_E_COMMAND || t == T_REQ5 || t == T_REQ4, "SOCKS_E_COMMAND from %d", t);
    check_prefixes(t, data, size, r, &p);
    check_trailing(t, data, size, r, &p);
    if (t == T_USERPASS && r > 0) {
        check_text(p.u.user, SOCKS_MAX_NAME, 1, "user");
        check_text(p.u.pass, SOCKS_MAX_NAME, 0, "password");
        FUZZ_CHECK(p.u.ulen == strlen(p.u.user) && p.u.plen == strlen(p.u.pass) && p.u.ulen > 0,
                   "lengths %zu, %zu", p.u.ulen, p.u.plen);
    }
    if ((t == T_REQ5 || t == T_REQ4) && (r > 0 || r == SOCKS_E_COMMAND)) {
        check_request(t, &p.r);
        FUZZ_CHECK(r != SOCKS_E_COMMAND || p.r.command < 1 ||
                       p.r.command > (t == T_REQ5 ? SOCKS_CMD_UDP : SOCKS_CMD_BIND),
                   "command %d refused", p.r.command);
        FUZZ_CHECK(
            r == SOCKS_E_COMMAND ||
                (p.r.command >= 1 && p.r.command <= (t == T_REQ5 ? SOCKS_CMD_UDP : SOCKS_CMD_BIND)),
            "command %d accepted", p.r.command);
    }
    if (r > 0 || (r == SOCKS_E_COMMAND))
        check_roundtrip(t, data, size, r, &p);
    return 0;
}
