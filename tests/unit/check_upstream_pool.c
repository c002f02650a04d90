/* Unit tests for src/net/upstream_pool.c with real loopback TCP connections: put/get round
 * trip, keys (host case-insensitive, port), the per-key cap, a disabled pool,
 * idle connections dropped when the upstream closes or talks, the idle
 * timeout (one sweep timer for every entry), pool_clear, many keys. The test plays the upstream and
 * watches for the FIN. Then the auto cap: the recent peak of exchanges in
 * flight (a pure ring of per-second maxima, tested with given times) and the
 * pool keeping that many. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upstream_pool.h"
#include "tutil.h"

static struct ev_loop *loop;

static void
setup(void)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(loop);
}

/* The tests speak in file descriptors; the pool takes and gives conns. */
static void
put_fd(const char *host, uint16_t port, int fd)
{
    struct conn c;

    conn_init(&c, loop, fd, NULL);
    upstream_pool_put(host, port, &c, "192.0.2.1:80");
    ck_assert_int_eq(c.fd, -1); /* moved into the pool */
}

static int
get_fd(const char *host, uint16_t port)
{
    struct conn c;

    if (!upstream_pool_get(host, port, &c, NULL, NULL))
        return -1;
    ck_assert(!(conn_watched(&c) & EV_READ)); /* handed over stopped */
    return c.fd;
}

static void
teardown(void)
{
    upstream_pool_clear();
    ev_loop_destroy(loop);
    loop = NULL;
}

/* Runs the loop until upstream_pool_count() == want or max seconds passed. */
static void
run_until_count(int want, double max)
{
    double deadline = ev_time() + max;

    while (upstream_pool_count() != want && ev_time() < deadline)
        tu_run_once(loop, 0.02);
}

/* A connected loopback TCP pair: *mine is the non-blocking "upstream
 * connection" the proxy would pool, *peer is the upstream's end. */
static void
tcp_pair(int *mine, int *peer)
{
    tu_tcp_pair(mine, peer);
    tu_set_nonblock(*mine);
    tu_set_nonblock(*peer);
}

/* 1 when the upstream's end sees the connection closed within a second:
 * the pool closed our end, not merely forgot it. A close with unread bytes
 * sends a reset instead of a FIN, so ECONNRESET counts as closed too. */
static int
peer_sees_close(int peer)
{
    char b[16];
    int i;

    for (i = 0; i < 100; i++) {
        ssize_t n = read(peer, b, sizeof(b));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
        if (n > 0 || errno != EAGAIN)
            return 0;
        usleep(10000);
    }
    return 0;
}

/* 1 when the upstream's end has seen neither data nor EOF. */
static int
peer_still_connected(int peer)
{
    char b[16];

    return read(peer, b, sizeof(b)) < 0 && errno == EAGAIN;
}

START_TEST(test_round_trip_real_socket)
{
    int mine, peer, fd;
    char b[8];

    upstream_pool_init(loop, 4, 60.);
    tcp_pair(&mine, &peer);
    ck_assert_int_eq(upstream_pool_count(), 0);
    put_fd("origin.test", 8080, mine);
    ck_assert_int_eq(upstream_pool_count(), 1);
    tu_run_once(loop, 0.05); /* idle and quiet: nothing happens to it */
    ck_assert_int_eq(upstream_pool_count(), 1);
    fd = get_fd("origin.test", 8080);
    ck_assert_int_eq(fd, mine);
    ck_assert_int_eq(upstream_pool_count(), 0);
    ck_assert(tu_fd_is_open(fd));
    /* The connection still works both ways after the round trip. */
    ck_assert_int_eq(write(fd, "req", 3), 3);
    usleep(20000);
    ck_assert_int_eq(read(peer, b, sizeof(b)), 3);
    ck_assert_int_eq(memcmp(b, "req", 3), 0);
    /* Taken out of the pool, its watcher is gone: the upstream answering is
     * now the caller's business and does not close the fd. */
    ck_assert_int_eq(write(peer, "resp", 4), 4);
    tu_run_once(loop, 0.05);
    ck_assert(tu_fd_is_open(fd));
    usleep(20000);
    ck_assert_int_eq(read(fd, b, sizeof(b)), 4);
    ck_assert_int_eq(get_fd("origin.test", 8080), -1);
    close(fd);
    close(peer);
}
END_TEST

