/* Unit tests for src/net/resolve.c. A fake DNS server on an ephemeral UDP port of
 * 127.0.0.1, driven by the same libev loop, answers a few .test names (names
 * that /etc/hosts does not know), so lookups never leave the machine. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolve.h"
#include "tutil.h"

#define T_A    1
#define T_AAAA 28

/* ---- fake DNS server ---- */

static struct {
    int fd;
    uint16_t port;
    ev_io io;
    int queries;      /* packets received */
    int slow_queries; /* of which for slow.test */
} dns;

static struct ev_loop *loop;

static size_t
put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    return 2;
}

/* Appends one answer record pointing back at the question name (offset 12). */
static size_t
put_rr(unsigned char *p, unsigned type, unsigned ttl, const void *rdata, unsigned rdlen)
{
    size_t n = 0;

    n += put16(p + n, 0xc00c);
    n += put16(p + n, type);
    n += put16(p + n, 1);
    n += put16(p + n, ttl >> 16);
    n += put16(p + n, ttl & 0xffff);
    n += put16(p + n, rdlen);
    memcpy(p + n, rdata, rdlen);
    return n + rdlen;
}

static void
dns_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
    unsigned char q[512], r[1024];
    char name[256];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t len;
    size_t pos = 12, nl = 0, qend, n;
    unsigned qtype, rcode = 0, an = 0;
    struct in_addr a4;
    struct in6_addr a6;

    len = recvfrom(dns.fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
    if (len < 12)
        return;
    dns.queries++;
    /* The question name: plain labels, no compression in a query. */
    while (pos < (size_t)len && q[pos] != 0) {
        size_t lab = q[pos++], i;
        if (pos + lab > (size_t)len || nl + lab + 1 >= sizeof(name))
            return;
        if (nl > 0)
            name[nl++] = '.';
        for (i = 0; i < lab; i++) {
            char c = (char)q[pos + i];
            name[nl++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        pos += lab;
    }
    name[nl] = '\0';
    if (pos + 5 > (size_t)len)
        return;
    qtype = (unsigned)(q[pos + 1] << 8 | q[pos + 2]);
    qend = pos + 5;

    memcpy(r, q, qend);
    n = qend;
    if (strcmp(name, "slow.test") == 0) {
        dns.slow_queries++;
        return;
    } else if (strcmp(name, "a.test") == 0) {
        if (qtype == T_A) {
            inet_pton(AF_INET, "127.0.0.1", &a4);
            n += put_rr(r + n, T_A, 60, &a4, 4);
            an++;
        } else if (qtype == T_AAAA) {
            inet_pton(AF_INET6, "::1", &a6);
            n += put_rr(r + n, T_AAAA, 60, &a6, 16);
            an++;
        }
    } else if (strcmp(name, "v4.test") == 0 || strcmp(name, "ttl1.test") == 0) {
        /* AAAA gets an empty NOERROR answer (no data). */
        if (qtype == T_A) {
            inet_pton(AF_INET, "127.0.0.2", &a4);
            n += put_rr(r + n, T_A, name[0] == 't' ? 1 : 60, &a4, 4);
            an++;
        }
    } else if (name[0] == 'n' && strcmp(name + strcspn(name, "."), ".many.test") == 0) {
        /* nN.many.test: A 10.0.0.N, for filling the cache. */
        if (qtype == T_A) {
            a4.s_addr = htonl(0x0a000000u | (unsigned)atoi(name + 1));
            n += put_rr(r + n, T_A, 60, &a4, 4);
            an++;
        }
    } else if (strcmp(name, "fail.test") == 0) {
        rcode = 2; /* SERVFAIL */
    } else {
        rcode = 3; /* NXDOMAIN, also for search-domain variants */
    }
    r[2] = (unsigned char)(0x80 | (q[2] & 0x79)); /* QR, opcode and RD copied */
    r[3] = (unsigned char)(0x80 | rcode);         /* RA */
    put16(r + 4, 1);
    put16(r + 6, an);
    put16(r + 8, 0);
    put16(r + 10, 0);
    sendto(dns.fd, r, n, 0, (struct sockaddr *)&from, fromlen);
}

static void
dns_start(void)
{
    struct sockaddr_in sin = tu_loopback4(0);
    socklen_t sl = sizeof(sin);

    dns.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(dns.fd, 0);
    ck_assert_int_eq(bind(dns.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(dns.fd, (struct sockaddr *)&sin, &sl), 0);
    dns.port = ntohs(sin.sin_port);
    dns.queries = dns.slow_queries = 0;
    ev_io_init(&dns.io, dns_read_cb, dns.fd, EV_READ);
    ev_io_start(loop, &dns.io);
}

/* ---- helpers ---- */

struct outcome {
    int calls;
    int status;
    struct resolve_result res;
    double at; /* ev_now() of the callback */
};

static void
record_cb(void *arg, int status, const struct resolve_result *res)
{
    struct outcome *o = arg;

    o->calls++;
    o->status = status;
    o->res = *res;
    o->at = ev_now(loop);
    ev_break(loop, EVBREAK_ALL);
}

static void
never_cb(void *arg, int status, const struct resolve_result *res)
{
    ck_abort_msg("callback of a cancelled or destroyed request ran (status %d)", status);
}

/* Runs the loop for the whole of `secs`, whatever breaks it meanwhile. */
static void
run_full(double secs)
{
    double end = ev_time() + secs;

    while (ev_time() < end)
        tu_run_for(loop, end - ev_time());
}

static void
init_resolver(double timeout)
{
    char servers[64], err[256];

    snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)dns.port);
    err[0] = '\0';
    ck_assert_msg(resolve_init(loop, servers, timeout, err, sizeof(err)) == 0, "init: %s", err);
}

static void
setup(void)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(loop);
    dns_start();
    init_resolver(0.5);
}

