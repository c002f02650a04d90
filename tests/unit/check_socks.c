/* Unit tests for src/proto/socks.c: every kind of valid SOCKS5 greeting,
 * RFC 1929 request, SOCKS5 request (IPv4, IPv6, name; each command) and
 * SOCKS4/4a request (with and without userid), each parsed whole, with
 * every proper prefix (need more: 0) and with early data after it (not
 * eaten); every malformed case with its code and the exact length at which
 * it shows; the 255-byte bounds; the replies byte for byte. Inputs are
 * copied into blocks of exactly their size, so that a read past the end is
 * caught under --enable-sanitizers. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common.h"
#include "socks.h"
#include "tutil.h"

/* A message in a table: its bytes and length (it may hold NUL bytes). */
#define MSG(s) s, sizeof(s) - 1

enum kind { GREET, USERPASS, REQ5, REQ4 };

/* Whatever a parser fills. */
struct parsed {
    struct socks5_greeting g;
    struct socks_userpass u;
    struct socks_request r;
};

/* Parses b[0..len) as kind k, from a block of exactly len bytes. */
static long
parse(enum kind k, const void *b, size_t len, struct parsed *p)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    long n = 0;

    ck_assert_ptr_nonnull(copy);
    if (len > 0)
        memcpy(copy, b, len);
    memset(p, 0x5a, sizeof(*p));
    switch (k) {
    case GREET:
        n = socks5_parse_greeting(copy, len, &p->g);
        break;
    case USERPASS:
        n = socks5_parse_userpass(copy, len, &p->u);
        break;
    case REQ5:
        n = socks5_parse_request(copy, len, &p->r);
        break;
    case REQ4:
        n = socks4_parse_request(copy, len, &p->r);
        break;
    }
    free(copy);
    return n;
}

/* ---- valid messages ------------------------------------------------------ */

