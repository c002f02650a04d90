/* The stats page's text: the request line read, the Prometheus exposition
 * (one # HELP and # TYPE per family, then its samples) and the summary for
 * people, made into one malloc'd answer. The counters are the sum over every
 * worker slot (those of workers that died included: the totals never go
 * back); the descriptor and memory gauges are read from /proc for each live
 * worker, here, so that the workers pay nothing for them. */
#include "stats_text.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

/* A growing text; oom set once an allocation failed. */
struct sb {
    char *b;
    size_t len, cap;
    int oom;
};

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sb *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (s->oom)
        return;
    for (;;) {
        size_t room = s->cap - s->len;

        va_start(ap, fmt);
        n = vsnprintf(s->b != NULL ? s->b + s->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            s->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            s->len += (size_t)n;
            return;
        }
        char *nb = realloc(s->b, s->cap + (size_t)n + 4096);
        if (nb == NULL) {
            s->oom = 1;
            return;
        }
        s->b = nb;
        s->cap += (size_t)n + 4096;
    }
}

static const char *const intake_names[METRICS_NINTAKES] = {
    NULL, "http", "connect", "socks", "tcp", "transparent",
};

/* ---- the request ---------------------------------------------------------- */

void
stats_text_parse(const char *head, size_t len, struct stats_request *rq)
{
    const char *sp, *path, *end = head + len;
    size_t plen;

    memset(rq, 0, sizeof(*rq));
    rq->status = 400;
    sp = memchr(head, ' ', len);
    if (sp == NULL)
        return;
    path = sp + 1;
    end = memchr(path, ' ', (size_t)(end - path));
    if (end == NULL || memchr(head, '\n', (size_t)(end - head)) != NULL)
        return;
    if ((size_t)(sp - head) == 3 && memcmp(head, "GET", 3) == 0) {
        rq->head = 0;
    } else if ((size_t)(sp - head) == 4 && memcmp(head, "HEAD", 4) == 0) {
        rq->head = 1;
    } else {
        rq->status = 405;
        return;
    }
    plen = (size_t)(end - path);
    for (size_t i = 0; i < plen; i++)
        if (path[i] == '?') /* a scraper's parameters change nothing */
            plen = i;
    rq->status = 200;
    if (plen == 8 && memcmp(path, "/metrics", 8) == 0)
        rq->page = STATS_PAGE_METRICS;
    else if (plen == 1 && path[0] == '/')
        rq->page = STATS_PAGE_SUMMARY;
    else
        rq->status = 404;
}

/* ---- /proc --------------------------------------------------------------- */