START_TEST(test_get_empty)
{
    upstream_pool_init(loop, 4, 60.);
    ck_assert_int_eq(get_fd("origin.test", 80), -1);
    ck_assert_int_eq(get_fd("", 0), -1);
    ck_assert_int_eq(upstream_pool_count(), 0);
}
END_TEST

START_TEST(test_keys_host_caseless_and_port)
{
    int m1, p1, m2, p2, m3, p3;

    upstream_pool_init(loop, 4, 60.);
    tcp_pair(&m1, &p1);
    tcp_pair(&m2, &p2);
    tcp_pair(&m3, &p3);
    put_fd("Example.COM", 80, m1);
    put_fd("example.com", 8080, m2);
    put_fd("example.org", 80, m3);
    ck_assert_int_eq(upstream_pool_count(), 3);
    /* Wrong host or wrong port finds nothing. */
    ck_assert_int_eq(get_fd("example.net", 80), -1);
    ck_assert_int_eq(get_fd("example.com", 81), -1);
    ck_assert_int_eq(get_fd("example.co", 80), -1);
    ck_assert_int_eq(upstream_pool_count(), 3);
    /* Host names compare without case; the port must match exactly. */
    ck_assert_int_eq(get_fd("eXample.com", 80), m1);
    ck_assert_int_eq(get_fd("example.com", 80), -1);
    ck_assert_int_eq(get_fd("EXAMPLE.COM", 8080), m2);
    ck_assert_int_eq(get_fd("example.org", 80), m3);
    ck_assert_int_eq(upstream_pool_count(), 0);
    close(m1);
    close(m2);
    close(m3);
    close(p1);
    close(p2);
    close(p3);
}
END_TEST

START_TEST(test_per_key_cap_evicts_oldest)
{
    int m[4], p[4], i, a, b;

    upstream_pool_init(loop, 2, 60.);
    for (i = 0; i < 4; i++)
        tcp_pair(&m[i], &p[i]);
    put_fd("h", 1, m[3]); /* another key: not counted against "h":80 */
    put_fd("h", 80, m[0]);
    put_fd("h", 80, m[1]);
    ck_assert_int_eq(upstream_pool_count(), 3);
    put_fd("H", 80, m[2]); /* same key: the oldest (m[0]) goes */
    ck_assert_int_eq(upstream_pool_count(), 3);
    ck_assert(peer_sees_close(p[0]));
    ck_assert(!tu_fd_is_open(m[0]));
    ck_assert(peer_still_connected(p[1]));
    ck_assert(peer_still_connected(p[2]));
    ck_assert(peer_still_connected(p[3]));
    a = get_fd("h", 80);
    b = get_fd("h", 80);
    ck_assert_int_eq(get_fd("h", 80), -1);
    ck_assert((a == m[1] && b == m[2]) || (a == m[2] && b == m[1]));
    ck_assert_int_eq(get_fd("h", 1), m[3]);
    for (i = 1; i < 4; i++)
        close(m[i]);
    for (i = 0; i < 4; i++)
        close(p[i]);
}
END_TEST

START_TEST(test_disabled_closes_at_once)
{
    int mine, peer;

    upstream_pool_init(loop, 0, 60.);
    tcp_pair(&mine, &peer);
    put_fd("origin.test", 80, mine);
    ck_assert_int_eq(upstream_pool_count(), 0);
    ck_assert(!tu_fd_is_open(mine));
    ck_assert(peer_sees_close(peer));
    ck_assert_int_eq(get_fd("origin.test", 80), -1);
    close(peer);
}
END_TEST

