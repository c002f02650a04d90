/* The request-shaping part of the configuration: the setters of the shape,
 * shape_* and tls_split_ports directives (the table in config.c names them),
 * and the lookups the proxy makes per destination: which strategy a host
 * gets, whether a CONNECT port has its ClientHello split. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_int.h"

#define SHAPE_MS_MAX 10000 /* longest shaping pause: 10 s */

/* The words of shape (and -s). */
const struct keyword cfg_shape_words[] = {
    {"off", SHAPE_OFF},           {"split", SHAPE_SPLIT}, {"warp", SHAPE_WARP},
    {"disorder", SHAPE_DISORDER}, {"fake", SHAPE_FAKE},   {"oob", SHAPE_OOB},
    {"tlsrec", SHAPE_TLSREC},     {"auto", SHAPE_AUTO},   {NULL, 0}};

/* Copies the next space-separated word of *p into w (cut to wlen-1 bytes;
 * *cut says so) and moves *p past it. Returns 0 when no word is left. */
static int
next_word(const char **p, char *w, size_t wlen, int *cut)
{
    size_t n;

    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p == '\0')
        return 0;
    n = strcspn(*p, " \t");
    *cut = n >= wlen;
    if (n >= wlen)
        n = wlen - 1;
    memcpy(w, *p, n);
    w[n] = '\0';
    *p += strcspn(*p, " \t");
    return 1;
}

/* One shaping pause in whole milliseconds, 0 to 10 s. Sub-millisecond parts
 * are rounded to the nearest millisecond (the executor's timer resolution). */
static int
parse_ms(const char *v, int *ms, char *err, size_t errlen)
{
    double t;

    if (config_parse_duration(v, &t) < 0)
        return cfg_failv(err, errlen, "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h",
                         v);
    /* The slack lets "10000ms" (10000 * 0.001 in binary) through. */
    if (!(t >= 0 && t <= SHAPE_MS_MAX / 1000.0 + 1e-9))
        return cfg_failv(err, errlen, "expected a duration from 0 to 10s", v);
    *ms = (int)(t * 1000 + 0.5);
    return 0;
}

int
cfg_set_ms(struct config *c, const struct directive *d, const char *v, int line, char *err,
           size_t errlen)
{
    int ms = 0;

    if (parse_ms(v, &ms, err, errlen) < 0)
        return -1;
    *(int *)((char *)c + d->off) = ms;
    return 0;
}

/* A host pattern, lowercased into out: "name", "*.name" or "*", where name
 * is dot-separated non-empty labels of [a-z0-9-]. Anything else could never
 * match a host name, so it is refused rather than kept as a dead rule. */
static int
shape_pattern(const char *w, char *out)
{
    const char *p = w;
    size_t o = 0;
    int label = 0; /* bytes in the current label */

    if (strcmp(w, "*") == 0) {
        strcpy(out, "*");
        return 0;
    }
    if (p[0] == '*' && p[1] == '.') {
        out[o++] = '*';
        out[o++] = '.';
        p += 2;
    }
    for (; *p != '\0'; p++) {
        char ch = *p;

        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch == '.') {
            if (label == 0)
                return -1;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-') {
            label++;
        } else {
            return -1;
        }
        out[o++] = ch;
    }
    if (label == 0)
        return -1; /* empty, or ends with a dot */
    out[o] = '\0';
    return 0;
}

/* The refusal of a word that names no strategy, listing what would do. */
static int
unknown_strategy(const struct config *c, const char *w, char *err, size_t errlen)
{
    char what[256];
    size_t o = 0;
    int i;

    (void)c;
    o = (size_t)snprintf(what, sizeof(what), "expected");
    for (i = 0; cfg_shape_words[i].name != NULL; i++)
        o += (size_t)snprintf(what + o, sizeof(what) - o, "%s %s", i > 0 ? "," : "",
                              cfg_shape_words[i].name);
    snprintf(what + o, sizeof(what) - o, " or the name of a strategy line above");
    return cfg_failv(err, errlen, what, w);
}

/* "off|split|warp|..." sets the default strategy; "STRATEGY PATTERN..." appends
 * one rule per pattern. Rules are checked in full before any is added, so a
 * refused line changes nothing. */
