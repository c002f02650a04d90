/* The network and access part of the configuration: the setters of listen,
 * upstream, upstream_host, resolver, hosts, connect_ports, allow, deny,
 * auth_user and auth_realm (the table in config.c names them), and the
 * questions asked of a built config about them: may CONNECT reach a port, is
 * a listener an open proxy, are passwords exposed, is authentication asked in
 * the right mode. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_int.h"
#include "hosts.h"

/* Adds one listen address. line is where it comes from in the file (0: a
 * default or the command line), kept so that a later duplicate can name it. */
int
cfg_listen_add(struct config *c, const char *v, int line, char *err, size_t errlen)
{
    struct cfg_listen l;
    int i, n;

    char word[WD_ADDRSTRLEN + 16];
    const char *opt = strchr(v, ' ');
    size_t alen = opt != NULL ? (size_t)(opt - v) : strlen(v);

    memset(&l, 0, sizeof(l));
    if (alen >= sizeof(word))
        alen = sizeof(word) - 1; /* too long for an address: it fails as one */
    memcpy(word, v, alen);
    word[alen] = '\0';
    if (addr_parse_listen(word, &l.addr, &l.addrlen, err, errlen) < 0)
        return -1;
    while (opt != NULL) {
        size_t wl;

        opt += strspn(opt, " ");
        wl = strcspn(opt, " ");
        if (wl == 0)
            break;
        if (wl == strlen("proxy_protocol") && memcmp(opt, "proxy_protocol", wl) == 0) {
            l.proxy_protocol = 1;
        } else {
            snprintf(word, sizeof(word), "%.*s", (int)wl, opt);
            return cfg_failv(err, errlen, "unknown listen option (expected proxy_protocol)", word);
        }
        opt += wl;
    }
    addr_format((struct sockaddr *)&l.addr, l.text, sizeof(l.text));
    l.line = line;
    for (i = 0; i < c->nlisten; i++) {
        if (addr_equal((struct sockaddr *)&c->listen[i].addr, (struct sockaddr *)&l.addr)) {
            n = snprintf(err, errlen, "duplicate address %s", l.text);
            if (c->listen[i].line > 0 && n >= 0 && (size_t)n < errlen)
                snprintf(err + n, errlen - (size_t)n, " (first on line %d)", c->listen[i].line);
            return -1;
        }
    }
    if (c->nlisten >= CFG_MAX_LISTEN) {
        snprintf(err, errlen, "too many addresses (at most %d)", CFG_MAX_LISTEN);
        return -1;
    }
    c->listen[c->nlisten++] = l;
    return 0;
}

/* The file's first listen line and -l, -H, -p replace the list (the
 * default, or the file's) rather than add to it. */
void
cfg_listen_clear(struct config *c)
{
    memset(c->listen, 0, sizeof(c->listen));
    c->nlisten = 0;
}

/* Appends: the reader calls cfg_listen_clear (the row's clear) first. */
int
cfg_set_listen(struct config *c, const struct directive *d, const char *v, int line, char *err,
               size_t errlen)
{
    return cfg_listen_add(c, v, line, err, errlen);
}

int
cfg_set_upstream(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen)
{
    char host[ADDR_HOSTMAX];
    uint16_t port;

    if (addr_parse_hostport(v, host, sizeof(host), &port, err, errlen) < 0)
        return -1;
    memcpy(c->upstream_host, host, sizeof(host));
    c->upstream_port = port;
    return 0;
}

/* Inserts [lo, hi] into the sorted, disjoint list r of *n ranges, merging it
 * with any range it overlaps or touches. Returns -1 when the result would not
 * fit in CFG_MAX_PORT_RANGES. */
