/* Unit tests for src/shape/shape_auto.c: the order of auto's tries (the
 * remembered winner first, the configured list after it without it again,
 * one try for a destination where nothing worked), what passed and failed
 * tries leave in the shared table, and the block-page check of an answer's
 * first bytes: every redirect status, Location forms, incomplete heads,
 * look-alikes that are not block pages. */
#include <check.h>
#include <string.h>
#include <time.h>

#include "auto_cache.h"
#include "config.h"
#include "shape_auto.h"
#include "tutil.h"

static struct config cfg;
static struct auto_cache *cache;

static void
setup(void)
{
    char err[256];

    config_init(&cfg);
    ck_assert_msg(config_set(&cfg, "shape_auto_block_hosts", "warning.or.kr *.block.test", err,
                             sizeof(err)) == 0,
                  "%s", err);
    cache = auto_cache_create(64);
    ck_assert_ptr_nonnull(cache);
    auto_cache_set_shared(cache);
}

static void
teardown(void)
{
    auto_cache_set_shared(NULL);
    auto_cache_destroy(cache);
}

START_TEST(test_order_default)
{
    struct shape_auto a;
    static const int want[] = {SHAPE_SPLIT,    SHAPE_TLSREC, SHAPE_OOB,
                               SHAPE_DISORDER, SHAPE_FAKE,   SHAPE_WARP};

    shape_auto_begin(&a, &cfg, "Blocked.Test.");
    ck_assert_str_eq(a.key, "blocked.test");
    ck_assert_int_eq(a.remembered, AUTO_CACHE_NONE);
    ck_assert_int_eq(a.n, 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(shape_auto_current(&a), want[i]);
        ck_assert_int_eq(shape_auto_tries(&a), i + 1);
        ck_assert_int_eq(shape_auto_more(&a), i < 5);
        ck_assert_int_eq(shape_auto_next(&a), i < 5 ? want[i + 1] : -1);
    }
    ck_assert_int_eq(shape_auto_current(&a), SHAPE_WARP); /* stays on the last */
}
END_TEST