static const struct {
    const char *what;
    enum kind k;
    const char *b;
    size_t len;
    /* GREET: the methods offered. */
    int no_auth, userpass;
    /* USERPASS: the credentials; REQ4: the userid in user. */
    const char *user, *pass;
    /* REQ5, REQ4: the request. */
    int command, is_name, family;
    const char *host;
    uint16_t port;
} ok_cases[] = {
    {"greeting: no auth", GREET, MSG("\x05\x01\x00"), 1, 0, NULL, NULL, 0, 0, 0, NULL, 0},
    {"greeting: user/pass", GREET, MSG("\x05\x01\x02"), 0, 1, NULL, NULL, 0, 0, 0, NULL, 0},
    {"greeting: both (curl)", GREET, MSG("\x05\x02\x00\x02"), 1, 1, NULL, NULL, 0, 0, 0, NULL, 0},
    {"greeting: unknown methods ignored", GREET, MSG("\x05\x03\x80\x02\x01"), 0, 1, NULL, NULL, 0,
     0, 0, NULL, 0},
    {"greeting: GSSAPI only", GREET, MSG("\x05\x01\x01"), 0, 0, NULL, NULL, 0, 0, 0, NULL, 0},
    {"greeting: a method twice", GREET, MSG("\x05\x02\x00\x00"), 1, 0, NULL, NULL, 0, 0, 0, NULL,
     0},
    {"greeting: all 255 methods", GREET,
     MSG("\x05\xff" /* 0x00..0xfe */
         "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
         "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"
         "\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f"
         "\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f"
         "\x40\x41\x42\x43\x44\x45\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f"
         "\x50\x51\x52\x53\x54\x55\x56\x57\x58\x59\x5a\x5b\x5c\x5d\x5e\x5f"
         "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"
         "\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b\x7c\x7d\x7e\x7f"
         "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f"
         "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"
         "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf"
         "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf"
         "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf"
         "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
         "\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef"
         "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe"),
     1, 1, NULL, NULL, 0, 0, 0, NULL, 0},
    {"userpass", USERPASS, MSG("\x01\x04user\x06secret"), 0, 0, "user", "secret", 0, 0, 0, NULL, 0},
    {"userpass: empty password", USERPASS, MSG("\x01\x01u\x00"), 0, 0, "u", "", 0, 0, 0, NULL, 0},
    /* The password is never logged: only NUL is refused in it. */
    {"userpass: control bytes in the password", USERPASS, MSG("\x01\x01u\x03\x01\n\xff"), 0, 0, "u",
     "\x01\n\xff", 0, 0, 0, NULL, 0},
    {"socks5: CONNECT IPv4", REQ5, MSG("\x05\x01\x00\x01\xc0\x00\x02\x01\x00\x50"), 0, 0, "", NULL,
     SOCKS_CMD_CONNECT, 0, AF_INET, "192.0.2.1", 80},
    {"socks5: CONNECT IPv6", REQ5,
     MSG("\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
         "\x01\xbb"),
     0, 0, "", NULL, SOCKS_CMD_CONNECT, 0, AF_INET6, "2001:db8::1", 443},
    {"socks5: CONNECT IPv4-mapped IPv6", REQ5,
     MSG("\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xc0\x00\x02\x07"
         "\x00\x16"),
     0, 0, "", NULL, SOCKS_CMD_CONNECT, 0, AF_INET6, "::ffff:192.0.2.7", 22},
    {"socks5: CONNECT name", REQ5,
     MSG("\x05\x01\x00\x03\x0b"
         "example.com"
         "\x01\xbb"),
     0, 0, "", NULL, SOCKS_CMD_CONNECT, 1, AF_UNSPEC, "example.com", 443},
    {"socks5: CONNECT one-byte name", REQ5,
     MSG("\x05\x01\x00\x03\x01"
         "a"
         "\xff\xff"),
     0, 0, "", NULL, SOCKS_CMD_CONNECT, 1, AF_UNSPEC, "a", 65535},
    /* Bytes >= 0x20 pass (DEL, raw UTF-8): the resolver refuses what it must. */
    {"socks5: CONNECT name with high bytes", REQ5,
     MSG("\x05\x01\x00\x03\x08"
         "b\xc3\xbc\x7f.de "
         "\x00\x50"),
     0, 0, "", NULL, SOCKS_CMD_CONNECT, 1, AF_UNSPEC, "b\xc3\xbc\x7f.de ", 80},
    {"socks5: BIND IPv4", REQ5, MSG("\x05\x02\x00\x01\x0a\x00\x00\x01\x1f\x90"), 0, 0, "", NULL,
     SOCKS_CMD_BIND, 0, AF_INET, "10.0.0.1", 8080},
    {"socks5: UDP ASSOCIATE 0.0.0.0:0", REQ5, MSG("\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00"), 0, 0,
     "", NULL, SOCKS_CMD_UDP, 0, AF_INET, "0.0.0.0", 0},
    {"socks4: CONNECT, no userid", REQ4, MSG("\x04\x01\x00\x50\xc0\x00\x02\x01\x00"), 0, 0, "",
     NULL, SOCKS_CMD_CONNECT, 0, AF_INET, "192.0.2.1", 80},
    {"socks4: CONNECT with userid", REQ4,
     MSG("\x04\x01\x01\xbb\xc0\x00\x02\x01"
         "alice"
         "\x00"),
     0, 0, "alice", NULL, SOCKS_CMD_CONNECT, 0, AF_INET, "192.0.2.1", 443},
    {"socks4: BIND", REQ4, MSG("\x04\x02\x1f\x90\x0a\x01\x02\x03\x00"), 0, 0, "", NULL,
     SOCKS_CMD_BIND, 0, AF_INET, "10.1.2.3", 8080},
    /* 0.0.0.0 is not 4a (x must not be 0): an address, refused later if at all. */
    {"socks4: DSTIP 0.0.0.0", REQ4, MSG("\x04\x01\x00\x50\x00\x00\x00\x00\x00"), 0, 0, "", NULL,
     SOCKS_CMD_CONNECT, 0, AF_INET, "0.0.0.0", 80},
    {"socks4: DSTIP 0.0.1.0 is not 4a", REQ4, MSG("\x04\x01\x00\x50\x00\x00\x01\x00\x00"), 0, 0, "",
     NULL, SOCKS_CMD_CONNECT, 0, AF_INET, "0.0.1.0", 80},
    {"socks4a: name, no userid", REQ4,
     MSG("\x04\x01\x01\xbb\x00\x00\x00\x01\x00"
         "example.com"
         "\x00"),
     0, 0, "", NULL, SOCKS_CMD_CONNECT, 1, AF_UNSPEC, "example.com", 443},
    {"socks4a: name with userid", REQ4,
     MSG("\x04\x01\x00\x50\x00\x00\x00\xff"
         "bob"
         "\x00"
         "example.org"
         "\x00"),
     0, 0, "bob", NULL, SOCKS_CMD_CONNECT, 1, AF_UNSPEC, "example.org", 80},
};