int
cfg_set_shape(struct config *c, const struct directive *d, const char *v, int line, char *err,
              size_t errlen)
{
    struct cfg_shape_rule add[CFG_MAX_SHAPE_RULES];
    char w[CFG_SHAPE_PATTERN + 1];
    const char *p = v;
    int shape, nadd = 0, cut, i;

    if (!next_word(&p, w, sizeof(w), &cut) || cut)
        return unknown_strategy(c, v, err, errlen);
    if (p[strspn(p, " \t")] == '\0') {
        /* One word: the default strategy (trailing blanks are refused). */
        if (strcmp(v, w) != 0 || (shape = config_shape_lookup(c, w)) < 0)
            return unknown_strategy(c, v, err, errlen);
        c->shape = shape;
        c->shape_given = 1;
        return 0;
    }
    if ((shape = config_shape_lookup(c, w)) < 0)
        return unknown_strategy(c, w, err, errlen);
    while (next_word(&p, w, sizeof(w), &cut)) {
        if (cut || strlen(w) >= CFG_SHAPE_PATTERN) {
            snprintf(err, errlen, "host pattern too long (at most %d bytes)",
                     CFG_SHAPE_PATTERN - 1);
            return -1;
        }
        if (c->nshape_rules + nadd == CFG_MAX_SHAPE_RULES) {
            snprintf(err, errlen, "too many shape rules (at most %d)", CFG_MAX_SHAPE_RULES);
            return -1;
        }
        memset(&add[nadd], 0, sizeof(add[nadd]));
        if (shape_pattern(w, add[nadd].pattern) < 0)
            return cfg_failv(err, errlen,
                             "expected a host pattern such as example.com, *.example.com or *", w);
        /* The same pattern twice: the second rule could never apply. */
        for (i = 0; i < c->nshape_rules + nadd; i++) {
            const char *q =
                i < c->nshape_rules ? c->shape_rules[i].pattern : add[i - c->nshape_rules].pattern;

            if (strcmp(q, add[nadd].pattern) == 0)
                return cfg_failv(err, errlen, "host pattern already has a rule", w);
        }
        add[nadd].shape = shape;
        nadd++;
    }
    memcpy(&c->shape_rules[c->nshape_rules], add, (size_t)nadd * sizeof(add[0]));
    c->nshape_rules += nadd;
    return 0;
}

/* Whether host[0..len) (lowercase not assumed) matches a stored pattern. */
static int
pattern_match(const char *pat, const char *host, size_t len)
{
    size_t plen;

    if (strcmp(pat, "*") == 0)
        return 1;
    if (pat[0] == '*') {
        pat++; /* ".example.com": a proper suffix, so the bare domain is no match */
        plen = strlen(pat);
        return len > plen && strncasecmp(host + len - plen, pat, plen) == 0;
    }
    plen = strlen(pat);
    return len == plen && strncasecmp(host, pat, plen) == 0;
}

int
config_shape_for(const struct config *c, const char *host)
{
    size_t len;
    int i;

    if (host == NULL)
        return c->shape;
    len = strlen(host);
    if (len > 0 && host[len - 1] == '.')
        len--; /* "example.com." is the same host as "example.com" */
    if (len == 0)
        return c->shape;
    for (i = 0; i < c->nshape_rules; i++)
        if (pattern_match(c->shape_rules[i].pattern, host, len))
            return c->shape_rules[i].shape;
    return c->shape;
}

/* A fragment length 1-64 from one word. */
static int
frag_len(const char *s, size_t n, long *out)
{
    char buf[8];

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return cfg_parse_long(buf, 1, 64, out);
}

/* "FIRST MIN-MAX", such as "1 2-4". */
int
cfg_set_fragment(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen)
{
    static const char what[] = "expected a first length and a range such as 1 2-4, each 1-64";
    char first[32], range[32], extra[2];
    const char *p = v, *dash;
    long f, lo, hi;
    int cut1, cut2, cut3;

    if (!next_word(&p, first, sizeof(first), &cut1) ||
        !next_word(&p, range, sizeof(range), &cut2) || next_word(&p, extra, sizeof(extra), &cut3))
        return cfg_failv(err, errlen, what, v);
    if (cut1 || frag_len(first, strlen(first), &f) < 0)
        return cfg_failv(err, errlen, what, first);
    dash = strchr(range, '-');
    if (cut2 || dash == NULL || frag_len(range, (size_t)(dash - range), &lo) < 0 ||
        frag_len(dash + 1, strlen(dash + 1), &hi) < 0)
        return cfg_failv(err, errlen, what, range);
    if (lo > hi)
        return cfg_failv(err, errlen, "fragment range runs backwards", range);
    c->shape_frag_first = (int)f;
    c->shape_frag_min = (int)lo;
    c->shape_frag_max = (int)hi;
    return 0;
}

