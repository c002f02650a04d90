/* The SOCKS wire format: strict, bounded parsers of SOCKS5 greetings,
 * RFC 1929 credentials and SOCKS5/SOCKS4/SOCKS4a requests, and the writers
 * of the replies. Each parser reads only the bytes it is given, checks each
 * byte as soon as it is there (so an error never waits for more input and
 * more input never changes it), and reports how many bytes the message took
 * so that early data after it stays for the relay. */
#include "socks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* A name or userid byte: NUL and the other control bytes are refused, as
 * they would cut a C string, forge log lines or confuse a resolver. */
#define SOCKS_BAD_BYTE(c) ((c) < 0x20)

/* 0 if none of the first min(have, want) bytes of p is a control byte
 * (ctl), or a NUL (!ctl); -1 otherwise. */
static int
socks_scan(const unsigned char *p, size_t have, size_t want, int ctl)
{
    size_t n = have < want ? have : want;

    for (size_t i = 0; i < n; i++) {
        if (ctl ? SOCKS_BAD_BYTE(p[i]) : p[i] == '\0')
            return -1;
    }
    return 0;
}

/* A NUL-terminated field of at most SOCKS_MAX_NAME bytes (SOCKS4 userid and
 * SOCKS4a name) at p, of which have bytes are there: 1 with its length in
 * *n, 0 not terminated yet, or SOCKS_E_MALFORMED (a control byte, or no NUL
 * within SOCKS_MAX_NAME + 1 bytes). */
static long
socks_cstr(const unsigned char *p, size_t have, size_t *n)
{
    for (size_t i = 0; i < have && i <= SOCKS_MAX_NAME; i++) {
        if (p[i] == '\0') {
            *n = i;
            return 1;
        }
        if (SOCKS_BAD_BYTE(p[i]))
            return SOCKS_E_MALFORMED;
    }
    return have > SOCKS_MAX_NAME ? SOCKS_E_MALFORMED : 0;
}

long
socks5_parse_greeting(const unsigned char *b, size_t len, struct socks5_greeting *g)
{
    size_t n;

    memset(g, 0, sizeof(*g));
    if (len < 1)
        return 0;
    if (b[0] != 5)
        return SOCKS_E_MALFORMED;
    if (len < 2)
        return 0;
    n = b[1];
    if (n == 0)
        return SOCKS_E_MALFORMED;
    if (len < 2 + n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (b[2 + i] == SOCKS5_METHOD_NONE)
            g->no_auth = 1;
        else if (b[2 + i] == SOCKS5_METHOD_USERPASS)
            g->userpass = 1;
    }
    return (long)(2 + n);
}

long
socks5_parse_userpass(const unsigned char *b, size_t len, struct socks_userpass *u)
{
    size_t ulen, plen;

    memset(u, 0, sizeof(*u));
    if (len < 1)
        return 0;
    if (b[0] != 0x01)
        return SOCKS_E_MALFORMED;
    if (len < 2)
        return 0;
    ulen = b[1];
    if (ulen == 0 || socks_scan(b + 2, len - 2, ulen, 1) < 0)
        return SOCKS_E_MALFORMED;
    if (len < 3 + ulen)
        return 0;
    plen = b[2 + ulen];
    if (socks_scan(b + 3 + ulen, len - 3 - ulen, plen, 0) < 0)
        return SOCKS_E_MALFORMED;
    if (len < 3 + ulen + plen)
        return 0;
    memcpy(u->user, b + 2, ulen);
    u->ulen = ulen;
    memcpy(u->pass, b + 3 + ulen, plen);
    u->plen = plen;
    return (long)(3 + ulen + plen);
}

/* The SOCKS5 address at b (ATYP first) of which len bytes are there, into
 * r's target fields: the address's length with its ATYP byte, 0 if the
 * bytes so far cannot tell, or an error. */
static long
socks5_addr(const unsigned char *b, size_t len, struct socks_request *r)
{
    size_t n;

    switch (b[0]) {
    case 1:
        if (len < 5)
            return 0;
        r->family = AF_INET;
        memcpy(r->addr, b + 1, 4);
        inet_ntop(AF_INET, r->addr, r->host, sizeof(r->host));
        return 5;
    case 4:
        if (len < 17)
            return 0;
        r->family = AF_INET6;
        memcpy(r->addr, b + 1, 16);
        inet_ntop(AF_INET6, r->addr, r->host, sizeof(r->host));
        return 17;
    case 3:
        if (len < 2)
            return 0;
        n = b[1];
        if (n == 0 || socks_scan(b + 2, len - 2, n, 1) < 0)
            return SOCKS_E_MALFORMED;
        if (len < 2 + n)
            return 0;
        r->is_name = 1;
        r->family = AF_UNSPEC;
        memcpy(r->host, b + 2, n);
        r->host[n] = '\0';
        return (long)(2 + n);
    default:
        return SOCKS_E_ATYP;
    }
}

