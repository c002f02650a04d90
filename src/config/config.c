/* The configuration: one table of directives with their defaults, shared by
 * the config file (config_file.c reads it) and the command line; the setters
 * of plain values (numbers, durations, sizes, keywords, paths, the user); and
 * the checks that need the whole picture. config_build assembles a complete
 * config in a scratch copy and commits it only when everything is valid, so a
 * bad reload leaves the running config alone. */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "config_int.h"
#include "log.h"

static const struct keyword mode_words[] = {{"forward", MODE_FORWARD},
                                            {"reverse", MODE_REVERSE},
                                            {"tcp", MODE_TCP},
                                            {"transparent", MODE_TRANSPARENT},
                                            {NULL, 0}};
static const struct keyword level_words[] = {{"error", LOG_LVL_ERROR},
                                             {"warn", LOG_LVL_WARN},
                                             {"info", LOG_LVL_INFO},
                                             {"debug", LOG_LVL_DEBUG},
                                             {NULL, 0}};
static const struct keyword onoff_words[] = {{"on", 1}, {"off", 0}, {NULL, 0}};
static const struct keyword pp_words[] = {{"off", 0}, {"v1", 1}, {"v2", 2}, {NULL, 0}};
static const struct keyword tls_split_words[] = {{"off", CFG_TLS_SPLIT_OFF},
                                                 {"segment", CFG_TLS_SPLIT_SEGMENT},
                                                 {"record", CFG_TLS_SPLIT_RECORD},
                                                 {NULL, 0}};

static int
set_workers(struct config *c, const struct directive *d, const char *v, int line, char *err,
            size_t errlen)
{
    long n;

    if (strcmp(v, "auto") == 0) {
        c->workers = 0; /* resolved by config_finish */
        return 0;
    }
    if (cfg_parse_long(v, 1, CFG_MAX_WORKERS, &n) < 0) {
        char what[64];

        snprintf(what, sizeof(what), "expected 1-%d or 'auto'", CFG_MAX_WORKERS);
        return cfg_failv(err, errlen, what, v);
    }
    c->workers = (int)n;
    return 0;
}

/* upstream_keepalive: a number of idle connections, or auto (-1, the
 * pool's UPSTREAM_POOL_AUTO: as many as the recent peak of requests). */
static int
set_keepalive(struct config *c, const struct directive *d, const char *v, int line, char *err,
              size_t errlen)
{
    long n;

    if (strcmp(v, "auto") == 0) {
        c->upstream_keepalive = -1;
        return 0;
    }
    if (cfg_parse_long(v, 0, 1024, &n) < 0)
        return cfg_failv(err, errlen, "expected 0-1024 or 'auto'", v);
    c->upstream_keepalive = (int)n;
    return 0;
}

static int
set_user(struct config *c, const struct directive *d, const char *v, int line, char *err,
         size_t errlen)
{
    struct passwd *pw;
    const char *p;

    if (strlen(v) >= sizeof(c->user))
        return cfg_failv(err, errlen, "user name too long", v);
    for (p = v; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || (*p == '-' && p != v) || (*p == '$' && p[1] == '\0')))
            return cfg_failv(err, errlen, "expected a user name", v);
    }
    if (v[0] == '\0')
        return cfg_failv(err, errlen, "expected a user name", v);
    /* Looked up here, not at the end, so that the error names the line. */
    errno = 0;
    pw = getpwnam(v);
    if (pw == NULL) {
        if (errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
            snprintf(err, errlen, "cannot look up user '%s': %s", v, strerror(errno));
        else
            snprintf(err, errlen, "unknown user '%s'", v);
        return -1;
    }
    strcpy(c->user, v);
    c->uid = pw->pw_uid;
    c->gid = pw->pw_gid;
    return 0;
}

#define F(field) .off = offsetof(struct config, field)

