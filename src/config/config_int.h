/* What the configuration's files share, and nothing else includes: the
 * directive table's row type, and what each file below config.c offers it.
 * Calls go one way: config.c (the table, the whole-config checks) uses
 * config_file.c (the reader), config_net.c and config_shape.c (setters), and
 * all of them use config_value.c (value helpers). The public interface is
 * config.h. */
#ifndef WARPD_CONFIG_INT_H
#define WARPD_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CFG_MAX_DIRECTIVES 96 /* rows the table may have (the reader keeps one slot each) */

struct directive;
/* Sets the field(s) of one directive from its value text, or refuses it with
 * a message (without the "file:line: name: " that the reader adds) and
 * changes nothing. line is the file line the value comes from, 0 for a
 * default or the command line. */
typedef int (*set_fn)(struct config *c, const struct directive *d, const char *v, int line,
                      char *err, size_t errlen);

/* A keyword accepted by an enumerated directive and the value it stands for. */
struct keyword {
    const char *name;
    int value;
};

/* Values of directive.flags: how the file reader treats the directive. */
#define DIR_MULTI 0x1 /* takes one or more values rather than exactly one */
#define DIR_RULES                                                                                  \
    0x2                /* a line with two or more values may repeat (shape rules); a               \
                          one-value line (the default strategy) still appears only once */
#define DIR_REPEAT 0x4 /* every line may repeat, each adding to a list (allow, deny) */
#define DIR_NODEF  0x8 /* no default: the field stays empty until a line or option sets it */

struct directive {
    const char *name;
    set_fn set;
    /* The default as it would be written in the file, applied through set
     * when a config is initialised; NULL only with DIR_NODEF. conf/warpd.conf
     * and warpd.conf(5) show the same text (check_config compares them). */
    const char *def;
    int flags;                       /* DIR_*: how the file reader treats it */
    void (*clear)(struct config *c); /* a list the file's first line replaces (listen) */
    size_t off;                      /* offset of the field in struct config, for shared setters */
    long min, max;                   /* bounds for integer directives */
    int arg;                  /* PATH_* for paths, DUR_* for durations, ACL_* for allow and deny */
    const struct keyword *kw; /* the words of an enumerated directive, NULL-terminated */
    const char *help;         /* one line for people reading this table */
};

/* How a path directive treats its special words. */
#define PATH_STDERR    0x1 /* "stderr" is kept as is */
#define PATH_OFF_KEEP  0x2 /* "off" is kept as is (the access log reads it) */
#define PATH_OFF_EMPTY 0x4 /* "off" is stored as "" (no file) */

/* How a duration directive treats 0. */
#define DUR_ZERO_OK 0x1 /* 0 is allowed and means "disabled" (keepalive_timeout) */

/* config_value.c: value helpers (commented there) and the setters of plain
 * values, which read the row's off, min, max, arg and kw. */
int cfg_failv(char *err, size_t errlen, const char *what, const char *v);
int cfg_fail_unknown(char *err, size_t errlen, const char *name);
int cfg_parse_long(const char *s, long min, long max, long *out);
const struct directive *cfg_lookup(const struct directive *table, size_t n, const char *name);
int cfg_set_int(struct config *c, const struct directive *d, const char *v, int line, char *err,
                size_t errlen);
int cfg_set_keyword(struct config *c, const struct directive *d, const char *v, int line, char *err,
                    size_t errlen);
int cfg_set_duration(struct config *c, const struct directive *d, const char *v, int line,
                     char *err, size_t errlen);
int cfg_set_size(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen);
int cfg_set_path(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen);

/* config_file.c: reads a file through the given table (config.c's, which
 * calls this from config_load_file). */
int cfg_file_read(struct config *c, const char *path, const struct directive *table, size_t n,
                  char *err, size_t errlen);

/* config_net.c: listening, upstream, client access and authentication. */
int cfg_listen_add(struct config *c, const char *v, int line, char *err, size_t errlen);
void cfg_listen_clear(struct config *c);
int cfg_set_listen(struct config *c, const struct directive *d, const char *v, int line, char *err,
                   size_t errlen);
int cfg_set_upstream(struct config *c, const struct directive *d, const char *v, int line,
                     char *err, size_t errlen);
int cfg_set_host_header(struct config *c, const struct directive *d, const char *v, int line,
                        char *err, size_t errlen);
int cfg_set_resolver(struct config *c, const struct directive *d, const char *v, int line,
                     char *err, size_t errlen);
int cfg_set_hosts(struct config *c, const struct directive *d, const char *v, int line, char *err,
                  size_t errlen);
int cfg_set_connect_ports(struct config *c, const struct directive *d, const char *v, int line,
                          char *err, size_t errlen);
int cfg_set_pp_from(struct config *c, const struct directive *d, const char *v, int line, char *err,
                    size_t errlen);
int cfg_set_acl(struct config *c, const struct directive *d, const char *v, int line, char *err,
                size_t errlen);
int cfg_set_auth_user(struct config *c, const struct directive *d, const char *v, int line,
                      char *err, size_t errlen);
int cfg_set_auth_realm(struct config *c, const struct directive *d, const char *v, int line,
                       char *err, size_t errlen);
int cfg_ports_set(const char *v, struct cfg_port_range *list, int *nlist, char *err, size_t errlen);
int cfg_ports_match(const struct cfg_port_range *r, int n, uint16_t port);

/* config_dest.c: deny_dest and allow_dest, and the check of the mode they
 * need (forward or transparent). */
int cfg_set_dest(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen);
int cfg_dest_check_mode(const struct config *c, char *err, size_t errlen);

/* config_stats.c: stats_listen and stats_allow (the metrics page). */
int cfg_set_stats_listen(struct config *c, const struct directive *d, const char *v, int line,
                         char *err, size_t errlen);
int cfg_set_stats_allow(struct config *c, const struct directive *d, const char *v, int line,
                        char *err, size_t errlen);

/* config_shape.c: the words of shape (and -s), the setters of the
 * request-shaping directives. */
extern const struct keyword cfg_shape_words[];
int cfg_set_shape(struct config *c, const struct directive *d, const char *v, int line, char *err,
                  size_t errlen);
int cfg_set_ms(struct config *c, const struct directive *d, const char *v, int line, char *err,
               size_t errlen);
int cfg_set_fragment(struct config *c, const struct directive *d, const char *v, int line,
                     char *err, size_t errlen);
int cfg_set_frag_delays(struct config *c, const struct directive *d, const char *v, int line,
                        char *err, size_t errlen);
int cfg_set_host_name(struct config *c, const struct directive *d, const char *v, int line,
                      char *err, size_t errlen);
int cfg_set_seed(struct config *c, const struct directive *d, const char *v, int line, char *err,
                 size_t errlen);
int cfg_set_strategy(struct config *c, const struct directive *d, const char *v, int line,
                     char *err, size_t errlen);
int cfg_set_shape_auto(struct config *c, const struct directive *d, const char *v, int line,
                       char *err, size_t errlen);
int cfg_set_block_hosts(struct config *c, const struct directive *d, const char *v, int line,
                        char *err, size_t errlen);
int cfg_set_fake_name(struct config *c, const struct directive *d, const char *v, int line,
                      char *err, size_t errlen);
int cfg_set_tls_split_ports(struct config *c, const struct directive *d, const char *v, int line,
                            char *err, size_t errlen);

#endif
