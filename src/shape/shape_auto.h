/* auto shaping, the deciding half: which strategy a try uses (the one
 * remembered for the destination first, then shape_auto's list in order),
 * whether the first answer bytes are a block page, and what the table shared
 * by the workers learns from the outcome. No I/O beyond the shared table; the
 * intakes (flight.c for tunnels, http_exchange.c for HTTP requests) judge
 * resets, closes and silence themselves and replay the first flight. */
#ifndef WARPD_SHAPE_AUTO_H
#define WARPD_SHAPE_AUTO_H

#include <stddef.h>

#include "config.h"

/* One destination's tries. */
struct shape_auto {
    int order[CFG_MAX_AUTO + 1]; /* strategies in the order they are tried */
    int n;                       /* entries in order */
    int idx;                     /* the try under way */
    int remembered;              /* AUTO_CACHE_* the table held at the start */
    char key[256];               /* the destination, lowercased ("" = not remembered) */
};

/* Starts the tries for destination key (a host name or an address as text;
 * NULL or "" when there is none: nothing is remembered). A remembered
 * winner goes first, then the rest of cfg's list; when the table says that
 * nothing worked, only one try is made. */
void shape_auto_begin(struct shape_auto *a, const struct config *cfg, const char *key);
/* The strategy of the try under way. */
int shape_auto_current(const struct shape_auto *a);
/* Whether another try may follow this one. */
int shape_auto_more(const struct shape_auto *a);
/* Moves to the next try; returns its strategy, or -1 when none is left. */
int shape_auto_next(struct shape_auto *a);
/* The tries made so far, this one included. */
int shape_auto_tries(const struct shape_auto *a);
/* The try under way passed: remembered for shape_auto_ttl. */
void shape_auto_passed(struct shape_auto *a, const struct config *cfg);
/* Every try was blocked: remembered as such for shape_auto_fail_ttl. */
void shape_auto_failed(struct shape_auto *a, const struct config *cfg);

/* Whether the answer bytes data[0..len) are the head of an HTTP redirect
 * (301, 302, 303, 307, 308) whose Location names one of
 * shape_auto_block_hosts: 1 yes, 0 no, -1 the head is not complete yet
 * (and may still be one). */
int shape_auto_block_page(const struct config *cfg, const char *data, size_t len);

#endif
