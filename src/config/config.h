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

#include "acl.h"
#include "addr.h"
#include "auth.h"
#include "common.h"
#include "dest.h"
#include "shape_step.h"

#define CFG_MAX_LISTEN      16
#define CFG_MAX_WORKERS     64
#define CFG_PATHMAX         1024
#define CFG_MAX_PORT_RANGES 32  /* connect_ports, tls_split_ports: ranges kept after merging */
#define CFG_MAX_SHAPE_RULES 32  /* shape lines with host patterns, all lines together */
#define CFG_SHAPE_PATTERN   128 /* bytes of one host pattern, with the NUL */
#define CFG_MAX_FRAG_DELAYS 4   /* values of shape_fragment_delay */
#define CFG_MAX_ACL_RULES   128 /* allow and deny addresses, all lines together */
#define CFG_MAX_DEST_RULES  64  /* deny_dest and allow_dest words, all lines together */

enum cfg_mode { MODE_FORWARD = 0, MODE_REVERSE, MODE_TCP, MODE_TRANSPARENT };
/* Strategy numbers: the built-ins, then SHAPE_USER + i for the configuration's
 * strategy line i. shape_policy_init turns a number into steps. */
enum cfg_shape {
    SHAPE_OFF = 0,
    SHAPE_SPLIT,
    SHAPE_WARP,
    SHAPE_DISORDER,
    SHAPE_FAKE,
    SHAPE_OOB,
    SHAPE_TLSREC,
    SHAPE_AUTO,
    SHAPE_USER = 16,
};
#define CFG_MAX_STRATEGIES  16 /* strategy lines */
#define CFG_MAX_AUTO        16 /* strategies shape_auto tries */
#define CFG_MAX_BLOCK_HOSTS 16 /* shape_auto_block_hosts */
#define CFG_MAX_STATS_ALLOW 32 /* stats_allow addresses */

/* Values of tls_split (an int in struct config, as shape_policy.tls_mode reads it). */
#define CFG_TLS_SPLIT_OFF     0 /* send the ClientHello as the client did */
#define CFG_TLS_SPLIT_SEGMENT 1 /* two TCP segments, split inside the SNI name */
#define CFG_TLS_SPLIT_RECORD  2 /* two TLS records, split inside the SNI name */

struct cfg_listen {
    struct sockaddr_storage addr; /* numeric address with the port */
    socklen_t addrlen;
    char text[WD_ADDRSTRLEN]; /* as printed: "127.0.0.1:8800", "[::1]:8800" */
    int line;                 /* line of the config file it is on; 0: default or -l */
    int proxy_protocol;       /* a PROXY protocol header comes first on every connection */
};

/* An inclusive range of TCP ports; a single port has lo == hi. */
struct cfg_port_range {
    uint16_t lo, hi;
};

/* One "shape STRATEGY PATTERN..." pattern: destinations it matches use shape.
 * pattern is lowercase: "example.com" (that host only), "*.example.com" (any
 * subdomain, not example.com itself) or "*" (every host). */
struct cfg_shape_rule {
    int shape; /* enum cfg_shape or SHAPE_USER + i */
    char pattern[CFG_SHAPE_PATTERN];
};

struct config {
    char path[CFG_PATHMAX]; /* file read, "" when none */

    struct cfg_listen listen[CFG_MAX_LISTEN]; /* listen: one or more */
    int nlisten;
    int workers; /* workers: 1..CFG_MAX_WORKERS; "auto" resolved to the CPU count */
    enum cfg_mode mode;
    char upstream_host[ADDR_HOSTMAX]; /* upstream: "" when unset */
    uint16_t upstream_port;
    int shape; /* shape without patterns (and -s): the default strategy; split */

    double connect_timeout;  /* seconds, upstream TCP connect per address; default 10 */
    double resolve_timeout;  /* seconds, one DNS resolution; default 5 */
    double idle_timeout;     /* seconds without a byte either way in a relay; default 300 */
    double shutdown_timeout; /* seconds a stopping worker lets sessions finish; default 10 */
    int max_connections;     /* client connections per worker; default 4096 */
    char resolver[256];      /* resolver: "" = /etc/resolv.conf, else "ip[:port],..." */
    int resolver_tcp;        /* resolver_tcp: 1 = ask the name servers over TCP only; off */
    /* hosts: the table read from the file at load (hosts.h), shared by every
     * copy of this config and never freed; NULL for "off" or a default file
     * that is missing or unreadable. */
    const struct hosts *hosts;

    /* Client access (allow, deny), every mode: checked at accept. */
    struct acl_rule acl[CFG_MAX_ACL_RULES]; /* in file order; the first match decides */
    /* proxy_protocol_from: the peers that may send a PROXY header; none: any */
    struct acl_rule pp_from[CFG_MAX_ACL_RULES];
    int npp_from;
    int nacl; /* 0: every client allowed; otherwise a client no rule matches is denied */