/* One to four pauses; each fragment waits one of them, chosen at random. */
int
cfg_set_frag_delays(struct config *c, const struct directive *d, const char *v, int line, char *err,
                    size_t errlen)
{
    int ms[CFG_MAX_FRAG_DELAYS] = {0}, n = 0, cut;
    char w[64];
    const char *p = v;

    while (next_word(&p, w, sizeof(w), &cut)) {
        if (n == CFG_MAX_FRAG_DELAYS) {
            snprintf(err, errlen, "too many delays (at most %d)", CFG_MAX_FRAG_DELAYS);
            return -1;
        }
        /* A cut word is longer than any duration, so parse_ms refuses it too. */
        if (parse_ms(w, &ms[n], err, errlen) < 0)
            return -1;
        n++;
    }
    if (n == 0)
        return cfg_failv(err, errlen, "expected 1 to 4 durations such as 200ms 300ms", v);
    memcpy(c->shape_frag_delays, ms, sizeof(ms));
    c->nshape_frag_delays = n;
    return 0;
}

/* The spelling of the Host field name: any case of "host", nothing else
 * (another name would not be a Host header at all). */
int
cfg_set_host_name(struct config *c, const struct directive *d, const char *v, int line, char *err,
                  size_t errlen)
{
    if (strcasecmp(v, "host") != 0)
        return cfg_failv(err, errlen, "expected the word host in any letter case", v);
    strcpy(c->shape_host_header, v);
    return 0;
}

#define SEED_MAX 9223372036854775808ULL /* 2^63 */

int
cfg_set_seed(struct config *c, const struct directive *d, const char *v, int line, char *err,
             size_t errlen)
{
    uint64_t x = 0, digit;
    const char *p;
    int over = 0;

    for (p = v; *p >= '0' && *p <= '9'; p++) {
        digit = (uint64_t)(*p - '0');
        if (x > (SEED_MAX - digit) / 10)
            over = 1; /* keeps scanning so that "99...9x" is refused for the x too */
        else
            x = x * 10 + digit;
    }
    if (p == v || *p != '\0' || over)
        return cfg_failv(err, errlen, "expected 0-9223372036854775808", v);
    c->shape_seed = x;
    return 0;
}

int
cfg_set_tls_split_ports(struct config *c, const struct directive *d, const char *v, int line,
                        char *err, size_t errlen)
{
    return cfg_ports_set(v, c->tls_split_ports, &c->ntls_split_ports, err, errlen);
}

int
config_tls_split_port(const struct config *c, uint16_t port)
{
    return cfg_ports_match(c->tls_split_ports, c->ntls_split_ports, port);
}

const char *
config_shape_name(const struct config *c, int s)
{
    int i;

    if (c != NULL && s >= SHAPE_USER && s - SHAPE_USER < c->nstrategies)
        return c->strategies[s - SHAPE_USER].name;
    for (i = 0; cfg_shape_words[i].name != NULL; i++)
        if (cfg_shape_words[i].value == s)
            return cfg_shape_words[i].name;
    return "?";
}

int
config_shape_lookup(const struct config *c, const char *name)
{
    int i;

    for (i = 0; cfg_shape_words[i].name != NULL; i++)
        if (strcmp(cfg_shape_words[i].name, name) == 0)
            return cfg_shape_words[i].value;
    for (i = 0; c != NULL && i < c->nstrategies; i++)
        if (strcmp(c->strategies[i].name, name) == 0)
            return SHAPE_USER + i;
    return -1;
}

