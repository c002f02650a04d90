/* Body framing: decodes Content-Length, chunked and close-delimited bodies as
 * their bytes arrive and re-encodes them for the next hop. Chunked input is
 * checked strictly (RFC 9112 section 7.1) because Debian's http-parser is
 * lenient there; raw chunk framing is never passed on, only fresh framing
 * around slices of the input, so body bytes are never copied. */
#include "body.h"

#include <assert.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

/* Chunked decoder states (body_codec.state). The size line is parsed one byte
 * at a time so it may be split anywhere; trailer lines are parsed whole. */
enum {
    CH_SIZE = 0,  /* chunk-size hex digits */
    CH_SIZE_BWS,  /* whitespace after the size or an extension: only ";" may follow */
    CH_EXT_BWS1,  /* after ";": whitespace, then an extension name */
    CH_EXT_NAME,  /* extension name */
    CH_EXT_BWS2,  /* whitespace after a name: "=" or ";" must follow */
    CH_EXT_BWS3,  /* after "=": whitespace, then a token or quoted-string */
    CH_EXT_TOKEN, /* extension value, token form */
    CH_EXT_QS,    /* inside a quoted-string value */
    CH_EXT_QP,    /* after a backslash inside a quoted-string */
    CH_EXT_QEND,  /* after the closing quote */
    CH_LF,        /* CR seen, LF must follow */
    CH_DATA,      /* chunk data, c->left bytes to go */
    CH_DATA_CR,   /* CRLF after the chunk data */
    CH_DATA_LF,
    CH_TRAILER, /* trailer field lines, then the empty line */
    CH_END,     /* complete */
};

/* Output room every body_transcode call leaves unused, so that body_eof can
 * always append "0\r\n\r\n" to the same body_out. */
#define RES_IOV 1
#define RES_SCR 5
/* Largest framing around one data slice: 16 hex digits, CRLF, closing CRLF. */
#define CHUNK_FRAMING 20

/* Octet classes (RFC 9110 section 5.6). */
#define C_TCHAR  1 /* token character */
#define C_QDTEXT 2 /* quoted-string text: HTAB, SP, VCHAR but '"' and '\', obs-text */
#define C_VALUE  4 /* field value or quoted-pair octet: HTAB, SP, VCHAR, obs-text */

static const unsigned char body_cls[256] = {
    ['\t'] = C_QDTEXT | C_VALUE,
    [' '] = C_QDTEXT | C_VALUE,
    ['!'] = C_TCHAR | C_QDTEXT | C_VALUE,
    ['"'] = C_VALUE,
    ['#' ... '\''] = C_TCHAR | C_QDTEXT | C_VALUE,
    ['(' ... ')'] = C_QDTEXT | C_VALUE,
    ['*' ... '+'] = C_TCHAR | C_QDTEXT | C_VALUE,
    [','] = C_QDTEXT | C_VALUE,
    ['-' ... '.'] = C_TCHAR | C_QDTEXT | C_VALUE,
    ['/'] = C_QDTEXT | C_VALUE,
    ['0' ... '9'] = C_TCHAR | C_QDTEXT | C_VALUE,
    [':' ... '@'] = C_QDTEXT | C_VALUE,
    ['A' ... 'Z'] = C_TCHAR | C_QDTEXT | C_VALUE,
    ['['] = C_QDTEXT | C_VALUE,
    ['\\'] = C_VALUE,
    [']'] = C_QDTEXT | C_VALUE,
    ['^' ... '`'] = C_TCHAR | C_QDTEXT | C_VALUE,
    ['a' ... 'z'] = C_TCHAR | C_QDTEXT | C_VALUE,
    ['{'] = C_QDTEXT | C_VALUE,
    ['|'] = C_TCHAR | C_QDTEXT | C_VALUE,
    ['}'] = C_QDTEXT | C_VALUE,
    ['~'] = C_TCHAR | C_QDTEXT | C_VALUE,
    [0x80 ... 0xff] = C_QDTEXT | C_VALUE,
};

#define NAME(s)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
/* Trailer fields never forwarded: framing and hop-by-hop fields (a downstream
 * that merges trailers into the head must not see them), and fields that only
 * make sense before the content (RFC 9110 section 6.5.1: routing,
 * authentication, request modifiers, content format). Proxy-* is matched as a
 * prefix in trailer_dropped(). */
