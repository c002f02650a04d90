/* Unit tests for src/shape/shape_exec.c over a loopback TCP pair: a plan's
 * segments arrive complete and in order, pauses are honoured, the callback
 * runs once and never from inside shape_exec_start, cancel silences it, a
 * run without pauses waits for room in a full socket, and a dead peer is
 * reported as an error. Segments with a TTL, an urgent byte or a fake:
 * the TTL is put back exactly (IPv4, IPv6, v4-mapped), the urgent byte
 * leaves the stream, a fake's pages and pipe are gone at the end and on
 * cancel. Loopback never lowers a TTL, so a fake reaches the peer here: what
 * it gets proves the sequencing; the routed proof is by hand (README). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "shape_exec.h"
#include "tutil.h"

struct fixture {
    struct ev_loop *loop;
    int peer; /* the receiving end */
    struct conn c;
    int done;
    int err;
};

static void
on_done(struct shape_exec *x, int err)
{
    struct fixture *f = x->data;
    f->done++;
    f->err = err;
}

/* The fixture over a connected pair: fd is the executor's side. */
static void
fixture_setup_fds(struct fixture *f, int fd, int peer)
{
    int one = 1;

    memset(f, 0, sizeof(*f));
    signal(SIGPIPE, SIG_IGN);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(f->loop);
    f->peer = peer;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    tu_set_nonblock(fd);
    conn_init(&f->c, f->loop, fd, NULL);
}

static void
fixture_setup(struct fixture *f)
{
    int fd, peer;

    tu_tcp_pair(&fd, &peer);
    fixture_setup_fds(f, fd, peer);
}

static void
fixture_teardown(struct fixture *f)
{
    conn_close(&f->c);
    if (f->peer >= 0)
        close(f->peer);
    ev_loop_destroy(f->loop);
}

/* A plan over buf with segments of the given lengths and pauses. */
static void
make_plan(struct shape_plan *plan, char *buf, const char *text, const uint32_t *lens,
          const uint32_t *delays, int n)
{
    uint32_t off = 0;

    memset(plan, 0, sizeof(*plan));
    strcpy(buf, text);
    plan->buf = buf;
    plan->cap = plan->len = strlen(text);
    for (int i = 0; i < n; i++) {
        plan->seg[i].off = off;
        plan->seg[i].len = lens[i];
        plan->seg[i].delay_ms = delays[i];
        off += lens[i];
    }
    plan->nseg = n;
    ck_assert_uint_eq(off, plan->len);
}

START_TEST(test_segments_in_order_with_pauses)
{
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    static char buf[64], got[64];
    const uint32_t lens[] = {5, 6, 7}, delays[] = {80, 40, 0};
    ev_tstamp t0;
    ssize_t n, total = 0;

    fixture_setup(&f);
    make_plan(&plan, buf, "GET /Host: abcdefg", lens, delays, 3);
    t0 = ev_time();
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    ck_assert_int_eq(f.done, 0); /* never from inside start */
    tu_run_until(f.loop, &f.done, 1, 5.0);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.err, 0);
    /* Both pauses (80 + 40 ms) passed before the last segment was written. */
    ck_assert_msg(ev_time() - t0 >= 0.115, "took %.3f s", ev_time() - t0);
    while (total < (ssize_t)plan.len && (n = read(f.peer, got + total, sizeof(got) - total)) > 0)
        total += n;
    ck_assert_int_eq(total, (ssize_t)plan.len);
    ck_assert_int_eq(memcmp(got, buf, plan.len), 0);
    fixture_teardown(&f);
}
END_TEST

START_TEST(test_first_segment_leaves_before_the_pause)
{
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    static char buf[64], got[64];
    const uint32_t lens[] = {4, 6}, delays[] = {300, 0};
    ssize_t n = 0;

    fixture_setup(&f);
    make_plan(&plan, buf, "AAAABBBBBB", lens, delays, 2);
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    /* During the pause the peer already has exactly the first segment. */
    tu_run_for(f.loop, 0.15);
    ck_assert_int_eq(f.done, 0);
    tu_set_nonblock(f.peer);
    n = read(f.peer, got, sizeof(got));
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(memcmp(got, "AAAA", 4), 0);
    tu_run_until(f.loop, &f.done, 1, 5.0);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.err, 0);
    fixture_teardown(&f);
}
END_TEST

static int writable_calls;

/* The conn's own write handler: the executor owns the write side while it
 * runs, so this must not be called then; it is given back at the end. */
static void
on_writable(struct conn *c)
{
    writable_calls++;
}