/* Open descriptors of pid, or -1 when /proc cannot say. */
static long
proc_fds(pid_t pid)
{
    char path[64];
    struct dirent *e;
    long n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Resident memory of pid in bytes, or -1. */
static long long
proc_rss(pid_t pid)
{
    char path[64];
    unsigned long size, rss;
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    if ((f = fopen(path, "re")) == NULL)
        return -1;
    ok = fscanf(f, "%lu %lu", &size, &rss) == 2;
    fclose(f);
    return ok ? (long long)rss * sysconf(_SC_PAGESIZE) : -1;
}

/* ---- /metrics ------------------------------------------------------------ */

static void
family(struct sb *s, const char *name, const char *type, const char *help)
{
    sb_printf(s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(struct sb *s, const char *name, const char *type, const char *help, unsigned long long v)
{
    family(s, name, type, help);
    sb_printf(s, "%s %llu\n", name, v);
}

/* A family with one label: values[i] under label value names[i]. */
static void
labelled(struct sb *s, const char *name, const char *type, const char *help, const char *label,
         const char *const *names, const uint64_t *values, int n)
{
    family(s, name, type, help);
    for (int i = 0; i < n; i++)
        if (names[i] != NULL)
            sb_printf(s, "%s{%s=\"%s\"} %lld\n", name, label, names[i], (long long)values[i]);
}

/* A family by strategy: the built-ins and the configuration's strategy lines. */
static void
by_strategy(struct sb *s, const char *name, const char *help, const struct config *cfg,
            const uint64_t *v)
{
    family(s, name, "counter", help);
    for (int i = 0; i < METRICS_STRATEGIES; i++) {
        if (i > SHAPE_AUTO && (i < SHAPE_USER || i - SHAPE_USER >= cfg->nstrategies))
            continue;
        sb_printf(s, "%s{strategy=\"%s\"} %llu\n", name, config_shape_name(cfg, i),
                  (unsigned long long)v[i]);
    }
}

static void
connections(struct sb *s, const struct metrics_slot *m)
{
    static const char *const reasons[] = {"acl", "limit", "auth"};
    static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    static const char *const dirs[] = {"client_to_upstream", "upstream_to_client"};
    uint64_t refused[] = {m->refused_acl, m->refused_limit, m->refused_auth};
    uint64_t bytes[] = {m->bytes_from_client, m->bytes_to_client};

    one(s, "warpd_connections_accepted_total", "counter", "Client connections accepted.",
        m->accepted);
    labelled(s, "warpd_connections_refused_total", "counter",
             "Client connections refused, by reason.", "reason", reasons, refused, 3);
    labelled(s, "warpd_sessions_total", "counter", "Client sessions begun, by intake.", "intake",
             intake_names, m->sessions, METRICS_NINTAKES);
    labelled(s, "warpd_sessions_active", "gauge", "Client sessions open now, by intake.", "intake",
             intake_names, (const uint64_t *)m->active, METRICS_NINTAKES);
    labelled(s, "warpd_http_requests_total", "counter",
             "HTTP requests answered, by status class (other: closed without a status).", "class",
             classes, m->requests, 6);
    labelled(s, "warpd_bytes_total", "counter",
             "Bytes read from clients (client_to_upstream) and written to them "
             "(upstream_to_client).",
             "direction", dirs, bytes, 2);
}

static void
upstreams(struct sb *s, const struct metrics_slot *m)
{
    static const char *const reasons[] = {"refused", "timeout", "other"};
    uint64_t fails[] = {m->up_fail_refused, m->up_fail_timeout, m->up_fail_other};

    one(s, "warpd_upstream_connects_total", "counter", "Upstream connects that succeeded.",
        m->up_connects);
    labelled(s, "warpd_upstream_connect_failures_total", "counter",
             "Upstream connect attempts that failed, by reason.", "reason", reasons, fails, 3);
    one(s, "warpd_upstream_pool_reuses_total", "counter",
        "Requests sent on a kept-alive upstream connection.", m->pool_reuses);
    one(s, "warpd_upstream_pool_misses_total", "counter",
        "Requests that found no kept-alive upstream connection.", m->pool_misses);
    one(s, "warpd_dns_lookups_total", "counter", "Names sent to the DNS resolver.", m->dns_lookups);
    one(s, "warpd_dns_cache_hits_total", "counter", "Names answered from the DNS cache.",
        m->dns_cache_hits);
    one(s, "warpd_dns_failures_total", "counter", "DNS lookups that failed or found nothing.",
        m->dns_failures);
}

/* Descriptors and memory of each live worker, read from /proc. */
static void
workers(struct sb *s, const struct stats_proc *procs, int n)
{
    int live = 0;

    for (int i = 0; i < n; i++)
        live += procs[i].pid != 0;
    one(s, "warpd_workers", "gauge", "Worker processes running.", (unsigned long long)live);
    family(s, "warpd_worker_open_fds", "gauge", "Open file descriptors of a worker.");
    for (int i = 0; i < n; i++)
        if (procs[i].pid != 0)
            sb_printf(s, "warpd_worker_open_fds{worker=\"%d\",pid=\"%d\",generation=\"%d\"} %ld\n",
                      procs[i].slot, (int)procs[i].pid, procs[i].gen, proc_fds(procs[i].pid));
    family(s, "warpd_worker_rss_bytes", "gauge", "Resident memory of a worker.");
    for (int i = 0; i < n; i++)
        if (procs[i].pid != 0)
            sb_printf(s,
                      "warpd_worker_rss_bytes{worker=\"%d\",pid=\"%d\",generation=\"%d\"} %lld\n",
                      procs[i].slot, (int)procs[i].pid, procs[i].gen, proc_rss(procs[i].pid));
}

static void
metrics_body(struct sb *s, const struct config *cfg, const struct stats_proc *procs, int n)
{
    struct metrics_slot m;
    const struct metrics_sup *sup = metrics_sup();

    metrics_sum(&m);
    connections(s, &m);
    upstreams(s, &m);
    by_strategy(s, "warpd_shape_uses_total",
                "First flights shaped, by strategy (auto: the "
                "strategy of each try).",
                cfg, m.shape_uses);
    by_strategy(s, "warpd_shape_auto_tries_total", "Tries of shape auto, by strategy tried.", cfg,
                m.auto_tries);
    by_strategy(s, "warpd_shape_auto_wins_total",
                "Tries of shape auto that got an answer, by strategy.", cfg, m.auto_wins);
    one(s, "warpd_worker_restarts_total", "counter", "Workers respawned after an unexpected exit.",
        (unsigned long long)sup->restarts);
    one(s, "warpd_reloads_total", "counter", "Configuration reloads completed.",
        (unsigned long long)sup->reloads);
    workers(s, procs, n);
}

char *
stats_text_metrics(const struct config *cfg, const struct stats_proc *procs, int n, size_t *len)
{
    struct sb s = {0};

    metrics_body(&s, cfg, procs, n);
    if (s.oom || s.b == NULL) {
        free(s.b);
        return NULL;
    }
    *len = s.len;
    return s.b;
}

/* ---- / -------------------------------------------------------------------- */

static void
summary_body(struct sb *s, const struct config *cfg, const struct stats_proc *procs, int n)
{
    struct metrics_slot m;
    long long active = 0, live = 0;

    metrics_sum(&m);
    for (int i = 1; i < METRICS_NINTAKES; i++)
        active += m.active[i];
    for (int i = 0; i < n; i++)
        live += procs[i].pid != 0;
    sb_printf(s, "warpd: %s mode, %lld worker(s)\n\n", config_mode_name(cfg->mode), live);
    sb_printf(s, "connections accepted  %llu (refused: %llu acl, %llu limit, %llu auth)\n",
              (unsigned long long)m.accepted, (unsigned long long)m.refused_acl,
              (unsigned long long)m.refused_limit, (unsigned long long)m.refused_auth);
    sb_printf(s, "sessions open         %lld\n", active);
    sb_printf(s, "http answers          1xx %llu, 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu\n",
              (unsigned long long)m.requests[1], (unsigned long long)m.requests[2],
              (unsigned long long)m.requests[3], (unsigned long long)m.requests[4],
              (unsigned long long)m.requests[5]);
    sb_printf(s, "bytes                 %llu from clients, %llu to clients\n",
              (unsigned long long)m.bytes_from_client, (unsigned long long)m.bytes_to_client);
    sb_printf(s, "upstream connects     %llu (failed: %llu refused, %llu timeout, %llu other)\n",
              (unsigned long long)m.up_connects, (unsigned long long)m.up_fail_refused,
              (unsigned long long)m.up_fail_timeout, (unsigned long long)m.up_fail_other);
    sb_printf(s, "worker restarts       %llu, reloads %llu\n",
              (unsigned long long)metrics_sup()->restarts,
              (unsigned long long)metrics_sup()->reloads);
    sb_printf(s, "\nEvery counter, for Prometheus: /metrics\n");
}

/* ---- the answer ------------------------------------------------------------ */

static const char *
reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    default:
        return "Bad Request";
    }
}

char *
stats_text_answer(const struct stats_request *rq, const struct config *cfg,
                  const struct stats_proc *procs, int n, size_t *len)
{
    struct sb body = {0}, s = {0};
    const char *ctype = "text/plain; charset=utf-8";

    if (rq->status == 200 && rq->page == STATS_PAGE_METRICS) {
        metrics_body(&body, cfg, procs, n);
        ctype = "text/plain; version=0.0.4; charset=utf-8";
    } else if (rq->status == 200) {
        summary_body(&body, cfg, procs, n);
    } else {
        sb_printf(&body, "%d %s\n", rq->status, reason(rq->status));
    }
    sb_printf(&s,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              rq->status, reason(rq->status), ctype, body.len,
              rq->status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!rq->head && body.len > 0 && !body.oom)
        sb_printf(&s, "%.*s", (int)body.len, body.b);
    free(body.b);
    if (s.oom || body.oom) {
        free(s.b);
        return NULL;
    }
    *len = s.len;
    return s.b;
}