START_TEST(test_overlong_host_closes)
{
    char host[400];
    int mine, peer;

    upstream_pool_init(loop, 4, 60.);
    memset(host, 'a', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    tcp_pair(&mine, &peer);
    put_fd(host, 80, mine);
    ck_assert_int_eq(upstream_pool_count(), 0);
    ck_assert(peer_sees_close(peer));
    close(peer);
}
END_TEST

START_TEST(test_peer_close_drops_idle)
{
    int m1, p1, m2, p2;

    upstream_pool_init(loop, 4, 60.);
    tcp_pair(&m1, &p1);
    tcp_pair(&m2, &p2);
    put_fd("origin.test", 80, m1);
    put_fd("origin.test", 80, m2);
    ck_assert_int_eq(upstream_pool_count(), 2);
    close(p1); /* the upstream closes one idle connection */
    run_until_count(1, 2.0);
    ck_assert_int_eq(upstream_pool_count(), 1);
    ck_assert(!tu_fd_is_open(m1));
    /* The other one is untouched and is the one handed out. */
    ck_assert_int_eq(get_fd("origin.test", 80), m2);
    ck_assert(tu_fd_is_open(m2));
    close(m2);
    close(p2);
}
END_TEST

START_TEST(test_peer_data_drops_idle)
{
    int mine, peer;

    upstream_pool_init(loop, 4, 60.);
    tcp_pair(&mine, &peer);
    put_fd("origin.test", 80, mine);
    /* Bytes on an idle connection would be read as the next response. */
    ck_assert_int_eq(write(peer, "junk", 4), 4);
    run_until_count(0, 2.0);
    ck_assert_int_eq(upstream_pool_count(), 0);
    ck_assert(!tu_fd_is_open(mine));
    ck_assert(peer_sees_close(peer));
    ck_assert_int_eq(get_fd("origin.test", 80), -1);
    close(peer);
}
END_TEST

START_TEST(test_idle_timeout)
{
    int mine, peer;
    double t0;

    upstream_pool_init(loop, 4, 0.2);
    ev_now_update(loop);
    t0 = ev_time();
    tcp_pair(&mine, &peer);
    put_fd("origin.test", 80, mine);
    tu_run_once(loop, 0.05);
    ck_assert_int_eq(upstream_pool_count(), 1); /* not yet */
    run_until_count(0, 2.0);
    ck_assert_int_eq(upstream_pool_count(), 0);
    ck_assert_double_ge(ev_time() - t0, 0.15);
    ck_assert_double_lt(ev_time() - t0, 1.5);
    ck_assert(!tu_fd_is_open(mine));
    ck_assert(peer_sees_close(peer));
    close(peer);
}
END_TEST

START_TEST(test_clear_closes_everything)
{
    int m[5], p[5], i;

    upstream_pool_init(loop, 3, 60.);
    for (i = 0; i < 5; i++) {
        tcp_pair(&m[i], &p[i]);
        put_fd(i < 3 ? "a.test" : "b.test", (uint16_t)(80 + i % 2), m[i]);
    }
    ck_assert_int_eq(upstream_pool_count(), 5);
    upstream_pool_clear();
    ck_assert_int_eq(upstream_pool_count(), 0);
    for (i = 0; i < 5; i++) {
        ck_assert(!tu_fd_is_open(m[i]));
        ck_assert(peer_sees_close(p[i]));
        close(p[i]);
    }
    ck_assert_int_eq(get_fd("a.test", 80), -1);
    /* The pool is usable again after a clear (recycled entries were freed). */
    tcp_pair(&m[0], &p[0]);
    put_fd("a.test", 80, m[0]);
    ck_assert_int_eq(upstream_pool_count(), 1);
    ck_assert_int_eq(get_fd("a.test", 80), m[0]);
    close(m[0]);
    close(p[0]);
}
END_TEST

START_TEST(test_recycled_entries_stay_consistent)
{
    int mine, peer, i;

    /* Many put/get cycles reuse entries from the free list; each must come
     * back with its own fd, key and a fresh watcher. */
    upstream_pool_init(loop, 2, 60.);
    tcp_pair(&mine, &peer);
    for (i = 0; i < 1000; i++) {
        put_fd(i % 2 ? "odd.test" : "even.test", (uint16_t)i, mine);
        ck_assert_int_eq(upstream_pool_count(), 1);
        ck_assert_int_eq(get_fd(i % 2 ? "even.test" : "odd.test", (uint16_t)i), -1);
        ck_assert_int_eq(get_fd(i % 2 ? "odd.test" : "even.test", (uint16_t)i), mine);
    }
    /* Put back once more: the recycled watcher still sees the peer close. */
    put_fd("odd.test", 1, mine);
    close(peer);
    run_until_count(0, 2.0);
    ck_assert_int_eq(upstream_pool_count(), 0);
    ck_assert(!tu_fd_is_open(mine));
}
END_TEST

START_TEST(test_many_keys_share_buckets)
{
    enum { N = 150 }; /* more keys than hash buckets: chains get long */
    int m[N], p[N], i;
    char host[32];

    upstream_pool_init(loop, 4, 60.);
    for (i = 0; i < N; i++) {
        tcp_pair(&m[i], &p[i]);
        snprintf(host, sizeof(host), "host%d.test", i);
        put_fd(host, (uint16_t)(i % 3 ? 80 : 443), m[i]);
    }
    ck_assert_int_eq(upstream_pool_count(), N);
    /* Taken back in another order, each key gives its own connection; the
     * keys emptied along the way leave the other chains intact. */
    for (i = N - 1; i >= 0; i -= 2) {
        snprintf(host, sizeof(host), "HOST%d.test", i);
        ck_assert_int_eq(get_fd(host, (uint16_t)(i % 3 ? 443 : 80)), -1);
        ck_assert_int_eq(get_fd(host, (uint16_t)(i % 3 ? 80 : 443)), m[i]);
    }
    for (i = 0; i < N; i += 2) {
        snprintf(host, sizeof(host), "host%d.test", i);
        ck_assert_int_eq(get_fd(host, (uint16_t)(i % 3 ? 80 : 443)), m[i]);
        ck_assert_int_eq(get_fd(host, (uint16_t)(i % 3 ? 80 : 443)), -1);
    }
    ck_assert_int_eq(upstream_pool_count(), 0);
    for (i = 0; i < N; i++) {
        ck_assert(peer_still_connected(p[i]));
        close(m[i]);
        close(p[i]);
    }
}
END_TEST

START_TEST(test_peer_name_travels)
{
    struct conn c;
    char peer[WD_ADDRSTRLEN], longname[200];
    int m0, p0, m1, p1;

    /* The address a connection was made to comes back with it, for the
     * access log of the requests that reuse it; an over-long one is cut. */
    upstream_pool_init(loop, 4, 60.);
    tcp_pair(&m0, &p0);
    tcp_pair(&m1, &p1);
    conn_init(&c, loop, m0, NULL);
    upstream_pool_put("named.test", 80, &c, "[2001:db8::1]:80");
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    conn_init(&c, loop, m1, NULL);
    upstream_pool_put("long.test", 80, &c, longname);
    memset(peer, '?', sizeof(peer));
    ck_assert(upstream_pool_get("named.test", 80, &c, NULL, peer));
    ck_assert_int_eq(c.fd, m0);
    ck_assert_str_eq(peer, "[2001:db8::1]:80");
    ck_assert(upstream_pool_get("long.test", 80, &c, NULL, peer));
    ck_assert_uint_eq(strlen(peer), WD_ADDRSTRLEN - 1);
    close(m0);
    close(m1);
    close(p0);
    close(p1);
}
END_TEST

START_TEST(test_cap_of_one_replaces)
{
    int m0, p0, m1, p1;

    upstream_pool_init(loop, 1, 60.);
    tcp_pair(&m0, &p0);
    tcp_pair(&m1, &p1);
    put_fd("one.test", 80, m0);
    put_fd("one.test", 80, m1); /* the key is full: m0 goes, the key stays */
    ck_assert_int_eq(upstream_pool_count(), 1);
    ck_assert(peer_sees_close(p0));
    ck_assert_int_eq(get_fd("one.test", 80), m1);
    ck_assert_int_eq(get_fd("one.test", 80), -1);
    close(m1);
    close(p0);
    close(p1);
}
END_TEST

START_TEST(test_idle_timeout_each_its_own)
{
    int m0, p0, m1, p1;

    /* One sweep timer serves every entry: the second connection, put back
     * later, must outlive the first by that much. */
    upstream_pool_init(loop, 4, 0.4);
    tcp_pair(&m0, &p0);
    tcp_pair(&m1, &p1);
    ev_now_update(loop);
    put_fd("origin.test", 80, m0);
    tu_run_once(loop, 0.25);
    ev_now_update(loop);
    put_fd("origin.test", 81, m1);
    run_until_count(1, 2.0);
    ck_assert_int_eq(upstream_pool_count(), 1);
    ck_assert(!tu_fd_is_open(m0));
    ck_assert(peer_still_connected(p1));
    run_until_count(0, 2.0);
    ck_assert(!tu_fd_is_open(m1));
    ck_assert(peer_sees_close(p0));
    ck_assert(peer_sees_close(p1));
    close(p0);
    close(p1);
}
END_TEST

/* ---- auto: the recent peak ---- */

START_TEST(test_peak_rises_at_once_and_decays)
{
    struct upstream_pool_peak pk;

    memset(&pk, 0, sizeof(pk));
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 100.2), 0);
    for (int i = 0; i < 5; i++)
        upstream_pool_peak_add(&pk, 1, 100.2);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 100.2), 5);
    for (int i = 0; i < 5; i++)
        upstream_pool_peak_add(&pk, -1, 100.5);
    ck_assert_int_eq(pk.cur, 0);
    /* Second 100 is remembered while it is one of the last four. */
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 101.0), 5);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 103.99), 5);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 104.0), 0);
    /* A smaller burst later is the new peak, alone. */
    upstream_pool_peak_add(&pk, 1, 104.5);
    upstream_pool_peak_add(&pk, 1, 104.6);
    upstream_pool_peak_add(&pk, -1, 104.7);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 105.5), 2);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 108.0), 1); /* one still in flight */
}
END_TEST

