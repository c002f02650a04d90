/* The configuration: built-in defaults, the config file (one directive per
 * line), and command-line overrides, validated as a whole before anything is
 * bound or forked. A struct config is plain data with no pointers into other
 * memory, so it can be copied and is never changed inside a worker. */
#ifndef WARPD_CONFIG_H
#define WARPD_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "addr.h"
#include "common.h"

#define CFG_MAX_LISTEN      16
#define CFG_MAX_WORKERS     64
#define CFG_PATHMAX         1024
#define CFG_MAX_PORT_RANGES 32 /* connect_ports: ranges kept after merging */

enum cfg_mode { MODE_FORWARD = 0, MODE_REVERSE, MODE_TCP };
enum cfg_shape { SHAPE_OFF = 0, SHAPE_SPLIT, SHAPE_WARP };

struct cfg_listen {
    struct sockaddr_storage addr; /* numeric address with the port */
    socklen_t addrlen;
    char text[WD_ADDRSTRLEN]; /* as printed: "127.0.0.1:8800", "[::1]:8800" */
};

/* An inclusive range of TCP ports; a single port has lo == hi. */
struct cfg_port_range {
    uint16_t lo, hi;
};

struct config {
    char path[CFG_PATHMAX]; /* file read, "" when none */

    struct cfg_listen listen[CFG_MAX_LISTEN]; /* listen: one or more */
    int nlisten;
    int workers; /* workers: 1..CFG_MAX_WORKERS; "auto" resolved to the CPU count */
    enum cfg_mode mode;
    char upstream_host[ADDR_HOSTMAX]; /* upstream: "" when unset */
    uint16_t upstream_port;
    enum cfg_shape shape; /* shape: parsed now, acted on by the shaping issue */

    double connect_timeout;  /* seconds, upstream TCP connect per address; default 10 */
    double resolve_timeout;  /* seconds, one DNS resolution; default 5 */
    double idle_timeout;     /* seconds without a byte either way in a relay; default 300 */
    double shutdown_timeout; /* seconds a stopping worker lets sessions finish; default 10 */
    int max_connections;     /* client connections per worker; default 4096 */
    char resolver[256];      /* resolver: "" = /etc/resolv.conf, else "ip[:port],..." */

    /* HTTP modes (forward and reverse); timeouts in seconds. */
    double header_timeout;    /* first byte of a request to the end of its head (408); 30 */
    double keepalive_timeout; /* idle between client requests; 0 = no client keep-alive; 60 */
    double response_timeout;  /* request sent to the upstream's response head (504); 60 */
    size_t max_header_size;   /* bytes, request head (431) and response head (502); 64 KiB */
    struct cfg_port_range connect_ports[CFG_MAX_PORT_RANGES]; /* CONNECT may reach; sorted */
    int nconnect_ports;                      /* ranges in connect_ports; default one: 443 */
    int via;                                 /* 1: add a Via header to forwarded messages */
    char upstream_host_header[ADDR_HOSTMAX]; /* upstream_host: Host sent upstream, "" = client's */
    int upstream_keepalive;            /* idle upstream conns kept per host:port per worker; 16 */
    double upstream_keepalive_timeout; /* how long a pooled idle upstream conn is kept; 30 */

    char log[CFG_PATHMAX];        /* "stderr" or a file */
    int log_level;                /* enum log_level; default info */
    char access_log[CFG_PATHMAX]; /* "off", "stderr" or a file; default stderr */
    char pidfile[CFG_PATHMAX];    /* "" = none */
    char user[64];                /* "" = keep the current user */
    uid_t uid;                    /* resolved from user when set */
    gid_t gid;
};

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

/* Defaults, then the file (if any), then the command line, then the whole
 * is checked. Returns 0, or -1 with a one-line message in err: "file:line:
 * problem" for the file, "option -x: problem" for the command line. */
int config_build(struct config *c, const struct cli_opts *o, char *err, size_t errlen);

/* The pieces config_build is made of, exposed for the unit tests. */
void config_init(struct config *c);
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);
int config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen);
int config_finish(struct config *c, char *err, size_t errlen);
/* Parses "10", "1.5s", "500ms", "2m", "1h" into seconds. Returns 0 or -1. */
int config_parse_duration(const char *s, double *out);

/* Whether CONNECT may reach port (one of the connect_ports ranges). Port 0 never is. */
int config_port_allowed(const struct config *c, uint16_t port);

const char *config_mode_name(enum cfg_mode m);
const char *config_shape_name(enum cfg_shape s);

#endif