/* Every directive warpd knows, with its default as it would be written in the
 * file (applied through the row's own setter by config_init, as Redis's
 * static_configs[] does). conf/warpd.conf and man/warpd.conf.5 describe the same
 * list for people; check_config compares their defaults with these. */
static const struct directive directives[] = {
    {.name = "listen",
     .set = cfg_set_listen,
     .def = "127.0.0.1:8800",
     .flags = DIR_REPEAT | DIR_MULTI,
     .clear = cfg_listen_clear,
     .help = "address to accept clients on (repeatable)"},
    {.name = "workers",
     .set = set_workers,
     .def = "auto",
     .help = "worker processes, 1-64 or auto (CPUs)"},
    {.name = "mode",
     .set = cfg_set_keyword,
     .def = "forward",
     F(mode),
     .kw = mode_words,
     .help = "what to proxy"},
    {.name = "upstream",
     .set = cfg_set_upstream,
     .flags = DIR_NODEF,
     .help = "host:port for reverse and tcp modes"},
    {.name = "shape",
     .set = cfg_set_shape,
     .def = "split",
     .flags = DIR_MULTI | DIR_RULES,
     F(shape),
     .kw = cfg_shape_words,
     .help = "default strategy, or a strategy for host patterns (repeatable)"},
    {.name = "connect_timeout",
     .set = cfg_set_duration,
     .def = "10s",
     F(connect_timeout),
     .help = "TCP connect to one upstream address"},
    {.name = "resolve_timeout",
     .set = cfg_set_duration,
     .def = "5s",
     F(resolve_timeout),
     .help = "one DNS resolution"},
    {.name = "idle_timeout",
     .set = cfg_set_duration,
     .def = "300s",
     F(idle_timeout),
     .help = "silence either way in a session"},
    {.name = "shutdown_timeout",
     .set = cfg_set_duration,
     .def = "10s",
     F(shutdown_timeout),
     .help = "how long a stopping worker lets sessions finish"},
    {.name = "max_connections",
     .set = cfg_set_int,
     .def = "4096",
     F(max_connections),
     .min = 1,
     .max = 1000000,
     .help = "client connections per worker"},
    {.name = "allow",
     .set = cfg_set_acl,
     .flags = DIR_NODEF | DIR_MULTI | DIR_REPEAT,
     .arg = ACL_ALLOW,
     .help = "clients that may connect: addresses, networks or all (repeatable)"},
    {.name = "deny",
     .set = cfg_set_acl,
     .flags = DIR_NODEF | DIR_MULTI | DIR_REPEAT,
     .arg = ACL_DENY,
     .help = "clients refused at accept: addresses, networks or all (repeatable)"},
    {.name = "deny_dest",
     .set = cfg_set_dest,
     .flags = DIR_NODEF | DIR_MULTI | DIR_REPEAT,
     .arg = ACL_DENY,
     .help = "destinations refused after DNS: CIDR[:PORTS] words (repeatable)"},
    {.name = "allow_dest",
     .set = cfg_set_dest,
     .flags = DIR_NODEF | DIR_MULTI | DIR_REPEAT,
     .arg = ACL_ALLOW,
     .help = "destinations allowed, before later deny_dest rules and the safe default"},
    {.name = "proxy_protocol_from",
     .set = cfg_set_pp_from,
     .flags = DIR_NODEF | DIR_MULTI | DIR_REPEAT,
     .help = "peers that may send a PROXY protocol header (default: any)"},
    {.name = "auth_user",
     .set = cfg_set_auth_user,
     .flags = DIR_NODEF | DIR_MULTI | DIR_REPEAT,
     .help = "forward mode: a user name and password for Basic proxy authentication"},
    {.name = "auth_realm",
     .set = cfg_set_auth_realm,
     .def = "warpd",
     .flags = DIR_MULTI,
     .help = "forward mode: the realm of the 407 challenge"},
    {.name = "header_timeout",
     .set = cfg_set_duration,
     .def = "30s",
     F(header_timeout),
     .help = "from a request's first byte to the end of its head (408)"},
    {.name = "keepalive_timeout",
     .set = cfg_set_duration,
     .def = "60s",
     F(keepalive_timeout),
     .arg = DUR_ZERO_OK,
     .help = "idle time between client requests; 0 disables client keep-alive"},
    {.name = "response_timeout",
     .set = cfg_set_duration,
     .def = "60s",
     F(response_timeout),
     .help = "wait for the upstream's response head after the request (504)"},
    {.name = "max_header_size",
     .set = cfg_set_size,
     .def = "64k",
     F(max_header_size),
     .help = "largest request head (431) or response head (502): bytes or k"},
    {.name = "connect_ports",
     .set = cfg_set_connect_ports,
     .def = "443",
     .flags = DIR_MULTI,
     .help = "ports and ranges CONNECT may reach, or 'any'"},
    {.name = "upstream_mark",
     .set = cfg_set_int,
     .def = "0",
     F(upstream_mark),
     .min = 0,
     .max = 2147483647,
     .help = "SO_MARK on upstream sockets, for the nft rule that skips them (0: none)"},
    {.name = "upstream_proxy_protocol",
     .set = cfg_set_keyword,
     .def = "off",
     F(upstream_pp),
     .kw = pp_words,
     .help = "tcp and reverse modes: send a PROXY protocol header (v1 or v2) upstream"},
    {.name = "socks",
     .set = cfg_set_keyword,
     .def = "on",
     F(socks),
     .kw = onoff_words,
     .help = "forward mode: SOCKS5 and SOCKS4a clients on the same port"},
    {.name = "via",
     .set = cfg_set_keyword,
     .def = "on",
     F(via),
     .kw = onoff_words,
     .help = "add a Via header to forwarded messages"},
    {.name = "upstream_host",
     .set = cfg_set_host_header,
     .flags = DIR_NODEF,
     .help = "reverse mode: Host sent upstream instead of the client's"},
    {.name = "upstream_keepalive",
     .set = set_keepalive,
     .def = "auto",
     .help = "idle upstream connections kept per host:port per worker: 0-1024 (0 = none), "
             "or auto: the recent peak of requests in flight"},
    {.name = "upstream_keepalive_timeout",
     .set = cfg_set_duration,
     .def = "30s",
     F(upstream_keepalive_timeout),
     .help = "how long an idle pooled upstream connection is kept"},
    {.name = "resolver",
     .set = cfg_set_resolver,
     .def = "system",
     .flags = DIR_MULTI,
     .help = "DNS servers, or 'system' for /etc/resolv.conf"},
    {.name = "resolver_tcp",
     .set = cfg_set_keyword,
     .def = "off",
     F(resolver_tcp),
     .kw = onoff_words,
     .help = "ask the DNS servers over TCP only (injected UDP answers do not count)"},
    {.name = "hosts",
     .set = cfg_set_hosts,
     .def = "/etc/hosts",
     .help = "fixed answers asked before DNS: a hosts(5) file, or off"},
    {.name = "log",
     .set = cfg_set_path,
     .def = "stderr",
     F(log),
     .arg = PATH_STDERR,
     .help = "error log: stderr or a file"},
    {.name = "log_level",
     .set = cfg_set_keyword,
     .def = "info",
     F(log_level),
     .kw = level_words,
     .help = "least severe messages logged"},
    {.name = "access_log",
     .set = cfg_set_path,
     .def = "stderr",
     F(access_log),
     .arg = PATH_STDERR | PATH_OFF_KEEP,
     .help = "one line per session: off, stderr or a file"},
    {.name = "pidfile",
     .set = cfg_set_path,
     .def = "off",
     F(pidfile),
     .arg = PATH_OFF_EMPTY,
     .help = "pid file of the supervisor: off or a file"},
    {.name = "stats_listen",
     .set = cfg_set_stats_listen,
     .def = "off",
     .help = "address of the metrics page (GET /metrics): off or ADDR:PORT"},
    {.name = "stats_allow",
     .set = cfg_set_stats_allow,
     .def = "127.0.0.0/8 ::1",
     .flags = DIR_MULTI,
     .help = "who may read the metrics page: addresses, networks or all"},
    {.name = "user",
     .set = set_user,
     .flags = DIR_NODEF,
     .help = "user the workers switch to after binding"},
    {.name = "shape_delay",
     .set = cfg_set_ms,
     .def = "200ms",
     F(shape_delay_ms),
     .help = "warp: pause after the request line, 0-10s"},
    {.name = "shape_dummy_headers",
     .set = cfg_set_int,
     .def = "32",
     F(shape_dummy_headers),
     .min = 0,
     .max = 256,
     .help = "warp: dummy header lines after the request line"},
    {.name = "shape_dummy_length",
     .set = cfg_set_int,
     .def = "128",
     F(shape_dummy_length),
     .min = 1,
     .max = 1024,
     .help = "warp: bytes of a dummy header value"},
    {.name = "shape_dummy_name_length",
     .set = cfg_set_int,
     .def = "16",
     F(shape_dummy_name_length),
     .min = 1,
     .max = 64,
     .help = "warp: random letters after X- in a dummy header name"},
    {.name = "shape_fragment",
     .set = cfg_set_fragment,
     .def = "1 2-4",
     .flags = DIR_MULTI,
     .help = "warp: first Host fragment length, then the range of the others (1 2-4)"},
    {.name = "shape_fragment_delay",
     .set = cfg_set_frag_delays,
     .def = "200ms 300ms",
     .flags = DIR_MULTI,
     .help = "warp: 1-4 pauses, one picked at random before each Host fragment"},
    {.name = "shape_split_pos",
     .set = cfg_set_int,
     .def = "1",
     F(shape_split_pos),
     .min = 1,
     .max = 255,
     .help = "split inside the Host value after this many bytes"},
    {.name = "shape_split_method",
     .set = cfg_set_keyword,
     .def = "off",
     F(shape_split_method),
     .kw = onoff_words,
     .help = "also split the request line after the method"},
    {.name = "shape_split_path",
     .set = cfg_set_int,
     .def = "0",
     F(shape_split_path),
     .min = 0,
     .max = 8192,
     .help = "also split inside the path after this many bytes; 0 = no"},
    {.name = "shape_host_header",
     .set = cfg_set_host_name,
     .flags = DIR_NODEF,
     .help = "spelling of the Host field name: host, HOST, hOsT ..."},
    {.name = "shape_mixed_case",
     .set = cfg_set_keyword,
     .def = "off",
     F(shape_mixed_case),
     .kw = onoff_words,
     .help = "randomise the letter case of the Host value"},
    {.name = "shape_reused",
     .set = cfg_set_keyword,
     .def = "on",
     F(shape_reused),
     .kw = onoff_words,
     .help = "also shape requests sent on reused (keep-alive) upstream connections"},
    {.name = "tls_split",
     .set = cfg_set_keyword,
     .def = "segment",
     F(tls_split),
     .kw = tls_split_words,
     .help = "CONNECT: split the TLS ClientHello inside the SNI name"},
    {.name = "tls_split_ports",
     .set = cfg_set_tls_split_ports,
     .def = "443",
     .flags = DIR_MULTI,
     .help = "CONNECT ports whose ClientHello tls_split shapes, or 'any'"},
    {.name = "strategy",
     .set = cfg_set_strategy,
     .flags = DIR_NODEF | DIR_MULTI | DIR_REPEAT,
     .help = "a named list of shaping steps: strategy NAME STEP... (repeatable)"},
    {.name = "shape_fake_ttl",
     .set = cfg_set_int,
     .def = "8",
     F(shape_fake_ttl),
     .min = 1,
     .max = 255,
     .help = "fake: IP TTL of the fake piece (passes the censor, dies before the server)"},
    {.name = "shape_disorder_ttl",
     .set = cfg_set_int,
     .def = "1",
     F(shape_disorder_ttl),
     .min = 1,
     .max = 255,
     .help = "disorder: IP TTL of the piece sent first (dies at the first router)"},
    {.name = "shape_fake_host",
     .set = cfg_set_fake_name,
     .def = "www.example.com",
     F(shape_fake_host),
     .help = "fake: Host of the fake HTTP request"},
    {.name = "shape_fake_sni",
     .set = cfg_set_fake_name,
     .def = "www.example.com",
     F(shape_fake_sni),
     .help = "fake: server name of the fake TLS ClientHello"},
    {.name = "shape_auto",
     .set = cfg_set_shape_auto,
     .def = "split tlsrec oob disorder fake warp",
     .flags = DIR_MULTI,
     .help = "auto: the strategies to try, in order"},
    {.name = "shape_auto_timeout",
     .set = cfg_set_duration,
     .def = "5s",
     F(shape_auto_timeout),
     .help = "auto: no answer byte within this after the first flight means blocked"},
    {.name = "shape_auto_ttl",
     .set = cfg_set_duration,
     .def = "6h",
     F(shape_auto_ttl),
     .help = "auto: how long the strategy that worked is remembered per destination"},
    {.name = "shape_auto_fail_ttl",
     .set = cfg_set_duration,
     .def = "5m",
     F(shape_auto_fail_ttl),
     .help = "auto: how long 'nothing worked' is remembered per destination"},
    {.name = "shape_auto_cache",
     .set = cfg_set_int,
     .def = "4096",
     F(shape_auto_cache),
     .min = 64,
     .max = 1048576,
     .help = "auto: destinations the table shared by the workers holds"},
    {.name = "shape_auto_file",
     .set = cfg_set_path,
     .def = "off",
     F(shape_auto_file),
     .arg = PATH_OFF_EMPTY,
     .help = "auto: file the table is saved to at stop and loaded from at start; off"},
    {.name = "shape_auto_block_hosts",
     .set = cfg_set_block_hosts,
     .def = "off",
     .flags = DIR_MULTI,
     .help = "auto: a redirect to one of these hosts is a block page"},
    {.name = "shape_seed",
     .set = cfg_set_seed,
     .def = "0",
     .help = "seed of the shaping random generator; 0 = random per worker"},
};

