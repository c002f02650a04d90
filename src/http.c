/* HTTP/1.x heads, the reading half: where a head ends, a strict validation
 * pass that makes up for Debian's lenient http-parser build, http-parser run
 * over the same bytes as a second opinion that must agree field by field
 * (remembered for heads seen before), and framing and hop-by-hop decisions
 * (RFC 9110/9112). http_out.c writes the rewritten head. No sockets, no
 * allocation. */
#include <arpa/inet.h>
#include <http_parser.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "http.h"

/* RFC 9112 2.2 asks servers to ignore at least one empty line before a
 * request line; a few are allowed, more look like an attack or garbage. */
#define HTTP_MAX_LEADING_CRLF 4
/* Longest request line http_head_end waits for: the target plus room for a
 * method and the version. */
#define HTTP_MAX_REQUEST_LINE (HTTP_MAX_TARGET + 64)

_Static_assert(HTTP_OUT_IOV >= 4 * HTTP_MAX_FIELDS + 16, "room for every field plus extras");

/* ---- character classes ---------------------------------------------- */

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Character classes as tables: they are asked for every byte of every field
 * name and host, so a lookup beats a search. */
#define CC_TCHAR   1 /* tchar of RFC 9110 5.6.2 */
#define CC_REGNAME 2 /* reg-name of RFC 3986: unreserved, sub-delims and '%' */
static const unsigned char cclass[256] = {
    ['0' ... '9'] = CC_TCHAR | CC_REGNAME,
    ['A' ... 'Z'] = CC_TCHAR | CC_REGNAME,
    ['a' ... 'z'] = CC_TCHAR | CC_REGNAME,
    ['!'] = CC_TCHAR | CC_REGNAME,
    ['$'] = CC_TCHAR | CC_REGNAME,
    ['%'] = CC_TCHAR | CC_REGNAME,
    ['&'] = CC_TCHAR | CC_REGNAME,
    ['\''] = CC_TCHAR | CC_REGNAME,
    ['*'] = CC_TCHAR | CC_REGNAME,
    ['+'] = CC_TCHAR | CC_REGNAME,
    ['-'] = CC_TCHAR | CC_REGNAME,
    ['.'] = CC_TCHAR | CC_REGNAME,
    ['_'] = CC_TCHAR | CC_REGNAME,
    ['~'] = CC_TCHAR | CC_REGNAME,
    ['#'] = CC_TCHAR,
    ['^'] = CC_TCHAR,
    ['`'] = CC_TCHAR,
    ['|'] = CC_TCHAR,
    ['('] = CC_REGNAME,
    [')'] = CC_REGNAME,
    [','] = CC_REGNAME,
    [';'] = CC_REGNAME,
    ['='] = CC_REGNAME,
};

static inline int
is_tchar(unsigned char c)
{
    return cclass[c] & CC_TCHAR;
}

/* field-vchar, obs-text, SP and HTAB (RFC 9110 5.5): the bytes a field value
 * may hold, asked for every byte of every value. */
static const unsigned char value_bytes[256] = {
    ['\t'] = 1,
    [' ' ... '~'] = 1,
    [0x80 ... 0xff] = 1,
};

static inline int
is_value_byte(unsigned char c)
{
    return value_bytes[c];
}

/* Loads for looking at several bytes at once: memcpy compiles to a single
 * unaligned load. */
static inline uint16_t
load16(const char *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t
load32(const char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t
load64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Marks the bytes of x below 0x20 or equal to 0x7f (DEL), the ones a value
 * scan must look at: CR, HTAB and the CTLs. Subtracting 0x20 from each byte
 * sets its top bit when the byte was below 0x20 (and had not its own top bit
 * set); a borrow only travels upwards out of a byte that was below, so the
 * lowest mark is always a true one (marks above it may be false). XOR with
 * 0x7f turns DEL into the zero byte, found the same way. */
static inline uint64_t
ctl_marks(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;
    uint64_t del = x ^ (0x7f * ones);

    return (((x - 0x20 * ones) & ~x) | ((del - ones) & ~del)) & tops;
}

/* 8 bytes with the first one in the lowest bits, whatever the byte order. */
static inline uint64_t
load64_first_low(const char *p)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(load64(p));
#else
    return load64(p);
#endif
}

/* The number of value bytes at the start of p[0..n). Values are mostly plain
 * text: eight bytes are judged at once, and the first marked byte of a word
 * is either an HTAB to step over or the end of the value (its CR, or a byte
 * that does not belong). The last few bytes of the buffer go one by one. */
static inline size_t
value_span(const char *p, size_t n)
{
    size_t i = 0;

    while (i + 8 <= n) {
        uint64_t m = ctl_marks(load64_first_low(p + i));

        if (m == 0) {
            i += 8;
            continue;
        }
        i += (size_t)__builtin_ctzll(m) / 8;
        if (p[i] != '\t')
            return i;
        i++;
    }
    for (; i < n; i++)
        if (!is_value_byte((unsigned char)p[i]))
            return i;
    return n;
}

/* Marks the bytes of x that cannot be in a request-target: SP, the CTLs,
 * DEL and everything above. The below-0x21 half works as in ctl_marks;
 * adding 1 sets the top bit of 0x7f, the others above have it already, and
 * a carry only leaves a byte 0xff, itself marked: the lowest mark is exact. */
static inline uint64_t
target_marks(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;

    return (((x - 0x21 * ones) & ~x) | x | (x + ones)) & tops;
}

/* The number of bytes 0x21-0x7e at the start of p[0..n), eight at a time. */
static inline size_t
target_span(const char *p, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t m = target_marks(load64_first_low(p + i));

        if (m != 0)
            return i + (size_t)__builtin_ctzll(m) / 8;
    }
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    return i;
}