    /* Destination filter (deny_dest, allow_dest), forward and transparent
     * modes: every address warpd is about to connect to, after DNS. */
    struct dest_rule dest[CFG_MAX_DEST_RULES]; /* in file order; the first match decides */
    int ndest;                                 /* 0: only the safe default (config_dest_allowed) */
    int dest_line; /* file line of the first rule, for a mode error; 0: none */

    /* Basic proxy authentication (auth_user, auth_realm), forward mode only:
     * checked for absolute-form requests and CONNECT before any lookup. */
    struct auth_user auth_users[AUTH_MAX_USERS]; /* in file order; unused ones zeroed */
    int nauth_users;                             /* 0: no authentication (the default) */
    int auth_line;                               /* file line of the first auth_user, for errors */
    char auth_realm[AUTH_REALM_MAX + 1];         /* realm of the 407 challenge; "warpd" */
    unsigned path_mode; /* permission bits of the file read (0 when none) */

    /* HTTP modes (forward and reverse); timeouts in seconds. */
    double header_timeout;    /* first byte of a request to the end of its head (408); 30 */
    double keepalive_timeout; /* idle between client requests; 0 = no client keep-alive; 60 */
    double response_timeout;  /* request sent to the upstream's response head (504); 60 */
    size_t max_header_size;   /* bytes, request head (431) and response head (502); 64 KiB */
    struct cfg_port_range connect_ports[CFG_MAX_PORT_RANGES]; /* CONNECT may reach; sorted */
    int nconnect_ports; /* ranges in connect_ports; default one: 443 */
    /* connect_ports not given and every listen address loopback: every port
     * but the Fetch standard's bad ports (config_finish decides) */
    int connect_ports_open;
    unsigned char connect_ports_given; /* a line or option set connect_ports */
    unsigned char shape_given;         /* a line or option set the default strategy */
    int via;                           /* 1: add a Via header to forwarded messages */
    int upstream_mark; /* SO_MARK on upstream sockets (transparent mode's nft exception); 0: none */
    int upstream_pp;   /* 0, or the PROXY header version sent upstream */
    int socks;         /* forward mode: SOCKS clients too (first byte 4 or 5) */
    char upstream_host_header[ADDR_HOSTMAX]; /* upstream_host: Host sent upstream, "" = client's */
    int upstream_keepalive; /* idle upstream conns kept per host:port per worker; -1: auto */
    double upstream_keepalive_timeout; /* how long a pooled idle upstream conn is kept; 30 */

    /* Request shaping (shape.h's struct shape_policy is built from these). */
    struct cfg_shape_rule shape_rules[CFG_MAX_SHAPE_RULES]; /* in file order; first match wins */
    int nshape_rules;                                       /* 0: every host gets shape */
    int shape_delay_ms;          /* warp: pause after the request line; 200 (0-10000) */
    int shape_dummy_headers;     /* warp: dummy header lines; 32 (0-256) */
    int shape_dummy_length;      /* warp: bytes of a dummy value; 128 (1-1024) */
    int shape_dummy_name_length; /* warp: random letters after "X-" in a dummy name; 16 (1-64) */
    int shape_frag_first;        /* warp: first host fragment length; 1 (1-64) */
    int shape_frag_min, shape_frag_max;         /* later fragment lengths; 2-4 (1-64) */
    int shape_frag_delays[CFG_MAX_FRAG_DELAYS]; /* ms, pause before a fragment, one at random */
    int nshape_frag_delays;                     /* 1-4; default 2: 200, 300 */
    int shape_split_pos;        /* split inside the Host value after this many bytes; 1 (1-255) */
    int shape_split_method;     /* also split the request line after "METHOD "; off */
    int shape_split_path;       /* also split the path after this many bytes; 0 = no (0-8192) */
    char shape_host_header[16]; /* Host field name as sent ("host", "HOST"); "" = keep "Host" */
    int shape_mixed_case;       /* randomise the letter case of the Host value; off */
    int shape_reused;           /* also shape requests on reused upstream connections; on */
    int tls_split;              /* CFG_TLS_SPLIT_*: ClientHello split in CONNECT; segment */
    struct cfg_port_range tls_split_ports[CFG_MAX_PORT_RANGES]; /* CONNECT ports; sorted */
    int ntls_split_ports;                                       /* default one: 443 */
    uint64_t shape_seed; /* random generator seed; 0 = random per worker (tests set it) */
    struct shape_strategy strategies[CFG_MAX_STRATEGIES]; /* strategy lines, in file order */
    int nstrategies;
    int shape_fake_ttl;                 /* TTL of fake pieces; 8 (1-255) */
    int shape_disorder_ttl;             /* TTL of disordered pieces; 1 (1-255) */
    char shape_fake_host[ADDR_HOSTMAX]; /* Host of fake HTTP requests; www.example.com */
    char shape_fake_sni[ADDR_HOSTMAX];  /* SNI of fake ClientHellos; www.example.com */
    int shape_auto[CFG_MAX_AUTO];       /* strategies auto tries, in order */
    int nshape_auto;                    /* default: split tlsrec oob disorder fake warp */
    double shape_auto_timeout;          /* no answer byte within: blocked; 5 s */
    double shape_auto_ttl;              /* a winner is remembered this long; 6 h */
    double shape_auto_fail_ttl;         /* "nothing works" is remembered this long; 5 min */
    int shape_auto_cache;               /* entries of the shared table; 4096 */
    char shape_auto_file[CFG_PATHMAX];  /* where the table is saved and loaded; "" none */
    char shape_auto_block_hosts[CFG_MAX_BLOCK_HOSTS][CFG_SHAPE_PATTERN]; /* patterns */
    int nshape_auto_block_hosts;