static const struct {
    const char *name;
    size_t len;
} body_dropped[] = {
    NAME("Transfer-Encoding"), NAME("Content-Length"),   NAME("Host"),
    NAME("Connection"),        NAME("Trailer"),          NAME("TE"),
    NAME("Keep-Alive"),        NAME("Upgrade"),          NAME("Via"),
    NAME("Max-Forwards"),      NAME("Expect"),           NAME("Authorization"),
    NAME("WWW-Authenticate"),  NAME("Content-Encoding"), NAME("Content-Type"),
    NAME("Content-Range"),
};
#undef NAME

void
body_out_reset(struct body_out *o)
{
    o->n = 0;
    o->bytes = 0;
    o->used = 0;
}

void
body_init(struct body_codec *c, enum body_framing in, uint64_t len, enum body_framing out)
{
    /* Content-Length on the way out is only right when the length is known. */
    assert(out != BODY_LENGTH || in == BODY_LENGTH);
    memset(c, 0, sizeof(*c));
    c->in = in;
    c->out = out;
    c->state = CH_SIZE;
    if (in == BODY_LENGTH)
        c->left = len;
    /* An empty body re-chunked still owes "0\r\n\r\n": done only once sent. */
    if (in == BODY_NONE || (in == BODY_LENGTH && len == 0 && out != BODY_CHUNKED))
        c->done = 1;
}

static int
raw_room(const struct body_out *o, int iov, size_t scratch)
{
    return o->n + iov <= BODY_MAX_IOV && o->used + scratch <= BODY_SCRATCH;
}

/* Room for iov pieces and scratch bytes, keeping the reserve for body_eof. */
static int
room(const struct body_out *o, int iov, size_t scratch)
{
    return raw_room(o, iov + RES_IOV, scratch + RES_SCR);
}

static void
put_slice(struct body_out *o, const char *p, size_t n)
{
    o->iov[o->n].iov_base = (void *)p;
    o->iov[o->n].iov_len = n;
    o->n++;
    o->bytes += n;
}

/* Appends generated bytes; they join the previous piece when that one ends
 * where they start in scratch (a chunk's closing CRLF and the next size line
 * go out as one piece). */
static void
put_scratch(struct body_out *o, const char *s, size_t n)
{
    char *d = o->scratch + o->used;
    struct iovec *last = o->n > 0 ? &o->iov[o->n - 1] : NULL;

    memcpy(d, s, n);
    o->used += n;
    if (last != NULL && (char *)last->iov_base + last->iov_len == d) {
        last->iov_len += n;
        o->bytes += n;
    } else {
        put_slice(o, d, n);
    }
}

/* Emits one data slice in the output framing. Returns 0 when o has no room
 * for it (nothing emitted), 1 otherwise. */
static int
emit_data(const struct body_codec *c, struct body_out *o, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char line[CHUNK_FRAMING], *e = line + 18;
    uint64_t v = n;

    switch (c->out) {
    case BODY_CHUNKED:
        if (!room(o, 3, CHUNK_FRAMING))
            return 0;
        /* The size is written backwards from the end of line[0..18). */
        *--e = '\n';
        *--e = '\r';
        do {
            *--e = hex[v & 15];
            v >>= 4;
        } while (v != 0);
        put_scratch(o, e, (size_t)(line + 18 - e));
        put_slice(o, p, n);
        put_scratch(o, "\r\n", 2);
        return 1;
    case BODY_LENGTH:
    case BODY_CLOSE:
        if (!room(o, 1, 0))
            return 0;
        put_slice(o, p, n);
        return 1;
    default: /* BODY_NONE: decode and discard */
        return 1;
    }
}

/* Emits the end of a LENGTH or CLOSE body re-chunked. It may use the
 * reserve, which is kept for exactly this; returns 0 when o has no room. */
static int
emit_last_chunk(const struct body_codec *c, struct body_out *o)
{
    if (c->out != BODY_CHUNKED)
        return 1;
    if (!raw_room(o, RES_IOV, RES_SCR))
        return 0;
    put_scratch(o, "0\r\n\r\n", 5);
    return 1;
}

static ssize_t
length_in(struct body_codec *c, const char *in, size_t len, struct body_out *o)
{
    size_t n = len < c->left ? len : (size_t)c->left;

    if (n > 0) {
        if (!emit_data(c, o, in, n))
            return 0;
        c->left -= n;
        c->total += n;
    }
    if (c->left == 0 && emit_last_chunk(c, o))
        c->done = 1;
    return (ssize_t)n;
}

