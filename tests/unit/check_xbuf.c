/* Unit tests for src/core/xbuf.c: the HTTP sessions' input buffers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "xbuf.h"
#include "tutil.h"

START_TEST(test_reserve_and_release)
{
    struct xbuf x = {0};

    ck_assert_int_eq(xbuf_reserve(&x), 0);
    ck_assert_ptr_nonnull(x.pooled);
    ck_assert_uint_eq(x.cap, BUF_SIZE);
    ck_assert_uint_eq(buf_pool_used_count(), 1);
    ck_assert_int_eq(xbuf_reserve(&x), 0); /* held already: nothing new */
    ck_assert_uint_eq(buf_pool_used_count(), 1);
    memcpy(x.data, "abc", 3);
    x.end = 3;
    xbuf_release(&x, 0); /* bytes pending: kept */
    ck_assert_ptr_nonnull(x.data);
    x.start = 3;
    xbuf_release(&x, 0); /* empty: given back */
    ck_assert_ptr_null(x.data);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    buf_pool_clear();
}
END_TEST

START_TEST(test_space_compacts)
{
    struct xbuf x = {0};

    ck_assert_int_eq(xbuf_reserve(&x), 0);
    memcpy(x.data, "0123456789", 10);
    x.end = 10;
    x.start = 6;
    ck_assert_uint_eq(xbuf_space(&x), BUF_SIZE - 4);
    ck_assert_uint_eq(x.start, 0);
    ck_assert_uint_eq(xbuf_len(&x), 4);
    ck_assert_int_eq(memcmp(x.data, "6789", 4), 0);
    xbuf_release(&x, 1);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    buf_pool_clear();
}
END_TEST

START_TEST(test_grow_keeps_pending_bytes)
{
    struct xbuf x = {0};
    size_t i;

    ck_assert_int_eq(xbuf_reserve(&x), 0);
    for (i = 0; i < BUF_SIZE; i++)
        x.data[i] = (char)(i * 7);
    x.start = 100;
    x.end = BUF_SIZE;
    ck_assert_int_eq(xbuf_grow(&x, 65536), 0);
    ck_assert_ptr_null(x.pooled); /* the pool buffer went back */
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    ck_assert_uint_eq(x.cap, 65536);
    ck_assert_uint_eq(x.start, 0);
    ck_assert_uint_eq(xbuf_len(&x), BUF_SIZE - 100);
    for (i = 0; i < BUF_SIZE - 100; i++)
        ck_assert_int_eq(x.data[i], (char)((i + 100) * 7));
    ck_assert_int_eq(xbuf_grow(&x, 65536), -1); /* already that large */
    xbuf_release(&x, 1);
    ck_assert_ptr_null(x.data);
    buf_pool_clear();
}
END_TEST

static Suite *
xbuf_suite(void)
{
    Suite *s = suite_create("xbuf");
    TCase *tc = tcase_create("xbuf");

    tcase_add_test(tc, test_reserve_and_release);
    tcase_add_test(tc, test_space_compacts);
    tcase_add_test(tc, test_grow_keeps_pending_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(xbuf_suite());
}
