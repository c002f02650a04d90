/* Client access rules: parsing the words of allow and deny lines and matching
 * client addresses against the rules in order, first match wins. Kept apart
 * from config.c so that the worker's accept path uses the same few lines the
 * unit tests check, and nothing here can block or allocate. */
#include "acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* ::ffff:0:0/96, the IPv6 addresses that stand for IPv4 ones. */
static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int
acl_fail(char *err, size_t errlen, const char *what, const char *word)
{
    char q[ADDR_QUOTELEN];

    if (err == NULL || errlen == 0)
        return -1;
    addr_quote(word, q, sizeof(q));
    snprintf(err, errlen, "%s, got '%s'", what, q);
    return -1;
}

/* Whether the first bits bits of a and b are equal. */
static int
acl_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    uint8_t mask;

    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    mask = (uint8_t)(0xff << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* Clears every bit of a (len bytes) after the first bits; returns whether
 * any of them was set. */
static int
acl_clear_host_bits(uint8_t *a, size_t len, unsigned bits)
{
    int had = 0;

    for (size_t i = 0; i < len; i++) {
        uint8_t keep = bits >= 8 * (i + 1) ? 0xff
                       : bits <= 8 * i     ? 0
                                           : (uint8_t)(0xff << (8 * (i + 1) - bits));

        had |= (a[i] & (uint8_t)~keep) != 0;
        a[i] &= keep;
    }
    return had;
}

int
acl_parse(const char *word, int action, struct acl_rule *r, char *err, size_t errlen)
{
    char what[160], net[INET6_ADDRSTRLEN];
    const char *slash = strchr(word, '/');
    size_t alen = slash != NULL ? (size_t)(slash - word) : strlen(word);
    unsigned prefix = 0, max;
    int v6;

    memset(r, 0, sizeof(*r));
    r->action = action == ACL_ALLOW ? ACL_ALLOW : ACL_DENY;
    if (strcmp(word, "all") == 0) {
        r->family = ACL_ALL;
        return 0;
    }
    v6 = memchr(word, ':', alen) != NULL;
    if (addr_parse_ip(word, alen, v6 ? AF_INET6 : AF_INET, r->net) < 0)
        goto bad_addr;
    max = v6 ? 128 : 32;
    if (slash == NULL) {
        prefix = max;
    } else {
        const char *p = slash + 1;

        /* Plain decimal: no sign, no spaces, at most three digits. */
        if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 3)
            return acl_fail(err, errlen, "expected a prefix length after '/'", word);
        for (; *p != '\0'; p++)
            prefix = prefix * 10 + (unsigned)(*p - '0');
        if (prefix > max) {
            snprintf(what, sizeof(what), "prefix length out of range (0-%u for IPv%d)", max,
                     v6 ? 6 : 4);
            return acl_fail(err, errlen, what, word);
        }
    }
    if (acl_clear_host_bits(r->net, v6 ? 16 : 4, prefix)) {
        /* 10.0.0.1/8 is most likely a typo for 10.0.0.1 or for 10.0.0.0/8:
         * refuse it rather than guess, and name the network it would be. */
        inet_ntop(v6 ? AF_INET6 : AF_INET, r->net, net, sizeof(net));
        snprintf(what, sizeof(what),
                 "address has bits set after the /%u prefix (the network is %s/%u)", prefix, net,
                 prefix);
        return acl_fail(err, errlen, what, word);
    }
    if (v6 && prefix >= 96 && memcmp(r->net, v4mapped, sizeof(v4mapped)) == 0) {
        /* Clients are matched as IPv4 addresses: store the rule that way. */
        memmove(r->net, r->net + 12, 4);
        memset(r->net + 4, 0, 12);
        prefix -= 96;
        v6 = 0;
    }
    r->family = v6 ? ACL_V6 : ACL_V4;
    r->prefix = (uint8_t)prefix;
    return 0;

bad_addr:
    memset(r, 0, sizeof(*r));
    return acl_fail(err, errlen,
                    "expected 'all' or an address such as 192.0.2.7, 192.0.2.0/24 or 2001:db8::/32",
                    word);
}

int
acl_find(const struct acl_rule *rules, int n, const struct sockaddr *peer)
{
    const uint8_t *a = NULL;
    int family = 0;

    if (peer->sa_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;
        family = ACL_V4;
    } else if (peer->sa_family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)peer)->sin6_addr.s6_addr;
        family = ACL_V6;
        if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
            a += 12;
            family = ACL_V4;
        }
    }
    for (int i = 0; i < n; i++) {
        const struct acl_rule *r = &rules[i];

        if (r->family == ACL_ALL)
            return i;
        if (r->family == family && acl_prefix_equal(r->net, a, r->prefix))
            return i;
    }
    return -1;
}

int
acl_allows(const struct acl_rule *rules, int n, const struct sockaddr *peer, int *rule)
{
    int i;

    if (n == 0) {
        if (rule != NULL)
            *rule = -1;
        return 1;
    }
    i = acl_find(rules, n, peer);
    if (rule != NULL)
        *rule = i;
    return i >= 0 && rules[i].action == ACL_ALLOW;
}

int
acl_covers(const struct acl_rule *a, const struct acl_rule *b)
{
    if (a->family == ACL_ALL)
        return 1;
    return a->family == b->family && a->prefix <= b->prefix &&
           acl_prefix_equal(a->net, b->net, a->prefix);
}

char *
acl_format(const struct acl_rule *r, char *buf, size_t buflen)
{
    const char *verb = r->action == ACL_ALLOW ? "allow" : "deny";
    char a[INET6_ADDRSTRLEN];

    if (r->family == ACL_ALL) {
        snprintf(buf, buflen, "%s all", verb);
        return buf;
    }
    inet_ntop(r->family == ACL_V6 ? AF_INET6 : AF_INET, r->net, a, sizeof(a));
    if (r->prefix == (r->family == ACL_V6 ? 128 : 32))
        snprintf(buf, buflen, "%s %s", verb, a);
    else
        snprintf(buf, buflen, "%s %s/%u", verb, a, (unsigned)r->prefix);
    return buf;
}
