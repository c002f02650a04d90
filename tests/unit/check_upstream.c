/* Unit tests for src/net/upstream.c: non-blocking connects on loopback to a
 * listening socket, a bound but closed port (refused), and a listener whose
 * accept queue is full so that further SYNs are dropped (timeout). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tutil.h"
#include "upstream.h"

static struct ev_loop *loop;

struct outcome {
    int calls;
    int fd, idx, err;
    double at;
};

static void
record_cb(void *arg, int fd, int idx, int err)
{
    struct outcome *o = arg;

    o->calls++;
    o->fd = fd;
    o->idx = idx;
    o->err = err;
    o->at = ev_now(loop);
    ev_break(loop, EVBREAK_ALL);
}

static void
setup(void)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(loop);
}

static void
teardown(void)
{
    ev_loop_destroy(loop);
    loop = NULL;
}

static void
add_addr(struct resolve_result *r, const struct sockaddr_storage *ss, socklen_t len)
{
    ck_assert_int_lt(r->n, RESOLVE_MAX_ADDRS);
    r->addr[r->n] = *ss;
    r->len[r->n] = len;
    r->n++;
}

/* A listener with backlog 0 holding one established, unaccepted connection:
 * Linux then drops further SYNs, so connects to it hang until timed out.
 * fillers[] receives the client sockets to close afterwards. */
static int
full_listener(struct sockaddr_storage *ss, socklen_t *len, int fillers[3])
{
    int lfd = tu_tcp_listener(AF_INET, 0, ss, len), i;

    ck_assert_int_ge(lfd, 0);
    for (i = 0; i < 3; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fillers[i], 0);
        if (connect(fillers[i], (struct sockaddr *)ss, *len) < 0)
            ck_assert_int_eq(errno, EINPROGRESS);
        if (i == 0)
            tu_run_for(loop, 0.05); /* let the first handshake complete */
    }
    return lfd;
}

static void
close_all(const int *fds, int n)
{
    int i;

    for (i = 0; i < n; i++)
        close(fds[i]);
}

START_TEST(test_connect_ok)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct resolve_result r = {0};
    struct upstream_connect u;
    struct outcome o = {0};
    int lfd, afd, nodelay = 0;
    socklen_t ol = sizeof(nodelay);

    lfd = tu_tcp_listener(AF_INET, 8, &ss, &len);
    ck_assert_int_ge(lfd, 0);
    add_addr(&r, &ss, len);
    upstream_connect_start(&u, loop, &r, 1.0, record_cb, &o);
    ck_assert_int_eq(o.calls, 0);
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_ge(o.fd, 0);
    ck_assert_int_eq(o.idx, 0);
    ck_assert_int_eq(o.err, 0);
    ck_assert(fcntl(o.fd, F_GETFL) & O_NONBLOCK);
    ck_assert(fcntl(o.fd, F_GETFD) & FD_CLOEXEC);
    ck_assert_int_eq(getsockopt(o.fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &ol), 0);
    ck_assert_int_ne(nodelay, 0);

    afd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(afd, 0);
    ck_assert_int_eq(write(afd, "x", 1), 1);
    {
        char c = 0;
        tu_run_for(loop, 0.05);
        ck_assert_int_eq(read(o.fd, &c, 1), 1);
        ck_assert_int_eq(c, 'x');
    }
    /* Cancelling after completion does not touch the caller's socket. */
    upstream_cancel(&u);
    upstream_cancel(&u);
    ck_assert(tu_fd_is_open(o.fd));
    close(o.fd);
    close(afd);
    close(lfd);
}
END_TEST

START_TEST(test_refused)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct resolve_result r = {0};
    struct upstream_connect u;
    struct outcome o = {0};
    int bfd;

    bfd = tu_tcp_listener(AF_INET, -1, &ss, &len);
    ck_assert_int_ge(bfd, 0);
    add_addr(&r, &ss, len);
    upstream_connect_start(&u, loop, &r, 1.0, record_cb, &o);
    ck_assert_int_eq(o.calls, 0);
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.fd, -1);
    ck_assert_int_eq(o.idx, -1);
    ck_assert_int_eq(o.err, ECONNREFUSED);
    close(bfd);
}
END_TEST

