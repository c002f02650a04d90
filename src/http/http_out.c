/* HTTP/1.x heads, the writing half: a head that http.c parsed and checked,
 * regenerated with its rewrites (request-target in origin-form, hop-by-hop
 * fields dropped, framing and Connection written anew, Via added) as iovecs
 * that point into the received buffer, in the client's order and spelling;
 * and the reason phrases of the statuses warpd answers itself. No sockets, no
 * allocation. */
#include <http_parser.h>
#include <string.h>

#include "common.h"
#include "http.h"

/* ---- regeneration ---------------------------------------------------- */

/* The most lines the writer adds to a head: Host, Connection, keep-alive or
 * Upgrade, a framing field and Via, with one to spare. */
#define OUT_MAX_ADDED 6

int
http_out_fits(const struct http_out *out, int nfields, size_t max_head)
{
    size_t line = 0;
    int lines = 0;

    if (out->bytes > max_head)
        return 0;
    /* The usual case, decided without reading the head again. */
    if (out->bytes <= HTTP_MAX_FIELD_LINE && nfields + OUT_MAX_ADDED <= HTTP_MAX_FIELDS)
        return 1;
    for (int i = 0; i < out->n; i++) {
        const char *b = out->iov[i].iov_base;
        size_t len = out->iov[i].iov_len;

        for (size_t k = 0; k < len; k++) {
            if (b[k] != '\n') {
                line++;
                continue;
            }
            /* line counts the CR: a field line is checked without its CRLF,
             * as http.c does; the start line has its own, larger limit. */
            if (lines > 0 && line > HTTP_MAX_FIELD_LINE + 1)
                return 0;
            lines++;
            line = 0;
        }
    }
    /* The start line and the empty line are not fields. */
    return lines - 2 <= HTTP_MAX_FIELDS;
}

static void
out_reset(struct http_out *o)
{
    o->n = 0;
    o->bytes = 0;
    o->used = 0;
}

/* Appends n bytes at p. Pieces that touch in memory are merged, so that a
 * run of unchanged received lines goes out as one iovec. */
static void
out_add(struct http_out *o, const char *p, size_t n)
{
    struct iovec *last = o->n > 0 ? &o->iov[o->n - 1] : NULL;

    if (n == 0)
        return;
    o->bytes += n;
    if (last != NULL && (const char *)last->iov_base + last->iov_len == p) {
        last->iov_len += n;
        return;
    }
    /* Cannot overflow: at most 4 pieces per field plus a fixed number of
     * generated lines (the static assertion at the top). */
    o->iov[o->n].iov_base = (void *)(uintptr_t)p;
    o->iov[o->n].iov_len = n;
    o->n++;
}

static void
out_lit(struct http_out *o, const char *lit)
{
    out_add(o, lit, strlen(lit));
}

/* The n received bytes at `at` when they equal lit, else lit itself: same
 * output, fewer iovecs. `at` must have n readable bytes. */
static void
out_same(struct http_out *o, const char *at, const char *lit, size_t n)
{
    out_add(o, memcmp(at, lit, n) == 0 ? at : lit, n);
}

/* "prefix" N CRLF, formatted into scratch. */
static void
out_number_line(struct http_out *o, const char *prefix, uint64_t v)
{
    char digits[20];
    size_t nd = 0, pl = strlen(prefix), i;
    char *s = o->scratch + o->used;

    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (o->used + pl + nd + 2 > sizeof(o->scratch))
        return; /* cannot happen: scratch holds far more than two lines */
    memcpy(s, prefix, pl);
    for (i = 0; i < nd; i++)
        s[pl + i] = digits[nd - 1 - i];
    memcpy(s + pl + nd, "\r\n", 2);
    o->used += pl + nd + 2;
    out_add(o, s, pl + nd + 2);
}

/* Whether a regenerated line puts a space after the colon: only when the
 * received one had whitespace there. "a:x" stays "a:x" and "a:\t x \t"
 * becomes "a: x", so a line warpd writes is never longer than the line it
 * received, and whatever fitted warpd's limits (field line, head size) fits
 * them again at the next hop that has the same ones. */
static int
field_sp(const struct http_field *f)
{
    return f->value.p != f->name.p + f->name.len + 1;
}

/* A received field name and its separator, ":" or ": " (see field_sp),
 * reusing the received bytes so that runs of unchanged lines merge into one
 * iovec. The received colon is always followed by at least the CR. */
static void
out_name(struct http_out *o, const struct http_field *f, int sp)
{
    const char *ne = f->name.p + f->name.len;

    out_add(o, f->name.p, f->name.len);
    if (sp)
        out_same(o, ne, ": ", 2);
    else
        out_add(o, ne, 1);
}