/* Early data that follows a message: the next message or the tunnel's first
 * bytes, NUL included. */
static const char early[] = "\x05\x01\x00GET / HTTP/1.1\r\n\r\n\x00\x04";

static void
check_fields(int i, const struct parsed *p)
{
    unsigned char addr[16] = {0};

    switch (ok_cases[i].k) {
    case GREET:
        ck_assert_int_eq(p->g.no_auth, ok_cases[i].no_auth);
        ck_assert_int_eq(p->g.userpass, ok_cases[i].userpass);
        return;
    case USERPASS:
        ck_assert_str_eq(p->u.user, ok_cases[i].user);
        ck_assert_uint_eq(p->u.ulen, strlen(ok_cases[i].user));
        ck_assert_str_eq(p->u.pass, ok_cases[i].pass);
        ck_assert_uint_eq(p->u.plen, strlen(ok_cases[i].pass));
        return;
    case REQ5:
    case REQ4:
        break;
    }
    ck_assert_int_eq(p->r.version, ok_cases[i].k == REQ5 ? 5 : 4);
    ck_assert_int_eq(p->r.command, ok_cases[i].command);
    ck_assert_int_eq(p->r.is_name, ok_cases[i].is_name);
    ck_assert_int_eq(p->r.family, ok_cases[i].family);
    ck_assert_str_eq(p->r.host, ok_cases[i].host);
    ck_assert_uint_eq(p->r.port, ok_cases[i].port);
    ck_assert_str_eq(p->r.user, ok_cases[i].user);
    /* The address matches its text; a name has none. */
    if (!ok_cases[i].is_name)
        ck_assert_int_eq(inet_pton(ok_cases[i].family, ok_cases[i].host, addr), 1);
    ck_assert_mem_eq(p->r.addr, addr, sizeof(addr));
}

START_TEST(test_ok)
{
    const char *b = ok_cases[_i].b;
    size_t len = ok_cases[_i].len;
    struct parsed p;
    char *more = malloc(len + sizeof(early));

    ck_assert_msg(parse(ok_cases[_i].k, b, len, &p) == (long)len, "%s: %ld", ok_cases[_i].what,
                  parse(ok_cases[_i].k, b, len, &p));
    check_fields(_i, &p);
    /* Every proper prefix, the empty one included, needs more. */
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(parse(ok_cases[_i].k, b, n, &p) == 0, "%s: prefix of %zu bytes: %ld",
                      ok_cases[_i].what, n, parse(ok_cases[_i].k, b, n, &p));
    /* With early data after it, the same message, the same length: not one
     * byte of what follows is taken, whatever the cut. */
    ck_assert_ptr_nonnull(more);
    memcpy(more, b, len);
    memcpy(more + len, early, sizeof(early));
    for (size_t extra = 1; extra <= sizeof(early); extra++) {
        ck_assert_int_eq(parse(ok_cases[_i].k, more, len + extra, &p), (long)len);
        check_fields(_i, &p);
    }
    free(more);
}
END_TEST

/* ---- malformed messages ---------------------------------------------------- */