/* Segments without pauses go out together; when the socket cannot take them
 * (here it is full), the executor waits for room and sends the rest, which
 * the peer gets complete and in order after what was queued before. */
START_TEST(test_burst_waits_for_room)
{
    enum { SEG = 100000 };
    static char text[3 * SEG + 1], buf[3 * SEG + 1], chunk[65536], got[1 << 16];
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    const uint32_t lens[] = {SEG, SEG, SEG}, delays[] = {0, 0, 0};
    size_t queued = 0, total = 0, tail = 0;
    ssize_t n;
    int i, small = 16384;

    fixture_setup(&f);
    for (i = 0; i < 3 * SEG; i++)
        text[i] = (char)('a' + i % 26);
    text[3 * SEG] = '\0';
    make_plan(&plan, buf, text, lens, delays, 3);
    /* A small send buffer, so that the socket takes the segments in parts. */
    ck_assert_int_eq(setsockopt(f.c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    memset(chunk, 'q', sizeof(chunk));
    while ((n = conn_write(&f.c, chunk, sizeof(chunk))) > 0)
        queued += (size_t)n;
    ck_assert_int_eq(n, WD_AGAIN);
    writable_calls = 0;
    f.c.on_write = on_writable;
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    ck_assert_ptr_ne(f.c.on_write, on_writable);
    tu_set_nonblock(f.peer);
    for (i = 0; i < 2000 && (f.done == 0 || total < queued + plan.len); i++) {
        tu_run_once(f.loop, 0.005);
        while ((n = read(f.peer, got, sizeof(got))) > 0) {
            for (ssize_t k = 0; k < n; k++, total++) {
                if (total < queued) {
                    ck_assert_int_eq(got[k], 'q');
                } else {
                    ck_assert_int_eq(got[k], buf[tail]);
                    tail++;
                }
            }
        }
    }
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.err, 0);
    ck_assert_uint_eq(total, queued + plan.len);
    ck_assert_uint_eq(tail, plan.len);
    ck_assert_int_gt(x.idx, 0);
    ck_assert_int_eq(writable_calls, 0);         /* the executor had the write side... */
    ck_assert_ptr_eq(f.c.on_write, on_writable); /* ...and gave it back */
    ck_assert(!(conn_watched(&f.c) & EV_WRITE));
    fixture_teardown(&f);
}
END_TEST

START_TEST(test_cancel_silences)
{
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    static char buf[64];
    const uint32_t lens[] = {2, 2}, delays[] = {100, 0};

    fixture_setup(&f);
    make_plan(&plan, buf, "abcd", lens, delays, 2);
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    ev_run(f.loop, EVRUN_NOWAIT);
    shape_exec_cancel(&x);
    shape_exec_cancel(&x); /* twice is harmless */
    tu_run_for(f.loop, 0.3);
    ck_assert_int_eq(f.done, 0);
    ck_assert(!ev_is_active(&x.timer));
    fixture_teardown(&f);
}
END_TEST

START_TEST(test_dead_peer_is_an_error)
{
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    static char buf[64];
    const uint32_t lens[] = {1, 1, 1}, delays[] = {50, 50, 0};
    struct linger lg = {1, 0};

    fixture_setup(&f);
    make_plan(&plan, buf, "xyz", lens, delays, 3);
    /* The peer resets the connection: a later write fails. */
    setsockopt(f.peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(f.peer);
    f.peer = -1;
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    tu_run_until(f.loop, &f.done, 1, 5.0);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_ne(f.err, 0);
    fixture_teardown(&f);
}
END_TEST

/* Reads from the peer until want bytes came or secs passed; returns how many. */
static size_t
read_peer(int fd, char *got, size_t want, int ms)
{
    size_t total = 0;
    ssize_t n;

    while (total < want && tu_wait_readable(fd, ms) == 1) {
        n = recv(fd, got + total, want - total, MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    return total;
}

/* The lowest free descriptor: unchanged after a fake means its pipe is closed. */
static int
lowest_free_fd(void)
{
    int fd = dup(0);

    ck_assert_int_ge(fd, 0);
    close(fd);
    return fd;
}

/* text as segments of lens, then fake (if any) after it in buf, where
 * seg[fake_seg] takes its fake bytes from, at ttl. */
static void
make_fake_plan(struct shape_plan *plan, char *buf, const char *text, const uint32_t *lens,
               const uint32_t *delays, int n, const char *fake, int fake_seg, int ttl)
{
    make_plan(plan, buf, text, lens, delays, n);
    strcpy(buf + plan->len, fake);
    plan->cap = plan->len + strlen(fake);
    plan->seg[fake_seg].flags = SHAPE_SEG_FAKE;
    plan->seg[fake_seg].fake_off = (uint32_t)plan->len;
    plan->seg[fake_seg].ttl = (uint8_t)ttl;
    ck_assert_uint_eq(strlen(fake), plan->seg[fake_seg].len);
}

static int
sock_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* A disordered segment over the fixture's socket, whose TTL option is
 * level/name and was set to 77 (not the usual 64) before: the peer gets
 * every byte in order (loopback keeps a TTL of 1), and 77 is back. */
static void
check_disorder(struct fixture *f, int level, int name)
{
    struct shape_exec x;
    struct shape_plan plan;
    static char buf[64], got[64];
    const uint32_t lens[] = {4, 4, 6}, delays[] = {0, 30, 0};
    int ttl = 77;

    ck_assert_int_eq(setsockopt(f->c.fd, level, name, &ttl, sizeof(ttl)), 0);
    ck_assert_int_eq(conn_ttl(&f->c), 77);
    make_plan(&plan, buf, "GET Host rest!", lens, delays, 3);
    plan.seg[1].ttl = 1;
    shape_exec_start(&x, &f->c, &plan, on_done, f);
    tu_run_until(f->loop, &f->done, 1, 5.0);
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->err, 0);
    ck_assert_int_eq(sock_int(f->c.fd, level, name), 77);
    ck_assert_uint_eq(read_peer(f->peer, got, plan.len, 1000), plan.len);
    ck_assert_int_eq(memcmp(got, "GET Host rest!", plan.len), 0);
}

START_TEST(test_disorder_restores_ttl)
{
    struct fixture f;

    fixture_setup(&f);
    check_disorder(&f, IPPROTO_IP, IP_TTL);
    fixture_teardown(&f);
}
END_TEST

START_TEST(test_disorder_restores_hop_limit_ipv6)
{
    struct fixture f;
    struct sockaddr_storage ss;
    socklen_t len;
    int lfd = tu_tcp_listener(AF_INET6, 4, &ss, &len), fd, peer;

    if (lfd < 0)
        return; /* no ::1 on this machine */
    fd = tu_connect((struct sockaddr *)&ss, len);
    peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(peer, 0);
    close(lfd);
    fixture_setup_fds(&f, fd, peer);
    check_disorder(&f, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
    fixture_teardown(&f);
}
END_TEST

/* An IPv6 socket talking to a v4-mapped address sends IPv4 packets: the
 * TTL that counts is IP_TTL. */
START_TEST(test_disorder_v4_mapped_uses_ip_ttl)
{
    struct fixture f;
    struct sockaddr_storage ss;
    struct sockaddr_in6 m;
    socklen_t len;
    int lfd = tu_tcp_listener(AF_INET, 4, &ss, &len), fd, peer;

    ck_assert_int_ge(lfd, 0);
    memset(&m, 0, sizeof(m));
    m.sin6_family = AF_INET6;
    m.sin6_port = ((struct sockaddr_in *)&ss)->sin_port;
    ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &m.sin6_addr), 1);
    fd = tu_connect((struct sockaddr *)&m, sizeof(m));
    peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(peer, 0);
    close(lfd);
    fixture_setup_fds(&f, fd, peer);
    check_disorder(&f, IPPROTO_IP, IP_TTL);
    fixture_teardown(&f);
}
END_TEST

/* The urgent byte leaves the stream at a receiver without SO_OOBINLINE and
 * is what recv(MSG_OOB) returns. */
START_TEST(test_oob_byte_leaves_the_stream)
{
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    static char buf[64], got[64];
    const uint32_t lens[] = {2, 3, 2}, delays[] = {0, 0, 0};
    struct pollfd pfd;
    char oob = 0;

    fixture_setup(&f);
    make_plan(&plan, buf, "abcdXef", lens, delays, 3);
    plan.seg[1].flags = SHAPE_SEG_OOB;
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    tu_run_until(f.loop, &f.done, 1, 5.0);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.err, 0);
    pfd.fd = f.peer;
    pfd.events = POLLPRI;
    ck_assert_int_eq(poll(&pfd, 1, 1000), 1);
    ck_assert_int_eq(recv(f.peer, &oob, 1, MSG_OOB), 1);
    ck_assert_int_eq(oob, 'X');
    ck_assert_uint_eq(read_peer(f.peer, got, 6, 1000), 6);
    ck_assert_int_eq(memcmp(got, "abcdef", 6), 0);
    fixture_teardown(&f);
}
END_TEST

/* Loopback delivers a fake at any TTL and ACKs it, so it is never
 * retransmitted. The receiver's queue holds the very pages the fake was
 * spliced from (no copy on loopback), and it reads them after the executor
 * has put the real bytes in: it gets the real request, which proves the
 * fake went out by reference and was overwritten in place. (Were the
 * receiver's kernel to copy on arrival, it would get the fake instead;
 * either is in order, nothing else is.) Then the TTL is back and the pages
 * and the pipe are gone. */
START_TEST(test_fake_takes_the_real_bytes_place)
{
    static const char real[] = "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
    static const char fake[] = "Host: allowed.example";
    static char buf[128], got[128], want[128];
    const uint32_t lens[] = {16, 21, 4}, delays[] = {0, 0, 0};
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    int fd0, ttl = 77;

    fixture_setup(&f);
    ck_assert_int_eq(setsockopt(f.c.fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)), 0);
    fd0 = lowest_free_fd();
    make_fake_plan(&plan, buf, real, lens, delays, 3, fake, 1, 3);
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    tu_run_until(f.loop, &f.done, 1, 5.0);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.err, 0);
    ck_assert_uint_eq(x.fake_plain, 0); /* it was spliced, not sent plainly */
    ck_assert_ptr_null(x.fake.map);
    ck_assert_int_eq(lowest_free_fd(), fd0);
    ck_assert_int_eq(sock_int(f.c.fd, IPPROTO_IP, IP_TTL), 77);
    memcpy(want, real, 16);
    memcpy(want + 16, fake, 21);
    memcpy(want + 37, real + 37, 4);
    ck_assert_uint_eq(read_peer(f.peer, got, plan.len, 1000), plan.len);
    ck_assert_msg(memcmp(got, real, plan.len) == 0 || memcmp(got, want, plan.len) == 0,
                  "peer got %.*s", (int)plan.len, got);
    fixture_teardown(&f);
}
END_TEST