    char log[CFG_PATHMAX];        /* "stderr" or a file */
    int log_level;                /* enum log_level; default info */
    char access_log[CFG_PATHMAX]; /* "off", "stderr" or a file; default stderr */
    char pidfile[CFG_PATHMAX];    /* "" = none */
    char user[64];                /* "" = keep the current user */
    uid_t uid;                    /* resolved from user when set */
    gid_t gid;

    /* stats_listen, stats_allow: the metrics page the supervisor serves. */
    struct sockaddr_storage stats_addr;               /* stats_listen; stats_addrlen 0: off */
    socklen_t stats_addrlen;                          /* 0: no stats page */
    char stats_text[WD_ADDRSTRLEN];                   /* stats_listen as printed */
    struct acl_rule stats_allow[CFG_MAX_STATS_ALLOW]; /* readers allowed; default loopback */
    int nstats_allow;                                 /* at least one */
};

/* The command line's options (cli.h); config_build applies them on top of the file. */
struct cli_opts;

/* Defaults, then the file (if any), then the command line, then the whole
 * is checked. Returns 0, or -1 with a one-line message in err: "file:line:
 * problem" for the file, "option -x: problem" for the command line. */
int config_build(struct config *c, const struct cli_opts *o, char *err, size_t errlen);

/* The pieces config_build is made of, exposed for the unit tests.
 * config_init: every directive at the default its table row gives.
 * config_load_file: the file's lines applied in order (by config_file.c). */
void config_init(struct config *c);
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);
int config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen);
int config_finish(struct config *c, char *err, size_t errlen);
/* The i-th row of the directive table: its name and its default as written
 * in the file (NULL when it has none). Returns 0 past the last row. */
int config_directive(size_t i, const char **name, const char **def);
/* Parses "10", "1.5s", "500ms", "2m", "1h" into seconds. Returns 0 or -1. */
int config_parse_duration(const char *s, double *out);

/* Whether CONNECT may reach port (one of the connect_ports ranges, or with
 * connect_ports_open any but a bad port). Port 0 never is. */
int config_port_allowed(const struct config *c, uint16_t port);
/* Whether port is one of the Fetch standard's bad ports (25, 110, ...). */
int config_bad_port(uint16_t port);
/* Whether port is one of the tls_split_ports ranges (tls_split itself is not
 * consulted: the caller checks it is not CFG_TLS_SPLIT_OFF). Port 0 never is. */
int config_tls_split_port(const struct config *c, uint16_t port);
/* The strategy for a destination host name (no port): the first shape rule
 * whose pattern matches, compared without regard to case and ignoring one
 * trailing dot on host, else the default c->shape. A NULL host gets the default. */
int config_shape_for(const struct config *c, const char *host);
/* Whether host matches one of shape_auto_block_hosts (a redirect there is
 * a block page). */
int config_block_host(const struct config *c, const char *host);
/* The number of the strategy called name (a built-in, or a strategy line's),
 * or -1. */
int config_shape_lookup(const struct config *c, const char *name);

/* Whether listen address i makes warpd an open proxy: forward mode, an
 * address that is not loopback, no allow or deny rule and no auth_user. */
int config_listen_open(const struct config *c, int i);
/* Whether the destination filter's safe default is on: some listen address
 * is not loopback. */
int config_dest_default(const struct config *c);
/* Whether warpd may connect to sa (with its port): the first deny_dest or
 * allow_dest rule matching it decides; with none, the safe default when it
 * is on; else yes. A refused address gets the reason in why: the rule
 * ("deny_dest 10.0.0.0/8") or "default: loopback" and the like. */
int config_dest_allowed(const struct config *c, const struct sockaddr *sa, char *why,
                        size_t whylen);
/* Whether the file holds auth_user passwords and can be read by its group
 * or by others (the supervisor warns at start and at each reload). */
int config_auth_exposed(const struct config *c);

const char *config_mode_name(enum cfg_mode m);
/* A strategy's name ("?" for none); c may be NULL for the built-ins. */
const char *config_shape_name(const struct config *c, int s);

#endif