#undef F

_Static_assert(WD_ARRAY_SIZE(directives) <= CFG_MAX_DIRECTIVES, "raise CFG_MAX_DIRECTIVES");

/* Every field at its default: zero, then each row's default text through the
 * row's own setter. A default that its setter refuses, or a row with neither a
 * default nor DIR_NODEF, is a bug in the table: say so and stop. */
void
config_init(struct config *c)
{
    const struct directive *d;
    char err[256];
    size_t i;

    memset(c, 0, sizeof(*c));
    for (i = 0; i < WD_ARRAY_SIZE(directives); i++) {
        d = &directives[i];
        if ((d->def == NULL) != ((d->flags & DIR_NODEF) != 0)) {
            fprintf(stderr, "warpd: directive '%s': a default or DIR_NODEF, not both or none\n",
                    d->name);
            abort();
        }
        if (d->def != NULL && d->set(c, d, d->def, 0, err, sizeof(err)) < 0) {
            fprintf(stderr, "warpd: directive '%s': bad default '%s': %s\n", d->name, d->def, err);
            abort();
        }
    }
    /* What a line or an option sets from here on is the user's choice;
     * config_finish fills in the defaults that depend on the mode and the
     * listen addresses only where the user made none. */
    c->shape_given = 0;
    c->connect_ports_given = 0;
}

