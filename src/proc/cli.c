/* The command line: getopt_long into a struct cli_opts of borrowed argv
 * strings. Nothing is validated here; config_build judges the values, so the
 * file and the command line share one set of rules and messages. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The version comes from the build: the Makefile may pass WARPD_VERSION, and
 * configure's DEFS carry PACKAGE_VERSION. src/config.h shadows the name of an
 * autoheader config.h, so the latter is never included from here. */
#ifndef WARPD_VERSION
#ifdef PACKAGE_VERSION
#define WARPD_VERSION PACKAGE_VERSION
#else
#define WARPD_VERSION "unknown"
#endif
#endif

static const char usage_text[] =
    "usage: warpd [-c FILE] [-t] [-l [ADDR:]PORT]... [-w N] [-m MODE] [-u HOST:PORT]\n"
    "             [-s SHAPE] [-v]... [-q] [-V] [-h]\n"
    "  -c, --config FILE        read directives from FILE (default: built-in defaults)\n"
    "  -t, --test               check the configuration, print 'configuration OK', exit\n"
    "  -l, --listen [ADDR:]PORT accept clients here (repeatable; replaces the file's list)\n"
    "  -H, --host ADDR          WARP alias: listen on ADDR (default 127.0.0.1)\n"
    "  -p, --port PORT          WARP alias: listen on PORT (default 8800)\n"
    "  -w, --workers N|auto     worker processes, 1-64 (default: one per CPU)\n"
    "  -m, --mode MODE          forward (HTTP proxy, default), reverse, tcp or transparent\n"
    "  -u, --upstream HOST:PORT the server behind warpd in reverse and tcp modes\n"
    "  -s, --shape SHAPE        request shaping: off, split (default), warp, disorder,\n"
    "                           fake, oob, tlsrec, auto, or a strategy of the file\n"
    "  -v, --verbose            log more (log_level debug)\n"
    "  -q, --quiet              log errors only, no access lines (wins over -v)\n"
    "  -V, --version            print the version and exit\n"
    "  -h, --help               print this help and exit\n";

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
    {"listen", required_argument, NULL, 'l'}, {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},   {"workers", required_argument, NULL, 'w'},
    {"mode", required_argument, NULL, 'm'},   {"upstream", required_argument, NULL, 'u'},
    {"shape", required_argument, NULL, 's'},  {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},        {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
};

/* Prints the one-line usage error and returns -1. */
static int
usage_error(const char *what, const char *opt, int optlen)
{
    char text[ADDR_QUOTE_MAX + 2], q[ADDR_QUOTELEN];

    /* Capped and escaped like every other echo of user input. */
    snprintf(text, sizeof(text), "%.*s", optlen, opt);
    addr_quote(text, q, sizeof(q));
    fprintf(stderr, "warpd: %s '%s' (try 'warpd -h')\n", what, q);
    return -1;
}

/* How many long options start with the first n bytes of name. */
static int
long_matches(const char *name, size_t n, int *val)
{
    const struct option *lo;
    int count = 0;

    for (lo = long_opts; lo->name != NULL; lo++) {
        if (strncmp(lo->name, name, n) == 0) {
            count++;
            *val = lo->val;
        }
    }
    return count;
}

/* Reports what getopt_long refused. After a long option glibc has moved optind
 * past it, so argv[optind - 1] is what was typed; a short option may sit in
 * the middle of a group ("-tx"), so it is named by optopt instead. */
static int
report(int ch, char **argv)
{
    const char *a = optind > 0 ? argv[optind - 1] : "";
    char shortopt[3] = {'-', (char)optopt, '\0'};
    int n = (int)strcspn(a, "="), val = 0, matches;
    int is_long = strncmp(a, "--", 2) == 0;

    if (is_long) {
        matches = long_matches(a + 2, (size_t)n - 2, &val);
        if (ch == ':' && optopt == val)
            return usage_error("missing argument for", a, n);
        if (optopt == 0 && matches > 1)
            return usage_error("ambiguous option", a, n);
        if (optopt == 0)
            return usage_error("unknown option", a, n);
        if (matches == 1 && optopt == val && a[n] == '=')
            return usage_error("no argument allowed for", a, n);
    }
    if (ch == ':')
        return usage_error("missing argument for", shortopt, 2);
    return usage_error("unknown option", shortopt, 2);
}

int
cli_parse(int argc, char **argv, struct cli_opts *o)
{
    int ch;

    memset(o, 0, sizeof(*o));
    /* 0 (not 1) makes glibc reinitialise getopt fully, so cli_parse can run twice. */
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":c:tl:H:p:w:m:u:s:vqVh", long_opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config_path = optarg;
            break;
        case 't':
            o->test = 1;
            break;
        case 'l':
            if (o->nlisten == CFG_MAX_LISTEN) {
                fprintf(stderr, "warpd: too many -l options (at most %d) (try 'warpd -h')\n",
                        CFG_MAX_LISTEN);
                return -1;
            }
            o->listen[o->nlisten++] = optarg;
            break;
        case 'H':
            o->warp_host = optarg;
            break;
        case 'p':
            o->warp_port = optarg;
            break;
        case 'w':
            o->workers = optarg;
            break;
        case 'm':
            o->mode = optarg;
            break;
        case 'u':
            o->upstream = optarg;
            break;
        case 's':
            o->shape = optarg;
            break;
        case 'v':
            o->verbose++;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'V':
            printf("warpd %s\n", WARPD_VERSION);
            return 1;
        case 'h':
            fputs(usage_text, stdout);
            return 1;
        default: /* '?' or ':' */
            return report(ch, argv);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind], (int)strlen(argv[optind]));
    return 0;
}
