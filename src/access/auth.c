/* Basic proxy authentication (RFC 7617): the checks of auth_user and
 * auth_realm values, a strict base64 decoder of our own, and the check of a
 * Proxy-Authorization value against the configured users, written so that
 * its running time depends neither on which user exists nor on how much of
 * a password was right. */
#include "auth.h"

#include <stdio.h>
#include <string.h>

/* The value of a base64 character, or -1. */
static int
b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

ssize_t
auth_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t pad = 0, i, o = 0, n;
    unsigned long acc;
    int k, v, last;

    if (len % 4 != 0)
        return -1;
    if (len == 0)
        return 0;
    if (s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    n = len / 4 * 3 - pad;
    /* Two passes: the whole text is checked before its size is, so that
     * valid base64 that is merely too long is told apart (-2). */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && n > cap)
            return -2;
        for (i = 0; i < len; i += 4) {
            last = i + 4 == len;
            acc = 0;
            for (k = 0; k < 4; k++) {
                /* '=' is only allowed as the padding of the last quantum. */
                if (last && k >= 4 - (int)pad) {
                    acc <<= 6;
                    continue;
                }
                v = b64_value(s[i + k]);
                if (v < 0)
                    return -1;
                acc = acc << 6 | (unsigned long)v;
            }
            /* The bits the padding leaves over must be zero (RFC 4648 3.5):
             * otherwise two different texts would decode to the same bytes. */
            if (last && ((pad == 1 && (acc & 0xff) != 0) || (pad == 2 && (acc & 0xffff) != 0)))
                return -1;
            if (pass == 0)
                continue;
            out[o++] = (unsigned char)(acc >> 16);
            if (!(last && pad == 2))
                out[o++] = (unsigned char)(acc >> 8);
            if (!(last && pad >= 1))
                out[o++] = (unsigned char)acc;
        }
    }
    return (ssize_t)o;
}

/* Whether s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static int
utf8_ok(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t need, k;
        unsigned long cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, cp = c & 0x07;
        else
            return 0;
        if (len - i - 1 < need)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* Control characters: C0, DEL. RFC 7617 section 2 forbids them in both parts. */
