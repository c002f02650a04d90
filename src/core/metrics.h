/* Counters of what the workers do, for the stats page (proc/stats.c). They
 * live in one anonymous shared mapping made by the supervisor before the
 * first fork: one cache-line-aligned slot per worker process entry of the
 * supervisor (METRICS_SLOTS), written only by the process that owns the
 * entry, with plain increments (no lock, no atomic instruction), and summed
 * by the supervisor when the page is read.
 *
 * Why plain increments are enough: each slot has exactly one writer, and the
 * counters are naturally aligned 64-bit words, which x86-64 (and arm64)
 * load and store in one piece, so the reader sees either the value before
 * an increment or the one after it, never a torn mix; a sum may lag the
 * workers by the increments under way, which a scrape cannot tell from a
 * scrape a microsecond earlier. On a 32-bit machine a read could tear at a
 * 2^32 carry; the counters are then approximate.
 *
 * A worker that dies leaves its counters in its slot; the next worker the
 * supervisor starts in that entry adds to them, so the sums never go back.
 * The gauges (active sessions by intake) of a dead worker are zeroed by the
 * supervisor when it reaps it.
 *
 * Without a shared mapping (unit tests, warpd -t, a failed mmap) the
 * increments go to a private slot and cost the same. This file calls no
 * other module of warpd: everything may call it. */
#ifndef WARPD_METRICS_H
#define WARPD_METRICS_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* Worker process entries of the supervisor (its SUP_MAX_PROCS). */
#define METRICS_SLOTS      (2 * CFG_MAX_WORKERS + 8)
#define METRICS_STRATEGIES (SHAPE_USER + CFG_MAX_STRATEGIES)

/* Intakes whose active sessions are counted (session.intake). */
enum metrics_intake {
    METRICS_INTAKE_NONE = 0, /* not yet known (forward mode before the first byte) */
    METRICS_INTAKE_HTTP,
    METRICS_INTAKE_CONNECT,
    METRICS_INTAKE_SOCKS,
    METRICS_INTAKE_TCP,
    METRICS_INTAKE_TRANSPARENT,
    METRICS_NINTAKES
};

/* The counters of one worker. Counters only grow; gauges go up and down. */
struct metrics_slot {
    uint64_t accepted;                       /* client connections accepted */
    uint64_t refused_acl;                    /* refused by allow/deny */
    uint64_t refused_limit;                  /* accept at a descriptor/memory limit */
    uint64_t refused_auth;                   /* proxy authentication failed (407, SOCKS) */
    uint64_t sessions[METRICS_NINTAKES];     /* sessions begun, by intake */
    int64_t active[METRICS_NINTAKES];        /* gauge: sessions open, by intake */
    uint64_t requests[6];                    /* HTTP answers by status class 1xx..5xx; [0] other */
    uint64_t bytes_from_client;              /* read from clients (towards upstreams) */
    uint64_t bytes_to_client;                /* written to clients (from upstreams) */
    uint64_t up_connects;                    /* upstream connects that succeeded */
    uint64_t up_fail_refused;                /* ... refused (RST) */
    uint64_t up_fail_timeout;                /* ... no answer within connect_timeout */
    uint64_t up_fail_other;                  /* ... unreachable, no address, ... */
    uint64_t dns_lookups;                    /* queries sent to the resolver */
    uint64_t dns_cache_hits;                 /* names answered from the cache */
    uint64_t dns_failures;                   /* lookups that found nothing or failed */
    uint64_t pool_reuses;                    /* requests on a kept-alive upstream connection */
    uint64_t pool_misses;                    /* requests that had to connect */
    uint64_t shape_uses[METRICS_STRATEGIES]; /* first flights shaped, by strategy */
    uint64_t auto_tries[METRICS_STRATEGIES]; /* auto: tries, by strategy tried */
    uint64_t auto_wins[METRICS_STRATEGIES];  /* auto: tries that got an answer */
} __attribute__((aligned(64)));

/* Process-wide counters the supervisor keeps (it writes them itself). */
struct metrics_sup {
    uint64_t restarts; /* workers respawned after an unexpected exit */
    uint64_t reloads;  /* configurations reloaded (SIGHUP) and running */
} __attribute__((aligned(64)));

/* The calling worker's slot: the shared one once attached, else a private
 * one. Never NULL. */
extern struct metrics_slot *metrics_self;

#define METRIC_INC(field)    (metrics_self->field++)
#define METRIC_ADD(field, n) (metrics_self->field += (uint64_t)(n))

/* Maps the slots (zeroed) in memory shared with every process forked after
 * this call. Returns 0, or -1 (errno) when it cannot: the counters then stay
 * private to each process and the page shows zeros. Once per process. */
int metrics_create(void);
int metrics_shared(void);
/* In a freshly forked worker: count into slot idx (0..METRICS_SLOTS-1). */
void metrics_attach(int idx);
/* In the supervisor, once the process of entry idx was reaped: its gauges
 * are zeroed (its counters stay). */
void metrics_retire(int idx);

/* A session now counts as active in intake (METRICS_INTAKE_NONE: not any
 * more); *cur is the session's field that remembers where it counts. A
 * session counted for the first time is also a session begun. */
void metrics_intake(unsigned char *cur, int intake);
/* An HTTP request ended with this status (0: none), having read in bytes
 * from its client and written out bytes to it; a tunnel (SOCKS, TCP,
 * transparent) ended having moved in and out bytes. */
void metrics_request(int status, uint64_t in, uint64_t out);
void metrics_bytes(uint64_t in, uint64_t out);
/* An upstream connect attempt failed with errno err. */
void metrics_connect_failed(int err);
/* A shaped first flight used strategy; auto tried strategy, or it won
 * (the try got an answer). */
void metrics_shape(int strategy);
void metrics_auto_try(int strategy);
void metrics_auto_win(int strategy);

/* The reader's side (the supervisor): the sum of every slot into out, and
 * slot idx alone. */
void metrics_sum(struct metrics_slot *out);
void metrics_read(int idx, struct metrics_slot *out);
/* The supervisor's own counters (NULL-safe: a private copy without a
 * mapping). */
struct metrics_sup *metrics_sup(void);

#endif