START_TEST(test_peak_counts_quiet_seconds_at_the_level_held)
{
    struct upstream_pool_peak pk;

    memset(&pk, 0, sizeof(pk));
    for (int i = 0; i < 3; i++)
        upstream_pool_peak_add(&pk, 1, 10.0);
    /* Nothing changes for ten seconds: three were in flight all along. */
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 20.0), 3);
    for (int i = 0; i < 3; i++)
        upstream_pool_peak_add(&pk, -1, 20.5);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 23.9), 3);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 24.0), 0);
    /* A long gap clears every slot (the loop is bounded by the ring). */
    upstream_pool_peak_add(&pk, 1, 30.0);
    upstream_pool_peak_add(&pk, -1, 30.0);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 1e9), 0);
}
END_TEST

START_TEST(test_peak_never_negative_and_clock_back)
{
    struct upstream_pool_peak pk;

    memset(&pk, 0, sizeof(pk));
    upstream_pool_peak_add(&pk, -1, 50.0); /* an unmatched end */
    ck_assert_int_eq(pk.cur, 0);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 50.0), 0);
    upstream_pool_peak_add(&pk, 1, 50.0);
    upstream_pool_peak_add(&pk, 1, 49.0); /* the clock went back: same slot */
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 49.5), 2);
    ck_assert_int_eq(upstream_pool_peak_max(&pk, 53.5), 2);
}
END_TEST