/* A strategy name: 1-31 of [a-z0-9_-], starting with a letter. */
static int
strategy_name_ok(const char *w)
{
    size_t n = strlen(w);

    if (n == 0 || n >= SHAPE_NAME_MAX || !(w[0] >= 'a' && w[0] <= 'z'))
        return 0;
    return strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* "strategy NAME STEP...": a named list of steps (shape_step.h), usable by
 * shape, -s and shape_auto on the lines after it. */
int
cfg_set_strategy(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen)
{
    struct shape_strategy st;
    char w[256], why[160];
    const char *p = v;
    int cut;

    (void)d;
    (void)line;
    memset(&st, 0, sizeof(st));
    if (!next_word(&p, w, sizeof(w), &cut) || cut || !strategy_name_ok(w))
        return cfg_failv(err, errlen,
                         "expected a strategy name (a-z, 0-9, _ and -, at most 31, a letter first)",
                         w);
    if (config_shape_lookup(c, w) >= 0)
        return cfg_failv(err, errlen,
                         config_shape_lookup(NULL, w) >= 0 ? "a built-in strategy has this name"
                                                           : "strategy already defined",
                         w);
    if (c->nstrategies == CFG_MAX_STRATEGIES) {
        snprintf(err, errlen, "too many strategies (at most %d)", CFG_MAX_STRATEGIES);
        return -1;
    }
    strcpy(st.name, w);
    while (next_word(&p, w, sizeof(w), &cut)) {
        if (st.nstep == SHAPE_MAX_STEPS) {
            snprintf(err, errlen, "too many steps (at most %d)", SHAPE_MAX_STEPS);
            return -1;
        }
        if (cut || shape_step_parse(w, &st.step[st.nstep], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "step '%.64s%s': %s", w, cut ? "..." : "",
                     cut ? "too long" : why);
            return -1;
        }
        st.nstep++;
    }
    if (st.nstep == 0)
        return cfg_failv(err, errlen, "expected one or more steps after the name", st.name);
    c->strategies[c->nstrategies++] = st;
    return 0;
}

/* "shape_auto NAME...": the strategies auto tries, in order; any but auto. */
int
cfg_set_shape_auto(struct config *c, const struct directive *d, const char *v, int line, char *err,
                   size_t errlen)
{
    int add[CFG_MAX_AUTO], n = 0, id, cut, i;
    char w[CFG_SHAPE_PATTERN];
    const char *p = v;

    (void)d;
    (void)line;
    while (next_word(&p, w, sizeof(w), &cut)) {
        if ((id = config_shape_lookup(c, w)) < 0)
            return unknown_strategy(c, w, err, errlen);
        if (id == SHAPE_AUTO)
            return cfg_failv(err, errlen, "auto cannot try itself", w);
        for (i = 0; i < n; i++)
            if (add[i] == id)
                return cfg_failv(err, errlen, "strategy listed twice", w);
        if (n == CFG_MAX_AUTO) {
            snprintf(err, errlen, "too many strategies (at most %d)", CFG_MAX_AUTO);
            return -1;
        }
        add[n++] = id;
    }
    memcpy(c->shape_auto, add, sizeof(add[0]) * (size_t)n);
    c->nshape_auto = n;
    return 0;
}

/* "shape_auto_block_hosts PATTERN...": a redirect to one of these hosts is
 * a block page. Replaces the list (the directive appears once). */
int
cfg_set_block_hosts(struct config *c, const struct directive *d, const char *v, int line, char *err,
                    size_t errlen)
{
    char pat[CFG_MAX_BLOCK_HOSTS][CFG_SHAPE_PATTERN], w[CFG_SHAPE_PATTERN];
    const char *p = v;
    int n = 0, cut;

    (void)d;
    (void)line;
    if (strcmp(v, "off") == 0) {
        c->nshape_auto_block_hosts = 0;
        return 0;
    }
    while (next_word(&p, w, sizeof(w), &cut)) {
        if (n == CFG_MAX_BLOCK_HOSTS) {
            snprintf(err, errlen, "too many hosts (at most %d)", CFG_MAX_BLOCK_HOSTS);
            return -1;
        }
        if (cut || shape_pattern(w, pat[n]) < 0)
            return cfg_failv(err, errlen,
                             "expected a host pattern such as warning.example, *.example or off",
                             w);
        n++;
    }
    memcpy(c->shape_auto_block_hosts, pat, sizeof(pat[0]) * (size_t)n);
    c->nshape_auto_block_hosts = n;
    return 0;
}

/* shape_fake_host, shape_fake_sni: a host name (the shape pattern rules
 * without the wildcard) for the fake pieces. */
int
cfg_set_fake_name(struct config *c, const struct directive *d, const char *v, int line, char *err,
                  size_t errlen)
{
    char name[CFG_SHAPE_PATTERN];

    (void)line;
    if (strlen(v) >= ADDR_HOSTMAX || strlen(v) >= sizeof(name) || v[0] == '*' ||
        shape_pattern(v, name) < 0)
        return cfg_failv(err, errlen, "expected a host name such as www.example.com", v);
    strcpy((char *)c + d->off, name);
    return 0;
}

/* Whether host (a name, no port) matches one of shape_auto_block_hosts. */
int
config_block_host(const struct config *c, const char *host)
{
    size_t len = strlen(host);
    int i;

    if (len > 0 && host[len - 1] == '.')
        len--;
    for (i = 0; i < c->nshape_auto_block_hosts; i++)
        if (len > 0 && pattern_match(c->shape_auto_block_hosts[i], host, len))
            return 1;
    return 0;
}