START_TEST(test_second_address)
{
    struct sockaddr_storage bad, good;
    socklen_t blen, glen;
    struct resolve_result r = {0};
    struct upstream_connect u;
    struct outcome o = {0};
    int bfd, lfd, afd;

    bfd = tu_tcp_listener(AF_INET, -1, &bad, &blen);
    lfd = tu_tcp_listener(AF_INET, 8, &good, &glen);
    ck_assert_int_ge(bfd, 0);
    ck_assert_int_ge(lfd, 0);
    add_addr(&r, &bad, blen);
    add_addr(&r, &good, glen);
    upstream_connect_start(&u, loop, &r, 1.0, record_cb, &o);
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_ge(o.fd, 0);
    ck_assert_int_eq(o.idx, 1);
    ck_assert_int_eq(o.err, 0);
    afd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(afd, 0);
    close(afd);
    close(o.fd);
    close(lfd);
    close(bfd);
}
END_TEST

START_TEST(test_timeout_each_address)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct resolve_result r = {0};
    struct upstream_connect u;
    struct outcome o = {0};
    int lfd, fillers[3];
    double t0;

    lfd = full_listener(&ss, &len, fillers);
    add_addr(&r, &ss, len);
    add_addr(&r, &ss, len);
    ev_now_update(loop);
    t0 = ev_now(loop);
    upstream_connect_start(&u, loop, &r, 0.3, record_cb, &o);
    tu_run_for(loop, 3.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.fd, -1);
    ck_assert_int_eq(o.err, ETIMEDOUT);
    /* Two addresses, 0.3 s each. */
    ck_assert_msg(o.at - t0 >= 0.55 && o.at - t0 <= 1.0, "gave up after %.3f s", o.at - t0);
    close_all(fillers, 3);
    close(lfd);
}
END_TEST

START_TEST(test_timeout_then_success)
{
    struct sockaddr_storage full, good;
    socklen_t flen, glen;
    struct resolve_result r = {0};
    struct upstream_connect u;
    struct outcome o = {0};
    int lfd, gfd, afd, fillers[3];

    lfd = full_listener(&full, &flen, fillers);
    gfd = tu_tcp_listener(AF_INET, 8, &good, &glen);
    ck_assert_int_ge(gfd, 0);
    add_addr(&r, &full, flen);
    add_addr(&r, &good, glen);
    upstream_connect_start(&u, loop, &r, 0.2, record_cb, &o);
    tu_run_for(loop, 3.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_ge(o.fd, 0);
    ck_assert_int_eq(o.idx, 1);
    afd = accept(gfd, NULL, NULL);
    ck_assert_int_ge(afd, 0);
    close(afd);
    close(o.fd);
    close(gfd);
    close_all(fillers, 3);
    close(lfd);
}
END_TEST

START_TEST(test_ipv6)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct resolve_result r = {0};
    struct upstream_connect u;
    struct outcome o = {0};
    int lfd, afd;

    lfd = tu_tcp_listener(AF_INET6, 8, &ss, &len);
    if (lfd < 0) {
        /* No IPv6 loopback here (e.g. disabled in the container): nothing to test. */
        return;
    }
    add_addr(&r, &ss, len);
    upstream_connect_start(&u, loop, &r, 1.0, record_cb, &o);
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_ge(o.fd, 0);
    ck_assert_int_eq(o.idx, 0);
    afd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(afd, 0);
    close(afd);
    close(o.fd);
    close(lfd);
}
END_TEST

