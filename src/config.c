/* The configuration: built-in defaults, one table of directives shared by the
 * config file and the command line, and the checks that need the whole picture.
 * config_build assembles a complete config in a scratch copy and commits it only
 * when everything is valid, so a bad reload leaves the running config alone. */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "config_int.h"
#include "log.h"

#define LINE_MAXBYTES 4096 /* longest config line, without the newline */
#define MAX_TOKENS    32   /* directive name plus values on one line */
#define DAY_SECONDS   86400.0

/* Enumerated fields are set through an int pointer by cfg_set_keyword. */
_Static_assert(sizeof(enum cfg_mode) == sizeof(int), "enum cfg_mode is not int-sized");
_Static_assert(sizeof(enum cfg_shape) == sizeof(int), "enum cfg_shape is not int-sized");

/* How a path directive treats its special words. */
#define PATH_STDERR    0x1 /* "stderr" is kept as is */
#define PATH_OFF_KEEP  0x2 /* "off" is kept as is (the access log reads it) */
#define PATH_OFF_EMPTY 0x4 /* "off" is stored as "" (no file) */

/* How a duration directive treats 0. */
#define DUR_ZERO_OK 0x1 /* 0 is allowed and means "disabled" (keepalive_timeout) */

#define KIB           1024L
#define HEAD_SIZE_MIN (1 * KIB)    /* max_header_size bounds */
#define HEAD_SIZE_MAX (1024 * KIB) /* 1 MiB */

static const struct keyword mode_words[] = {
    {"forward", MODE_FORWARD}, {"reverse", MODE_REVERSE}, {"tcp", MODE_TCP}, {NULL, 0}};
const struct keyword cfg_shape_words[] = {
    {"off", SHAPE_OFF}, {"split", SHAPE_SPLIT}, {"warp", SHAPE_WARP}, {NULL, 0}};
static const struct keyword level_words[] = {{"error", LOG_LVL_ERROR},
                                             {"warn", LOG_LVL_WARN},
                                             {"info", LOG_LVL_INFO},
                                             {"debug", LOG_LVL_DEBUG},
                                             {NULL, 0}};
static const struct keyword onoff_words[] = {{"on", 1}, {"off", 0}, {NULL, 0}};
static const struct keyword tls_split_words[] = {{"off", CFG_TLS_SPLIT_OFF},
                                                 {"segment", CFG_TLS_SPLIT_SEGMENT},
                                                 {"record", CFG_TLS_SPLIT_RECORD},
                                                 {NULL, 0}};

/* Writes "expected ..., got 'v'" with v quoted safely (capped, escaped). */
int
cfg_failv(char *err, size_t errlen, const char *what, const char *v)
{
    char q[ADDR_QUOTELEN];

    addr_quote(v, q, sizeof(q));
    snprintf(err, errlen, "%s, got '%s'", what, q);
    return -1;
}

static int
fail_unknown(char *err, size_t errlen, const char *name)
{
    char q[ADDR_QUOTELEN];

    addr_quote(name, q, sizeof(q));
    snprintf(err, errlen, "unknown directive '%s'", q);
    return -1;
}

/* Parses a plain decimal number in [min, max]: no sign, no spaces, no hex. */
int
cfg_parse_long(const char *s, long min, long max, long *out)
{
    long v = 0;
    const char *p;

    if (*s == '\0')
        return -1;
    for (p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v <= max)
            v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
config_parse_duration(const char *s, double *out)
{
    double v = 0, frac = 0, scale = 1, mult;
    const char *p = s;
    int digits = 0, fdigits = 0;

    /* Long inputs are refused outright, so the arithmetic below stays exact enough. */
    if (s == NULL || strlen(s) > 32)
        return -1;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        v = v * 10 + (*p - '0');
    if (digits == 0)
        return -1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
            if (fdigits < 9) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }
        }
        if (fdigits == 0)
            return -1;
    }
    if (*p == '\0' || strcmp(p, "s") == 0)
        mult = 1;
    else if (strcmp(p, "ms") == 0)
        mult = 0.001;
    else if (strcmp(p, "m") == 0)
        mult = 60;
    else if (strcmp(p, "h") == 0)
        mult = 3600;
    else
        return -1;
    *out = (v + frac / scale) * mult;
    return 0;
}

/* Adds one listen address. *dup_of (when not NULL) receives the index of an
 * equal address already in the list, so the file parser can name its line. */
