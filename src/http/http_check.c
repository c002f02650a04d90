/* http-parser as a differential oracle for the strict pass of http.c, used by
 * the unit tests and the fuzzers, never by the daemon: over a head the strict
 * pass accepted, http-parser must deliver the same request or status line and
 * the same fields at the same offsets, and frame the message the same way.
 * Two parsers that read one message differently are what smuggling feeds on,
 * so any disagreement is a bug to look at. No sockets; one copy of the head
 * per call (test code, not the hot path). */
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse_int.h"

/* What the callbacks collect while http-parser walks the head, compared with
 * h as the elements arrive, by offset: http-parser reads a copy. */
struct pctx {
    const struct http_head *h;
    const char *orig; /* the head h points into */
    const char *copy; /* the copy http-parser reads (see hide_te_prefix) */
    int k;            /* field being delivered, -1 before the first */
    int in_value;     /* the last callback for field k was a value */
    int bad;          /* a field came at another offset or in another shape */
    const char *np;   /* name and value of field k as the parser sees them */
    size_t nl;
    const char *vp;
    size_t vl;
    const char *up; /* request-target or reason phrase */
    size_t ul;
    int req_method; /* responses: the method of the request answered */
};

/* Whether p, in the copy, is at the offset q has in the original head. */
static int
same_at(const struct pctx *c, const char *p, const char *q)
{
    return (size_t)(p - c->copy) == (size_t)(q - c->orig);
}

static int
pctx_field_done(struct pctx *c)
{
    const struct http_field *f;
    size_t i;

    if (c->k < 0)
        return 0;
    f = &c->h->fields[c->k];
    if (!same_at(c, c->np, f->name.p) || c->nl != f->name.len)
        return -1;
    if (f->value.len > 0 &&
        (c->vp == NULL || !same_at(c, c->vp, f->value.p) || c->vl < f->value.len))
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
        return c->bad = -1;
    c->ul += n;
    return 0;
}

static int
pcb_field(http_parser *p, const char *at, size_t n)
{
    struct pctx *c = p->data;

    if (c->k < 0 || c->in_value) {
        if (pctx_field_done(c) != 0 || c->k + 1 >= c->h->nfields)
            return c->bad = -1;
        c->k++;
        c->np = at;
        c->nl = 0;
        c->vp = NULL;
        c->vl = 0;
        c->in_value = 0;
    }
    if (c->np + c->nl != at)
        return c->bad = -1;
    c->nl += n;
    return 0;
}

static int
pcb_value(http_parser *p, const char *at, size_t n)
{
    struct pctx *c = p->data;

    if (c->k < 0)
        return c->bad = -1;
    if (!c->in_value) {
        c->in_value = 1;
        c->vp = at;
        c->vl = 0;
    } else if (c->vp + c->vl != at) {
        return c->bad = -1;
    }
    c->vl += n;
    return 0;
}

/* Bodies are framed by body.c, never by http-parser, so the parser is told
 * to skip them; for responses the return values follow the reference: 1 for
 * HEAD, 1xx (not 101), 204 and 304, 2 for a 2xx to CONNECT (a tunnel). */
static int
pcb_headers_complete(http_parser *p)
{
    struct pctx *c = p->data;
    int st = (int)p->status_code;

    if (pctx_field_done(c) != 0 || c->k + 1 != c->h->nfields)
        return c->bad = -1;
    if (p->type == HTTP_REQUEST)
        return 1;
    if (c->req_method == HTTP_HEAD || (st >= 100 && st < 200 && st != 101) || st == 204 ||
        st == 304)
        return 1;
    if (c->req_method == HTTP_CONNECT && st >= 200 && st < 300)
        return 2;
    return 0;
}

static const http_parser_settings check_settings = {
    .on_url = pcb_text,
    .on_status = pcb_text,
    .on_header_field = pcb_field,
    .on_header_value = pcb_value,
    .on_headers_complete = pcb_headers_complete,
};

