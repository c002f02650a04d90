/* http-parser run as a second opinion over a head the strict pass of http.c
 * accepted: it must deliver the same request or status line and the same
 * fields at the same offsets, and its framing is compared by the caller.
 * A worker remembers its last few verdicts, so a head repeated byte for
 * byte is not parsed again. No sockets, no allocation. */
#include <http_parser.h>
#include <string.h>

#include "http_parse_int.h"

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

static void
pview_parse(const char *buf, struct http_head *h, enum http_parser_type type, int req_method,
            struct http_check *v)
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
    struct http_check v;
    char bytes[PVIEW_MEMO_HEAD];
};

static struct pview_memo pview_memo[2][PVIEW_MEMO_WAYS];
static unsigned pview_memo_next[2];
static unsigned long pview_parses;

void
http_check_run(const char *buf, struct http_head *h, enum http_parser_type type, int req_method,
               struct http_check *v)
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