/* name ":" [SP] value CRLF for a received field. */
static void
out_field(struct http_out *o, const struct http_field *f)
{
    const char *ne = f->name.p + f->name.len, *ve = f->value.p + f->value.len;
    int sp = field_sp(f);

    /* Most lines were received as exactly that: they go on in one piece
     * (the same iovecs as piece by piece, since touching pieces merge). */
    if (f->value.p == ne + 1 + sp && (!sp || ne[1] == ' ') && ve[0] == '\r') {
        out_add(o, f->name.p, (size_t)(ve + 2 - f->name.p));
        return;
    }
    out_name(o, f, sp);
    out_add(o, f->value.p, f->value.len);
    out_same(o, ve, "\r\n", 2);
}

/* A received field name with a new value (Host from the target); "name:"
 * without a space stays so only when a value followed it directly. */
static void
out_field_value(struct http_out *o, const struct http_field *f, const char *v, size_t vn)
{
    out_name(o, f, f->value.len == 0 || field_sp(f));
    out_add(o, v, vn);
    out_lit(o, "\r\n");
}

/* A received field with a decimal value written anew (Max-Forwards minus
 * one: no more digits than received). */
static void
out_number_field(struct http_out *o, const struct http_field *f, uint64_t v)
{
    out_name(o, f, field_sp(f));
    out_number_line(o, "", v);
}

/* A new Via line at the end when the message had none to append to; "1.0"
 * or "1.1" is the version received from the sender (RFC 9110 7.6.3). */
static void
out_via(struct http_out *o, const struct http_head *h, int via)
{
    if (!via || (h->via_idx >= 0 && !h->fields[h->via_idx].hop))
        return;
    out_lit(o, h->minor == 0 ? "Via: 1.0 warpd\r\n" : "Via: 1.1 warpd\r\n");
}

/* The last Via line with this hop appended in its position. */
static void
out_via_field(struct http_out *o, const struct http_head *h, const struct http_field *f)
{
    out_name(o, f, f->value.len == 0 || field_sp(f));
    out_add(o, f->value.p, f->value.len);
    if (f->value.len > 0)
        out_lit(o, ", ");
    out_lit(o, h->minor == 0 ? "1.0 warpd\r\n" : "1.1 warpd\r\n");
}

static int
is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* The received empty line that ends the head (strict_fields guarantees the
 * layout): ending with it lets an unchanged head go out as one iovec. */
static const char *
final_crlf(const struct http_head *h, int is_request)
{
    const char *p;

    if (h->nfields > 0) {
        const struct http_field *f = &h->fields[h->nfields - 1];

        p = f->value.p + f->value.len;
        while (is_ows((unsigned char)*p))
            p++;
        return p + 2;
    }
    if (is_request)
        return h->target.p + h->target.len + 11; /* after " HTTP/1.x\r\n" */
    return h->reason.p + h->reason.len + 2;
}

static void
out_connection(struct http_out *o, int upgrade, int close)
{
    if (upgrade && close)
        out_lit(o, "Connection: upgrade, close\r\n");
    else if (upgrade)
        out_lit(o, "Connection: upgrade\r\n");
    else if (close)
        out_lit(o, "Connection: close\r\n");
}

static void
out_framing(struct http_out *o, enum body_framing body, uint64_t length)
{
    if (body == BODY_LENGTH)
        out_number_line(o, "Content-Length: ", length);
    else if (body == BODY_CHUNKED)
        out_lit(o, "Transfer-Encoding: chunked\r\n");
}

/* Received fields in order, minus hop-by-hop ones; Host and the last Via
 * are rewritten in place when asked. */
static void
out_fields(struct http_out *o, const struct http_head *h, int upgrade, const char *host,
           size_t hostlen, int via)
{
    int i;

    for (i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];

        if (f->hop || (f->id == HF_UPGRADE && !upgrade))
            continue;
        if (i == h->host_idx && host != NULL)
            out_field_value(o, f, host, hostlen);
        else if (i == h->mf_idx && h->max_forwards > 0)
            out_number_field(o, f, h->max_forwards - 1);
        else if (i == h->via_idx && via)
            out_via_field(o, h, f);
        else
            out_field(o, f);
    }
}