static int
is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* The number of bytes of class cc (CC_*) at the start of p[0..n). Field
 * names and hosts are asked for on every message: four bytes are judged per
 * step while all four belong, the rest one by one. */
static inline size_t
class_span(const char *p, size_t n, unsigned char cc)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;

    while (i + 4 <= n &&
           (cclass[u[i]] & cclass[u[i + 1]] & cclass[u[i + 2]] & cclass[u[i + 3]] & cc))
        i += 4;
    while (i < n && (cclass[u[i]] & cc))
        i++;
    return i;
}

static int
is_token(const char *p, size_t n)
{
    return n > 0 && class_span(p, n, CC_TCHAR) == n;
}

static int
caseeq(const char *p, size_t n, const char *lowerword)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (lowerword[i] == '\0' || lower((unsigned char)p[i]) != (unsigned char)lowerword[i])
            return 0;
    return lowerword[n] == '\0';
}

static int
slices_caseeq(struct http_slice a, struct http_slice b)
{
    uint32_t i;

    if (a.len != b.len)
        return 0;
    for (i = 0; i < a.len; i++)
        if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
            return 0;
    return 1;
}

int
http_slice_eq(struct http_slice s, const char *lowerword)
{
    return caseeq(s.p, s.len, lowerword);
}

static struct http_slice
slice(const char *p, size_t n)
{
    struct http_slice s = {p, (uint32_t)n};
    return s;
}

/* ---- finding the end of a head -------------------------------------- */

long
http_head_end(const char *buf, size_t len, size_t max, int is_request, size_t *scanned)
{
    size_t start = 0, pos, end;
    int crlfs = 0;
    const char *lf;

    if (is_request) {
        while (start < len && buf[start] == '\r') {
            if (start + 1 >= len)
                return 0;
            if (buf[start + 1] != '\n' || ++crlfs > HTTP_MAX_LEADING_CRLF)
                return -400;
            start += 2;
        }
    }
    if (start >= len)
        return 0;
    /* Refuse at once what cannot be HTTP (a TLS ClientHello sent to the
     * proxy port, say) rather than wait for a head that never ends. */
    if (is_request ? !is_tchar((unsigned char)buf[start]) : buf[start] != 'H')
        return -400;
    /* The request-line limit is judged once, on the call where the buffer
     * first holds enough bytes, so that a head arriving at once and one
     * arriving byte by byte get the same answer. It only applies when the
     * head limit would not have fired first. */
    if (is_request && start + HTTP_MAX_REQUEST_LINE + 2 <= max &&
        *scanned < start + HTTP_MAX_REQUEST_LINE + 2 && len >= start + HTTP_MAX_REQUEST_LINE + 2 &&
        memchr(buf + start, '\n', HTTP_MAX_REQUEST_LINE + 2) == NULL)
        return -414;

    pos = *scanned > start ? *scanned : start;
    end = len < max ? len : max;
    while (pos < end && (lf = memchr(buf + pos, '\n', end - pos)) != NULL) {
        size_t i = (size_t)(lf - buf);

        /* A bare LF can never be part of a valid head; say so now. */
        if (buf[i - 1] != '\r')
            return -400;
        if (i >= start + 3 && buf[i - 3] == '\r' && buf[i - 2] == '\n')
            return (long)(i + 1);
        pos = i + 1;
    }
    *scanned = end;
    if (len >= max)
        return -431;
    return 0;
}

/* ---- strict pass ----------------------------------------------------- */

static void
head_init(struct http_head *h)
{
    h->method = -1;
    h->method_s = slice(NULL, 0);
    h->target = slice(NULL, 0);
    h->status = 0;
    h->reason = slice(NULL, 0);
    h->major = h->minor = 0;
    h->nfields = 0;
    h->head_len = 0;
    h->body = BODY_NONE;
    h->content_length = 0;
    h->close = 0;
    h->upgrade = 0;
    h->expect_continue = 0;
    h->te_coded = 0;
    h->host_idx = -1;
    h->via_idx = -1;
    h->mf_idx = -1;
    h->max_forwards = 0;
}

/* "METHOD SP target SP HTTP/D.D CRLF" after at most a few empty lines.
 * Returns 0, 400, 414 or 505. */
