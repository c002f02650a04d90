/* auto shaping, the deciding half (see shape_auto.h). */
#include "shape_auto.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "auto_cache.h"
#include "metrics.h"

void
shape_auto_begin(struct shape_auto *a, const struct config *cfg, const char *key)
{
    struct auto_cache *cache = auto_cache_shared();
    char name[SHAPE_NAME_MAX];
    size_t n = key != NULL ? strlen(key) : 0;
    int first = -1, i;

    memset(a, 0, sizeof(*a));
    if (n > 0 && key[n - 1] == '.')
        n--; /* "example.com." is example.com */
    if (n > 0 && n < sizeof(a->key)) {
        for (i = 0; i < (int)n; i++)
            a->key[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
        a->key[n] = '\0';
    }
    if (cache != NULL && a->key[0] != '\0') {
        a->remembered = auto_cache_get(cache, a->key, time(NULL), name);
        if (a->remembered == AUTO_CACHE_WINNER)
            first = config_shape_lookup(cfg, name); /* -1: a strategy gone since */
    }
    if (first >= 0 && first != SHAPE_AUTO)
        a->order[a->n++] = first;
    for (i = 0; i < cfg->nshape_auto; i++)
        if (cfg->shape_auto[i] != first)
            a->order[a->n++] = cfg->shape_auto[i];
    if (a->n == 0)
        a->order[a->n++] = SHAPE_OFF;
    if (a->remembered == AUTO_CACHE_FAILED)
        a->n = 1; /* known to fail: one try, then the client gets the failure */
    metrics_auto_try(a->order[0]);
}

int
shape_auto_current(const struct shape_auto *a)
{
    return a->order[a->idx < a->n ? a->idx : a->n - 1];
}

int
shape_auto_more(const struct shape_auto *a)
{
    return a->idx + 1 < a->n;
}

int
shape_auto_next(struct shape_auto *a)
{
    if (a->idx + 1 >= a->n)
        return -1;
    a->idx++;
    metrics_auto_try(a->order[a->idx]);
    return a->order[a->idx];
}

int
shape_auto_tries(const struct shape_auto *a)
{
    return a->idx + 1;
}

static time_t
expiry(double ttl)
{
    return time(NULL) + (time_t)(ttl + 0.5);
}

void
shape_auto_passed(struct shape_auto *a, const struct config *cfg)
{
    struct auto_cache *cache = auto_cache_shared();

    metrics_auto_win(shape_auto_current(a));
    if (cache != NULL && a->key[0] != '\0')
        auto_cache_put(cache, a->key, config_shape_name(cfg, shape_auto_current(a)),
                       expiry(cfg->shape_auto_ttl));
}

void
shape_auto_failed(struct shape_auto *a, const struct config *cfg)
{
    struct auto_cache *cache = auto_cache_shared();

    if (cache != NULL && a->key[0] != '\0')
        auto_cache_put(cache, a->key, NULL, expiry(cfg->shape_auto_fail_ttl));
}

/* ---- block pages ------------------------------------------------------ */

/* The host of a Location value v[0..n): "http://host[:port]/..." or
 * "//host/..."; a relative one has none. Copies it into host[cap]. */
static int
location_host(const char *v, size_t n, char *host, size_t cap)
{
    const char *p = v, *end = v + n, *h;
    size_t len;

    if (n >= 7 && strncasecmp(p, "http://", 7) == 0)
        p += 7;
    else if (n >= 8 && strncasecmp(p, "https://", 8) == 0)
        p += 8;
    else if (n >= 2 && p[0] == '/' && p[1] == '/')
        p += 2;
    else
        return -1;
    for (h = p; p < end && *p != '/' && *p != ':' && *p != '?' && *p != '#'; p++)
        ;
    if (memchr(h, '@', (size_t)(p - h)) != NULL)
        return -1; /* userinfo: not a block page anyone sends */
    len = (size_t)(p - h);
    if (len == 0 || len >= cap)
        return -1;
    memcpy(host, h, len);
    host[len] = '\0';
    return 0;
}

int
shape_auto_block_page(const struct config *cfg, const char *d, size_t len)
{
    const char *end, *line, *eol;
    char host[256];
    int status;

    if (len < 12)
        return strncmp(d, "HTTP/1.", len < 7 ? len : 7) == 0 ? -1 : 0;
    if (strncmp(d, "HTTP/1.", 7) != 0 || d[8] != ' ')
        return 0;
    status = (d[9] - '0') * 100 + (d[10] - '0') * 10 + (d[11] - '0');
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return 0;
    end = memmem(d, len, "\r\n\r\n", 4);
    if (end == NULL)
        return -1;
    line = memchr(d, '\n', (size_t)(end + 2 - d));
    for (line = line != NULL ? line + 1 : end; line < end; line = eol + 2) {
        const char *v;

        eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        if (eol == NULL)
            break;
        if (eol - line < 9 || strncasecmp(line, "location:", 9) != 0)
            continue;
        for (v = line + 9; v < eol && (*v == ' ' || *v == '\t'); v++)
            ;
        return location_host(v, (size_t)(eol - v), host, sizeof(host)) == 0 &&
               config_block_host(cfg, host);
    }
    return 0;
}
