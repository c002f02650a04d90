/* The position language and the step words of strategies (shape_step.h):
 * strict parsers with short errors that name the problem, formatters that
 * spell a step as the configuration does (parse, format, parse gives the same
 * step), and the resolver that finds the markers of a flight (an HTTP head or
 * a TLS ClientHello) and turns a position into a byte offset. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shape.h"
#include "shape_step.h"

#define QUOTE_MAX 40 /* characters of the text quoted in an error */

static const struct {
    const char *name;
    int8_t mark;
} mark_names[] = {
    {"host", SHAPE_MARK_HOST}, {"sni", SHAPE_MARK_HOST},      {"endhost", SHAPE_MARK_ENDHOST},
    {"sld", SHAPE_MARK_SLD},   {"midsld", SHAPE_MARK_MIDSLD}, {"method", SHAPE_MARK_METHOD},
    {"eoh", SHAPE_MARK_EOH},
};

/* What a step's argument is. */
enum arg_kind { ARG_NONE, ARG_POS, ARG_BYTE, ARG_PAD };

static const struct {
    const char *name;
    uint8_t kind;
    uint8_t arg; /* enum arg_kind */
} step_names[] = {
    {"split", STEP_SPLIT, ARG_POS},
    {"disorder", STEP_DISORDER, ARG_POS},
    {"fake", STEP_FAKE, ARG_POS},
    {"oob", STEP_OOB, ARG_POS},
    {"disoob", STEP_DISOOB, ARG_POS},
    {"tlsrec", STEP_TLSREC, ARG_POS},
    {"tlsminor", STEP_TLSMINOR, ARG_BYTE},
    {"hostcase", STEP_HOSTCASE, ARG_NONE},
    {"domcase", STEP_DOMCASE, ARG_NONE},
    {"hostdot", STEP_HOSTDOT, ARG_NONE},
    {"hosttab", STEP_HOSTTAB, ARG_NONE},
    {"nospace", STEP_NOSPACE, ARG_NONE},
    {"methodspace", STEP_METHODSPACE, ARG_NONE},
    {"pad", STEP_PAD, ARG_PAD},
    {"warp", STEP_WARP, ARG_NONE},
};

#define NMARKS (sizeof(mark_names) / sizeof(mark_names[0]))
#define NSTEPS (sizeof(step_names) / sizeof(step_names[0]))

/* ---- parsing -------------------------------------------------------- */

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal digits at t[*i..n), at most max; advances *i past them. Returns the
 * value, -1 when there is no digit, -2 when it is over max. */
static long
read_number(const char *t, size_t n, size_t *i, long max)
{
    long v = 0;
    size_t start = *i;

    while (*i < n && is_digit(t[*i])) {
        if (v <= max)
            v = v * 10 + (t[*i] - '0');
        (*i)++;
    }
    if (*i == start)
        return -1;
    return v > max ? -2 : v;
}

static int
pos_fail(char *err, size_t errlen, const char *t, size_t n, const char *why, const char *what)
{
    snprintf(err, errlen, "position '%.*s%s': %s%s", (int)(n > QUOTE_MAX ? QUOTE_MAX : n), t,
             n > QUOTE_MAX ? "..." : "", why, what);
    return -1;
}

/* "+N"/"-N" (a marker's offset) or "N"/"-N" (absolute) from t[i..n), all of
 * the rest. sign_required: after a marker, where only +/- may follow. */
static int
parse_offset(const char *t, size_t n, size_t i, int32_t *off, char *err, size_t errlen)
{
    char sign = t[i];
    long v;

    if (sign == '+' || sign == '-')
        i++;
    v = read_number(t, n, &i, SHAPE_POS_OFFSET_MAX);
    if (v == -1) {
        char what[8];

        snprintf(what, sizeof(what), "'%c'", sign);
        return pos_fail(err, errlen, t, n, "expected a number after ", what);
    }
    if (v == -2)
        return pos_fail(err, errlen, t, n, "offset over 65535", "");
    if (i < n) {
        char what[QUOTE_MAX + 8];

        snprintf(what, sizeof(what), "'%.*s' after the number", (int)(n - i < 16 ? n - i : 16),
                 t + i);
        return pos_fail(err, errlen, t, n, "unexpected ", what);
    }
    *off = sign == '-' ? (int32_t)-v : (int32_t)v;
    return 0;
}