static ssize_t
close_in(struct body_codec *c, const char *in, size_t len, struct body_out *o)
{
    if (c->out == BODY_LENGTH)
        return -1; /* programming error, see body_init */
    if (len == 0 || !emit_data(c, o, in, len))
        return 0;
    c->total += len;
    return (ssize_t)len;
}

static int
trailer_dropped(const char *name, size_t len)
{
    size_t i;

    if (len >= 6 && strncasecmp(name, "Proxy-", 6) == 0)
        return 1;
    for (i = 0; i < sizeof(body_dropped) / sizeof(body_dropped[0]); i++)
        if (len == body_dropped[i].len && strncasecmp(name, body_dropped[i].name, len) == 0)
            return 1;
    return 0;
}

/* One line of the trailer section starting at p[0]. Returns the bytes
 * consumed, 0 when the line is not complete yet or o has no room for it, -1
 * when it is malformed. Forwarded fields are sent as slices of the line, so a
 * line is consumed only once it is complete. c->line remembers how far the
 * incomplete line was already searched for its LF. */
static ssize_t
trailer_line(struct body_codec *c, const char *p, size_t avail, struct body_out *o)
{
    size_t from = c->line <= avail ? c->line : 0;
    const char *lf = memchr(p + from, '\n', avail - from);
    size_t n, name, v, vend, i;
    int canonical, sp;

    if (lf == NULL) {
        /* A CR with something else than LF after it can never end a line:
         * reject it now rather than at the length limit. */
        size_t cr = from > 0 ? from - 1 : 0;
        if (avail > cr + 1 && memchr(p + cr, '\r', avail - 1 - cr) != NULL)
            return -1;
        c->line = avail;
        if (avail >= BODY_MAX_LINE || c->trailer_bytes + avail >= BODY_MAX_TRAILERS)
            return -1;
        return 0;
    }
    n = (size_t)(lf - p) + 1;
    if (n > BODY_MAX_LINE || c->trailer_bytes + n > BODY_MAX_TRAILERS)
        return -1;
    if (n < 2 || p[n - 2] != '\r')
        return -1; /* bare LF */
    if (n == 2) {  /* the empty line ends the message */
        if (c->out == BODY_CHUNKED) {
            if (!room(o, 1, 2)) {
                c->line = 1;
                return 0;
            }
            put_scratch(o, "\r\n", 2);
        }
        c->trailer_bytes += 2;
        c->state = CH_END;
        c->done = 1;
        return 2;
    }
    /* field-name ":" OWS field-value OWS; no whitespace before the colon, and
     * a line starting with whitespace (obs-fold) has an empty name. */
    for (name = 0; body_cls[(unsigned char)p[name]] & C_TCHAR; name++)
        ;
    if (name == 0 || p[name] != ':')
        return -1;
    vend = n - 2;
    for (i = name + 1; i < vend; i++)
        if (!(body_cls[(unsigned char)p[i]] & C_VALUE))
            return -1; /* CR, LF, NUL, other CTLs, DEL */
    for (v = name + 1; v < vend && (p[v] == ' ' || p[v] == '\t'); v++)
        ;
    while (vend > v && (p[vend - 1] == ' ' || p[vend - 1] == '\t'))
        vend--;
    if (c->out == BODY_CHUNKED && !trailer_dropped(p, name)) {
        /* Regenerated as "name:" value CRLF, with one SP after the colon
         * only when the received line had whitespace there ("a:x" stays
         * "a:x"): a line never grows, so a trailer section within
         * BODY_MAX_TRAILERS here is within it at the next hop. A line
         * already in that form goes out as one slice. */
        sp = v > name + 1;
        canonical = vend == n - 2 && v == name + 1 + (size_t)sp && (!sp || p[name + 1] == ' ');
        if (!room(o, canonical ? 1 : 4, 3)) {
            c->line = n - 1;
            return 0;
        }
        if (canonical) {
            put_slice(o, p, n);
        } else {
            /* The name and its colon, and the received SP when it is one. */
            put_slice(o, p, name + 1 + (size_t)(sp && p[name + 1] == ' '));
            if (sp && p[name + 1] != ' ')
                put_scratch(o, " ", 1);
            if (v < vend)
                put_slice(o, p + v, vend - v);
            put_scratch(o, "\r\n", 2);
        }
    }
    c->trailer_bytes += n;
    c->line = 0;
    return (ssize_t)n;
}

static int
hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* The chunk-size digits and the whitespace after them (CH_SIZE,
 * CH_SIZE_BWS). Returns 0, or -1 when the byte is not allowed here. */
