/* Unit tests for src/core/buf.c: the per-process buffer pool and buf_space(). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tutil.h"

START_TEST(test_get_put_reuses)
{
    struct buf *a = buf_get(), *b;

    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(buf_len(a), 0);
    ck_assert_uint_eq(buf_pool_used_count(), 1);
    buf_put(a);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    ck_assert_uint_eq(buf_pool_free_count(), 1);
    b = buf_get();
    ck_assert_ptr_eq(a, b); /* recycled, not a fresh malloc */
    ck_assert_uint_eq(b->start, 0);
    ck_assert_uint_eq(b->end, 0);
    buf_put(b);
    buf_put(NULL); /* ignored */
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    buf_pool_clear();
    ck_assert_uint_eq(buf_pool_free_count(), 0);
}
END_TEST

START_TEST(test_free_list_is_capped)
{
    static struct buf *all[BUF_FREE_MAX + 10];
    size_t i;

    for (i = 0; i < (sizeof(all) / sizeof(all[0])); i++)
        ck_assert_ptr_nonnull(all[i] = buf_get());
    for (i = 0; i < (sizeof(all) / sizeof(all[0])); i++)
        buf_put(all[i]);
    ck_assert_uint_eq(buf_pool_free_count(), BUF_FREE_MAX);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    buf_pool_clear();
}
END_TEST

START_TEST(test_space_resets_and_compacts)
{
    struct buf *b = buf_get();

    ck_assert_uint_eq(buf_space(b), BUF_SIZE);
    /* Everything consumed: the offsets go back to zero. */
    b->start = b->end = 100;
    ck_assert_uint_eq(buf_space(b), BUF_SIZE);
    ck_assert_uint_eq(b->start, 0);
    /* A short tail with pending bytes: they move to the front, intact. */
    memcpy(b->data + BUF_SIZE - 10, "0123456789", 10);
    b->start = BUF_SIZE - 10;
    b->end = BUF_SIZE;
    ck_assert_uint_eq(buf_space(b), BUF_SIZE - 10);
    ck_assert_uint_eq(b->start, 0);
    ck_assert_uint_eq(buf_len(b), 10);
    ck_assert_int_eq(memcmp(b->data, "0123456789", 10), 0);
    /* A long tail: nothing moves. */
    b->start = 5;
    b->end = 10;
    ck_assert_uint_eq(buf_space(b), BUF_SIZE - 10);
    ck_assert_uint_eq(b->start, 5);
    buf_put(b);
    buf_pool_clear();
}
END_TEST

static Suite *
buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("pool");

    tcase_add_test(tc, test_get_put_reuses);
    tcase_add_test(tc, test_free_list_is_capped);
    tcase_add_test(tc, test_space_resets_and_compacts);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(buf_suite());
}
