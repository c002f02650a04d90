/* fuzz_head: request and response heads (http.c) with two oracles. A
 * head that parses is written again by http_out.c with the options proxy.c
 * would give, and the result must parse again under the same limits into the
 * same message: method or status, target, version 1.1, framing, length, and
 * the forwarded fields in order with the rewrites the writer makes by design.
 * And http-parser, the differential oracle of http_check.c, must read every
 * head warpd accepts and acts on, received or written, the way the strict
 * pass did. http_head_end must also find the same end whether the bytes come
 * at once or in two pieces.
 *
 * Input: a flags byte (F_*), two bytes for max_header_size (1024 + value),
 * two bytes for where the head is cut in two for http_head_end, the head. */
#include <http_parser.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "http.h"

#define F_RESPONSE 0x01 /* a response head, else a request head */
#define F_METHOD   0x06 /* response: the request method answered (resp_methods) */
#define F_VIA      0x08 /* o.via */
#define F_CLOSE    0x10 /* o.close */
#define F_CLIENT10 0x20 /* response: an HTTP/1.0 client (de-chunked, no interim) */
#define F_KEEP     0x40 /* response: that client asked for keep-alive; request: upstream_host */

#define HOST_OVERRIDE "app.internal:8080"

static const int resp_methods[4] = {HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_CONNECT};

/* The fields the regenerated head must carry, in order. */
struct want {
    struct http_slice name[HTTP_MAX_FIELDS + 8];
    struct http_slice value[HTTP_MAX_FIELDS + 8];
    uint8_t anycase[HTTP_MAX_FIELDS + 8]; /* the name's letter case may differ */
    size_t kept[HTTP_MAX_FIELDS + 8];     /* received line length; 0: the writer's own */
    int n;
    char scratch[HTTP_MAX_FIELD_LINE + 256]; /* values the writer makes up */
    size_t used;
};

static void
want_add(struct want *w, const char *name, size_t nl, const char *value, size_t vl)
{
    FUZZ_CHECK(w->n < (int)WD_ARRAY_SIZE(w->name), "too many expected fields");
    w->name[w->n] = (struct http_slice){name, (uint32_t)nl};
    w->value[w->n] = (struct http_slice){value, (uint32_t)vl};
    w->anycase[w->n] = 0;
    w->kept[w->n] = 0;
    w->n++;
}

static void
want_lit(struct want *w, const char *name, const char *value)
{
    want_add(w, name, strlen(name), value, strlen(value));
}

/* Copies pieces into scratch and returns where they start. */
static char *
want_keep(struct want *w, const char *p, size_t n)
{
    char *s = w->scratch + w->used;

    FUZZ_CHECK(w->used + n <= sizeof(w->scratch), "scratch full");
    memcpy(s, p, n);
    w->used += n;
    return s;
}

static void
want_number(struct want *w, const char *name, uint64_t v)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);

    want_add(w, name, strlen(name), want_keep(w, digits, (size_t)n), (size_t)n);
}

/* The received fields as the writer passes them on (out_fields). */
static void
want_fields(struct want *w, const struct http_head *h, int upgrade, const char *host,
            size_t hostlen, int via)
{
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];

        if (f->hop || (f->id == HF_UPGRADE && !upgrade))
            continue;
        if (i == h->host_idx && host != NULL) {
            want_add(w, f->name.p, f->name.len, host, hostlen);
        } else if (i == h->mf_idx && h->max_forwards > 0) {
            /* Written as "Max-Forwards" or in the received spelling. */
            want_number(w, "Max-Forwards", h->max_forwards - 1);
            w->anycase[w->n - 1] = 1;
        } else if (i == h->via_idx && via) {
            const char *me = h->minor == 0 ? "1.0 warpd" : "1.1 warpd";
            char *v = want_keep(w, f->value.p, f->value.len);

            if (f->value.len > 0)
                want_keep(w, ", ", 2);
            want_keep(w, me, strlen(me));
            want_add(w, f->name.p, f->name.len, v, (size_t)(w->scratch + w->used - v));
        } else {
            const char *e = f->value.p + f->value.len;

            want_add(w, f->name.p, f->name.len, f->value.p, f->value.len);
            while (*e == ' ' || *e == '\t')
                e++;
            w->kept[w->n - 1] = (size_t)(e + 2 - f->name.p);
        }
    }
}