static int
size_digit_byte(struct body_codec *c, unsigned char ch)
{
    int d, ws = ch == ' ' || ch == '\t';

    if (c->state == CH_SIZE_BWS) { /* BWS is only allowed before ";" ("5 \r\n" is not) */
        if (ch == ';')
            c->state = CH_EXT_BWS1;
        else if (!ws)
            return -1;
        return 0;
    }
    if ((d = hexval(ch)) >= 0) {
        /* At most 16 digits, so the value cannot overflow a uint64_t. */
        if (c->line == 16)
            return -1;
        c->left = c->left << 4 | (uint64_t)d;
        return 0;
    }
    if (c->line == 0)
        return -1; /* no digit: " 5", "x5", ";", CRLF */
    if (ch == '\r')
        c->state = CH_LF;
    else if (ch == ';')
        c->state = CH_EXT_BWS1;
    else if (ws)
        c->state = CH_SIZE_BWS;
    else
        return -1; /* "0x5", "5z" */
    return 0;
}

/* After an extension name or value: ";" starts another extension, CR ends
 * the line. Returns 0 or -1. */
static int
ext_next(struct body_codec *c, unsigned char ch)
{
    if (ch == ';')
        c->state = CH_EXT_BWS1;
    else if (ch == '\r')
        c->state = CH_LF;
    else
        return -1;
    return 0;
}

/* A chunk extension's name and what may follow it (CH_EXT_BWS1,
 * CH_EXT_NAME, CH_EXT_BWS2). Returns 0 or -1. */
static int
ext_name_byte(struct body_codec *c, unsigned char ch)
{
    int ws = ch == ' ' || ch == '\t';
    unsigned cls = body_cls[ch];

    switch (c->state) {
    case CH_EXT_BWS1:
        if (cls & C_TCHAR)
            c->state = CH_EXT_NAME;
        else if (!ws)
            return -1;
        return 0;
    case CH_EXT_NAME:
        if (cls & C_TCHAR)
            return 0;
        if (ws)
            c->state = CH_EXT_BWS2;
        else if (ch == '=')
            c->state = CH_EXT_BWS3;
        else
            return ext_next(c, ch);
        return 0;
    default: /* CH_EXT_BWS2 */
        if (ch == '=')
            c->state = CH_EXT_BWS3;
        else if (ch == ';')
            c->state = CH_EXT_BWS1;
        else if (!ws)
            return -1;
        return 0;
    }
}

/* A chunk extension's value, a token or a quoted-string, and what may
 * follow it (CH_EXT_BWS3, CH_EXT_TOKEN, CH_EXT_QEND, CH_EXT_QS, CH_EXT_QP).
 * Returns 0 or -1. */
static int
ext_value_byte(struct body_codec *c, unsigned char ch)
{
    int ws = ch == ' ' || ch == '\t';
    unsigned cls = body_cls[ch];

    switch (c->state) {
    case CH_EXT_BWS3:
        if (ch == '"')
            c->state = CH_EXT_QS;
        else if (cls & C_TCHAR)
            c->state = CH_EXT_TOKEN;
        else if (!ws)
            return -1;
        return 0;
    case CH_EXT_TOKEN:
    case CH_EXT_QEND:
        if (c->state == CH_EXT_TOKEN && (cls & C_TCHAR))
            return 0;
        if (ws)
            c->state = CH_SIZE_BWS;
        else
            return ext_next(c, ch);
        return 0;
    case CH_EXT_QS:
        if (ch == '"')
            c->state = CH_EXT_QEND;
        else if (ch == '\\')
            c->state = CH_EXT_QP;
        else if (!(cls & C_QDTEXT))
            return -1;
        return 0;
    default: /* CH_EXT_QP */
        if (!(cls & C_VALUE))
            return -1;
        c->state = CH_EXT_QS;
        return 0;
    }
}

/* Advances the chunk-size line parser by one byte (RFC 9112 section 7.1:
 * chunk-size [ chunk-ext ] CRLF). Returns 0, or -1 when the byte is not
 * allowed here. The CH_LF state is handled by the caller. */
