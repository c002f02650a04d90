/* The configuration file reader: opens the file, reads it line by line,
 * refuses bytes that have no business there, splits each line into words and
 * hands the directive's value to its row of the table config.c passes in. Every
 * problem is reported as "file:line: message". Checks that need the whole
 * configuration are config.c's (config_finish). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "config_int.h"

#define LINE_MAXBYTES 4096 /* longest config line, without the newline */
#define MAX_TOKENS    32   /* directive name plus values on one line */

/* What the reader remembers across the lines of one file, per table row. */
struct reader {
    const struct directive *table; /* config.c's, cfg_file_read's caller */
    size_t n;
    int lineno;
    int once[CFG_MAX_DIRECTIVES]; /* line of the first line that may not repeat, or 0 */
    int seen[CFG_MAX_DIRECTIVES]; /* line of the first line of any kind, or 0 */
};

/* Reads one line into buf without its newline. Returns 1 for a line, 0 at the
 * end of the file, -1 for a line longer than LINE_MAXBYTES, -2 on a read error. */
static int
read_line(FILE *f, char *buf, size_t *len)
{
    size_t n = 0;
    int ch;

    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n == LINE_MAXBYTES)
            return -1;
        buf[n++] = (char)ch;
    }
    if (ch == EOF && ferror(f))
        return -2;
    if (ch == EOF && n == 0)
        return 0;
    buf[n] = '\0';
    *len = n;
    return 1;
}

/* Rejects bytes that have no business in a config line; says which one. */
static int
check_bytes(const char *buf, size_t len, char *msg, size_t msglen)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (ch == '\0') {
            snprintf(msg, msglen, "NUL byte in line");
            return -1;
        }
        if (ch == '\r') {
            snprintf(msg, msglen, "carriage return in line (DOS line endings?)");
            return -1;
        }
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            snprintf(msg, msglen, "control character 0x%02x in line", ch);
            return -1;
        }
    }
    return 0;
}

/* Splits a line into tokens in place. '#' at the start of a token begins a
 * comment; inside a token (a path "a#b") it is an ordinary byte. */
static int
tokenize(char *p, char **tok, int max)
{
    int n = 0;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            return n;
        if (n == max)
            return -1;
        tok[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
}

/* Applies one line's directive, split into tok[0..ntok). On failure msg
 * holds the message that follows "file:line: ". */
static int
apply_line(struct config *c, struct reader *r, char **tok, int ntok, char *msg, size_t msglen)
{
    char value[LINE_MAXBYTES + 1], why[512];
    const struct directive *d = cfg_lookup(r->table, r->n, tok[0]);
    size_t o, idx;
    int i, repeats;

    if (d == NULL)
        return cfg_fail_unknown(msg, msglen, tok[0]);
    if ((d->flags & DIR_MULTI) ? ntok < 2 : ntok != 2) {
        snprintf(msg, msglen, "'%s' takes %s", d->name,
                 (d->flags & DIR_MULTI) ? "one or more values" : "one value");
        return -1;
    }
    idx = (size_t)(d - r->table);
    /* "shape warp *.example.com" and "allow 10.0.0.0/8" add rules, as many
     * lines as wanted; a one-value shape line is the default strategy and
     * counts for the duplicate check. */
    repeats = (d->flags & DIR_REPEAT) || ((d->flags & DIR_RULES) && ntok > 2);
    if (!repeats && r->once[idx] != 0) {
        snprintf(msg, msglen, "duplicate directive '%s' (first on line %d)", d->name, r->once[idx]);
        return -1;
    }
    if (!repeats)
        r->once[idx] = r->lineno;
    /* The file's first listen line replaces the built-in default. */
    if (d->clear != NULL && r->seen[idx] == 0)
        d->clear(c);
    if (r->seen[idx] == 0)
        r->seen[idx] = r->lineno;
    for (o = 0, i = 1; i < ntok; i++)
        o += (size_t)snprintf(value + o, sizeof(value) - o, "%s%s", i > 1 ? " " : "", tok[i]);
    if (d->set(c, d, value, r->lineno, why, sizeof(why)) < 0) {
        snprintf(msg, msglen, "%s: %s", d->name, why);
        return -1;
    }
    return 0;
}

/* Reads and applies the lines of f. Returns 0, -1 with msg for a line's
 * problem, or -2 with errno set when reading failed. */
static int
read_lines(struct config *c, struct reader *r, FILE *f, char *msg, size_t msglen)
{
    char line[LINE_MAXBYTES + 1];
    char *tok[MAX_TOKENS];
    size_t len;
    int rc, ntok;

    for (;;) {
        r->lineno++;
        rc = read_line(f, line, &len);
        if (rc == 0)
            return 0;
        if (rc == -2)
            return -2;
        if (rc == -1) {
            snprintf(msg, msglen, "line too long (more than %d bytes)", LINE_MAXBYTES);
            return -1;
        }
        if (check_bytes(line, len, msg, msglen) < 0)
            return -1;
        ntok = tokenize(line, tok, MAX_TOKENS);
        if (ntok < 0) {
            snprintf(msg, msglen, "too many values (at most %d)", MAX_TOKENS - 1);
            return -1;
        }
        if (ntok > 0 && apply_line(c, r, tok, ntok, msg, msglen) < 0)
            return -1;
    }
}

/* Applies the file's directives to c in order and stops at the first error.
 * On failure c holds a partial result; config_build works on a scratch copy
 * for that reason. */
int
cfg_file_read(struct config *c, const char *path, const struct directive *table, size_t n,
              char *err, size_t errlen)
{
    struct reader r;
    char msg[1024];
    struct stat st;
    FILE *f;
    int rc;

    if (strlen(path) >= sizeof(c->path)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    strcpy(c->path, path);
    /* Of the file as opened, for the warning about readable passwords. */
    c->path_mode = fstat(fileno(f), &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
    memset(&r, 0, sizeof(r));
    r.table = table;
    r.n = n < CFG_MAX_DIRECTIVES ? n : CFG_MAX_DIRECTIVES;
    rc = read_lines(c, &r, f, msg, sizeof(msg));
    if (rc == -2)
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    else if (rc == -1)
        snprintf(err, errlen, "%s:%d: %s", path, r.lineno, msg);
    fclose(f);
    return rc < 0 ? -1 : 0;
}
