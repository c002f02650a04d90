/* Idle upstream connections of one worker. Each host:port key has its own
 * list, most recently used first, found through a small hash table; every
 * idle entry is also on one age list, newest first, that a single timer
 * sweeps from the old end. Putting a connection back and taking it again
 * therefore cost a hash lookup and a few pointer moves: no scan of other
 * keys' entries and no timer heap operation per request (a reverse proxy
 * does both for every request it forwards). Entries and keys are recycled
 * through free lists, so a warm pool allocates nothing. With
 * UPSTREAM_POOL_AUTO, each key also counts the exchanges in flight to it
 * and keeps the recent peak of that count (a ring of per-second maxima), and
 * a connection given back is kept while the key holds fewer idle ones than
 * that peak: a load of 50 concurrent requests keeps 50 connections warm, and
 * when it falls, the extra ones go as they come back (or after the idle
 * timeout if none does). */
#include "upstream_pool.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

#define POOL_BUCKETS 64 /* a power of two; keys are few at any moment */

struct pool_key;

struct pool_entry {
    struct pool_entry *knext, *kprev; /* the key's list, newest first */
    struct pool_entry *anext, *aprev; /* the age list, newest first */
    struct pool_key *key;
    struct conn c;            /* readable while idle = closed by the upstream, or junk */
    ev_tstamp since;          /* when it became idle */
    char peer[WD_ADDRSTRLEN]; /* the address connected to, for the access log */
};

struct pool_key {
    struct pool_key *next; /* hash chain, or the free list */
    struct pool_entry *first, *last;
    int n;                          /* idle entries; the key goes when 0 and peak.cur is 0 */
    struct upstream_pool_peak peak; /* auto: exchanges in flight and their recent peak */
    uint16_t port;
    char host[ADDR_HOSTMAX];
};

static struct ev_loop *pool_loop;
static struct pool_key *buckets[POOL_BUCKETS];
static struct pool_entry *newest, *oldest; /* the age list */
static ev_timer sweep;                     /* fires when the oldest entry expires */
static int per_key_max;
static double idle_max;
static int total;
static struct pool_entry *spare_entries; /* recycled, linked by knext */
static struct pool_key *spare_keys;      /* recycled, linked by next */

/* Seconds since the epoch: ev_now is never negative. */
static int64_t
peak_tick(double now)
{
    return now > 0 ? (int64_t)now : 0;
}

/* Moves the ring on to second t: the seconds in between held the count
 * as it is now. At most UPSTREAM_POOL_PEAK_SLOTS steps. A clock that went
 * back leaves the current slot in use. */
static void
peak_advance(struct upstream_pool_peak *pk, int64_t t)
{
    int64_t d = t - pk->tick;

    if (d <= 0)
        return;
    if (d > UPSTREAM_POOL_PEAK_SLOTS)
        d = UPSTREAM_POOL_PEAK_SLOTS;
    for (int64_t i = 1; i <= d; i++)
        pk->slot[(pk->tick + i) % UPSTREAM_POOL_PEAK_SLOTS] = pk->cur;
    pk->tick = t;
}

void
upstream_pool_peak_add(struct upstream_pool_peak *pk, int delta, double now)
{
    int *slot;

    peak_advance(pk, peak_tick(now));
    pk->cur += delta;
    if (pk->cur < 0)
        pk->cur = 0;
    slot = &pk->slot[pk->tick % UPSTREAM_POOL_PEAK_SLOTS];
    if (*slot < pk->cur)
        *slot = pk->cur;
}

int
upstream_pool_peak_max(struct upstream_pool_peak *pk, double now)
{
    int m = 0;

    peak_advance(pk, peak_tick(now));
    for (int i = 0; i < UPSTREAM_POOL_PEAK_SLOTS; i++)
        if (pk->slot[i] > m)
            m = pk->slot[i];
    return m;
}