static int
size_byte(struct body_codec *c, unsigned char ch)
{
    switch (c->state) {
    case CH_SIZE:
    case CH_SIZE_BWS:
        return size_digit_byte(c, ch);
    case CH_EXT_BWS1:
    case CH_EXT_NAME:
    case CH_EXT_BWS2:
        return ext_name_byte(c, ch);
    case CH_EXT_BWS3:
    case CH_EXT_TOKEN:
    case CH_EXT_QEND:
    case CH_EXT_QS:
    case CH_EXT_QP:
        return ext_value_byte(c, ch);
    default:
        return -1;
    }
}

/* The common case of a whole "1a2b\r\n" size line in the buffer, without
 * the per-byte state machine. Returns 1 when it was consumed; 0 leaves
 * everything else (extensions, split lines, the last chunk, errors) to
 * size_byte(). */
static int
size_line_fast(struct body_codec *c, const char *in, size_t len, size_t *pos)
{
    size_t i = *pos, end = len - *pos > 16 ? *pos + 16 : len;
    uint64_t v = 0;
    int d;

    while (i < end && (d = hexval((unsigned char)in[i])) >= 0) {
        v = v << 4 | (uint64_t)d;
        i++;
    }
    if (v == 0 || i + 1 >= len || in[i] != '\r' || in[i + 1] != '\n')
        return 0;
    c->left = v;
    c->state = CH_DATA;
    *pos = i + 2;
    return 1;
}

static ssize_t
chunked_in(struct body_codec *c, const char *in, size_t len, struct body_out *o)
{
    size_t pos = 0, n;
    ssize_t r;

    if (c->out == BODY_LENGTH)
        return -1; /* programming error, see body_init */
    while (pos < len && !c->done) {
        switch (c->state) {
        case CH_DATA:
            n = len - pos;
            if (n > c->left)
                n = (size_t)c->left;
            if (!emit_data(c, o, in + pos, n))
                return (ssize_t)pos;
            pos += n;
            c->left -= n;
            c->total += n;
            if (c->left > 0)
                break;
            if (len - pos >= 2 && in[pos] == '\r' && in[pos + 1] == '\n') {
                pos += 2; /* the usual case, without two more state steps */
                c->state = CH_SIZE;
                c->line = 0;
            } else {
                c->state = CH_DATA_CR;
            }
            break;
        case CH_DATA_CR: /* "hello" + "XX" is not a chunk end */
            if (in[pos++] != '\r')
                return -1;
            c->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (in[pos++] != '\n')
                return -1;
            c->state = CH_SIZE;
            c->line = 0;
            c->left = 0;
            break;
        case CH_TRAILER:
            r = trailer_line(c, in + pos, len - pos, o);
            if (r < 0)
                return -1;
            if (r == 0)
                return (ssize_t)pos;
            pos += (size_t)r;
            break;
        case CH_LF:
            if (in[pos] != '\n' || c->line >= BODY_MAX_LINE)
                return -1; /* bare CR, "\r\r", or the LF makes the line too long */
            if (c->left > 0) {
                c->state = CH_DATA;
            } else { /* last-chunk: the trailer section follows */
                if (c->out == BODY_CHUNKED) {
                    if (!room(o, 1, 3))
                        return (ssize_t)pos;
                    put_scratch(o, "0\r\n", 3);
                }
                c->state = CH_TRAILER;
            }
            c->line = 0;
            pos++;
            break;
        case CH_SIZE:
            if (c->line == 0 && size_line_fast(c, in, len, &pos))
                break;
            /* fall through */
        default: /* the size line, up to its CR */
            if (c->line >= BODY_MAX_LINE || size_byte(c, (unsigned char)in[pos]) < 0)
                return -1;
            c->line++;
            pos++;
            break;
        }
    }
    return (ssize_t)pos;
}

ssize_t
body_transcode(struct body_codec *c, const char *in, size_t len, struct body_out *o)
{
    if (c->done)
        return 0;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    switch (c->in) {
    case BODY_LENGTH:
        return length_in(c, in, len, o);
    case BODY_CHUNKED:
        return chunked_in(c, in, len, o);
    case BODY_CLOSE:
        return close_in(c, in, len, o);
    default:
        c->done = 1;
        return 0;
    }
}

int
body_eof(struct body_codec *c, struct body_out *o)
{
    if (c->done)
        return 0;
    /* A LENGTH body is complete here only when it was empty and re-chunked
     * (its final chunk not sent yet); chunked input must have ended itself. */
    if (c->in == BODY_CLOSE || (c->in == BODY_LENGTH && c->left == 0)) {
        if (!emit_last_chunk(c, o))
            return -1; /* o was already full: a caller bug */
        c->done = 1;
        return 0;
    }
    return -1;
}