static void
teardown(void)
{
    resolve_shutdown();
    ev_io_stop(loop, &dns.io);
    close(dns.fd);
    ev_loop_destroy(loop);
    loop = NULL;
}

static int
find_family(const struct resolve_result *res, int family)
{
    int i;

    for (i = 0; i < res->n; i++)
        if (res->addr[i].ss_family == family)
            return i;
    return -1;
}

static uint16_t
port_of(const struct resolve_result *res, int i)
{
    const struct sockaddr_storage *ss = &res->addr[i];

    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* ---- tests ---- */

START_TEST(test_literals)
{
    struct resolve_result res;
    struct sockaddr_in *sin;
    struct sockaddr_in6 *sin6;

    ck_assert_int_eq(resolve_now("127.0.0.1", 8080, &res), 1);
    ck_assert_int_eq(res.n, 1);
    sin = (struct sockaddr_in *)&res.addr[0];
    ck_assert_int_eq(sin->sin_family, AF_INET);
    ck_assert_uint_eq(ntohs(sin->sin_port), 8080);
    ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    ck_assert_uint_eq(res.len[0], sizeof(struct sockaddr_in));

    ck_assert_int_eq(resolve_now("::1", 443, &res), 1);
    ck_assert_int_eq(res.n, 1);
    sin6 = (struct sockaddr_in6 *)&res.addr[0];
    ck_assert_int_eq(sin6->sin6_family, AF_INET6);
    ck_assert_uint_eq(ntohs(sin6->sin6_port), 443);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    ck_assert_uint_eq(res.len[0], sizeof(struct sockaddr_in6));

    ck_assert_int_eq(resolve_now("[2001:db8::5]", 80, &res), 1);
    ck_assert_int_eq(res.addr[0].ss_family, AF_INET6);
    ck_assert_uint_eq(port_of(&res, 0), 80);

    /* Names and almost-literals are not answered synchronously. */
    ck_assert_int_eq(resolve_now("a.test", 80, &res), 0);
    ck_assert_int_eq(resolve_now("127.0.0", 80, &res), 0);
    ck_assert_int_eq(resolve_now("[::1", 80, &res), 0);
    ck_assert_int_eq(dns.queries, 0);
}
END_TEST

START_TEST(test_lookup_both_families)
{
    struct outcome o = {0};
    struct resolve_req *r;
    int i4, i6;

    r = resolve_start("a.test", 8080, record_cb, &o);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(o.calls, 0);
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_OK);
    ck_assert_int_eq(o.res.n, 2);
    i4 = find_family(&o.res, AF_INET);
    i6 = find_family(&o.res, AF_INET6);
    ck_assert_int_ge(i4, 0);
    ck_assert_int_ge(i6, 0);
    ck_assert_uint_eq(port_of(&o.res, i4), 8080);
    ck_assert_uint_eq(port_of(&o.res, i6), 8080);
    ck_assert_uint_eq(ntohl(((struct sockaddr_in *)&o.res.addr[i4])->sin_addr.s_addr), 0x7f000001);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&o.res.addr[i6])->sin6_addr));
    ck_assert_int_ge(dns.queries, 2); /* A and AAAA */

    /* Exactly once: nothing more arrives later. */
    run_full(0.3);
    ck_assert_int_eq(o.calls, 1);
}
END_TEST