START_TEST(test_winner_first)
{
    struct shape_auto a;
    char name[SHAPE_NAME_MAX];

    shape_auto_begin(&a, &cfg, "blocked.test");
    shape_auto_next(&a);
    shape_auto_next(&a); /* oob */
    shape_auto_passed(&a, &cfg);
    ck_assert_int_eq(auto_cache_get(cache, "blocked.test", time(NULL), name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "oob");
    shape_auto_begin(&a, &cfg, "BLOCKED.test");
    ck_assert_int_eq(a.remembered, AUTO_CACHE_WINNER);
    ck_assert_int_eq(a.n, 6);
    ck_assert_int_eq(a.order[0], SHAPE_OOB);
    ck_assert_int_eq(a.order[1], SHAPE_SPLIT);
    ck_assert_int_eq(a.order[2], SHAPE_TLSREC);
    ck_assert_int_eq(a.order[3], SHAPE_DISORDER);
    /* A remembered name that no longer names a strategy: the list as is. */
    auto_cache_put(cache, "gone.test", "mine", time(NULL) + 60);
    shape_auto_begin(&a, &cfg, "gone.test");
    ck_assert_int_eq(a.order[0], SHAPE_SPLIT);
    ck_assert_int_eq(a.n, 6);
    /* A user strategy by name. */
    {
        char err[256];

        ck_assert(config_set(&cfg, "strategy", "mine split:2", err, sizeof(err)) == 0);
        shape_auto_begin(&a, &cfg, "gone.test");
        ck_assert_int_eq(a.order[0], SHAPE_USER);
        ck_assert_int_eq(a.n, 7);
    }
}
END_TEST

START_TEST(test_failed_once)
{
    struct shape_auto a;

    shape_auto_begin(&a, &cfg, "nothing.test");
    while (shape_auto_next(&a) >= 0)
        ;
    shape_auto_failed(&a, &cfg);
    shape_auto_begin(&a, &cfg, "nothing.test");
    ck_assert_int_eq(a.remembered, AUTO_CACHE_FAILED);
    ck_assert_int_eq(a.n, 1);
    ck_assert_int_eq(shape_auto_more(&a), 0);
    ck_assert_int_eq(shape_auto_current(&a), SHAPE_SPLIT);
    /* The fail time is the shorter one. */
    {
        char name[SHAPE_NAME_MAX];

        ck_assert_int_eq(auto_cache_get(cache, "nothing.test",
                                        time(NULL) + (time_t)cfg.shape_auto_fail_ttl + 2, name),
                         AUTO_CACHE_NONE);
    }
}
END_TEST

START_TEST(test_no_key_no_table)
{
    struct shape_auto a;
    char name[SHAPE_NAME_MAX];

    shape_auto_begin(&a, &cfg, NULL);
    ck_assert_str_eq(a.key, "");
    shape_auto_passed(&a, &cfg); /* remembers nothing, crashes nothing */
    shape_auto_begin(&a, &cfg, "");
    shape_auto_failed(&a, &cfg);
    auto_cache_set_shared(NULL);
    shape_auto_begin(&a, &cfg, "x.test");
    shape_auto_passed(&a, &cfg);
    ck_assert_int_eq(a.n, 6);
    ck_assert_int_eq(auto_cache_get(cache, "x.test", time(NULL), name), AUTO_CACHE_NONE);
}
END_TEST

static const struct {
    const char *answer;
    int want;
} pages[] = {
    {"HTTP/1.1 302 Found\r\nLocation: http://warning.or.kr/\r\n\r\n", 1},
    {"HTTP/1.1 301 Moved\r\nContent-Length: 0\r\nlocation:   https://x.block.test:443/a?b\r\n\r\n",
     1},
    {"HTTP/1.0 303 See Other\r\nLocation: //warning.or.kr\r\n\r\n", 1},
    {"HTTP/1.1 307 T\r\nLocation: http://WARNING.or.kr./x\r\n\r\n", 1},
    {"HTTP/1.1 308 P\r\nLocation: http://warning.or.kr#frag\r\n\r\n", 1},
    {"HTTP/1.1 302 Found\r\nLocation: http://example.com/\r\n\r\n", 0},
    {"HTTP/1.1 302 Found\r\nLocation: /warning.or.kr\r\n\r\n", 0},
    {"HTTP/1.1 302 Found\r\nLocation: http://user@warning.or.kr/\r\n\r\n", 0},
    {"HTTP/1.1 302 Found\r\nLocation: http://block.test/\r\n\r\n", 0},
    {"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", 0},
    {"HTTP/1.1 302 Found\r\n\r\n", 0},
    {"HTTP/1.1 200 OK\r\nLocation: http://warning.or.kr/\r\n\r\n", 0},
    {"HTTP/1.1 304 Not Modified\r\nLocation: http://warning.or.kr/\r\n\r\n", 0},
    {"HTTP/1.1 302 Found\r\nLocation: http://warning.or.kr/\r\n", -1},
    {"HTTP/1.1 302 Fo", -1},
    {"HTTP/1", -1},
    {"HTTP/1.1 30", -1},
    {"\x16\x03\x01\x00\x05hello", 0},
    {"SSH-2.0-OpenSSH_9.2\r\n", 0},
    {"HTTP/2 302\r\n\r\n", 0},
};

START_TEST(test_block_page)
{
    const char *a = pages[_i].answer;

    ck_assert_msg(shape_auto_block_page(&cfg, a, strlen(a)) == pages[_i].want, "%s: want %d", a,
                  pages[_i].want);
}
END_TEST

START_TEST(test_block_page_off)
{
    static const char a[] = "HTTP/1.1 302 Found\r\nLocation: http://warning.or.kr/\r\n\r\n";
    char err[256];

    ck_assert(config_set(&cfg, "shape_auto_block_hosts", "off", err, sizeof(err)) == 0);
    ck_assert_int_eq(shape_auto_block_page(&cfg, a, sizeof(a) - 1), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shape_auto");
    TCase *tc = tcase_create("shape_auto");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_order_default);
    tcase_add_test(tc, test_winner_first);
    tcase_add_test(tc, test_failed_once);
    tcase_add_test(tc, test_no_key_no_table);
    tcase_add_loop_test(tc, test_block_page, 0, (int)(sizeof(pages) / sizeof(pages[0])));
    tcase_add_test(tc, test_block_page_off);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