static const struct {
    const char *what;
    enum kind k;
    const char *b;
    size_t len;
    long code;
    size_t at; /* the shortest prefix that shows the error */
} bad_cases[] = {
    {"greeting: version 4", GREET, MSG("\x04\x01\x00"), SOCKS_E_MALFORMED, 1},
    {"greeting: version 0", GREET, MSG("\x00"), SOCKS_E_MALFORMED, 1},
    {"greeting: HTTP", GREET, MSG("GET / HTTP/1.1\r\n"), SOCKS_E_MALFORMED, 1},
    {"greeting: no methods", GREET, MSG("\x05\x00\x00"), SOCKS_E_MALFORMED, 2},
    {"userpass: version 5", USERPASS, MSG("\x05\x04user\x06secret"), SOCKS_E_MALFORMED, 1},
    {"userpass: empty user", USERPASS, MSG("\x01\x00\x06secret"), SOCKS_E_MALFORMED, 2},
    {"userpass: NUL in the user", USERPASS, MSG("\x01\x03u\x00v\x01p"), SOCKS_E_MALFORMED, 4},
    {"userpass: newline in the user", USERPASS, MSG("\x01\x03u\nv\x01p"), SOCKS_E_MALFORMED, 4},
    {"userpass: NUL in the password", USERPASS, MSG("\x01\x01u\x03p\x00q"), SOCKS_E_MALFORMED, 6},
    {"socks5: version 4", REQ5, MSG("\x04\x01\x00\x01\xc0\x00\x02\x01\x00\x50"), SOCKS_E_MALFORMED,
     1},
    {"socks5: RSV 1", REQ5, MSG("\x05\x01\x01\x01\xc0\x00\x02\x01\x00\x50"), SOCKS_E_MALFORMED, 3},
    {"socks5: RSV 0xff", REQ5, MSG("\x05\x01\xff\x01\xc0\x00\x02\x01\x00\x50"), SOCKS_E_MALFORMED,
     3},
    {"socks5: ATYP 0", REQ5, MSG("\x05\x01\x00\x00\xc0\x00\x02\x01\x00\x50"), SOCKS_E_ATYP, 4},
    {"socks5: ATYP 2", REQ5, MSG("\x05\x01\x00\x02\xc0\x00\x02\x01\x00\x50"), SOCKS_E_ATYP, 4},
    {"socks5: ATYP 5", REQ5, MSG("\x05\x01\x00\x05\xc0\x00\x02\x01\x00\x50"), SOCKS_E_ATYP, 4},
    /* Its length unknown, an unknown ATYP wins over an unknown command. */
    {"socks5: ATYP 7 and command 9", REQ5, MSG("\x05\x09\x00\x07"), SOCKS_E_ATYP, 4},
    {"socks5: empty name", REQ5, MSG("\x05\x01\x00\x03\x00\x00\x50"), SOCKS_E_MALFORMED, 5},
    {"socks5: NUL in the name", REQ5,
     MSG("\x05\x01\x00\x03\x04"
         "ab\x00"
         "c\x00\x50"),
     SOCKS_E_MALFORMED, 8},
    {"socks5: name ends in NUL", REQ5,
     MSG("\x05\x01\x00\x03\x04"
         "abc\x00\x00\x50"),
     SOCKS_E_MALFORMED, 9},
    {"socks5: CRLF in the name", REQ5,
     MSG("\x05\x01\x00\x03\x05"
         "a\r\nbc\x00\x50"),
     SOCKS_E_MALFORMED, 7},
    {"socks5: 0x1f in the name", REQ5, MSG("\x05\x01\x00\x03\x01\x1f\x00\x50"), SOCKS_E_MALFORMED,
     6},
    /* An unknown command is said only once the whole request is there. */
    {"socks5: command 0", REQ5, MSG("\x05\x00\x00\x01\xc0\x00\x02\x01\x00\x50"), SOCKS_E_COMMAND,
     10},
    {"socks5: command 4, name", REQ5,
     MSG("\x05\x04\x00\x03\x01"
         "a"
         "\x00\x50"),
     SOCKS_E_COMMAND, 8},
    {"socks5: command 0xff, IPv6", REQ5,
     MSG("\x05\xff\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
         "\x01\xbb"),
     SOCKS_E_COMMAND, 22},
    /* ...and only when the rest is well-formed. */
    {"socks5: command 0 and RSV 1", REQ5, MSG("\x05\x00\x01\x01\xc0\x00\x02\x01\x00\x50"),
     SOCKS_E_MALFORMED, 3},
    {"socks5: command 0 and a NUL in the name", REQ5,
     MSG("\x05\x00\x00\x03\x02"
         "a\x00\x00\x50"),
     SOCKS_E_MALFORMED, 7},
    {"socks4: version 5", REQ4, MSG("\x05\x01\x00\x50\xc0\x00\x02\x01\x00"), SOCKS_E_MALFORMED, 1},
    {"socks4: version 0", REQ4, MSG("\x00\x5a\x00\x50\xc0\x00\x02\x01\x00"), SOCKS_E_MALFORMED, 1},
    {"socks4: control byte in the userid", REQ4,
     MSG("\x04\x01\x00\x50\xc0\x00\x02\x01"
         "a\nb\x00"),
     SOCKS_E_MALFORMED, 10},
    {"socks4a: empty name", REQ4, MSG("\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00"),
     SOCKS_E_MALFORMED, 10},
    {"socks4a: control byte in the name", REQ4,
     MSG("\x04\x01\x00\x50\x00\x00\x00\x01"
         "u\x00"
         "ex\tample\x00"),
     SOCKS_E_MALFORMED, 13},
    {"socks4: command 3", REQ4, MSG("\x04\x03\x00\x50\xc0\x00\x02\x01\x00"), SOCKS_E_COMMAND, 9},
    {"socks4: command 0x5a", REQ4,
     MSG("\x04\x5a\x00\x50\xc0\x00\x02\x01"
         "id"
         "\x00"),
     SOCKS_E_COMMAND, 11},
    {"socks4a: command 0", REQ4,
     MSG("\x04\x00\x00\x50\x00\x00\x00\x01\x00"
         "a.b"
         "\x00"),
     SOCKS_E_COMMAND, 13},
    {"socks4a: command 3 and an empty name", REQ4, MSG("\x04\x03\x00\x50\x00\x00\x00\x01\x00\x00"),
     SOCKS_E_MALFORMED, 10},
};