static int
has_ctl(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

int
auth_user_set(struct auth_user *u, const char *name, const char *pass, char *err, size_t errlen)
{
    size_t nl = strlen(name), pl = strlen(pass);
    const unsigned char *un = (const unsigned char *)name;

    if (nl == 0) {
        snprintf(err, errlen, "empty user name");
        return -1;
    }
    if (nl > AUTH_NAME_MAX) {
        snprintf(err, errlen, "user name longer than %d bytes", AUTH_NAME_MAX);
        return -1;
    }
    /* The name is checked before anything says which one it is: it is
     * printed in messages, never the password. */
    if (has_ctl(un, nl) || !utf8_ok(un, nl)) {
        snprintf(err, errlen, "user name with a control character or invalid UTF-8");
        return -1;
    }
    if (memchr(name, ':', nl) != NULL || memchr(name, ' ', nl) != NULL) {
        snprintf(err, errlen, "user name '%s' contains a colon or a space", name);
        return -1;
    }
    if (pl == 0) {
        snprintf(err, errlen, "user '%s' has an empty password", name);
        return -1;
    }
    if (pl > AUTH_PASS_MAX) {
        snprintf(err, errlen, "password of user '%s' longer than %d bytes", name, AUTH_PASS_MAX);
        return -1;
    }
    if (has_ctl((const unsigned char *)pass, pl)) {
        snprintf(err, errlen, "password of user '%s' contains a control character", name);
        return -1;
    }
    memset(u, 0, sizeof(*u));
    memcpy(u->name, name, nl);
    memcpy(u->pass, pass, pl);
    u->name_len = (uint8_t)nl;
    u->pass_len = (uint8_t)pl;
    return 0;
}

int
auth_realm_ok(const char *realm)
{
    size_t n = strlen(realm);

    if (n == 0 || n > AUTH_REALM_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (realm[i] < 0x20 || realm[i] > 0x7e || realm[i] == '"' || realm[i] == '\\')
            return 0;
    return 1;
}

enum auth_result
auth_parse_basic(const char *value, size_t len, unsigned char *buf, size_t cap,
                 const unsigned char **user, size_t *ulen, const unsigned char **pass, size_t *plen)
{
    static const char scheme[] = "basic";
    size_t i, sl = sizeof(scheme) - 1;
    const unsigned char *colon;
    ssize_t n;

    /* auth-scheme: a token, compared without regard to case; "Basic"
     * alone (no token) or "Basicx" are other schemes, or none. */
    for (i = 0; i < len && value[i] != ' '; i++)
        ;
    if (i != sl)
        return AUTH_SCHEME;
    for (i = 0; i < sl; i++)
        if ((value[i] | 0x20) != scheme[i])
            return AUTH_SCHEME;
    /* 1*SP, then token68 up to the end: the caller trimmed the value, so
     * a space or tab left inside the token is an error. */
    while (i < len && value[i] == ' ')
        i++;
    if (i == len)
        return AUTH_MALFORMED;
    n = auth_b64_decode(value + i, len - i, buf, cap);
    if (n == -2)
        return AUTH_DENIED; /* valid, but longer than any credentials we keep */
    if (n < 0)
        return AUTH_MALFORMED;
    colon = memchr(buf, ':', (size_t)n);
    if (colon == NULL || has_ctl(buf, (size_t)n))
        return AUTH_MALFORMED;
    *user = buf;
    *ulen = (size_t)(colon - buf);
    *pass = colon + 1;
    *plen = (size_t)n - *ulen - 1;
    return AUTH_OK;
}

/* Bytes of a and b differ anywhere in [0, n): nonzero. Every byte is read,
 * whatever the earlier ones were. */
static unsigned
ct_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
    unsigned d = 0;

    for (size_t i = 0; i < n; i++)
        d |= (unsigned)(a[i] ^ b[i]);
    return d;
}

enum auth_result
auth_check_pair(const struct auth_user *users, int n, const unsigned char *u, size_t ul,
                const unsigned char *p, size_t pl, int *who)
{
    unsigned char name[AUTH_NAME_MAX], pass[AUTH_PASS_MAX];
    unsigned found = 0, idx = 0;

    *who = -1;
    if (ul == 0 || ul > AUTH_NAME_MAX || pl == 0 || pl > AUTH_PASS_MAX)
        return AUTH_DENIED; /* no configured user looks like that, and the limits are public */
    /* Zero-padded copies, so that every comparison covers the same number
     * of bytes as the arrays of struct auth_user. */
    memset(name, 0, sizeof(name));
    memset(pass, 0, sizeof(pass));
    memcpy(name, u, ul);
    memcpy(pass, p, pl);
    for (int i = 0; i < n; i++) {
        unsigned d = ct_diff(name, (const unsigned char *)users[i].name, AUTH_NAME_MAX) |
                     ct_diff(pass, users[i].pass, AUTH_PASS_MAX) |
                     (unsigned)(ul ^ users[i].name_len) | (unsigned)(pl ^ users[i].pass_len);
        /* eq is 1 when d is 0, computed without a branch on d. */
        unsigned eq = 1u & ((d - 1u) >> (sizeof(unsigned) * 8 - 1));
        unsigned mask = 0u - (eq & (found ^ 1u));

        idx = (idx & ~mask) | ((unsigned)i & mask);
        found |= eq;
    }
    /* Copies of a password do not outlive the check (a plain memset
     * before the end of the frame may be optimised away). */
    explicit_bzero(pass, sizeof(pass));
    if (!found)
        return AUTH_DENIED;
    *who = (int)idx;
    return AUTH_OK;
}

enum auth_result
auth_check(const struct auth_user *users, int n, const char *value, size_t len, int *who)
{
    unsigned char buf[AUTH_CRED_MAX];
    const unsigned char *u, *p;
    size_t ul, pl;
    enum auth_result r;

    *who = -1;
    r = auth_parse_basic(value, len, buf, sizeof(buf), &u, &ul, &p, &pl);
    if (r == AUTH_OK)
        r = auth_check_pair(users, n, u, ul, p, pl, who);
    explicit_bzero(buf, sizeof(buf));
    return r;
}