static int
strict_request_line(const char *b, size_t len, size_t *posp, struct http_head *h)
{
    size_t pos = 0, start;
    int crlfs = 0;

    while (pos < len && b[pos] == '\r') {
        if (pos + 1 >= len || b[pos + 1] != '\n' || ++crlfs > HTTP_MAX_LEADING_CRLF)
            return 400;
        pos += 2;
    }
    start = pos;
    while (pos < len && is_tchar((unsigned char)b[pos]) && !(b[pos] >= 'a' && b[pos] <= 'z'))
        pos++;
    if (pos == start || pos >= len || b[pos] != ' ')
        return 400; /* lowercase method, double space, no target */
    h->method_s = slice(b + start, pos - start);
    start = ++pos;
    /* The length is judged before anything else looks at the target (the URL
     * parser of http-parser keeps 16-bit offsets): one byte more than the
     * limit is enough to know. */
    pos += target_span(b + start,
                       len - start < HTTP_MAX_TARGET + 1 ? len - start : HTTP_MAX_TARGET + 1);
    if (pos - start > HTTP_MAX_TARGET)
        return 414;
    if (pos == start || pos >= len || b[pos] != ' ')
        return 400; /* CTL or non-ASCII in the target, no version (HTTP/0.9) */
    h->target = slice(b + start, pos - start);
    pos++;
    if (len - pos < 10 || memcmp(b + pos, "HTTP/", 5) != 0 || !is_digit(b[pos + 5]) ||
        b[pos + 6] != '.' || !is_digit(b[pos + 7]) || b[pos + 8] != '\r' || b[pos + 9] != '\n')
        return 400;
    h->major = b[pos + 5] - '0';
    h->minor = b[pos + 7] - '0';
    if (h->major != 1)
        return 505;
    *posp = pos + 10;
    return 0;
}

/* "HTTP/1.D SP 3DIGIT [SP reason] CRLF", status 100-599. Returns 0 or 502. */
static int
strict_status_line(const char *b, size_t len, size_t *posp, struct http_head *h)
{
    size_t pos = 12, start;

    if (len < 14 || memcmp(b, "HTTP/", 5) != 0 || !is_digit(b[5]) || b[6] != '.' ||
        !is_digit(b[7]) || b[8] != ' ' || !is_digit(b[9]) || !is_digit(b[10]) || !is_digit(b[11]))
        return 502;
    h->major = b[5] - '0';
    h->minor = b[7] - '0';
    h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    if (h->major != 1 || h->status < 100 || h->status > 599)
        return 502;
    if (b[pos] != ' ' && b[pos] != '\r')
        return 502; /* "200OK", "2000" */
    if (b[pos] == ' ')
        pos++;
    start = pos;
    /* reason-phrase holds the same bytes as a field value */
    pos += value_span(b + pos, len - pos);
    if (pos < len && b[pos] != '\r')
        return 502;
    if (pos + 1 >= len || b[pos + 1] != '\n')
        return 502;
    h->reason = slice(b + start, pos - start);
    *posp = pos + 2;
    return 0;
}

/* Field lines up to and including the empty line, into h->fields. Names are
 * tokens directly followed by the colon; values are trimmed of OWS and may
 * hold VCHAR, obs-text, SP and HTAB only -- their first byte included, which
 * http-parser never checks. Returns 0, 400 or 431. */
static int
strict_fields(const char *b, size_t len, size_t *posp, struct http_head *h)
{
    size_t pos = *posp;

    for (;;) {
        size_t line = pos, name_end, vstart, vend, eol;
        struct http_field *f;

        if (pos >= len)
            return 400;
        if (b[pos] == '\r') {
            if (pos + 1 >= len || b[pos + 1] != '\n')
                return 400; /* "\r\n\rX": a bare CR where the head should end */
            *posp = pos + 2;
            return 0;
        }
        if (is_ows((unsigned char)b[pos]))
            return 400; /* obs-fold, or whitespace before the first field */
        pos += class_span(b + pos, len - pos, CC_TCHAR);
        if (pos == line || pos >= len || b[pos] != ':')
            return 400; /* empty name, whitespace before the colon, bad byte */
        name_end = pos++;
        /* The value runs to the first byte that is not a value byte, which
         * must be the CR of the line end (or the end of the buffer). */
        eol = pos + value_span(b + pos, len - pos);
        if (eol < len && b[eol] != '\r')
            return 400; /* NUL, bare LF, other CTLs, DEL */
        if (eol - line > HTTP_MAX_FIELD_LINE)
            return 431;
        if (eol + 1 >= len || b[eol + 1] != '\n')
            return 400; /* bare CR */
        if (h->nfields == HTTP_MAX_FIELDS)
            return 431;
        vstart = name_end + 1;
        while (vstart < eol && is_ows((unsigned char)b[vstart]))
            vstart++;
        vend = eol;
        while (vend > vstart && is_ows((unsigned char)b[vend - 1]))
            vend--;
        f = &h->fields[h->nfields++];
        f->name = slice(b + line, name_end - line);
        f->value = slice(b + vstart, vend - vstart);
        f->id = HF_OTHER;
        f->hop = 0;
        pos = eol + 2;
    }
}

/* ---- http-parser as a second opinion -------------------------------- */

/* The parser runs over the head the strict pass accepted and must deliver
 * exactly the same elements at the same offsets: any disagreement means the
 * two parsers read the message differently, which is what smuggling feeds
 * on, so the head is refused. */
struct pctx {
    struct http_head *h;
    int k;          /* field being delivered, -1 before the first */
    int in_value;   /* the last callback for field k was a value */
    const char *np; /* name and value of field k as the parser sees them */
    size_t nl;
    const char *vp;
    size_t vl;
    const char *up; /* request-target or reason phrase */
    size_t ul;
    int req_method; /* responses: the method of the request answered */
};

static int
pctx_field_done(struct pctx *c)
{
    const struct http_field *f;
    size_t i;

    if (c->k < 0)
        return 0;
    f = &c->h->fields[c->k];
    if (c->np != f->name.p || c->nl != f->name.len)
        return -1;
    if (f->value.len > 0 && (c->vp != f->value.p || c->vl < f->value.len))
        return -1;
    /* http-parser leaves trailing whitespace in the value; nothing else may
     * differ. */
    for (i = f->value.len; i < c->vl; i++)
        if (!is_ows((unsigned char)c->vp[i]))
            return -1;
    return 0;
}