START_TEST(test_lookup_v4_only)
{
    struct outcome o = {0};

    ck_assert_ptr_nonnull(resolve_start("V4.Test", 25, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_OK);
    ck_assert_int_eq(o.res.n, 1);
    ck_assert_int_eq(o.res.addr[0].ss_family, AF_INET);
    ck_assert_uint_eq(ntohl(((struct sockaddr_in *)&o.res.addr[0])->sin_addr.s_addr), 0x7f000002);
    ck_assert_uint_eq(port_of(&o.res, 0), 25);
}
END_TEST

START_TEST(test_nxdomain)
{
    struct outcome o = {0};
    struct resolve_result res;

    ck_assert_ptr_nonnull(resolve_start("nx.test", 80, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_ENOTFOUND);
    ck_assert_int_eq(o.res.n, 0);
    ck_assert_str_eq(resolve_strerror(o.status), "name not found");
    /* Failures are not cached. */
    ck_assert_int_eq(resolve_now("nx.test", 80, &res), 0);
}
END_TEST

START_TEST(test_servfail)
{
    struct outcome o = {0};

    ck_assert_ptr_nonnull(resolve_start("fail.test", 80, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_EFAIL);
    ck_assert_str_eq(resolve_strerror(o.status), "DNS failure");
}
END_TEST

START_TEST(test_timeout)
{
    struct outcome o = {0};
    double t0;

    ev_now_update(loop);
    t0 = ev_now(loop);
    ck_assert_ptr_nonnull(resolve_start("slow.test", 80, record_cb, &o));
    tu_run_for(loop, 3.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_ETIMEOUT);
    ck_assert_str_eq(resolve_strerror(o.status), "DNS timeout");
    ck_assert_msg(o.at - t0 >= 0.4 && o.at - t0 <= 0.9, "timed out after %.3f s", o.at - t0);
    ck_assert_int_ge(dns.slow_queries, 1);
    /* Neither c-ares's own give-up nor a retransmit produces a second call. */
    run_full(0.6);
    ck_assert_int_eq(o.calls, 1);
}
END_TEST

START_TEST(test_cache_hit)
{
    struct outcome o = {0}, o2 = {0};
    struct resolve_result res;
    int q;

    ck_assert_ptr_nonnull(resolve_start("a.test", 80, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.status, RESOLVE_OK);

    /* Case-insensitive, and the port is the caller's, not the first one. */
    ck_assert_int_eq(resolve_now("A.TEST", 443, &res), 1);
    ck_assert_int_eq(res.n, 2);
    ck_assert_uint_eq(port_of(&res, 0), 443);
    ck_assert_uint_eq(port_of(&res, 1), 443);

    /* resolve_start answers from the cache too, without a query, but still
     * from the loop. */
    q = dns.queries;
    ck_assert_ptr_nonnull(resolve_start("a.test", 8443, record_cb, &o2));
    ck_assert_int_eq(o2.calls, 0);
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o2.calls, 1);
    ck_assert_int_eq(o2.status, RESOLVE_OK);
    ck_assert_int_eq(o2.res.n, 2);
    ck_assert_uint_eq(port_of(&o2.res, 0), 8443);
    ck_assert_int_eq(dns.queries, q);
}
END_TEST

START_TEST(test_cache_expiry)
{
    struct outcome o = {0};
    struct resolve_result res;

    ck_assert_ptr_nonnull(resolve_start("ttl1.test", 80, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.status, RESOLVE_OK);
    ck_assert_int_eq(resolve_now("ttl1.test", 80, &res), 1);
    run_full(1.2);
    ck_assert_int_eq(resolve_now("ttl1.test", 80, &res), 0);
}
END_TEST

/* 64 entries at most: the 65th name replaces the oldest one. */
START_TEST(test_cache_capacity)
{
    struct resolve_result res;
    char name[32];
    int i;

    for (i = 0; i <= 64; i++) {
        struct outcome o = {0};
        snprintf(name, sizeof(name), "n%d.many.test", i);
        ck_assert_ptr_nonnull(resolve_start(name, 80, record_cb, &o));
        tu_run_for(loop, 1.0);
        ck_assert_int_eq(o.status, RESOLVE_OK);
        ck_assert_uint_eq(ntohl(((struct sockaddr_in *)&o.res.addr[0])->sin_addr.s_addr),
                          0x0a000000u + (unsigned)i);
        ck_assert_int_eq(resolve_now(name, 80, &res), 1);
        /* Entries must be told apart by insertion time. */
        run_full(0.002);
    }
    ck_assert_int_eq(resolve_now("n0.many.test", 80, &res), 0);
    for (i = 1; i <= 64; i++) {
        snprintf(name, sizeof(name), "n%d.many.test", i);
        ck_assert_msg(resolve_now(name, 80, &res) == 1, "%s was evicted", name);
        ck_assert_uint_eq(ntohl(((struct sockaddr_in *)&res.addr[0])->sin_addr.s_addr),
                          0x0a000000u + (unsigned)i);
    }
}
END_TEST

START_TEST(test_cancel_before_answer)
{
    struct resolve_req *r;
    int q;

    r = resolve_start("a.test", 80, never_cb, NULL);
    ck_assert_ptr_nonnull(r);
    resolve_cancel(r);
    /* The answer still arrives and must be dropped (and freed: LSan checks). */
    run_full(0.3);
    ck_assert_int_ge(dns.queries, 1);

    /* A cancelled answer is not cached either; a silent name that is
     * cancelled is freed at shutdown. */
    q = dns.queries;
    resolve_cancel(resolve_start("slow.test", 80, never_cb, NULL));
    run_full(0.1);
    ck_assert_int_gt(dns.queries, q);
}
END_TEST

START_TEST(test_cancel_immediate_answer)
{
    /* A literal's answer is queued for the next loop iteration; cancelling
     * it must drop it. */
    resolve_cancel(resolve_start("127.0.0.1", 80, never_cb, NULL));
    run_full(0.05);
}
END_TEST

START_TEST(test_shutdown_pending)
{
    /* One query outstanding in c-ares for a while, one just sent whose answer
     * is on its way, one literal whose result waits for the next iteration. */
    ck_assert_ptr_nonnull(resolve_start("slow.test", 80, never_cb, NULL));
    run_full(0.05);
    ck_assert_int_ge(dns.slow_queries, 1);
    ck_assert_ptr_nonnull(resolve_start("a.test", 80, never_cb, NULL));
    ck_assert_ptr_nonnull(resolve_start("::1", 80, never_cb, NULL));
    resolve_shutdown();
    run_full(0.7);
    resolve_shutdown(); /* twice is harmless */

    /* And the module can be set up again. */
    init_resolver(0.5);
    {
        struct outcome o = {0};
        ck_assert_ptr_nonnull(resolve_start("v4.test", 80, record_cb, &o));
        tu_run_for(loop, 2.0);
        ck_assert_int_eq(o.calls, 1);
        ck_assert_int_eq(o.status, RESOLVE_OK);
    }
}
END_TEST

START_TEST(test_not_synchronous)
{
    struct outcome o = {0};

    ck_assert_ptr_nonnull(resolve_start("127.0.0.1", 99, record_cb, &o));
    ck_assert_int_eq(o.calls, 0);
    tu_run_for(loop, 1.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_OK);
    ck_assert_int_eq(o.res.n, 1);
    ck_assert_uint_eq(port_of(&o.res, 0), 99);

    /* c-ares answers .onion names from inside ares_getaddrinfo (RFC 7686);
     * that answer must still wait for the loop. */
    {
        struct outcome o2 = {0};
        int q = dns.queries;
        ck_assert_ptr_nonnull(resolve_start("hidden.onion", 80, record_cb, &o2));
        ck_assert_int_eq(o2.calls, 0);
        tu_run_for(loop, 1.0);
        ck_assert_int_eq(o2.calls, 1);
        ck_assert_int_eq(o2.status, RESOLVE_ENOTFOUND);
        ck_assert_int_eq(dns.queries, q);
    }
}
END_TEST

START_TEST(test_init_errors)
{
    char err[256];

    resolve_shutdown();
    resolve_shutdown();
    err[0] = '\0';
    ck_assert_int_eq(resolve_init(loop, "not an address", 1.0, err, sizeof(err)), -1);
    ck_assert_str_ne(err, "");
    ck_assert_int_eq(resolve_init(loop, "", 0, err, sizeof(err)), -1);
    ck_assert_ptr_null(resolve_start("a.test", 80, never_cb, NULL));
    /* The system configuration is accepted (no query is made here). */
    ck_assert_int_eq(resolve_init(loop, "", 1.0, err, sizeof(err)), 0);
    ck_assert_int_eq(resolve_init(loop, "", 1.0, err, sizeof(err)), -1);
}
END_TEST

static Suite *
resolve_suite(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_literals);
    tcase_add_test(tc, test_lookup_both_families);
    tcase_add_test(tc, test_lookup_v4_only);
    tcase_add_test(tc, test_nxdomain);
    tcase_add_test(tc, test_servfail);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_cache_hit);
    tcase_add_test(tc, test_cache_expiry);
    tcase_add_test(tc, test_cache_capacity);
    tcase_add_test(tc, test_cancel_before_answer);
    tcase_add_test(tc, test_cancel_immediate_answer);
    tcase_add_test(tc, test_shutdown_pending);
    tcase_add_test(tc, test_not_synchronous);
    tcase_add_test(tc, test_init_errors);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(resolve_suite());
}