START_TEST(test_bad)
{
    struct parsed p;
    char *more = malloc(bad_cases[_i].len + sizeof(early));

    ck_assert_msg(parse(bad_cases[_i].k, bad_cases[_i].b, bad_cases[_i].len, &p) ==
                      bad_cases[_i].code,
                  "%s: %ld", bad_cases[_i].what,
                  parse(bad_cases[_i].k, bad_cases[_i].b, bad_cases[_i].len, &p));
    /* Shorter prefixes need more; from the first byte that shows it, the
     * error stays the same, and bytes after it do not change it. */
    for (size_t n = 0; n <= bad_cases[_i].len; n++)
        ck_assert_msg(parse(bad_cases[_i].k, bad_cases[_i].b, n, &p) ==
                          (n < bad_cases[_i].at ? 0 : bad_cases[_i].code),
                      "%s: prefix of %zu bytes: %ld", bad_cases[_i].what, n,
                      parse(bad_cases[_i].k, bad_cases[_i].b, n, &p));
    ck_assert_ptr_nonnull(more);
    memcpy(more, bad_cases[_i].b, bad_cases[_i].len);
    memcpy(more + bad_cases[_i].len, early, sizeof(early));
    ck_assert_int_eq(parse(bad_cases[_i].k, more, bad_cases[_i].len + sizeof(early), &p),
                     bad_cases[_i].code);
    free(more);
}
END_TEST

/* An unknown command still fills the request, so the refusal can be logged
 * with its target. */
START_TEST(test_command_fills)
{
    struct parsed p;

    ck_assert_int_eq(parse(REQ5,
                           MSG("\x05\x09\x00\x03\x01"
                               "a"
                               "\x00\x50"),
                           &p),
                     SOCKS_E_COMMAND);
    ck_assert_int_eq(p.r.command, 9);
    ck_assert_str_eq(p.r.host, "a");
    ck_assert_uint_eq(p.r.port, 80);
    ck_assert_int_eq(parse(REQ4,
                           MSG("\x04\x03\x00\x50\xc0\x00\x02\x01"
                               "id"
                               "\x00"),
                           &p),
                     SOCKS_E_COMMAND);
    ck_assert_int_eq(p.r.command, 3);
    ck_assert_str_eq(p.r.host, "192.0.2.1");
    ck_assert_str_eq(p.r.user, "id");
}
END_TEST

