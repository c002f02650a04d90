/* Idle upstream connections of one worker. Each host:port key has its own
 * list, most recently used first, found through a small hash table; every
 * idle entry is also on one age list, newest first, that a single timer
 * sweeps from the old end. Putting a connection back and taking it again
 * therefore cost a hash lookup and a few pointer moves: no scan of other
 * keys' entries and no timer heap operation per request (a reverse proxy
 * does both for every request it forwards). Entries and keys are recycled
 * through free lists, so a warm pool allocates nothing. */
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
    int n;
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

/* entry_unlink, and the key goes too once empty. */
static void
pool_remove(struct pool_entry *e, int close_fd)
{
    struct pool_key *k = e->key;

    entry_unlink(e, close_fd);
    if (k->n == 0) {
        struct pool_key **kp = key_slot(k->host, k->port);

        *kp = k->next;
        k->next = spare_keys;
        spare_keys = k;
    }
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

int
upstream_pool_get(const char *host, uint16_t port, struct conn *dst, void *data, char *peer)
{
    struct pool_key *k;
    struct pool_entry *e;

    if (total == 0 || (k = *key_slot(host, port)) == NULL)
        return 0;
    e = k->first;
    if (peer != NULL)
        memcpy(peer, e->peer, strlen(e->peer) + 1);
    conn_move(dst, &e->c, data);
    pool_remove(e, 0);
    return 1;
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
    k->next = NULL;
    *kp = k;
    return k;
}

void
upstream_pool_put(const char *host, uint16_t port, struct conn *c, const char *peer)
{
    size_t hostlen = strlen(host), plen;
    struct pool_key *k;
    struct pool_entry *e;

    if (per_key_max <= 0 || hostlen >= ADDR_HOSTMAX || (k = key_get(host, hostlen, port)) == NULL) {
        conn_close(c);
        return;
    }
    if (k->n >= per_key_max)
        entry_unlink(k->last, 1); /* the oldest of the key; k is about to grow again */
    if (spare_entries != NULL) {
        e = spare_entries;
        spare_entries = e->knext;
    } else if ((e = malloc(sizeof(*e))) == NULL) {
        if (k->n == 0) { /* the key was made for this entry: undo */
            *key_slot(host, port) = k->next;
            k->next = spare_keys;
            spare_keys = k;
        }
        conn_close(c);
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
