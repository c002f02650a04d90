/* Unit tests for src/net/resolve.c and src/net/hosts.c. A fake DNS server on an
 * ephemeral UDP and TCP port of 127.0.0.1, driven by the same libev loop,
 * answers a few .test names (names that /etc/hosts does not know), so lookups
 * never leave the machine; poison.test gets a different answer over UDP (as
 * from an injector) than over TCP. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hosts.h"
#include "resolve.h"
#include "tutil.h"

#define T_A    1
#define T_AAAA 28

/* ---- fake DNS server ---- */

#define DNS_TCP_CONNS 4

/* One TCP client of the fake server: a query is a 2-byte length and the
 * message (RFC 1035 4.2.2), read into q until complete. */
struct dns_tcp {
    ev_io io;
    size_t got;
    unsigned char q[514];
};

static struct {
    int fd, tfd; /* UDP socket, TCP listener: the same port */
    uint16_t port;
    ev_io io, tio;
    int queries;      /* UDP packets received */
    int tcp_queries;  /* queries received over TCP */
    int slow_queries; /* of which for slow.test */
    struct dns_tcp tcp[DNS_TCP_CONNS];
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

/* The question name, lowercased: plain labels, no compression in a query.
 * Returns the offset after it, or 0 when the query is malformed. */
static size_t
dns_qname(const unsigned char *q, size_t len, char *name, size_t namelen)
{
    size_t pos = 12, nl = 0;

    while (pos < len && q[pos] != 0) {
        size_t lab = q[pos++], i;
        if (pos + lab > len || nl + lab + 1 >= namelen)
            return 0;
        if (nl > 0)
            name[nl++] = '.';
        for (i = 0; i < lab; i++) {
            char c = (char)q[pos + i];
            name[nl++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        pos += lab;
    }
    name[nl] = '\0';
    return pos + 5 > len ? 0 : pos;
}

/* Adds the A (v4, a host-order address) or AAAA (v6, text) record that the
 * question asks for, if any. */
static size_t
dns_rr(unsigned char *r, unsigned qtype, unsigned ttl, uint32_t v4, const char *v6, unsigned *an)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (qtype == T_A && v4 != 0) {
        a4.s_addr = htonl(v4);
        ++*an;
        return put_rr(r, T_A, ttl, &a4, 4);
    }
    if (qtype == T_AAAA && v6 != NULL) {
        inet_pton(AF_INET6, v6, &a6);
        ++*an;
        return put_rr(r, T_AAAA, ttl, &a6, 16);
    }
    return 0;
}

/* Builds the answer to query q into r; 0 when the server stays silent.
 * poison.test is 10.6.6.6 over UDP (as an injector would answer) and
 * 127.0.0.3 over TCP. */
static size_t
dns_answer(const unsigned char *q, size_t len, int tcp, unsigned char *r)
{
    char name[256];
    size_t pos, qend, n;
    unsigned qtype, rcode = 0, an = 0;

    if (len < 12 || (pos = dns_qname(q, len, name, sizeof(name))) == 0)
        return 0;
    qtype = (unsigned)(q[pos + 1] << 8 | q[pos + 2]);
    qend = pos + 5;
    memcpy(r, q, qend);
    n = qend;
    if (strcmp(name, "slow.test") == 0) {
        dns.slow_queries++;
        return 0;
    } else if (strcmp(name, "a.test") == 0) {
        n += dns_rr(r + n, qtype, 60, 0x7f000001, "::1", &an);
    } else if (strcmp(name, "v4.test") == 0 || strcmp(name, "ttl1.test") == 0) {
        /* AAAA gets an empty NOERROR answer (no data). */
        n += dns_rr(r + n, qtype, name[0] == 't' ? 1 : 60, 0x7f000002, NULL, &an);
    } else if (strcmp(name, "poison.test") == 0) {
        n += dns_rr(r + n, qtype, 60, tcp ? 0x7f000003 : 0x0a060606, NULL, &an);
    } else if (name[0] == 'n' && strcmp(name + strcspn(name, "."), ".many.test") == 0) {
        /* nN.many.test: A 10.0.0.N, for filling the cache. */
        n += dns_rr(r + n, qtype, 60, 0x0a000000u | (unsigned)atoi(name + 1), NULL, &an);
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
    return n;
}

static void
dns_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
    unsigned char q[512], r[1024];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t len;
    size_t n;

    len = recvfrom(dns.fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
    if (len < 12)
        return;
    dns.queries++;
    n = dns_answer(q, (size_t)len, 0, r);
    if (n > 0)
        sendto(dns.fd, r, n, 0, (struct sockaddr *)&from, fromlen);
}

static void
dns_tcp_close(struct dns_tcp *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
}

/* Reads what has arrived; answers each complete query (blocking send of a
 * few hundred bytes on loopback: fine in a test). */
static void
dns_tcp_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct dns_tcp *c = (struct dns_tcp *)w;
    unsigned char r[1026];
    size_t want, n;
    ssize_t got = recv(w->fd, c->q + c->got, sizeof(c->q) - c->got, 0);

    if (got <= 0) {
        dns_tcp_close(c);
        return;
    }
    c->got += (size_t)got;
    while (c->got >= 2 && c->got >= 2 + (want = (size_t)(c->q[0] << 8 | c->q[1]))) {
        dns.tcp_queries++;
        n = dns_answer(c->q + 2, want, 1, r + 2);
        if (n > 0) {
            put16(r, (unsigned)n);
            ck_assert_int_eq(send(w->fd, r, n + 2, MSG_NOSIGNAL), (ssize_t)(n + 2));
        }
        memmove(c->q, c->q + 2 + want, c->got - 2 - want);
        c->got -= 2 + want;
    }
    if (c->got == sizeof(c->q))
        dns_tcp_close(c); /* a query larger than any we answer */
}

static void
dns_accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
    int fd = accept4(dns.tfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i;

    if (fd < 0)
        return;
    for (i = 0; i < DNS_TCP_CONNS && dns.tcp[i].io.fd >= 0; i++)
        ;
    if (i == DNS_TCP_CONNS) {
        close(fd);
        return;
    }
    dns.tcp[i].got = 0;
    ev_io_init(&dns.tcp[i].io, dns_tcp_read_cb, fd, EV_READ);
    ev_io_start(loop, &dns.tcp[i].io);
}

/* UDP on an ephemeral port, then TCP on the same port number (retried with
 * another UDP port in the unlikely case that TCP's is taken). */
static void
dns_start(void)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    int i, tries, one = 1;

    memset(&dns, 0, sizeof(dns));
    for (tries = 0; tries < 20; tries++) {
        sin = tu_loopback4(0);
        dns.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(dns.fd, 0);
        ck_assert_int_eq(bind(dns.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        ck_assert_int_eq(getsockname(dns.fd, (struct sockaddr *)&sin, &sl), 0);
        dns.tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(dns.tfd, 0);
        setsockopt(dns.tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(dns.tfd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(dns.tfd, 8) == 0)
            break;
        close(dns.tfd);
        close(dns.fd);
    }
    ck_assert_int_lt(tries, 20);
    dns.port = ntohs(sin.sin_port);
    for (i = 0; i < DNS_TCP_CONNS; i++)
        dns.tcp[i].io.fd = -1;
    ev_io_init(&dns.io, dns_read_cb, dns.fd, EV_READ);
    ev_io_start(loop, &dns.io);
    ev_io_init(&dns.tio, dns_accept_cb, dns.tfd, EV_READ);
    ev_io_start(loop, &dns.tio);
}

static void
dns_stop(void)
{
    int i;

    for (i = 0; i < DNS_TCP_CONNS; i++)
        if (dns.tcp[i].io.fd >= 0)
            dns_tcp_close(&dns.tcp[i]);
    ev_io_stop(loop, &dns.io);
    ev_io_stop(loop, &dns.tio);
    close(dns.fd);
    close(dns.tfd);
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
    ck_assert_msg(resolve_init(loop, servers, 0, NULL, timeout, err, sizeof(err)) == 0, "init: %s",
                  err);
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
    dns_stop();
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
    ck_assert_int_eq(resolve_init(loop, "not an address", 0, NULL, 1.0, err, sizeof(err)), -1);
    ck_assert_str_ne(err, "");
    ck_assert_int_eq(resolve_init(loop, "", 0, NULL, 0, err, sizeof(err)), -1);
    ck_assert_ptr_null(resolve_start("a.test", 80, never_cb, NULL));
    /* The system configuration is accepted (no query is made here). */
    ck_assert_int_eq(resolve_init(loop, "", 0, NULL, 1.0, err, sizeof(err)), 0);
    ck_assert_int_eq(resolve_init(loop, "", 0, NULL, 1.0, err, sizeof(err)), -1);
}
END_TEST

/* ---- resolver_tcp ---- */

static void
addr4_is(const struct resolve_result *res, int i, uint32_t want)
{
    ck_assert_int_eq(res->addr[i].ss_family, AF_INET);
    ck_assert_uint_eq(ntohl(((const struct sockaddr_in *)&res->addr[i])->sin_addr.s_addr), want);
}

/* By default the name servers are asked over UDP: the injected answer wins. */
START_TEST(test_udp_by_default)
{
    struct outcome o = {0};

    ck_assert_ptr_nonnull(resolve_start("poison.test", 80, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.status, RESOLVE_OK);
    ck_assert_int_eq(o.res.n, 1);
    addr4_is(&o.res, 0, 0x0a060606);
    ck_assert_int_ge(dns.queries, 1);
    ck_assert_int_eq(dns.tcp_queries, 0);
}
END_TEST

/* RESOLVE_TCP: every query over TCP, none over UDP. */
START_TEST(test_tcp_only)
{
    struct outcome o = {0}, o2 = {0};
    char servers[64], err[256];

    resolve_shutdown();
    snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)dns.port);
    ck_assert_msg(resolve_init(loop, servers, RESOLVE_TCP, NULL, 1.0, err, sizeof(err)) == 0,
                  "init: %s", err);
    ck_assert_ptr_nonnull(resolve_start("poison.test", 8080, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_OK);
    ck_assert_int_eq(o.res.n, 1);
    addr4_is(&o.res, 0, 0x7f000003);
    ck_assert_uint_eq(port_of(&o.res, 0), 8080);
    ck_assert_int_ge(dns.tcp_queries, 2); /* A and AAAA */
    /* A second name, both families, on the connection c-ares keeps. */
    ck_assert_ptr_nonnull(resolve_start("a.test", 80, record_cb, &o2));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o2.status, RESOLVE_OK);
    ck_assert_int_eq(o2.res.n, 2);
    ck_assert_int_eq(dns.queries, 0);
}
END_TEST

/* ---- hosts ---- */

static const char hosts_text[] =
    "# a comment line\n"
    "127.0.0.5\th1.test  alias1.test   # trailing comment\n"
    "::1 h6.test\n"
    "127.0.0.6 H6.TEST.\n" /* same name: a second address, case and dot ignored */
    "127.0.0.5 h1.test\n"  /* the same address again: kept once */
    "not-an-address bad.test\n"
    "300.1.1.1 bad2.test\n"
    "fe80::1%lo zone.test\n"
    "  \t \r\n"
    "10.0.0.1\n"
    "127.0.0.7 #commented.test\n"
    "#127.0.0.8 off.test\n"
    "192.0.2.1 many.test\r\n"
    "192.0.2.2 many.test\n"
    "192.0.2.3 many.test"; /* no newline at the end */

static void
hosts_path(char *path, size_t len)
{
    snprintf(path, len, "%s/hosts", tu_tmpdir());
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static const struct hosts *
hosts_of(const char *text)
{
    const struct hosts *h = NULL;
    char path[512], err[256] = "";

    hosts_path(path, sizeof(path));
    write_file(path, text);
    ck_assert_msg(hosts_load(path, 0, &h, err, sizeof(err)) == 0, "load: %s", err);
    ck_assert_ptr_nonnull(h);
    return h;
}

START_TEST(test_hosts_parse)
{
    const struct hosts *h = hosts_of(hosts_text);
    struct sockaddr_storage ss[RESOLVE_MAX_ADDRS];
    socklen_t len[RESOLVE_MAX_ADDRS];
    struct resolve_result r;
    const char *absent[] = {"bad.test", "bad2.test", "zone.test", "commented.test",
                            "off.test", "nx.test",   "",          "h1"};
    size_t i;

    ck_assert_uint_eq(hosts_count(h), 4); /* h1, alias1, h6, many */
    memset(&r, 0, sizeof(r));
    r.n = hosts_lookup(h, "h1.test", r.addr, r.len, RESOLVE_MAX_ADDRS);
    ck_assert_int_eq(r.n, 1);
    addr4_is(&r, 0, 0x7f000005);
    ck_assert_uint_eq(r.len[0], sizeof(struct sockaddr_in));
    ck_assert_uint_eq(port_of(&r, 0), 0);
    r.n = hosts_lookup(h, "ALIAS1.Test.", r.addr, r.len, RESOLVE_MAX_ADDRS);
    ck_assert_int_eq(r.n, 1);
    addr4_is(&r, 0, 0x7f000005);
    /* Both families, in the file's order. */
    r.n = hosts_lookup(h, "h6.test", r.addr, r.len, RESOLVE_MAX_ADDRS);
    ck_assert_int_eq(r.n, 2);
    ck_assert_int_eq(r.addr[0].ss_family, AF_INET6);
    ck_assert_uint_eq(r.len[0], sizeof(struct sockaddr_in6));
    ck_assert(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&r.addr[0])->sin6_addr));
    addr4_is(&r, 1, 0x7f000006);
    r.n = hosts_lookup(h, "many.test", r.addr, r.len, RESOLVE_MAX_ADDRS);
    ck_assert_int_eq(r.n, 3);
    addr4_is(&r, 2, 0xc0000203);
    /* max bounds what is written. */
    ck_assert_int_eq(hosts_lookup(h, "many.test", ss, len, 2), 2);
    for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        ck_assert_msg(hosts_lookup(h, absent[i], ss, len, RESOLVE_MAX_ADDRS) == 0, "%s found",
                      absent[i]);
    ck_assert_int_eq(hosts_lookup(NULL, "h1.test", ss, len, RESOLVE_MAX_ADDRS), 0);
}
END_TEST

START_TEST(test_hosts_load_errors)
{
    const struct hosts *h = (const struct hosts *)&h;
    char path[512], err[256] = "";

    snprintf(path, sizeof(path), "%s/none", tu_tmpdir());
    ck_assert_int_eq(hosts_load(path, 1, &h, err, sizeof(err)), 0);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(hosts_load(path, 0, &h, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "cannot open") != NULL && strstr(err, "No such file") != NULL, "%s",
                  err);
    ck_assert_int_eq(hosts_load(tu_tmpdir(), 0, &h, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
    /* An empty file is a table with nothing in it. */
    h = hosts_of("");
    ck_assert_uint_eq(hosts_count(h), 0);
    h = hosts_of("# only comments\n\n");
    ck_assert_uint_eq(hosts_count(h), 0);
}
END_TEST

/* An unchanged file is not read again; a changed one gives a new table. */
START_TEST(test_hosts_reuse)
{
    const struct hosts *a = hosts_of("127.0.0.5 h1.test\n"), *b = NULL, *c;
    struct resolve_result r;
    char path[512], err[256];

    hosts_path(path, sizeof(path));
    ck_assert_int_eq(hosts_load(path, 0, &b, err, sizeof(err)), 0);
    ck_assert_ptr_eq(a, b);
    c = hosts_of("127.0.0.9 h1.test h9.test\n");
    ck_assert_ptr_ne(a, c);
    r.n = hosts_lookup(c, "h1.test", r.addr, r.len, RESOLVE_MAX_ADDRS);
    ck_assert_int_eq(r.n, 1);
    addr4_is(&r, 0, 0x7f000009);
    /* The old table still answers for configs that point at it. */
    r.n = hosts_lookup(a, "h1.test", r.addr, r.len, RESOLVE_MAX_ADDRS);
    addr4_is(&r, 0, 0x7f000005);
}
END_TEST

static void
init_with_hosts(const char *text)
{
    const struct hosts *h = hosts_of(text);
    char servers[64], err[256];

    resolve_shutdown();
    snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)dns.port);
    ck_assert_msg(resolve_init(loop, servers, 0, h, 1.0, err, sizeof(err)) == 0, "init: %s", err);
}

/* A listed name is answered from the table, synchronously by resolve_now and
 * from the loop by resolve_start, and never asked of the DNS servers. */
START_TEST(test_hosts_before_dns)
{
    struct outcome o = {0}, o2 = {0};
    struct resolve_result res;
    struct resolve_req *r;

    init_with_hosts(hosts_text);
    ck_assert_int_eq(resolve_now("h1.test", 8080, &res), 1);
    ck_assert_int_eq(res.n, 1);
    addr4_is(&res, 0, 0x7f000005);
    ck_assert_uint_eq(port_of(&res, 0), 8080);
    r = resolve_start("H6.test", 443, record_cb, &o);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(o.calls, 0);
    tu_run_for(loop, 1.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_OK);
    ck_assert_int_eq(o.res.n, 2);
    ck_assert_uint_eq(port_of(&o.res, 0), 443);
    ck_assert_uint_eq(port_of(&o.res, 1), 443);
    ck_assert_int_eq(dns.queries + dns.tcp_queries, 0);
    /* Other names still go to DNS. */
    ck_assert_ptr_nonnull(resolve_start("a.test", 80, record_cb, &o2));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o2.status, RESOLVE_OK);
    ck_assert_int_ge(dns.queries, 2);
}
END_TEST

/* c-ares's own hosts file lookup is off: a name that /etc/hosts lists (this
 * machine's name, when it does) goes to the DNS servers when the table does
 * not list it. */
START_TEST(test_hosts_only_table)
{
    const struct hosts *etc = NULL;
    struct sockaddr_storage ss[RESOLVE_MAX_ADDRS];
    socklen_t len[RESOLVE_MAX_ADDRS];
    struct outcome o = {0};
    char name[256], err[256];

    init_with_hosts("127.0.0.5 h1.test\n");
    ck_assert_int_eq(gethostname(name, sizeof(name) - 1), 0);
    name[sizeof(name) - 1] = '\0';
    if (hosts_load("/etc/hosts", 1, &etc, err, sizeof(err)) < 0 ||
        hosts_lookup(etc, name, ss, len, RESOLVE_MAX_ADDRS) == 0)
        return; /* nothing to compare with */
    ck_assert_ptr_nonnull(resolve_start(name, 80, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, RESOLVE_ENOTFOUND);
    ck_assert_int_ge(dns.queries, 1);
}
END_TEST

/* localhost and names under it are loopback without a query (RFC 6761),
 * unless the table lists them. */
START_TEST(test_localhost)
{
    const char *names[] = {"localhost", "LocalHost.", "a.b.localhost"};
    struct resolve_result res;
    struct outcome o = {0};
    size_t i;

    init_with_hosts("127.0.0.5 h1.test\n127.0.0.9 x.localhost\n");
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_msg(resolve_now(names[i], 81, &res) == 1, "%s", names[i]);
        ck_assert_int_eq(res.n, 2);
        addr4_is(&res, 0, 0x7f000001);
        ck_assert_int_eq(res.addr[1].ss_family, AF_INET6);
        ck_assert(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&res.addr[1])->sin6_addr));
        ck_assert_uint_eq(port_of(&res, 1), 81);
    }
    ck_assert_int_eq(resolve_now("x.localhost", 80, &res), 1);
    ck_assert_int_eq(res.n, 1);
    addr4_is(&res, 0, 0x7f000009);
    ck_assert_int_eq(dns.queries, 0);
    /* Only whole labels: notlocalhost is an ordinary name. */
    ck_assert_int_eq(resolve_now("notlocalhost", 80, &res), 0);
    ck_assert_ptr_nonnull(resolve_start("notlocalhost", 80, record_cb, &o));
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.status, RESOLVE_ENOTFOUND);
    ck_assert_int_ge(dns.queries, 1);
}
END_TEST

static Suite *
resolve_suite(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("core");
    TCase *th = tcase_create("hosts");

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
    tcase_add_test(tc, test_udp_by_default);
    tcase_add_test(tc, test_tcp_only);
    suite_add_tcase(s, tc);

    tcase_add_unchecked_fixture(th, tu_tmpdir_setup, tu_tmpdir_teardown);
    tcase_add_checked_fixture(th, setup, teardown);
    tcase_set_timeout(th, 5);
    tcase_add_test(th, test_hosts_parse);
    tcase_add_test(th, test_hosts_load_errors);
    tcase_add_test(th, test_hosts_reuse);
    tcase_add_test(th, test_hosts_before_dns);
    tcase_add_test(th, test_hosts_only_table);
    tcase_add_test(th, test_localhost);
    suite_add_tcase(s, th);
    return s;
}

int
main(void)
{
    return tu_run_suite(resolve_suite());
}