int
shape_pos_parse(const char *text, size_t len, struct shape_pos *pos, char *err, size_t errlen)
{
    size_t i = 0;

    memset(pos, 0, sizeof(*pos));
    if (len == 0) {
        snprintf(err, errlen, "empty position");
        return -1;
    }
    if (is_digit(text[0]) || text[0] == '-') {
        if (parse_offset(text, len, 0, &pos->off, err, errlen) < 0)
            return -1;
        if (pos->off == 0)
            return pos_fail(err, errlen, text, len, "a cut at 0 cuts nothing", "");
        pos->mark = SHAPE_MARK_ABS;
        return 0;
    }
    while (i < len && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z')))
        i++;
    if (i == 0)
        return pos_fail(err, errlen, text, len, "expected a number or a marker", "");
    for (size_t k = 0; k < NMARKS; k++) {
        if (strlen(mark_names[k].name) != i || memcmp(mark_names[k].name, text, i) != 0)
            continue;
        pos->mark = mark_names[k].mark;
        if (i == len)
            return 0;
        if (text[i] != '+' && text[i] != '-') {
            char what[32];

            snprintf(what, sizeof(what), "after '%s'", mark_names[k].name);
            return pos_fail(err, errlen, text, len, "expected '+' or '-' ", what);
        }
        return parse_offset(text, len, i, &pos->off, err, errlen);
    }
    {
        char what[QUOTE_MAX + 4];

        snprintf(what, sizeof(what), "'%.*s'", (int)(i > QUOTE_MAX ? QUOTE_MAX : i), text);
        return pos_fail(err, errlen, text, len, "unknown marker ", what);
    }
}

/* The positions of "KIND:P,P,...", from the text after the colon. */
static int
parse_positions(const char *kind, const char *list, struct shape_step *step, char *err,
                size_t errlen)
{
    const char *p = list;

    if (*p == '\0') {
        snprintf(err, errlen, "'%s' needs positions (%s:P[,P...])", kind, kind);
        return -1;
    }
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);

        if (n == 0) {
            snprintf(err, errlen, "empty position in '%s:%.*s'", kind, QUOTE_MAX, list);
            return -1;
        }
        if (step->npos == SHAPE_STEP_POS) {
            snprintf(err, errlen, "too many positions (at most %d)", SHAPE_STEP_POS);
            return -1;
        }
        if (shape_pos_parse(p, n, &step->pos[step->npos], err, errlen) < 0)
            return -1;
        step->npos++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* The number of tlsminor (0-255) or pad (1-SHAPE_PAD_MAX). */
static int
parse_arg(int arg, const char *s, struct shape_step *step, char *err, size_t errlen)
{
    size_t i = 0, n = strlen(s);
    long max = arg == ARG_BYTE ? 255 : SHAPE_PAD_MAX;
    long v = read_number(s, n, &i, max);

    if (v < 0 || i != n || (arg == ARG_PAD && v == 0)) {
        if (arg == ARG_BYTE)
            snprintf(err, errlen, "tlsminor needs a number 0-255");
        else
            snprintf(err, errlen, "pad needs a number of bytes 1-%d", SHAPE_PAD_MAX);
        return -1;
    }
    step->arg = (int32_t)v;
    return 0;
}

int
shape_step_parse(const char *word, struct shape_step *step, char *err, size_t errlen)
{
    const char *colon = strchr(word, ':');
    size_t kl = colon ? (size_t)(colon - word) : strlen(word);

    memset(step, 0, sizeof(*step));
    if (kl == 0) {
        snprintf(err, errlen, colon ? "expected a step name before ':'" : "empty step");
        return -1;
    }
    for (size_t k = 0; k < NSTEPS; k++) {
        const char *name = step_names[k].name;

        if (strlen(name) != kl || memcmp(name, word, kl) != 0)
            continue;
        step->kind = step_names[k].kind;
        if (step_names[k].arg == ARG_NONE) {
            if (colon == NULL)
                return 0;
            snprintf(err, errlen, "'%s' takes no argument", name);
        } else if (step_names[k].arg == ARG_POS) {
            if (parse_positions(name, colon ? colon + 1 : "", step, err, errlen) == 0)
                return 0;
        } else if (parse_arg(step_names[k].arg, colon ? colon + 1 : "", step, err, errlen) == 0) {
            return 0;
        }
        memset(step, 0, sizeof(*step));
        return -1;
    }
    snprintf(err, errlen, "unknown step '%.*s'", (int)(kl > QUOTE_MAX ? QUOTE_MAX : kl), word);
    return -1;
}

/* ---- formatting ----------------------------------------------------- */

static const char *
mark_name(int mark)
{
    for (size_t k = 0; k < NMARKS; k++)
        if (mark_names[k].mark == mark)
            return mark_names[k].name; /* the first spelling: "host", not "sni" */
    return "?";
}

void
shape_pos_format(const struct shape_pos *pos, char *out, size_t cap)
{
    if (cap == 0)
        return;
    if (pos->mark == SHAPE_MARK_ABS)
        snprintf(out, cap, "%ld", (long)pos->off);
    else if (pos->off == 0)
        snprintf(out, cap, "%s", mark_name(pos->mark));
    else
        snprintf(out, cap, "%s%+ld", mark_name(pos->mark), (long)pos->off);
}

void
shape_step_format(const struct shape_step *step, char *out, size_t cap)
{
    const char *name = "?";
    int arg = ARG_NONE;
    size_t n;

    if (cap == 0)
        return;
    for (size_t k = 0; k < NSTEPS; k++) {
        if (step_names[k].kind == step->kind) {
            name = step_names[k].name;
            arg = step_names[k].arg;
        }
    }
    if (arg == ARG_BYTE || arg == ARG_PAD) {
        snprintf(out, cap, "%s:%ld", name, (long)step->arg);
        return;
    }
    snprintf(out, cap, "%s", name);
    if (arg != ARG_POS)
        return;
    for (int i = 0; i < step->npos && i < SHAPE_STEP_POS; i++) {
        char one[24];

        n = strlen(out);
        shape_pos_format(&step->pos[i], one, sizeof(one));
        snprintf(out + n, cap - n, "%c%s", i == 0 ? ':' : ',', one);
    }
}

/* ---- markers -------------------------------------------------------- */

/* host, endhost, sld and midsld of the name at d[s..e). With has_port, a
 * trailing ":digits" is the port, not the name (but "[v6]" keeps its
 * brackets and ends at the bracket). */
static void
name_marks(const char *d, size_t s, size_t e, int has_port, struct shape_marks *m)
{
    size_t ne = e, le, ls, k;

    if (has_port && d[s] == '[') {
        const char *rb = memchr(d + s, ']', e - s);

        if (rb != NULL)
            ne = (size_t)(rb - d) + 1;
    } else if (has_port) {
        for (k = e; k > s && is_digit(d[k - 1]); k--)
            ;
        if (k > s && d[k - 1] == ':')
            ne = k - 1;
    }
    m->at[SHAPE_MARK_HOST] = s;
    m->at[SHAPE_MARK_ENDHOST] = ne;
    le = ne > s && d[ne - 1] == '.' ? ne - 1 : ne;
    for (k = le; k > s && d[k - 1] != '.'; k--)
        ;
    if (k > s) { /* a dot at k - 1: the sld ends there */
        le = k - 1;
        for (k = le; k > s && d[k - 1] != '.'; k--)
            ;
    }
    ls = k;
    m->at[SHAPE_MARK_SLD] = ls;
    m->at[SHAPE_MARK_MIDSLD] = ls + (le - ls) / 2;
}

/* The request line, then the fields up to the blank line: a light lexical
 * pass (http.c validated the head), strict only where a marker depends on it. */
static int
http_marks(const char *d, size_t len, struct shape_marks *m)
{
    const char *eol = shape_find_crlf(d, len), *sp, *ver;
    size_t pos, nhost = 0, vs = 0, ve = 0;

    if (eol == NULL || (sp = memchr(d, ' ', (size_t)(eol - d))) == NULL || sp == d)
        return -1;
    for (ver = eol; ver > sp && ver[-1] != ' '; ver--)
        ;
    if (ver - 1 == sp || eol - ver < 8 || memcmp(ver, "HTTP/1.", 7) != 0)
        return -1;
    m->method_end = (size_t)(sp - d);
    m->rl_end = (size_t)(eol - d) + 2;
    for (pos = m->rl_end;;) {
        const char *line = d + pos, *colon;

        if ((eol = shape_find_crlf(line, len - pos)) == NULL)
            return -1; /* no blank line: not a complete head */
        if (eol == line)
            break;
        if ((colon = memchr(line, ':', (size_t)(eol - line))) == NULL)
            return -1;
        if (colon - line == 4 && strncasecmp(line, "host", 4) == 0) {
            for (vs = (size_t)(colon - d) + 1;
                 vs < (size_t)(eol - d) && (d[vs] == ' ' || d[vs] == '\t'); vs++)
                ;
            for (ve = (size_t)(eol - d); ve > vs && (d[ve - 1] == ' ' || d[ve - 1] == '\t'); ve--)
                ;
            m->field_off = pos;
            m->colon = (size_t)(colon - d);
            nhost++;
        }
        pos = (size_t)(eol - d) + 2;
    }
    m->at[SHAPE_MARK_METHOD] = 0;
    m->at[SHAPE_MARK_EOH] = pos + 2;
    if (nhost == 1 && ve > vs) {
        m->value_end = ve;
        name_marks(d, vs, ve, 1, m);
    } else {
        m->field_off = SHAPE_NOMARK;
        m->colon = 0;
    }
    return 0;
}

static void
marks_clear(struct shape_marks *m, size_t len)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 1; i <= SHAPE_MARK_EOH; i++)
        m->at[i] = SHAPE_NOMARK;
    m->len = len;
    m->field_off = SHAPE_NOMARK;
}