/* Host names compare without case (DNS); so does the hash. */
static unsigned
key_hash(const char *host, uint16_t port)
{
    unsigned h = 2166136261u ^ port;

    for (; *host != '\0'; host++) {
        unsigned char c = (unsigned char)*host;

        h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32u : c)) * 16777619u;
    }
    return h & (POOL_BUCKETS - 1);
}

static struct pool_key **
key_slot(const char *host, uint16_t port)
{
    struct pool_key **kp = &buckets[key_hash(host, port)];

    while (*kp != NULL && ((*kp)->port != port || strcasecmp((*kp)->host, host) != 0))
        kp = &(*kp)->next;
    return kp;
}

/* Unlinks e from both lists and recycles it, leaving its key in place even
 * when empty. The connection is closed, or only stopped when handed out. */
static void
entry_unlink(struct pool_entry *e, int close_fd)
{
    struct pool_key *k = e->key;

    if (close_fd)
        conn_close(&e->c);
    else
        conn_want_read(&e->c, 0);
    if (e->kprev != NULL)
        e->kprev->knext = e->knext;
    else
        k->first = e->knext;
    if (e->knext != NULL)
        e->knext->kprev = e->kprev;
    else
        k->last = e->kprev;
    if (e->aprev != NULL)
        e->aprev->anext = e->anext;
    else
        newest = e->anext;
    if (e->anext != NULL)
        e->anext->aprev = e->aprev;
    else
        oldest = e->aprev;
    total--;
    k->n--;
    e->knext = spare_entries;
    spare_entries = e;
}

/* Recycles k once it holds no idle entry and counts no exchange. */
static void
key_release(struct pool_key *k)
{
    struct pool_key **kp;

    if (k->n > 0 || k->peak.cur > 0)
        return;
    kp = key_slot(k->host, k->port);
    *kp = k->next;
    k->next = spare_keys;
    spare_keys = k;
}

/* entry_unlink, and the key goes too once unused. */
static void
pool_remove(struct pool_entry *e, int close_fd)
{
    entry_unlink(e, close_fd);
    key_release(e->key);
    if (total == 0)
        ev_timer_stop(pool_loop, &sweep);
}

static void
pool_on_read(struct conn *c)
{
    struct pool_entry *e = c->data;

    log_debug("pooled connection to %s:%u closed by the upstream", e->key->host,
              (unsigned)e->key->port);
    pool_remove(e, 1);
}

/* Closes what has been idle for idle_max, then waits for the next oldest.
 * A little slack keeps entries that expire together in one sweep. */
static void
pool_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_tstamp now = ev_now(loop);

    while (oldest != NULL && oldest->since + idle_max <= now + 0.001)
        pool_remove(oldest, 1);
    if (oldest != NULL) {
        ev_timer_set(w, oldest->since + idle_max - now, 0.);
        ev_timer_start(loop, w);
    }
}

void
upstream_pool_init(struct ev_loop *loop, int per_key, double idle_timeout)
{
    pool_loop = loop;
    per_key_max = per_key;
    idle_max = idle_timeout;
    ev_timer_init(&sweep, pool_sweep_cb, idle_timeout, 0.);
}

static struct pool_key *
key_get(const char *host, size_t hostlen, uint16_t port)
{
    struct pool_key **kp = key_slot(host, port), *k = *kp;

    if (k != NULL)
        return k;
    if (spare_keys != NULL) {
        k = spare_keys;
        spare_keys = k->next;
    } else if ((k = malloc(sizeof(*k))) == NULL) {
        return NULL;
    }
    memcpy(k->host, host, hostlen + 1);
    k->port = port;
    k->first = k->last = NULL;
    k->n = 0;
    memset(&k->peak, 0, sizeof(k->peak));
    k->next = NULL;
    *kp = k;
    return k;
}

