/* HTTP/1.x heads, the reading half: where a head ends, the strict pass that
 * validates a head and reads it into slices -- the one pass the daemon makes
 * over it, with nothing else asked -- and the framing and hop-by-hop decisions
 * taken from what the fields say (http_fields.c, RFC 9110/9112). http-parser
 * only reads heads in the tests and fuzzers, as an oracle that must agree
 * with this pass (http_check.c). Request-targets are http_target.c's;
 * http_out.c writes the rewritten head. No sockets, no allocation. */
#include <http_parser.h>
#include <string.h>

#include "common.h"
#include "http_parse_int.h"

/* RFC 9112 2.2 asks servers to ignore at least one empty line before a
 * request line; a few are allowed, more look like an attack or garbage. */
#define HTTP_MAX_LEADING_CRLF 4
/* Longest request line http_head_end waits for: the target plus room for a
 * method and the version. */
#define HTTP_MAX_REQUEST_LINE (HTTP_MAX_TARGET + 64)

_Static_assert(HTTP_OUT_IOV >= 4 * HTTP_MAX_FIELDS + 16, "room for every field plus extras");

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

/* ---- framing fields ---------------------------------------------------- */

/* RFC 9110 puts no bound on Content-Length; warpd takes the one of a signed
 * 64-bit count (off_t, and the length type of most HTTP stacks), so that no
 * next hop reads a length warpd passes on as negative or wrapped. */
#define HTTP_MAX_LENGTH ((uint64_t)INT64_MAX)

/* Whether the value of a framing field (Content-Length, Transfer-Encoding),
 * or the whitespace after it, holds an HTAB. RFC 9110 allows HTAB as OWS
 * there, but "chunked\t" is a known smuggling disguise, and parsers in use
 * read such lines otherwise: http-parser takes "chunked\t" or ",\tchunked"
 * for another coding, and refuses a length followed by an HTAB. Framing is
 * where every reader of a message must agree, so warpd refuses the head
 * rather than pick a reading. (An HTAB before the value is skipped by all
 * of them alike, and stays allowed.) */
static int
framing_tab(const struct http_head *h)
{
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];
        const char *p;

        if (f->id != HF_CONTENT_LENGTH && f->id != HF_TRANSFER_ENCODING)
            continue;
        /* The line ends in CRLF: the strict pass saw it. */
        for (p = f->value.p; *p != '\r'; p++)
            if (*p == '\t')
                return 1;
    }
    return 0;
}

/* ---- methods --------------------------------------------------------- */

/* The methods warpd knows are http-parser's, so that h->method keeps the
 * values of its enum http_method: the table is built from the header's own
 * list, indexed by that value. Names are held inline (no pointer to follow),
 * and an entry is compared only when its length and first byte match. */
struct method_name {
    char name[15]; /* the longest is UNSUBSCRIBE */
    uint8_t len;
};

static const struct method_name methods[] = {
#define XX(num, name, string) [num] = {#string, sizeof(#string) - 1},
    HTTP_METHOD_MAP(XX)
#undef XX
};

/* The enum http_method of a method token, or -1 when it names no method
 * warpd knows (the caller answers 501). GET, by far the most common, is
 * settled before the table is looked at. */
static int
method_id(struct http_slice m)
{
    size_t i;

    if (m.len == 3 && memcmp(m.p, "GET", 3) == 0)
        return HTTP_GET;
    for (i = 0; i < WD_ARRAY_SIZE(methods); i++)
        if (methods[i].len == m.len && methods[i].name[0] == m.p[0] &&
            memcmp(methods[i].name, m.p, m.len) == 0)
            return (int)i;
    return -1;
}

/* ---- requests -------------------------------------------------------- */

int
http_parse_request(const char *buf, size_t len, struct http_head *h)
{
    struct http_fsem s;
    size_t pos = 0;
    int st;

    head_init(h);
    if ((st = strict_request_line(buf, len, &pos, h)) != 0)
        return st;
    if ((st = strict_fields(buf, len, &pos, h)) != 0)
        return st;
    h->head_len = pos;
    if ((h->method = method_id(h->method_s)) < 0)
        return 501; /* a token, but no method warpd knows */

    http_fields_collect(h, &s);
    if (s.n_host > 1 || (s.n_host == 0 && h->minor >= 1))
        return 400;
    if (s.n_host == 1 && h->fields[h->host_idx].value.len > 0 &&
        http_target_hostport(h->fields[h->host_idx].value.p, h->fields[h->host_idx].value.len, 0,
                             NULL, NULL) != 0)
        return 400;
    if (s.n_cl > 1 || s.cl_bad || (s.n_cl && s.n_te) || s.conn_bad)
        return 400;
    if ((s.n_cl && s.cl > HTTP_MAX_LENGTH) || ((s.n_cl || s.n_te) && framing_tab(h)))
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
    http_fields_mark_hop(h, &s);
    return 0;
}

/* ---- responses ------------------------------------------------------- */

int
http_parse_response(const char *buf, size_t len, int req_method, struct http_head *h)
{
    struct http_fsem s;
    size_t pos = 0;
    int st;

    head_init(h);
    if (strict_status_line(buf, len, &pos, h) != 0 || strict_fields(buf, len, &pos, h) != 0)
        return 502;
    h->head_len = pos;
    st = h->status;

    http_fields_collect(h, &s);
    if (s.n_cl > 1 || s.cl_bad || (s.n_cl && s.n_te) || s.conn_bad || s.te_bad)
        return 502;
    if ((s.n_cl && s.cl > HTTP_MAX_LENGTH) || ((s.n_cl || s.n_te) && framing_tab(h)))
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
    http_fields_mark_hop(h, &s);
    return 0;
}