/* ---- auto: the pool keeps the peak ---- */

/* n exchanges to host:port begin; none finds an idle connection. */
static void
begin_misses(const char *host, uint16_t port, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(get_fd(host, port), -1);
}

START_TEST(test_auto_keeps_as_many_as_were_in_flight)
{
    enum { N = 20 }; /* more than the old fixed default, 16 */
    int mine[N], peer[N], m, p;

    upstream_pool_init(loop, UPSTREAM_POOL_AUTO, 60.);
    begin_misses("origin.test", 80, N);
    for (int i = 0; i < N; i++) {
        tcp_pair(&mine[i], &peer[i]);
        put_fd("origin.test", 80, mine[i]);
        upstream_pool_done("origin.test", 80);
    }
    ck_assert_int_eq(upstream_pool_count(), N);
    for (int i = 0; i < N; i++)
        ck_assert(peer_still_connected(peer[i]));
    /* One more without an exchange of its own: over the peak, so the
     * oldest goes. */
    tcp_pair(&m, &p);
    put_fd("origin.test", 80, m);
    ck_assert_int_eq(upstream_pool_count(), N);
    ck_assert(peer_sees_close(peer[0]));
    /* A reuse is an exchange too; newest first, as before. */
    ck_assert_int_eq(get_fd("origin.test", 80), m);
    put_fd("origin.test", 80, m);
    upstream_pool_done("origin.test", 80);
    ck_assert_int_eq(upstream_pool_count(), N);
    upstream_pool_clear();
    for (int i = 0; i < N; i++)
        close(peer[i]);
    close(p);
}
END_TEST

