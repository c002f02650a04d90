/* Idle upstream connections of one worker. Entries live on one list, most
 * recently used first, and a key's entries are found by walking it: the pool
 * is small (upstream_keepalive per key) and a walk is cheaper than a hash for
 * the handful of upstreams a proxy worker talks to at once. Entries are
 * recycled through a free list, so putting a connection back after every
 * request allocates nothing once the pool has warmed up. */
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

struct pool_entry {
    struct pool_entry *next, *prev;
    struct conn c;  /* readable while idle = closed by the upstream, or junk */
    ev_timer timer; /* idle timeout */
    uint16_t port;
    char host[ADDR_HOSTMAX];
};

static struct ev_loop *pool_loop;
static struct pool_entry *head;
static int per_key_max;
static double idle_max;
static int total;
static struct pool_entry *spare; /* recycled entries, linked by next */

static void
pool_remove(struct pool_entry *e, int close_fd)
{
    ev_timer_stop(pool_loop, &e->timer);
    if (close_fd)
        conn_close(&e->c);
    else
        conn_want_read(&e->c, 0);
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    total--;
    e->next = spare;
    spare = e;
}

static void
pool_on_read(struct conn *c)
{
    struct pool_entry *e = c->data;
    log_debug("pooled connection to %s:%u closed by the upstream", e->host, (unsigned)e->port);
    pool_remove(e, 1);
}

static void
pool_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    pool_remove(w->data, 1);
}

void
pool_init(struct ev_loop *loop, int per_key, double idle_timeout)
{
    pool_loop = loop;
    per_key_max = per_key;
    idle_max = idle_timeout;
}

static int
key_eq(const struct pool_entry *e, const char *host, uint16_t port)
{
    return e->port == port && strcasecmp(e->host, host) == 0;
}

int
pool_get(const char *host, uint16_t port, struct conn *dst, void *data)
{
    struct pool_entry *e;

    for (e = head; e != NULL; e = e->next) {
        if (key_eq(e, host, port)) {
            conn_move(dst, &e->c, data);
            pool_remove(e, 0);
            return 1;
        }
    }
    return 0;
}

void
pool_put(const char *host, uint16_t port, struct conn *c)
{
    struct pool_entry *e, *oldest = NULL;
    int n = 0;

    if (per_key_max <= 0 || strlen(host) >= ADDR_HOSTMAX) {
        conn_close(c);
        return;
    }
    for (e = head; e != NULL; e = e->next)
        if (key_eq(e, host, port)) {
            n++;
            oldest = e;
        }
    if (n >= per_key_max && oldest != NULL)
        pool_remove(oldest, 1);
    if (spare != NULL) {
        e = spare;
        spare = e->next;
    } else if ((e = malloc(sizeof(*e))) == NULL) {
        conn_close(c);
        return;
    }
    e->prev = NULL;
    memcpy(e->host, host, strlen(host) + 1);
    e->port = port;
    conn_move(&e->c, c, e);
    e->c.on_read = pool_on_read;
    ev_timer_init(&e->timer, pool_timer_cb, idle_max, 0.);
    e->timer.data = e;
    conn_want_read(&e->c, 1);
    ev_timer_start(pool_loop, &e->timer);
    e->next = head;
    if (head != NULL)
        head->prev = e;
    head = e;
    total++;
}

void
pool_clear(void)
{
    while (head != NULL)
        pool_remove(head, 1);
    while (spare != NULL) {
        struct pool_entry *e = spare;
        spare = e->next;
        free(e);
    }
}

int
pool_count(void)
{
    return total;
}