static int
ports_insert(struct cfg_port_range *r, int *n, unsigned lo, unsigned hi)
{
    int i = 0, j, k;

    while (i < *n && (unsigned)r[i].hi + 1 < lo)
        i++;
    /* r[i..j) all overlap or touch [lo, hi]; they collapse into one. */
    for (j = i; j < *n && r[j].lo <= hi + 1; j++) {
        if (r[j].lo < lo)
            lo = r[j].lo;
        if (r[j].hi > hi)
            hi = r[j].hi;
    }
    if (j == i) {
        if (*n == CFG_MAX_PORT_RANGES)
            return -1;
        memmove(&r[i + 1], &r[i], (size_t)(*n - i) * sizeof(*r));
        (*n)++;
    } else if (j > i + 1) {
        k = j - i - 1;
        memmove(&r[i + 1], &r[j], (size_t)(*n - j) * sizeof(*r));
        *n -= k;
    }
    r[i].lo = (uint16_t)lo;
    r[i].hi = (uint16_t)hi;
    return 0;
}

/* The next blank-separated word of *p: its length (0 at the end), *p moved
 * to its first byte; copied into w (cut to wlen, for messages) when given. */
static size_t
next_word(const char **p, char *w, size_t wlen)
{
    size_t len;

    while (**p == ' ' || **p == '\t')
        (*p)++;
    len = strcspn(*p, " \t");
    if (len > 0 && w != NULL)
        snprintf(w, wlen, "%.*s", (int)len, *p); /* may be cut: it then fails as a word */
    return len;
}

/* "443 8443 1024-65535" or "any" into r[0..*nr). Overlapping and adjacent
 * ranges are merged, so the stored list is sorted and lookups stay short. */
static int
ports_parse(const char *v, struct cfg_port_range *r, int *nr, char *err, size_t errlen)
{
    char tok[80];
    const char *p = v, *dash;
    uint16_t lo, hi;
    size_t len;
    int n = 0, rc;

    if (strcmp(v, "any") == 0) {
        r[0].lo = 1;
        r[0].hi = 65535;
        *nr = 1;
        return 0;
    }
    while ((len = next_word(&p, tok, sizeof(tok))) > 0) {
        if (len == 3 && memcmp(p, "any", 3) == 0)
            return cfg_failv(err, errlen, "'any' cannot be mixed with ports", v);
        dash = memchr(p, '-', len);
        if (dash == NULL) {
            if ((rc = addr_parse_port(p, len, 0, &lo)) != 0)
                goto bad;
            hi = lo;
        } else {
            if ((rc = addr_parse_port(p, (size_t)(dash - p), 0, &lo)) != 0)
                goto bad;
            if ((rc = addr_parse_port(dash + 1, len - (size_t)(dash - p) - 1, 0, &hi)) != 0)
                goto bad;
            if (lo > hi)
                return cfg_failv(err, errlen, "port range runs backwards", tok);
        }
        if (ports_insert(r, &n, lo, hi) < 0) {
            snprintf(err, errlen, "too many port ranges (at most %d)", CFG_MAX_PORT_RANGES);
            return -1;
        }
        p += len;
    }
    if (n == 0)
        return cfg_failv(err, errlen, "expected ports and ranges such as 443 1024-65535, or 'any'",
                         v);
    *nr = n;
    return 0;
bad:
    return cfg_failv(err, errlen,
                     rc == ADDR_PORT_RANGE
                         ? "port out of range (1-65535)"
                         : "expected ports and ranges such as 443 1024-65535, or 'any'",
                     tok);
}

/* Parses into a scratch list and commits only a valid one. Unused slots are
 * zeroed so that two equal configs compare equal byte for byte. */
int
cfg_ports_set(const char *v, struct cfg_port_range *list, int *nlist, char *err, size_t errlen)
{
    struct cfg_port_range r[CFG_MAX_PORT_RANGES];
    int n = 0;

    if (ports_parse(v, r, &n, err, errlen) < 0)
        return -1;
    memcpy(list, r, (size_t)n * sizeof(*r));
    memset(&list[n], 0, (size_t)(CFG_MAX_PORT_RANGES - n) * sizeof(*r));
    *nlist = n;
    return 0;
}

int
cfg_set_connect_ports(struct config *c, const struct directive *d, const char *v, int line,
                      char *err, size_t errlen)
{
    if (cfg_ports_set(v, c->connect_ports, &c->nconnect_ports, err, errlen) < 0)
        return -1;
    c->connect_ports_given = 1;
    return 0;
}