static int
pcb_text(http_parser *p, const char *at, size_t n)
{
    struct pctx *c = p->data;

    if (c->ul == 0)
        c->up = at;
    else if (c->up + c->ul != at)
        return -1;
    c->ul += n;
    return 0;
}

static int
pcb_field(http_parser *p, const char *at, size_t n)
{
    struct pctx *c = p->data;

    if (c->k < 0 || c->in_value) {
        if (pctx_field_done(c) != 0 || c->k + 1 >= c->h->nfields)
            return -1;
        c->k++;
        c->np = at;
        c->nl = 0;
        c->vp = NULL;
        c->vl = 0;
        c->in_value = 0;
    }
    if (c->np + c->nl != at)
        return -1;
    c->nl += n;
    return 0;
}

static int
pcb_value(http_parser *p, const char *at, size_t n)
{
    struct pctx *c = p->data;

    if (c->k < 0)
        return -1;
    if (!c->in_value) {
        c->in_value = 1;
        c->vp = at;
        c->vl = 0;
    } else if (c->vp + c->vl != at) {
        return -1;
    }
    c->vl += n;
    return 0;
}

/* Bodies are framed by body.c, never by http-parser, so the parser is told
 * to skip them; for responses the return values follow reference 0.3: 1 for
 * HEAD, 1xx (not 101), 204 and 304, 2 for a 2xx to CONNECT (a tunnel). */
static int
pcb_headers_complete(http_parser *p)
{
    struct pctx *c = p->data;
    int st = (int)p->status_code;

    if (pctx_field_done(c) != 0 || c->k + 1 != c->h->nfields)
        return -1;
    if (p->type == HTTP_REQUEST)
        return 1;
    if (c->req_method == HTTP_HEAD || (st >= 100 && st < 200 && st != 101) || st == 204 ||
        st == 304)
        return 1;
    if (c->req_method == HTTP_CONNECT && st >= 200 && st < 300)
        return 2;
    return 0;
}

static const http_parser_settings pview_settings = {
    .on_url = pcb_text,
    .on_status = pcb_text,
    .on_header_field = pcb_field,
    .on_header_value = pcb_value,
    .on_headers_complete = pcb_headers_complete,
};

/* What http-parser made of the head. */
struct pview {
    enum http_errno err;
    int agree; /* delivered the same line and fields as the strict pass */
    unsigned flags;
    uint64_t content_length;
    int method;
};

static void
pview_parse(const char *buf, struct http_head *h, enum http_parser_type type, int req_method,
            struct pview *v)
{
    http_parser p;
    struct pctx c = {.h = h, .k = -1, .req_method = req_method};
    size_t n;

    http_parser_init(&p, type);
    p.data = &c;
    n = http_parser_execute(&p, &pview_settings, buf, h->head_len);
    v->err = HTTP_PARSER_ERRNO(&p);
    v->flags = p.flags;
    v->content_length = p.content_length;
    v->method = (int)p.method;
    v->agree = n == h->head_len && p.http_major == h->major && p.http_minor == h->minor;
    if (type == HTTP_REQUEST) {
        const char *m = http_method_str((enum http_method)p.method);

        v->agree = v->agree && c.up == h->target.p && c.ul == h->target.len &&
                   strlen(m) == h->method_s.len && memcmp(m, h->method_s.p, h->method_s.len) == 0;
    } else {
        v->agree = v->agree && (int)p.status_code == h->status && c.ul == h->reason.len &&
                   (c.ul == 0 || c.up == h->reason.p);
    }
}

/* ---- remembering the second opinion ---------------------------------- */

/* What pview_parse finds is a function of the head's bytes alone, given the
 * message type and (responses) the method answered: the strict pass it is
 * compared with is itself a function of the same bytes, and offsets are what
 * get compared. Clients repeat requests, and an upstream sends the same
 * response head byte for byte until its Date changes, once a second. So a
 * worker keeps its last few verdicts with the exact bytes they were given
 * for, and a head equal to one of them is not parsed a second time. This
 * assumes nothing: a head that differs in one byte, or that is too long to
 * keep, is parsed again. */
#define PVIEW_MEMO_HEAD 512 /* longest head remembered, bytes */
#define PVIEW_MEMO_WAYS 4   /* verdicts kept per message type */

struct pview_memo {
    uint32_t len; /* 0: an empty slot */
    int req_method;
    struct pview v;
    char bytes[PVIEW_MEMO_HEAD];
};

static struct pview_memo pview_memo[2][PVIEW_MEMO_WAYS];
static unsigned pview_memo_next[2];
static unsigned long pview_parses;

static void
pview_run(const char *buf, struct http_head *h, enum http_parser_type type, int req_method,
          struct pview *v)
{
    struct pview_memo *m = pview_memo[type == HTTP_RESPONSE];
    unsigned *next = &pview_memo_next[type == HTTP_RESPONSE];
    int i;

    if (h->head_len > PVIEW_MEMO_HEAD) {
        pview_parse(buf, h, type, req_method, v);
        pview_parses++;
        return;
    }
    for (i = 0; i < PVIEW_MEMO_WAYS; i++) {
        if (m[i].len == h->head_len && m[i].req_method == req_method &&
            memcmp(m[i].bytes, buf, h->head_len) == 0) {
            *v = m[i].v;
            return;
        }
    }
    pview_parse(buf, h, type, req_method, v);
    pview_parses++;
    m = &m[*next];
    *next = (*next + 1) % PVIEW_MEMO_WAYS;
    m->len = (uint32_t)h->head_len;
    m->req_method = req_method;
    m->v = *v;
    memcpy(m->bytes, buf, h->head_len);
}