/* ---- the 255-byte bounds --------------------------------------------------- */

/* n bytes of 'a'..'z' at p. */
static void
fill(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)('a' + i % 26);
}

START_TEST(test_bounds)
{
    unsigned char b[600];
    struct parsed p;
    size_t n;

    /* SOCKS5: a 255-byte name, the longest ATYP 3 can carry. */
    memcpy(b, "\x05\x01\x00\x03\xff", 5);
    fill(b + 5, 255);
    memcpy(b + 260, "\x01\xbb", 2);
    ck_assert_int_eq(parse(REQ5, b, 262, &p), 262);
    ck_assert_uint_eq(strlen(p.r.host), 255);
    ck_assert_int_eq(memcmp(p.r.host, b + 5, 255), 0);
    for (n = 0; n < 262; n++)
        ck_assert_int_eq(parse(REQ5, b, n, &p), 0);

    /* RFC 1929: 255-byte user and password. */
    b[0] = 0x01;
    b[1] = 0xff;
    fill(b + 2, 255);
    b[257] = 0xff;
    fill(b + 258, 255);
    ck_assert_int_eq(parse(USERPASS, b, 513, &p), 513);
    ck_assert_uint_eq(p.u.ulen, 255);
    ck_assert_uint_eq(p.u.plen, 255);
    ck_assert_uint_eq(strlen(p.u.user), 255);
    ck_assert_uint_eq(strlen(p.u.pass), 255);
    for (n = 0; n < 513; n++)
        ck_assert_int_eq(parse(USERPASS, b, n, &p), 0);

    /* SOCKS4a: a 255-byte userid and a 255-byte name. */
    memcpy(b, "\x04\x01\x00\x50\x00\x00\x00\x01", 8);
    fill(b + 8, 255);
    b[263] = '\0';
    fill(b + 264, 255);
    b[519] = '\0';
    ck_assert_int_eq(parse(REQ4, b, 520, &p), 520);
    ck_assert_uint_eq(strlen(p.r.user), 255);
    ck_assert_uint_eq(strlen(p.r.host), 255);
    ck_assert_int_eq(p.r.is_name, 1);
    for (n = 0; n < 520; n++)
        ck_assert_int_eq(parse(REQ4, b, n, &p), 0);

    /* A 256th byte of name: refused as soon as it is there, NUL or not. */
    b[519] = 'x';
    ck_assert_int_eq(parse(REQ4, b, 519, &p), 0);
    ck_assert_int_eq(parse(REQ4, b, 520, &p), SOCKS_E_MALFORMED);
    b[520] = '\0';
    ck_assert_int_eq(parse(REQ4, b, 521, &p), SOCKS_E_MALFORMED);

    /* A 256-byte userid, in SOCKS4 and in 4a. */
    b[263] = 'x';
    b[264] = '\0';
    ck_assert_int_eq(parse(REQ4, b, 263, &p), 0);
    ck_assert_int_eq(parse(REQ4, b, 264, &p), SOCKS_E_MALFORMED);
    ck_assert_int_eq(parse(REQ4, b, 265, &p), SOCKS_E_MALFORMED);
    b[7] = 9; /* 0.0.0.9 -> 9.0.0.9: plain SOCKS4 */
    b[4] = 9;
    ck_assert_int_eq(parse(REQ4, b, 265, &p), SOCKS_E_MALFORMED);
}
END_TEST

/* ---- replies --------------------------------------------------------------- */

static struct sockaddr_storage bound_ss;

/* text:port as a socket address (IPv6 when text has a ':'), or a Unix one. */
static const struct sockaddr *
bound(const char *text, uint16_t port)
{
    memset(&bound_ss, 0, sizeof(bound_ss));
    if (text == NULL) {
        return NULL;
    } else if (strcmp(text, "unix") == 0) {
        struct sockaddr_un *su = (struct sockaddr_un *)&bound_ss;

        su->sun_family = AF_UNIX;
        strcpy(su->sun_path, "/tmp/x");
    } else if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&bound_ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&bound_ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return (const struct sockaddr *)&bound_ss;
}

