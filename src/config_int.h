/* What config.c and config_shape.c share, and nothing else includes: the
 * directive table's row type, the value helpers the shaping setters reuse, and
 * those setters, which the table in config.c names. The public interface is
 * config.h. */
#ifndef WARPD_CONFIG_INT_H
#define WARPD_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct directive;
typedef int (*set_fn)(struct config *c, const struct directive *d, const char *v, char *err,
                      size_t errlen);

/* A keyword accepted by an enumerated directive and the value it stands for. */
struct keyword {
    const char *name;
    int value;
};

/* Values of directive.repeat (0: the directive may appear once). */
#define REPEAT_RULES                                                                               \
    1                /* a line with two or more values may repeat (shape rules); a                 \
                        one-value line (the default strategy) still appears only once */
#define REPEAT_ANY 2 /* every line may repeat, each adding to a list (allow, deny) */

struct directive {
    const char *name;
    set_fn set;
    size_t off;               /* offset of the field in struct config, for shared setters */
    int multi;                /* takes one or more values rather than exactly one */
    int repeat;               /* REPEAT_*: which file lines may appear more than once */
    long min, max;            /* bounds for integer directives */
    int flags;                /* PATH_* for path directives, ACL_* for allow and deny */
    const struct keyword *kw; /* the words of an enumerated directive, NULL-terminated */
    const char *help;         /* one line for people reading this table */
};

/* config.c: the words of shape (and -s), and value helpers (commented there). */
extern const struct keyword cfg_shape_words[];
int cfg_failv(char *err, size_t errlen, const char *what, const char *v);
int cfg_parse_long(const char *s, long min, long max, long *out);
int cfg_set_keyword(struct config *c, const struct directive *d, const char *v, char *err,
                    size_t errlen);
int cfg_ports_set(const char *v, struct cfg_port_range *list, int *nlist, char *err, size_t errlen);
int cfg_ports_match(const struct cfg_port_range *r, int n, uint16_t port);

/* config_shape.c: the setters of the request-shaping directives. */
int cfg_set_shape(struct config *c, const struct directive *d, const char *v, char *err,
                  size_t errlen);
int cfg_set_ms(struct config *c, const struct directive *d, const char *v, char *err,
               size_t errlen);
int cfg_set_fragment(struct config *c, const struct directive *d, const char *v, char *err,
                     size_t errlen);
int cfg_set_frag_delays(struct config *c, const struct directive *d, const char *v, char *err,
                        size_t errlen);
int cfg_set_host_name(struct config *c, const struct directive *d, const char *v, char *err,
                      size_t errlen);
int cfg_set_seed(struct config *c, const struct directive *d, const char *v, char *err,
                 size_t errlen);
int cfg_set_tls_split_ports(struct config *c, const struct directive *d, const char *v, char *err,
                            size_t errlen);

#endif
