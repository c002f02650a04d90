/* Destination rules: parsing the words of deny_dest and allow_dest lines and
 * matching the addresses warpd is about to connect to, first match wins. The
 * network part is acl.c's (the same words, prefixes and IPv4-mapped
 * handling as allow and deny); this file adds the ports and the brackets an
 * IPv6 network needs in front of them. Nothing here blocks or allocates. */
#include "dest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

#define DEST_WORD_HELP                                                                             \
    "expected an address or network with optional ports, such as 10.0.0.0/8, "                     \
    "169.254.169.254:80, [fd00::]/8:22,25 or all:25"

/* "22,25,8000-8999" into r->ports. word is the whole word, for messages. */
static int
dest_parse_ports(const char *p, struct dest_rule *r, const char *word, char *err, size_t errlen)
{
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *dash = memchr(p, '-', len);
        uint16_t lo, hi;
        int rc;

        if (dash == NULL) {
            rc = addr_parse_port(p, len, 0, &lo);
            hi = lo;
        } else {
            rc = addr_parse_port(p, (size_t)(dash - p), 0, &lo);
            if (rc == 0)
                rc = addr_parse_port(dash + 1, len - (size_t)(dash - p) - 1, 0, &hi);
        }
        if (rc != 0)
            return acl_fail(err, errlen,
                            rc == ADDR_PORT_RANGE
                                ? "port out of range (1-65535)"
                                : "expected ports and ranges after ':' such as 22,25,8000-8999",
                            word);
        if (lo > hi)
            return acl_fail(err, errlen, "port range runs backwards", word);
        if (r->nports == DEST_MAX_PORTS) {
            char what[96];

            snprintf(what, sizeof(what), "too many port ranges in one rule (at most %d)",
                     DEST_MAX_PORTS);
            return acl_fail(err, errlen, what, word);
        }
        r->ports[r->nports].lo = lo;
        r->ports[r->nports].hi = hi;
        r->nports++;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

/* Splits word into the address part (copied into addr, brackets removed)
 * and the ports (*ports: NULL when none). Returns 0 or -1 with a message. */
static int
dest_split(const char *word, char *addr, size_t addrlen, const char **ports, char *err,
           size_t errlen)
{
    const char *colon;
    size_t alen;

    *ports = NULL;
    if (word[0] == '[') {
        const char *close = strchr(word, ']'), *after;
        size_t in, plen;

        if (close == NULL)
            return acl_fail(err, errlen, "missing ']' after an IPv6 address", word);
        in = (size_t)(close - word - 1);
        after = close + 1;
        colon = strchr(after, ':');
        plen = colon != NULL ? (size_t)(colon - after) : strlen(after);
        /* "[fd00::]/8:22" or "[fd00::/8]:22": a prefix may follow the ']'. */
        if ((plen > 0 && after[0] != '/') || memchr(word + 1, ':', in) == NULL)
            return acl_fail(err, errlen, DEST_WORD_HELP, word);
        if (in + plen >= addrlen)
            return acl_fail(err, errlen, "address too long", word);
        snprintf(addr, addrlen, "%.*s%.*s", (int)in, word + 1, (int)plen, after);
        *ports = colon != NULL ? colon + 1 : NULL;
        return 0;
    }
    colon = strchr(word, ':');
    /* Two colons or more: a bare IPv6 address, which cannot have ports. */
    alen = colon != NULL && strchr(colon + 1, ':') == NULL ? (size_t)(colon - word) : strlen(word);
    if (alen >= addrlen)
        return acl_fail(err, errlen, "address too long", word);
    memcpy(addr, word, alen);
    addr[alen] = '\0';
    if (alen < strlen(word))
        *ports = word + alen + 1;
    return 0;
}

int
dest_parse(const char *word, int action, struct dest_rule *r, char *err, size_t errlen)
{
    char addr[INET6_ADDRSTRLEN + 8];
    const char *ports;

    memset(r, 0, sizeof(*r));
    if (dest_split(word, addr, sizeof(addr), &ports, err, errlen) < 0)
        return -1;
    if (addr[0] == '\0')
        return acl_fail(err, errlen, DEST_WORD_HELP, word);
    if (acl_parse(addr, action, &r->net, err, errlen) < 0) {
        /* acl.c's messages about prefixes say what is wrong; an address it
         * cannot read at all gets this directive's own help. */
        if (strchr(addr, '/') == NULL || strstr(err, "expected 'all'") != NULL)
            acl_fail(err, errlen, DEST_WORD_HELP, word);
        memset(r, 0, sizeof(*r));
        return -1;
    }
    if (ports != NULL && dest_parse_ports(ports, r, word, err, errlen) < 0) {
        memset(r, 0, sizeof(*r));
        return -1;
    }
    return 0;
}

/* sa as a host rule (the full prefix) for acl_covers; 0 for anything that
 * is not IPv4 or IPv6. */
static int
dest_host(const struct sockaddr *sa, struct acl_rule *h)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(h, 0, sizeof(*h));
    if (sa->sa_family == AF_INET) {
        memcpy(h->net, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        h->family = ACL_V4;
        h->prefix = 32;
        return 1;
    }
    if (sa->sa_family != AF_INET6)
        return 0;
    memcpy(h->net, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 16);
    h->family = ACL_V6;
    h->prefix = 128;
    if (memcmp(h->net, v4mapped, sizeof(v4mapped)) == 0) {
        memmove(h->net, h->net + 12, 4);
        memset(h->net + 4, 0, 12);
        h->family = ACL_V4;
        h->prefix = 32;
    }
    return 1;
}

static int
dest_port_in(const struct dest_rule *r, uint16_t port)
{
    if (r->nports == 0)
        return 1;
    for (int i = 0; i < r->nports; i++)
        if (port >= r->ports[i].lo && port <= r->ports[i].hi)
            return 1;
    return 0;
}

int
dest_match(const struct dest_rule *r, const struct sockaddr *sa)
{
    struct acl_rule h;

    if (!dest_host(sa, &h))
        return r->net.family == ACL_ALL && r->nports == 0;
    return acl_covers(&r->net, &h) && dest_port_in(r, addr_port(sa));
}

int
dest_find(const struct dest_rule *rules, int n, const struct sockaddr *sa)
{
    for (int i = 0; i < n; i++)
        if (dest_match(&rules[i], sa))
            return i;
    return -1;
}

int
dest_covers(const struct dest_rule *a, const struct dest_rule *b)
{
    if (!acl_covers(&a->net, &b->net))
        return 0;
    if (a->nports == 0)
        return 1;
    if (b->nports == 0)
        return 0;
    /* Each of b's ranges inside one of a's: enough to be sure, and a rule
     * covered only by the union of several ranges is merely not refused. */
    for (int i = 0; i < b->nports; i++) {
        int in = 0;

        for (int j = 0; j < a->nports && !in; j++)
            in = b->ports[i].lo >= a->ports[j].lo && b->ports[i].hi <= a->ports[j].hi;
        if (!in)
            return 0;
    }
    return 1;
}

char *
dest_format(const struct dest_rule *r, char *buf, size_t buflen)
{
    char net[ACL_TEXTLEN], *a;
    size_t len;
    int v6 = r->net.family == ACL_V6;

    /* acl_format gives "allow 10.0.0.0/8": keep the network part. */
    acl_format(&r->net, net, sizeof(net));
    a = strchr(net, ' ') + 1;
    if (v6 && r->nports > 0) {
        char *slash = strchr(a, '/');

        if (slash != NULL)
            snprintf(buf, buflen, "%s [%.*s]%s",
                     r->net.action == ACL_ALLOW ? "allow_dest" : "deny_dest", (int)(slash - a), a,
                     slash);
        else
            snprintf(buf, buflen, "%s [%s]",
                     r->net.action == ACL_ALLOW ? "allow_dest" : "deny_dest", a);
    } else {
        snprintf(buf, buflen, "%s %s", r->net.action == ACL_ALLOW ? "allow_dest" : "deny_dest", a);
    }
    for (int i = 0; i < r->nports; i++) {
        len = strlen(buf);
        if (r->ports[i].lo == r->ports[i].hi)
            snprintf(buf + len, buflen - len, "%c%u", i == 0 ? ':' : ',', (unsigned)r->ports[i].lo);
        else
            snprintf(buf + len, buflen - len, "%c%u-%u", i == 0 ? ':' : ',',
                     (unsigned)r->ports[i].lo, (unsigned)r->ports[i].hi);
    }
    return buf;
}