unsigned long
http_second_opinions(void)
{
    return pview_parses;
}

/* ---- field semantics ------------------------------------------------- */

/* Whether the n (>= 2) bytes at p, a validated token, equal the lowercase
 * word w of the same length, ignoring case. Setting bit 0x20 of every byte
 * lowercases the letters; w holds only lowercase letters, digits and '-',
 * which have that bit already, and the only other bytes it would turn into
 * a digit or '-' (0x10-0x19 and CR) are never in a token, so on a token this
 * is exactly a case-insensitive comparison. n is a constant at every call:
 * the compiler unrolls this into two or three loads and compares. */
static inline int
token_is(const char *p, const char *w, size_t n)
{
    size_t i;

    if (n >= 8) {
        for (i = 0; i + 8 < n; i += 8)
            if ((load64(p + i) | 0x2020202020202020u) != load64(w + i))
                return 0;
        /* The last 8 bytes, overlapping the previous word when n is not a
         * multiple of 8. */
        return (load64(p + n - 8) | 0x2020202020202020u) == load64(w + n - 8);
    }
    if (n >= 4)
        return (load32(p) | 0x20202020u) == load32(w) &&
               (load32(p + n - 4) | 0x20202020u) == load32(w + n - 4);
    return (uint16_t)(load16(p) | 0x2020u) == load16(w) &&
           (uint16_t)(load16(p + n - 2) | 0x2020u) == load16(w + n - 2);
}

/* A token slice against a lowercase literal (see token_is). */
#define TOKEN_IS(s, lit) ((s).len == sizeof(lit) - 1 && token_is((s).p, lit, sizeof(lit) - 1))

/* The id of a field name (a validated token), matched case-insensitively.
 * Every field of every message comes through here, so the length picks the
 * one or two candidates and a word compare settles it; unknown names
 * mostly stop at the switch. */
static uint8_t
field_id(struct http_slice name)
{
    switch (name.len) {
    case 2:
        return TOKEN_IS(name, "te") ? HF_TE : HF_OTHER;
    case 3:
        return TOKEN_IS(name, "via") ? HF_VIA : HF_OTHER;
    case 4:
        return TOKEN_IS(name, "host") ? HF_HOST : HF_OTHER;
    case 6:
        return TOKEN_IS(name, "expect") ? HF_EXPECT : HF_OTHER;
    case 7:
        if (TOKEN_IS(name, "upgrade"))
            return HF_UPGRADE;
        return TOKEN_IS(name, "trailer") ? HF_TRAILER : HF_OTHER;
    case 10:
        if (TOKEN_IS(name, "connection"))
            return HF_CONNECTION;
        return TOKEN_IS(name, "keep-alive") ? HF_KEEP_ALIVE : HF_OTHER;
    case 12:
        return TOKEN_IS(name, "max-forwards") ? HF_MAX_FORWARDS : HF_OTHER;
    case 14:
        if (TOKEN_IS(name, "content-length"))
            return HF_CONTENT_LENGTH;
        return TOKEN_IS(name, "http2-settings") ? HF_HTTP2_SETTINGS : HF_OTHER;
    case 16:
        return TOKEN_IS(name, "proxy-connection") ? HF_PROXY_CONNECTION : HF_OTHER;
    case 17:
        return TOKEN_IS(name, "transfer-encoding") ? HF_TRANSFER_ENCODING : HF_OTHER;
    case 18:
        return TOKEN_IS(name, "proxy-authenticate") ? HF_PROXY_AUTHENTICATE : HF_OTHER;
    case 19:
        return TOKEN_IS(name, "proxy-authorization") ? HF_PROXY_AUTHORIZATION : HF_OTHER;
    case 25:
        return TOKEN_IS(name, "proxy-authentication-info") ? HF_PROXY_AUTHENTICATION_INFO
                                                           : HF_OTHER;
    default:
        return HF_OTHER;
    }
}

/* Iterates over the elements of a comma-separated list value, each trimmed
 * of OWS (possibly empty). *pos starts at 0. Returns 0 after the last one. */
static int
list_next(struct http_slice v, uint32_t *pos, struct http_slice *el)
{
    uint32_t s = *pos, e;
    const char *comma;

    if (s > v.len)
        return 0;
    comma = memchr(v.p + s, ',', v.len - s);
    e = comma != NULL ? (uint32_t)(comma - v.p) : v.len;
    *pos = e + 1;
    while (s < e && is_ows((unsigned char)v.p[s]))
        s++;
    while (e > s && is_ows((unsigned char)v.p[e - 1]))
        e--;
    *el = slice(v.p + s, e - s);
    return 1;
}