/* Cancelled while the fake waits at its low TTL (the socket is full and
 * the peer reads nothing, so it waits for room, or, once in, to leave):
 * the TTL is back, the pipe closed, the pages unmapped. */
START_TEST(test_fake_cancel_mid_plan)
{
    static char buf[64], chunk[65536];
    const uint32_t lens[] = {4, 4}, delays[] = {0, 0};
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    int ttl = 77, small = 16384, p0, p1;
    unsigned char vec[1];
    char *map;

    fixture_setup(&f);
    ck_assert_int_eq(setsockopt(f.c.fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)), 0);
    ck_assert_int_eq(setsockopt(f.c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    ck_assert_int_eq(setsockopt(f.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    memset(chunk, 'q', sizeof(chunk));
    /* Until the peer's window is shut and the socket full. */
    for (int i = 0; i < 50; i++) {
        while (conn_write(&f.c, chunk, sizeof(chunk)) > 0)
            ;
        tu_run_for(f.loop, 0.01);
    }
    ck_assert_int_eq(conn_write(&f.c, chunk, 1), WD_AGAIN);
    make_fake_plan(&plan, buf, "realrest", lens, delays, 2, "fake", 0, 3);
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    tu_run_for(f.loop, 0.2);
    ck_assert_int_eq(f.done, 0);
    ck_assert(x.phase == SHAPE_PH_WRITE || x.phase == SHAPE_PH_LEFT);
    ck_assert_int_eq(sock_int(f.c.fd, IPPROTO_IP, IP_TTL), 3);
    ck_assert_ptr_nonnull(x.fake.map);
    map = x.fake.map;
    p0 = x.fake.pipe[0];
    p1 = x.fake.pipe[1];
    ck_assert(tu_fd_is_open(p0) && tu_fd_is_open(p1));
    shape_exec_cancel(&x);
    ck_assert_int_eq(sock_int(f.c.fd, IPPROTO_IP, IP_TTL), 77);
    ck_assert(!tu_fd_is_open(p0) && !tu_fd_is_open(p1));
    ck_assert_int_eq(mincore(map, 1, vec), -1); /* no longer mapped */
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert_ptr_null(x.fake.map);
    tu_run_for(f.loop, 0.1);
    ck_assert_int_eq(f.done, 0);
    fixture_teardown(&f);
}
END_TEST

/* A socket whose TTL cannot be set (here not IP at all) cannot carry a
 * fake: the real bytes go instead, counted. */
START_TEST(test_fake_falls_back_to_the_real_bytes)
{
    static char buf[64], got[64];
    const uint32_t lens[] = {4, 4}, delays[] = {0, 0};
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    int sv[2];

    tu_unix_pair(sv);
    fixture_setup_fds(&f, sv[0], sv[1]);
    make_fake_plan(&plan, buf, "realrest", lens, delays, 2, "fake", 0, 3);
    shape_exec_start(&x, &f.c, &plan, on_done, &f);
    tu_run_until(f.loop, &f.done, 1, 5.0);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.err, 0);
    ck_assert_uint_eq(x.fake_plain, 1);
    ck_assert_uint_eq(shape_exec_fake_fallbacks(), 1);
    ck_assert_uint_eq(read_peer(f.peer, got, 8, 1000), 8);
    ck_assert_int_eq(memcmp(got, "realrest", 8), 0);
    fixture_teardown(&f);
}
END_TEST

static void
owner_write(struct conn *c)
{
    (void)c;
}

/* start_now: a plan of plain cuts goes out inside the call; done is never
 * called and the conn's write side is its owner's again. */
START_TEST(test_start_now_sends_plain_cuts_at_once)
{
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    static char buf[64], got[64];
    const uint32_t lens[] = {4, 5, 9}, delays[] = {0, 0, 0};

    fixture_setup(&f);
    f.c.on_write = owner_write;
    make_plan(&plan, buf, "GET /x Host: abcde", lens, delays, 3);
    ck_assert_int_eq(shape_exec_start_now(&x, &f.c, &plan, on_done, &f), 1);
    ck_assert(f.c.on_write == owner_write);
    ck_assert(!(conn_watched(&f.c) & EV_WRITE));
    tu_run_for(f.loop, 0.05);
    ck_assert_int_eq(f.done, 0);
    ck_assert_uint_eq(read_peer(f.peer, got, plan.len, 1000), plan.len);
    ck_assert_int_eq(memcmp(got, "GET /x Host: abcde", plan.len), 0);
    fixture_teardown(&f);
}
END_TEST

/* start_now with a pause: the first segment is out when the call returns
 * 0, and done follows from the loop, once. */
START_TEST(test_start_now_goes_on_from_the_loop)
{
    struct fixture f;
    struct shape_exec x;
    struct shape_plan plan;
    static char buf[64], got[64];
    const uint32_t lens[] = {4, 6}, delays[] = {50, 0};

    fixture_setup(&f);
    make_plan(&plan, buf, "AAAABBBBBB", lens, delays, 2);
    ck_assert_int_eq(shape_exec_start_now(&x, &f.c, &plan, on_done, &f), 0);
    ck_assert_int_eq(f.done, 0);
    ck_assert_uint_eq(read_peer(f.peer, got, 4, 1000), 4);
    tu_run_until(f.loop, &f.done, 1, 5.0);
    ck_assert_int_eq(f.done, 1);
    ck_assert_int_eq(f.err, 0);
    ck_assert_uint_eq(read_peer(f.peer, got + 4, 6, 1000), 6);
    ck_assert_int_eq(memcmp(got, "AAAABBBBBB", 10), 0);
    tu_run_for(f.loop, 0.05);
    ck_assert_int_eq(f.done, 1);
    fixture_teardown(&f);
}
END_TEST

static Suite *
shape_exec_suite(void)
{
    Suite *s = suite_create("shape_exec");
    TCase *tc = tcase_create("loopback");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_segments_in_order_with_pauses);
    tcase_add_test(tc, test_first_segment_leaves_before_the_pause);
    tcase_add_test(tc, test_burst_waits_for_room);
    tcase_add_test(tc, test_cancel_silences);
    tcase_add_test(tc, test_dead_peer_is_an_error);
    tcase_add_test(tc, test_disorder_restores_ttl);
    tcase_add_test(tc, test_disorder_restores_hop_limit_ipv6);
    tcase_add_test(tc, test_disorder_v4_mapped_uses_ip_ttl);
    tcase_add_test(tc, test_oob_byte_leaves_the_stream);
    tcase_add_test(tc, test_fake_takes_the_real_bytes_place);
    tcase_add_test(tc, test_fake_cancel_mid_plan);
    tcase_add_test(tc, test_fake_falls_back_to_the_real_bytes);
    tcase_add_test(tc, test_start_now_sends_plain_cuts_at_once);
    tcase_add_test(tc, test_start_now_goes_on_from_the_loop);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(shape_exec_suite());
}
