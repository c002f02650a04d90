/* The destination filter's part of the configuration: the setter of
 * deny_dest and allow_dest (one list, file order), the check that they are
 * used in a mode that has client-chosen destinations, and the question a
 * worker asks before each connect: may warpd connect to this address? The
 * safe default (loopback, link-local, unspecified and warpd's own listen
 * addresses refused when warpd listens on a network) is decided here too. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_int.h"

/* The safe default, tried after the configured rules. */
static const struct {
    struct dest_rule rule;
    const char *what;
} dest_defaults[] = {
    {{.net = {.action = ACL_DENY, .family = ACL_V4, .prefix = 8, .net = {127}}}, "loopback"},
    {{.net = {.action = ACL_DENY, .family = ACL_V6, .prefix = 128, .net = {[15] = 1}}}, "loopback"},
    {{.net = {.action = ACL_DENY, .family = ACL_V4, .prefix = 16, .net = {169, 254}}},
     "link-local"},
    {{.net = {.action = ACL_DENY, .family = ACL_V6, .prefix = 10, .net = {0xfe, 0x80}}},
     "link-local"},
    /* 0.0.0.0/8 is "this host on this network" (RFC 1122): Linux connects
     * 0.0.0.0 to the machine itself. */
    {{.net = {.action = ACL_DENY, .family = ACL_V4, .prefix = 8, .net = {0}}}, "unspecified"},
    {{.net = {.action = ACL_DENY, .family = ACL_V6, .prefix = 128, .net = {0}}}, "unspecified"},
};

/* deny_dest and allow_dest: each word becomes one rule, appended in file
 * order; the whole line is checked before any rule is added, so a refused
 * line changes nothing. A rule that an earlier one matches entirely could
 * never decide anything and is refused, as allow and deny refuse theirs. */
int
cfg_set_dest(struct config *c, const struct directive *d, const char *v, int line, char *err,
             size_t errlen)
{
    struct dest_rule add[CFG_MAX_DEST_RULES];
    char w[96], earlier[DEST_TEXTLEN], what[DEST_TEXTLEN + 64];
    const char *p = v;
    int nadd = 0;
    size_t n;

    for (;;) {
        p += strspn(p, " \t");
        n = strcspn(p, " \t");
        if (n == 0)
            break;
        snprintf(w, sizeof(w), "%.*s", (int)n, p); /* may be cut: it then fails as a word */
        p += n;
        if (c->ndest + nadd == CFG_MAX_DEST_RULES) {
            snprintf(err, errlen, "too many deny_dest and allow_dest rules (at most %d)",
                     CFG_MAX_DEST_RULES);
            return -1;
        }
        if (dest_parse(w, d->arg, &add[nadd], err, errlen) < 0)
            return -1;
        for (int i = 0; i < c->ndest + nadd; i++) {
            const struct dest_rule *q = i < c->ndest ? &c->dest[i] : &add[i - c->ndest];

            if (dest_covers(q, &add[nadd])) {
                snprintf(what, sizeof(what), "never reached: the earlier '%s' matches all of it",
                         dest_format(q, earlier, sizeof(earlier)));
                return cfg_failv(err, errlen, what, w);
            }
        }
        nadd++;
    }
    if (nadd == 0)
        return cfg_failv(err, errlen, "expected addresses or networks such as 10.0.0.0/8", v);
    memcpy(&c->dest[c->ndest], add, (size_t)nadd * sizeof(add[0]));
    if (c->ndest == 0)
        c->dest_line = line;
    c->ndest += nadd;
    return 0;
}

int
cfg_dest_check_mode(const struct config *c, char *err, size_t errlen)
{
    char where[CFG_PATHMAX + 32] = "";

    if (c->ndest == 0 || c->mode == MODE_FORWARD || c->mode == MODE_TRANSPARENT)
        return 0;
    if (c->path[0] != '\0' && c->dest_line > 0)
        snprintf(where, sizeof(where), "%s:%d: ", c->path, c->dest_line);
    /* The mode's name spelled here: config.c, which calls this file, has
     * config_mode_name, and calls go one way. */
    snprintf(err, errlen,
             "%sdeny_dest/allow_dest: the destination filter works in forward and transparent "
             "modes only, and the mode is %s (its upstream is the configured one)",
             where, c->mode == MODE_REVERSE ? "reverse" : "tcp");
    return -1;
}

int
config_dest_default(const struct config *c)
{
    for (int i = 0; i < c->nlisten; i++)
        if (!addr_is_loopback((const struct sockaddr *)&c->listen[i].addr))
            return 1;
    return 0;
}

int
config_dest_allowed(const struct config *c, const struct sockaddr *sa, char *why, size_t whylen)
{
    int i = dest_find(c->dest, c->ndest, sa);
    size_t k;

    if (i >= 0) {
        if (c->dest[i].net.action == ACL_ALLOW)
            return 1;
        dest_format(&c->dest[i], why, whylen);
        return 0;
    }
    if (!config_dest_default(c))
        return 1;
    for (k = 0; k < sizeof(dest_defaults) / sizeof(dest_defaults[0]); k++) {
        if (dest_match(&dest_defaults[k].rule, sa)) {
            snprintf(why, whylen, "default: %s", dest_defaults[k].what);
            return 0;
        }
    }
    for (i = 0; i < c->nlisten; i++) {
        if (addr_reaches((const struct sockaddr *)&c->listen[i].addr, sa)) {
            snprintf(why, whylen, "default: warpd's own listen address");
            return 0;
        }
    }
    return 1;
}
