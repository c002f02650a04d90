/* Unit tests for src/core/addr.c: every accepted and refused listen and host:port
 * form with its exact message, the port and IP-literal parsers, printing and re-parsing, equality
 * and loopback detection. Table-driven; one loop iteration per row. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tutil.h"

/* Accepted listen addresses and how addr_format prints them. */
static const struct {
    const char *in, *out;
    int family;
} listen_ok[] = {
    {"8800", "127.0.0.1:8800", AF_INET},
    {"0", "127.0.0.1:0", AF_INET},
    {"0080", "127.0.0.1:80", AF_INET},
    {"65535", "127.0.0.1:65535", AF_INET},
    {"1.2.3.4:80", "1.2.3.4:80", AF_INET},
    {"127.0.0.1:0", "127.0.0.1:0", AF_INET},
    {"*:80", "0.0.0.0:80", AF_INET},
    {"0.0.0.0:8080", "0.0.0.0:8080", AF_INET},
    {"[::1]:80", "[::1]:80", AF_INET6},
    {"[::]:80", "[::]:80", AF_INET6},
    {"[2001:DB8::0001]:443", "[2001:db8::1]:443", AF_INET6},
    {"[::ffff:1.2.3.4]:8", "[::ffff:1.2.3.4]:8", AF_INET6},
};

/* Refused listen addresses with the exact message. */
static const struct {
    const char *in, *err;
} listen_bad[] = {
    {"", "empty address"},
    {"127.0.0.1", "missing port in '127.0.0.1'"},
    {"127.0.0.1:", "missing port in '127.0.0.1:'"},
    {"abc", "missing port in 'abc'"},
    {"localhost:80", "not a numeric address (names are not allowed here) in 'localhost:80'"},
    {"example.com:80", "not a numeric address (names are not allowed here) in 'example.com:80'"},
    {"1.2.3:80", "invalid IPv4 address in '1.2.3:80'"},
    {"1.2.3.256:80", "invalid IPv4 address in '1.2.3.256:80'"},
    {"1.2.3.4:70000", "port out of range in '1.2.3.4:70000'"},
    {"1.2.3.4:99999999999999999999", "port out of range in '1.2.3.4:99999999999999999999'"},
    {"70000", "port out of range in '70000'"},
    {"1.2.3.4:8x", "invalid port in '1.2.3.4:8x'"},
    {"1.2.3.4:80 ", "invalid port in '1.2.3.4:80 '"},
    {"1.2.3.4:-1", "invalid port in '1.2.3.4:-1'"},
    {"1.2.3.4:+80", "invalid port in '1.2.3.4:+80'"},
    {"80x", "invalid port in '80x'"},
    {"::1:80", "IPv6 address must be in brackets ([addr]:port) in '::1:80'"},
    {"::1", "IPv6 address must be in brackets ([addr]:port) in '::1'"},
    {"[::g]:80", "invalid IPv6 address in '[::g]:80'"},
    {"[1.2.3.4]:80", "invalid IPv6 address in '[1.2.3.4]:80'"},
    {"[::1]", "missing port in '[::1]'"},
    {"[::1]80", "unexpected text after ']' in '[::1]80'"},
    {"[::1]:80x", "invalid port in '[::1]:80x'"},
    {"[::1:80", "missing ']' in '[::1:80'"},
    {":80", "missing host in ':80'"},
    {"[]:80", "missing host in '[]:80'"},
    {"a\001b", "missing port in 'a\\x01b'"},
};

START_TEST(test_listen_ok)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[256] = "", buf[WD_ADDRSTRLEN];

    ck_assert_msg(addr_parse_listen(listen_ok[_i].in, &ss, &len, err, sizeof(err)) == 0,
                  "'%s' refused: %s", listen_ok[_i].in, err);
    ck_assert_int_eq(ss.ss_family, listen_ok[_i].family);
    ck_assert_uint_eq(len, listen_ok[_i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                           : sizeof(struct sockaddr_in6));
    ck_assert_str_eq(addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), listen_ok[_i].out);
}
END_TEST

START_TEST(test_listen_bad)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[256] = "";

    ck_assert_int_eq(addr_parse_listen(listen_bad[_i].in, &ss, &len, err, sizeof(err)), -1);
    ck_assert_str_eq(err, listen_bad[_i].err);
}
END_TEST

