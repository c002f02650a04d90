/* Fake first pieces: templates of a whole flight's length for the harmless
 * destination (shape_fake_host, shape_fake_sni), from which the planner takes
 * the bytes at the offsets of each fake piece. A censor that reads the fake
 * sees a complete request for another name, at the same TCP sequence numbers
 * as the real bytes that follow it. Deterministic: no random draws, so the
 * same length and name always give the same bytes. */
#include <string.h>

#include "shape.h"

#define FAKE_DEFAULT_NAME "www.example.com"
#define TLS_RECORD_MAX    16384
#define PAD_LETTERS       "abcdefghijklmnopqrstuvwxyz"

/* A writer that keeps the first cap bytes and counts all of them, so a
 * template longer than the flight comes out truncated. */
struct fw {
    unsigned char *p;
    size_t n, cap;
};

static void
put(struct fw *w, const void *s, size_t n)
{
    if (w->n < w->cap)
        memcpy(w->p + w->n, s, n < w->cap - w->n ? n : w->cap - w->n);
    w->n += n;
}

static void
put8(struct fw *w, unsigned v)
{
    unsigned char b = (unsigned char)v;

    put(w, &b, 1);
}

static void
put16(struct fw *w, size_t v)
{
    put8(w, (unsigned)(v >> 8));
    put8(w, (unsigned)v);
}

static void
put_fill(struct fw *w, unsigned char c, size_t n)
{
    while (n-- > 0)
        put8(w, c);
}

static const char *
fake_name(const char *name, size_t *n)
{
    if (name == NULL || name[0] == '\0')
        name = FAKE_DEFAULT_NAME;
    *n = strnlen(name, 255);
    return name;
}

/* "GET / HTTP/1.1\r\nHost: NAME\r\n", then "X-Pad: aaa...\r\n" with as many
 * letters (a-z, cycling) as make the head end with its blank line exactly at
 * len. When len is too short for the padding line, the head without it is
 * cut at len (or followed by NULs up to len when the room is 1-8 bytes, less
 * than the shortest padding line). */
void
shape_fake_http(char *out, size_t len, size_t keep, const char *host)
{
    struct fw w = {(unsigned char *)out, 0, keep < len ? keep : len};
    size_t hn, room;
    const char *h = fake_name(host, &hn);

    put(&w, "GET / HTTP/1.1\r\nHost: ", 22);
    put(&w, h, hn);
    put(&w, "\r\n", 2);
    room = w.n + 2 <= len ? len - w.n - 2 : 0;
    if (room >= 9) {
        put(&w, "X-Pad: ", 7);
        for (size_t i = 0; i < room - 9; i++)
            put8(&w, (unsigned char)PAD_LETTERS[i % 26]);
        put(&w, "\r\n", 2);
    } else if (room > 0) {
        put_fill(&w, 0, room);
    }
    put(&w, "\r\n", 2);
}

/* The extensions of a modern browser's ClientHello, without padding. */
static void
put_extensions(struct fw *w, const char *name, size_t nl)
{
    static const unsigned char tail[] = {
        0x00, 0x17, 0x00, 0x00,                               /* extended_master_secret */
        0xff, 0x01, 0x00, 0x01, 0x00,                         /* renegotiation_info */
        0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, /* supported_groups: x25519, */
        0x17, 0x00, 0x18,                                     /* secp256r1, secp384r1 */
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,                   /* ec_point_formats */
        0x00, 0x23, 0x00, 0x00,                               /* session_ticket */
        0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 'h',  '2',  0x08, 'h',
        't',  't',  'p',  '/',  '1',  '.',  '1',              /* ALPN h2, http/1.1 */
        0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, /* status_request */
        0x00, 0x0d, 0x00, 0x12, 0x00, 0x10, 0x04, 0x03, 0x08, 0x04, 0x04,
        0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01, /* signature_algorithms */
        0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,                   /* psk_key_exchange_modes */
        0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03, /* supported_versions 1.3, 1.2 */
        0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, /* key_share x25519, */
    };
    put16(w, 0); /* server_name */
    put16(w, nl + 5);
    put16(w, nl + 3);
    put8(w, 0);
    put16(w, nl);
    put(w, name, nl);
    put(w, tail, sizeof(tail));
    for (unsigned i = 0; i < 32; i++) /* ... and its public key */
        put8(w, 0x40 + i * 7);
}

/* Bytes of the extensions above for a name of nl bytes (the padding
 * extension's 4-byte header not included). */
static size_t
extensions_len(size_t nl)
{
    struct fw dry = {NULL, 0, 0};

    put_extensions(&dry, "", nl);
    return dry.n;
}

/* The whole hello, its padding extension carrying pad zero bytes. */
static void
put_hello(struct fw *w, const char *name, size_t nl, size_t pad)
{
    static const unsigned char suites[] = {
        0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc,
        0xa9, 0xcc, 0xa8, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35};
    size_t ext = extensions_len(nl) + 4 + pad;
    size_t hs = 2 + 32 + 1 + 32 + 2 + sizeof(suites) + 2 + 2 + ext;

    put(w, "\x16\x03\x01", 3); /* handshake record, TLS 1.0 on the record layer */
    put16(w, 4 + hs);
    put8(w, 1); /* client_hello */
    put8(w, (unsigned)(hs >> 16));
    put16(w, hs & 0xffff);
    put(w, "\x03\x03", 2);
    for (unsigned i = 0; i < 32; i++) /* random */
        put8(w, (0x11 * (i + 1)) ^ 0x5a);
    put8(w, 32);
    for (unsigned i = 0; i < 32; i++) /* legacy_session_id */
        put8(w, 0xc3 ^ (i * 11));
    put16(w, sizeof(suites));
    put(w, suites, sizeof(suites));
    put(w, "\x01\x00", 2); /* null compression */
    put16(w, ext);
    put_extensions(w, name, nl);
    put16(w, 21); /* padding (RFC 7685) */
    put16(w, pad);
    put_fill(w, 0, pad);
}

/* A ClientHello record for sni whose padding extension makes it exactly len
 * bytes; cut at len when even the hello without padding is longer; when len
 * is beyond the largest record, the record is the largest one and NULs fill
 * the rest. */
void
shape_fake_tls(char *out, size_t len, size_t keep, const char *sni)
{
    struct fw w = {(unsigned char *)out, 0, keep < len ? keep : len};
    size_t nl, min, pad = 0;
    const char *name = fake_name(sni, &nl);
    struct fw dry = {NULL, 0, 0};

    put_hello(&dry, name, nl, 0);
    min = dry.n;
    if (len > min)
        pad = (len < 5 + TLS_RECORD_MAX ? len : 5 + TLS_RECORD_MAX) - min;
    put_hello(&w, name, nl, pad);
    if (w.n < w.cap)
        memset(out + w.n, 0, w.cap - w.n);
}