void
http_request_out(const struct http_head *h, const struct http_req_opts *o, struct http_out *out)
{
    const struct http_target *t = o->target;
    int absolute = t != NULL && t->form == HTTP_FORM_ABSOLUTE;
    const char *host = NULL;
    size_t hostlen = 0;

    out_reset(out);
    if (o->host_override != NULL) {
        host = o->host_override;
        hostlen = strlen(host);
    } else if (absolute) {
        host = t->authority.p;
        hostlen = t->authority.len;
    }

    /* Request line: the received method and its SP, origin-form target. */
    out_add(out, h->method_s.p, h->method_s.len + 1);
    if (!absolute) {
        out_add(out, h->target.p, h->target.len);
    } else if (t->path.len == 0) {
        /* RFC 9112 3.2.1 and 3.2.4 */
        out_lit(out, h->method == HTTP_OPTIONS ? "*" : "/");
    } else {
        if (t->path.p[0] == '?')
            out_lit(out, "/");
        out_add(out, t->path.p, t->path.len);
    }
    out_same(out, h->target.p + h->target.len, " HTTP/1.1\r\n", 11);

    if (h->host_idx < 0) {
        /* HTTP/1.0 without Host: one is required in 1.1, empty when there is
         * nothing to put in it (RFC 9112 3.2). */
        out_lit(out, "Host: ");
        out_add(out, host, hostlen);
        out_lit(out, "\r\n");
    }
    out_fields(out, h, o->upgrade, host, hostlen, o->via);
    out_framing(out, o->body_out, o->content_length);
    out_via(out, h, o->via);
    out_connection(out, o->upgrade, o->close);
    out_same(out, final_crlf(h, 1), "\r\n", 2);
}

void
http_response_out(const struct http_head *h, const struct http_resp_opts *o, struct http_out *out)
{
    char *s;
    int i;

    out_reset(out);
    s = out->scratch;
    memcpy(s, "HTTP/1.1 ", 9);
    s[9] = (char)('0' + h->status / 100);
    s[10] = (char)('0' + h->status / 10 % 10);
    s[11] = (char)('0' + h->status % 10);
    s[12] = ' ';
    out->used = 13;
    out_add(out, s, 13);
    if (h->reason.len > 0) {
        out_add(out, h->reason.p, h->reason.len);
        out_same(out, h->reason.p + h->reason.len, "\r\n", 2);
    } else {
        out_lit(out, http_reason(h->status));
        out_lit(out, "\r\n");
    }

    out_fields(out, h, o->upgrade, NULL, 0, o->via);
    if (o->keep_length) {
        /* HEAD and 304: the length the full response would have had. */
        for (i = 0; i < h->nfields; i++)
            if (h->fields[i].id == HF_CONTENT_LENGTH)
                out_number_line(out, "Content-Length: ", h->content_length);
    } else {
        out_framing(out, o->body_out, o->content_length);
    }
    out_via(out, h, o->via);
    out_connection(out, o->upgrade, o->close);
    if (o->keep_alive && !o->close && !o->upgrade)
        out_lit(out, "Connection: keep-alive\r\n");
    out_same(out, final_crlf(h, 0), "\r\n", 2);
}

/* The statuses warpd itself generates. */
/* ---- TRACE ----------------------------------------------------------- */

static int
trace_hides(const struct http_field *f)
{
    return f->id == HF_PROXY_AUTHORIZATION || http_slice_eq(f->name, "authorization") ||
           http_slice_eq(f->name, "cookie");
}

static int
put(char *dst, size_t cap, size_t *n, const char *p, size_t len)
{
    if (*n + len > cap)
        return -1;
    memcpy(dst + *n, p, len);
    *n += len;
    return 0;
}

size_t
http_trace_body(const struct http_head *h, char *dst, size_t cap)
{
    /* The request line as received: method, target and version. */
    const char *line = h->method_s.p;
    size_t n = 0, ll = (size_t)(h->target.p + h->target.len - line) + 11; /* " HTTP/1.x\r\n" */
    int i, bad = 0;

    bad |= put(dst, cap, &n, line, ll);
    for (i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];

        if (trace_hides(f))
            continue;
        bad |= put(dst, cap, &n, f->name.p, f->name.len);
        bad |= put(dst, cap, &n, ": ", 2);
        bad |= put(dst, cap, &n, f->value.p, f->value.len);
        bad |= put(dst, cap, &n, "\r\n", 2);
    }
    bad |= put(dst, cap, &n, "\r\n", 2);
    return bad ? 0 : n;
}

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {417, "Expectation Failed"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {508, "Loop Detected"},
};

const char *
http_reason(int status)
{
    const char *s;
    size_t i;

    for (i = 0; i < WD_ARRAY_SIZE(reasons); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    /* Upstream statuses with an empty reason get the registered phrase. */
    s = http_status_str((enum http_status)status);
    return s[0] == '<' ? "Unknown" : s;
}