START_TEST(test_auto_cap_is_the_peak_per_key)
{
    int m[4], p[4];

    upstream_pool_init(loop, UPSTREAM_POOL_AUTO, 60.);
    begin_misses("a.test", 80, 2);
    begin_misses("b.test", 80, 1);
    for (int i = 0; i < 4; i++)
        tcp_pair(&m[i], &p[i]);
    put_fd("a.test", 80, m[0]);
    put_fd("a.test", 80, m[1]);
    put_fd("a.test", 80, m[2]); /* a.test peaked at 2: m[0] goes */
    ck_assert_int_eq(upstream_pool_count(), 2);
    ck_assert(peer_sees_close(p[0]));
    put_fd("b.test", 80, m[3]);
    ck_assert_int_eq(upstream_pool_count(), 3);
    upstream_pool_done("a.test", 80);
    upstream_pool_done("a.test", 80);
    upstream_pool_done("b.test", 80);
    ck_assert_int_eq(get_fd("a.test", 80), m[2]);
    ck_assert_int_eq(get_fd("a.test", 80), m[1]);
    ck_assert_int_eq(get_fd("a.test", 80), -1);
    ck_assert_int_eq(get_fd("b.test", 80), m[3]);
    for (int i = 1; i < 4; i++)
        close(m[i]);
    for (int i = 0; i < 4; i++)
        close(p[i]);
}
END_TEST

START_TEST(test_auto_key_lives_while_counted)
{
    int m, p;

    upstream_pool_init(loop, UPSTREAM_POOL_AUTO, 60.);
    upstream_pool_done("nobody.test", 80); /* no key: nothing happens */
    begin_misses("k.test", 80, 1);
    upstream_pool_done("k.test", 80); /* the key goes (ASan sees no leak) */
    upstream_pool_done("k.test", 80); /* unmatched: nothing happens */
    ck_assert_int_eq(upstream_pool_count(), 0);
    /* An exchange still in flight when the pool is cleared: its key is
     * forgotten, and its end does nothing. */
    begin_misses("k.test", 80, 1);
    tcp_pair(&m, &p);
    put_fd("k.test", 80, m);
    ck_assert_int_eq(upstream_pool_count(), 1);
    begin_misses("k.test", 81, 1);
    upstream_pool_clear();
    ck_assert_int_eq(upstream_pool_count(), 0);
    ck_assert(peer_sees_close(p));
    upstream_pool_done("k.test", 80);
    upstream_pool_done("k.test", 81);
    ck_assert_int_eq(get_fd("k.test", 80), -1);
    upstream_pool_done("k.test", 80);
    close(p);
}
END_TEST

START_TEST(test_fixed_number_ignores_the_peak)
{
    int m[3], p[3];

    upstream_pool_init(loop, 2, 60.);
    begin_misses("f.test", 80, 3); /* not counted with a fixed number */
    for (int i = 0; i < 3; i++) {
        tcp_pair(&m[i], &p[i]);
        put_fd("f.test", 80, m[i]);
        upstream_pool_done("f.test", 80);
    }
    ck_assert_int_eq(upstream_pool_count(), 2);
    ck_assert(peer_sees_close(p[0]));
    upstream_pool_clear();
    for (int i = 0; i < 3; i++)
        close(p[i]);
}
END_TEST

static Suite *
pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("loopback");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_round_trip_real_socket);
    tcase_add_test(tc, test_get_empty);
    tcase_add_test(tc, test_keys_host_caseless_and_port);
    tcase_add_test(tc, test_per_key_cap_evicts_oldest);
    tcase_add_test(tc, test_disabled_closes_at_once);
    tcase_add_test(tc, test_overlong_host_closes);
    tcase_add_test(tc, test_peer_close_drops_idle);
    tcase_add_test(tc, test_peer_data_drops_idle);
    tcase_add_test(tc, test_idle_timeout);
    tcase_add_test(tc, test_clear_closes_everything);
    tcase_add_test(tc, test_recycled_entries_stay_consistent);
    tcase_add_test(tc, test_many_keys_share_buckets);
    tcase_add_test(tc, test_cap_of_one_replaces);
    tcase_add_test(tc, test_peer_name_travels);
    tcase_add_test(tc, test_idle_timeout_each_its_own);
    tcase_add_test(tc, test_auto_keeps_as_many_as_were_in_flight);
    tcase_add_test(tc, test_auto_cap_is_the_peak_per_key);
    tcase_add_test(tc, test_auto_key_lives_while_counted);
    tcase_add_test(tc, test_fixed_number_ignores_the_peak);
    suite_add_tcase(s, tc);
    tc = tcase_create("peak");
    tcase_add_test(tc, test_peak_rises_at_once_and_decays);
    tcase_add_test(tc, test_peak_counts_quiet_seconds_at_the_level_held);
    tcase_add_test(tc, test_peak_never_negative_and_clock_back);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(pool_suite());
}