int
upstream_pool_get(const char *host, uint16_t port, struct conn *dst, void *data, char *peer)
{
    struct pool_key *k;
    struct pool_entry *e;

    if (per_key_max == UPSTREAM_POOL_AUTO) {
        size_t hostlen = strlen(host);

        if (hostlen >= ADDR_HOSTMAX || (k = key_get(host, hostlen, port)) == NULL)
            return 0; /* not counted: upstream_pool_done will find no key */
        upstream_pool_peak_add(&k->peak, 1, ev_now(pool_loop));
        if (k->n == 0)
            return 0;
    } else if (total == 0 || (k = *key_slot(host, port)) == NULL) {
        return 0;
    }
    e = k->first;
    if (peer != NULL)
        memcpy(peer, e->peer, strlen(e->peer) + 1);
    conn_move(dst, &e->c, data);
    pool_remove(e, 0);
    return 1;
}

void
upstream_pool_done(const char *host, uint16_t port)
{
    struct pool_key *k;

    if (per_key_max != UPSTREAM_POOL_AUTO || (k = *key_slot(host, port)) == NULL)
        return;
    upstream_pool_peak_add(&k->peak, -1, ev_now(pool_loop));
    key_release(k);
}

/* How many idle connections k may hold: the fixed number, or in auto
 * mode the recent peak of its exchanges (at least the one ending now). */
static int
key_cap(struct pool_key *k)
{
    int peak;

    if (per_key_max != UPSTREAM_POOL_AUTO)
        return per_key_max;
    peak = upstream_pool_peak_max(&k->peak, ev_now(pool_loop));
    return peak > 1 ? peak : 1;
}

void
upstream_pool_put(const char *host, uint16_t port, struct conn *c, const char *peer)
{
    size_t hostlen = strlen(host), plen;
    struct pool_key *k;
    struct pool_entry *e;
    int cap;

    if (per_key_max == 0 || hostlen >= ADDR_HOSTMAX || (k = key_get(host, hostlen, port)) == NULL) {
        conn_close(c);
        return;
    }
    /* The oldest of the key go (k is about to grow again); more than one
     * only when an auto cap has just fallen, each entry once. */
    for (cap = key_cap(k); k->n >= cap;)
        entry_unlink(k->last, 1);
    if (spare_entries != NULL) {
        e = spare_entries;
        spare_entries = e->knext;
    } else if ((e = malloc(sizeof(*e))) == NULL) {
        key_release(k); /* when the key was made for this entry */
        conn_close(c);
        if (total == 0)
            ev_timer_stop(pool_loop, &sweep);
        return;
    }
    e->key = k;
    e->since = ev_now(pool_loop);
    plen = peer != NULL ? strnlen(peer, sizeof(e->peer) - 1) : 0;
    memcpy(e->peer, peer, plen);
    e->peer[plen] = '\0';
    conn_move(&e->c, c, e);
    e->c.on_read = pool_on_read;
    conn_want_read(&e->c, 1);
    e->kprev = NULL;
    e->knext = k->first;
    if (k->first != NULL)
        k->first->kprev = e;
    else
        k->last = e;
    k->first = e;
    k->n++;
    e->aprev = NULL;
    e->anext = newest;
    if (newest != NULL)
        newest->aprev = e;
    else
        oldest = e;
    newest = e;
    total++;
    if (!ev_is_active(&sweep)) {
        ev_timer_set(&sweep, idle_max, 0.);
        ev_timer_start(pool_loop, &sweep);
    }
}

void
upstream_pool_clear(void)
{
    while (newest != NULL)
        pool_remove(newest, 1);
    /* Keys left count exchanges still in flight: forgotten (a later
     * upstream_pool_done finds no key and does nothing). */
    for (int i = 0; i < POOL_BUCKETS; i++) {
        while (buckets[i] != NULL) {
            struct pool_key *k = buckets[i];

            buckets[i] = k->next;
            k->next = spare_keys;
            spare_keys = k;
        }
    }
    while (spare_entries != NULL) {
        struct pool_entry *e = spare_entries;

        spare_entries = e->knext;
        free(e);
    }
    while (spare_keys != NULL) {
        struct pool_key *k = spare_keys;

        spare_keys = k->next;
        free(k);
    }
}

int
upstream_pool_count(void)
{
    return total;
}