/* The defaults that depend on the whole: shape off where there is rarely a
 * censor (reverse and tcp modes; forward and transparent stay shaped), and
 * CONNECT to every port but the browsers' bad ports when warpd serves only
 * its own machine (a person's proxy: WebSockets on any port), 443 when it
 * listens on a network. */
static void
finish_defaults(struct config *c)
{
    int i, local = 1;

    if (!c->shape_given && (c->mode == MODE_REVERSE || c->mode == MODE_TCP))
        c->shape = SHAPE_OFF;
    for (i = 0; i < c->nlisten; i++)
        if (!addr_is_loopback((const struct sockaddr *)&c->listen[i].addr))
            local = 0;
    c->connect_ports_open = !c->connect_ports_given && local;
}

int
config_directive(size_t i, const char **name, const char **def)
{
    if (i >= WD_ARRAY_SIZE(directives))
        return 0;
    *name = directives[i].name;
    *def = directives[i].def;
    return 1;
}

int
config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen)
{
    const struct directive *d = cfg_lookup(directives, WD_ARRAY_SIZE(directives), name);
    const char *p;

    if (d == NULL)
        return cfg_fail_unknown(err, errlen, name);
    if (value == NULL) {
        snprintf(err, errlen, "missing value");
        return -1;
    }
    /* The file parser has already refused these; the command line has not. */
    for (p = value; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return cfg_failv(err, errlen, "control character in value", value);
    return d->set(c, d, value, 0, err, errlen);
}

/* auth_user outside forward mode. The mode may come later in the file, or
 * from -m, so this is checked on the whole; the message still names the
 * line of the first auth_user when there is a file. */
static int
check_auth_mode(const struct config *c, char *err, size_t errlen)
{
    char where[CFG_PATHMAX + 32] = "";

    if (c->nauth_users == 0 || c->mode == MODE_FORWARD)
        return 0;
    if (c->path[0] != '\0' && c->auth_line > 0)
        snprintf(where, sizeof(where), "%s:%d: ", c->path, c->auth_line);
    snprintf(err, errlen,
             "%sauth_user: proxy authentication works only in forward mode, and the mode is %s "
             "(clients of a %s do not send Proxy-Authorization)",
             where, config_mode_name(c->mode), c->mode == MODE_TCP ? "TCP relay" : "reverse proxy");
    return -1;
}

int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    return cfg_file_read(c, path, directives, WD_ARRAY_SIZE(directives), err, errlen);
}

