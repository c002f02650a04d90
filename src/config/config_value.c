/* The value helpers every part of the configuration shares: the error
 * message shapes, strict numbers and durations, and the setters of plain
 * values (integers in bounds, keywords, durations, sizes, paths) that many
 * rows of the directive table in config.c use with their own field and
 * bounds. Nothing here knows which directives exist. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_int.h"

#define DAY_SECONDS 86400.0

/* Enumerated fields are set through an int pointer by cfg_set_keyword. */
_Static_assert(sizeof(enum cfg_mode) == sizeof(int), "enum cfg_mode is not int-sized");
_Static_assert(sizeof(enum cfg_shape) == sizeof(int), "enum cfg_shape is not int-sized");

#define KIB           1024L
#define HEAD_SIZE_MIN (1 * KIB)    /* max_header_size bounds */
#define HEAD_SIZE_MAX (1024 * KIB) /* 1 MiB */

/* Writes "expected ..., got 'v'" with v quoted safely (capped, escaped). */
int
cfg_failv(char *err, size_t errlen, const char *what, const char *v)
{
    char q[ADDR_QUOTELEN];

    addr_quote(v, q, sizeof(q));
    snprintf(err, errlen, "%s, got '%s'", what, q);
    return -1;
}

int
cfg_fail_unknown(char *err, size_t errlen, const char *name)
{
    char q[ADDR_QUOTELEN];

    addr_quote(name, q, sizeof(q));
    snprintf(err, errlen, "unknown directive '%s'", q);
    return -1;
}

/* Parses a plain decimal number in [min, max]: no sign, no spaces, no hex. */
int
cfg_parse_long(const char *s, long min, long max, long *out)
{
    long v = 0;
    const char *p;

    if (*s == '\0')
        return -1;
    for (p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v <= max)
            v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
config_parse_duration(const char *s, double *out)
{
    double v = 0, frac = 0, scale = 1, mult;
    const char *p = s;
    int digits = 0, fdigits = 0;

    /* Long inputs are refused outright, so the arithmetic below stays exact enough. */
    if (s == NULL || strlen(s) > 32)
        return -1;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        v = v * 10 + (*p - '0');
    if (digits == 0)
        return -1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
            if (fdigits < 9) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }
        }
        if (fdigits == 0)
            return -1;
    }
    if (*p == '\0' || strcmp(p, "s") == 0)
        mult = 1;
    else if (strcmp(p, "ms") == 0)
        mult = 0.001;
    else if (strcmp(p, "m") == 0)
        mult = 60;
    else if (strcmp(p, "h") == 0)
        mult = 3600;
    else
        return -1;
    *out = (v + frac / scale) * mult;
    return 0;
}

const struct directive *
cfg_lookup(const struct directive *table, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

int
cfg_set_int(struct config *c, const struct directive *d, const char *v, int line, char *err,
            size_t errlen)
{
    char what[64];
    long n;

    if (cfg_parse_long(v, d->min, d->max, &n) < 0) {
        snprintf(what, sizeof(what), "expected %ld-%ld", d->min, d->max);
        return cfg_failv(err, errlen, what, v);
    }
    *(int *)((char *)c + d->off) = (int)n;
    return 0;
}

int
cfg_set_keyword(struct config *c, const struct directive *d, const char *v, int line, char *err,
                size_t errlen)
{
    char what[128];
    size_t n = 0, i, count = 0;

    for (i = 0; d->kw[i].name != NULL; i++) {
        if (strcmp(v, d->kw[i].name) == 0) {
            *(int *)((char *)c + d->off) = d->kw[i].value;
            return 0;
        }
        count++;
    }
    /* "expected a, b or c" built from the table so the message never drifts. */
    n = (size_t)snprintf(what, sizeof(what), "expected");
    for (i = 0; i < count && n < sizeof(what); i++)
        n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s",
                              i == 0 ? " " : (i + 1 == count ? " or " : ", "), d->kw[i].name);
    return cfg_failv(err, errlen, what, v);
}

int
cfg_set_duration(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen)
{
    double t;

    if (config_parse_duration(v, &t) < 0)
        return cfg_failv(err, errlen, "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h",
                         v);
    if ((d->arg & DUR_ZERO_OK) && !(t >= 0 && t <= DAY_SECONDS))
        return cfg_failv(err, errlen, "expected a duration from 0 to 1 day", v);
    if (!(d->arg & DUR_ZERO_OK) && (!(t > 0) || t > DAY_SECONDS))
        return cfg_failv(err, errlen, "expected a duration more than 0 and at most 1 day", v);
    *(double *)((char *)c + d->off) = t;
    return 0;
}

/* A head size: plain bytes, or KiB with a k/K suffix ("64k"). No other units:
 * heads are small, and "m" would read as minutes next to the durations. */
int
cfg_set_size(struct config *c, const struct directive *d, const char *v, int line, char *err,
             size_t errlen)
{
    char digits[16];
    size_t n = strlen(v);
    long x = 0;
    int rc;

    if (n > 0 && (v[n - 1] == 'k' || v[n - 1] == 'K')) {
        if (n - 1 >= sizeof(digits))
            rc = -1;
        else {
            memcpy(digits, v, n - 1);
            digits[n - 1] = '\0';
            rc = cfg_parse_long(digits, HEAD_SIZE_MIN / KIB, HEAD_SIZE_MAX / KIB, &x);
            x *= KIB;
        }
    } else {
        rc = cfg_parse_long(v, HEAD_SIZE_MIN, HEAD_SIZE_MAX, &x);
    }
    if (rc < 0)
        return cfg_failv(err, errlen, "expected a size of 1024-1048576 bytes or 1k-1024k", v);
    *(size_t *)((char *)c + d->off) = (size_t)x;
    return 0;
}

int
cfg_set_path(struct config *c, const struct directive *d, const char *v, int line, char *err,
             size_t errlen)
{
    char *field = (char *)c + d->off;
    const char *what;

    if ((d->arg & PATH_STDERR) && strcmp(v, "stderr") == 0) {
        strcpy(field, "stderr");
        return 0;
    }
    if ((d->arg & (PATH_OFF_KEEP | PATH_OFF_EMPTY)) && strcmp(v, "off") == 0) {
        strcpy(field, (d->arg & PATH_OFF_KEEP) ? "off" : "");
        return 0;
    }
    /* Relative paths would depend on the working directory of a daemon. */
    if (v[0] != '/') {
        if ((d->arg & PATH_STDERR) && (d->arg & PATH_OFF_KEEP))
            what = "expected 'off', 'stderr' or an absolute path";
        else if (d->arg & PATH_STDERR)
            what = "expected 'stderr' or an absolute path";
        else
            what = "expected 'off' or an absolute path";
        return cfg_failv(err, errlen, what, v);
    }
    if (strlen(v) >= CFG_PATHMAX) {
        snprintf(err, errlen, "path too long (at most %d bytes)", CFG_PATHMAX - 1);
        return -1;
    }
    strcpy(field, v);
    return 0;
}
