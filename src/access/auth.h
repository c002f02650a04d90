/* Basic proxy authentication (RFC 7617) for forward mode: the auth_user and
 * auth_realm values checked for the configuration, a strict base64 decoder,
 * and a Proxy-Authorization value checked against the configured users in
 * constant time. Pure: no I/O, no allocation, nothing logged. */
#ifndef WARPD_AUTH_H
#define WARPD_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AUTH_MAX_USERS 64  /* auth_user lines */
#define AUTH_NAME_MAX  64  /* bytes of a user name */
#define AUTH_PASS_MAX  128 /* bytes of a password */
#define AUTH_REALM_MAX 64  /* bytes of auth_realm */
/* The longest credentials worth decoding: "name:password" at their maximum. */
#define AUTH_CRED_MAX (AUTH_NAME_MAX + 1 + AUTH_PASS_MAX)

/* One configured user. Both arrays are zero-filled past the value, so that
 * a comparison can run over their whole size whatever the lengths are (and
 * the name is a C string for the access log). */
struct auth_user {
    char name[AUTH_NAME_MAX + 1];
    unsigned char pass[AUTH_PASS_MAX];
    uint8_t name_len; /* 1..AUTH_NAME_MAX */
    uint8_t pass_len; /* 1..AUTH_PASS_MAX */
};

/* What a Proxy-Authorization value amounts to. */
enum auth_result {
    AUTH_OK = 0,    /* a configured user, with the right password */
    AUTH_SCHEME,    /* a scheme other than Basic */
    AUTH_MALFORMED, /* Basic, but no valid base64, no colon, or a control byte */
    AUTH_DENIED,    /* well formed, but no configured user has these credentials */
};

/* Checks a user name and password for auth_user: a name of 1..AUTH_NAME_MAX
 * bytes of UTF-8 with no control character, space or colon; a password of
 * 1..AUTH_PASS_MAX bytes with no control character. Fills *u. Returns 0, or
 * -1 with a one-line message in err that never contains the password. */
int auth_user_set(struct auth_user *u, const char *name, const char *pass, char *err,
                  size_t errlen);

/* Checks an auth_realm value: 1..AUTH_REALM_MAX printable ASCII characters,
 * no '"' and no '\' (it goes into a quoted-string as is). Returns 0 or -1. */
int auth_realm_ok(const char *realm);

/* Decodes base64 (RFC 4648 section 4) strictly: the standard alphabet only,
 * a length that is a multiple of 4, '=' only as one or two final padding
 * characters, and zero bits in what the padding leaves over. Returns the
 * decoded length, -1 when the input is not such base64, or -2 when it is
 * but its decoded form would not fit in cap bytes (nothing is written
 * then). Empty input decodes to 0 bytes. */
ssize_t auth_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

/* Splits a Proxy-Authorization value (already trimmed of surrounding
 * whitespace) of the Basic scheme: the scheme name in any letter case, one
 * or more spaces, a base64 token. The decoded "user:password" is cut at its
 * first colon (a password may contain colons, a user name cannot); either
 * part may be empty; a control byte anywhere is malformed (RFC 7617
 * section 2). user and pass point into buf (cap bytes). Returns AUTH_OK,
 * AUTH_SCHEME, AUTH_MALFORMED, or AUTH_DENIED for valid credentials longer
 * than cap (no configured user can have them). */
enum auth_result auth_parse_basic(const char *value, size_t len, unsigned char *buf, size_t cap,
                                  const unsigned char **user, size_t *ulen,
                                  const unsigned char **pass, size_t *plen);

/* Checks a user name and password (SOCKS5's RFC 1929 exchange, or what
 * auth_check decoded) against users[0..n), in constant time over every
 * user as auth_check does. Returns AUTH_OK with *who the user's index, or
 * AUTH_DENIED with *who -1. */
enum auth_result auth_check_pair(const struct auth_user *users, int n, const unsigned char *u,
                                 size_t ul, const unsigned char *p, size_t pl, int *who);
/* Checks a Proxy-Authorization value against users[0..n). Every user is
 * compared, over the whole size of its name and password arrays, with no
 * early exit on a mismatching byte or length, so the time taken does not
 * tell which user exists or how much of a password was right. *who
 * receives the matching user's index (or -1). */
enum auth_result auth_check(const struct auth_user *users, int n, const char *value, size_t len,
                            int *who);

#endif
