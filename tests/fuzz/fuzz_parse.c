/* fuzz_parse: the small parsers of untrusted or configured words, chosen by
 * the first input byte: base64 and Basic credentials (auth.c), auth_user and
 * auth_realm values, host:port, listen addresses and IP literals (addr.c),
 * allow/deny words (acl.c). Each accepted value is printed back or encoded
 * again and must read back the same; credentials that decode must be the
 * ones auth_check accepts for that user and no other. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "auth.h"
#include "fuzz.h"

enum target {
    T_B64,
    T_BASIC,
    T_USER,
    T_REALM,
    T_HOSTPORT,
    T_LISTEN,
    T_LITERAL,
    T_ACL,
    T_COUNT,
};

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding, NUL-terminated; out holds 4 * ((n + 2) / 3) + 1. */
static size_t
b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* A strict decoder accepts exactly the canonical encodings: decoding then
 * encoding gives the input back. Too small an output is -2, never a cut. */
static void
fuzz_b64(const char *s, size_t n)
{
    unsigned char out[AUTH_CRED_MAX], *big = malloc(n / 4 * 3 + 3);
    char *again = malloc(n + 8);
    ssize_t r = auth_b64_decode(s, n, out, sizeof(out));
    ssize_t r2 = auth_b64_decode(s, n, big, n / 4 * 3 + 3);

    FUZZ_CHECK(big != NULL && again != NULL, "out of memory");
    FUZZ_CHECK(r >= -2 && r <= (ssize_t)sizeof(out), "decode returned %zd", r);
    FUZZ_CHECK(r2 != -2, "room for %zu bytes not enough", n / 4 * 3 + 3);
    if (r2 >= 0) {
        FUZZ_CHECK(r == -2 ? (size_t)r2 > sizeof(out) : r == r2 && memcmp(out, big, (size_t)r) == 0,
                   "decoded %zd bytes with a small buffer, %zd with a big one", r, r2);
        FUZZ_CHECK(b64_encode(big, (size_t)r2, again) == n && memcmp(again, s, n) == 0,
                   "'%.*s' decodes to what encodes as '%s'", (int)n, s, again);
    } else {
        FUZZ_CHECK(r == -1, "refused with a big buffer, %zd with a small one", r);
    }
    free(again);
    free(big);
}

/* A mangled copy of a password with the same validity (letters rotated). */
static void
mangle(char *p)
{
    for (; *p != '\0'; p++)
        if ((*p >= 'a' && *p <= 'y') || (*p >= 'A' && *p <= 'Y'))
            (*p)++;
}

/* Basic credentials that parse are accepted for that user and password by
 * auth_check (when they make a valid auth_user), and refused for a user
 * with the same name and another password. */
static void
fuzz_basic(const char *s, size_t n)
{
    unsigned char buf[AUTH_CRED_MAX];
    char name[AUTH_NAME_MAX + 2], pass[AUTH_PASS_MAX + 2], err[256];
    const unsigned char *u, *p;
    size_t ul, pl;
    struct auth_user users[3];
    enum auth_result r = auth_parse_basic(s, n, buf, sizeof(buf), &u, &ul, &p, &pl);
    int who;

    FUZZ_CHECK(r == AUTH_OK || r == AUTH_SCHEME || r == AUTH_MALFORMED || r == AUTH_DENIED,
               "result %d", r);
    if (r != AUTH_OK) {
        FUZZ_CHECK(auth_check(NULL, 0, s, n, &who) == r && who == -1, "auth_check disagrees");
        return;
    }
    FUZZ_CHECK(u == buf && p == buf + ul + 1 && buf[ul] == ':' && memchr(u, ':', ul) == NULL,
               "user and password not split at the first colon");
    if (ul > AUTH_NAME_MAX || pl > AUTH_PASS_MAX) {
        FUZZ_CHECK(auth_check(NULL, 0, s, n, &who) == AUTH_DENIED, "too long, not denied");
        return;
    }
    memcpy(name, u, ul);
    name[ul] = '\0';
    memcpy(pass, p, pl);
    pass[pl] = '\0';
    if (memchr(name, '\0', ul) != NULL || memchr(pass, '\0', pl) != NULL ||
        auth_user_set(&users[1], name, pass, err, sizeof(err)) != 0)
        return;
    FUZZ_CHECK(auth_user_set(&users[0], "decoy", "decoy password", err, sizeof(err)) == 0,
               "decoy refused: %s", err);
    users[2] = users[1];
    FUZZ_CHECK(auth_check(users, 3, s, n, &who) == AUTH_OK && who == 1,
               "right credentials refused (who %d)", who);
    /* Another password: one more byte, or another first byte. */
    if (pl < AUTH_PASS_MAX)
        strcat(pass, "x");
    else
        pass[0] = pass[0] == 'a' ? 'b' : 'a';
    FUZZ_CHECK(auth_user_set(&users[1], name, pass, err, sizeof(err)) == 0, "mangled refused");
    FUZZ_CHECK(auth_check(users, 2, s, n, &who) == AUTH_DENIED && who == -1,
               "wrong password accepted");
}