START_TEST(test_cancel_in_progress)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct resolve_result r = {0};
    struct upstream_connect u;
    struct outcome o = {0};
    int lfd, fd, fillers[3];

    lfd = full_listener(&ss, &len, fillers);
    add_addr(&r, &ss, len);
    upstream_connect_start(&u, loop, &r, 0.3, record_cb, &o);
    tu_run_for(loop, 0.1);
    ck_assert_int_eq(o.calls, 0);
    fd = u.fd;
    ck_assert_int_ge(fd, 0);
    ck_assert(tu_fd_is_open(fd));
    upstream_cancel(&u);
    ck_assert(!tu_fd_is_open(fd));
    upstream_cancel(&u);
    /* Past the connect timeout: still no callback, and no watcher left. */
    tu_run_for(loop, 0.5);
    ck_assert_int_eq(o.calls, 0);
    ck_assert_int_eq(ev_pending_count(loop), 0);
    close_all(fillers, 3);
    close(lfd);
}
END_TEST

START_TEST(test_cancel_deferred_result)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct resolve_result r = {0};
    struct upstream_connect u, z;
    struct outcome o = {0};
    int lfd;

    /* Whatever connect() said at once is held back for the loop; cancelling
     * before then drops it and closes any socket. */
    lfd = tu_tcp_listener(AF_INET, 8, &ss, &len);
    ck_assert_int_ge(lfd, 0);
    add_addr(&r, &ss, len);
    upstream_connect_start(&u, loop, &r, 1.0, record_cb, &o);
    upstream_cancel(&u);
    tu_run_for(loop, 0.2);
    ck_assert_int_eq(o.calls, 0);
    close(lfd);

    /* A zero-filled, never started struct can be cancelled too. */
    memset(&z, 0, sizeof(z));
    upstream_cancel(&z);
}
END_TEST

START_TEST(test_empty_list)
{
    struct resolve_result r = {0};
    struct upstream_connect u;
    struct outcome o = {0};

    upstream_connect_start(&u, loop, &r, 1.0, record_cb, &o);
    ck_assert_int_eq(o.calls, 0);
    tu_run_for(loop, 1.0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.fd, -1);
    ck_assert_int_eq(o.err, EDESTADDRREQ);
}
END_TEST

/* The struct may be reused from inside the callback. */
struct retry {
    struct upstream_connect u;
    struct resolve_result good;
    int calls;
    int fd;
};

static void
retry_cb(void *arg, int fd, int idx, int err)
{
    struct retry *rt = arg;

    rt->calls++;
    if (rt->calls == 1) {
        ck_assert_int_eq(fd, -1);
        upstream_connect_start(&rt->u, loop, &rt->good, 1.0, retry_cb, rt);
        return;
    }
    rt->fd = fd;
    ev_break(loop, EVBREAK_ALL);
}

START_TEST(test_restart_from_callback)
{
    struct sockaddr_storage bad, good;
    socklen_t blen, glen;
    struct resolve_result r = {0};
    struct retry rt;
    int bfd, lfd;

    memset(&rt, 0, sizeof(rt));
    bfd = tu_tcp_listener(AF_INET, -1, &bad, &blen);
    lfd = tu_tcp_listener(AF_INET, 8, &good, &glen);
    ck_assert_int_ge(bfd, 0);
    ck_assert_int_ge(lfd, 0);
    add_addr(&r, &bad, blen);
    add_addr(&rt.good, &good, glen);
    upstream_connect_start(&rt.u, loop, &r, 1.0, retry_cb, &rt);
    tu_run_for(loop, 2.0);
    ck_assert_int_eq(rt.calls, 2);
    ck_assert_int_ge(rt.fd, 0);
    close(rt.fd);
    close(lfd);
    close(bfd);
}
END_TEST

static Suite *
upstream_suite(void)
{
    Suite *s = suite_create("upstream");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_connect_ok);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_second_address);
    tcase_add_test(tc, test_timeout_each_address);
    tcase_add_test(tc, test_timeout_then_success);
    tcase_add_test(tc, test_ipv6);
    tcase_add_test(tc, test_cancel_in_progress);
    tcase_add_test(tc, test_cancel_deferred_result);
    tcase_add_test(tc, test_empty_list);
    tcase_add_test(tc, test_restart_from_callback);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(upstream_suite());
}
