/* Unit tests for src/core/xbuf.c: the HTTP sessions' input buffers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "xbuf.h"
#include "tutil.h"

/* Fills x's storage with a pattern and marks [start, cap) pending. */
static void
fill(struct xbuf *x, uint32_t start)
{
    for (size_t i = 0; i < x->cap; i++)
        x->data[i] = (char)(i * 7);
    x->start = start;
    x->end = x->cap;
}

static void
check_pattern(const struct xbuf *x, uint32_t from, size_t n)
{
    ck_assert_uint_eq(x->start, 0);
    ck_assert_uint_eq(xbuf_len(x), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(x->data[i], (char)((i + from) * 7));
}

START_TEST(test_reserve_and_release)
{
    struct xbuf x = {0};

    ck_assert_int_eq(xbuf_reserve(&x, XBUF_SMALL), 0);
    ck_assert_ptr_null(x.pooled); /* a head starts small, not in a pool buffer */
    ck_assert_uint_eq(x.cap, XBUF_SMALL);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    ck_assert_int_eq(xbuf_reserve(&x, XBUF_SMALL), 0); /* held already: nothing new */
    ck_assert_uint_eq(x.cap, XBUF_SMALL);
    memcpy(x.data, "abc", 3);
    x.end = 3;
    xbuf_release(&x, 0); /* bytes pending: kept */
    ck_assert_ptr_nonnull(x.data);
    x.start = 3;
    xbuf_release(&x, 0); /* empty: given back, to the small free list */
    ck_assert_ptr_null(x.data);
    ck_assert_uint_eq(x.cap, 0);
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_SMALL), 1);
    ck_assert_int_eq(xbuf_reserve(&x, XBUF_SMALL), 0); /* reused */
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_SMALL), 0);
    xbuf_release(&x, 1);
    xbuf_pool_clear();
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_SMALL), 0);
    buf_pool_clear();
}
END_TEST

START_TEST(test_reserve_body_takes_pool_buffer)
{
    struct xbuf x = {0};

    ck_assert_int_eq(xbuf_reserve(&x, XBUF_SMALL), 0);
    memcpy(x.data, "0123456789", 10);
    x.start = 4;
    x.end = 10;
    /* A body after a head: the pending bytes move to a pool buffer. */
    ck_assert_int_eq(xbuf_reserve(&x, BUF_SIZE), 0);
    ck_assert_ptr_nonnull(x.pooled);
    ck_assert_ptr_eq(x.data, x.pooled->data);
    ck_assert_uint_eq(x.cap, BUF_SIZE);
    ck_assert_uint_eq(buf_pool_used_count(), 1);
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_SMALL), 1);
    ck_assert_uint_eq(x.start, 0);
    ck_assert_uint_eq(xbuf_len(&x), 6);
    ck_assert_int_eq(memcmp(x.data, "456789", 6), 0);
    ck_assert_int_eq(xbuf_reserve(&x, XBUF_SMALL), 0); /* larger already: kept */
    ck_assert_uint_eq(x.cap, BUF_SIZE);
    xbuf_release(&x, 1);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    xbuf_pool_clear();
    buf_pool_clear();
}
END_TEST

START_TEST(test_space_compacts)
{
    struct xbuf x = {0};

    ck_assert_int_eq(xbuf_reserve(&x, XBUF_SMALL), 0);
    memcpy(x.data, "0123456789", 10);
    x.end = 10;
    x.start = 6;
    ck_assert_uint_eq(xbuf_space(&x), XBUF_SMALL - 4);
    ck_assert_uint_eq(x.start, 0);
    ck_assert_uint_eq(xbuf_len(&x), 4);
    ck_assert_int_eq(memcmp(x.data, "6789", 4), 0);
    xbuf_release(&x, 1);
    xbuf_pool_clear();
}
END_TEST

START_TEST(test_grow_sizes_and_pending_bytes)
{
    static const uint32_t caps[] = {XBUF_MEDIUM, BUF_SIZE, 65536};
    struct xbuf x = {0};
    size_t i;

    ck_assert_int_eq(xbuf_reserve(&x, XBUF_SMALL), 0);
    for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        uint32_t from = x.cap / 5;
        size_t n = x.cap - from;

        fill(&x, from);
        ck_assert_int_eq(xbuf_grow(&x, 65536), 0);
        ck_assert_uint_eq(x.cap, caps[i]);
        ck_assert_uint_eq(buf_pool_used_count(), x.cap == BUF_SIZE ? 1 : 0);
        ck_assert(x.cap == BUF_SIZE ? x.pooled != NULL : x.pooled == NULL);
        check_pattern(&x, from, n);
    }
    ck_assert_int_eq(xbuf_grow(&x, 65536), -1); /* already that large */
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_SMALL), 1);
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_MEDIUM), 1);
    xbuf_release(&x, 1);
    ck_assert_ptr_null(x.data);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    xbuf_pool_clear();
    buf_pool_clear();
}
END_TEST

/* A max_header_size below a size class: the last step is max itself. */
START_TEST(test_grow_stops_at_max)
{
    struct xbuf x = {0};

    ck_assert_int_eq(xbuf_reserve(&x, XBUF_SMALL), 0);
    fill(&x, 0);
    ck_assert_int_eq(xbuf_grow(&x, 1024), 0);
    ck_assert_uint_eq(x.cap, 1024);
    check_pattern(&x, 0, XBUF_SMALL);
    ck_assert_int_eq(xbuf_grow(&x, 1024), -1);
    xbuf_release(&x, 1); /* malloc'd, not a class size: freed */
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_SMALL), 1);
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_MEDIUM), 0);
    xbuf_pool_clear();
}
END_TEST

START_TEST(test_free_list_bounded)
{
    enum { N = XBUF_FREE_MAX + 10 };
    struct xbuf *xs = calloc(N, sizeof(*xs));

    ck_assert_ptr_nonnull(xs);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(xbuf_reserve(&xs[i], XBUF_SMALL), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(xbuf_grow(&xs[i], 65536), 0); /* to XBUF_MEDIUM */
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_SMALL), XBUF_FREE_MAX);
    for (int i = 0; i < N; i++)
        xbuf_release(&xs[i], 0);
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_MEDIUM), XBUF_FREE_MAX);
    xbuf_pool_clear();
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_SMALL), 0);
    ck_assert_uint_eq(xbuf_pool_free_count(XBUF_MEDIUM), 0);
    free(xs);
}
END_TEST

static Suite *
xbuf_suite(void)
{
    Suite *s = suite_create("xbuf");
    TCase *tc = tcase_create("xbuf");

    tcase_add_test(tc, test_reserve_and_release);
    tcase_add_test(tc, test_reserve_body_takes_pool_buffer);
    tcase_add_test(tc, test_space_compacts);
    tcase_add_test(tc, test_grow_sizes_and_pending_bytes);
    tcase_add_test(tc, test_grow_stops_at_max);
    tcase_add_test(tc, test_free_list_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(xbuf_suite());
}