static int
listen_add(struct config *c, const char *v, int *dup_of, char *err, size_t errlen)
{
    struct cfg_listen l;
    int i;

    if (addr_parse_listen(v, &l.addr, &l.addrlen, err, errlen) < 0)
        return -1;
    addr_format((struct sockaddr *)&l.addr, l.text, sizeof(l.text));
    for (i = 0; i < c->nlisten; i++) {
        if (addr_equal((struct sockaddr *)&c->listen[i].addr, (struct sockaddr *)&l.addr)) {
            if (dup_of != NULL)
                *dup_of = i;
            snprintf(err, errlen, "duplicate address %s", l.text);
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

/* Appends: config_set never empties the list. The file parser (at its first
 * listen) and config_build (for -l, -H, -p) decide when a list starts afresh. */
static int
set_listen(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    return listen_add(c, v, NULL, err, errlen);
}

static int
set_workers(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    long n;

    if (strcmp(v, "auto") == 0) {
        c->workers = 0; /* resolved by config_finish */
        return 0;
    }
    if (cfg_parse_long(v, 1, CFG_MAX_WORKERS, &n) < 0) {
        char what[64];

        snprintf(what, sizeof(what), "expected 1-%d or 'auto'", CFG_MAX_WORKERS);
        return cfg_failv(err, errlen, what, v);
    }
    c->workers = (int)n;
    return 0;
}

static int
set_int(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    char what[64];
    long n;

    if (cfg_parse_long(v, d->min, d->max, &n) < 0) {
        snprintf(what, sizeof(what), "expected %ld-%ld", d->min, d->max);
        return cfg_failv(err, errlen, what, v);
    }
    *(int *)((char *)c + d->off) = (int)n;
    return 0;
}

int
cfg_set_keyword(struct config *c, const struct directive *d, const char *v, char *err,
                size_t errlen)
{
    char what[128];
    size_t n = 0, i, count = 0;

    for (i = 0; d->kw[i].name != NULL; i++) {
        if (strcmp(v, d->kw[i].name) == 0) {
            *(int *)((char *)c + d->off) = d->kw[i].value;
            return 0;
        }
        count++;
    }
    /* "expected a, b or c" built from the table so the message never drifts. */
    n = (size_t)snprintf(what, sizeof(what), "expected");
    for (i = 0; i < count && n < sizeof(what); i++)
        n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s",
                              i == 0 ? " " : (i + 1 == count ? " or " : ", "), d->kw[i].name);
    return cfg_failv(err, errlen, what, v);
}

static int
set_duration(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    double t;

    if (config_parse_duration(v, &t) < 0)
        return cfg_failv(err, errlen, "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h",
                         v);
    if ((d->flags & DUR_ZERO_OK) && !(t >= 0 && t <= DAY_SECONDS))
        return cfg_failv(err, errlen, "expected a duration from 0 to 1 day", v);
    if (!(d->flags & DUR_ZERO_OK) && (!(t > 0) || t > DAY_SECONDS))
        return cfg_failv(err, errlen, "expected a duration more than 0 and at most 1 day", v);
    *(double *)((char *)c + d->off) = t;
    return 0;
}

static int
set_upstream(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    char host[ADDR_HOSTMAX];
    uint16_t port;

    if (addr_parse_hostport(v, host, sizeof(host), &port, err, errlen) < 0)
        return -1;
    memcpy(c->upstream_host, host, sizeof(host));
    c->upstream_port = port;
    return 0;
}

/* A head size: plain bytes, or KiB with a k/K suffix ("64k"). No other units:
 * heads are small, and "m" would read as minutes next to the durations. */
static int
set_size(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    char digits[16];
    size_t n = strlen(v);
    long x = 0;
    int rc;

    if (n > 0 && (v[n - 1] == 'k' || v[n - 1] == 'K')) {
        if (n - 1 >= sizeof(digits))
            rc = -1;
        else {
            memcpy(digits, v, n - 1);
            digits[n - 1] = '\0';
            rc = cfg_parse_long(digits, HEAD_SIZE_MIN / KIB, HEAD_SIZE_MAX / KIB, &x);
            x *= KIB;
        }
    } else {
        rc = cfg_parse_long(v, HEAD_SIZE_MIN, HEAD_SIZE_MAX, &x);
    }
    if (rc < 0)
        return cfg_failv(err, errlen, "expected a size of 1024-1048576 bytes or 1k-1024k", v);
    *(size_t *)((char *)c + d->off) = (size_t)x;
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

/* Parses one port of a connect_ports or tls_split_ports token; 0 and >65535 are out of range. */
static int
port_number(const char *s, size_t len, unsigned *out, int *range_err)
{
    uint16_t port;
    int rc = addr_parse_port(s, len, 0, &port);

    *range_err = rc == ADDR_PORT_RANGE;
    if (rc != 0)
        return -1;
    *out = port;
    return 0;
}

/* "443 8443 1024-65535" or "any" into r[0..*nr). Overlapping and adjacent
 * ranges are merged, so the stored list is sorted and lookups stay short. */
static int
ports_parse(const char *v, struct cfg_port_range *r, int *nr, char *err, size_t errlen)
{
    char tok[80];
    const char *p = v, *dash;
    unsigned lo, hi;
    size_t len;
    int n = 0, range_err;

    if (strcmp(v, "any") == 0) {
        r[0].lo = 1;
        r[0].hi = 65535;
        *nr = 1;
        return 0;
    }
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        len = strcspn(p, " \t");
        snprintf(tok, sizeof(tok), "%.*s", (int)len, p); /* for messages; may be cut */
        if (len == 3 && memcmp(p, "any", 3) == 0)
            return cfg_failv(err, errlen, "'any' cannot be mixed with ports", v);
        dash = memchr(p, '-', len);
        if (dash == NULL) {
            if (port_number(p, len, &lo, &range_err) < 0)
                goto bad;
            hi = lo;
        } else {
            if (port_number(p, (size_t)(dash - p), &lo, &range_err) < 0)
                goto bad;
            if (port_number(dash + 1, len - (size_t)(dash - p) - 1, &hi, &range_err) < 0)
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
                     range_err ? "port out of range (1-65535)"
                               : "expected ports and ranges such as 443 1024-65535, or 'any'",
                     tok);
}

/* Parses into a scratch list and commits only a valid one. Unused slots are
 * zeroed so that two equal configs compare equal byte for byte. */
int
cfg_ports_set(const char *v, struct cfg_port_range *list, int *nlist, char *err, size_t errlen)
{
    struct cfg_port_range r[CFG_MAX_PORT_RANGES];
    int n;

    if (ports_parse(v, r, &n, err, errlen) < 0)
        return -1;
    memcpy(list, r, (size_t)n * sizeof(*r));
    memset(&list[n], 0, (size_t)(CFG_MAX_PORT_RANGES - n) * sizeof(*r));
    *nlist = n;
    return 0;
}

static int
set_connect_ports(struct config *c, const struct directive *d, const char *v, char *err,
                  size_t errlen)
{
    return cfg_ports_set(v, c->connect_ports, &c->nconnect_ports, err, errlen);
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
    return cfg_ports_match(c->connect_ports, c->nconnect_ports, port);
}

/* allow and deny: each address becomes one rule, appended in file order.
 * The whole line is checked before any rule is added, so a refused line
 * changes nothing. A rule that an earlier one matches entirely could never
 * decide anything; it is refused, because it nearly always means that the
 * operator expected a later, narrower rule to win (nginx's order, not the
 * longest prefix, decides here too). */
static int
set_acl(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    struct acl_rule add[CFG_MAX_ACL_RULES];
    char w[80], earlier[ACL_TEXTLEN], what[160];
    const char *p = v;
    int nadd = 0, has_all = 0, is_all, i;
    size_t n;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        n = strcspn(p, " \t");
        /* A longer word is no address; cut, it still fails as one. */
        snprintf(w, sizeof(w), "%.*s", (int)n, p);
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
        if (acl_parse(w, d->flags, &add[nadd], err, errlen) < 0)
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

int
config_listen_open(const struct config *c, int i)
{
    return c->mode == MODE_FORWARD && c->nacl == 0 && c->nauth_users == 0 &&
           !addr_is_loopback((const struct sockaddr *)&c->listen[i].addr);
}

/* auth_user NAME PASSWORD: one user per line, in file order. Messages name
 * the user at most, never the password: they end up in logs and terminals. */
static int
set_auth_user(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
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
    return 0;
}

static int
set_auth_realm(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
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

/* auth_user outside forward mode. The mode may come later in the file, or
 * from -m, so this is checked on the whole; the message still names the
 * line of the first auth_user when there is a file. */
static int
check_auth_mode(const struct config *c, char *err, size_t errlen)
{
    char where[CFG_PATHMAX + 32] = "";

    if (c->nauth_users == 0 || c->mode == MODE_FORWARD)
        return 0;
    if (c->path[0] != '\0' && c->auth_line > 0)
        snprintf(where, sizeof(where), "%s:%d: ", c->path, c->auth_line);
    snprintf(err, errlen,
             "%sauth_user: proxy authentication works only in forward mode, and the mode is %s "
             "(clients of a %s do not send Proxy-Authorization)",
             where, config_mode_name(c->mode), c->mode == MODE_TCP ? "TCP relay" : "reverse proxy");
    return -1;
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

static int
set_host_header(struct config *c, const struct directive *d, const char *v, char *err,
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

static int
set_resolver(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
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

static int
set_path(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    char *field = (char *)c + d->off;
    const char *what;

    if ((d->flags & PATH_STDERR) && strcmp(v, "stderr") == 0) {
        strcpy(field, "stderr");
        return 0;
    }
    if ((d->flags & (PATH_OFF_KEEP | PATH_OFF_EMPTY)) && strcmp(v, "off") == 0) {
        strcpy(field, (d->flags & PATH_OFF_KEEP) ? "off" : "");
        return 0;
    }
    /* Relative paths would depend on the working directory of a daemon. */
    if (v[0] != '/') {
        if ((d->flags & PATH_STDERR) && (d->flags & PATH_OFF_KEEP))
            what = "expected 'off', 'stderr' or an absolute path";
        else if (d->flags & PATH_STDERR)
            what = "expected 'stderr' or an absolute path";
        else
            what = "expected 'off' or an absolute path";
        return cfg_failv(err, errlen, what, v);
    }
    if (strlen(v) >= CFG_PATHMAX) {
        snprintf(err, errlen, "path too long (at most %d bytes)", CFG_PATHMAX - 1);
        return -1;
    }
    strcpy(field, v);
    return 0;
}

static int
set_user(struct config *c, const struct directive *d, const char *v, char *err, size_t errlen)
{
    struct passwd *pw;
    const char *p;

    if (strlen(v) >= sizeof(c->user))
        return cfg_failv(err, errlen, "user name too long", v);
    for (p = v; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || (*p == '-' && p != v) || (*p == '$' && p[1] == '\0')))
            return cfg_failv(err, errlen, "expected a user name", v);
    }
    if (v[0] == '\0')
        return cfg_failv(err, errlen, "expected a user name", v);
    /* Looked up here, not at the end, so that the error names the line. */
    errno = 0;
    pw = getpwnam(v);
    if (pw == NULL) {
        if (errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
            snprintf(err, errlen, "cannot look up user '%s': %s", v, strerror(errno));
        else
            snprintf(err, errlen, "unknown user '%s'", v);
        return -1;
    }
    strcpy(c->user, v);
    c->uid = pw->pw_uid;
    c->gid = pw->pw_gid;
    return 0;
}

#define F(field) .off = offsetof(struct config, field)

/* Every directive warpd knows. conf/warpd.conf and man/warpd.conf.5 describe
 * the same list for people. */
static const struct directive directives[] = {
    {.name = "listen", .set = set_listen, .help = "address to accept clients on (repeatable)"},
    {.name = "workers", .set = set_workers, .help = "worker processes, 1-64 or auto (CPUs)"},
    {.name = "mode", .set = cfg_set_keyword, F(mode), .kw = mode_words, .help = "what to proxy"},
    {.name = "upstream", .set = set_upstream, .help = "host:port for reverse and tcp modes"},
    {.name = "shape",
     .set = cfg_set_shape,
     F(shape),
     .multi = 1,
     .repeat = REPEAT_RULES,
     .kw = cfg_shape_words,
     .help = "default strategy, or a strategy for host patterns (repeatable)"},
    {.name = "connect_timeout",
     .set = set_duration,
     F(connect_timeout),
     .help = "TCP connect to one upstream address"},
    {.name = "resolve_timeout",
     .set = set_duration,
     F(resolve_timeout),
     .help = "one DNS resolution"},
    {.name = "idle_timeout",
     .set = set_duration,
     F(idle_timeout),
     .help = "silence either way in a session"},
    {.name = "shutdown_timeout",
     .set = set_duration,
     F(shutdown_timeout),
     .help = "how long a stopping worker lets sessions finish"},
    {.name = "max_connections",
     .set = set_int,
     F(max_connections),
     .min = 1,
     .max = 1000000,
     .help = "client connections per worker"},
    {.name = "allow",
     .set = set_acl,
     .multi = 1,
     .repeat = REPEAT_ANY,
     .flags = ACL_ALLOW,
     .help = "clients that may connect: addresses, networks or all (repeatable)"},
    {.name = "deny",
     .set = set_acl,
     .multi = 1,
     .repeat = REPEAT_ANY,
     .flags = ACL_DENY,
     .help = "clients refused at accept: addresses, networks or all (repeatable)"},
    {.name = "auth_user",
     .set = set_auth_user,
     .multi = 1,
     .repeat = REPEAT_ANY,
     .help = "forward mode: a user name and password for Basic proxy authentication"},
    {.name = "auth_realm",
     .set = set_auth_realm,
     .multi = 1,
     .help = "forward mode: the realm of the 407 challenge"},
    {.name = "header_timeout",
     .set = set_duration,
     F(header_timeout),
     .help = "from a request's first byte to the end of its head (408)"},
    {.name = "keepalive_timeout",
     .set = set_duration,
     F(keepalive_timeout),
     .flags = DUR_ZERO_OK,
     .help = "idle time between client requests; 0 disables client keep-alive"},
    {.name = "response_timeout",
     .set = set_duration,
     F(response_timeout),
     .help = "wait for the upstream's response head after the request (504)"},
    {.name = "max_header_size",
     .set = set_size,
     F(max_header_size),
     .help = "largest request head (431) or response head (502): bytes or k"},
    {.name = "connect_ports",
     .set = set_connect_ports,
     .multi = 1,
     .help = "ports and ranges CONNECT may reach, or 'any'"},
    {.name = "via",
     .set = cfg_set_keyword,
     F(via),
     .kw = onoff_words,
     .help = "add a Via header to forwarded messages"},
    {.name = "upstream_host",
     .set = set_host_header,
     .help = "reverse mode: Host sent upstream instead of the client's"},
    {.name = "upstream_keepalive",
     .set = set_int,
     F(upstream_keepalive),
     .min = 0,
     .max = 1024,
     .help = "idle upstream connections kept per host:port per worker; 0 = none"},
    {.name = "upstream_keepalive_timeout",
     .set = set_duration,
     F(upstream_keepalive_timeout),
     .help = "how long an idle pooled upstream connection is kept"},
    {.name = "resolver",
     .set = set_resolver,
     .multi = 1,
     .help = "DNS servers, or 'system' for /etc/resolv.conf"},
    {.name = "log",
     .set = set_path,
     F(log),
     .flags = PATH_STDERR,
     .help = "error log: stderr or a file"},
    {.name = "log_level",
     .set = cfg_set_keyword,
     F(log_level),
     .kw = level_words,
     .help = "least severe messages logged"},
    {.name = "access_log",
     .set = set_path,
     F(access_log),
     .flags = PATH_STDERR | PATH_OFF_KEEP,
     .help = "one line per session: off, stderr or a file"},
    {.name = "pidfile",
     .set = set_path,
     F(pidfile),
     .flags = PATH_OFF_EMPTY,
     .help = "pid file of the supervisor: off or a file"},
    {.name = "user", .set = set_user, .help = "user the workers switch to after binding"},
    {.name = "shape_delay",
     .set = cfg_set_ms,
     F(shape_delay_ms),
     .help = "warp: pause after the request line, 0-10s"},
    {.name = "shape_dummy_headers",
     .set = set_int,
     F(shape_dummy_headers),
     .min = 0,
     .max = 256,
     .help = "warp: dummy header lines after the request line"},
    {.name = "shape_dummy_length",
     .set = set_int,
     F(shape_dummy_length),
     .min = 1,
     .max = 1024,
     .help = "warp: bytes of a dummy header value"},
    {.name = "shape_dummy_name_length",
     .set = set_int,
     F(shape_dummy_name_length),
     .min = 1,
     .max = 64,
     .help = "warp: random letters after X- in a dummy header name"},
    {.name = "shape_fragment",
     .set = cfg_set_fragment,
     .multi = 1,
     .help = "warp: first Host fragment length, then the range of the others (1 2-4)"},
    {.name = "shape_fragment_delay",
     .set = cfg_set_frag_delays,
     .multi = 1,
     .help = "warp: 1-4 pauses, one picked at random before each Host fragment"},
    {.name = "shape_split_pos",
     .set = set_int,
     F(shape_split_pos),
     .min = 1,
     .max = 255,
     .help = "split inside the Host value after this many bytes"},
    {.name = "shape_split_method",
     .set = cfg_set_keyword,
     F(shape_split_method),
     .kw = onoff_words,
     .help = "also split the request line after the method"},
    {.name = "shape_split_path",
     .set = set_int,
     F(shape_split_path),
     .min = 0,
     .max = 8192,
     .help = "also split inside the path after this many bytes; 0 = no"},
    {.name = "shape_host_header",
     .set = cfg_set_host_name,
     .help = "spelling of the Host field name: host, HOST, hOsT ..."},
    {.name = "shape_mixed_case",
     .set = cfg_set_keyword,
     F(shape_mixed_case),
     .kw = onoff_words,
     .help = "randomise the letter case of the Host value"},
    {.name = "shape_reused",
     .set = cfg_set_keyword,
     F(shape_reused),
     .kw = onoff_words,
     .help = "also shape requests sent on reused (keep-alive) upstream connections"},
    {.name = "tls_split",
     .set = cfg_set_keyword,
     F(tls_split),
     .kw = tls_split_words,
     .help = "CONNECT: split the TLS ClientHello inside the SNI name"},
    {.name = "tls_split_ports",
     .set = cfg_set_tls_split_ports,
     .multi = 1,
     .help = "CONNECT ports whose ClientHello tls_split shapes, or 'any'"},
    {.name = "shape_seed",
     .set = cfg_set_seed,
     .help = "seed of the shaping random generator; 0 = random per worker"},
};

#undef F

static const struct directive *
find_directive(const char *name)
{
    size_t i;

    for (i = 0; i < WD_ARRAY_SIZE(directives); i++)
        if (strcmp(directives[i].name, name) == 0)
            return &directives[i];
    return NULL;
}

void
config_init(struct config *c)
{
    memset(c, 0, sizeof(*c));
    addr_parse_listen("127.0.0.1:8800", &c->listen[0].addr, &c->listen[0].addrlen, NULL, 0);
    addr_format((struct sockaddr *)&c->listen[0].addr, c->listen[0].text,
                sizeof(c->listen[0].text));
    c->nlisten = 1;
    c->workers = 0; /* auto */
    c->mode = MODE_FORWARD;
    c->shape = SHAPE_SPLIT;
    c->connect_timeout = 10;
    c->resolve_timeout = 5;
    c->idle_timeout = 300;
    c->shutdown_timeout = 10;
    c->max_connections = 4096;
    c->header_timeout = 30;
    c->keepalive_timeout = 60;
    c->response_timeout = 60;
    c->max_header_size = 64 * KIB;
    c->connect_ports[0].lo = 443;
    c->connect_ports[0].hi = 443;
    c->nconnect_ports = 1;
    c->via = 1;
    c->upstream_keepalive = 16;
    c->upstream_keepalive_timeout = 30;
    strcpy(c->auth_realm, "warpd");
    strcpy(c->log, "stderr");
    c->log_level = LOG_LVL_INFO;
    strcpy(c->access_log, "stderr");
    /* Shaping: WARP's numbers. */
    c->shape_delay_ms = 200;
    c->shape_dummy_headers = 32;
    c->shape_dummy_length = 128;
    c->shape_dummy_name_length = 16;
    c->shape_frag_first = 1;
    c->shape_frag_min = 2;
    c->shape_frag_max = 4;
    c->shape_frag_delays[0] = 200;
    c->shape_frag_delays[1] = 300;
    c->nshape_frag_delays = 2;
    c->shape_split_pos = 1;
    c->shape_reused = 1;
    c->tls_split = CFG_TLS_SPLIT_SEGMENT;
    c->tls_split_ports[0].lo = 443;
    c->tls_split_ports[0].hi = 443;
    c->ntls_split_ports = 1;
}

int
config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen)
{
    const struct directive *d = find_directive(name);
    const char *p;

    if (d == NULL)
        return fail_unknown(err, errlen, name);
    if (value == NULL) {
        snprintf(err, errlen, "missing value");
        return -1;
    }
    /* The file parser has already refused these; the command line has not. */
    for (p = value; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return cfg_failv(err, errlen, "control character in value", value);
    return d->set(c, d, value, err, errlen);
}

/* Reads one line into buf without its newline. Returns 1 for a line, 0 at the
 * end of the file, -1 for a line longer than LINE_MAXBYTES, -2 on a read error. */
static int
read_line(FILE *f, char *buf, size_t *len)
{
    size_t n = 0;
    int ch;

    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n == LINE_MAXBYTES)
            return -1;
        buf[n++] = (char)ch;
    }
    if (ch == EOF && ferror(f))
        return -2;
    if (ch == EOF && n == 0)
        return 0;
    buf[n] = '\0';
    *len = n;
    return 1;
}

/* Rejects bytes that have no business in a config line; says which one. */
static int
check_bytes(const char *buf, size_t len, char *msg, size_t msglen)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (ch == '\0') {
            snprintf(msg, msglen, "NUL byte in line");
            return -1;
        }
        if (ch == '\r') {
            snprintf(msg, msglen, "carriage return in line (DOS line endings?)");
            return -1;
        }
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            snprintf(msg, msglen, "control character 0x%02x in line", ch);
            return -1;
        }
    }
    return 0;
}

/* Splits a line into tokens in place. '#' at the start of a token begins a
 * comment; inside a token (a path "a#b") it is an ordinary byte. */
static int
tokenize(char *p, char **tok, int max)
{
    int n = 0;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            return n;
        if (n == max)
            return -1;
        tok[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
}

/* Applies the file's directives to c in order and stops at the first error.
 * On failure c holds a partial result; config_build works on a scratch copy
 * for that reason. */
int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    char line[LINE_MAXBYTES + 1], value[LINE_MAXBYTES + 1], msg[512];
    char *tok[MAX_TOKENS];
    int first[WD_ARRAY_SIZE(directives)] = {0};
    int listen_line[CFG_MAX_LISTEN] = {0};
    int lineno = 0, ntok, i, r, dup, repeats, rc = -1;
    const struct directive *d;
    size_t len, o, idx;
    struct stat st;
    FILE *f;

    if (strlen(path) >= sizeof(c->path)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    strcpy(c->path, path);
    /* Of the file as opened, for the warning about readable passwords. */
    c->path_mode = fstat(fileno(f), &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
    for (;;) {
        lineno++;
        r = read_line(f, line, &len);
        if (r == 0)
            break;
        if (r == -2) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            goto out;
        }
        if (r == -1) {
            snprintf(msg, sizeof(msg), "line too long (more than %d bytes)", LINE_MAXBYTES);
            goto fail;
        }
        if (check_bytes(line, len, msg, sizeof(msg)) < 0)
            goto fail;
        ntok = tokenize(line, tok, MAX_TOKENS);
        if (ntok == 0)
            continue;
        if (ntok < 0) {
            snprintf(msg, sizeof(msg), "too many values (at most %d)", MAX_TOKENS - 1);
            goto fail;
        }
        d = find_directive(tok[0]);
        if (d == NULL) {
            fail_unknown(msg, sizeof(msg), tok[0]);
            goto fail;
        }
        if (d->multi ? ntok < 2 : ntok != 2) {
            snprintf(msg, sizeof(msg), "'%s' takes %s", d->name,
                     d->multi ? "one or more values" : "one value");
            goto fail;
        }
        idx = (size_t)(d - directives);
        /* "shape warp *.example.com" and "allow 10.0.0.0/8" add rules, as
         * many lines as wanted; a one-value shape line is the default
         * strategy and counts for the duplicate check. */
        repeats = d->repeat == REPEAT_ANY || (d->repeat == REPEAT_RULES && ntok > 2);
        if (d->set == set_listen) {
            /* The file's first listen replaces the built-in default. */
            if (first[idx] == 0)
                c->nlisten = 0;
        } else if (!repeats && first[idx] != 0) {
            snprintf(msg, sizeof(msg), "duplicate directive '%s' (first on line %d)", d->name,
                     first[idx]);
            goto fail;
        }
        if (first[idx] == 0 && !repeats)
            first[idx] = lineno;
        for (o = 0, i = 1; i < ntok; i++)
            o += (size_t)snprintf(value + o, sizeof(value) - o, "%s%s", i > 1 ? " " : "", tok[i]);

        if (d->set == set_listen) {
            dup = -1;
            if (listen_add(c, value, &dup, msg + 8, sizeof(msg) - 8) < 0) {
                memcpy(msg, "listen: ", 8);
                if (dup >= 0)
                    snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (first on line %d)",
                             listen_line[dup]);
                snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
                goto out;
            }
            listen_line[c->nlisten - 1] = lineno;
            continue;
        }
        if (d->set(c, d, value, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, d->name, msg);
            goto out;
        }
        if (d->set == set_auth_user && c->auth_line == 0)
            c->auth_line = lineno;
    }
    rc = 0;
    goto out;
fail:
    snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
out:
    fclose(f);
    return rc;
}

int
config_finish(struct config *c, char *err, size_t errlen)
{
    if (c->nlisten == 0) {
        snprintf(err, errlen, "no listen address");
        return -1;
    }
    if (c->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        c->workers = n < 1 ? 1 : n > CFG_MAX_WORKERS ? CFG_MAX_WORKERS : (int)n;
    }
    if (c->mode != MODE_FORWARD && c->upstream_host[0] == '\0') {
        snprintf(err, errlen, "mode %s needs an upstream (directive 'upstream' or option -u)",
                 config_mode_name(c->mode));
        return -1;
    }
    if (c->mode == MODE_FORWARD && c->upstream_host[0] != '\0') {
        snprintf(err, errlen, "upstream is used only in reverse and tcp modes");
        return -1;
    }
    if (c->mode != MODE_REVERSE && c->upstream_host_header[0] != '\0') {
        snprintf(err, errlen, "upstream_host is used only in reverse mode");
        return -1;
    }
    return check_auth_mode(c, err, errlen);
}

/* Formats a command-line error as "option -x: problem". */
static int
opt_fail(char *err, size_t errlen, const char *opt, const char *msg)
{
    snprintf(err, errlen, "option %s: %s", opt, msg);
    return -1;
}

int
config_build(struct config *out, const struct cli_opts *o, char *err, size_t errlen)
{
    /* Scratch copy: *out changes only when the whole config is valid. */
    struct config c;
    char msg[512], text[ADDR_HOSTMAX + 16];
    const struct {
        const char *opt, *name, *value;
    } sets[] = {
        {"-w", "workers", o->workers},
        {"-m", "mode", o->mode},
        {"-u", "upstream", o->upstream},
        {"-s", "shape", o->shape},
    };
    size_t i;
    int k;

    config_init(&c);
    if (o->config_path != NULL && config_load_file(&c, o->config_path, err, errlen) < 0)
        return -1;
    /* -s sets the default strategy only; host rules belong in the file. */
    if (o->shape != NULL && strpbrk(o->shape, " \t") != NULL)
        return opt_fail(err, errlen, "-s",
                        "expected one of off, split or warp (host rules go in the file)");

    /* -l, -H and -p all replace the file's listen list. */
    if (o->nlisten > 0 || o->warp_host != NULL || o->warp_port != NULL) {
        c.nlisten = 0;
        for (k = 0; k < o->nlisten; k++)
            if (listen_add(&c, o->listen[k], NULL, msg, sizeof(msg)) < 0)
                return opt_fail(err, errlen, "-l", msg);
        if (o->warp_host != NULL || o->warp_port != NULL) {
            const char *h = o->warp_host != NULL ? o->warp_host : "127.0.0.1";
            const char *p = o->warp_port != NULL ? o->warp_port : "8800";
            const char *opt = o->warp_host == NULL ? "-p" : o->warp_port == NULL ? "-H" : "-H/-p";
            /* An IPv6 host needs brackets once a port follows it. */
            int v6 = strchr(h, ':') != NULL && h[0] != '[';

            if (strlen(h) + strlen(p) + 4 > sizeof(text))
                return opt_fail(err, errlen, opt, "address too long");
            snprintf(text, sizeof(text), "%s%s%s:%s", v6 ? "[" : "", h, v6 ? "]" : "", p);
            if (listen_add(&c, text, NULL, msg, sizeof(msg)) < 0)
                return opt_fail(err, errlen, opt, msg);
        }
    }
    for (i = 0; i < WD_ARRAY_SIZE(sets); i++)
        if (sets[i].value != NULL &&
            config_set(&c, sets[i].name, sets[i].value, msg, sizeof(msg)) < 0)
            return opt_fail(err, errlen, sets[i].opt, msg);
    if (o->verbose > 0)
        c.log_level =
            c.log_level + o->verbose > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : c.log_level + o->verbose;
    if (o->quiet)
        c.log_level = LOG_LVL_ERROR; /* -q wins over -v */

    /* auth_user in the wrong mode has a line to point at: checked first,
     * with its own location. */
    if (check_auth_mode(&c, err, errlen) < 0)
        return -1;
    /* Whole-config problems name the file, when there is one, so that the
     * operator knows where to look; they have no single line to point at. */
    if (config_finish(&c, msg, sizeof(msg)) < 0) {
        if (c.path[0] != '\0')
            snprintf(err, errlen, "%s: %s", c.path, msg);
        else
            snprintf(err, errlen, "%s", msg);
        return -1;
    }
    *out = c;
    return 0;
}

const char *
config_mode_name(enum cfg_mode m)
{
    switch (m) {
    case MODE_FORWARD:
        return "forward";
    case MODE_REVERSE:
        return "reverse";
    case MODE_TCP:
        return "tcp";
    }
    return "?";
}
