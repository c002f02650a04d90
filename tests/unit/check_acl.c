/* Unit tests for src/access/acl.c: every accepted address word with how it prints
 * back, every refused one with its exact message, and matching of IPv4, IPv6
 * and IPv4-mapped clients against rule lists: /0, /32, /128, prefixes that end
 * inside a byte, "all", first match wins, and default deny once rules exist. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "acl.h"
#include "tutil.h"

/* ---- parsing ------------------------------------------------------------- */

static const struct {
    const char *word, *text; /* as written, as acl_format prints it with allow */
    int family, prefix;
} parse_ok[] = {
    {"all", "allow all", ACL_ALL, 0},
    {"127.0.0.1", "allow 127.0.0.1", ACL_V4, 32},
    {"127.0.0.1/32", "allow 127.0.0.1", ACL_V4, 32},
    {"10.0.0.0/8", "allow 10.0.0.0/8", ACL_V4, 8},
    {"10.0.0.0/08", "allow 10.0.0.0/8", ACL_V4, 8},
    {"192.0.2.128/25", "allow 192.0.2.128/25", ACL_V4, 25},
    {"0.0.0.0/0", "allow 0.0.0.0/0", ACL_V4, 0},
    {"255.255.255.255", "allow 255.255.255.255", ACL_V4, 32},
    {"::1", "allow ::1", ACL_V6, 128},
    {"::1/128", "allow ::1", ACL_V6, 128},
    {"2001:DB8::/32", "allow 2001:db8::/32", ACL_V6, 32},
    {"2001:db8::/31", "allow 2001:db8::/31", ACL_V6, 31},
    {"2001:0db8:0000::0001", "allow 2001:db8::1", ACL_V6, 128},
    {"::/0", "allow ::/0", ACL_V6, 0},
    {"fe80::/10", "allow fe80::/10", ACL_V6, 10},
    /* IPv4-mapped networks of /96 or longer are stored as IPv4. */
    {"::ffff:10.0.0.0/104", "allow 10.0.0.0/8", ACL_V4, 8},
    {"::ffff:192.0.2.7", "allow 192.0.2.7", ACL_V4, 32},
    {"::ffff:0:0/96", "allow 0.0.0.0/0", ACL_V4, 0},
    /* ...shorter ones stay IPv6 (they are more than the mapped range). */
    {"::/80", "allow ::/80", ACL_V6, 80},
};