/* Printing then parsing gives back an equal address. */
START_TEST(test_listen_roundtrip)
{
    struct sockaddr_storage a, b;
    socklen_t alen, blen;
    char buf[WD_ADDRSTRLEN], err[256];

    ck_assert_int_eq(addr_parse_listen(listen_ok[_i].in, &a, &alen, err, sizeof(err)), 0);
    addr_format((struct sockaddr *)&a, buf, sizeof(buf));
    ck_assert_msg(addr_parse_listen(buf, &b, &blen, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(alen, blen);
    ck_assert(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
}
END_TEST

/* Long input is cut at 64 bytes in messages and marked with "...". */
START_TEST(test_listen_quote_capped)
{
    char in[300], err[512], want[512];
    struct sockaddr_storage ss;
    socklen_t len;

    memset(in, 'a', 200);
    strcpy(in + 200, ":80");
    ck_assert_int_eq(addr_parse_listen(in, &ss, &len, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "host too long in '%.64s...'", in);
    ck_assert_str_eq(err, want);
}
END_TEST

static const struct {
    const char *in, *host;
    unsigned port;
} hostport_ok[] = {
    {"example.com:80", "example.com", 80},
    {"1.2.3.4:80", "1.2.3.4", 80},
    {"[::1]:443", "::1", 443},
    {"[2001:db8::1]:1", "2001:db8::1", 1},
    {"a_b-c.D9:65535", "a_b-c.D9", 65535},
    {"localhost:8080", "localhost", 8080},
    {"x:01", "x", 1},
};

static const struct {
    const char *in, *err;
} hostport_bad[] = {
    {"", "empty address"},
    {"example.com", "missing port in 'example.com'"},
    {"example.com:", "missing port in 'example.com:'"},
    {"example.com:0", "port out of range in 'example.com:0'"},
    {"example.com:70000", "port out of range in 'example.com:70000'"},
    {"example.com:http", "invalid port in 'example.com:http'"},
    {":80", "missing host in ':80'"},
    {"exa mple.com:80", "invalid character in host name in 'exa mple.com:80'"},
    {"exa\tmple:80", "invalid character in host name in 'exa\\x09mple:80'"},
    {"ex/ample:80", "invalid character in host name in 'ex/ample:80'"},
    {"h\xc3\xa9:80", "invalid character in host name in 'h\\xc3\\xa9:80'"},
    {"[::g]:80", "invalid IPv6 address in '[::g]:80'"},
    {"[example.com]:80", "invalid IPv6 address in '[example.com]:80'"},
    {"::1:80", "IPv6 address must be in brackets ([addr]:port) in '::1:80'"},
    {"[::1]", "missing port in '[::1]'"},
};

START_TEST(test_hostport_ok)
{
    char host[ADDR_HOSTMAX] = "", err[256] = "";
    uint16_t port = 0;

    ck_assert_msg(
        addr_parse_hostport(hostport_ok[_i].in, host, sizeof(host), &port, err, sizeof(err)) == 0,
        "'%s' refused: %s", hostport_ok[_i].in, err);
    ck_assert_str_eq(host, hostport_ok[_i].host);
    ck_assert_uint_eq(port, hostport_ok[_i].port);
}
END_TEST

START_TEST(test_hostport_bad)
{
    char host[ADDR_HOSTMAX] = "untouched", err[256] = "";
    uint16_t port = 7;

    ck_assert_int_eq(
        addr_parse_hostport(hostport_bad[_i].in, host, sizeof(host), &port, err, sizeof(err)), -1);
    ck_assert_str_eq(err, hostport_bad[_i].err);
    /* Outputs are written only on success. */
    ck_assert_str_eq(host, "untouched");
    ck_assert_uint_eq(port, 7);
}
END_TEST

/* A host of ADDR_HOSTMAX-1 bytes fits; one more does not. */
START_TEST(test_hostport_length)
{
    char in[ADDR_HOSTMAX + 16], host[ADDR_HOSTMAX], err[512];
    uint16_t port;

    memset(in, 'h', ADDR_HOSTMAX - 1);
    strcpy(in + ADDR_HOSTMAX - 1, ":80");
    ck_assert_int_eq(addr_parse_hostport(in, host, sizeof(host), &port, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(host), ADDR_HOSTMAX - 1);

    memset(in, 'h', ADDR_HOSTMAX);
    strcpy(in + ADDR_HOSTMAX, ":80");
    ck_assert_int_eq(addr_parse_hostport(in, host, sizeof(host), &port, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "host too long in 'hhhh"));

    /* A smaller caller buffer is honoured too. */
    ck_assert_int_eq(addr_parse_hostport("abcdefgh:1", host, 8, &port, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "host too long in 'abcdefgh:1'");
    ck_assert_int_eq(addr_parse_hostport("abcdefg:1", host, 8, &port, err, sizeof(err)), 0);
    ck_assert_str_eq(host, "abcdefg");
}
END_TEST

START_TEST(test_from_literal)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char buf[WD_ADDRSTRLEN];

    ck_assert_int_eq(addr_from_literal("10.0.0.1", 53, &ss, &len), 0);
    ck_assert_str_eq(addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), "10.0.0.1:53");
    ck_assert_int_eq(addr_from_literal("fe80::1", 8, &ss, &len), 0);
    ck_assert_str_eq(addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), "[fe80::1]:8");
    ck_assert_int_eq(addr_from_literal("[::1]", 80, &ss, &len), -1);
    ck_assert_int_eq(addr_from_literal("example.com", 80, &ss, &len), -1);
    ck_assert_int_eq(addr_from_literal("", 80, &ss, &len), -1);
}
END_TEST

/* The one port parser: each outcome, with and without 0 allowed. */
static const struct {
    const char *in;
    int allow_zero, rc;
    unsigned port;
} port_cases[] = {
    {"80", 0, 0, 80},
    {"1", 0, 0, 1},
    {"65535", 0, 0, 65535},
    {"0080", 0, 0, 80},
    {"00000000000000000443", 0, 0, 443}, /* leading zeros are harmless */
    {"0", 1, 0, 0},
    {"0", 0, ADDR_PORT_RANGE, 0},
    {"65536", 1, ADDR_PORT_RANGE, 0},
    {"1234567", 0, ADDR_PORT_RANGE, 0},
    {"99999999999999999999999", 0, ADDR_PORT_RANGE, 0},
    {"", 0, ADDR_PORT_EMPTY, 0},
    {"+80", 0, ADDR_PORT_SYNTAX, 0},
    {"-1", 0, ADDR_PORT_SYNTAX, 0},
    {" 80", 0, ADDR_PORT_SYNTAX, 0},
    {"80 ", 0, ADDR_PORT_SYNTAX, 0},
    {"0x50", 0, ADDR_PORT_SYNTAX, 0},
    {"99999999999x", 0, ADDR_PORT_SYNTAX, 0}, /* junk wins over size */
};

START_TEST(test_parse_port)
{
    uint16_t port = 7;
    int rc = addr_parse_port(port_cases[_i].in, strlen(port_cases[_i].in),
                             port_cases[_i].allow_zero, &port);

    ck_assert_msg(rc == port_cases[_i].rc, "'%s': %d", port_cases[_i].in, rc);
    ck_assert_uint_eq(port, rc == 0 ? port_cases[_i].port : 7);
}
END_TEST

START_TEST(test_parse_port_length)
{
    uint16_t port = 0;

    /* Only len bytes count: no NUL needed, and what follows is not read. */
    ck_assert_int_eq(addr_parse_port("8080x", 4, 0, &port), 0);
    ck_assert_uint_eq(port, 8080);
    ck_assert_int_eq(addr_parse_port("8080", 0, 0, &port), ADDR_PORT_EMPTY);
}
END_TEST

/* The one IP-literal parser. */
static const struct {
    const char *in;
    int family, want; /* asked for, found (-1: refused) */
    const char *back; /* inet_ntop of the result */
} ip_cases[] = {
    {"192.0.2.7", AF_UNSPEC, AF_INET, "192.0.2.7"},
    {"192.0.2.7", AF_INET, AF_INET, "192.0.2.7"},
    {"192.0.2.7", AF_INET6, -1, NULL},
    {"2001:DB8::0001", AF_UNSPEC, AF_INET6, "2001:db8::1"},
    {"::ffff:1.2.3.4", AF_INET6, AF_INET6, "::ffff:1.2.3.4"},
    {"::1", AF_INET, -1, NULL},
    {"0000:0000:0000:0000:0000:ffff:255.255.255.255", AF_UNSPEC, AF_INET6,
     "::ffff:255.255.255.255"}, /* the longest literal */
    {"[::1]", AF_UNSPEC, -1, NULL},
    {"1.2.3", AF_UNSPEC, -1, NULL},
    {"1.2.3.256", AF_UNSPEC, -1, NULL},
    {"01.2.3.4", AF_UNSPEC, -1, NULL},
    {" 1.2.3.4", AF_UNSPEC, -1, NULL},
    {"example.com", AF_UNSPEC, -1, NULL},
    {"", AF_UNSPEC, -1, NULL},
    {"0000:0000:0000:0000:0000:ffff:255.255.255.2555", AF_UNSPEC, -1, NULL},
};

START_TEST(test_parse_ip)
{
    uint8_t ip[16];
    char back[INET6_ADDRSTRLEN];
    int fam = addr_parse_ip(ip_cases[_i].in, strlen(ip_cases[_i].in), ip_cases[_i].family, ip);

    ck_assert_msg(fam == ip_cases[_i].want, "'%s': %d", ip_cases[_i].in, fam);
    if (fam < 0)
        return;
    ck_assert_ptr_nonnull(inet_ntop(fam, ip, back, sizeof(back)));
    ck_assert_str_eq(back, ip_cases[_i].back);
}
END_TEST

START_TEST(test_parse_ip_length)
{
    uint8_t ip[16];

    /* Only len bytes count; a NUL inside them is refused. */
    ck_assert_int_eq(addr_parse_ip("10.0.0.1]:80", 8, AF_UNSPEC, ip), AF_INET);
    ck_assert_int_eq(addr_parse_ip("::1]", 3, AF_INET6, ip), AF_INET6);
    ck_assert_int_eq(addr_parse_ip("10.0.0.1\0", 9, AF_UNSPEC, ip), -1);
}
END_TEST

START_TEST(test_format_edges)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char buf[8], big[64];

    /* A short buffer truncates but stays a C string. */
    addr_from_literal("192.168.100.200", 65535, &ss, &len);
    ck_assert_str_eq(addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), "192.168");

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    ck_assert_str_eq(addr_format((struct sockaddr *)&ss, big, sizeof(big)), "(address family 1)");
}
END_TEST

START_TEST(test_equal_and_port)
{
    struct sockaddr_storage a, b;
    socklen_t len;

    addr_from_literal("1.2.3.4", 80, &a, &len);
    addr_from_literal("1.2.3.4", 80, &b, &len);
    ck_assert(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
    addr_set_port((struct sockaddr *)&b, 81);
    ck_assert_uint_eq(addr_port((struct sockaddr *)&b), 81);
    ck_assert(!addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
    addr_from_literal("1.2.3.5", 80, &b, &len);
    ck_assert(!addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
    /* Same bytes, other family: not equal. */
    addr_from_literal("::ffff:1.2.3.4", 80, &b, &len);
    ck_assert(!addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));

    addr_from_literal("::1", 443, &a, &len);
    addr_from_literal("::1", 443, &b, &len);
    ck_assert(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
    ck_assert_uint_eq(addr_port((struct sockaddr *)&a), 443);
    addr_set_port((struct sockaddr *)&a, 0);
    ck_assert_uint_eq(addr_port((struct sockaddr *)&a), 0);
    ck_assert(!addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
}
END_TEST

static const struct {
    const char *ip;
    int loopback;
} loop_cases[] = {
    {"127.0.0.1", 1},
    {"127.255.0.9", 1},
    {"126.255.255.255", 0},
    {"128.0.0.1", 0},
    {"0.0.0.0", 0},
    {"10.0.0.1", 0},
    {"::1", 1},
    {"::", 0},
    {"::2", 0},
    {"fe80::1", 0},
    {"::ffff:127.0.0.1", 1},
    {"::ffff:127.9.9.9", 1},
    {"::ffff:10.0.0.1", 0},
    {"::127.0.0.1", 0},
};

START_TEST(test_loopback)
{
    struct sockaddr_storage ss;
    socklen_t len;

    ck_assert_int_eq(addr_from_literal(loop_cases[_i].ip, 80, &ss, &len), 0);
    ck_assert_msg(addr_is_loopback((struct sockaddr *)&ss) == loop_cases[_i].loopback, "%s",
                  loop_cases[_i].ip);
}
END_TEST

START_TEST(test_quote)
{
    char out[ADDR_QUOTELEN], in[100];

    addr_quote("plain text", out, sizeof(out));
    ck_assert_str_eq(out, "plain text");
    addr_quote("a\nb\\c\x7f\xff", out, sizeof(out));
    ck_assert_str_eq(out, "a\\x0ab\\x5cc\\x7f\\xff");
    memset(in, 'z', 99);
    in[99] = '\0';
    addr_quote(in, out, sizeof(out));
    ck_assert_uint_eq(strlen(out), ADDR_QUOTE_MAX + 3);
    ck_assert_str_eq(out + ADDR_QUOTE_MAX, "...");
    /* Exactly the cap: nothing was cut, so no "...". */
    in[ADDR_QUOTE_MAX] = '\0';
    addr_quote(in, out, sizeof(out));
    ck_assert_uint_eq(strlen(out), ADDR_QUOTE_MAX);
    /* The worst case (every byte escaped, then cut) fits ADDR_QUOTELEN. */
    memset(in, 1, 99);
    in[99] = '\0';
    addr_quote(in, out, sizeof(out));
    ck_assert_uint_eq(strlen(out), ADDR_QUOTE_MAX * 4 + 3);
    /* A tiny buffer is never overrun. */
    addr_quote("abcdef", out, 4);
    ck_assert_str_eq(out, "abc");
}
END_TEST

static const struct {
    const char *listener, *host;
    uint16_t port;
    int reaches;
} reach_cases[] = {
    {"127.0.0.1:8800", "127.0.0.1", 8800, 1},
    {"127.0.0.1:8800", "127.0.0.1", 8801, 0}, /* another port */
    {"127.0.0.1:8800", "127.0.0.2", 8800, 0},
    {"0.0.0.0:8800", "127.0.0.1", 8800, 1}, /* wildcard: loopback reaches it */
    {"0.0.0.0:8800", "127.9.9.9", 8800, 1},
    {"0.0.0.0:8800", "192.0.2.7", 8800, 0},        /* not one we can tell is ours */
    {"0.0.0.0:8800", "::1", 8800, 0},              /* an IPv4 wildcard, not v6 */
    {"0.0.0.0:8800", "::ffff:127.0.0.1", 8800, 1}, /* IPv4 through a mapped address */
    {"[::]:8800", "127.0.0.1", 8800, 0},           /* IPv6 listeners are v6-only */
    {"[::]:8800", "::ffff:127.0.0.1", 8800, 0},
    {"[::]:8800", "::1", 8800, 1},
    {"[::]:8800", "2001:db8::1", 8800, 0},
    {"[::1]:8800", "::1", 8800, 1},
    {"[::1]:8800", "127.0.0.1", 8800, 0},
    {"192.0.2.7:80", "192.0.2.7", 80, 1},
};

START_TEST(test_reaches)
{
    struct sockaddr_storage l, a;
    socklen_t ll, al;
    char err[128];

    ck_assert_int_eq(addr_parse_listen(reach_cases[_i].listener, &l, &ll, err, sizeof(err)), 0);
    ck_assert_int_eq(addr_from_literal(reach_cases[_i].host, reach_cases[_i].port, &a, &al), 0);
    ck_assert_msg(addr_reaches((struct sockaddr *)&l, (struct sockaddr *)&a) ==
                      reach_cases[_i].reaches,
                  "%s -> %s:%u", reach_cases[_i].listener, reach_cases[_i].host,
                  (unsigned)reach_cases[_i].port);
}
END_TEST

static Suite *
addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("parse");

    tcase_add_loop_test(tc, test_listen_ok, 0, (int)WD_ARRAY_SIZE(listen_ok));
    tcase_add_loop_test(tc, test_listen_bad, 0, (int)WD_ARRAY_SIZE(listen_bad));
    tcase_add_loop_test(tc, test_listen_roundtrip, 0, (int)WD_ARRAY_SIZE(listen_ok));
    tcase_add_test(tc, test_listen_quote_capped);
    tcase_add_loop_test(tc, test_hostport_ok, 0, (int)WD_ARRAY_SIZE(hostport_ok));
    tcase_add_loop_test(tc, test_hostport_bad, 0, (int)WD_ARRAY_SIZE(hostport_bad));
    tcase_add_test(tc, test_hostport_length);
    tcase_add_test(tc, test_from_literal);
    tcase_add_loop_test(tc, test_parse_port, 0, (int)WD_ARRAY_SIZE(port_cases));
    tcase_add_test(tc, test_parse_port_length);
    tcase_add_loop_test(tc, test_parse_ip, 0, (int)WD_ARRAY_SIZE(ip_cases));
    tcase_add_test(tc, test_parse_ip_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("sockaddr");
    tcase_add_test(tc, test_format_edges);
    tcase_add_test(tc, test_equal_and_port);
    tcase_add_loop_test(tc, test_loopback, 0, (int)WD_ARRAY_SIZE(loop_cases));
    tcase_add_test(tc, test_quote);
    tcase_add_loop_test(tc, test_reaches, 0, (int)WD_ARRAY_SIZE(reach_cases));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(addr_suite());
}