/* r is filled when the result is > 0 or SOCKS_E_COMMAND (the target can
 * then be logged with the refusal). */
long
socks5_parse_request(const unsigned char *b, size_t len, struct socks_request *r)
{
    long alen;

    memset(r, 0, sizeof(*r));
    if (len < 1)
        return 0;
    if (b[0] != 5)
        return SOCKS_E_MALFORMED;
    if (len < 3)
        return 0;
    if (b[2] != 0)
        return SOCKS_E_MALFORMED;
    if (len < 4)
        return 0;
    alen = socks5_addr(b + 3, len - 3, r);
    if (alen <= 0)
        return alen;
    if (len < 3 + (size_t)alen + 2)
        return 0;
    r->version = 5;
    r->command = b[1];
    r->port = (uint16_t)(b[3 + alen] << 8 | b[3 + alen + 1]);
    if (r->command < SOCKS_CMD_CONNECT || r->command > SOCKS_CMD_UDP)
        return SOCKS_E_COMMAND;
    return 3 + alen + 2;
}

/* As socks5_parse_request, r is filled when the result is > 0 or
 * SOCKS_E_COMMAND. */
long
socks4_parse_request(const unsigned char *b, size_t len, struct socks_request *r)
{
    size_t ulen, nlen = 0, used;
    long st;
    int socks4a;

    memset(r, 0, sizeof(*r));
    if (len < 1)
        return 0;
    if (b[0] != 4)
        return SOCKS_E_MALFORMED;
    if (len < 8)
        return 0;
    if ((st = socks_cstr(b + 8, len - 8, &ulen)) <= 0)
        return st;
    used = 8 + ulen + 1;
    /* SOCKS4a: DSTIP 0.0.0.x with x != 0 says a name follows the userid. */
    socks4a = b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0;
    if (socks4a) {
        if ((st = socks_cstr(b + used, len - used, &nlen)) <= 0)
            return st;
        if (nlen == 0)
            return SOCKS_E_MALFORMED;
        memcpy(r->host, b + used, nlen);
        r->is_name = 1;
        r->family = AF_UNSPEC;
        used += nlen + 1;
    } else {
        r->family = AF_INET;
        memcpy(r->addr, b + 4, 4);
        inet_ntop(AF_INET, r->addr, r->host, sizeof(r->host));
    }
    memcpy(r->user, b + 8, ulen);
    r->version = 4;
    r->command = b[1];
    r->port = (uint16_t)(b[2] << 8 | b[3]);
    if (r->command != SOCKS_CMD_CONNECT && r->command != SOCKS_CMD_BIND)
        return SOCKS_E_COMMAND;
    return (long)used;
}

size_t
socks5_reply(unsigned char *out, int rep, const struct sockaddr *bound)
{
    out[0] = 5;
    out[1] = (unsigned char)rep;
    out[2] = 0;
    if (bound != NULL && bound->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)bound;

        out[3] = 4;
        memcpy(out + 4, &s6->sin6_addr, 16);
        memcpy(out + 20, &s6->sin6_port, 2);
        return 22;
    }
    out[3] = 1;
    if (bound != NULL && bound->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)bound;

        memcpy(out + 4, &s4->sin_addr, 4);
        memcpy(out + 8, &s4->sin_port, 2);
    } else {
        memset(out + 4, 0, 6);
    }
    return 10;
}

size_t
socks4_reply(unsigned char *out, int granted, const struct sockaddr *bound)
{
    out[0] = 0x00;
    out[1] = granted ? 0x5a : 0x5b;
    memset(out + 2, 0, 6);
    if (bound != NULL && bound->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)bound;

        memcpy(out + 2, &s4->sin_port, 2);
        memcpy(out + 4, &s4->sin_addr, 4);
    } else if (bound != NULL && bound->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)bound;

        memcpy(out + 2, &s6->sin6_port, 2);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            memcpy(out + 4, s6->sin6_addr.s6_addr + 12, 4);
    }
    return SOCKS4_REPLY_LEN;
}

size_t
socks5_method_reply(unsigned char *out, int method)
{
    out[0] = 5;
    out[1] = (unsigned char)method;
    return 2;
}

size_t
socks5_auth_reply(unsigned char *out, int ok)
{
    out[0] = 0x01;
    out[1] = ok ? 0x00 : 0x01;
    return 2;
}
