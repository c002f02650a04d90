/* Unit tests for src/access/auth.c: the strict base64 decoder against RFC 4648's
 * test vectors and every kind of bad input (characters, padding, leftover
 * bits, length, room); Basic credentials parsed from Proxy-Authorization
 * values (scheme case, spaces, colons, empty parts, control and non-ASCII
 * bytes); the check against configured users; and the auth_user and
 * auth_realm values the configuration accepts or refuses. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "tutil.h"

/* ---- base64 ---------------------------------------------------------------- */

/* The test's own encoder, to build long and non-ASCII inputs. */
static size_t
b64enc(const unsigned char *in, size_t n, char *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i < n; i += 3) {
        unsigned long x = (unsigned long)in[i] << 16;

        if (i + 1 < n)
            x |= (unsigned long)in[i + 1] << 8;
        if (i + 2 < n)
            x |= in[i + 2];
        out[o++] = al[x >> 18 & 63];
        out[o++] = al[x >> 12 & 63];
        out[o++] = i + 1 < n ? al[x >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? al[x & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static const struct {
    const char *in, *out;
    size_t outlen;
} b64_ok[] = {
    /* RFC 4648 section 10 */
    {"", "", 0},
    {"Zg==", "f", 1},
    {"Zm8=", "fo", 2},
    {"Zm9v", "foo", 3},
    {"Zm9vYg==", "foob", 4},
    {"Zm9vYmE=", "fooba", 5},
    {"Zm9vYmFy", "foobar", 6},
    /* RFC 7617's example, the rest of the alphabet, and NUL bytes */
    {"QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin:open sesame", 19},
    {"+/+/", "\xfb\xff\xbf", 3},
    {"AAAA", "\0\0\0", 3},
};

START_TEST(test_b64_ok)
{
    unsigned char out[64];
    const char *in = b64_ok[_i].in;
    ssize_t n = auth_b64_decode(in, strlen(in), out, sizeof(out));

    ck_assert_msg(n == (ssize_t)b64_ok[_i].outlen, "%s: decoded %zd bytes, expected %zu", in, n,
                  b64_ok[_i].outlen);
    ck_assert_msg(memcmp(out, b64_ok[_i].out, b64_ok[_i].outlen) == 0, "%s: wrong bytes", in);
}
END_TEST

static const struct {
    const char *in;
    size_t len; /* 0: strlen */
} b64_bad[] = {
    {"Zg", 0},        /* no padding */
    {"Zg=", 0},       /* short padding */
    {"Zm9", 0},       /* length not a multiple of 4 */
    {"Zm9vY", 0},     /* same */
    {"Z===", 0},      /* three pads */
    {"====", 0},      /* only padding */
    {"Zg==Zg==", 0},  /* padding in the middle */
    {"Z=g=", 0},      /* a pad before a character */
    {"Zh==", 0},      /* leftover bits after one byte are not zero */
    {"Zm9=", 0},      /* leftover bits after two bytes are not zero */
    {"Zm9v\n", 0},    /* line break */
    {"Zm 9", 0},      /* space */
    {"Zm9v YQ==", 0}, /* space between quanta */
    {"Zm-_", 0},      /* base64url alphabet */
    {"Zm9\x80", 0},   /* non-ASCII */
    {"Zm9\0", 4},     /* NUL */
};

START_TEST(test_b64_bad)
{
    unsigned char out[64];
    const char *in = b64_bad[_i].in;
    size_t len = b64_bad[_i].len ? b64_bad[_i].len : strlen(in);

    ck_assert_msg(auth_b64_decode(in, len, out, sizeof(out)) == -1, "'%s' was accepted", in);
}
END_TEST

/* The decoded form must fit in cap: -2 for valid base64 that does not, and
 * nothing written past cap (nor at all) then. Invalid text stays -1. */
START_TEST(test_b64_room)
{
    unsigned char out[8];

    ck_assert_int_eq(auth_b64_decode("Zm9vYmFy", 8, out, 6), 6);
    ck_assert_int_eq(auth_b64_decode("Zm9vYmFy", 8, out, 5), -2);
    ck_assert_int_eq(auth_b64_decode("Zm9vYg==", 8, out, 4), 4);
    ck_assert_int_eq(auth_b64_decode("Zm9vYg==", 8, out, 3), -2);
    memset(out, 'x', sizeof(out));
    ck_assert_int_eq(auth_b64_decode("Zm9vYmFyYmF6", 12, out, 8), -2);
    ck_assert_int_eq(out[0], 'x');
    ck_assert_int_eq(auth_b64_decode("Zm9vYmFyYmF!", 12, out, 8), -1);
    ck_assert_int_eq(out[0], 'x');
}
END_TEST

/* ---- Basic credentials -------------------------------------------------------- */

static const struct {
    const char *value;
    enum auth_result r;
    const char *user, *pass; /* for AUTH_OK */
} basic_cases[] = {
    {"Basic YWxpY2U6c2VjcmV0", AUTH_OK, "alice", "secret"},
    {"basic YWxpY2U6c2VjcmV0", AUTH_OK, "alice", "secret"},
    {"BASIC YWxpY2U6c2VjcmV0", AUTH_OK, "alice", "secret"},
    {"bAsIc YWxpY2U6c2VjcmV0", AUTH_OK, "alice", "secret"},
    /* 1*SP between scheme and token */
    {"Basic    YWxpY2U6c2VjcmV0", AUTH_OK, "alice", "secret"},
    /* "alice:se:cr:et": split at the first colon */
    {"Basic YWxpY2U6c2U6Y3I6ZXQ=", AUTH_OK, "alice", "se:cr:et"},
    /* "alice:" and ":secret": empty parts parse (the check refuses them) */
    {"Basic YWxpY2U6", AUTH_OK, "alice", ""},
    {"Basic OnNlY3JldA==", AUTH_OK, "", "secret"},
    /* "j\xc3\xbcrgen:p\xc3\xa4ss" (UTF-8) */
    {"Basic asO8cmdlbjpww6Rzcw==", AUTH_OK, "j\xc3\xbcrgen", "p\xc3\xa4ss"},
    /* "alicesecret": no colon */
    {"Basic YWxpY2VzZWNyZXQ=", AUTH_MALFORMED, NULL, NULL},
    /* "alice:sec\x01ret", "ali\x7f:x": control bytes */
    {"Basic YWxpY2U6c2VjAXJldA==", AUTH_MALFORMED, NULL, NULL},
    {"Basic YWxpfzp4", AUTH_MALFORMED, NULL, NULL},
    /* bad base64 */
    {"Basic YWxpY2U6c2VjcmV0=", AUTH_MALFORMED, NULL, NULL},
    {"Basic YWxpY2U6c2VjcmV", AUTH_MALFORMED, NULL, NULL},
    {"Basic YWxpY2U6c2Vj*mV0", AUTH_MALFORMED, NULL, NULL},
    {"Basic YWxpY2U6 c2VjcmV0", AUTH_MALFORMED, NULL, NULL},
    {"Basic YWxpY2U6c2VjcmV0\t", AUTH_MALFORMED, NULL, NULL},
    {"Basic YWxp\xc3\xbc", AUTH_MALFORMED, NULL, NULL},
    /* no token */
    {"Basic", AUTH_MALFORMED, NULL, NULL},
    {"Basic ", AUTH_MALFORMED, NULL, NULL},
    /* other schemes, or none */
    {"Bearer YWxpY2U6c2VjcmV0", AUTH_SCHEME, NULL, NULL},
    {"Digest username=\"alice\"", AUTH_SCHEME, NULL, NULL},
    {"Basicx YWxpY2U6c2VjcmV0", AUTH_SCHEME, NULL, NULL},
    {"Basic\tYWxpY2U6c2VjcmV0", AUTH_SCHEME, NULL, NULL},
    {"YWxpY2U6c2VjcmV0", AUTH_SCHEME, NULL, NULL},
    {" Basic YWxpY2U6c2VjcmV0", AUTH_SCHEME, NULL, NULL},
    {"", AUTH_SCHEME, NULL, NULL},
};

START_TEST(test_basic_parse)
{
    unsigned char buf[AUTH_CRED_MAX];
    const unsigned char *u = NULL, *p = NULL;
    size_t ul = 0, pl = 0;
    const char *v = basic_cases[_i].value;
    enum auth_result r = auth_parse_basic(v, strlen(v), buf, sizeof(buf), &u, &ul, &p, &pl);

    ck_assert_msg(r == basic_cases[_i].r, "'%s': result %d, expected %d", v, r, basic_cases[_i].r);
    if (r != AUTH_OK)
        return;
    ck_assert_msg(ul == strlen(basic_cases[_i].user) && memcmp(u, basic_cases[_i].user, ul) == 0,
                  "'%s': user '%.*s'", v, (int)ul, (const char *)u);
    ck_assert_msg(pl == strlen(basic_cases[_i].pass) && memcmp(p, basic_cases[_i].pass, pl) == 0,
                  "'%s': password '%.*s'", v, (int)pl, (const char *)p);
}
END_TEST

/* Credentials too long to be anybody's are refused as such when they are
 * valid base64 (denied), as malformed otherwise; nothing overflows. */
START_TEST(test_basic_huge)
{
    static char v[12006];
    unsigned char buf[AUTH_CRED_MAX];
    const unsigned char *u, *p;
    size_t ul, pl, n;

    memcpy(v, "Basic ", 6);
    for (n = 6; n < sizeof(v); n++)
        v[n] = (char)('A' + n % 26);
    ck_assert_int_eq(auth_parse_basic(v, sizeof(v), buf, sizeof(buf), &u, &ul, &p, &pl),
                     AUTH_DENIED);
    v[sizeof(v) / 2] = '*';
    ck_assert_int_eq(auth_parse_basic(v, sizeof(v), buf, sizeof(buf), &u, &ul, &p, &pl),
                     AUTH_MALFORMED);
    ck_assert_int_eq(auth_parse_basic(v, sizeof(v) - 1, buf, sizeof(buf), &u, &ul, &p, &pl),
                     AUTH_MALFORMED);
}
END_TEST

/* ---- the check against configured users ---------------------------------------- */

static void
users3(struct auth_user *u)
{
    char err[128];

    ck_assert_int_eq(auth_user_set(&u[0], "alice", "secret", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_user_set(&u[1], "bob", "pa:ss:word", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_user_set(&u[2], "j\xc3\xbcrgen", "p\xc3\xa4ss", err, sizeof(err)), 0);
}

static const struct {
    const char *value;
    enum auth_result r;
    int who;
} check_cases[] = {
    {"Basic YWxpY2U6c2VjcmV0", AUTH_OK, 0},             /* alice:secret */
    {"basic    YWxpY2U6c2VjcmV0", AUTH_OK, 0},          /* same, other spelling */
    {"Basic Ym9iOnBhOnNzOndvcmQ=", AUTH_OK, 1},         /* bob:pa:ss:word */
    {"Basic asO8cmdlbjpww6Rzcw==", AUTH_OK, 2},         /* UTF-8 user and password */
    {"Basic YWxpY2U6c2VjcmV1", AUTH_DENIED, -1},        /* alice:secreu */
    {"Basic YWxpY2U6c2VjcmV0eA==", AUTH_DENIED, -1},    /* alice:secretx: longer */
    {"Basic YWxpY2U6c2VjcmU=", AUTH_DENIED, -1},        /* alice:secre: shorter */
    {"Basic QWxpY2U6c2VjcmV0", AUTH_DENIED, -1},        /* Alice:secret: case counts */
    {"Basic Ym9iOnNlY3JldA==", AUTH_DENIED, -1},        /* bob:secret: alice's password */
    {"Basic Ym9iOnBh", AUTH_DENIED, -1},                /* bob:pa: cut at a colon */
    {"Basic bWFsbG9yeTpzZWNyZXQ=", AUTH_DENIED, -1},    /* mallory:secret */
    {"Basic YWxpY2U6", AUTH_DENIED, -1},                /* alice: empty password */
    {"Basic OnNlY3JldA==", AUTH_DENIED, -1},            /* :secret */
    {"Basic Og==", AUTH_DENIED, -1},                    /* : */
    {"Basic avxyZ2VuOnDkc3M=", AUTH_DENIED, -1},        /* Latin-1 "jürgen:päss" */
    {"Basic YWxpY2VzZWNyZXQ=", AUTH_MALFORMED, -1},     /* no colon */
    {"Basic YWxpY2U6c2VjcmV0=", AUTH_MALFORMED, -1},    /* bad padding */
    {"Basic YWxpY2U6c2VjcmV0!", AUTH_MALFORMED, -1},    /* bad character */
    {"Bearer YWxpY2U6c2VjcmV0", AUTH_SCHEME, -1},       /* other scheme */
    {"Basic YWxpY2UAOnNlY3JldA==", AUTH_MALFORMED, -1}, /* alice\0:secret */
};

START_TEST(test_check)
{
    struct auth_user u[3];
    const char *v = check_cases[_i].value;
    int who = 99;

    users3(u);
    ck_assert_int_eq(auth_check(u, 3, v, strlen(v), &who), check_cases[_i].r);
    ck_assert_msg(who == check_cases[_i].who, "'%s': user %d, expected %d", v, who,
                  check_cases[_i].who);
}
END_TEST

/* With no user at all, nothing passes. The longest name and password
 * pass; one byte more in either is denied (well-formed, but nobody's). */
START_TEST(test_check_limits)
{
    struct auth_user u[2];
    char err[128], name[AUTH_NAME_MAX + 2], pass[AUTH_PASS_MAX + 2];
    unsigned char raw[AUTH_CRED_MAX + 8];
    char value[6 + 4 * (sizeof(raw) + 2) / 3 + 1];
    size_t rl;
    int who;

    memset(name, 'n', AUTH_NAME_MAX);
    name[AUTH_NAME_MAX] = '\0';
    memset(pass, 'p', AUTH_PASS_MAX);
    pass[AUTH_PASS_MAX] = '\0';
    ck_assert_int_eq(auth_user_set(&u[0], "alice", "secret", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_user_set(&u[1], name, pass, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_check(u, 0, "Basic YWxpY2U6c2VjcmV0", 22, &who), AUTH_DENIED);
    ck_assert_int_eq(who, -1);
    ck_assert_int_eq(auth_check(u, 2, "Basic YWxpY2U6c2VjcmV0", 22, &who), AUTH_OK);
    ck_assert_int_eq(who, 0);

    memcpy(value, "Basic ", 6);
    rl = (size_t)snprintf((char *)raw, sizeof(raw), "%s:%s", name, pass);
    ck_assert_uint_eq(rl, AUTH_CRED_MAX);
    b64enc(raw, rl, value + 6);
    ck_assert_int_eq(auth_check(u, 2, value, strlen(value), &who), AUTH_OK);
    ck_assert_int_eq(who, 1);

    strcat(pass, "p");
    rl = (size_t)snprintf((char *)raw, sizeof(raw), "%s:%s", name, pass);
    b64enc(raw, rl, value + 6);
    ck_assert_int_eq(auth_check(u, 2, value, strlen(value), &who), AUTH_DENIED);
    ck_assert_int_eq(who, -1);

    pass[AUTH_PASS_MAX] = '\0';
    strcat(name, "n");
    rl = (size_t)snprintf((char *)raw, sizeof(raw), "%s:%s", name, pass);
    b64enc(raw, rl, value + 6);
    ck_assert_int_eq(auth_check(u, 2, value, strlen(value), &who), AUTH_DENIED);

    /* A short name with a password longer than any: denied before comparing. */
    memset(pass, 'p', AUTH_PASS_MAX + 1);
    pass[AUTH_PASS_MAX + 1] = '\0';
    rl = (size_t)snprintf((char *)raw, sizeof(raw), "n:%s", pass);
    b64enc(raw, rl, value + 6);
    ck_assert_int_eq(auth_check(u, 2, value, strlen(value), &who), AUTH_DENIED);
}
END_TEST

/* The first of two users with the same credentials is the one reported
 * (config refuses duplicate names; this is about the selection being right). */
START_TEST(test_check_index)
{
    struct auth_user u[4];
    char err[128];
    int who;

    ck_assert_int_eq(auth_user_set(&u[0], "a", "x", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_user_set(&u[1], "b", "x", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_user_set(&u[2], "alice", "secret", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_user_set(&u[3], "alice", "secret", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_check(u, 4, "Basic YWxpY2U6c2VjcmV0", 22, &who), AUTH_OK);
    ck_assert_int_eq(who, 2);
    ck_assert_int_eq(auth_check(u, 4, "Basic Yjp4", 10, &who), AUTH_OK); /* b:x */
    ck_assert_int_eq(who, 1);
}
END_TEST

/* ---- configuration values ---------------------------------------------------- */

START_TEST(test_user_set)
{
    struct auth_user u;
    char err[256], longname[AUTH_NAME_MAX + 2], longpass[AUTH_PASS_MAX + 2];

    ck_assert_int_eq(auth_user_set(&u, "alice", "s3:cr=t\"#", err, sizeof(err)), 0);
    ck_assert_str_eq(u.name, "alice");
    ck_assert_int_eq(u.name_len, 5);
    ck_assert_int_eq(u.pass_len, 9);
    ck_assert_int_eq(memcmp(u.pass, "s3:cr=t\"#", 9), 0);
    ck_assert_int_eq(u.pass[9], 0); /* zero-filled after the value */
    ck_assert_int_eq(u.name[5], 0);

    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    memset(longpass, 'p', sizeof(longpass) - 1);
    longpass[sizeof(longpass) - 1] = '\0';

    ck_assert_int_eq(auth_user_set(&u, "", "x", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "empty user name");
    ck_assert_int_eq(auth_user_set(&u, longname, "x", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "user name longer than 64 bytes");
    longname[AUTH_NAME_MAX] = '\0';
    ck_assert_int_eq(auth_user_set(&u, longname, "x", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_user_set(&u, "al:ice", "x", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "user name 'al:ice' contains a colon or a space");
    ck_assert_int_eq(auth_user_set(&u, "al ice", "x", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_user_set(&u, "al\tice", "x", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "user name with a control character or invalid UTF-8");
    ck_assert_int_eq(auth_user_set(&u, "al\x7fice", "x", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_user_set(&u, "j\xfcrgen", "x", err, sizeof(err)), -1);    /* Latin-1 */
    ck_assert_int_eq(auth_user_set(&u, "\xc0\xaf", "x", err, sizeof(err)), -1);     /* overlong */
    ck_assert_int_eq(auth_user_set(&u, "\xed\xa0\x80", "x", err, sizeof(err)), -1); /* D800 */
    ck_assert_int_eq(auth_user_set(&u, "\xf4\x90\x80\x80", "x", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_user_set(&u, "ab\xe2\x82", "x", err, sizeof(err)), -1); /* cut */
    ck_assert_int_eq(auth_user_set(&u, "\xe2\x82\xac\xf0\x9f\x98\x80", "x", err, sizeof(err)), 0);

    /* Password problems name the user, never the password. */
    ck_assert_int_eq(auth_user_set(&u, "alice", "", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "user 'alice' has an empty password");
    ck_assert_int_eq(auth_user_set(&u, "alice", longpass, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "password of user 'alice' longer than 128 bytes");
    ck_assert_int_eq(auth_user_set(&u, "alice", "sec\x01ret", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "password of user 'alice' contains a control character");
    ck_assert_ptr_null(strstr(err, "sec"));
    longpass[AUTH_PASS_MAX] = '\0';
    ck_assert_int_eq(auth_user_set(&u, "alice", longpass, err, sizeof(err)), 0);
    ck_assert_int_eq(u.pass_len, AUTH_PASS_MAX);
    /* Non-ASCII bytes in a password are kept as they are. */
    ck_assert_int_eq(auth_user_set(&u, "alice", "p\xe4ss", err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_realm)
{
    char r[AUTH_REALM_MAX + 2];

    ck_assert(auth_realm_ok("warpd"));
    ck_assert(auth_realm_ok("Corporate proxy (ask IT)"));
    ck_assert(auth_realm_ok("a'b=c,d;e"));
    ck_assert(!auth_realm_ok(""));
    ck_assert(!auth_realm_ok("say \"hi\""));
    ck_assert(!auth_realm_ok("back\\slash"));
    ck_assert(!auth_realm_ok("tab\there"));
    ck_assert(!auth_realm_ok("caf\xc3\xa9"));
    memset(r, 'r', sizeof(r) - 1);
    r[sizeof(r) - 1] = '\0';
    ck_assert(!auth_realm_ok(r));
    r[AUTH_REALM_MAX] = '\0';
    ck_assert(auth_realm_ok(r));
}
END_TEST

static Suite *
auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");

    tcase_add_loop_test(tc, test_b64_ok, 0, (int)(sizeof(b64_ok) / sizeof(b64_ok[0])));
    tcase_add_loop_test(tc, test_b64_bad, 0, (int)(sizeof(b64_bad) / sizeof(b64_bad[0])));
    tcase_add_test(tc, test_b64_room);
    tcase_add_loop_test(tc, test_basic_parse, 0,
                        (int)(sizeof(basic_cases) / sizeof(basic_cases[0])));
    tcase_add_test(tc, test_basic_huge);
    tcase_add_loop_test(tc, test_check, 0, (int)(sizeof(check_cases) / sizeof(check_cases[0])));
    tcase_add_test(tc, test_check_limits);
    tcase_add_test(tc, test_check_index);
    tcase_add_test(tc, test_user_set);
    tcase_add_test(tc, test_realm);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(auth_suite());
}
