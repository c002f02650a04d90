/* Unit tests for src/access/dest.c and src/config/config_dest.c: every
 * accepted deny_dest/allow_dest word with how it prints back, refused words
 * with their messages, matching of IPv4, IPv6 and IPv4-mapped addresses with
 * ports against rule lists (first match wins), which rules cover which, and
 * the whole filter as a worker asks it: the rules, then the safe default
 * when a listen address is not loopback, and the mode check. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "dest.h"
#include "tutil.h"

/* ---- parsing ------------------------------------------------------------- */

static const struct {
    const char *word, *text; /* as written, as dest_format prints it with deny */
} parse_ok[] = {
    {"all", "deny_dest all"},
    {"all:25", "deny_dest all:25"},
    {"10.0.0.0/8", "deny_dest 10.0.0.0/8"},
    {"169.254.169.254", "deny_dest 169.254.169.254"},
    {"169.254.169.254:80", "deny_dest 169.254.169.254:80"},
    {"127.0.0.0/8:22,25", "deny_dest 127.0.0.0/8:22,25"},
    {"192.0.2.0/24:8000-8999,443", "deny_dest 192.0.2.0/24:8000-8999,443"},
    {"fd00::/8", "deny_dest fd00::/8"},
    {"::1", "deny_dest ::1"},
    {"[::1]", "deny_dest ::1"},
    {"[fd00::]/8:22,25", "deny_dest [fd00::]/8:22,25"},
    {"[fd00::/8]:22", "deny_dest [fd00::]/8:22"},
    {"[2001:db8::1]:443", "deny_dest [2001:db8::1]:443"},
    {"[fe80::]/10", "deny_dest fe80::/10"},
    /* IPv4-mapped networks are IPv4 ones (acl.c's rule). */
    {"::ffff:127.0.0.1", "deny_dest 127.0.0.1"},
    {"[::ffff:127.0.0.0]/104:22", "deny_dest 127.0.0.0/8:22"},
};

