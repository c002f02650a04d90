/* The command line: getopt_long into a struct cli_opts of borrowed argv
 * strings. Nothing is judged here; config_build (config.h) applies the options
 * on top of the file, so both share one set of rules and messages. */
#ifndef WARPD_CLI_H
#define WARPD_CLI_H

#include "config.h"

/* What the command line asked for; applied on top of the file, and again on
 * every reload so that command-line options keep winning. */
struct cli_opts {
    const char *config_path;            /* -c */
    int test;                           /* -t */
    const char *listen[CFG_MAX_LISTEN]; /* -l, replaces the file's listen list */
    int nlisten;
    const char *warp_host; /* -H, WARP alias: listen address */
    const char *warp_port; /* -p, WARP alias: listen port */
    const char *workers;   /* -w */
    const char *mode;      /* -m */
    const char *upstream;  /* -u */
    const char *shape;     /* -s */
    int verbose;           /* -v count */
    int quiet;             /* -q */
};

/* Parses argv. Returns 0 to go on, 1 when -h/-V printed and the program
 * should exit 0, or -1 after printing a one-line error (exit 2). */
int cli_parse(int argc, char **argv, struct cli_opts *o);

#endif
