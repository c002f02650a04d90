/* The metrics page's directives: stats_listen (off, or the numeric address
 * the supervisor serves /metrics on) and stats_allow (the readers it
 * answers; the others get 403). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config_int.h"

int
cfg_set_stats_listen(struct config *c, const struct directive *d, const char *v, int line,
                     char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (strcmp(v, "off") == 0) {
        memset(&c->stats_addr, 0, sizeof(c->stats_addr));
        c->stats_addrlen = 0;
        c->stats_text[0] = '\0';
        return 0;
    }
    if (addr_parse_listen(v, &ss, &len, err, errlen) < 0)
        return -1;
    if (ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port == 0
                                : ((struct sockaddr_in6 *)&ss)->sin6_port == 0)
        return cfg_failv(err, errlen, "expected off or ADDR:PORT with a port", v);
    c->stats_addr = ss;
    c->stats_addrlen = len;
    addr_format((struct sockaddr *)&ss, c->stats_text, sizeof(c->stats_text));
    return 0;
}

/* The whole list in one line, which replaces the default: "all", or
 * addresses and networks as allow takes them. */
int
cfg_set_stats_allow(struct config *c, const struct directive *d, const char *v, int line, char *err,
                    size_t errlen)
{
    struct acl_rule add[CFG_MAX_STATS_ALLOW];
    char w[80];
    const char *p = v;
    int n = 0;

    while (*p != '\0') {
        size_t len;

        while (*p == ' ' || *p == '\t')
            p++;
        len = strcspn(p, " \t");
        if (len == 0)
            break;
        snprintf(w, sizeof(w), "%.*s", (int)len, p);
        p += len;
        if (n == CFG_MAX_STATS_ALLOW) {
            snprintf(err, errlen, "too many addresses (at most %d)", CFG_MAX_STATS_ALLOW);
            return -1;
        }
        if (acl_parse(w, ACL_ALLOW, &add[n], err, errlen) < 0)
            return -1;
        n++;
    }
    if (n == 0)
        return cfg_failv(err, errlen, "expected 'all' or addresses such as 127.0.0.1", v);
    memcpy(c->stats_allow, add, (size_t)n * sizeof(add[0]));
    c->nstats_allow = n;
    return 0;
}