/* Content-Length = 1*DIGIT, without overflow. */
static int
parse_length(struct http_slice v, uint64_t *out)
{
    uint64_t n = 0;
    uint32_t i;

    if (v.len == 0)
        return -1;
    for (i = 0; i < v.len; i++) {
        unsigned d = (unsigned char)v.p[i] - '0';

        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/* What the fields say about framing and the connection, all lines of a
 * name taken together in order. */
struct fsem {
    int n_host, n_cl, n_te, n_upgrade;
    int cl_bad;
    uint64_t cl;
    int te_bad;          /* an empty or non-token coding, or chunked twice */
    int te_chunked_last; /* chunked is the final coding */
    int te_other;        /* a coding besides chunked */
    int conn_bad;        /* a Connection element that is not a token */
    int conn_close, conn_keep_alive, conn_upgrade;
    int conn_names;  /* an element other than keep-alive and upgrade (which only
                      * name fields that are never forwarded anyway) */
    int upgrade_bad; /* an Upgrade element that is not a protocol, or h2c */
    int expect_continue;
    int n_mf, mf_bad, mf_idx; /* Max-Forwards: how many, not 1*DIGIT, the last */
    uint64_t mf;
};

static void
fsem_te(struct fsem *s, struct http_slice v)
{
    struct http_slice el;
    uint32_t pos = 0;

    while (list_next(v, &pos, &el)) {
        if (!is_token(el.p, el.len)) {
            s->te_bad = 1;
        } else if (TOKEN_IS(el, "chunked")) {
            if (s->te_chunked_last)
                s->te_bad = 1;
            s->te_chunked_last = 1;
        } else {
            s->te_other = 1;
            s->te_chunked_last = 0;
        }
    }
}

static void
fsem_connection(struct fsem *s, struct http_slice v)
{
    struct http_slice el;
    uint32_t pos = 0;

    while (list_next(v, &pos, &el)) {
        if (el.len == 0)
            continue; /* empty list elements are allowed (RFC 9110 5.6.1) */
        if (!is_token(el.p, el.len))
            s->conn_bad = 1;
        else if (TOKEN_IS(el, "close"))
            s->conn_close = s->conn_names = 1;
        else if (TOKEN_IS(el, "keep-alive"))
            s->conn_keep_alive = 1;
        else if (TOKEN_IS(el, "upgrade"))
            s->conn_upgrade = 1;
        else
            s->conn_names = 1;
    }
}

/* protocol = protocol-name ["/" protocol-version]; h2c is never honoured
 * (h2c smuggling through proxies that pass the upgrade on). */
static void
fsem_upgrade(struct fsem *s, struct http_slice v)
{
    struct http_slice el;
    uint32_t pos = 0;

    while (list_next(v, &pos, &el)) {
        const char *slash = memchr(el.p, '/', el.len);
        size_t nl = slash ? (size_t)(slash - el.p) : el.len;

        if (el.len == 0)
            continue;
        if (!is_token(el.p, nl) || (slash && !is_token(slash + 1, el.len - nl - 1)) ||
            caseeq(el.p, nl, "h2c"))
            s->upgrade_bad = 1;
    }
}

static void
fsem_collect(struct http_head *h, struct fsem *s)
{
    int i;

    memset(s, 0, sizeof(*s));
    for (i = 0; i < h->nfields; i++) {
        struct http_field *f = &h->fields[i];

        f->id = field_id(f->name);
        switch (f->id) {
        case HF_HOST:
            s->n_host++;
            h->host_idx = i;
            break;
        case HF_VIA:
            h->via_idx = i;
            break;
        case HF_CONTENT_LENGTH:
            s->n_cl++;
            if (parse_length(f->value, &s->cl) != 0)
                s->cl_bad = 1;
            break;
        case HF_TRANSFER_ENCODING:
            s->n_te++;
            fsem_te(s, f->value);
            break;
        case HF_CONNECTION:
            fsem_connection(s, f->value);
            break;
        case HF_UPGRADE:
            s->n_upgrade++;
            fsem_upgrade(s, f->value);
            break;
        case HF_EXPECT:
            if (http_slice_eq(f->value, "100-continue"))
                s->expect_continue = 1;
            break;
        case HF_MAX_FORWARDS:
            s->n_mf++;
            s->mf_idx = i;
            if (parse_length(f->value, &s->mf) != 0)
                s->mf_bad = 1;
            break;
        default:
            break;
        }
    }
}

/* Marks what is not forwarded: the fixed hop-by-hop set, the framing fields
 * (regenerated from h->body), and every field a Connection element names --
 * except Host, so that a "Connection: host" cannot strip routing, and except
 * Upgrade on an upgrade being passed on. Self-references ("Connection:
 * Connection") only mark fields already marked. */
static void
mark_hop(struct http_head *h, const struct fsem *s)
{
    int i, j;

    for (i = 0; i < h->nfields; i++) {
        struct http_field *f = &h->fields[i];

        switch (f->id) {
        case HF_CONNECTION:
        case HF_PROXY_CONNECTION:
        case HF_KEEP_ALIVE:
        case HF_TE:
        case HF_TRAILER:
        case HF_TRANSFER_ENCODING:
        case HF_CONTENT_LENGTH:
        case HF_PROXY_AUTHORIZATION:
        case HF_PROXY_AUTHENTICATE:
        case HF_PROXY_AUTHENTICATION_INFO:
        case HF_HTTP2_SETTINGS:
            f->hop = 1;
            break;
        case HF_UPGRADE:
            f->hop = !h->upgrade;
            break;
        default:
            f->hop = 0;
            break;
        }
    }
    /* "Connection: keep-alive" and "upgrade" name only fields the switch
     * above has settled (Upgrade is marked unless being passed on), so the
     * usual message needs no second look at its Connection lists. */
    if (!s->conn_names)
        return;
    for (i = 0; i < h->nfields; i++) {
        struct http_slice el;
        uint32_t pos = 0;

        if (h->fields[i].id != HF_CONNECTION)
            continue;
        while (list_next(h->fields[i].value, &pos, &el)) {
            for (j = 0; j < h->nfields; j++) {
                struct http_field *f = &h->fields[j];

                if (f->id == HF_HOST || (f->id == HF_UPGRADE && h->upgrade))
                    continue;
                if (slices_caseeq(f->name, el))
                    f->hop = 1;
            }
        }
    }
}

/* uri-host [":" port] where uri-host is a reg-name, an IPv4 address (whose
 * characters are reg-name characters) or a bracketed IPv6 literal. The host
 * is copied without brackets into host (ADDR_HOSTMAX bytes) when given.
 * Returns 0 or -1. */
static int
parse_hostport(const char *p, size_t n, int need_port, char *host, uint16_t *port)
{
    size_t i = 0, hs = 0, he;
    unsigned long v = 0;

    if (n == 0)
        return -1;
    if (p[0] == '[') {
        char tmp[INET6_ADDRSTRLEN];
        struct in6_addr a;

        while (++i < n && p[i] != ']')
            if (!(is_digit(p[i]) || (lower(p[i]) >= 'a' && lower(p[i]) <= 'f') || p[i] == ':' ||
                  p[i] == '.'))
                return -1;
        if (i >= n || i - 1 == 0 || i - 1 >= sizeof(tmp))
            return -1;
        hs = 1;
        he = i++;
        memcpy(tmp, p + hs, he - hs);
        tmp[he - hs] = '\0';
        if (inet_pton(AF_INET6, tmp, &a) != 1)
            return -1;
    } else {
        i = class_span(p, n, CC_REGNAME);
        he = i;
        if (he == 0 || he > ADDR_HOSTMAX - 1)
            return -1;
    }
    if (i == n) {
        if (need_port)
            return -1;
        v = 80;
    } else {
        size_t ds;

        if (p[i] != ':')
            return -1;
        ds = ++i;
        for (; i < n && is_digit(p[i]) && i - ds < 5; i++)
            v = v * 10 + (unsigned long)(p[i] - '0');
        if (i != n || i == ds || v == 0 || v > 65535)
            return -1;
    }
    if (host) {
        memcpy(host, p + hs, he - hs);
        host[he - hs] = '\0';
    }
    if (port)
        *port = (uint16_t)v;
    return 0;
}

/* Whether a Via field names `name` as a whole word ("1.1 warpd",
 * "1.0 warpd (x)"), ignoring case: a request that already went through us. */
int
http_via_names(const struct http_head *h, const char *name)
{
    size_t nl = strlen(name);

    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];

        if (f->id != HF_VIA)
            continue;
        for (uint32_t j = 0; j + nl <= f->value.len; j++) {
            uint32_t e = j + (uint32_t)nl;

            if (strncasecmp(f->value.p + j, name, nl) != 0)
                continue;
            if ((j == 0 || is_ows((unsigned char)f->value.p[j - 1])) &&
                (e == f->value.len || strchr(" \t,:(", f->value.p[e]) != NULL))
                return 1;
        }
    }
    return 0;
}