/* auth_user values: the message for a refused one never depends on the
 * password's text, so it cannot leak it into a log. */
static void
fuzz_user(const char *s)
{
    const char *sep = s + strlen(s) + 1; /* "name\0pass": the caller made room */
    char *pass = fuzz_dup(sep, strlen(sep) + 1), err[2][512];
    struct auth_user u[2];
    int r[2];

    r[0] = auth_user_set(&u[0], s, pass, err[0], sizeof(err[0]));
    mangle(pass);
    r[1] = auth_user_set(&u[1], s, pass, err[1], sizeof(err[1]));
    FUZZ_CHECK(r[0] == r[1], "the password's letters changed the verdict");
    if (r[0] != 0)
        FUZZ_CHECK(strcmp(err[0], err[1]) == 0, "message depends on the password: '%s' / '%s'",
                   err[0], err[1]);
    else
        FUZZ_CHECK(u[0].name_len == strlen(s) && u[0].pass_len == strlen(pass), "lengths not kept");
    free(pass);
}

/* auth_realm against its documented rule. */
static void
fuzz_realm(const char *s)
{
    size_t n = strlen(s);
    int ok = n >= 1 && n <= AUTH_REALM_MAX;

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            ok = 0;
    FUZZ_CHECK(auth_realm_ok(s) == ok, "auth_realm_ok('%s') is %d", s, !ok);
}

