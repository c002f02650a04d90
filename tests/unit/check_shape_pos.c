/* Unit tests for shape_pos. Being written. */
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
    Suite *s = suite_create("shape_pos");
    TCase *tc = tcase_create("shape_pos");

    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
