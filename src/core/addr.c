/* Socket address parsing and printing for the configuration and the logs.
 * Everything here is pure: no name resolution, no sockets, so it is safe in a
 * worker and easy to test. Error messages quote the offending text, capped and
 * with non-printable bytes escaped, so a hostile config cannot garble a log. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

void
addr_quote(const char *s, char *out, size_t outlen)
{
    size_t o = 0, i;

    for (i = 0; s[i] != '\0' && i < ADDR_QUOTE_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        int n;

        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            n = snprintf(out + o, outlen - o, "%c", ch);
        else
            n = snprintf(out + o, outlen - o, "\\x%02x", ch);
        if (n < 0 || (size_t)n >= outlen - o)
            break;
        o += (size_t)n;
    }
    if (s[i] != '\0' && o + 4 <= outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Writes "what in 'text'" into err and returns -1, so callers can fail in one line. */
static int
fail(char *err, size_t errlen, const char *what, const char *text)
{
    char q[ADDR_QUOTELEN];

    if (err == NULL || errlen == 0)
        return -1;
    addr_quote(text, q, sizeof(q));
    snprintf(err, errlen, "%s in '%s'", what, q);
    return -1;
}

int
addr_parse_port(const char *s, size_t len, int allow_zero, uint16_t *port)
{
    unsigned long v = 0;
    size_t i;

    if (len == 0)
        return ADDR_PORT_EMPTY;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ADDR_PORT_SYNTAX;
        if (v <= 65535) /* stops growing once too large; the digits are still checked */
            v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535 || (v == 0 && !allow_zero))
        return ADDR_PORT_RANGE;
    *port = (uint16_t)v;
    return 0;
}

int
addr_parse_ip(const char *s, size_t len, int family, void *out)
{
    /* No valid literal is longer: 6 groups of 4 hex digits, 6 colons and a dotted quad. */
    char buf[INET6_ADDRSTRLEN];

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (family != AF_INET6 && inet_pton(AF_INET, buf, out) == 1)
        return AF_INET;
    if (family != AF_INET && inet_pton(AF_INET6, buf, out) == 1)
        return AF_INET6;
    return -1;
}

socklen_t
addr_set(struct sockaddr_storage *ss, int family, const void *ip, uint16_t port)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, ip, 4);
        return sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, ip, 16);
        return sizeof(*sin6);
    }
}

/* The port in p (the whole rest of the string) with the messages of the
 * address parsers, which quote the whole address text. */
static int
parse_port(const char *p, int allow_zero, uint16_t *port, const char *text, char *err,
           size_t errlen)
{
    switch (addr_parse_port(p, strlen(p), allow_zero, port)) {
    case 0:
        return 0;
    case ADDR_PORT_EMPTY:
        return fail(err, errlen, "missing port", text);
    case ADDR_PORT_SYNTAX:
        return fail(err, errlen, "invalid port", text);
    default:
        return fail(err, errlen, "port out of range", text);
    }
}

/* Splits s into a host part (copied to host, brackets removed) and a port
 * string. Sets *bracketed when the host was written as "[...]". Handles the
 * syntax shared by both parsers; the host is judged by the caller. */
static int
split_hostport(const char *s, char *host, size_t hostlen, const char **portp, int *bracketed,
               char *err, size_t errlen)
{
    const char *text = s, *colon, *end;
    size_t n;

    *bracketed = 0;
    if (s[0] == '[') {
        end = strchr(s, ']');
        if (end == NULL)
            return fail(err, errlen, "missing ']'", s);
        if (end[1] == '\0')
            return fail(err, errlen, "missing port", s);
        if (end[1] != ':')
            return fail(err, errlen, "unexpected text after ']'", s);
        *bracketed = 1;
        s++;
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return fail(err, errlen, "missing port", s);
        if (memchr(s, ':', (size_t)(colon - s)) != NULL)
            return fail(err, errlen, "IPv6 address must be in brackets ([addr]:port)", s);
        end = colon;
    }
    n = (size_t)(end - s);
    if (n == 0)
        return fail(err, errlen, "missing host", text);
    if (n >= hostlen)
        return fail(err, errlen, "host too long", text);
    memcpy(host, s, n);
    host[n] = '\0';
    *portp = colon + 1;
    return 0;
}