/* A host and port that parse, written back, parse the same. */
static void
fuzz_hostport(const char *s)
{
    char host[ADDR_HOSTMAX], host2[ADDR_HOSTMAX], text[ADDR_HOSTMAX + 16], err[256];
    uint16_t port, port2;

    err[0] = '\0';
    if (addr_parse_hostport(s, host, sizeof(host), &port, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
        return;
    }
    FUZZ_CHECK(port != 0 && host[0] != '\0', "port 0 or empty host accepted");
    snprintf(text, sizeof(text), strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host,
             (unsigned)port);
    FUZZ_CHECK(addr_parse_hostport(text, host2, sizeof(host2), &port2, err, sizeof(err)) == 0,
               "'%s' refused after '%s': %s", text, s, err);
    FUZZ_CHECK(strcmp(host, host2) == 0 && port == port2, "'%s' read back differently", text);
}

/* A listen address that parses, printed by addr_format, parses the same. */
static void
fuzz_listen(const char *s)
{
    struct sockaddr_storage ss, ss2;
    socklen_t len, len2;
    char text[WD_ADDRSTRLEN], err[256];

    if (addr_parse_listen(s, &ss, &len, err, sizeof(err)) != 0)
        return;
    addr_format((struct sockaddr *)&ss, text, sizeof(text));
    FUZZ_CHECK(addr_parse_listen(text, &ss2, &len2, err, sizeof(err)) == 0,
               "'%s' printed as '%s', refused: %s", s, text, err);
    FUZZ_CHECK(len == len2 && addr_equal((struct sockaddr *)&ss, (struct sockaddr *)&ss2),
               "'%s' printed as '%s' reads back differently", s, text);
    (void)addr_is_loopback((struct sockaddr *)&ss);
    (void)addr_reaches((struct sockaddr *)&ss, (struct sockaddr *)&ss2);
}

/* addr_from_literal against inet_pton itself. */
static void
fuzz_literal(const char *s, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    unsigned char a[16];
    int v4 = inet_pton(AF_INET, s, a) == 1, v6 = !v4 && inet_pton(AF_INET6, s, a) == 1;
    int r = addr_from_literal(s, port, &ss, &len);

    FUZZ_CHECK((r == 0) == (v4 || v6), "addr_from_literal %d, inet_pton %d/%d", r, v4, v6);
    if (r != 0)
        return;
    FUZZ_CHECK(ss.ss_family == (v4 ? AF_INET : AF_INET6) &&
                   addr_port((struct sockaddr *)&ss) == port,
               "wrong family or port");
    FUZZ_CHECK(memcmp(a,
                      v4 ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                         : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
                      v4 ? 4 : 16) == 0,
               "other address than inet_pton's");
}

/* An allow/deny word that parses prints as one that parses to the same rule,
 * which covers itself and matches its own network's first and last address
 * (host bits from the input) and nothing of the other family. */
static void
fuzz_acl(const char *s, int action, const uint8_t *bits)
{
    struct acl_rule r, r2;
    char text[ACL_TEXTLEN], err[256];
    const char *word;
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    uint8_t *a;
    unsigned alen;

    if (acl_parse(s, action, &r, err, sizeof(err)) != 0)
        return;
    acl_format(&r, text, sizeof(text));
    word = strchr(text, ' ');
    FUZZ_CHECK(word != NULL, "'%s' formatted as '%s'", s, text);
    FUZZ_CHECK(acl_parse(word + 1, action, &r2, err, sizeof(err)) == 0,
               "'%s' formatted as '%s', refused: %s", s, text, err);
    FUZZ_CHECK(memcmp(&r, &r2, sizeof(r)) == 0, "'%s' formatted as '%s' reads back differently", s,
               text);
    FUZZ_CHECK(acl_covers(&r, &r2), "'%s' does not cover itself", s);
    if (r.family == ACL_ALL)
        return;
    /* An address in the network: the rule's bits, then the input's. */
    memset(&ss, 0, sizeof(ss));
    if (r.family == ACL_V4) {
        sin->sin_family = AF_INET;
        a = (uint8_t *)&sin->sin_addr;
        alen = 4;
    } else {
        sin6->sin6_family = AF_INET6;
        a = sin6->sin6_addr.s6_addr;
        alen = 16;
    }
    for (unsigned i = 0; i < alen; i++) {
        unsigned keep = r.prefix >= 8 * (i + 1) ? 8 : r.prefix <= 8 * i ? 0 : r.prefix - 8 * i;
        uint8_t mask = (uint8_t)(keep == 0 ? 0 : 0xff << (8 - keep));

        a[i] = (uint8_t)((r.net[i] & mask) | (bits[i] & ~mask));
    }
    /* A v6 rule never matches an IPv4-mapped client: those are IPv4. */
    if (r.family == ACL_V6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
        return;
    FUZZ_CHECK(acl_find(&r, 1, (struct sockaddr *)&ss) == 0, "'%s' does not match its network", s);
    FUZZ_CHECK(acl_allows(&r, 1, (struct sockaddr *)&ss, NULL) == (action == ACL_ALLOW),
               "'%s' decides the other way", s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t bits[16] = {0};
    char *s;
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1;
    /* A NUL-terminated copy with a second terminator for fuzz_user's
     * "name\0pass" (the password is empty when the input has no NUL). */
    s = malloc(n + 2);
    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, data + 1, n);
    s[n] = s[n + 1] = '\0';
    memcpy(bits, data + 1, n < sizeof(bits) ? n : sizeof(bits));
    switch (data[0] % T_COUNT) {
    case T_B64:
        fuzz_b64(s, n);
        break;
    case T_BASIC:
        fuzz_basic(s, n);
        break;
    case T_USER:
        fuzz_user(s);
        break;
    case T_REALM:
        fuzz_realm(s);
        break;
    case T_HOSTPORT:
        fuzz_hostport(s);
        break;
    case T_LISTEN:
        fuzz_listen(s);
        break;
    case T_LITERAL:
        fuzz_literal(s, (uint16_t)(data[0] << 8 | n));
        break;
    default:
        fuzz_acl(s, data[0] & 0x80 ? ACL_ALLOW : ACL_DENY, bits);
        break;
    }
    free(s);
    return 0;
}
