/* Unit tests of the shaping planner (src/shape.c): byte-exact plans with
 * fixed seeds. Placeholder while the planner is written. */
#include <check.h>
#include <stdlib.h>

#include "shape.h"

START_TEST(test_rand_nonzero)
{
    uint64_t s = 0;

    ck_assert_uint_ne(shape_rand(&s), 0);
    ck_assert_uint_ne(s, 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("plan");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_rand_nonzero);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