START_TEST(test_parse_ok)
{
    struct dest_rule r, again;
    char err[256] = "", text[DEST_TEXTLEN];

    ck_assert_msg(dest_parse(parse_ok[_i].word, ACL_DENY, &r, err, sizeof(err)) == 0, "%s: %s",
                  parse_ok[_i].word, err);
    ck_assert_str_eq(dest_format(&r, text, sizeof(text)), parse_ok[_i].text);
    /* What is printed parses back to the same rule, byte for byte. */
    ck_assert_int_eq(dest_parse(strchr(text, ' ') + 1, ACL_DENY, &again, err, sizeof(err)), 0);
    ck_assert_mem_eq(&again, &r, sizeof(r));
    ck_assert_int_eq(dest_parse(parse_ok[_i].word, ACL_ALLOW, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(strncmp(dest_format(&r, text, sizeof(text)), "allow_dest ", 11), 0);
}
END_TEST

static const struct {
    const char *word, *msg;
} parse_bad[] = {
    {"localhost", "expected an address or network with optional ports, such as 10.0.0.0/8, "
                  "169.254.169.254:80, [fd00::]/8:22,25 or all:25, got 'localhost'"},
    {"example.com:80", "expected an address or network"},
    {"10.0.0.1/8", "address has bits set after the /8 prefix (the network is 10.0.0.0/8)"},
    {"10.0.0.0/33", "prefix length out of range (0-32 for IPv4)"},
    {"[::1]/129:22", "prefix length out of range (0-128 for IPv6)"},
    {"10.0.0.1:", "expected ports and ranges after ':' such as 22,25,8000-8999, got '10.0.0.1:'"},
    {"10.0.0.1:0", "port out of range (1-65535), got '10.0.0.1:0'"},
    {"10.0.0.1:65536", "port out of range (1-65535)"},
    {"10.0.0.1:22,", "expected ports and ranges after ':'"},
    {"10.0.0.1:ssh", "expected ports and ranges after ':'"},
    {"10.0.0.1:30-20", "port range runs backwards, got '10.0.0.1:30-20'"},
    {"10.0.0.1:1,2,3,4,5,6,7,8,9", "too many port ranges in one rule (at most 8)"},
    {"[::1", "missing ']' after an IPv6 address"},
    {"[10.0.0.1]:80", "expected an address or network"},
    {"[::1]x", "expected an address or network"},
    {":80", "expected an address or network"},
};

START_TEST(test_parse_bad)
{
    struct dest_rule r, zero;
    char err[256] = "";

    memset(&zero, 0, sizeof(zero));
    ck_assert_int_eq(dest_parse(parse_bad[_i].word, ACL_DENY, &r, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, parse_bad[_i].msg) != NULL, "%s: got '%s', expected '%s'",
                  parse_bad[_i].word, err, parse_bad[_i].msg);
    ck_assert_mem_eq(&r, &zero, sizeof(r)); /* nothing half-parsed is left */
}
END_TEST

/* ---- matching ------------------------------------------------------------ */

static void
rules_of(const char *const *words, int n, struct dest_rule *out)
{
    char err[256];

    for (int i = 0; i < n; i++) {
        int allow = words[i][0] == '+';

        ck_assert_msg(
            dest_parse(words[i] + 1, allow ? ACL_ALLOW : ACL_DENY, &out[i], err, sizeof(err)) == 0,
            "%s: %s", words[i], err);
    }
}

static int
find(const struct dest_rule *rules, int n, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;

    ck_assert_msg(addr_from_text(addr, &ss, &len) == 0, "bad test address %s", addr);
    return dest_find(rules, n, (struct sockaddr *)&ss);
}

START_TEST(test_match)
{
    static const char *const words[] = {
        "+127.0.0.1:8080",       /* 0: an exception first */
        "-127.0.0.0/8:22,25",    /* 1 */
        "-10.0.0.0/8",           /* 2 */
        "-[fd00::]/8:1000-2000", /* 3 */
        "-::1",                  /* 4 */
        "-all:6379",             /* 5 */
    };
    struct dest_rule r[6];

    rules_of(words, 6, r);
    ck_assert_int_eq(find(r, 6, "127.0.0.1:8080"), 0);
    ck_assert_int_eq(find(r, 6, "127.0.0.1:22"), 1);
    ck_assert_int_eq(find(r, 6, "127.0.0.2:25"), 1);
    ck_assert_int_eq(find(r, 6, "127.0.0.2:80"), -1);
    ck_assert_int_eq(find(r, 6, "10.1.2.3:80"), 2);
    ck_assert_int_eq(find(r, 6, "11.1.2.3:80"), -1);
    /* Mapped addresses are matched as IPv4. */
    ck_assert_int_eq(find(r, 6, "[::ffff:127.0.0.1]:8080"), 0);
    ck_assert_int_eq(find(r, 6, "[::ffff:127.0.0.1]:22"), 1);
    ck_assert_int_eq(find(r, 6, "[::ffff:10.0.0.1]:443"), 2);
    ck_assert_int_eq(find(r, 6, "[fd12::1]:1000"), 3);
    ck_assert_int_eq(find(r, 6, "[fd12::1]:2000"), 3);
    ck_assert_int_eq(find(r, 6, "[fd12::1]:2001"), -1);
    ck_assert_int_eq(find(r, 6, "[fc00::1]:1500"), -1);
    ck_assert_int_eq(find(r, 6, "[::1]:80"), 4);
    ck_assert_int_eq(find(r, 6, "[::2]:80"), -1);
    /* IPv6 rules never match IPv4 addresses, and the reverse. */
    ck_assert_int_eq(find(r, 6, "[::a00:1]:80"), -1);
    ck_assert_int_eq(find(r, 6, "192.0.2.1:6379"), 5);
    ck_assert_int_eq(find(r, 6, "[2001:db8::1]:6379"), 5);
    ck_assert_int_eq(find(r, 6, "192.0.2.1:6380"), -1);
}
END_TEST

static const struct {
    const char *a, *b;
    int covers;
} cover_cases[] = {
    {"10.0.0.0/8", "10.1.0.0/16:22", 1},
    {"10.0.0.0/8:22", "10.1.0.0/16", 0},
    {"10.0.0.0/8:20-30", "10.1.0.0/16:22,25", 1},
    {"10.0.0.0/8:20-30", "10.1.0.0/16:22,35", 0},
    {"all", "[fd00::]/8:22", 1},
    {"all:22", "10.0.0.1:22", 1},
    {"10.0.0.0/16", "10.0.0.0/8", 0},
    {"::/0", "10.0.0.0/8", 0},
};

START_TEST(test_covers)
{
    struct dest_rule a, b;
    char err[256];

    ck_assert_int_eq(dest_parse(cover_cases[_i].a, ACL_DENY, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(dest_parse(cover_cases[_i].b, ACL_ALLOW, &b, err, sizeof(err)), 0);
    ck_assert_int_eq(dest_covers(&a, &b), cover_cases[_i].covers);
}
END_TEST

/* ---- the whole filter, with the configuration ---------------------------- */

static void
cfg_with(struct config *c, const char *listen, const char *const *lines, int n)
{
    char err[256];

    config_init(c);
    c->nlisten = 0;
    ck_assert_msg(config_set(c, "listen", listen, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < n; i++) {
        const char *sp = strchr(lines[i], ' ');
        char name[32];

        snprintf(name, sizeof(name), "%.*s", (int)(sp - lines[i]), lines[i]);
        ck_assert_msg(config_set(c, name, sp + 1, err, sizeof(err)) == 0, "%s: %s", lines[i], err);
    }
    ck_assert_msg(config_finish(c, err, sizeof(err)) == 0, "%s", err);
}

/* "" when allowed, else the reason. */
static const char *
verdict(const struct config *c, const char *addr)
{
    static char why[DEST_TEXTLEN];
    struct sockaddr_storage ss;
    socklen_t len;

    ck_assert_msg(addr_from_text(addr, &ss, &len) == 0, "bad test address %s", addr);
    why[0] = '\0';
    if (config_dest_allowed(c, (struct sockaddr *)&ss, why, sizeof(why)))
        ck_assert_str_eq(why, "");
    else
        ck_assert_str_ne(why, "");
    return why;
}

START_TEST(test_loopback_listener_no_default)
{
    static struct config c;
    static const char *const lines[] = {"deny_dest 10.0.0.0/8"};

    cfg_with(&c, "127.0.0.1:8800", NULL, 0);
    ck_assert_int_eq(config_dest_default(&c), 0);
    ck_assert_str_eq(verdict(&c, "127.0.0.1:22"), "");
    ck_assert_str_eq(verdict(&c, "169.254.169.254:80"), "");
    ck_assert_str_eq(verdict(&c, "127.0.0.1:8800"), "");
    cfg_with(&c, "[::1]:8800", lines, 1);
    ck_assert_int_eq(config_dest_default(&c), 0);
    ck_assert_str_eq(verdict(&c, "10.9.9.9:80"), "deny_dest 10.0.0.0/8");
    ck_assert_str_eq(verdict(&c, "[::1]:22"), "");
}
END_TEST

START_TEST(test_network_listener_default)
{
    static struct config c;
    static const char *const lines[] = {
        "allow_dest 127.0.0.1:8080 [::1]:8080",
        "deny_dest 192.168.0.0/16",
        "allow_dest 169.254.0.0/16:80",
        "deny_dest 198.18.0.0/15:22",
    };

    cfg_with(&c, "198.18.0.1:8800", NULL, 0);
    ck_assert_int_eq(config_dest_default(&c), 1);
    ck_assert_str_eq(verdict(&c, "127.0.0.1:22"), "default: loopback");
    ck_assert_str_eq(verdict(&c, "127.5.6.7:80"), "default: loopback");
    ck_assert_str_eq(verdict(&c, "[::1]:80"), "default: loopback");
    ck_assert_str_eq(verdict(&c, "[::ffff:127.0.0.1]:80"), "default: loopback");
    ck_assert_str_eq(verdict(&c, "169.254.169.254:80"), "default: link-local");
    ck_assert_str_eq(verdict(&c, "[fe80::1]:80"), "default: link-local");
    ck_assert_str_eq(verdict(&c, "0.0.0.0:80"), "default: unspecified");
    ck_assert_str_eq(verdict(&c, "[::]:80"), "default: unspecified");
    ck_assert_str_eq(verdict(&c, "198.18.0.1:8800"), "default: warpd's own listen address");
    ck_assert_str_eq(verdict(&c, "198.18.0.1:22"), "");
    /* Private networks stay allowed by default. */
    ck_assert_str_eq(verdict(&c, "10.0.0.1:80"), "");
    ck_assert_str_eq(verdict(&c, "192.168.1.1:80"), "");
    ck_assert_str_eq(verdict(&c, "[fd00::1]:80"), "");
    ck_assert_str_eq(verdict(&c, "[2001:db8::1]:443"), "");

    /* allow_dest before the default wins; the rules go first, in order. */
    cfg_with(&c, "0.0.0.0:8800", lines, 4);
    ck_assert_int_eq(config_dest_default(&c), 1);
    ck_assert_str_eq(verdict(&c, "127.0.0.1:8080"), "");
    ck_assert_str_eq(verdict(&c, "[::ffff:127.0.0.1]:8080"), "");
    ck_assert_str_eq(verdict(&c, "[::1]:8080"), "");
    ck_assert_str_eq(verdict(&c, "127.0.0.1:8081"), "default: loopback");
    ck_assert_str_eq(verdict(&c, "192.168.1.1:80"), "deny_dest 192.168.0.0/16");
    ck_assert_str_eq(verdict(&c, "169.254.169.254:80"), "");
    ck_assert_str_eq(verdict(&c, "169.254.169.254:81"), "default: link-local");
    ck_assert_str_eq(verdict(&c, "198.19.1.1:22"), "deny_dest 198.18.0.0/15:22");
}
END_TEST

START_TEST(test_allow_all_turns_default_off)
{
    static struct config c;
    static const char *const lines[] = {"deny_dest 127.0.0.1:22", "allow_dest all"};

    cfg_with(&c, "198.18.0.1:8800", lines, 2);
    ck_assert_str_eq(verdict(&c, "127.0.0.1:22"), "deny_dest 127.0.0.1:22");
    ck_assert_str_eq(verdict(&c, "127.0.0.1:80"), "");
    ck_assert_str_eq(verdict(&c, "169.254.169.254:80"), "");
}
END_TEST

START_TEST(test_config_errors)
{
    static struct config c;
    char err[256];

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "deny_dest", "10.0.0.0/8", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "allow_dest", "10.1.0.0/16:443 10.2.0.0/16", err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "never reached: the earlier 'deny_dest 10.0.0.0/8' matches all of it, "
                          "got '10.1.0.0/16:443'");
    ck_assert_int_eq(c.ndest, 1); /* a refused line adds nothing */
    ck_assert_int_eq(config_set(&c, "allow_dest", "10.2.0.0/16", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&c, "deny_dest", "127.0.0.0/8:22 127.0.0.1:22", err, sizeof(err)),
                     -1);
    ck_assert_int_eq(config_set(&c, "deny_dest", "127.0.0.0/8:22 127.0.0.1:23", err, sizeof(err)),
                     0);
    ck_assert_int_eq(c.ndest, 3);
    ck_assert_int_eq(config_set(&c, "mode", "reverse", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "upstream", "127.0.0.1:8080", err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&c, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "the destination filter works in forward and transparent modes "
                              "only, and the mode is reverse") != NULL,
                  "%s", err);
    ck_assert_int_eq(config_set(&c, "mode", "transparent", err, sizeof(err)), 0);
    c.upstream_host[0] = '\0';
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

static Suite *
dest_suite(void)
{
    Suite *s = suite_create("dest");
    TCase *tc = tcase_create("dest");

    tcase_add_loop_test(tc, test_parse_ok, 0, (int)(sizeof(parse_ok) / sizeof(parse_ok[0])));
    tcase_add_loop_test(tc, test_parse_bad, 0, (int)(sizeof(parse_bad) / sizeof(parse_bad[0])));
    tcase_add_test(tc, test_match);
    tcase_add_loop_test(tc, test_covers, 0, (int)(sizeof(cover_cases) / sizeof(cover_cases[0])));
    tcase_add_test(tc, test_loopback_listener_no_default);
    tcase_add_test(tc, test_network_listener_default);
    tcase_add_test(tc, test_allow_all_turns_default_off);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(dest_suite());
}
