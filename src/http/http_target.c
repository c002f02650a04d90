/* Request-targets (RFC 9112 3.2): the four forms, the http scheme of
 * absolute-form, and the uri-host [":" port] that both a target and a Host
 * field hold. No sockets, no allocation. */
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "http_parse_int.h"

/* uri-host [":" port] where uri-host is a reg-name, an IPv4 address (whose
 * characters are reg-name characters) or a bracketed IPv6 literal. The host
 * is copied without brackets into host (ADDR_HOSTMAX bytes) when given.
 * Returns 0 or -1. */
int
http_target_hostport(const char *p, size_t n, int need_port, char *host, uint16_t *port)
{
    size_t i = 0, hs = 0, he;
    unsigned long v = 0;

    if (n == 0)
        return -1;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', n);
        uint8_t a[16];

        if (close == NULL)
            return -1;
        hs = 1;
        he = (size_t)(close - p);
        i = he + 1;
        if (addr_parse_ip(p + hs, he - hs, AF_INET6, a) < 0)
            return -1;
    } else {
        i = class_span(p, n, CC_REGNAME);
        he = i;
        if (he == 0 || he > ADDR_HOSTMAX - 1)
            return -1;
    }
    if (i == n) {
        if (need_port)
            return -1;
        v = 80;
    } else {
        uint16_t pt;

        if (p[i] != ':')
            return -1;
        i++;
        /* At most 5 digits: "x:000080" stays refused. */
        if (n - i > 5 || addr_parse_port(p + i, n - i, 0, &pt) != 0)
            return -1;
        v = pt;
    }
    if (host) {
        memcpy(host, p + hs, he - hs);
        host[he - hs] = '\0';
    }
    if (port)
        *port = (uint16_t)v;
    return 0;
}

int
http_parse_target(const struct http_head *h, struct http_target *t)
{
    const char *p = h->target.p;
    size_t n = h->target.len, i, a, e;

    t->form = HTTP_FORM_ORIGIN;
    t->host[0] = '\0';
    t->port = 0;
    t->authority = slice(p, 0);
    t->path = slice(p, 0);
    if (n == 0)
        return 400;
    if (n > HTTP_MAX_TARGET)
        return 414;
    if (h->method == HTTP_CONNECT) {
        /* authority-form only, port required (RFC 9110 9.3.6) */
        t->form = HTTP_FORM_AUTHORITY;
        if (http_target_hostport(p, n, 1, t->host, &t->port) != 0)
            return 400;
        t->authority = h->target;
        return 0;
    }
    if (memchr(p, '#', n) != NULL)
        return 400; /* fragments are the client's business */
    if (n == 1 && p[0] == '*') {
        if (h->method != HTTP_OPTIONS)
            return 400;
        t->form = HTTP_FORM_ASTERISK;
        t->path = h->target;
        return 0;
    }
    if (p[0] == '/') {
        t->path = h->target;
        return 0;
    }
    /* absolute-form: scheme "://" authority path-abempty ["?" query] */
    if (!is_alpha((unsigned char)p[0]))
        return 400;
    for (i = 1; i < n && (is_alpha((unsigned char)p[i]) || is_digit(p[i]) || p[i] == '+' ||
                          p[i] == '-' || p[i] == '.');
         i++)
        ;
    if (i >= n || p[i] != ':' || n - i < 3 || p[i + 1] != '/' || p[i + 2] != '/')
        return 400; /* host:port without CONNECT, "http:/x", no scheme */
    if (!caseeq(p, i, "http"))
        return 501;
    a = i + 3;
    for (e = a; e < n && p[e] != '/' && p[e] != '?'; e++)
        if (p[e] == '@')
            return 400; /* userinfo (RFC 9110 4.2.4) */
    if (http_target_hostport(p + a, e - a, 0, t->host, &t->port) != 0)
        return 400;
    t->form = HTTP_FORM_ABSOLUTE;
    t->authority = slice(p + a, e - a);
    t->path = slice(p + e, n - e);
    return 0;
}