int
addr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err,
                  size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 8];
    uint8_t ip[16];
    const char *port_s, *p;
    uint16_t port;
    int bracketed;

    if (s == NULL || s[0] == '\0') {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "empty address");
        return -1;
    }

    /* A bare port: digits (or junk starting with a digit that is clearly no
     * address), meaning the loopback address as in WARP. */
    if (strchr(s, ':') == NULL && s[0] >= '0' && s[0] <= '9' && strchr(s, '.') == NULL) {
        if (parse_port(s, 1, &port, s, err, errlen) < 0)
            return -1;
        return addr_from_literal("127.0.0.1", port, ss, len);
    }

    if (split_hostport(s, host, sizeof(host), &port_s, &bracketed, err, errlen) < 0)
        return -1;
    if (parse_port(port_s, 1, &port, s, err, errlen) < 0)
        return -1;

    if (bracketed) {
        if (addr_parse_ip(host, strlen(host), AF_INET6, ip) < 0)
            return fail(err, errlen, "invalid IPv6 address", s);
    } else if (strcmp(host, "*") == 0) {
        memset(ip, 0, 4); /* 0.0.0.0 */
    } else if (addr_parse_ip(host, strlen(host), AF_INET, ip) < 0) {
        for (p = host; *p != '\0'; p++)
            if ((*p < '0' || *p > '9') && *p != '.')
                return fail(err, errlen, "not a numeric address (names are not allowed here)", s);
        return fail(err, errlen, "invalid IPv4 address", s);
    }
    *len = addr_set(ss, bracketed ? AF_INET6 : AF_INET, ip, port);
    return 0;
}

int
addr_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, char *err,
                    size_t errlen)
{
    char h[ADDR_HOSTMAX];
    const char *port_s, *p;
    uint16_t pt;
    int bracketed;
    size_t cap = hostlen < sizeof(h) ? hostlen : sizeof(h);

    if (s == NULL || s[0] == '\0') {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "empty address");
        return -1;
    }
    if (split_hostport(s, h, cap, &port_s, &bracketed, err, errlen) < 0)
        return -1;
    if (bracketed) {
        uint8_t ip[16];

        if (addr_parse_ip(h, strlen(h), AF_INET6, ip) < 0)
            return fail(err, errlen, "invalid IPv6 address", s);
    } else {
        for (p = h; *p != '\0'; p++) {
            unsigned char ch = (unsigned char)*p;

            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
                return fail(err, errlen, "invalid character in host name", s);
        }
    }
    if (parse_port(port_s, 0, &pt, s, err, errlen) < 0)
        return -1;
    memcpy(host, h, strlen(h) + 1);
    *port = pt;
    return 0;
}

int
addr_from_literal(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    uint8_t ip[16];
    int family = addr_parse_ip(host, strlen(host), AF_UNSPEC, ip);

    if (family < 0)
        return -1;
    *len = addr_set(ss, family, ip, port);
    return 0;
}

char *
addr_format(const struct sockaddr *sa, char *buf, size_t buflen)
{
    char a[INET6_ADDRSTRLEN];

    if (buflen == 0)
        return buf;
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
        snprintf(buf, buflen, "%s:%u", a, (unsigned)ntohs(sin->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
        snprintf(buf, buflen, "[%s]:%u", a, (unsigned)ntohs(sin6->sin6_port));
        break;
    }
    default:
        snprintf(buf, buflen, "(address family %d)", (int)sa->sa_family);
        break;
    }
    return buf;
}

int
addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;

        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return 0;
}

int
addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        /* ::ffff:127.x.y.z is IPv4 loopback reached through a dual-stack socket. */
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

uint16_t
addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

void
addr_set_port(struct sockaddr *sa, uint16_t port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

int
addr_reaches(const struct sockaddr *listener, const struct sockaddr *sa)
{
    if (addr_port(listener) != addr_port(sa))
        return 0;
    if (addr_equal(listener, sa))
        return 1;
    /* A wildcard listener answers on every local address of its family;
     * loopback is the one a client can name without knowing our interfaces.
     * IPv6 listeners are IPV6_V6ONLY (listener.c): ::ffff:127.0.0.1 goes to
     * the IPv4 one. */
    if (listener->sa_family == AF_INET &&
        ((const struct sockaddr_in *)listener)->sin_addr.s_addr == htonl(INADDR_ANY))
        return addr_is_loopback(sa) &&
               (sa->sa_family == AF_INET ||
                IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr));
    if (listener->sa_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)listener)->sin6_addr))
        return sa->sa_family == AF_INET6 &&
               IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

int
addr_from_text(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[ADDR_HOSTMAX], err[128];
    uint16_t port;

    if (addr_parse_hostport(text, host, sizeof(host), &port, err, sizeof(err)) < 0)
        return -1;
    return addr_from_literal(host, port, ss, len);
}