int
cfg_ports_match(const struct cfg_port_range *r, int n, uint16_t port)
{
    int i;

    for (i = 0; i < n; i++)
        if (port >= r[i].lo && port <= r[i].hi)
            return 1;
    return 0;
}

int
config_port_allowed(const struct config *c, uint16_t port)
{
    if (c->connect_ports_open)
        return port != 0 && !config_bad_port(port);
    return cfg_ports_match(c->connect_ports, c->nconnect_ports, port);
}

/* The Fetch standard's "bad ports" (fetch.spec.whatwg.org, port blocking):
 * those browsers themselves refuse to connect to, sorted. */
static const uint16_t bad_ports[] = {
    1,    7,    9,    11,   13,   15,   17,   19,   20,   21,   22,   23,   25,   37,
    42,   43,   53,   69,   77,   79,   87,   95,   101,  102,  103,  104,  109,  110,
    111,  113,  115,  117,  119,  123,  135,  137,  139,  143,  161,  179,  389,  427,
    465,  512,  513,  514,  515,  526,  530,  531,  532,  540,  548,  554,  556,  563,
    587,  601,  636,  989,  990,  993,  995,  1719, 1720, 1723, 2049, 3659, 4045, 4190,
    5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080};

int
config_bad_port(uint16_t port)
{
    size_t lo = 0, hi = sizeof(bad_ports) / sizeof(bad_ports[0]);

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (bad_ports[mid] == port)
            return 1;
        if (bad_ports[mid] < port)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* allow and deny: each address becomes one rule, appended in file order.
 * The whole line is checked before any rule is added, so a refused line
 * changes nothing. A rule that an earlier one matches entirely could never
 * decide anything; it is refused, because it nearly always means that the
 * operator expected a later, narrower rule to win (nginx's order, not the
 * longest prefix, decides here too). */
int
cfg_set_acl(struct config *c, const struct directive *d, const char *v, int line, char *err,
            size_t errlen)
{
    struct acl_rule add[CFG_MAX_ACL_RULES];
    char w[80], earlier[ACL_TEXTLEN], what[160];
    const char *p = v;
    int nadd = 0, has_all = 0, is_all, i;
    size_t n;

    while ((n = next_word(&p, w, sizeof(w))) > 0) {
        p += n;
        is_all = strcmp(w, "all") == 0;
        if (nadd > 0 && (is_all || has_all))
            return cfg_failv(err, errlen, "'all' cannot be mixed with addresses", v);
        has_all = is_all;
        if (c->nacl + nadd == CFG_MAX_ACL_RULES) {
            snprintf(err, errlen, "too many allow and deny addresses (at most %d)",
                     CFG_MAX_ACL_RULES);
            return -1;
        }
        if (acl_parse(w, d->arg, &add[nadd], err, errlen) < 0)
            return -1;
        for (i = 0; i < c->nacl + nadd; i++) {
            const struct acl_rule *q = i < c->nacl ? &c->acl[i] : &add[i - c->nacl];

            if (acl_covers(q, &add[nadd])) {
                snprintf(what, sizeof(what), "never reached: the earlier '%s' matches all of it",
                         acl_format(q, earlier, sizeof(earlier)));
                return cfg_failv(err, errlen, what, w);
            }
        }
        nadd++;
    }
    if (nadd == 0)
        return cfg_failv(err, errlen, "expected 'all' or addresses such as 192.0.2.0/24", v);
    memcpy(&c->acl[c->nacl], add, (size_t)nadd * sizeof(add[0]));
    c->nacl += nadd;
    return 0;
}

/* proxy_protocol_from: addresses and networks (as allow takes them), or
 * all; lines add up. */
int
cfg_set_pp_from(struct config *c, const struct directive *d, const char *v, int line, char *err,
                size_t errlen)
{
    char w[80];
    const char *p = v;
    size_t n;

    while ((n = next_word(&p, w, sizeof(w))) > 0) {
        p += n;
        if (c->npp_from == CFG_MAX_ACL_RULES) {
            snprintf(err, errlen, "too many addresses (at most %d)", CFG_MAX_ACL_RULES);
            return -1;
        }
        if (acl_parse(w, ACL_ALLOW, &c->pp_from[c->npp_from], err, errlen) < 0)
            return -1;
        c->npp_from++;
    }
    return 0;
}

int
config_listen_open(const struct config *c, int i)
{
    return c->mode == MODE_FORWARD && c->nacl == 0 && c->nauth_users == 0 &&
           !addr_is_loopback((const struct sockaddr *)&c->listen[i].addr);
}

/* auth_user NAME PASSWORD: one user per line, in file order. Messages name
 * the user at most, never the password: they end up in logs and terminals. */
int
cfg_set_auth_user(struct config *c, const struct directive *d, const char *v, int line, char *err,
                  size_t errlen)
{
    char name[AUTH_NAME_MAX + 2];
    const char *sp = strchr(v, ' ');
    size_t nl;
    int i;

    /* The file parser joins a line's words with one space; two words make
     * exactly one. Neither part can hold a space or start a comment. */
    if (sp == NULL || strchr(sp + 1, ' ') != NULL) {
        snprintf(err, errlen,
                 "expected a user name and a password, one word each (no spaces in either)");
        return -1;
    }
    nl = (size_t)(sp - v);
    if (nl > AUTH_NAME_MAX) {
        snprintf(err, errlen, "user name longer than %d bytes", AUTH_NAME_MAX);
        return -1;
    }
    memcpy(name, v, nl);
    name[nl] = '\0';
    if (c->nauth_users == AUTH_MAX_USERS) {
        snprintf(err, errlen, "too many users (at most %d)", AUTH_MAX_USERS);
        return -1;
    }
    if (auth_user_set(&c->auth_users[c->nauth_users], name, sp + 1, err, errlen) < 0) {
        memset(&c->auth_users[c->nauth_users], 0, sizeof(c->auth_users[0]));
        return -1;
    }
    for (i = 0; i < c->nauth_users; i++) {
        if (strcmp(c->auth_users[i].name, name) == 0) {
            memset(&c->auth_users[c->nauth_users], 0, sizeof(c->auth_users[0]));
            snprintf(err, errlen, "user '%s' is defined twice", name);
            return -1;
        }
    }
    c->nauth_users++;
    if (c->auth_line == 0)
        c->auth_line = line; /* for cfg_check_auth_mode's message */
    return 0;
}

int
cfg_set_auth_realm(struct config *c, const struct directive *d, const char *v, int line, char *err,
                   size_t errlen)
{
    char what[128];

    if (!auth_realm_ok(v)) {
        snprintf(what, sizeof(what),
                 "expected 1-%d printable ASCII characters without '\"' or '\\'", AUTH_REALM_MAX);
        return cfg_failv(err, errlen, what, v);
    }
    strcpy(c->auth_realm, v);
    return 0;
}

int
config_auth_exposed(const struct config *c)
{
    return c->nauth_users > 0 && c->path[0] != '\0' && (c->path_mode & 044) != 0;
}

/* The Host value sent upstream in reverse mode: a name, IPv4 or [IPv6]
 * literal, optionally with :port. Only the characters such hosts use, so the
 * value can go into a request head as is. */
static int
host_header_ok(const char *v)
{
    const char *p = v, *port = NULL, *end;
    uint16_t x;

    if (*p == '[') {
        end = strchr(p, ']');
        if (end == NULL || end == p + 1)
            return 0;
        for (p++; p < end; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                  (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
                return 0;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1] != '\0')
            return 0;
    } else {
        for (; *p != '\0' && *p != ':'; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
                return 0;
        if (p == v)
            return 0;
        if (*p == ':')
            port = p + 1;
    }
    return port == NULL || addr_parse_port(port, strlen(port), 0, &x) == 0;
}

int
cfg_set_host_header(struct config *c, const struct directive *d, const char *v, int line, char *err,
                    size_t errlen)
{
    if (strlen(v) >= sizeof(c->upstream_host_header)) {
        snprintf(err, errlen, "host too long (at most %zu bytes)",
                 sizeof(c->upstream_host_header) - 1);
        return -1;
    }
    if (!host_header_ok(v))
        return cfg_failv(err, errlen,
                         "expected a host with an optional port, such as example.com:8080", v);
    strcpy(c->upstream_host_header, v);
    return 0;
}

/* Turns one resolver token into the text c-ares's ares_set_servers_ports_csv
 * reads: "192.0.2.1", "192.0.2.1:53", "2001:db8::1" or "[2001:db8::1]:53",
 * with the address in its canonical spelling. */
static int
resolver_entry(const char *tok, char *out, size_t outlen)
{
    char host[64], canon[64], *colon;
    const char *port_s = NULL, *end;
    struct sockaddr_storage ss;
    socklen_t len;
    uint16_t port = 0;
    size_t n;
    int bracketed = tok[0] == '[';

    if (bracketed) {
        end = strchr(tok, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':'))
            return -1;
        if (end[1] == ':')
            port_s = end + 2;
        tok++;
        n = (size_t)(end - tok);
    } else if ((end = strchr(tok, ':')) != NULL && strchr(end + 1, ':') == NULL) {
        n = (size_t)(end - tok); /* IPv4 with a port */
        port_s = end + 1;
    } else {
        n = strlen(tok); /* a bare IPv4 or IPv6 address: port 53 */
    }
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, tok, n);
    host[n] = '\0';
    if (port_s != NULL && addr_parse_port(port_s, strlen(port_s), 0, &port) != 0)
        return -1;
    if (addr_from_literal(host, port, &ss, &len) < 0)
        return -1;
    if (bracketed && ss.ss_family != AF_INET6)
        return -1;
    addr_format((struct sockaddr *)&ss, canon, sizeof(canon));
    if (port_s == NULL) {
        /* Drop the ":0" (and for IPv6 the brackets) that addr_format added. */
        colon = strrchr(canon, ':');
        *colon = '\0';
        if (ss.ss_family == AF_INET6) {
            colon[-1] = '\0';
            memmove(canon, canon + 1, strlen(canon));
        }
    }
    return (size_t)snprintf(out, outlen, "%s", canon) < outlen ? 0 : -1;
}