int
config_finish(struct config *c, char *err, size_t errlen)
{
    if (c->nlisten == 0) {
        snprintf(err, errlen, "no listen address");
        return -1;
    }
    if (c->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        c->workers = n < 1 ? 1 : n > CFG_MAX_WORKERS ? CFG_MAX_WORKERS : (int)n;
    }
    if (c->upstream_pp != 0 && (c->mode == MODE_FORWARD || c->mode == MODE_TRANSPARENT)) {
        snprintf(err, errlen,
                 "upstream_proxy_protocol works in tcp and reverse modes only (forward mode has no "
                 "one upstream)");
        return -1;
    }
    if ((c->mode == MODE_REVERSE || c->mode == MODE_TCP) && c->upstream_host[0] == '\0') {
        snprintf(err, errlen, "mode %s needs an upstream (directive 'upstream' or option -u)",
                 config_mode_name(c->mode));
        return -1;
    }
    if ((c->mode == MODE_FORWARD || c->mode == MODE_TRANSPARENT) && c->upstream_host[0] != '\0') {
        snprintf(err, errlen, "upstream is used only in reverse and tcp modes");
        return -1;
    }
    if (c->mode != MODE_REVERSE && c->upstream_host_header[0] != '\0') {
        snprintf(err, errlen, "upstream_host is used only in reverse mode");
        return -1;
    }
    finish_defaults(c);
    if (cfg_dest_check_mode(c, err, errlen) < 0)
        return -1;
    return check_auth_mode(c, err, errlen);
}

