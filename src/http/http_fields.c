/* What the fields of a head mean (RFC 9110/9112): field names warpd acts on,
 * the framing and connection fields read as lists, which fields are
 * hop-by-hop, and the small field questions asked from outside (a word in
 * Via, a name compared ignoring case). No sockets, no allocation. */
#include <string.h>
#include <strings.h>

#include "http_parse_int.h"

int
http_slice_eq(struct http_slice s, const char *lowerword)
{
    return caseeq(s.p, s.len, lowerword);
}

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

static void
fsem_te(struct http_fsem *s, struct http_slice v)
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
fsem_connection(struct http_fsem *s, struct http_slice v)
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
fsem_upgrade(struct http_fsem *s, struct http_slice v)
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

void
http_fields_collect(struct http_head *h, struct http_fsem *s)
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
void
http_fields_mark_hop(struct http_head *h, const struct http_fsem *s)
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
