/* Unit tests for src/core/outq.c over socketpairs: the fast path copies nothing,
 * what the socket refuses is queued in order and flushed later, counters,
 * buffers given back, and write errors reported. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "outq.h"
#include "tutil.h"

struct fixture {
    struct ev_loop *loop;
    int peer;
    struct conn c;
    struct outq q;
};

static void
setup(struct fixture *f)
{
    int sv[2], small = 4096;

    memset(f, 0, sizeof(*f));
    signal(SIGPIPE, SIG_IGN);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(f->loop);
    tu_unix_pair(sv);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    conn_init(&f->c, f->loop, sv[0], NULL);
    f->peer = sv[1];
}

static void
teardown(struct fixture *f)
{
    outq_clear(&f->q);
    conn_close(&f->c);
    if (f->peer >= 0)
        close(f->peer);
    ev_loop_destroy(f->loop);
    buf_pool_clear();
}

START_TEST(test_fast_path_queues_nothing)
{
    struct fixture f;
    struct iovec iov[2] = {{"head ", 5}, {"body", 4}};
    uint64_t counter = 0;
    char got[16];

    setup(&f);
    ck_assert_int_eq(outq_send(&f.c, &f.q, iov, 2, 9, &counter), 0);
    ck_assert_uint_eq(f.q.bytes, 0);
    ck_assert_ptr_null(f.q.first);
    ck_assert_uint_eq(counter, 9);
    ck_assert_int_eq(read(f.peer, got, sizeof(got)), 9);
    ck_assert_int_eq(memcmp(got, "head body", 9), 0);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    teardown(&f);
}
END_TEST

START_TEST(test_rest_is_queued_in_order)
{
    struct fixture f;
    static char big[200000], got[200000];
    struct iovec iov[2];
    uint64_t counter = 0;
    size_t total = 0, i;
    int r = 0;

    setup(&f);
    for (i = 0; i < sizeof(big); i++)
        big[i] = (char)(i % 251);
    iov[0].iov_base = big;
    iov[0].iov_len = 1000;
    iov[1].iov_base = big + 1000;
    iov[1].iov_len = sizeof(big) - 1000;
    ck_assert_int_eq(outq_send(&f.c, &f.q, iov, 2, sizeof(big), &counter), 0);
    ck_assert_uint_gt(f.q.bytes, 0); /* the socket took only part */
    ck_assert_uint_ge(buf_pool_used_count(), 2);
    ck_assert_uint_eq(counter, sizeof(big));
    /* Later sends go behind the queue, never before it. */
    iov[0].iov_base = "TAIL";
    iov[0].iov_len = 4;
    ck_assert_int_eq(outq_send(&f.c, &f.q, iov, 1, 4, &counter), 0);
    for (i = 0; i < 100000 && total < sizeof(got); i++) {
        ssize_t n = read(f.peer, got + total, sizeof(got) - total);
        if (n > 0)
            total += (size_t)n;
        r = outq_flush(&f.c, &f.q);
        ck_assert(r == WD_DONE || r == WD_AGAIN);
    }
    ck_assert_uint_eq(total, sizeof(got));
    ck_assert_int_eq(memcmp(got, big, sizeof(big)), 0);
    while (r == WD_AGAIN)
        r = outq_flush(&f.c, &f.q);
    ck_assert_int_eq(r, WD_DONE);
    ck_assert_int_eq(read(f.peer, got, 4), 4);
    ck_assert_int_eq(memcmp(got, "TAIL", 4), 0);
    ck_assert_uint_eq(f.q.bytes, 0);
    ck_assert_uint_eq(buf_pool_used_count(), 0); /* every buffer went back */
    teardown(&f);
}
END_TEST

START_TEST(test_write_error)
{
    struct fixture f;
    struct iovec iov = {"x", 1};
    uint64_t counter = 0;

    setup(&f);
    close(f.peer);
    f.peer = -1;
    ck_assert_int_eq(outq_send(&f.c, &f.q, &iov, 1, 1, &counter), -1);
    ck_assert_int_eq(errno, EPIPE);
    teardown(&f);
}
END_TEST

START_TEST(test_clear_returns_buffers)
{
    struct outq q = {0};
    static char data[3 * BUF_SIZE];

    ck_assert_int_eq(outq_append(&q, data, sizeof(data)), 0);
    ck_assert_uint_eq(q.bytes, sizeof(data));
    ck_assert_uint_eq(buf_pool_used_count(), 3);
    outq_clear(&q);
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_ptr_null(q.first);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    buf_pool_clear();
}
END_TEST

static Suite *
outq_suite(void)
{
    Suite *s = suite_create("outq");
    TCase *tc = tcase_create("socketpair");

    tcase_add_test(tc, test_fast_path_queues_nothing);
    tcase_add_test(tc, test_rest_is_queued_in_order);
    tcase_add_test(tc, test_write_error);
    tcase_add_test(tc, test_clear_returns_buffers);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(outq_suite());
}