/* Formats a command-line error as "option -x: problem". */
static int
opt_fail(char *err, size_t errlen, const char *opt, const char *msg)
{
    snprintf(err, errlen, "option %s: %s", opt, msg);
    return -1;
}

int
config_build(struct config *out, const struct cli_opts *o, char *err, size_t errlen)
{
    /* Scratch copy: *out changes only when the whole config is valid. */
    struct config c;
    char msg[512], text[ADDR_HOSTMAX + 16];
    const struct {
        const char *opt, *name, *value;
    } sets[] = {
        {"-w", "workers", o->workers},
        {"-m", "mode", o->mode},
        {"-u", "upstream", o->upstream},
        {"-s", "shape", o->shape},
    };
    size_t i;
    int k;

    config_init(&c);
    if (o->config_path != NULL && config_load_file(&c, o->config_path, err, errlen) < 0)
        return -1;
    /* -s sets the default strategy only; host rules belong in the file. */
    if (o->shape != NULL && strpbrk(o->shape, " \t") != NULL)
        return opt_fail(err, errlen, "-s",
                        "expected one strategy name (host rules go in the file)");

    /* -l, -H and -p all replace the file's listen list. */
    if (o->nlisten > 0 || o->warp_host != NULL || o->warp_port != NULL) {
        cfg_listen_clear(&c);
        for (k = 0; k < o->nlisten; k++)
            if (cfg_listen_add(&c, o->listen[k], 0, msg, sizeof(msg)) < 0)
                return opt_fail(err, errlen, "-l", msg);
        if (o->warp_host != NULL || o->warp_port != NULL) {
            const char *h = o->warp_host != NULL ? o->warp_host : "127.0.0.1";
            const char *p = o->warp_port != NULL ? o->warp_port : "8800";
            const char *opt = o->warp_host == NULL ? "-p" : o->warp_port == NULL ? "-H" : "-H/-p";
            /* An IPv6 host needs brackets once a port follows it. */
            int v6 = strchr(h, ':') != NULL && h[0] != '[';

            if (strlen(h) + strlen(p) + 4 > sizeof(text))
                return opt_fail(err, errlen, opt, "address too long");
            snprintf(text, sizeof(text), "%s%s%s:%s", v6 ? "[" : "", h, v6 ? "]" : "", p);
            if (cfg_listen_add(&c, text, 0, msg, sizeof(msg)) < 0)
                return opt_fail(err, errlen, opt, msg);
        }
    }
    for (i = 0; i < WD_ARRAY_SIZE(sets); i++)
        if (sets[i].value != NULL &&
            config_set(&c, sets[i].name, sets[i].value, msg, sizeof(msg)) < 0)
            return opt_fail(err, errlen, sets[i].opt, msg);
    if (o->verbose > 0)
        c.log_level =
            c.log_level + o->verbose > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : c.log_level + o->verbose;
    if (o->quiet) {
        c.log_level = LOG_LVL_ERROR; /* -q wins over -v */
        strcpy(c.access_log, "off"); /* errors only: no access lines either */
    }

    /* auth_user in the wrong mode has a line to point at: checked first,
     * with its own location. */
    if (check_auth_mode(&c, err, errlen) < 0 || cfg_dest_check_mode(&c, err, errlen) < 0)
        return -1;
    /* Whole-config problems name the file, when there is one, so that the
     * operator knows where to look; they have no single line to point at. */
    if (config_finish(&c, msg, sizeof(msg)) < 0) {
        if (c.path[0] != '\0')
            snprintf(err, errlen, "%s: %s", c.path, msg);
        else
            snprintf(err, errlen, "%s", msg);
        return -1;
    }
    *out = c;
    return 0;
}

const char *
config_mode_name(enum cfg_mode m)
{
    switch (m) {
    case MODE_FORWARD:
        return "forward";
    case MODE_REVERSE:
        return "reverse";
    case MODE_TCP:
        return "tcp";
    case MODE_TRANSPARENT:
        return "transparent";
    }
    return "?";
}