/* ---- requests -------------------------------------------------------- */

int
http_parse_request(const char *buf, size_t len, struct http_head *h)
{
    struct pview v;
    struct fsem s;
    size_t pos = 0;
    int st;

    head_init(h);
    if ((st = strict_request_line(buf, len, &pos, h)) != 0)
        return st;
    if ((st = strict_fields(buf, len, &pos, h)) != 0)
        return st;
    h->head_len = pos;

    pview_run(buf, h, HTTP_REQUEST, -1, &v);
    if (v.err == HPE_INVALID_METHOD)
        return 501; /* an uppercase token http-parser does not know */
    if (v.err == HPE_HEADER_OVERFLOW)
        return 431;
    if (v.err != HPE_OK || !v.agree)
        return 400;
    h->method = v.method;

    fsem_collect(h, &s);
    if (s.n_host > 1 || (s.n_host == 0 && h->minor >= 1))
        return 400;
    if (s.n_host == 1 && h->fields[h->host_idx].value.len > 0 &&
        parse_hostport(h->fields[h->host_idx].value.p, h->fields[h->host_idx].value.len, 0, NULL,
                       NULL) != 0)
        return 400;
    if (s.n_cl > 1 || s.cl_bad || (s.n_cl && s.n_te) || s.conn_bad)
        return 400;
    if (s.n_te) {
        /* RFC 9112 6.1 and 6.3: HTTP/1.0 framing with TE is faulty; chunked
         * must be final (a MUST-400, which wins over the SHOULD-501 for an
         * unknown coding); then any other coding is not implemented. */
        if (h->minor == 0 || s.te_bad || !s.te_chunked_last)
            return 400;
        if (s.te_other)
            return 501;
    }
    /* The parser must have framed the message the same way. */
    if (!(v.flags & F_CHUNKED) != !s.n_te || !(v.flags & F_CONTENTLENGTH) != !s.n_cl ||
        (s.n_cl && v.content_length != s.cl))
        return 400;

    if (h->method == HTTP_CONNECT)
        h->body = BODY_NONE; /* what follows the head is tunnel data */
    else if (s.n_te)
        h->body = BODY_CHUNKED;
    else if (s.n_cl)
        h->body = BODY_LENGTH; /* also for 0, so that Content-Length: 0 is passed on */
    else
        h->body = BODY_NONE;
    h->content_length = h->body == BODY_LENGTH ? s.cl : 0;
    h->close = h->minor >= 1 ? s.conn_close : (s.conn_close || !s.conn_keep_alive);
    h->upgrade = h->minor >= 1 && s.conn_upgrade && s.n_upgrade && !s.upgrade_bad &&
                 h->method != HTTP_CONNECT;
    h->expect_continue = h->minor >= 1 && s.expect_continue;
    /* RFC 9110 7.6.2: TRACE and OPTIONS are the methods Max-Forwards is
     * for; a proxy must read and decrement it there, and may ignore it
     * elsewhere. 9.3.8: a TRACE carries no content. */
    if (h->method == HTTP_TRACE || h->method == HTTP_OPTIONS) {
        if (s.n_mf > 1 || s.mf_bad)
            return 400;
        if (s.n_mf) {
            h->mf_idx = s.mf_idx;
            h->max_forwards = s.mf;
        }
    }
    if (h->method == HTTP_TRACE &&
        (h->body == BODY_CHUNKED || (h->body == BODY_LENGTH && h->content_length > 0)))
        return 400;
    mark_hop(h, &s);
    return 0;
}