int
shape_pos_marks(const char *data, size_t len, struct shape_marks *m)
{
    const unsigned char *d = (const unsigned char *)data;
    size_t off, n, rec_len;

    marks_clear(m, len);
    if (len >= 5 && d[0] == 22 && d[1] == 3) {
        rec_len = (size_t)d[3] << 8 | d[4];
        if (rec_len == 0 || rec_len > len - 5 || rec_len > 16384)
            return m->kind; /* not a complete record: no marker */
        m->kind = SHAPE_FLIGHT_TLS;
        m->at[SHAPE_MARK_EOH] = 5 + rec_len;
        if (shape_tls_name(data, len, &off, &n) == 0)
            name_marks(data, off, off + n, 0, m);
        return m->kind;
    }
    if (len > 0 && http_marks(data, len, m) == 0) {
        m->kind = SHAPE_FLIGHT_HTTP;
        return m->kind;
    }
    marks_clear(m, len);
    return m->kind;
}

int
shape_pos_resolve(const struct shape_pos *pos, const struct shape_marks *m, size_t *at)
{
    int64_t x;

    if (pos->mark == SHAPE_MARK_ABS) {
        x = pos->off >= 0 ? pos->off : (int64_t)m->len + pos->off;
    } else {
        if (pos->mark < SHAPE_MARK_HOST || pos->mark > SHAPE_MARK_EOH ||
            m->at[pos->mark] == SHAPE_NOMARK)
            return -1;
        x = (int64_t)m->at[pos->mark] + pos->off;
    }
    if (x < 1 || (uint64_t)x >= m->len)
        return -1;
    *at = (size_t)x;
    return 0;
}
