/* Unit tests for auto_cache. Being written. */
#include <check.h>

#include "tutil.h"

START_TEST(test_placeholder)
{
    ck_assert_int_eq(1, 1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("auto_cache");
    TCase *tc = tcase_create("auto_cache");

    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