int
http_parse_target(const struct http_head *h, struct http_target *t)
{
    const char *p = h->target.p;
    size_t n = h->target.len, i, a, e;

    t->form = HTTP_FORM_ORIGIN;
    t->host[0] = '\0';
    t->port = 0;
    t->authority = slice(p, 0);
    t->path = slice(p, 0);
    if (n == 0)
        return 400;
    if (n > HTTP_MAX_TARGET)
        return 414;
    if (h->method == HTTP_CONNECT) {
        /* authority-form only, port required (RFC 9110 9.3.6) */
        t->form = HTTP_FORM_AUTHORITY;
        if (parse_hostport(p, n, 1, t->host, &t->port) != 0)
            return 400;
        t->authority = h->target;
        return 0;
    }
    if (memchr(p, '#', n) != NULL)
        return 400; /* fragments are the client's business */
    if (n == 1 && p[0] == '*') {
        if (h->method != HTTP_OPTIONS)
            return 400;
        t->form = HTTP_FORM_ASTERISK;
        t->path = h->target;
        return 0;
    }
    if (p[0] == '/') {
        t->path = h->target;
        return 0;
    }
    /* absolute-form: scheme "://" authority path-abempty ["?" query] */
    if (!is_alpha((unsigned char)p[0]))
        return 400;
    for (i = 1; i < n && (is_alpha((unsigned char)p[i]) || is_digit(p[i]) || p[i] == '+' ||
                          p[i] == '-' || p[i] == '.');
         i++)
        ;
    if (i >= n || p[i] != ':' || n - i < 3 || p[i + 1] != '/' || p[i + 2] != '/')
        return 400; /* host:port without CONNECT, "http:/x", no scheme */
    if (!caseeq(p, i, "http"))
        return 501;
    a = i + 3;
    for (e = a; e < n && p[e] != '/' && p[e] != '?'; e++)
        if (p[e] == '@')
            return 400; /* userinfo (RFC 9110 4.2.4) */
    if (parse_hostport(p + a, e - a, 0, t->host, &t->port) != 0)
        return 400;
    t->form = HTTP_FORM_ABSOLUTE;
    t->authority = slice(p + a, e - a);
    t->path = slice(p + e, n - e);
    return 0;
}

/* ---- responses ------------------------------------------------------- */

int
http_parse_response(const char *buf, size_t len, int req_method, struct http_head *h)
{
    struct pview v;
    struct fsem s;
    size_t pos = 0;
    int st;

    head_init(h);
    if (strict_status_line(buf, len, &pos, h) != 0 || strict_fields(buf, len, &pos, h) != 0)
        return 502;
    h->head_len = pos;
    st = h->status;

    pview_run(buf, h, HTTP_RESPONSE, req_method, &v);
    if (v.err != HPE_OK || !v.agree)
        return 502;

    fsem_collect(h, &s);
    if (s.n_cl > 1 || s.cl_bad || (s.n_cl && s.n_te) || s.conn_bad || s.te_bad)
        return 502;
    if (!(v.flags & F_CHUNKED) != !(s.n_te && s.te_chunked_last) ||
        !(v.flags & F_CONTENTLENGTH) != !s.n_cl || (s.n_cl && v.content_length != s.cl))
        return 502;
    if (st == 101 && s.n_upgrade == 0)
        return 502; /* a 101 must say what it switches to (RFC 9110 7.8) */

    /* RFC 9112 6.3, in order of precedence */
    if (req_method == HTTP_HEAD || st / 100 == 1 || st == 204 || st == 304)
        h->body = BODY_NONE;
    else if (req_method == HTTP_CONNECT && st / 100 == 2)
        h->body = BODY_NONE;
    else if (s.n_te)
        h->body = s.te_chunked_last ? BODY_CHUNKED : BODY_CLOSE;
    else if (s.n_cl)
        h->body = BODY_LENGTH;
    else
        h->body = BODY_CLOSE;
    h->content_length = s.n_cl ? s.cl : 0;
    h->te_coded = s.n_te && s.te_other;
    h->close = s.conn_close || (h->minor == 0 && !s.conn_keep_alive) || h->body == BODY_CLOSE;
    h->upgrade = st == 101;
    mark_hop(h, &s);
    return 0;
}