/* What the writer appends after the received fields. */
static void
want_tail(struct want *w, const struct http_head *h, int via, int upgrade, int close)
{
    if (via && !(h->via_idx >= 0 && !h->fields[h->via_idx].hop))
        want_lit(w, "Via", h->minor == 0 ? "1.0 warpd" : "1.1 warpd");
    if (upgrade || close)
        want_lit(w, "Connection",
                 upgrade && close ? "upgrade, close"
                 : upgrade        ? "upgrade"
                                  : "close");
}

static void
want_framing(struct want *w, enum body_framing body, uint64_t length)
{
    if (body == BODY_LENGTH)
        want_number(w, "Content-Length", length);
    else if (body == BODY_CHUNKED)
        want_lit(w, "Transfer-Encoding", "chunked");
}

static int
slice_same(struct http_slice a, struct http_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* The regenerated head in one block of exactly its size. */
static char *
flatten(const struct http_out *out)
{
    char *p = malloc(out->bytes > 0 ? out->bytes : 1);
    size_t n = 0;

    FUZZ_CHECK(p != NULL, "out of memory");
    for (int i = 0; i < out->n; i++) {
        memcpy(p + n, out->iov[i].iov_base, out->iov[i].iov_len);
        n += out->iov[i].iov_len;
    }
    FUZZ_CHECK(n == out->bytes, "iovecs hold %zu bytes, out.bytes says %zu", n, out->bytes);
    return p;
}

/* The differential oracle: http-parser must read a head the strict pass
 * accepted the same way (http_check.c). A request whose target warpd refuses
 * is answered, never forwarded, so only the heads it acts on are compared. */
static void
check_oracle(const char *buf, const struct http_head *h, int is_request, int req_method,
             const char *what)
{
    struct http_target t;
    const char *why = NULL;

    if (is_request && http_parse_target(h, &t) != 0)
        return;
    FUZZ_CHECK(
        http_check_agrees(buf, h, is_request ? HTTP_REQUEST : HTTP_RESPONSE, req_method, &why),
        "http-parser reads the %s head otherwise: %s", what, why);
}

/* Re-reads the regenerated head, after checking its lines against the
 * expected fields. A field passed on unchanged is never written longer than
 * it was received (issue 9 section 2.1: "a:x" must not grow), so the only
 * growth is what the writer adds by design (Via, framing, Connection, a Host
 * for HTTP/1.0). Those can push a head past the field count, a field line
 * or max_header_size: http_out_fits must say so exactly then (the proxy
 * answers 431/502 instead of forwarding), and a head it lets through must
 * parse again under the very same limits. Returns the copy the slices of h2
 * point into (the caller frees it), or NULL for a head that does not fit. */
static char *
reparse(const struct http_out *out, size_t max, int is_request, int req_method,
        const struct want *w, int nfields_in, struct http_head *h2)
{
    char *p = flatten(out);
    size_t scanned = 0, added = 0, pos = 0, k = 0;
    int over = w->n > HTTP_MAX_FIELDS;
    long end;
    int st;

    while (pos < out->bytes) {
        const char *cr = memchr(p + pos, '\r', out->bytes - pos);
        size_t len;

        FUZZ_CHECK(cr != NULL && cr + 1 < p + out->bytes && cr[1] == '\n',
                   "regenerated head: line %zu without CRLF", k);
        len = (size_t)(cr - (p + pos)) + 2;
        if (k >= 1 && k <= (size_t)w->n) {
            size_t kept = w->kept[k - 1];

            FUZZ_CHECK(kept == 0 || len <= kept, "field '%.*s' grew from %zu to %zu bytes",
                       (int)w->name[k - 1].len, w->name[k - 1].p, kept, len);
            if (kept == 0) {
                added += len;
                over |= len - 2 > HTTP_MAX_FIELD_LINE;
            }
        }
        pos += len;
        k++;
    }
    FUZZ_CHECK(k == (size_t)w->n + 2, "regenerated head has %zu lines, %d fields expected", k,
               w->n);
    over |= out->bytes > max;
    FUZZ_CHECK(http_out_fits(out, nfields_in, max) == !over,
               "http_out_fits says %d for a head of %zu bytes (max %zu, %zu added), %d fields",
               !over ? 0 : 1, out->bytes, max, added, w->n);
    if (over) {
        free(p);
        return NULL;
    }
    end = http_head_end(p, out->bytes, max, is_request, &scanned);
    FUZZ_CHECK(end == (long)out->bytes, "regenerated head (%zu bytes, max %zu, %zu added): end %ld",
               out->bytes, max, added, end);
    st = is_request ? http_parse_request(p, out->bytes, h2)
                    : http_parse_response(p, out->bytes, req_method, h2);
    FUZZ_CHECK(st == 0, "regenerated head (%zu bytes) refused with %d", out->bytes, st);
    check_oracle(p, h2, is_request, req_method, "regenerated");
    return p;
}

/* The fields of the re-parsed head against the expected list, then the
 * hop-by-hop marks: a field passed on must be passed on by the next hop too
 * (except one named Close once "Connection: close" is added: RFC 9110 7.6.1
 * reserves that name for this reason). */
static void
check_fields(const struct want *w, const struct http_head *h2)
{
    FUZZ_CHECK(h2->nfields == w->n, "%d fields after the round trip, %d expected", h2->nfields,
               w->n);
    for (int i = 0; i < w->n; i++) {
        const struct http_field *f = &h2->fields[i];

        FUZZ_CHECK(w->anycase[i] ? f->name.len == w->name[i].len &&
                                       strncasecmp(f->name.p, w->name[i].p, f->name.len) == 0
                                 : slice_same(f->name, w->name[i]),
                   "field %d: name '%.*s', expected '%.*s'", i, (int)f->name.len, f->name.p,
                   (int)w->name[i].len, w->name[i].p);
        FUZZ_CHECK(slice_same(f->value, w->value[i]),
                   "field %d (%.*s): value '%.*s', expected '%.*s'", i, (int)f->name.len, f->name.p,
                   (int)f->value.len, f->value.p, (int)w->value[i].len, w->value[i].p);
        FUZZ_CHECK(!f->hop || f->id == HF_CONNECTION || f->id == HF_CONTENT_LENGTH ||
                       f->id == HF_TRANSFER_ENCODING || http_slice_eq(f->name, "close"),
                   "field %d (%.*s) is hop-by-hop after the round trip", i, (int)f->name.len,
                   f->name.p);
    }
}

static void
request_round_trip(const struct http_head *h, unsigned flags, size_t max)
{
    struct http_target t, t2;
    struct http_req_opts o;
    struct http_head *h2 = malloc(sizeof(*h2));
    struct http_out *out = malloc(sizeof(*out));
    struct want *w = malloc(sizeof(*w));
    const char *host = NULL, *path;
    size_t hostlen = 0, pathlen;
    char *p = NULL;

    FUZZ_CHECK(h2 != NULL && out != NULL && w != NULL, "out of memory");
    /* proxy.c answers the head itself when the target does not parse, and
     * tunnels CONNECT without writing a head. */
    if (http_parse_target(h, &t) != 0 || h->method == HTTP_CONNECT)
        goto done;
    memset(&o, 0, sizeof(o));
    o.target = &t;
    o.host_override = (flags & F_KEEP) ? HOST_OVERRIDE : NULL;
    o.body_out = h->body;
    o.content_length = h->content_length;
    o.via = (flags & F_VIA) != 0;
    o.upgrade = h->upgrade;
    o.close = (flags & F_CLOSE) != 0;
    http_request_out(h, &o, out);

    /* The fields expected. */
    w->n = 0;
    w->used = 0;
    if (o.host_override != NULL) {
        host = o.host_override;
        hostlen = strlen(host);
    } else if (t.form == HTTP_FORM_ABSOLUTE) {
        host = t.authority.p;
        hostlen = t.authority.len;
    }
    if (h->host_idx < 0)
        want_add(w, "Host", 4, host != NULL ? host : "", hostlen);
    want_fields(w, h, o.upgrade, host, hostlen, o.via);
    want_framing(w, o.body_out, o.content_length);
    want_tail(w, h, o.via, o.upgrade, o.close);
    p = reparse(out, max, 1, -1, w, h->nfields, h2);
    if (p == NULL)
        goto done;

    /* The request line: same method, origin-form target, HTTP/1.1. */
    path = h->target.p;
    pathlen = h->target.len;
    if (t.form == HTTP_FORM_ABSOLUTE) {
        path = t.path.p;
        pathlen = t.path.len;
        if (pathlen == 0) {
            path = h->method == HTTP_OPTIONS ? "*" : "/";
            pathlen = 1;
        }
    }
    FUZZ_CHECK(h2->method == h->method && slice_same(h2->method_s, h->method_s), "method changed");
    FUZZ_CHECK(h2->major == 1 && h2->minor == 1, "version %d.%d written", h2->major, h2->minor);
    if (pathlen > 0 && path[0] == '?')
        FUZZ_CHECK(h2->target.len == pathlen + 1 && h2->target.p[0] == '/' &&
                       memcmp(h2->target.p + 1, path, pathlen) == 0,
                   "target '%.*s' written as '%.*s'", (int)h->target.len, h->target.p,
                   (int)h2->target.len, h2->target.p);
    else
        FUZZ_CHECK(slice_same(h2->target, (struct http_slice){path, (uint32_t)pathlen}),
                   "target '%.*s' written as '%.*s'", (int)h->target.len, h->target.p,
                   (int)h2->target.len, h2->target.p);
    FUZZ_CHECK(http_parse_target(h2, &t2) == 0, "written target refused");
    FUZZ_CHECK(t2.form != HTTP_FORM_ABSOLUTE, "written target is absolute-form");

    /* Framing and connection. */
    FUZZ_CHECK(h2->body == h->body, "framing %d written as %d", h->body, h2->body);
    FUZZ_CHECK(h2->body != BODY_LENGTH || h2->content_length == h->content_length,
               "Content-Length %llu written as %llu", (unsigned long long)h->content_length,
               (unsigned long long)h2->content_length);
    FUZZ_CHECK(h2->upgrade == h->upgrade, "upgrade %d written as %d", h->upgrade, h2->upgrade);
    FUZZ_CHECK(h2->close == (unsigned)o.close, "close %d written as %d", o.close, h2->close);
    FUZZ_CHECK(h2->host_idx >= 0, "no Host written");

    check_fields(w, h2);
done:
    free(p);
    free(w);
    free(out);
    free(h2);
}

static void
response_round_trip(const struct http_head *h, unsigned flags, size_t max, int req_method)
{
    struct http_resp_opts o;
    struct http_head *h2 = malloc(sizeof(*h2));
    struct http_out *out = malloc(sizeof(*out));
    struct want *w = malloc(sizeof(*w));
    int client10 = (flags & F_CLIENT10) != 0;
    const char *reason;
    char *p = NULL;

    FUZZ_CHECK(h2 != NULL && out != NULL && w != NULL, "out of memory");
    /* The options as px_response_head chooses them. */
    memset(&o, 0, sizeof(o));
    o.via = (flags & F_VIA) != 0;
    if (h->status == 101) {
        o.upgrade = 1;
        o.body_out = BODY_NONE;
    } else if (h->status >= 100 && h->status < 200) {
        o.body_out = BODY_NONE;
    } else {
        if (h->te_coded)
            goto done; /* answered 502 */
        if (h->body == BODY_NONE)
            o.body_out = BODY_NONE;
        else if (h->body == BODY_LENGTH)
            o.body_out = BODY_LENGTH;
        else
            o.body_out = client10 ? BODY_CLOSE : BODY_CHUNKED;
        o.content_length = h->content_length;
        o.keep_length = h->body == BODY_NONE && (req_method == HTTP_HEAD || h->status == 304);
        o.close = (flags & F_CLOSE) != 0 || o.body_out == BODY_CLOSE;
        o.keep_alive = !o.close && client10 && (flags & F_KEEP) != 0;
    }
    http_response_out(h, &o, out);
    w->n = 0;
    w->used = 0;
    want_fields(w, h, o.upgrade, NULL, 0, o.via);
    if (o.keep_length) {
        for (int i = 0; i < h->nfields; i++)
            if (h->fields[i].id == HF_CONTENT_LENGTH)
                want_number(w, "Content-Length", h->content_length);
    } else {
        want_framing(w, o.body_out, o.content_length);
    }
    want_tail(w, h, o.via, o.upgrade, o.close);
    if (o.keep_alive && !o.close && !o.upgrade)
        want_lit(w, "Connection", "keep-alive");
    p = reparse(out, max, 0, req_method, w, h->nfields, h2);
    if (p == NULL)
        goto done;

    reason = h->reason.len > 0 ? NULL : http_reason(h->status);
    FUZZ_CHECK(h2->status == h->status, "status %d written as %d", h->status, h2->status);
    FUZZ_CHECK(h2->major == 1 && h2->minor == 1, "version %d.%d written", h2->major, h2->minor);
    FUZZ_CHECK(reason != NULL
                   ? slice_same(h2->reason, (struct http_slice){reason, (uint32_t)strlen(reason)})
                   : slice_same(h2->reason, h->reason),
               "reason '%.*s' written as '%.*s'", (int)h->reason.len, h->reason.p,
               (int)h2->reason.len, h2->reason.p);
    FUZZ_CHECK(h2->body == o.body_out, "framing %d (sent as %d) read back as %d", h->body,
               o.body_out, h2->body);
    if (o.body_out == BODY_LENGTH || o.keep_length)
        FUZZ_CHECK(h2->content_length == h->content_length, "Content-Length %llu written as %llu",
                   (unsigned long long)h->content_length, (unsigned long long)h2->content_length);
    FUZZ_CHECK(h2->close == (unsigned)(o.close || o.body_out == BODY_CLOSE),
               "close read back as %d", h2->close);
    FUZZ_CHECK(h2->upgrade == (h->status == 101), "upgrade read back as %d", h2->upgrade);
    FUZZ_CHECK(!h2->te_coded, "a transfer coding written");

    check_fields(w, h2);
done:
    free(p);
    free(w);
    free(out);
    free(h2);
}

/* TRACE reflects the head; the documented room must always be enough. */
static void
check_trace(const struct http_head *h)
{
    size_t cap = h->head_len + (size_t)h->nfields + 2;
    char *dst = malloc(cap);

    FUZZ_CHECK(dst != NULL, "out of memory");
    FUZZ_CHECK(http_trace_body(h, dst, cap) > 0, "TRACE body does not fit in %zu bytes", cap);
    free(dst);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned flags;
    size_t max, cut, n, scanned = 0, scanned2 = 0;
    int is_request, req_method, st;
    long end, end2;
    struct http_head *h;
    char *buf;

    if (size < 5)
        return 0;
    flags = data[0];
    max = 1024 + ((size_t)data[1] << 8 | data[2]);
    cut = (size_t)data[3] << 8 | data[4];
    data += 5;
    n = size - 5;
    cut = n > 0 ? cut % n : 0;
    is_request = !(flags & F_RESPONSE);
    req_method = resp_methods[(flags & F_METHOD) >> 1];

    /* The end of the head, at once and in two pieces. */
    buf = fuzz_dup(data, n);
    end = http_head_end(buf, n, max, is_request, &scanned);
    end2 = http_head_end(buf, cut, max, is_request, &scanned2);
    if (end2 == 0)
        end2 = http_head_end(buf, n, max, is_request, &scanned2);
    FUZZ_CHECK(end == end2, "head end %ld at once, %ld when cut at %zu", end, end2, cut);
    FUZZ_CHECK(end <= (long)n && end <= (long)max, "head end %ld past the data or the limit", end);
    free(buf);
    if (end <= 0)
        return 0;

    /* The head alone, so that reading past it is caught. */
    buf = fuzz_dup(data, (size_t)end);
    h = malloc(sizeof(*h));
    FUZZ_CHECK(h != NULL, "out of memory");
    st = is_request ? http_parse_request(buf, (size_t)end, h)
                    : http_parse_response(buf, (size_t)end, req_method, h);
    if (st == 0) {
        FUZZ_CHECK(h->head_len == (size_t)end, "head_len %zu, head end %ld", h->head_len, end);
        check_oracle(buf, h, is_request, req_method, "received");
        (void)http_via_names(h, "warpd");
        if (is_request) {
            if (h->method == HTTP_TRACE)
                check_trace(h);
            request_round_trip(h, flags, max);
        } else {
            response_round_trip(h, flags, max, req_method);
        }
    } else {
        FUZZ_CHECK(is_request ? (st == 400 || st == 414 || st == 431 || st == 501 || st == 505)
                              : st == 502,
                   "parse returned %d", st);
    }
    free(h);
    free(buf);
    return 0;
}
