/* The bytes of the stats page: the request line read (method and path), and
 * the whole answer made (status line, head, body): /metrics in the
 * Prometheus text exposition format 0.0.4, / a few lines for people, 403,
 * 404 and 405 for the rest. Reads the shared counters (metrics.h) and each
 * worker's /proc/PID/fd and /proc/PID/statm; no sockets. */
#ifndef WARPD_STATS_TEXT_H
#define WARPD_STATS_TEXT_H

#include <stddef.h>

#include "config.h"
#include "stats.h"

enum { STATS_PAGE_NONE, STATS_PAGE_METRICS, STATS_PAGE_SUMMARY };

struct stats_request {
    int status; /* 200, or the error to answer (400, 403, 404, 405) */
    int head;   /* HEAD: the answer has no body */
    int page;   /* STATS_PAGE_*, when status is 200 */
};

/* Reads the request line of head[0..len) into rq. */
void stats_text_parse(const char *head, size_t len, struct stats_request *rq);
/* The answer to rq, malloc'd, with its length in *len; NULL when out of
 * memory. procs: the supervisor's n process entries (the metrics slots). */
char *stats_text_answer(const struct stats_request *rq, const struct config *cfg,
                        const struct stats_proc *procs, int n, size_t *len);
/* The /metrics body alone, malloc'd (for tests); NULL when out of memory. */
char *stats_text_metrics(const struct config *cfg, const struct stats_proc *procs, int n,
                         size_t *len);

#endif