START_TEST(test_parse_ok)
{
    struct acl_rule r, again;
    char err[256] = "", text[ACL_TEXTLEN];
    const char *word;

    ck_assert_msg(acl_parse(parse_ok[_i].word, ACL_ALLOW, &r, err, sizeof(err)) == 0, "%s: %s",
                  parse_ok[_i].word, err);
    ck_assert_int_eq(r.action, ACL_ALLOW);
    ck_assert_int_eq(r.family, parse_ok[_i].family);
    ck_assert_int_eq(r.prefix, parse_ok[_i].prefix);
    ck_assert_str_eq(acl_format(&r, text, sizeof(text)), parse_ok[_i].text);
    /* What is printed parses back to the same rule, byte for byte. */
    word = strchr(text, ' ') + 1;
    ck_assert_int_eq(acl_parse(word, ACL_ALLOW, &again, err, sizeof(err)), 0);
    ck_assert_mem_eq(&again, &r, sizeof(r));
    /* The action is kept, and the same word as deny prints as deny. */
    ck_assert_int_eq(acl_parse(parse_ok[_i].word, ACL_DENY, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.action, ACL_DENY);
    ck_assert_int_eq(strncmp(acl_format(&r, text, sizeof(text)), "deny ", 5), 0);
    ck_assert_str_eq(text + 5, parse_ok[_i].text + 6);
}
END_TEST

#define BAD_ADDR   "expected 'all' or an address such as 192.0.2.7, 192.0.2.0/24 or 2001:db8::/32"
#define BAD_PREFIX "expected a prefix length after '/'"

static const struct {
    const char *word, *err;
} parse_bad[] = {
    {"", BAD_ADDR ", got ''"},
    {"ALL", BAD_ADDR ", got 'ALL'"},
    {"any", BAD_ADDR ", got 'any'"},
    {"10.0.0", BAD_ADDR ", got '10.0.0'"},
    {"10.0.0.256", BAD_ADDR ", got '10.0.0.256'"},
    {"010.0.0.1", BAD_ADDR ", got '010.0.0.1'"},
    {"1.2.3.4:80", BAD_ADDR ", got '1.2.3.4:80'"},
    {"[::1]", BAD_ADDR ", got '[::1]'"},
    {"fe80::1%eth0", BAD_ADDR ", got 'fe80::1%eth0'"},
    {"2001:db8:::1", BAD_ADDR ", got '2001:db8:::1'"},
    {"localhost", BAD_ADDR ", got 'localhost'"},
    {"/8", BAD_ADDR ", got '/8'"},
    {"10.0.0.0 /8", BAD_ADDR ", got '10.0.0.0 /8'"},
    {"10.0.0.0/", BAD_PREFIX ", got '10.0.0.0/'"},
    {"10.0.0.0/-8", BAD_PREFIX ", got '10.0.0.0/-8'"},
    {"10.0.0.0/+8", BAD_PREFIX ", got '10.0.0.0/+8'"},
    {"10.0.0.0/8 ", BAD_PREFIX ", got '10.0.0.0/8 '"},
    {"10.0.0.0/0x8", BAD_PREFIX ", got '10.0.0.0/0x8'"},
    {"10.0.0.0/8/8", BAD_PREFIX ", got '10.0.0.0/8/8'"},
    {"10.0.0.0/0008", BAD_PREFIX ", got '10.0.0.0/0008'"},
    {"10.0.0.0/33", "prefix length out of range (0-32 for IPv4), got '10.0.0.0/33'"},
    {"10.0.0.0/999", "prefix length out of range (0-32 for IPv4), got '10.0.0.0/999'"},
    {"::/129", "prefix length out of range (0-128 for IPv6), got '::/129'"},
    {"::ffff:1.2.3.4/129", "prefix length out of range (0-128 for IPv6), got '::ffff:1.2.3.4/129'"},
    {"10.0.0.1/8",
     "address has bits set after the /8 prefix (the network is 10.0.0.0/8), got '10.0.0.1/8'"},
    {"192.0.2.129/25", "address has bits set after the /25 prefix (the network is "
                       "192.0.2.128/25), got '192.0.2.129/25'"},
    {"127.0.0.1/0",
     "address has bits set after the /0 prefix (the network is 0.0.0.0/0), got '127.0.0.1/0'"},
    {"2001:db8::1/32", "address has bits set after the /32 prefix (the network is "
                       "2001:db8::/32), got '2001:db8::1/32'"},
    {"2001:db9::/31", "address has bits set after the /31 prefix (the network is "
                      "2001:db8::/31), got '2001:db9::/31'"},
    {"::ffff:10.0.0.1/104", "address has bits set after the /104 prefix (the network is "
                            "::ffff:10.0.0.0/104), got '::ffff:10.0.0.1/104'"},
    /* Control bytes are escaped, long words cut, in the message. */
    {"a\x01", BAD_ADDR ", got 'a\\x01'"},
    {"1111111111222222222233333333334444444444555555555566666666667777777777",
     BAD_ADDR ", got '1111111111222222222233333333334444444444555555555566666666667777...'"},
};

START_TEST(test_parse_bad)
{
    struct acl_rule r;
    char err[512] = "";

    memset(&r, 0x5a, sizeof(r));
    ck_assert_int_eq(acl_parse(parse_bad[_i].word, ACL_ALLOW, &r, err, sizeof(err)), -1);
    ck_assert_str_eq(err, parse_bad[_i].err);
    /* No error buffer: still refused, nothing written. */
    ck_assert_int_eq(acl_parse(parse_bad[_i].word, ACL_DENY, &r, NULL, 0), -1);
}
END_TEST

/* ---- matching -------------------------------------------------------------- */

static struct sockaddr_storage peer_ss;

/* text as a client address: IPv4 as AF_INET, anything with ':' as AF_INET6
 * (so "::ffff:127.0.0.2" is what a dual-stack listener reports). */
static const struct sockaddr *
peer(const char *text)
{
    memset(&peer_ss, 0, sizeof(peer_ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&peer_ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(40000);
        ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&peer_ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons(40000);
        ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return (const struct sockaddr *)&peer_ss;
}

#define MAXR 4

/* A rule list ("allow 127.0.0.1", "deny all", ...) and clients with the
 * expected verdict and deciding rule (-1: none matched). */
static const struct {
    const char *rules[MAXR];
    struct {
        const char *addr;
        int allowed, rule;
    } clients[8];
} match_cases[] = {
    /* The brief's first case: one allowed host, everyone else denied. */
    {{"allow 127.0.0.1/32"},
     {{"127.0.0.1", 1, 0},
      {"127.0.0.2", 0, -1},
      {"::ffff:127.0.0.1", 1, 0},
      {"::ffff:127.0.0.2", 0, -1},
      {"::1", 0, -1},
      {NULL, 0, 0}}},
    /* One denied host, then everyone. */
    {{"deny 127.0.0.2", "allow all"},
     {{"127.0.0.2", 0, 0},
      {"::ffff:127.0.0.2", 0, 0},
      {"127.0.0.1", 1, 1},
      {"::1", 1, 1},
      {"2001:db8::7", 1, 1},
      {NULL, 0, 0}}},
    /* IPv6 rules never match IPv4 clients, mapped or not. */
    {{"allow ::1"},
     {{"::1", 1, 0},
      {"::2", 0, -1},
      {"127.0.0.1", 0, -1},
      {"::ffff:127.0.0.1", 0, -1},
      {NULL, 0, 0}}},
    {{"deny ::/0", "allow all"},
     {{"::1", 0, 0},
      {"2001:db8::1", 0, 0},
      {"10.0.0.1", 1, 1},
      {"::ffff:10.0.0.1", 1, 1},
      {NULL, 0, 0}}},
    /* /0 for IPv4 is every IPv4 client, mapped ones included, and no other. */
    {{"deny 0.0.0.0/0", "allow all"},
     {{"1.2.3.4", 0, 0}, {"::ffff:1.2.3.4", 0, 0}, {"::1", 1, 1}, {NULL, 0, 0}}},
    /* A mapped rule is an IPv4 rule. */
    {{"allow ::ffff:10.0.0.0/104"},
     {{"10.9.8.7", 1, 0}, {"::ffff:10.9.8.7", 1, 0}, {"11.0.0.1", 0, -1}, {NULL, 0, 0}}},
    /* /128 and /32: exactly one address. */
    {{"allow 2001:db8::1/128", "allow 192.0.2.1/32"},
     {{"2001:db8::1", 1, 0},
      {"2001:db8::2", 0, -1},
      {"2001:db8::1:0", 0, -1},
      {"192.0.2.1", 1, 1},
      {"192.0.2.0", 0, -1},
      {"192.0.2.3", 0, -1},
      {NULL, 0, 0}}},
    /* Prefixes that end inside a byte. */
    {{"allow 192.0.2.128/25", "allow 2001:db8::/31"},
     {{"192.0.2.128", 1, 0},
      {"192.0.2.255", 1, 0},
      {"192.0.2.127", 0, -1},
      {"2001:db8:ffff::", 1, 1},
      {"2001:db9::1", 1, 1},
      {"2001:dba::", 0, -1},
      {"2001:db7::", 0, -1},
      {NULL, 0, 0}}},
    /* Order decides, not the longest prefix. */
    {{"deny 10.1.0.0/16", "allow 10.0.0.0/8"},
     {{"10.1.2.3", 0, 0}, {"10.2.0.1", 1, 1}, {"11.0.0.1", 0, -1}, {NULL, 0, 0}}},
    {{"allow 10.0.0.0/8", "deny 10.1.0.0/16"},
     {{"10.1.2.3", 1, 0}, {"10.2.0.1", 1, 0}, {"11.0.0.1", 0, -1}, {NULL, 0, 0}}},
    /* Only deny rules: everybody else is denied too (the default once rules exist). */
    {{"deny 192.0.2.1"}, {{"192.0.2.1", 0, 0}, {"192.0.2.2", 0, -1}, {"::1", 0, -1}, {NULL, 0, 0}}},
    /* deny all first: nobody, whatever follows. */
    {{"deny all", "allow 127.0.0.1"}, {{"127.0.0.1", 0, 0}, {"::1", 0, 0}, {NULL, 0, 0}}},
    /* No rules: everybody (today's behaviour). */
    {{NULL}, {{"127.0.0.2", 1, -1}, {"::1", 1, -1}, {"::ffff:1.2.3.4", 1, -1}, {NULL, 0, 0}}},
};

static int
build_rules(const char *const *spec, struct acl_rule *rules)
{
    char err[256];
    int n;

    for (n = 0; n < MAXR && spec[n] != NULL; n++) {
        const char *sp = strchr(spec[n], ' ');
        int action = strncmp(spec[n], "allow ", 6) == 0 ? ACL_ALLOW : ACL_DENY;

        ck_assert_msg(acl_parse(sp + 1, action, &rules[n], err, sizeof(err)) == 0, "%s: %s",
                      spec[n], err);
    }
    return n;
}

START_TEST(test_match)
{
    struct acl_rule rules[MAXR];
    int n = build_rules(match_cases[_i].rules, rules);

    for (int k = 0; match_cases[_i].clients[k].addr != NULL; k++) {
        const char *a = match_cases[_i].clients[k].addr;
        int rule = 99, allowed = acl_allows(rules, n, peer(a), &rule);

        ck_assert_msg(allowed == match_cases[_i].clients[k].allowed, "case %d, %s: allowed %d", _i,
                      a, allowed);
        ck_assert_msg(rule == match_cases[_i].clients[k].rule, "case %d, %s: rule %d", _i, a, rule);
        ck_assert_int_eq(acl_find(rules, n, peer(a)), n == 0 ? -1 : rule);
        /* The rule pointer is optional. */
        ck_assert_int_eq(acl_allows(rules, n, peer(a), NULL), allowed);
    }
}
END_TEST

/* Neither IPv4 nor IPv6 (never seen on a TCP listener): only "all" matches. */
START_TEST(test_match_other_family)
{
    struct sockaddr_un un;
    struct acl_rule rules[2];
    const char *spec[] = {"allow 127.0.0.1", "allow ::/0", NULL};
    const char *all[] = {"allow all", NULL};
    int rule;

    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    ck_assert_int_eq(acl_allows(rules, build_rules(spec, rules), (struct sockaddr *)&un, &rule), 0);
    ck_assert_int_eq(rule, -1);
    ck_assert_int_eq(acl_allows(rules, build_rules(all, rules), (struct sockaddr *)&un, &rule), 1);
    ck_assert_int_eq(rule, 0);
}
END_TEST

/* ---- coverage (a later rule that could never decide) ------------------------ */

static const struct {
    const char *a, *b;
    int covers;
} cover_cases[] = {
    {"all", "all", 1},
    {"all", "10.0.0.1", 1},
    {"all", "::/0", 1},
    {"10.0.0.0/8", "all", 0},
    {"0.0.0.0/0", "all", 0},
    {"10.0.0.0/8", "10.1.0.0/16", 1},
    {"10.0.0.0/8", "10.0.0.0/8", 1},
    {"10.0.0.0/8", "10.255.255.255", 1},
    {"10.1.0.0/16", "10.0.0.0/8", 0},
    {"10.0.0.0/8", "11.0.0.0/8", 0},
    {"0.0.0.0/0", "::ffff:1.2.3.4", 1},
    {"0.0.0.0/0", "::1", 0},
    {"::/0", "10.0.0.1", 0},
    {"::/0", "::1", 1},
    {"2001:db8::/31", "2001:db9::/32", 1},
    {"2001:db8::/32", "2001:db9::/32", 0},
    {"192.0.2.128/25", "192.0.2.0/24", 0},
};

START_TEST(test_covers)
{
    struct acl_rule a, b;
    char err[256];

    ck_assert_int_eq(acl_parse(cover_cases[_i].a, ACL_ALLOW, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_parse(cover_cases[_i].b, ACL_DENY, &b, err, sizeof(err)), 0);
    ck_assert_msg(acl_covers(&a, &b) == cover_cases[_i].covers, "%s covers %s: %d",
                  cover_cases[_i].a, cover_cases[_i].b, acl_covers(&a, &b));
}
END_TEST

/* A short buffer gets a cut, terminated text. */
START_TEST(test_format_short_buffer)
{
    struct acl_rule r;
    char err[64], buf[8];

    ck_assert_int_eq(acl_parse("2001:db8::/32", ACL_DENY, &r, err, sizeof(err)), 0);
    ck_assert_str_eq(acl_format(&r, buf, sizeof(buf)), "deny 20");
}
END_TEST

static Suite *
acl_suite(void)
{
    Suite *s = suite_create("acl");
    TCase *tc = tcase_create("acl");

    tcase_add_loop_test(tc, test_parse_ok, 0, (int)(sizeof(parse_ok) / sizeof(parse_ok[0])));
    tcase_add_loop_test(tc, test_parse_bad, 0, (int)(sizeof(parse_bad) / sizeof(parse_bad[0])));
    tcase_add_loop_test(tc, test_match, 0, (int)(sizeof(match_cases) / sizeof(match_cases[0])));
    tcase_add_test(tc, test_match_other_family);
    tcase_add_loop_test(tc, test_covers, 0, (int)(sizeof(cover_cases) / sizeof(cover_cases[0])));
    tcase_add_test(tc, test_format_short_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(acl_suite());
}