/* The framing fields of h as the strict pass read them: whether there is a
 * Content-Length (and its value: the strict pass let only one through, of
 * digits that fit) and a Transfer-Encoding whose final coding is chunked. */
static void
strict_framing(const struct http_head *h, int *has_cl, uint64_t *cl, int *chunked)
{
    *has_cl = *chunked = 0;
    *cl = 0;
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];
        const char *last;

        if (f->id == HF_CONTENT_LENGTH) {
            *has_cl = 1;
            for (uint32_t j = 0; j < f->value.len; j++)
                *cl = *cl * 10 + (uint64_t)(f->value.p[j] - '0');
        } else if (f->id == HF_TRANSFER_ENCODING) {
            /* The last element of the last line decides. */
            last = f->value.p + f->value.len;
            while (last > f->value.p && last[-1] != ',')
                last--;
            while (last < f->value.p + f->value.len && is_ows((unsigned char)*last))
                last++;
            *chunked = caseeq(last, (size_t)(f->value.p + f->value.len - last), "chunked");
        }
    }
}

/* http-parser takes any field name that begins with "Transfer-Encoding"
 * for one as soon as those 17 letters are read, longer names included
 * ("Transfer-Encodingx", "Transfer-Encoding%"), and then refuses a
 * Content-Length beside it. Those are other fields, valid ones, and warpd
 * passes them on as such; so that this known error of http-parser's does not
 * hide real disagreements, the copy it reads has their first letter changed
 * (same length, same offsets; no field warpd acts on begins with 'x'). */
static void
hide_te_prefix(char *copy, const char *orig, const struct http_head *h)
{
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];

        if (f->name.len > 17 && caseeq(f->name.p, 17, "transfer-encoding"))
            copy[f->name.p - orig] = 'x';
    }
}

int
http_check_agrees(const char *buf, const struct http_head *h, int type, int req_method,
                  const char **why)
{
    http_parser p;
    struct pctx c = {.h = h, .orig = buf, .k = -1, .req_method = req_method};
    int has_cl, chunked, ok = 0;
    uint64_t cl;
    const char *dummy;
    char *copy = malloc(h->head_len > 0 ? h->head_len : 1);
    size_t n;

    if (why == NULL)
        why = &dummy;
    if (copy == NULL) {
        *why = "out of memory";
        return 0;
    }
    memcpy(copy, buf, h->head_len);
    hide_te_prefix(copy, buf, h);
    c.copy = copy;
    /* The only size limit is warpd's own (max_header_size, applied before
     * the strict pass); http-parser's default of 80 KiB is not one. */
    http_parser_set_max_header_size(UINT32_MAX);
    http_parser_init(&p, type == HTTP_RESPONSE ? HTTP_RESPONSE : HTTP_REQUEST);
    p.data = &c;
    n = http_parser_execute(&p, &check_settings, copy, h->head_len);
    strict_framing(h, &has_cl, &cl, &chunked);
    if (c.bad)
        *why = "a field, the target or the reason at another offset or length";
    else if (HTTP_PARSER_ERRNO(&p) != HPE_OK)
        *why = http_errno_description(HTTP_PARSER_ERRNO(&p));
    else if (n != h->head_len)
        *why = "the head ends elsewhere";
    else if (p.http_major != h->major || p.http_minor != h->minor)
        *why = "another version";
    else if (type == HTTP_REQUEST && ((int)p.method != h->method || c.up == NULL ||
                                      !same_at(&c, c.up, h->target.p) || c.ul != h->target.len))
        *why = "another method or request-target";
    else if (type != HTTP_REQUEST && ((int)p.status_code != h->status || c.ul != h->reason.len ||
                                      (c.ul > 0 && !same_at(&c, c.up, h->reason.p))))
        *why = "another status or reason phrase";
    else if (!(p.flags & F_CHUNKED) != !chunked || !(p.flags & F_CONTENTLENGTH) != !has_cl ||
             (has_cl && p.content_length != cl))
        *why = "other framing (Content-Length or chunked)";
    else
        ok = 1;
    if (ok)
        *why = NULL;
    free(copy);
    return ok;
}