int
cfg_set_resolver(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen)
{
    char out[sizeof(c->resolver)], entry[80], tok[80];
    size_t o = 0, n;
    const char *p = v;
    int count = 0;

    if (strcmp(v, "system") == 0) {
        c->resolver[0] = '\0';
        return 0;
    }
    out[0] = '\0';
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        n = strcspn(p, " \t");
        if (n >= sizeof(tok))
            n = sizeof(tok) - 1; /* too long for any address; fails below */
        memcpy(tok, p, n);
        tok[n] = '\0';
        p += strcspn(p, " \t");
        if (strcmp(tok, "system") == 0)
            return cfg_failv(err, errlen, "'system' cannot be mixed with addresses", v);
        if (resolver_entry(tok, entry, sizeof(entry)) < 0)
            return cfg_failv(err, errlen,
                             "expected 'system' or numeric addresses such as 192.0.2.1, "
                             "192.0.2.1:53 or [2001:db8::1]:53",
                             tok);
        if (o + (count > 0) + strlen(entry) >= sizeof(out)) {
            snprintf(err, errlen, "too many addresses (the list is limited to %zu bytes)",
                     sizeof(out) - 1);
            return -1;
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", count > 0 ? "," : "", entry);
        count++;
    }
    if (count == 0)
        return cfg_failv(err, errlen, "expected 'system' or numeric addresses", v);
    memcpy(c->resolver, out, sizeof(out));
    return 0;
}

/* Reads the hosts file now, in the process that loads the configuration, so
 * that a worker never touches it. The default file may be missing or
 * unreadable (a bare container), which means no fixed answers, as for the C
 * library; a file the operator names must be there. */
int
cfg_set_hosts(struct config *c, const struct directive *d, const char *v, int line, char *err,
              size_t errlen)
{
    const struct hosts *h;
    int dflt = line == 0 && strcmp(v, d->def) == 0;

    if (strcmp(v, "off") == 0) {
        c->hosts = NULL;
        return 0;
    }
    if (v[0] != '/')
        return cfg_failv(err, errlen, "expected 'off' or an absolute path", v);
    if (hosts_load(v, dflt, &h, err, errlen) < 0) {
        if (!dflt)
            return -1;
        h = NULL;
    }
    c->hosts = h;
    return 0;
}