static const struct {
    int socks4, code; /* socks4: code is "granted" */
    const char *addr; /* NULL: no bound address */
    uint16_t port;
    const char *want;
    size_t wlen;
} reply_cases[] = {
    {0, SOCKS5_REP_OK, "192.0.2.1", 1080, MSG("\x05\x00\x00\x01\xc0\x00\x02\x01\x04\x38")},
    {0, SOCKS5_REP_OK, "2001:db8::1", 443,
     MSG("\x05\x00\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
         "\x01\xbb")},
    {0, SOCKS5_REP_REFUSED, NULL, 0, MSG("\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")},
    {0, SOCKS5_REP_COMMAND, NULL, 0, MSG("\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")},
    {0, SOCKS5_REP_ATYP, "unix", 0, MSG("\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00")},
    {0, SOCKS5_REP_TTL_EXPIRED, "0.0.0.0", 0, MSG("\x05\x06\x00\x01\x00\x00\x00\x00\x00\x00")},
    {1, 1, "192.0.2.1", 1080, MSG("\x00\x5a\x04\x38\xc0\x00\x02\x01")},
    {1, 0, NULL, 0, MSG("\x00\x5b\x00\x00\x00\x00\x00\x00")},
    {1, 1, "::ffff:192.0.2.9", 80, MSG("\x00\x5a\x00\x50\xc0\x00\x02\x09")},
    {1, 1, "2001:db8::1", 80, MSG("\x00\x5a\x00\x50\x00\x00\x00\x00")},
    {1, 0, "unix", 0, MSG("\x00\x5b\x00\x00\x00\x00\x00\x00")},
};

START_TEST(test_reply)
{
    unsigned char out[SOCKS5_REPLY_MAX + 8];
    const struct sockaddr *sa = bound(reply_cases[_i].addr, reply_cases[_i].port);
    size_t n;

    memset(out, 0xee, sizeof(out));
    if (reply_cases[_i].socks4)
        n = socks4_reply(out, reply_cases[_i].code, sa);
    else
        n = socks5_reply(out, reply_cases[_i].code, sa);
    ck_assert_uint_eq(n, reply_cases[_i].wlen);
    ck_assert_mem_eq(out, reply_cases[_i].want, n);
    /* Nothing written past the reply. */
    for (size_t i = n; i < sizeof(out); i++)
        ck_assert_uint_eq(out[i], 0xee);
}
END_TEST

START_TEST(test_short_replies)
{
    unsigned char out[4];

    memset(out, 0xee, sizeof(out));
    ck_assert_uint_eq(socks5_method_reply(out, SOCKS5_METHOD_NONE), 2);
    ck_assert_mem_eq(out, "\x05\x00\xee", 3);
    ck_assert_uint_eq(socks5_method_reply(out, SOCKS5_METHOD_USERPASS), 2);
    ck_assert_mem_eq(out, "\x05\x02\xee", 3);
    ck_assert_uint_eq(socks5_method_reply(out, SOCKS5_METHOD_REFUSED), 2);
    ck_assert_mem_eq(out, "\x05\xff\xee", 3);
    ck_assert_uint_eq(socks5_auth_reply(out, 1), 2);
    ck_assert_mem_eq(out, "\x01\x00\xee", 3);
    ck_assert_uint_eq(socks5_auth_reply(out, 0), 2);
    ck_assert_mem_eq(out, "\x01\x01\xee", 3);
}
END_TEST

static Suite *
socks_suite(void)
{
    Suite *s = suite_create("socks");
    TCase *tc = tcase_create("socks");

    tcase_add_loop_test(tc, test_ok, 0, (int)WD_ARRAY_SIZE(ok_cases));
    tcase_add_loop_test(tc, test_bad, 0, (int)WD_ARRAY_SIZE(bad_cases));
    tcase_add_test(tc, test_command_fills);
    tcase_add_test(tc, test_bounds);
    tcase_add_loop_test(tc, test_reply, 0, (int)WD_ARRAY_SIZE(reply_cases));
    tcase_add_test(tc, test_short_replies);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(socks_suite());
}
