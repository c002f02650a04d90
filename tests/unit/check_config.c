/* Unit tests for src/config*.c and src/proc/cli.c: defaults, every directive good
 * and bad, exact "file:line: message" errors from real files in a temporary
 * directory, the whole-config checks, file-then-command-line precedence,
 * getopt handling of argv arrays including the -h/-V and error paths, and
 * the defaults that conf/warpd.conf and warpd.conf(5) show against the table. */
#include <check.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "tutil.h"

/* What a word that names no strategy is told it should have been. */
#define STRATEGIES                                                                                 \
    "off, split, warp, disorder, fake, oob, tlsrec, auto or the name of a strategy line above"

/* Writes len bytes of text to tu_tmpdir()/name and returns the path (static). */
static const char *
write_file_n(const char *name, const char *text, size_t len)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tu_tmpdir(), name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *
write_file(const char *name, const char *text)
{
    return write_file_n(name, text, strlen(text));
}

/* ---- defaults ------------------------------------------------------------ */

START_TEST(test_defaults)
{
    struct config c;
    char err[512] = "";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    config_init(&c);
    ck_assert_int_eq(c.nlisten, 1);
    ck_assert_str_eq(c.listen[0].text, "127.0.0.1:8800");
    ck_assert_int_eq(c.listen[0].addr.ss_family, AF_INET);
    ck_assert_int_eq(c.workers, 0); /* auto until config_finish */
    ck_assert_int_eq(c.mode, MODE_FORWARD);
    ck_assert_str_eq(c.upstream_host, "");
    ck_assert_int_eq(c.shape, SHAPE_SPLIT);
    ck_assert_double_eq(c.connect_timeout, 10);
    ck_assert_double_eq(c.resolve_timeout, 5);
    ck_assert_double_eq(c.idle_timeout, 300);
    ck_assert_double_eq(c.shutdown_timeout, 10);
    ck_assert_int_eq(c.max_connections, 4096);
    ck_assert_str_eq(c.resolver, "");
    ck_assert_str_eq(c.log, "stderr");
    ck_assert_int_eq(c.log_level, LOG_LVL_INFO);
    ck_assert_str_eq(c.access_log, "stderr");
    ck_assert_str_eq(c.pidfile, "");
    ck_assert_str_eq(c.user, "");
    ck_assert_str_eq(c.path, "");
    ck_assert_double_eq(c.header_timeout, 30);
    ck_assert_double_eq(c.keepalive_timeout, 60);
    ck_assert_double_eq(c.response_timeout, 60);
    ck_assert_uint_eq(c.max_header_size, 65536);
    ck_assert_int_eq(c.nconnect_ports, 1);
    ck_assert_uint_eq(c.connect_ports[0].lo, 443);
    ck_assert_uint_eq(c.connect_ports[0].hi, 443);
    ck_assert_int_eq(config_port_allowed(&c, 443), 1);
    ck_assert_int_eq(config_port_allowed(&c, 80), 0);
    ck_assert_int_eq(config_port_allowed(&c, 0), 0);
    ck_assert_int_eq(c.via, 1);
    ck_assert_str_eq(c.upstream_host_header, "");
    ck_assert_int_eq(c.upstream_keepalive, -1); /* auto */
    ck_assert_double_eq(c.upstream_keepalive_timeout, 30);
    ck_assert_int_eq(c.nacl, 0); /* no rules: every client is allowed */
    /* Shaping: WARP's numbers. */
    ck_assert_int_eq(c.nshape_rules, 0);
    ck_assert_int_eq(config_shape_for(&c, "example.com"), SHAPE_SPLIT);
    ck_assert_int_eq(c.shape_delay_ms, 200);
    ck_assert_int_eq(c.shape_dummy_headers, 32);
    ck_assert_int_eq(c.shape_dummy_length, 128);
    ck_assert_int_eq(c.shape_dummy_name_length, 16);
    ck_assert_int_eq(c.shape_frag_first, 1);
    ck_assert_int_eq(c.shape_frag_min, 2);
    ck_assert_int_eq(c.shape_frag_max, 4);
    ck_assert_int_eq(c.nshape_frag_delays, 2);
    ck_assert_int_eq(c.shape_frag_delays[0], 200);
    ck_assert_int_eq(c.shape_frag_delays[1], 300);
    ck_assert_int_eq(c.shape_frag_delays[2], 0);
    ck_assert_int_eq(c.shape_split_pos, 1);
    ck_assert_int_eq(c.shape_split_method, 0);
    ck_assert_int_eq(c.shape_split_path, 0);
    ck_assert_str_eq(c.shape_host_header, "");
    ck_assert_int_eq(c.shape_mixed_case, 0);
    ck_assert_int_eq(c.shape_reused, 1);
    ck_assert_int_eq(c.tls_split, CFG_TLS_SPLIT_SEGMENT);
    ck_assert_int_eq(c.tls_split, 1);
    ck_assert_int_eq(c.ntls_split_ports, 1);
    ck_assert_int_eq(config_tls_split_port(&c, 443), 1);
    ck_assert_int_eq(config_tls_split_port(&c, 8443), 0);
    ck_assert_int_eq(config_tls_split_port(&c, 0), 0);
    ck_assert(c.shape_seed == 0);

    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.workers, cpus > CFG_MAX_WORKERS ? CFG_MAX_WORKERS : cpus);
    ck_assert_str_eq(config_mode_name(c.mode), "forward");
    ck_assert_str_eq(config_shape_name(&c, c.shape), "split");
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(config_mode_name(MODE_REVERSE), "reverse");
    ck_assert_str_eq(config_mode_name(MODE_TCP), "tcp");
    ck_assert_str_eq(config_mode_name((enum cfg_mode)42), "?");
    ck_assert_str_eq(config_shape_name(NULL, SHAPE_OFF), "off");
    ck_assert_str_eq(config_shape_name(NULL, SHAPE_WARP), "warp");
    ck_assert_str_eq(config_shape_name(NULL, 42), "?");
}
END_TEST

/* ---- config_set: every directive, good and bad ----------------------------- */

/* A port list as "443,1024-65535", the stored (merged, sorted) form. */
static void
range_text(const struct cfg_port_range *r, int n, char *buf, size_t len)
{
    size_t o = 0;
    int i;

    buf[0] = '\0';
    for (i = 0; i < n && o < len; i++) {
        if (r[i].lo == r[i].hi)
            o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? "," : "", (unsigned)r[i].lo);
        else
            o += (size_t)snprintf(buf + o, len - o, "%s%u-%u", i ? "," : "", (unsigned)r[i].lo,
                                  (unsigned)r[i].hi);
    }
}

static void
ports_text(const struct config *c, char *buf, size_t len)
{
    range_text(c->connect_ports, c->nconnect_ports, buf, len);
}

/* The default strategy, then each rule as " pattern=strategy" in order. */
static void
shape_text(const struct config *c, char *buf, size_t len)
{
    size_t o;
    int i;

    o = (size_t)snprintf(buf, len, "%s", config_shape_name(c, c->shape));
    for (i = 0; i < c->nshape_rules && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, " %s=%s", c->shape_rules[i].pattern,
                              config_shape_name(c, c->shape_rules[i].shape));
}

/* The allow and deny rules in order, as "allow 10.0.0.0/8,deny all". */
static void
acl_text(const struct config *c, char *buf, size_t len)
{
    char r[ACL_TEXTLEN];
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; i < c->nacl && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
                              acl_format(&c->acl[i], r, sizeof(r)));
}

/* The value of one directive's field as text, so one table can check them all. */
static void
field_text(const struct config *c, const char *name, char *buf, size_t len)
{
    if (strcmp(name, "listen") == 0)
        snprintf(buf, len, "%s", c->listen[c->nlisten - 1].text);
    else if (strcmp(name, "workers") == 0)
        snprintf(buf, len, "%d", c->workers);
    else if (strcmp(name, "mode") == 0)
        snprintf(buf, len, "%s", config_mode_name(c->mode));
    else if (strcmp(name, "shape") == 0)
        shape_text(c, buf, len);
    else if (strcmp(name, "upstream") == 0)
        snprintf(buf, len, "%s|%u", c->upstream_host, (unsigned)c->upstream_port);
    else if (strcmp(name, "connect_timeout") == 0)
        snprintf(buf, len, "%g", c->connect_timeout);
    else if (strcmp(name, "resolve_timeout") == 0)
        snprintf(buf, len, "%g", c->resolve_timeout);
    else if (strcmp(name, "idle_timeout") == 0)
        snprintf(buf, len, "%g", c->idle_timeout);
    else if (strcmp(name, "shutdown_timeout") == 0)
        snprintf(buf, len, "%g", c->shutdown_timeout);
    else if (strcmp(name, "max_connections") == 0)
        snprintf(buf, len, "%d", c->max_connections);
    else if (strcmp(name, "resolver") == 0)
        snprintf(buf, len, "%s", c->resolver);
    else if (strcmp(name, "log") == 0)
        snprintf(buf, len, "%s", c->log);
    else if (strcmp(name, "log_level") == 0)
        snprintf(buf, len, "%d", c->log_level);
    else if (strcmp(name, "access_log") == 0)
        snprintf(buf, len, "%s", c->access_log);
    else if (strcmp(name, "pidfile") == 0)
        snprintf(buf, len, "%s", c->pidfile);
    else if (strcmp(name, "user") == 0)
        snprintf(buf, len, "%s", c->user);
    else if (strcmp(name, "header_timeout") == 0)
        snprintf(buf, len, "%g", c->header_timeout);
    else if (strcmp(name, "keepalive_timeout") == 0)
        snprintf(buf, len, "%g", c->keepalive_timeout);
    else if (strcmp(name, "response_timeout") == 0)
        snprintf(buf, len, "%g", c->response_timeout);
    else if (strcmp(name, "upstream_keepalive_timeout") == 0)
        snprintf(buf, len, "%g", c->upstream_keepalive_timeout);
    else if (strcmp(name, "max_header_size") == 0)
        snprintf(buf, len, "%zu", c->max_header_size);
    else if (strcmp(name, "connect_ports") == 0)
        ports_text(c, buf, len);
    else if (strcmp(name, "allow") == 0 || strcmp(name, "deny") == 0)
        acl_text(c, buf, len);
    else if (strcmp(name, "via") == 0)
        snprintf(buf, len, "%d", c->via);
    else if (strcmp(name, "upstream_host") == 0)
        snprintf(buf, len, "%s", c->upstream_host_header);
    else if (strcmp(name, "upstream_keepalive") == 0)
        snprintf(buf, len, "%d", c->upstream_keepalive);
    else if (strcmp(name, "shape_delay") == 0)
        snprintf(buf, len, "%d", c->shape_delay_ms);
    else if (strcmp(name, "shape_dummy_headers") == 0)
        snprintf(buf, len, "%d", c->shape_dummy_headers);
    else if (strcmp(name, "shape_dummy_length") == 0)
        snprintf(buf, len, "%d", c->shape_dummy_length);
    else if (strcmp(name, "shape_dummy_name_length") == 0)
        snprintf(buf, len, "%d", c->shape_dummy_name_length);
    else if (strcmp(name, "shape_fragment") == 0)
        snprintf(buf, len, "%d %d-%d", c->shape_frag_first, c->shape_frag_min, c->shape_frag_max);
    else if (strcmp(name, "shape_fragment_delay") == 0)
        snprintf(buf, len, "%d:%d,%d,%d,%d", c->nshape_frag_delays, c->shape_frag_delays[0],
                 c->shape_frag_delays[1], c->shape_frag_delays[2], c->shape_frag_delays[3]);
    else if (strcmp(name, "shape_split_pos") == 0)
        snprintf(buf, len, "%d", c->shape_split_pos);
    else if (strcmp(name, "shape_split_method") == 0)
        snprintf(buf, len, "%d", c->shape_split_method);
    else if (strcmp(name, "shape_split_path") == 0)
        snprintf(buf, len, "%d", c->shape_split_path);
    else if (strcmp(name, "shape_host_header") == 0)
        snprintf(buf, len, "%s", c->shape_host_header);
    else if (strcmp(name, "shape_mixed_case") == 0)
        snprintf(buf, len, "%d", c->shape_mixed_case);
    else if (strcmp(name, "shape_reused") == 0)
        snprintf(buf, len, "%d", c->shape_reused);
    else if (strcmp(name, "tls_split") == 0)
        snprintf(buf, len, "%d", c->tls_split);
    else if (strcmp(name, "tls_split_ports") == 0)
        range_text(c->tls_split_ports, c->ntls_split_ports, buf, len);
    else if (strcmp(name, "shape_seed") == 0)
        snprintf(buf, len, "%llu", (unsigned long long)c->shape_seed);
    else
        ck_abort_msg("no field for %s", name);
}

static const struct {
    const char *name, *value, *want;
} set_ok[] = {
    {"listen", "9000", "127.0.0.1:9000"},
    {"listen", "[::1]:9000", "[::1]:9000"},
    {"listen", "*:80", "0.0.0.0:80"},
    {"workers", "1", "1"},
    {"workers", "4", "4"},
    {"workers", "64", "64"},
    {"workers", "auto", "0"},
    {"mode", "forward", "forward"},
    {"mode", "reverse", "reverse"},
    {"mode", "tcp", "tcp"},
    {"upstream", "example.com:80", "example.com|80"},
    {"upstream", "10.0.0.1:8080", "10.0.0.1|8080"},
    {"upstream", "[::1]:443", "::1|443"},
    {"shape", "off", "off"},
    {"shape", "split", "split"},
    {"shape", "warp", "warp"},
    {"connect_timeout", "10", "10"},
    {"connect_timeout", "1.5", "1.5"},
    {"resolve_timeout", "10s", "10"},
    {"resolve_timeout", "500ms", "0.5"},
    {"idle_timeout", "2m", "120"},
    {"idle_timeout", "1h", "3600"},
    {"shutdown_timeout", "24h", "86400"},
    {"shutdown_timeout", "86400", "86400"},
    {"shutdown_timeout", "0.25s", "0.25"},
    {"max_connections", "1", "1"},
    {"max_connections", "1000000", "1000000"},
    {"resolver", "system", ""},
    {"resolver", "1.1.1.1", "1.1.1.1"},
    {"resolver", "1.1.1.1:5353", "1.1.1.1:5353"},
    {"resolver", "1.1.1.1:5353 [2001:DB8::0001]:53 ::1 9.9.9.9",
     "1.1.1.1:5353,[2001:db8::1]:53,::1,9.9.9.9"},
    {"resolver", "[2001:db8::1]", "2001:db8::1"},
    {"log", "stderr", "stderr"},
    {"log", "/var/log/warpd.log", "/var/log/warpd.log"},
    {"log_level", "error", "0"},
    {"log_level", "warn", "1"},
    {"log_level", "info", "2"},
    {"log_level", "debug", "3"},
    {"access_log", "off", "off"},
    {"access_log", "stderr", "stderr"},
    {"access_log", "/var/log/access.log", "/var/log/access.log"},
    {"pidfile", "off", ""},
    {"pidfile", "/run/warpd.pid", "/run/warpd.pid"},
    {"user", "nobody", "nobody"},
    {"user", "www-data", "www-data"},
    {"user", "root", "root"},
    {"header_timeout", "5", "5"},
    {"header_timeout", "250ms", "0.25"},
    {"keepalive_timeout", "0", "0"},
    {"keepalive_timeout", "0ms", "0"},
    {"keepalive_timeout", "75s", "75"},
    {"keepalive_timeout", "24h", "86400"},
    {"response_timeout", "2m", "120"},
    {"upstream_keepalive_timeout", "1.5", "1.5"},
    {"max_header_size", "1024", "1024"},
    {"max_header_size", "1k", "1024"},
    {"max_header_size", "8K", "8192"},
    {"max_header_size", "64k", "65536"},
    {"max_header_size", "1024k", "1048576"},
    {"max_header_size", "1048576", "1048576"},
    {"max_header_size", "0001k", "1024"},
    {"connect_ports", "443", "443"},
    {"connect_ports", "any", "1-65535"},
    {"connect_ports", "1-65535", "1-65535"},
    {"connect_ports", "443 8443 1024-65535", "443,1024-65535"},
    {"connect_ports", "8443 443 80", "80,443,8443"},
    {"connect_ports", "  443  563  ", "443,563"},
    {"connect_ports", "443 443 444 442", "442-444"},
    {"connect_ports", "10-20 30-40 15-35", "10-40"},
    {"connect_ports", "10-20 21-30 5-9 50", "5-30,50"},
    {"connect_ports", "65535 1", "1,65535"},
    {"connect_ports", "7-7", "7"},
    {"via", "on", "1"},
    {"via", "off", "0"},
    {"upstream_host", "example.com", "example.com"},
    {"upstream_host", "Origin.Test:8080", "Origin.Test:8080"},
    {"upstream_host", "10.0.0.1", "10.0.0.1"},
    {"upstream_host", "[2001:db8::1]", "[2001:db8::1]"},
    {"upstream_host", "[::ffff:1.2.3.4]:443", "[::ffff:1.2.3.4]:443"},
    {"upstream_host", "my_host-1.internal", "my_host-1.internal"},
    {"upstream_keepalive", "0", "0"},
    {"upstream_keepalive", "1024", "1024"},
    {"upstream_keepalive", "auto", "-1"},
    /* shaping: patterns are lowercased and kept in order, one rule each */
    {"shape", "warp example.com", "split example.com=warp"},
    {"shape", "off *.Example.COM  a-1.b2.test  *", "split *.example.com=off a-1.b2.test=off *=off"},
    {"shape", "split *", "split *=split"},
    {"shape", "warp x", "split x=warp"},
    {"shape_delay", "0", "0"},
    {"shape_delay", "0ms", "0"},
    {"shape_delay", "200ms", "200"},
    {"shape_delay", "0.3", "300"},
    {"shape_delay", "1.5s", "1500"},
    {"shape_delay", "10s", "10000"},
    {"shape_delay", "10000ms", "10000"},
    {"shape_delay", "0.0004", "0"}, /* rounded to the nearest millisecond */
    {"shape_delay", "0.0015", "2"},
    {"shape_dummy_headers", "0", "0"},
    {"shape_dummy_headers", "256", "256"},
    {"shape_dummy_length", "1", "1"},
    {"shape_dummy_length", "1024", "1024"},
    {"shape_dummy_name_length", "1", "1"},
    {"shape_dummy_name_length", "64", "64"},
    {"shape_fragment", "1 2-4", "1 2-4"},
    {"shape_fragment", "64 64-64", "64 64-64"},
    {"shape_fragment", "3 1-64", "3 1-64"},
    {"shape_fragment", " 2  5-5 ", "2 5-5"},
    {"shape_fragment_delay", "0", "1:0,0,0,0"},
    {"shape_fragment_delay", "10s", "1:10000,0,0,0"},
    {"shape_fragment_delay", "100ms 0.2 1s 0", "4:100,200,1000,0"},
    {"shape_fragment_delay", " 50ms   60ms ", "2:50,60,0,0"},
    {"shape_split_pos", "1", "1"},
    {"shape_split_pos", "255", "255"},
    {"shape_split_method", "on", "1"},
    {"shape_split_method", "off", "0"},
    {"shape_split_path", "0", "0"},
    {"shape_split_path", "8192", "8192"},
    {"shape_host_header", "host", "host"},
    {"shape_host_header", "HOST", "HOST"},
    {"shape_host_header", "hOsT", "hOsT"},
    {"shape_host_header", "Host", "Host"},
    {"shape_mixed_case", "on", "1"},
    {"shape_mixed_case", "off", "0"},
    {"shape_reused", "off", "0"},
    {"shape_reused", "on", "1"},
    {"tls_split", "off", "0"},
    {"tls_split", "segment", "1"},
    {"tls_split", "record", "2"},
    {"tls_split_ports", "443", "443"},
    {"tls_split_ports", "8443 443 444", "443-444,8443"},
    {"tls_split_ports", "any", "1-65535"},
    {"allow", "all", "allow all"},
    {"allow", "127.0.0.1", "allow 127.0.0.1"},
    {"allow", "10.0.0.0/8 192.0.2.0/24  ::1", "allow 10.0.0.0/8,allow 192.0.2.0/24,allow ::1"},
    {"allow", "::ffff:10.0.0.0/104", "allow 10.0.0.0/8"},
    {"deny", "all", "deny all"},
    {"deny", "192.0.2.7 192.0.2.0/24", "deny 192.0.2.7,deny 192.0.2.0/24"},
    {"deny", "2001:DB8::/32", "deny 2001:db8::/32"},
    {"shape_seed", "0", "0"},
    {"shape_seed", "1", "1"},
    {"shape_seed", "18446744073", "18446744073"},
    {"shape_seed", "9223372036854775807", "9223372036854775807"},
    {"shape_seed", "9223372036854775808", "9223372036854775808"},
    {"shape_seed", "0009223372036854775808", "9223372036854775808"},
};

START_TEST(test_set_ok)
{
    struct config c;
    char err[512] = "", got[CFG_PATHMAX + 64];

    config_init(&c);
    ck_assert_msg(config_set(&c, set_ok[_i].name, set_ok[_i].value, err, sizeof(err)) == 0,
                  "%s %s: %s", set_ok[_i].name, set_ok[_i].value, err);
    field_text(&c, set_ok[_i].name, got, sizeof(got));
    ck_assert_str_eq(got, set_ok[_i].want);
}
END_TEST

static const struct {
    const char *name, *value, *err;
} set_bad[] = {
    {"lisen", "1", "unknown directive 'lisen'"},
    {"listen", "127.0.0.1", "missing port in '127.0.0.1'"},
    {"listen", "localhost:80",
     "not a numeric address (names are not allowed here) in 'localhost:80'"},
    {"listen", "127.0.0.1:8800", "duplicate address 127.0.0.1:8800"},
    {"workers", "x", "expected 1-64 or 'auto', got 'x'"},
    {"workers", "0", "expected 1-64 or 'auto', got '0'"},
    {"workers", "65", "expected 1-64 or 'auto', got '65'"},
    {"workers", "-1", "expected 1-64 or 'auto', got '-1'"},
    {"workers", "+4", "expected 1-64 or 'auto', got '+4'"},
    {"workers", "4 ", "expected 1-64 or 'auto', got '4 '"},
    {"workers", "", "expected 1-64 or 'auto', got ''"},
    {"workers", "AUTO", "expected 1-64 or 'auto', got 'AUTO'"},
    {"workers", "99999999999999999999999",
     "expected 1-64 or 'auto', got '99999999999999999999999'"},
    {"mode", "fast", "expected forward, reverse, tcp or transparent, got 'fast'"},
    {"mode", "forward;", "expected forward, reverse, tcp or transparent, got 'forward;'"},
    {"mode", "Forward", "expected forward, reverse, tcp or transparent, got 'Forward'"},
    {"shape", "on", "expected " STRATEGIES ", got 'on'"},
    {"log_level", "verbose", "expected error, warn, info or debug, got 'verbose'"},
    {"upstream", "example.com", "missing port in 'example.com'"},
    {"upstream", "example.com:0", "port out of range in 'example.com:0'"},
    {"upstream", "a b:80", "invalid character in host name in 'a b:80'"},
    {"connect_timeout", "0", "expected a duration more than 0 and at most 1 day, got '0'"},
    {"connect_timeout", "0ms", "expected a duration more than 0 and at most 1 day, got '0ms'"},
    {"resolve_timeout", "25h", "expected a duration more than 0 and at most 1 day, got '25h'"},
    {"idle_timeout", "86401", "expected a duration more than 0 and at most 1 day, got '86401'"},
    {"idle_timeout", "1441m", "expected a duration more than 0 and at most 1 day, got '1441m'"},
    {"shutdown_timeout", "-1",
     "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '-1'"},
    {"shutdown_timeout", "1.5x",
     "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '1.5x'"},
    {"shutdown_timeout", "10 s",
     "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '10 s'"},
    {"shutdown_timeout", "inf",
     "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got 'inf'"},
    {"max_connections", "0", "expected 1-1000000, got '0'"},
    {"max_connections", "1000001", "expected 1-1000000, got '1000001'"},
    {"max_connections", "lots", "expected 1-1000000, got 'lots'"},
    {"resolver", "dns.google",
     "expected 'system' or numeric addresses such as 192.0.2.1, 192.0.2.1:53 or "
     "[2001:db8::1]:53, got 'dns.google'"},
    {"resolver", "1.1.1.1 8.8.8.8:0",
     "expected 'system' or numeric addresses such as 192.0.2.1, 192.0.2.1:53 or "
     "[2001:db8::1]:53, got '8.8.8.8:0'"},
    {"resolver", "[1.2.3.4]:53",
     "expected 'system' or numeric addresses such as 192.0.2.1, 192.0.2.1:53 or "
     "[2001:db8::1]:53, got '[1.2.3.4]:53'"},
    {"resolver", "1.2.3.4:",
     "expected 'system' or numeric addresses such as 192.0.2.1, 192.0.2.1:53 or "
     "[2001:db8::1]:53, got '1.2.3.4:'"},
    {"resolver", "system 1.1.1.1", "'system' cannot be mixed with addresses, got 'system 1.1.1.1'"},
    {"resolver", "", "expected 'system' or numeric addresses, got ''"},
    {"log", "warpd.log", "expected 'stderr' or an absolute path, got 'warpd.log'"},
    {"log", "off", "expected 'stderr' or an absolute path, got 'off'"},
    {"access_log", "logs/a.log", "expected 'off', 'stderr' or an absolute path, got 'logs/a.log'"},
    {"pidfile", "stderr", "expected 'off' or an absolute path, got 'stderr'"},
    {"pidfile", "run/warpd.pid", "expected 'off' or an absolute path, got 'run/warpd.pid'"},
    {"user", "-x", "expected a user name, got '-x'"},
    {"user", "a/b", "expected a user name, got 'a/b'"},
    {"user", "", "expected a user name, got ''"},
    {"user", "svc_1.x", "unknown user 'svc_1.x'"},
    {"mode", "tc\001p", "control character in value, got 'tc\\x01p'"},
    {"header_timeout", "0", "expected a duration more than 0 and at most 1 day, got '0'"},
    {"response_timeout", "25h", "expected a duration more than 0 and at most 1 day, got '25h'"},
    {"upstream_keepalive_timeout", "0",
     "expected a duration more than 0 and at most 1 day, got '0'"},
    {"keepalive_timeout", "86401", "expected a duration from 0 to 1 day, got '86401'"},
    {"keepalive_timeout", "-1",
     "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '-1'"},
    {"keepalive_timeout", "off",
     "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got 'off'"},
    {"max_header_size", "1023", "expected a size of 1024-1048576 bytes or 1k-1024k, got '1023'"},
    {"max_header_size", "1048577",
     "expected a size of 1024-1048576 bytes or 1k-1024k, got '1048577'"},
    {"max_header_size", "0k", "expected a size of 1024-1048576 bytes or 1k-1024k, got '0k'"},
    {"max_header_size", "1025k", "expected a size of 1024-1048576 bytes or 1k-1024k, got '1025k'"},
    {"max_header_size", "1m", "expected a size of 1024-1048576 bytes or 1k-1024k, got '1m'"},
    {"max_header_size", "k", "expected a size of 1024-1048576 bytes or 1k-1024k, got 'k'"},
    {"max_header_size", "64kb", "expected a size of 1024-1048576 bytes or 1k-1024k, got '64kb'"},
    {"max_header_size", "1.5k", "expected a size of 1024-1048576 bytes or 1k-1024k, got '1.5k'"},
    {"max_header_size", "-64k", "expected a size of 1024-1048576 bytes or 1k-1024k, got '-64k'"},
    {"max_header_size", "99999999999999999999k",
     "expected a size of 1024-1048576 bytes or 1k-1024k, got '99999999999999999999k'"},
    {"max_header_size", "", "expected a size of 1024-1048576 bytes or 1k-1024k, got ''"},
    {"connect_ports", "https",
     "expected ports and ranges such as 443 1024-65535, or 'any', got 'https'"},
    {"connect_ports", "443 x1",
     "expected ports and ranges such as 443 1024-65535, or 'any', got 'x1'"},
    {"connect_ports", "+443",
     "expected ports and ranges such as 443 1024-65535, or 'any', got '+443'"},
    {"connect_ports", "-443",
     "expected ports and ranges such as 443 1024-65535, or 'any', got '-443'"},
    {"connect_ports", "443-",
     "expected ports and ranges such as 443 1024-65535, or 'any', got '443-'"},
    {"connect_ports", "1-2-3",
     "expected ports and ranges such as 443 1024-65535, or 'any', got '1-2-3'"},
    {"connect_ports", "443,8443",
     "expected ports and ranges such as 443 1024-65535, or 'any', got '443,8443'"},
    {"connect_ports", "", "expected ports and ranges such as 443 1024-65535, or 'any', got ''"},
    {"connect_ports", "  ", "expected ports and ranges such as 443 1024-65535, or 'any', got '  '"},
    {"connect_ports", "ANY",
     "expected ports and ranges such as 443 1024-65535, or 'any', got 'ANY'"},
    {"connect_ports", "0", "port out of range (1-65535), got '0'"},
    {"connect_ports", "0-443", "port out of range (1-65535), got '0-443'"},
    {"connect_ports", "443 65536", "port out of range (1-65535), got '65536'"},
    {"connect_ports", "1024-70000", "port out of range (1-65535), got '1024-70000'"},
    {"connect_ports", "99999999999", "port out of range (1-65535), got '99999999999'"},
    {"connect_ports", "2000-1000", "port range runs backwards, got '2000-1000'"},
    {"connect_ports", "443 any", "'any' cannot be mixed with ports, got '443 any'"},
    {"via", "yes", "expected on or off, got 'yes'"},
    {"via", "1", "expected on or off, got '1'"},
    {"upstream_host", "",
     "expected a host with an optional port, such as example.com:8080, got ''"},
    {"upstream_host", "a b",
     "expected a host with an optional port, such as example.com:8080, got 'a b'"},
    {"upstream_host", "a/b",
     "expected a host with an optional port, such as example.com:8080, got 'a/b'"},
    {"upstream_host",
     "a.test:", "expected a host with an optional port, such as example.com:8080, got 'a.test:'"},
    {"upstream_host", "a.test:0",
     "expected a host with an optional port, such as example.com:8080, got 'a.test:0'"},
    {"upstream_host", "a.test:65536",
     "expected a host with an optional port, such as example.com:8080, got 'a.test:65536'"},
    {"upstream_host", "a.test:80:81",
     "expected a host with an optional port, such as example.com:8080, got 'a.test:80:81'"},
    {"upstream_host", ":80",
     "expected a host with an optional port, such as example.com:8080, got ':80'"},
    {"upstream_host", "::1",
     "expected a host with an optional port, such as example.com:8080, got '::1'"},
    {"upstream_host", "[]:80",
     "expected a host with an optional port, such as example.com:8080, got '[]:80'"},
    {"upstream_host", "[::1",
     "expected a host with an optional port, such as example.com:8080, got '[::1'"},
    {"upstream_host", "[::1]x",
     "expected a host with an optional port, such as example.com:8080, got '[::1]x'"},
    {"upstream_host", "[fe80::1%eth0]",
     "expected a host with an optional port, such as example.com:8080, got '[fe80::1%eth0]'"},
    {"upstream_host", "a\xc3\xa9.test",
     "expected a host with an optional port, such as example.com:8080, got 'a\\xc3\\xa9.test'"},
    {"upstream_host", "a.test\r\nX: y", "control character in value, got 'a.test\\x0d\\x0aX: y'"},
    {"upstream_keepalive", "-1", "expected 0-1024 or 'auto', got '-1'"},
    {"upstream_keepalive", "1025", "expected 0-1024 or 'auto', got '1025'"},
    {"upstream_keepalive", "many", "expected 0-1024 or 'auto', got 'many'"},
    {"upstream_keepalive", "AUTO", "expected 0-1024 or 'auto', got 'AUTO'"},
    /* shaping */
    {"shape", "", "expected " STRATEGIES ", got ''"},
    {"shape", "warp ", "expected " STRATEGIES ", got 'warp '"},
    {"shape", "max a.test", "expected " STRATEGIES ", got 'max'"},
    {"shape", "WARP a.test", "expected " STRATEGIES ", got 'WARP'"},
    {"shape", "warp a_b.test",
     "expected a host pattern such as example.com, *.example.com or *, got 'a_b.test'"},
    {"shape", "warp a.test b/c",
     "expected a host pattern such as example.com, *.example.com or *, got 'b/c'"}, /* no rule from
                                                                                       the good
                                                                                       pattern
                                                                                       either */
    {"shape", "warp **",
     "expected a host pattern such as example.com, *.example.com or *, got '**'"},
    {"shape", "warp *.",
     "expected a host pattern such as example.com, *.example.com or *, got '*.'"},
    {"shape", "warp *.*.a",
     "expected a host pattern such as example.com, *.example.com or *, got '*.*.a'"},
    {"shape", "warp a*",
     "expected a host pattern such as example.com, *.example.com or *, got 'a*'"},
    {"shape", "warp *a.test",
     "expected a host pattern such as example.com, *.example.com or *, got '*a.test'"},
    {"shape", "warp .a.test",
     "expected a host pattern such as example.com, *.example.com or *, got '.a.test'"},
    {"shape", "warp a.test.",
     "expected a host pattern such as example.com, *.example.com or *, got 'a.test.'"},
    {"shape", "warp a..test",
     "expected a host pattern such as example.com, *.example.com or *, got 'a..test'"},
    {"shape", "warp a.test:443",
     "expected a host pattern such as example.com, *.example.com or *, got 'a.test:443'"},
    {"shape", "warp [::1]",
     "expected a host pattern such as example.com, *.example.com or *, got '[::1]'"},
    {"shape", "warp 10.0.0.1/8",
     "expected a host pattern such as example.com, *.example.com or *, got '10.0.0.1/8'"},
    {"shape", "warp caf\xc3\xa9.test",
     "expected a host pattern such as example.com, *.example.com or *, got 'caf\\xc3\\xa9.test'"},
    {"shape", "warp a.test A.TEST", "host pattern already has a rule, got 'A.TEST'"},
    {"shape", "off * *", "host pattern already has a rule, got '*'"},
    {"shape_delay", "-1", "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '-1'"},
    {"shape_delay", "1x", "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '1x'"},
    {"shape_delay", "", "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got ''"},
    {"shape_delay", "10.001", "expected a duration from 0 to 10s, got '10.001'"},
    {"shape_delay", "10001ms", "expected a duration from 0 to 10s, got '10001ms'"},
    {"shape_delay", "1m", "expected a duration from 0 to 10s, got '1m'"},
    {"shape_dummy_headers", "257", "expected 0-256, got '257'"},
    {"shape_dummy_headers", "-1", "expected 0-256, got '-1'"},
    {"shape_dummy_length", "0", "expected 1-1024, got '0'"},
    {"shape_dummy_length", "1025", "expected 1-1024, got '1025'"},
    {"shape_dummy_name_length", "0", "expected 1-64, got '0'"},
    {"shape_dummy_name_length", "65", "expected 1-64, got '65'"},
    {"shape_fragment", "1",
     "expected a first length and a range such as 1 2-4, each 1-64, got '1'"},
    {"shape_fragment", "", "expected a first length and a range such as 1 2-4, each 1-64, got ''"},
    {"shape_fragment", "1 2-4 5",
     "expected a first length and a range such as 1 2-4, each 1-64, got '1 2-4 5'"},
    {"shape_fragment", "0 2-4",
     "expected a first length and a range such as 1 2-4, each 1-64, got '0'"},
    {"shape_fragment", "65 2-4",
     "expected a first length and a range such as 1 2-4, each 1-64, got '65'"},
    {"shape_fragment", "x 2-4",
     "expected a first length and a range such as 1 2-4, each 1-64, got 'x'"},
    {"shape_fragment", "1 2",
     "expected a first length and a range such as 1 2-4, each 1-64, got '2'"},
    {"shape_fragment", "1 0-4",
     "expected a first length and a range such as 1 2-4, each 1-64, got '0-4'"},
    {"shape_fragment", "1 2-65",
     "expected a first length and a range such as 1 2-4, each 1-64, got '2-65'"},
    {"shape_fragment", "1 2-",
     "expected a first length and a range such as 1 2-4, each 1-64, got '2-'"},
    {"shape_fragment", "1 -4",
     "expected a first length and a range such as 1 2-4, each 1-64, got '-4'"},
    {"shape_fragment", "1 2-3-4",
     "expected a first length and a range such as 1 2-4, each 1-64, got '2-3-4'"},
    {"shape_fragment", "1 +2-4",
     "expected a first length and a range such as 1 2-4, each 1-64, got '+2-4'"},
    {"shape_fragment", "1 4-2", "fragment range runs backwards, got '4-2'"},
    {"shape_fragment_delay", "", "expected 1 to 4 durations such as 200ms 300ms, got ''"},
    {"shape_fragment_delay", " ", "expected 1 to 4 durations such as 200ms 300ms, got ' '"},
    {"shape_fragment_delay", "1 2 3 4 5", "too many delays (at most 4)"},
    {"shape_fragment_delay", "200ms 11s", "expected a duration from 0 to 10s, got '11s'"},
    {"shape_fragment_delay", "200ms, 300ms",
     "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '200ms,'"},
    {"shape_fragment_delay", "200ms -1",
     "expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '-1'"},
    {"shape_split_pos", "0", "expected 1-255, got '0'"},
    {"shape_split_pos", "256", "expected 1-255, got '256'"},
    {"shape_split_method", "yes", "expected on or off, got 'yes'"},
    {"shape_split_path", "8193", "expected 0-8192, got '8193'"},
    {"shape_split_path", "-1", "expected 0-8192, got '-1'"},
    {"shape_host_header", "x", "expected the word host in any letter case, got 'x'"},
    {"shape_host_header", "", "expected the word host in any letter case, got ''"},
    {"shape_host_header", "hosts", "expected the word host in any letter case, got 'hosts'"},
    {"shape_host_header", "hos", "expected the word host in any letter case, got 'hos'"},
    {"shape_host_header", "host:", "expected the word host in any letter case, got 'host:'"},
    {"shape_host_header", " host", "expected the word host in any letter case, got ' host'"},
    {"shape_host_header", "X-Host", "expected the word host in any letter case, got 'X-Host'"},
    {"shape_mixed_case", "1", "expected on or off, got '1'"},
    {"shape_reused", "first", "expected on or off, got 'first'"},
    {"tls_split", "on", "expected off, segment or record, got 'on'"},
    {"tls_split", "Record", "expected off, segment or record, got 'Record'"},
    {"tls_split_ports", "0", "port out of range (1-65535), got '0'"},
    {"tls_split_ports", "https",
     "expected ports and ranges such as 443 1024-65535, or 'any', got 'https'"},
    {"tls_split_ports", "443-80", "port range runs backwards, got '443-80'"},
    {"allow", "", "expected 'all' or addresses such as 192.0.2.0/24, got ''"},
    {"allow", "localhost",
     "expected 'all' or an address such as 192.0.2.7, 192.0.2.0/24 or 2001:db8::/32, got "
     "'localhost'"},
    {"allow", "10.0.0.1/8",
     "address has bits set after the /8 prefix (the network is 10.0.0.0/8), got '10.0.0.1/8'"},
    {"deny", "10.0.0.0/33", "prefix length out of range (0-32 for IPv4), got '10.0.0.0/33'"},
    {"deny", "::/129", "prefix length out of range (0-128 for IPv6), got '::/129'"},
    {"allow", "all 10.0.0.1", "'all' cannot be mixed with addresses, got 'all 10.0.0.1'"},
    {"deny", "10.0.0.1 all", "'all' cannot be mixed with addresses, got '10.0.0.1 all'"},
    /* A later address the line's earlier one covers: never reached. */
    {"allow", "10.0.0.0/8 10.1.0.0/16",
     "never reached: the earlier 'allow 10.0.0.0/8' matches all of it, got '10.1.0.0/16'"},
    {"deny", "::1 ::1", "never reached: the earlier 'deny ::1' matches all of it, got '::1'"},
    /* A good address before a bad one is not added either. */
    {"allow", "127.0.0.1 127.0.0.256",
     "expected 'all' or an address such as 192.0.2.7, 192.0.2.0/24 or 2001:db8::/32, got "
     "'127.0.0.256'"},
    {"shape_seed", "-1", "expected 0-9223372036854775808, got '-1'"},
    {"shape_seed", "", "expected 0-9223372036854775808, got ''"},
    {"shape_seed", "0x10", "expected 0-9223372036854775808, got '0x10'"},
    {"shape_seed", "1 ", "expected 0-9223372036854775808, got '1 '"},
    {"shape_seed", "9223372036854775809",
     "expected 0-9223372036854775808, got '9223372036854775809'"},
    {"shape_seed", "18446744073709551616",
     "expected 0-9223372036854775808, got '18446744073709551616'"},
    {"shape_seed", "99999999999999999999999x",
     "expected 0-9223372036854775808, got '99999999999999999999999x'"},
};

START_TEST(test_set_bad)
{
    struct config c, before;
    char err[512] = "";

    config_init(&c);
    before = c;
    ck_assert_int_eq(config_set(&c, set_bad[_i].name, set_bad[_i].value, err, sizeof(err)), -1);
    ck_assert_str_eq(err, set_bad[_i].err);
    /* A refused value changes nothing. */
    ck_assert(memcmp(&c, &before, sizeof(c)) == 0);
}
END_TEST

START_TEST(test_set_limits)
{
    struct config c;
    char err[512], v[2048];
    int i;

    config_init(&c);
    /* 16 listen addresses fit (the default counts), the 17th does not. */
    for (i = 1; i < CFG_MAX_LISTEN; i++) {
        snprintf(v, sizeof(v), "%d", 9000 + i);
        ck_assert_int_eq(config_set(&c, "listen", v, err, sizeof(err)), 0);
    }
    ck_assert_int_eq(c.nlisten, CFG_MAX_LISTEN);
    ck_assert_int_eq(config_set(&c, "listen", "1.2.3.4:1", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "too many addresses (at most 16)");

    /* Paths up to CFG_PATHMAX-1 bytes. */
    v[0] = '/';
    memset(v + 1, 'p', CFG_PATHMAX - 2);
    v[CFG_PATHMAX - 1] = '\0';
    ck_assert_int_eq(config_set(&c, "pidfile", v, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(c.pidfile), CFG_PATHMAX - 1);
    strcat(v, "p");
    ck_assert_int_eq(config_set(&c, "log", v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "path too long (at most 1023 bytes)");

    /* The resolver list must fit its 255 bytes. */
    strcpy(v, "");
    for (i = 0; i < 20; i++)
        strcat(v, "[2001:db8::1234]:5353 ");
    ck_assert_int_eq(config_set(&c, "resolver", v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "too many addresses (the list is limited to 255 bytes)");
    ck_assert_str_eq(c.resolver, "");

    /* A user name must fit its field. */
    memset(v, 'u', 64);
    v[64] = '\0';
    ck_assert_int_eq(config_set(&c, "user", v, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "user name too long"));
    v[63] = '\0';
    ck_assert_int_eq(config_set(&c, "user", v, err, sizeof(err)), -1);
    ck_assert_str_eq(
        err, "unknown user 'uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu'");

    /* upstream_host up to 255 bytes. */
    memset(v, 'h', 255);
    strcpy(v + 255, "");
    ck_assert_int_eq(config_set(&c, "upstream_host", v, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(c.upstream_host_header), 255);
    strcpy(v + 250, ":8080");
    ck_assert_int_eq(config_set(&c, "upstream_host", v, err, sizeof(err)), 0);
    ck_assert_str_eq(c.upstream_host_header + 250, ":8080");
    strcat(v, "0");
    ck_assert_int_eq(config_set(&c, "upstream_host", v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "host too long (at most 255 bytes)");
}
END_TEST

START_TEST(test_connect_ports)
{
    struct config c;
    char err[512], v[1024], got[1024];
    int i;

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "connect_ports", "443 8443 1024-2048 563", err, sizeof(err)),
                     0);
    ck_assert_int_eq(c.nconnect_ports, 4);
    ck_assert_int_eq(config_port_allowed(&c, 443), 1);
    ck_assert_int_eq(config_port_allowed(&c, 563), 1);
    ck_assert_int_eq(config_port_allowed(&c, 8443), 1);
    ck_assert_int_eq(config_port_allowed(&c, 1024), 1);
    ck_assert_int_eq(config_port_allowed(&c, 1500), 1);
    ck_assert_int_eq(config_port_allowed(&c, 2048), 1);
    ck_assert_int_eq(config_port_allowed(&c, 1023), 0);
    ck_assert_int_eq(config_port_allowed(&c, 2049), 0);
    ck_assert_int_eq(config_port_allowed(&c, 442), 0);
    ck_assert_int_eq(config_port_allowed(&c, 80), 0);
    ck_assert_int_eq(config_port_allowed(&c, 0), 0);
    ck_assert_int_eq(config_port_allowed(&c, 65535), 0);

    ck_assert_int_eq(config_set(&c, "connect_ports", "any", err, sizeof(err)), 0);
    ck_assert_int_eq(config_port_allowed(&c, 1), 1);
    ck_assert_int_eq(config_port_allowed(&c, 65535), 1);
    ck_assert_int_eq(config_port_allowed(&c, 0), 0);

    /* 32 separate ports fit; a 33rd does not, and the old list stays. */
    v[0] = '\0';
    for (i = 0; i < CFG_MAX_PORT_RANGES; i++)
        snprintf(v + strlen(v), sizeof(v) - strlen(v), "%d ", 1000 + 2 * i);
    ck_assert_msg(config_set(&c, "connect_ports", v, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.nconnect_ports, CFG_MAX_PORT_RANGES);
    ck_assert_int_eq(config_port_allowed(&c, 1062), 1);
    ck_assert_int_eq(config_port_allowed(&c, 1061), 0);
    strcat(v, "2000");
    ck_assert_int_eq(config_set(&c, "connect_ports", v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "too many port ranges (at most 32)");
    ck_assert_int_eq(c.nconnect_ports, CFG_MAX_PORT_RANGES);
    ck_assert_int_eq(config_port_allowed(&c, 2000), 0);
    /* ... but a 33rd that merges into its neighbours does. */
    v[strlen(v) - 4] = '\0';
    strcat(v, "1001-1061");
    ck_assert_msg(config_set(&c, "connect_ports", v, err, sizeof(err)) == 0, "%s", err);
    ports_text(&c, got, sizeof(got));
    ck_assert_str_eq(got, "1000-1062");

    /* Unused slots are cleared, so equal lists compare equal byte for byte. */
    ck_assert_int_eq(config_set(&c, "connect_ports", "443", err, sizeof(err)), 0);
    {
        struct config d;

        config_init(&d);
        ck_assert(memcmp(c.connect_ports, d.connect_ports, sizeof(c.connect_ports)) == 0);
        ck_assert_int_eq(c.nconnect_ports, d.nconnect_ports);
    }
}
END_TEST

/* tls_split_ports has connect_ports' syntax but is a list of its own. */
START_TEST(test_tls_split_ports)
{
    struct config c, d;
    char err[512], got[256];

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "tls_split_ports", "8443 443 10000-10010", err, sizeof(err)),
                     0);
    ck_assert_int_eq(c.ntls_split_ports, 3);
    ck_assert_int_eq(config_tls_split_port(&c, 443), 1);
    ck_assert_int_eq(config_tls_split_port(&c, 8443), 1);
    ck_assert_int_eq(config_tls_split_port(&c, 10005), 1);
    ck_assert_int_eq(config_tls_split_port(&c, 10011), 0);
    ck_assert_int_eq(config_tls_split_port(&c, 444), 0);
    ck_assert_int_eq(config_tls_split_port(&c, 0), 0);
    /* CONNECT's own list is untouched, and the other way round. */
    ports_text(&c, got, sizeof(got));
    ck_assert_str_eq(got, "443");
    ck_assert_int_eq(config_port_allowed(&c, 8443), 0);
    ck_assert_int_eq(config_set(&c, "connect_ports", "any", err, sizeof(err)), 0);
    ck_assert_int_eq(c.ntls_split_ports, 3);
    ck_assert_int_eq(config_tls_split_port(&c, 80), 0);
    ck_assert_int_eq(config_set(&c, "tls_split_ports", "any", err, sizeof(err)), 0);
    ck_assert_int_eq(config_tls_split_port(&c, 1), 1);
    ck_assert_int_eq(config_tls_split_port(&c, 65535), 1);
    /* A refused list keeps the old one; a shorter list clears the slots it no longer uses. */
    ck_assert_int_eq(config_set(&c, "tls_split_ports", "443 0", err, sizeof(err)), -1);
    ck_assert_int_eq(config_tls_split_port(&c, 80), 1);
    ck_assert_int_eq(config_set(&c, "tls_split_ports", "8443 443 10000-10010", err, sizeof(err)),
                     0);
    ck_assert_int_eq(config_set(&c, "tls_split_ports", "443", err, sizeof(err)), 0);
    config_init(&d);
    ck_assert(memcmp(c.tls_split_ports, d.tls_split_ports, sizeof(c.tls_split_ports)) == 0);
    ck_assert_int_eq(c.ntls_split_ports, 1);
}
END_TEST

/* ---- strategies and auto ------------------------------------------------------ */

START_TEST(test_strategies)
{
    struct config c;
    char err[512];

    config_init(&c);
    /* The defaults: the built-in auto list, no strategy lines. */
    ck_assert_int_eq(c.nstrategies, 0);
    ck_assert_int_eq(c.nshape_auto, 6);
    ck_assert_int_eq(c.shape_auto[0], SHAPE_SPLIT);
    ck_assert_int_eq(c.shape_auto[1], SHAPE_TLSREC);
    ck_assert_int_eq(c.shape_auto[5], SHAPE_WARP);
    ck_assert_int_eq(c.shape_fake_ttl, 8);
    ck_assert_int_eq(c.shape_disorder_ttl, 1);
    ck_assert_str_eq(c.shape_fake_host, "www.example.com");
    ck_assert_int_eq(c.nshape_auto_block_hosts, 0);
    ck_assert_int_eq(c.shape_auto_cache, 4096);
    ck_assert_str_eq(c.shape_auto_file, "");
    ck_assert_msg(config_set(&c, "strategy", "ru split:1 disorder:sni+1 tlsrec:sni fake:-1", err,
                             sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(c.nstrategies, 1);
    ck_assert_str_eq(c.strategies[0].name, "ru");
    ck_assert_int_eq(c.strategies[0].nstep, 4);
    ck_assert_int_eq(c.strategies[0].step[1].kind, STEP_DISORDER);
    ck_assert_int_eq(c.strategies[0].step[1].pos[0].mark, SHAPE_MARK_HOST);
    ck_assert_int_eq(c.strategies[0].step[1].pos[0].off, 1);
    ck_assert_int_eq(c.strategies[0].step[3].pos[0].mark, SHAPE_MARK_ABS);
    ck_assert_int_eq(c.strategies[0].step[3].pos[0].off, -1);
    ck_assert_int_eq(config_shape_lookup(&c, "ru"), SHAPE_USER);
    ck_assert_str_eq(config_shape_name(&c, SHAPE_USER), "ru");
    ck_assert_str_eq(config_shape_name(&c, SHAPE_DISORDER), "disorder");
    ck_assert_str_eq(config_shape_name(NULL, SHAPE_USER), "?");
    /* Used by shape (default and rules) and shape_auto after it. */
    ck_assert_int_eq(config_set(&c, "shape", "ru", err, sizeof(err)), 0);
    ck_assert_int_eq(c.shape, SHAPE_USER);
    ck_assert_int_eq(config_set(&c, "shape", "auto *.blocked.test", err, sizeof(err)), 0);
    ck_assert_int_eq(config_shape_for(&c, "a.blocked.test"), SHAPE_AUTO);
    ck_assert_int_eq(config_shape_for(&c, "other.test"), SHAPE_USER);
    ck_assert_int_eq(config_set(&c, "shape_auto", "oob ru fake", err, sizeof(err)), 0);
    ck_assert_int_eq(c.nshape_auto, 3);
    ck_assert_int_eq(c.shape_auto[1], SHAPE_USER);
    ck_assert_int_eq(config_set(&c, "strategy", "second hostdot hosttab pad:100", err, sizeof(err)),
                     0);
    ck_assert_int_eq(config_shape_lookup(&c, "second"), SHAPE_USER + 1);
    /* Refusals, each naming the problem; none changes anything. */
    ck_assert_int_eq(config_set(&c, "strategy", "ru oob:1", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "strategy already defined, got 'ru'");
    ck_assert_int_eq(config_set(&c, "strategy", "fake oob:1", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "a built-in strategy has this name, got 'fake'");
    ck_assert_int_eq(config_set(&c, "strategy", "Big oob:1", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&c, "strategy", "lonely", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "expected one or more steps after the name, got 'lonely'");
    ck_assert_int_eq(config_set(&c, "strategy", "x split:1 nonsense", err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, "step 'nonsense': ", 17) == 0, "%s", err);
    ck_assert_int_eq(config_set(&c, "shape_auto", "split auto", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "auto cannot try itself, got 'auto'");
    ck_assert_int_eq(config_set(&c, "shape_auto", "split split", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "strategy listed twice, got 'split'");
    ck_assert_int_eq(config_set(&c, "shape_auto", "split later", err, sizeof(err)), -1);
    ck_assert_int_eq(c.nshape_auto, 3);
    ck_assert_int_eq(c.nstrategies, 2);
    ck_assert_int_eq(config_set(&c, "shape_fake_ttl", "0", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&c, "shape_fake_host", "*.example.com", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&c, "shape_fake_sni", "Cdn.Example.NET", err, sizeof(err)), 0);
    ck_assert_str_eq(c.shape_fake_sni, "cdn.example.net");
}
END_TEST

/* Defaults that depend on the mode and the listen addresses (issue 13):
 * shape off in reverse and tcp mode unless given; CONNECT to any port but
 * the bad ones when every listen address is loopback, unless given. */
START_TEST(test_mode_defaults)
{
    struct config c;
    char err[512];

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "mode", "reverse", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "upstream", "127.0.0.1:8080", err, sizeof(err)), 0);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.shape, SHAPE_OFF);
    config_init(&c);
    ck_assert_int_eq(config_set(&c, "mode", "tcp", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "upstream", "127.0.0.1:8080", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "shape", "warp", err, sizeof(err)), 0);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.shape, SHAPE_WARP); /* given: kept (the supervisor warns) */
    config_init(&c);
    ck_assert_int_eq(config_set(&c, "mode", "transparent", err, sizeof(err)), 0);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.shape, SHAPE_SPLIT);
    /* forward on loopback: every port but the bad ones */
    config_init(&c);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.shape, SHAPE_SPLIT);
    ck_assert_int_eq(config_port_allowed(&c, 443), 1);
    ck_assert_int_eq(config_port_allowed(&c, 80), 1);
    ck_assert_int_eq(config_port_allowed(&c, 8765), 1);
    ck_assert_int_eq(config_port_allowed(&c, 25), 0);
    ck_assert_int_eq(config_port_allowed(&c, 10080), 0);
    ck_assert_int_eq(config_port_allowed(&c, 1), 0);
    ck_assert_int_eq(config_port_allowed(&c, 0), 0);
    ck_assert_int_eq(config_port_allowed(&c, 65535), 1);
    /* on a network: 443 alone */
    config_init(&c);
    ck_assert_int_eq(config_set(&c, "listen", "198.18.0.1:8800", err, sizeof(err)), 0);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(config_port_allowed(&c, 443), 1);
    ck_assert_int_eq(config_port_allowed(&c, 80), 0);
    /* given: as given, on loopback too */
    config_init(&c);
    ck_assert_int_eq(config_set(&c, "connect_ports", "443 8443", err, sizeof(err)), 0);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(config_port_allowed(&c, 80), 0);
    ck_assert_int_eq(config_port_allowed(&c, 8443), 1);
    ck_assert_int_eq(config_bad_port(6667), 1);
    ck_assert_int_eq(config_bad_port(6668), 1);
    ck_assert_int_eq(config_bad_port(6670), 0);
}
END_TEST

START_TEST(test_block_hosts)
{
    struct config c;
    char err[512];

    config_init(&c);
    ck_assert_int_eq(config_block_host(&c, "warning.or.kr"), 0);
    ck_assert_int_eq(
        config_set(&c, "shape_auto_block_hosts", "warning.or.kr *.block.test", err, sizeof(err)),
        0);
    ck_assert_int_eq(config_block_host(&c, "warning.or.kr"), 1);
    ck_assert_int_eq(config_block_host(&c, "WARNING.or.kr."), 1);
    ck_assert_int_eq(config_block_host(&c, "x.block.test"), 1);
    ck_assert_int_eq(config_block_host(&c, "block.test"), 0);
    ck_assert_int_eq(config_block_host(&c, "or.kr"), 0);
    ck_assert_int_eq(config_set(&c, "shape_auto_block_hosts", "a b/c", err, sizeof(err)), -1);
    ck_assert_int_eq(c.nshape_auto_block_hosts, 2);
    ck_assert_int_eq(config_set(&c, "shape_auto_block_hosts", "off", err, sizeof(err)), 0);
    ck_assert_int_eq(config_block_host(&c, "warning.or.kr"), 0);
}
END_TEST

/* ---- shape rules ----------------------------------------------------------- */

START_TEST(test_shape_for)
{
    struct config c;
    char err[512];

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "shape", "off", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "shape", "warp blocked.test *.Blocked.test", err, sizeof(err)),
                     0);
    ck_assert_int_eq(config_set(&c, "shape", "off ok.blocked.test", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "shape", "split *.cdn.test", err, sizeof(err)), 0);
    ck_assert_int_eq(c.nshape_rules, 4);
    ck_assert_str_eq(c.shape_rules[1].pattern, "*.blocked.test"); /* stored lowercase */
    ck_assert_int_eq(c.shape, SHAPE_OFF);

    ck_assert_int_eq(config_shape_for(&c, "blocked.test"), SHAPE_WARP);
    ck_assert_int_eq(config_shape_for(&c, "BLOCKED.Test"), SHAPE_WARP);
    ck_assert_int_eq(config_shape_for(&c, "blocked.test."), SHAPE_WARP);
    ck_assert_int_eq(config_shape_for(&c, "www.blocked.test"), SHAPE_WARP);
    ck_assert_int_eq(config_shape_for(&c, "a.b.blocked.test."), SHAPE_WARP);
    /* First match wins: the earlier *.blocked.test hides this later rule. */
    ck_assert_int_eq(config_shape_for(&c, "ok.blocked.test"), SHAPE_WARP);
    ck_assert_int_eq(config_shape_for(&c, "img.cdn.test"), SHAPE_SPLIT);
    /* *.cdn.test is subdomains only; the bare domain takes the default. */
    ck_assert_int_eq(config_shape_for(&c, "cdn.test"), SHAPE_OFF);
    /* Suffixes must end on a label boundary; whole names must be whole. */
    ck_assert_int_eq(config_shape_for(&c, "notblocked.test"), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, "xcdn.test"), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, "blocked.test.evil"), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, "blocked.tes"), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, "blocked.test.."), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, ".blocked.test"), SHAPE_OFF); /* no label before */
    ck_assert_int_eq(config_shape_for(&c, ""), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, "."), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, NULL), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, "192.0.2.1"), SHAPE_OFF);

    /* "*" matches everything after it; the default then applies to nothing. */
    ck_assert_int_eq(config_set(&c, "shape", "split cdn.test *", err, sizeof(err)), 0);
    ck_assert_int_eq(config_shape_for(&c, "cdn.test"), SHAPE_SPLIT);
    ck_assert_int_eq(config_shape_for(&c, "anything.example"), SHAPE_SPLIT);
    ck_assert_int_eq(config_shape_for(&c, "::1"), SHAPE_SPLIT);
    ck_assert_int_eq(config_shape_for(&c, "blocked.test"), SHAPE_WARP);
    /* Setting the default again keeps the rules. */
    ck_assert_int_eq(config_set(&c, "shape", "warp", err, sizeof(err)), 0);
    ck_assert_int_eq(c.nshape_rules, 6);
    ck_assert_int_eq(config_shape_for(&c, "x.example"), SHAPE_SPLIT);
    /* A pattern already given (in any case, by any earlier line) is refused. */
    ck_assert_int_eq(config_set(&c, "shape", "off IMG.CDN.test *.CDN.TEST", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "host pattern already has a rule, got '*.CDN.TEST'");
    ck_assert_int_eq(c.nshape_rules, 6);
}
END_TEST

START_TEST(test_shape_rule_limits)
{
    struct config c, before;
    char err[512], v[1024], pat[200];
    int i;

    /* 32 rules in all, over several lines. */
    config_init(&c);
    for (i = 0; i < CFG_MAX_SHAPE_RULES; i += 4) {
        snprintf(v, sizeof(v), "warp h%d.test h%d.test h%d.test h%d.test", i, i + 1, i + 2, i + 3);
        ck_assert_msg(config_set(&c, "shape", v, err, sizeof(err)) == 0, "%s", err);
    }
    ck_assert_int_eq(c.nshape_rules, CFG_MAX_SHAPE_RULES);
    ck_assert_str_eq(c.shape_rules[31].pattern, "h31.test");
    ck_assert_int_eq(config_shape_for(&c, "h31.test"), SHAPE_WARP);
    before = c;
    ck_assert_int_eq(config_set(&c, "shape", "off h32.test", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "too many shape rules (at most 32)");
    ck_assert(memcmp(&c, &before, sizeof(c)) == 0);
    /* The default line is not a rule and still works. */
    ck_assert_int_eq(config_set(&c, "shape", "off", err, sizeof(err)), 0);
    ck_assert_int_eq(config_shape_for(&c, "h32.test"), SHAPE_OFF);

    /* One line that overflows adds none of its patterns. */
    config_init(&c);
    v[0] = '\0';
    strcat(v, "split");
    for (i = 0; i <= CFG_MAX_SHAPE_RULES; i++)
        snprintf(v + strlen(v), sizeof(v) - strlen(v), " h%d.test", i);
    ck_assert_int_eq(config_set(&c, "shape", v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "too many shape rules (at most 32)");
    ck_assert_int_eq(c.nshape_rules, 0);

    /* Patterns up to 127 bytes. */
    config_init(&c);
    memset(pat, 'a', 127);
    pat[127] = '\0';
    pat[60] = '.';
    snprintf(v, sizeof(v), "warp %s", pat);
    ck_assert_msg(config_set(&c, "shape", v, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.shape_rules[0].pattern, pat);
    ck_assert_int_eq(config_shape_for(&c, pat), SHAPE_WARP);
    strcat(v, "b");
    ck_assert_int_eq(config_set(&c, "shape", v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "host pattern too long (at most 127 bytes)");
    memset(pat, 'b', 190);
    pat[190] = '\0';
    snprintf(v, sizeof(v), "warp x.test %s", pat);
    ck_assert_int_eq(config_set(&c, "shape", v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "host pattern too long (at most 127 bytes)");
    ck_assert_int_eq(c.nshape_rules, 1);
    /* "*." counts: 2 + 125 bytes fit. */
    memset(pat, 'c', 125);
    pat[125] = '\0';
    snprintf(v, sizeof(v), "off *.%s", pat);
    ck_assert_msg(config_set(&c, "shape", v, err, sizeof(err)) == 0, "%s", err);
    snprintf(v, sizeof(v), "x.%s", pat);
    ck_assert_int_eq(config_shape_for(&c, v), SHAPE_OFF);
}
END_TEST

/* allow and deny lines repeat freely, one-value lines too, and keep file
 * order across both directives; the cap counts addresses over all lines. */
START_TEST(test_file_acl)
{
    struct config c;
    char err[512] = "", got[512], want[640], text[8192];
    const char *path;
    size_t o = 0;
    int i;

    path = write_file("acl.conf", "allow 127.0.0.1\n"
                                  "deny 127.0.0.2\n"
                                  "mode forward\n"
                                  "allow ::1 192.0.2.0/24\n"
                                  "deny 127.0.0.3 # a comment\n"
                                  "allow 10.0.0.0/8\n"
                                  "deny all\n");
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    acl_text(&c, got, sizeof(got));
    ck_assert_str_eq(got, "allow 127.0.0.1,deny 127.0.0.2,allow ::1,allow 192.0.2.0/24,"
                          "deny 127.0.0.3,allow 10.0.0.0/8,deny all");
    ck_assert_int_eq(c.nacl, 7);

    /* CFG_MAX_ACL_RULES addresses fit, over many lines; one more is refused
     * on the line that brings it. */
    for (i = 0; i < CFG_MAX_ACL_RULES; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s 10.%d.%d.0/24\n",
                              i % 2 ? "deny" : "allow", i / 256, i % 256);
    snprintf(text + o, sizeof(text) - o, "deny 192.0.2.1 192.0.2.2\n");
    path = write_file("many.conf", text);
    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:%d: deny: too many allow and deny addresses (at most %d)",
             path, CFG_MAX_ACL_RULES + 1, CFG_MAX_ACL_RULES);
    ck_assert_str_eq(err, want);
    text[o] = '\0';
    path = write_file("full.conf", text);
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.nacl, CFG_MAX_ACL_RULES);
    ck_assert_str_eq(acl_format(&c.acl[CFG_MAX_ACL_RULES - 1], got, sizeof(got)),
                     "deny 10.0.127.0/24");

    /* A line that does not fit adds none of its addresses. */
    config_init(&c);
    for (i = 0; i < CFG_MAX_ACL_RULES - 1; i++) {
        snprintf(text, sizeof(text), "10.%d.%d.0/24", i / 256, i % 256);
        ck_assert_int_eq(config_set(&c, "deny", text, err, sizeof(err)), 0);
    }
    ck_assert_int_eq(config_set(&c, "allow", "192.0.2.1 192.0.2.2", err, sizeof(err)), -1);
    ck_assert_int_eq(c.nacl, CFG_MAX_ACL_RULES - 1);
    ck_assert_int_eq(config_set(&c, "allow", "192.0.2.1", err, sizeof(err)), 0);
    ck_assert_int_eq(c.nacl, CFG_MAX_ACL_RULES);
}
END_TEST

/* The open-proxy warning: forward mode, a non-loopback listen address, and no
 * allow or deny rule. Any rule at all is the operator's choice of clients. */
START_TEST(test_listen_open)
{
    struct config c;
    char err[512];

    config_init(&c);
    ck_assert_int_eq(config_listen_open(&c, 0), 0); /* 127.0.0.1:8800 */
    ck_assert_int_eq(config_set(&c, "listen", "*:8801", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "listen", "[::]:8802", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "listen", "[::1]:8803", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "listen", "127.0.0.2:8804", err, sizeof(err)), 0);
    ck_assert_int_eq(config_listen_open(&c, 1), 1);
    ck_assert_int_eq(config_listen_open(&c, 2), 1);
    ck_assert_int_eq(config_listen_open(&c, 3), 0);
    ck_assert_int_eq(config_listen_open(&c, 4), 0);
    /* Any rule, even "allow all", says the operator chose. */
    ck_assert_int_eq(config_set(&c, "allow", "all", err, sizeof(err)), 0);
    ck_assert_int_eq(config_listen_open(&c, 1), 0);
    ck_assert_int_eq(config_listen_open(&c, 2), 0);
    c.nacl = 0;
    ck_assert_int_eq(config_set(&c, "deny", "192.0.2.1", err, sizeof(err)), 0);
    ck_assert_int_eq(config_listen_open(&c, 1), 0);
    /* Proxy authentication is a choice of clients too. */
    c.nacl = 0;
    ck_assert_int_eq(config_listen_open(&c, 1), 1);
    ck_assert_int_eq(config_set(&c, "auth_user", "alice pw", err, sizeof(err)), 0);
    ck_assert_int_eq(config_listen_open(&c, 1), 0);
    c.nauth_users = 0;
    /* Reverse and tcp modes are not open proxies. */
    c.nacl = 0;
    ck_assert_int_eq(config_set(&c, "mode", "reverse", err, sizeof(err)), 0);
    ck_assert_int_eq(config_listen_open(&c, 1), 0);
    ck_assert_int_eq(config_set(&c, "mode", "tcp", err, sizeof(err)), 0);
    ck_assert_int_eq(config_listen_open(&c, 1), 0);
}
END_TEST

/* auth_user lines repeat and keep file order; each is a name and a password,
 * checked as auth.c says; a refused line adds nothing, and no message shows
 * the password. auth_realm defaults to "warpd". */
START_TEST(test_file_auth)
{
    struct config c;
    char err[512] = "", want[640], text[4096];
    const char *path;
    size_t o = 0;
    int i;

    config_init(&c);
    ck_assert_int_eq(c.nauth_users, 0);
    ck_assert_str_eq(c.auth_realm, "warpd");
    path = write_file("auth.conf", "mode forward\n"
                                   "auth_user alice s3cr:et # a comment\n"
                                   "auth_realm Corporate proxy\n"
                                   "auth_user bob #notacomment\n"
                                   "auth_user bob2 p#ss\n");
    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    /* "#notacomment" starts a comment: bob has no password. */
    snprintf(want, sizeof(want),
             "%s:4: auth_user: expected a user name and a password, one word each (no spaces in "
             "either)",
             path);
    ck_assert_str_eq(err, want);
    path = write_file("auth2.conf", "mode forward\n"
                                    "auth_user alice s3cr:et # a comment\n"
                                    "auth_realm Corporate proxy\n"
                                    "auth_user bob2 p#ss\n");
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.nauth_users, 2);
    ck_assert_int_eq(c.auth_line, 2);
    ck_assert_str_eq(c.auth_users[0].name, "alice");
    ck_assert_int_eq(c.auth_users[0].pass_len, 7);
    ck_assert_int_eq(memcmp(c.auth_users[0].pass, "s3cr:et", 7), 0);
    ck_assert_str_eq(c.auth_users[1].name, "bob2");
    ck_assert_str_eq(c.auth_realm, "Corporate proxy");
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);

    /* Refused values: the line adds no user, the password is never shown. */
    config_init(&c);
    ck_assert_int_eq(config_set(&c, "auth_user", "alice Secr3tPw", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "auth_user", "alice Other", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "user 'alice' is defined twice");
    ck_assert_int_eq(config_set(&c, "auth_user", "a:b Secr3tPw", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "user name 'a:b' contains a colon or a space");
    ck_assert_int_eq(config_set(&c, "auth_user", "alice", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&c, "auth_user", "a b c", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&c, "auth_user", " Secr3tPw", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "empty user name");
    ck_assert_int_eq(
        config_set(&c, "auth_user",
                   "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn Secr3tPw",
                   err, sizeof(err)),
        -1);
    ck_assert_str_eq(err, "user name longer than 64 bytes");
    ck_assert_ptr_null(strstr(err, "Secr3t"));
    ck_assert_int_eq(c.nauth_users, 1);
    ck_assert_str_eq(c.auth_users[1].name, ""); /* the refused ones left no trace */
    ck_assert_int_eq(c.auth_users[1].pass_len, 0);
    ck_assert_int_eq(config_set(&c, "auth_realm", "a \"quoted\" realm", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&c, "auth_realm", "back\\slash", err, sizeof(err)), -1);
    ck_assert_str_eq(c.auth_realm, "warpd");

    /* AUTH_MAX_USERS users fit; one more is refused on its line. */
    for (i = 0; i <= AUTH_MAX_USERS; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "auth_user u%d pw%d\n", i, i);
    path = write_file("many.conf", text);
    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:%d: auth_user: too many users (at most %d)", path,
             AUTH_MAX_USERS + 1, AUTH_MAX_USERS);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(c.nauth_users, AUTH_MAX_USERS);
}
END_TEST

/* auth_user outside forward mode: refused as a whole, with the line of the
 * first auth_user when there is a file, whatever set the mode. */
START_TEST(test_auth_mode)
{
    struct config c;
    struct cli_opts o;
    char err[512], want[1024];

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "auth_user", "alice pw", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "mode", "tcp", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "upstream", "a.test:80", err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "auth_user: proxy authentication works only in forward mode, and the "
                          "mode is tcp (clients of a TCP relay do not send Proxy-Authorization)");

    memset(&o, 0, sizeof(o));
    o.config_path = write_file("m.conf", "workers 1\nauth_user alice pw\nauth_user bob pw\n"
                                         "mode reverse\nupstream a.test:80\n");
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:2: auth_user: proxy authentication works only in forward mode, and the mode is "
             "reverse (clients of a reverse proxy do not send Proxy-Authorization)",
             o.config_path);
    ck_assert_str_eq(err, want);

    o.config_path = write_file("f.conf", "workers 1\n\nauth_user alice pw\n");
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    o.mode = "tcp";
    o.upstream = "a.test:80";
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:3: auth_user: proxy authentication works only in forward mode, and the mode is "
             "tcp (clients of a TCP relay do not send Proxy-Authorization)",
             o.config_path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* The warning about readable passwords: users, a file, and a group or other
 * read bit on it, as it was when opened. */
START_TEST(test_auth_exposed)
{
    struct config c;
    char err[512];
    const char *path = write_file("p.conf", "auth_user alice pw\n");

    ck_assert_int_eq(chmod(path, 0600), 0);
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(c.path_mode, 0600);
    ck_assert_int_eq(config_auth_exposed(&c), 0);
    ck_assert_int_eq(chmod(path, 0640), 0);
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(config_auth_exposed(&c), 1);
    ck_assert_int_eq(chmod(path, 0604), 0);
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(config_auth_exposed(&c), 1);
    /* Write bits alone are another matter (not about reading passwords). */
    ck_assert_int_eq(chmod(path, 0622), 0);
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(config_auth_exposed(&c), 0);
    /* No users, no warning. */
    path = write_file("q.conf", "workers 1\n");
    ck_assert_int_eq(chmod(path, 0644), 0);
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(config_auth_exposed(&c), 0);
}
END_TEST

/* A hostile value is quoted capped and escaped, never copied raw. */
START_TEST(test_set_quotes_value)
{
    struct config c;
    char err[512], v[300];

    config_init(&c);
    memset(v, 'x', 200);
    v[200] = '\0';
    ck_assert_int_eq(config_set(&c, "mode", v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "expected forward, reverse, tcp or transparent, got "
                          "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");
    ck_assert_int_eq(config_set(&c, "shape", "\xff\xfe", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "expected " STRATEGIES ", got '\\xff\\xfe'");
}
END_TEST

/* ---- durations ------------------------------------------------------------ */

static const struct {
    const char *in;
    double want; /* < 0: refused */
} durations[] = {
    {"10", 10},    {"1.5", 1.5},
    {"10s", 10},   {"500ms", 0.5},
    {"2m", 120},   {"1h", 3600},
    {"0", 0},      {"0.001", 0.001},
    {"1.25m", 75}, {"007", 7},
    {"1.", -1},    {".5", -1},
    {"", -1},      {"s", -1},
    {"ms", -1},    {"1e3", -1},
    {"0x10", -1},  {"-5", -1},
    {"+5", -1},    {" 5", -1},
    {"5 ", -1},    {"5S", -1},
    {"5sec", -1},  {"1d", -1},
    {"nan", -1},   {"1.5.5", -1},
    {"10mss", -1}, {"123456789012345678901234567890123", -1}, /* longer than 32 bytes */
};

START_TEST(test_duration)
{
    double d = -42;
    int rc = config_parse_duration(durations[_i].in, &d);

    if (durations[_i].want < 0) {
        ck_assert_msg(rc == -1, "'%s' accepted as %g", durations[_i].in, d);
        ck_assert_double_eq(d, -42); /* untouched */
    } else {
        ck_assert_msg(rc == 0, "'%s' refused", durations[_i].in);
        ck_assert_double_eq_tol(d, durations[_i].want, 1e-9);
    }
}
END_TEST

/* ---- config files ------------------------------------------------------- */

static const struct {
    const char *text;
    int line;
    const char *msg; /* after "PATH:LINE: " */
} file_bad[] = {
    {"listen 127.0.0.1:80\n\nlisen 1.2.3.4:80\n", 3, "unknown directive 'lisen'"},
    {"# c\nmode forward\nworkers x\n", 3, "workers: expected 1-64 or 'auto', got 'x'"},
    {"\n\n\nmode forward tcp\n", 4, "'mode' takes one value"},
    {"mode\n", 1, "'mode' takes one value"},
    {"mode # forward\n", 1, "'mode' takes one value"},
    {"resolver\n", 1, "'resolver' takes one or more values"},
    {"# x\nlisten 127.0.0.1\n", 2, "listen: missing port in '127.0.0.1'"},
    {"mode forward\n# c\nmode tcp\n", 3, "duplicate directive 'mode' (first on line 1)"},
    {"mode tcp\nupstream a:1\nshape off\nupstream b:2\n", 4,
     "duplicate directive 'upstream' (first on line 2)"},
    {"listen 8800\nlisten 9000\nlisten 127.0.0.1:8800\n", 3,
     "listen: duplicate address 127.0.0.1:8800 (first on line 1)"},
    {"mode forward;\n", 1, "mode: expected forward, reverse, tcp or transparent, got 'forward;'"},
    {"mode forward\nmode\001 x\n", 2, "control character 0x01 in line"},
    {"mode forward\r\n", 1, "carriage return in line (DOS line endings?)"},
    {"# \x7f\n", 1, "control character 0x7f in line"},
    {"\n\x1b[31m\n", 2, "control character 0x1b in line"},
    {"pidfile run/warpd.pid\n", 1,
     "pidfile: expected 'off' or an absolute path, got 'run/warpd.pid'"},
    {"upstream example.com:80#c\n", 1, "upstream: invalid port in 'example.com:80#c'"},
    /* The first error stops the parse: line 2, not line 3. */
    {"workers 2\nworkers 3\nbogus\n", 2, "duplicate directive 'workers' (first on line 1)"},
    {"Listen 8800\n", 1, "unknown directive 'Listen'"},
    {"allow\n", 1, "'allow' takes one or more values"},
    {"deny # all\n", 1, "'deny' takes one or more values"},
    {"allow 127.0.0.1\ndeny all\nallow 10.0.0.1/8\n", 3,
     "allow: address has bits set after the /8 prefix (the network is 10.0.0.0/8), got "
     "'10.0.0.1/8'"},
    {"deny 10.0.0.0/33\n", 1,
     "deny: prefix length out of range (0-32 for IPv4), got '10.0.0.0/33'"},
    {"allow ::1\nallow [::1]\n", 2,
     "allow: expected 'all' or an address such as 192.0.2.7, 192.0.2.0/24 or 2001:db8::/32, got "
     "'[::1]'"},
    /* Order decides: a narrower rule after a wider one would never apply. */
    {"deny 10.0.0.0/8\n\nallow 10.1.0.0/16\n", 3,
     "allow: never reached: the earlier 'deny 10.0.0.0/8' matches all of it, got '10.1.0.0/16'"},
    {"allow all\ndeny 192.0.2.7\n", 2,
     "deny: never reached: the earlier 'allow all' matches all of it, got '192.0.2.7'"},
    {"connect_ports\n", 1, "'connect_ports' takes one or more values"},
    {"connect_ports 443\nconnect_ports 8443\n", 2,
     "duplicate directive 'connect_ports' (first on line 1)"},
    {"connect_ports 443 2000-1000 80\n", 1,
     "connect_ports: port range runs backwards, got '2000-1000'"},
    {"connect_ports any 443\n", 1,
     "connect_ports: 'any' cannot be mixed with ports, got 'any 443'"},
    {"via on off\n", 1, "'via' takes one value"},
    {"upstream_host a b\n", 1, "'upstream_host' takes one value"},
    {"max_header_size 64 k\n", 1, "'max_header_size' takes one value"},
    {"keepalive_timeout 2d\n", 1,
     "keepalive_timeout: expected a duration such as 10, 1.5, 10s, 500ms, 2m or 1h, got '2d'"},
    /* shape: rules repeat, the default line may not */
    {"shape warp\nshape warp a.test\nshape off\n", 3,
     "duplicate directive 'shape' (first on line 1)"},
    {"shape warp a.test\nshape off\nshape split b.test\n\nshape split\n", 5,
     "duplicate directive 'shape' (first on line 2)"},
    {"shape\n", 1, "'shape' takes one or more values"},
    {"shape warp a.test\nshape fast b.test\n", 2, "shape: expected " STRATEGIES ", got 'fast'"},
    {"shape warp a.test\nshape off b.test A.test\n", 2,
     "shape: host pattern already has a rule, got 'A.test'"},
    {"shape warp a.test:80\n", 1,
     "shape: expected a host pattern such as example.com, *.example.com or *, got 'a.test:80'"},
    {"shape_delay 200ms\nshape_delay 300ms\n", 2,
     "duplicate directive 'shape_delay' (first on line 1)"},
    {"shape_delay 200 ms\n", 1, "'shape_delay' takes one value"},
    {"shape_fragment 1\n", 1,
     "shape_fragment: expected a first length and a range such as 1 2-4, each 1-64, got '1'"},
    {"shape_fragment 1 2 - 4\n", 1,
     "shape_fragment: expected a first length and a range such as 1 2-4, each 1-64, got '1 2 - "
     "4'"},
    {"shape_fragment 1 2-4\nshape_fragment 1 2-4\n", 2,
     "duplicate directive 'shape_fragment' (first on line 1)"},
    {"shape_fragment_delay\n", 1, "'shape_fragment_delay' takes one or more values"},
    {"shape_fragment_delay 1 2 3 4 5 # five\n", 1,
     "shape_fragment_delay: too many delays (at most 4)"},
    {"shape_host_header Host:\n", 1,
     "shape_host_header: expected the word host in any letter case, got 'Host:'"},
    {"tls_split_ports 443\ntls_split_ports 8443\n", 2,
     "duplicate directive 'tls_split_ports' (first on line 1)"},
    {"shape_seed 1\nshape_seed 2\n", 2, "duplicate directive 'shape_seed' (first on line 1)"},
};

START_TEST(test_file_bad)
{
    struct config c;
    char err[512] = "", want[1024];
    const char *path = write_file("bad.conf", file_bad[_i].text);

    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:%d: %s", path, file_bad[_i].line, file_bad[_i].msg);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(test_file_nul_byte)
{
    struct config c;
    char err[512], want[512];
    static const char text[] = "mode tcp\nmode\0tcp\n";
    const char *path = write_file_n("nul.conf", text, sizeof(text) - 1);

    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_file_long_line)
{
    struct config c;
    char err[512], want[512];
    static char text[2 * 4096 + 64];
    const char *path;

    /* A 4096-byte comment line is fine ... */
    strcpy(text, "mode tcp\n");
    memset(text + 9, '#', 4096);
    strcpy(text + 9 + 4096, "\nupstream a:1\n");
    path = write_file("long.conf", text);
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.mode, MODE_TCP);
    ck_assert_str_eq(c.upstream_host, "a");

    /* ... one byte more is not. */
    memset(text + 9, '#', 4097);
    strcpy(text + 9 + 4097, "\nupstream a:1\n");
    path = write_file("long.conf", text);
    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:2: line too long (more than 4096 bytes)", path);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_file_cannot_open)
{
    struct config c;
    char err[512], want[512], path[256];

    snprintf(path, sizeof(path), "%s/missing.conf", tu_tmpdir());
    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    ck_assert_str_eq(err, want);

    /* A directory opens but cannot be read. */
    snprintf(path, sizeof(path), "%s/sub", tu_tmpdir());
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: cannot read: Is a directory", path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* Comments, blank lines, tabs, '#' inside a token, no final newline. */
START_TEST(test_file_layout)
{
    struct config c;
    char err[512] = "";
    const char *path = write_file("ok.conf", "# warpd test config\n"
                                             "\n"
                                             "   \t \n"
                                             "   # indented comment\n"
                                             "\tmode\t\treverse\t# why: tests\n"
                                             "upstream   origin.test:8080#\n"
                                             "pidfile /run/a#b.pid\n"
                                             "resolver 192.0.2.1  192.0.2.2:5353 # two\n"
                                             "log_level debug");

    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    /* "8080#" is one token: '#' starts a comment only after whitespace. */
    ck_assert_ptr_nonnull(strstr(err, ":6: upstream: invalid port in 'origin.test:8080#'"));

    path = write_file("ok.conf", "# warpd test config\n"
                                 "\n"
                                 "   \t \n"
                                 "   # indented comment\n"
                                 "\tmode\t\treverse\t# why: tests\n"
                                 "upstream   origin.test:8080 #\n"
                                 "pidfile /run/a#b.pid\n"
                                 "resolver 192.0.2.1  192.0.2.2:5353 # two\n"
                                 "log_level debug");
    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.path, path);
    ck_assert_int_eq(c.mode, MODE_REVERSE);
    ck_assert_str_eq(c.upstream_host, "origin.test");
    ck_assert_uint_eq(c.upstream_port, 8080);
    ck_assert_str_eq(c.pidfile, "/run/a#b.pid");
    ck_assert_str_eq(c.resolver, "192.0.2.1,192.0.2.2:5353");
    ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
    /* No listen in the file: the default stays. */
    ck_assert_int_eq(c.nlisten, 1);
    ck_assert_str_eq(c.listen[0].text, "127.0.0.1:8800");
}
END_TEST

START_TEST(test_file_empty)
{
    struct config c, d;
    char err[512];
    const char *path = write_file("empty.conf", "");

    config_init(&c);
    config_init(&d);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), 0);
    ck_assert_str_eq(c.path, path);
    memset(c.path, 0, sizeof(c.path));
    c.path_mode = 0; /* what the file is, not what it says */
    ck_assert(memcmp(&c, &d, sizeof(c)) == 0);
}
END_TEST

START_TEST(test_file_listen_replaces)
{
    struct config c;
    char err[512] = "";
    const char *path = write_file("l.conf", "listen 192.0.2.7:80\n"
                                            "mode forward\n"
                                            "listen [::1]:81\n"
                                            "listen 8800\n");

    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.nlisten, 3);
    ck_assert_str_eq(c.listen[0].text, "192.0.2.7:80");
    ck_assert_str_eq(c.listen[1].text, "[::1]:81");
    /* The default came back only because the file named it again. */
    ck_assert_str_eq(c.listen[2].text, "127.0.0.1:8800");
}
END_TEST

START_TEST(test_file_every_directive)
{
    struct config c;
    char err[512] = "";
    const char *path = write_file("all.conf", "listen 127.0.0.1:0\n"
                                              "workers 3\n"
                                              "mode tcp\n"
                                              "upstream [::1]:9\n"
                                              "shape warp\n"
                                              "connect_timeout 2.5\n"
                                              "resolve_timeout 750ms\n"
                                              "idle_timeout 5m\n"
                                              "shutdown_timeout 1h\n"
                                              "max_connections 10\n"
                                              "resolver [::1]:53\n"
                                              "log /var/log/w.log\n"
                                              "log_level warn\n"
                                              "access_log off\n"
                                              "pidfile /run/w.pid\n"
                                              "user root\n");

    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.listen[0].text, "127.0.0.1:0");
    ck_assert_int_eq(c.workers, 3);
    ck_assert_int_eq(c.mode, MODE_TCP);
    ck_assert_str_eq(c.upstream_host, "::1");
    ck_assert_uint_eq(c.upstream_port, 9);
    ck_assert_int_eq(c.shape, SHAPE_WARP);
    ck_assert_double_eq(c.connect_timeout, 2.5);
    ck_assert_double_eq_tol(c.resolve_timeout, 0.75, 1e-12);
    ck_assert_double_eq(c.idle_timeout, 300);
    ck_assert_double_eq(c.shutdown_timeout, 3600);
    ck_assert_int_eq(c.max_connections, 10);
    ck_assert_str_eq(c.resolver, "[::1]:53");
    ck_assert_str_eq(c.log, "/var/log/w.log");
    ck_assert_int_eq(c.log_level, LOG_LVL_WARN);
    ck_assert_str_eq(c.access_log, "off");
    ck_assert_str_eq(c.pidfile, "/run/w.pid");
    ck_assert_str_eq(c.user, "root");
    ck_assert_int_eq(c.uid, 0);
    ck_assert_int_eq(c.gid, 0);
}
END_TEST

START_TEST(test_file_http_directives)
{
    struct config c;
    char err[512] = "", ports[256];
    const char *path = write_file("http.conf", "mode reverse\n"
                                               "upstream 127.0.0.1:8080\n"
                                               "header_timeout 10s\n"
                                               "keepalive_timeout 0\n"
                                               "response_timeout 2m\n"
                                               "max_header_size 16k\n"
                                               "connect_ports 443 8443\t1024-65535 # tls\n"
                                               "via off\n"
                                               "upstream_host www.example.com:8443\n"
                                               "upstream_keepalive 0\n"
                                               "upstream_keepalive_timeout 500ms\n");

    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_double_eq(c.header_timeout, 10);
    ck_assert_double_eq(c.keepalive_timeout, 0);
    ck_assert_double_eq(c.response_timeout, 120);
    ck_assert_uint_eq(c.max_header_size, 16384);
    ports_text(&c, ports, sizeof(ports));
    ck_assert_str_eq(ports, "443,1024-65535");
    ck_assert_int_eq(c.via, 0);
    ck_assert_str_eq(c.upstream_host_header, "www.example.com:8443");
    ck_assert_str_eq(c.upstream_host, "127.0.0.1");
    ck_assert_int_eq(c.upstream_keepalive, 0);
    ck_assert_double_eq_tol(c.upstream_keepalive_timeout, 0.5, 1e-12);
}
END_TEST

START_TEST(test_file_shaping)
{
    struct config c;
    char err[512] = "", ports[256];
    const char *path = write_file("shape.conf", "shape warp *.blocked.test blocked.test\n"
                                                "shape\toff\n"
                                                "shape split  Mirror.Test # comment\n"
                                                "shape_delay 1.5s\n"
                                                "shape warp *\n"
                                                "shape_dummy_headers 0\n"
                                                "shape_dummy_length 64\n"
                                                "shape_dummy_name_length 8\n"
                                                "shape_fragment 2\t3-5\n"
                                                "shape_fragment_delay 0 100ms 1s 10s\n"
                                                "shape_split_pos 3\n"
                                                "shape_split_method on\n"
                                                "shape_split_path 12\n"
                                                "shape_host_header HOST\n"
                                                "shape_mixed_case on\n"
                                                "tls_split record\n"
                                                "tls_split_ports 443 8443\n"
                                                "shape_seed 42\n");

    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.shape, SHAPE_OFF);
    ck_assert_int_eq(c.nshape_rules, 4);
    ck_assert_str_eq(c.shape_rules[0].pattern, "*.blocked.test");
    ck_assert_int_eq(c.shape_rules[0].shape, SHAPE_WARP);
    ck_assert_str_eq(c.shape_rules[1].pattern, "blocked.test");
    ck_assert_str_eq(c.shape_rules[2].pattern, "mirror.test");
    ck_assert_int_eq(c.shape_rules[2].shape, SHAPE_SPLIT);
    ck_assert_str_eq(c.shape_rules[3].pattern, "*");
    ck_assert_int_eq(config_shape_for(&c, "mirror.test"), SHAPE_SPLIT);
    ck_assert_int_eq(config_shape_for(&c, "www.blocked.test"), SHAPE_WARP);
    ck_assert_int_eq(config_shape_for(&c, "other.test"), SHAPE_WARP); /* "*", not the default */
    ck_assert_int_eq(c.shape_delay_ms, 1500);
    ck_assert_int_eq(c.shape_dummy_headers, 0);
    ck_assert_int_eq(c.shape_dummy_length, 64);
    ck_assert_int_eq(c.shape_dummy_name_length, 8);
    ck_assert_int_eq(c.shape_frag_first, 2);
    ck_assert_int_eq(c.shape_frag_min, 3);
    ck_assert_int_eq(c.shape_frag_max, 5);
    ck_assert_int_eq(c.nshape_frag_delays, 4);
    ck_assert_int_eq(c.shape_frag_delays[0], 0);
    ck_assert_int_eq(c.shape_frag_delays[1], 100);
    ck_assert_int_eq(c.shape_frag_delays[2], 1000);
    ck_assert_int_eq(c.shape_frag_delays[3], 10000);
    ck_assert_int_eq(c.shape_split_pos, 3);
    ck_assert_int_eq(c.shape_split_method, 1);
    ck_assert_int_eq(c.shape_split_path, 12);
    ck_assert_str_eq(c.shape_host_header, "HOST");
    ck_assert_int_eq(c.shape_mixed_case, 1);
    ck_assert_int_eq(c.tls_split, CFG_TLS_SPLIT_RECORD);
    range_text(c.tls_split_ports, c.ntls_split_ports, ports, sizeof(ports));
    ck_assert_str_eq(ports, "443,8443");
    ck_assert(c.shape_seed == 42);
}
END_TEST

/* Only rule lines repeat: a file of rules alone keeps the built-in default. */
START_TEST(test_file_shape_rules_only)
{
    struct config c;
    char err[512] = "";
    const char *path = write_file("r.conf", "shape warp a.test\n"
                                            "shape warp b.test\n"
                                            "shape off a.b.test\n");

    config_init(&c);
    ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.shape, SHAPE_SPLIT);
    ck_assert_int_eq(c.nshape_rules, 3);
    ck_assert_int_eq(config_shape_for(&c, "b.test"), SHAPE_WARP);
    ck_assert_int_eq(config_shape_for(&c, "a.b.test"), SHAPE_OFF);
    ck_assert_int_eq(config_shape_for(&c, "c.test"), SHAPE_SPLIT);
}
END_TEST

START_TEST(test_file_too_many_listen)
{
    struct config c;
    char err[512], want[512], text[1024] = "";
    const char *path;
    int i;

    for (i = 0; i <= CFG_MAX_LISTEN; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "listen %d\n", 9000 + i);
    path = write_file("many.conf", text);
    config_init(&c);
    ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:17: listen: too many addresses (at most 16)", path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* ---- config_finish ---------------------------------------------------------- */

START_TEST(test_finish_checks)
{
    struct config c;
    char err[512] = "";

    config_init(&c);
    c.mode = MODE_TCP;
    ck_assert_int_eq(config_finish(&c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "mode tcp needs an upstream (directive 'upstream' or option -u)");

    config_init(&c);
    c.mode = MODE_REVERSE;
    ck_assert_int_eq(config_finish(&c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "mode reverse needs an upstream (directive 'upstream' or option -u)");

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "upstream", "a.test:80", err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "upstream is used only in reverse and tcp modes");

    /* The user is looked up where it is set, so the error names its line. */
    config_init(&c);
    ck_assert_int_eq(config_set(&c, "user", "no-such-user-warpd", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "unknown user 'no-such-user-warpd'");
    ck_assert_str_eq(c.user, "");

    /* upstream_host only in reverse mode. */
    config_init(&c);
    ck_assert_int_eq(config_set(&c, "upstream_host", "a.test", err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "upstream_host is used only in reverse mode");
    ck_assert_int_eq(config_set(&c, "mode", "tcp", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "upstream", "a.test:80", err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "upstream_host is used only in reverse mode");
    ck_assert_int_eq(config_set(&c, "mode", "reverse", err, sizeof(err)), 0);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.upstream_host_header, "a.test");

    config_init(&c);
    ck_assert_int_eq(config_set(&c, "workers", "7", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "mode", "reverse", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&c, "upstream", "a.test:80", err, sizeof(err)), 0);
    ck_assert_msg(config_finish(&c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.workers, 7);
}
END_TEST

/* ---- config_build: file, then the command line ------------------------------ */

START_TEST(test_build_precedence)
{
    struct config c;
    struct cli_opts o;
    char err[512] = "", want[1024];
    const char *path = write_file("b.conf", "listen 192.0.2.1:80\n"
                                            "listen 192.0.2.1:81\n"
                                            "mode reverse\n"
                                            "upstream origin.test:80\n"
                                            "workers 2\n"
                                            "shape off\n"
                                            "log_level warn\n");

    /* The file alone. */
    memset(&o, 0, sizeof(o));
    o.config_path = path;
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.nlisten, 2);
    ck_assert_int_eq(c.mode, MODE_REVERSE);
    ck_assert_int_eq(c.workers, 2);
    ck_assert_int_eq(c.shape, SHAPE_OFF);
    ck_assert_int_eq(c.log_level, LOG_LVL_WARN);
    ck_assert_str_eq(c.path, path);

    /* -l replaces the whole list; -m -w -s override; -v raises one step. */
    o.listen[0] = "8801";
    o.listen[1] = "[::1]:8802";
    o.nlisten = 2;
    o.mode = "tcp";
    o.workers = "5";
    o.shape = "warp";
    o.verbose = 1;
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.nlisten, 2);
    ck_assert_str_eq(c.listen[0].text, "127.0.0.1:8801");
    ck_assert_str_eq(c.listen[1].text, "[::1]:8802");
    ck_assert_int_eq(c.mode, MODE_TCP);
    ck_assert_str_eq(c.upstream_host, "origin.test");
    ck_assert_int_eq(c.workers, 5);
    ck_assert_int_eq(c.shape, SHAPE_WARP);
    ck_assert_int_eq(c.log_level, LOG_LVL_INFO);

    /* -v three times stops at debug; -q wins over -v. */
    o.verbose = 3;
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), 0);
    ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
    o.quiet = 1;
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), 0);
    ck_assert_int_eq(c.log_level, LOG_LVL_ERROR);

    /* -m forward on top of a file with an upstream: the cross check sees it. */
    o.mode = "forward";
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: upstream is used only in reverse and tcp modes", path);
    ck_assert_str_eq(err, want);
    /* -u on the command line replaces the file's upstream. */
    o.mode = NULL;
    o.upstream = "[::1]:9";
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), 0);
    ck_assert_str_eq(c.upstream_host, "::1");
    ck_assert_uint_eq(c.upstream_port, 9);

    /* -s replaces the file's default strategy and keeps its rules. */
    path = write_file("b3.conf", "shape off\nshape warp *.blocked.test\n");
    memset(&o, 0, sizeof(o));
    o.config_path = path;
    o.shape = "split";
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.shape, SHAPE_SPLIT);
    ck_assert_int_eq(c.nshape_rules, 1);
    ck_assert_int_eq(config_shape_for(&c, "x.blocked.test"), SHAPE_WARP);
    ck_assert_int_eq(config_shape_for(&c, "example.com"), SHAPE_SPLIT);
    /* A rebuild starts from the defaults: rules do not pile up across reloads. */
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.nshape_rules, 1);
    o.shape = NULL;

    /* upstream_host from a file is refused once -m leaves reverse mode. */
    path = write_file("b2.conf", "mode reverse\nupstream o.test:80\nupstream_host h.test\n");
    o.config_path = path;
    o.upstream = NULL;
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.upstream_host_header, "h.test");
    o.mode = "tcp";
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: upstream_host is used only in reverse mode", path);
    ck_assert_str_eq(err, want);
}
END_TEST

static const struct {
    const char *host, *port, *listen;
    const char *want; /* the listen list, " "-joined, or "!message" */
} warp_cases[] = {
    {"0.0.0.0", NULL, NULL, "0.0.0.0:8800"},
    {NULL, "9000", NULL, "127.0.0.1:9000"},
    {"::1", "9", NULL, "[::1]:9"},
    {"[::1]", "9", NULL, "[::1]:9"},
    {"*", NULL, NULL, "0.0.0.0:8800"},
    {NULL, "9000", "8801", "127.0.0.1:8801 127.0.0.1:9000"},
    {NULL, "9000", "9000", "!option -p: duplicate address 127.0.0.1:9000"},
    {"127.0.0.1", "8801", "8801", "!option -H/-p: duplicate address 127.0.0.1:8801"},
    {"localhost", NULL, NULL,
     "!option -H: not a numeric address (names are not allowed here) in 'localhost:8800'"},
    {NULL, "http", NULL, "!option -p: invalid port in '127.0.0.1:http'"},
    {NULL, "70000", NULL, "!option -p: port out of range in '127.0.0.1:70000'"},
    {NULL, NULL, "127.0.0.1", "!option -l: missing port in '127.0.0.1'"},
};

START_TEST(test_build_warp_aliases)
{
    struct config c;
    struct cli_opts o;
    char err[512] = "", got[512] = "";
    const char *path = write_file("w.conf", "listen 192.0.2.1:80\n");
    int i;

    memset(&o, 0, sizeof(o));
    o.config_path = path;
    o.warp_host = warp_cases[_i].host;
    o.warp_port = warp_cases[_i].port;
    if (warp_cases[_i].listen != NULL) {
        o.listen[0] = warp_cases[_i].listen;
        o.nlisten = 1;
    }
    if (warp_cases[_i].want[0] == '!') {
        ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), -1);
        ck_assert_str_eq(err, warp_cases[_i].want + 1);
        return;
    }
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    for (i = 0; i < c.nlisten; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
                 c.listen[i].text);
    ck_assert_str_eq(got, warp_cases[_i].want);
}
END_TEST

static const struct {
    const char *opt, *value, *err;
} build_bad[] = {
    {"w", "x", "option -w: expected 1-64 or 'auto', got 'x'"},
    {"m", "fast", "option -m: expected forward, reverse, tcp or transparent, got 'fast'"},
    {"u", "example.com", "option -u: missing port in 'example.com'"},
    {"s", "max", "option -s: expected " STRATEGIES ", got 'max'"},
    {"s", "warp *.a.test", "option -s: expected one strategy name (host rules go in the file)"},
    {"m", "tcp", "mode tcp needs an upstream (directive 'upstream' or option -u)"},
    {"u", "example.com:80", "upstream is used only in reverse and tcp modes"},
};

START_TEST(test_build_bad)
{
    struct config c, before;
    struct cli_opts o;
    char err[512] = "";

    memset(&o, 0, sizeof(o));
    switch (build_bad[_i].opt[0]) {
    case 'w':
        o.workers = build_bad[_i].value;
        break;
    case 'm':
        o.mode = build_bad[_i].value;
        break;
    case 'u':
        o.upstream = build_bad[_i].value;
        break;
    case 's':
        o.shape = build_bad[_i].value;
        break;
    }
    /* A failed build leaves the caller's config exactly as it was. */
    memset(&c, 0xa5, sizeof(c));
    before = c;
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), -1);
    ck_assert_str_eq(err, build_bad[_i].err);
    ck_assert(memcmp(&c, &before, sizeof(c)) == 0);
}
END_TEST

START_TEST(test_build_file_errors)
{
    struct config c;
    struct cli_opts o;
    char err[512], want[512], path[256];

    memset(&o, 0, sizeof(o));
    snprintf(path, sizeof(path), "%s/nope.conf", tu_tmpdir());
    o.config_path = path;
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    ck_assert_str_eq(err, want);

    /* Whole-config problems name the file they come from. */
    o.config_path = write_file("e.conf", "mode tcp\n");
    ck_assert_int_eq(config_build(&c, &o, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s: mode tcp needs an upstream (directive 'upstream' or option -u)", o.config_path);
    ck_assert_str_eq(err, want);
    /* ... which -u fixes. */
    o.upstream = "127.0.0.1:7";
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.mode, MODE_TCP);

    /* No file at all: the built-in defaults. */
    memset(&o, 0, sizeof(o));
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.path, "");
    ck_assert_str_eq(c.listen[0].text, "127.0.0.1:8800");
    ck_assert_int_ge(c.workers, 1);
}
END_TEST

/* ---- cli_parse ------------------------------------------------------------ */

/* Runs cli_parse with stdout and stderr captured into out and errout. */
static int
run_cli(char **argv, struct cli_opts *o, char *out, size_t outlen, char *errout, size_t errlen)
{
    int argc = 0, saved1, saved2, fd1, fd2, rc;
    char p1[256], p2[256];
    ssize_t n;

    while (argv[argc] != NULL)
        argc++;
    snprintf(p1, sizeof(p1), "%s/stdout", tu_tmpdir());
    snprintf(p2, sizeof(p2), "%s/stderr", tu_tmpdir());
    fd1 = open(p1, O_RDWR | O_CREAT | O_TRUNC, 0600);
    fd2 = open(p2, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert(fd1 >= 0 && fd2 >= 0);
    fflush(stdout);
    fflush(stderr);
    saved1 = dup(1);
    saved2 = dup(2);
    dup2(fd1, 1);
    dup2(fd2, 2);
    rc = cli_parse(argc, argv, o);
    fflush(stdout);
    fflush(stderr);
    dup2(saved1, 1);
    dup2(saved2, 2);
    close(saved1);
    close(saved2);
    n = pread(fd1, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    n = pread(fd2, errout, errlen - 1, 0);
    errout[n > 0 ? n : 0] = '\0';
    close(fd1);
    close(fd2);
    return rc;
}

START_TEST(test_cli_short)
{
    char *argv[] = {"warpd", "-c",  "/etc/w.conf", "-t",  "-l",  "80",  "-l", "[::1]:81",
                    "-w",    "4",   "-m",          "tcp", "-u",  "h:1", "-s", "warp",
                    "-v",    "-vv", "-q",          "-H",  "::1", "-p",  "9",  NULL};
    struct cli_opts o;
    char out[4096], errout[4096];

    ck_assert_int_eq(run_cli(argv, &o, out, sizeof(out), errout, sizeof(errout)), 0);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(errout, "");
    ck_assert_str_eq(o.config_path, "/etc/w.conf");
    ck_assert_int_eq(o.test, 1);
    ck_assert_int_eq(o.nlisten, 2);
    ck_assert_str_eq(o.listen[0], "80");
    ck_assert_str_eq(o.listen[1], "[::1]:81");
    ck_assert_str_eq(o.workers, "4");
    ck_assert_str_eq(o.mode, "tcp");
    ck_assert_str_eq(o.upstream, "h:1");
    ck_assert_str_eq(o.shape, "warp");
    ck_assert_int_eq(o.verbose, 3);
    ck_assert_int_eq(o.quiet, 1);
    ck_assert_str_eq(o.warp_host, "::1");
    ck_assert_str_eq(o.warp_port, "9");
}
END_TEST

START_TEST(test_cli_long)
{
    char *argv[] = {"warpd",       "--config=/w.conf",
                    "--test",      "--listen",
                    "8800",        "--listen=1.2.3.4:5",
                    "--workers",   "auto",
                    "--mode",      "reverse",
                    "--upstream",  "o:80",
                    "--shape=off", "--verbose",
                    "--quiet",     "--host",
                    "0.0.0.0",     "--port=1",
                    "--conf",      "/x.conf",
                    NULL};
    struct cli_opts o;
    char out[4096], errout[4096];

    ck_assert_int_eq(run_cli(argv, &o, out, sizeof(out), errout, sizeof(errout)), 0);
    ck_assert_str_eq(errout, "");
    ck_assert_str_eq(o.config_path, "/x.conf"); /* unambiguous prefix; the last -c wins */
    ck_assert_int_eq(o.test, 1);
    ck_assert_int_eq(o.nlisten, 2);
    ck_assert_str_eq(o.listen[1], "1.2.3.4:5");
    ck_assert_str_eq(o.workers, "auto");
    ck_assert_str_eq(o.mode, "reverse");
    ck_assert_str_eq(o.upstream, "o:80");
    ck_assert_str_eq(o.shape, "off");
    ck_assert_int_eq(o.verbose, 1);
    ck_assert_int_eq(o.quiet, 1);
    ck_assert_str_eq(o.warp_host, "0.0.0.0");
    ck_assert_str_eq(o.warp_port, "1");
}
END_TEST

START_TEST(test_cli_empty_and_twice)
{
    char *argv1[] = {"warpd", NULL};
    char *argv2[] = {"warpd", "-w", "3", "--", NULL};
    char *argv3[] = {"warpd", "-v", NULL};
    struct cli_opts o;
    char out[256], errout[256];

    ck_assert_int_eq(run_cli(argv1, &o, out, sizeof(out), errout, sizeof(errout)), 0);
    ck_assert_ptr_null(o.config_path);
    ck_assert_int_eq(o.nlisten, 0);
    ck_assert_int_eq(o.verbose, 0);
    /* A second call in the same process starts afresh. */
    ck_assert_int_eq(run_cli(argv2, &o, out, sizeof(out), errout, sizeof(errout)), 0);
    ck_assert_str_eq(o.workers, "3");
    ck_assert_int_eq(run_cli(argv3, &o, out, sizeof(out), errout, sizeof(errout)), 0);
    ck_assert_ptr_null(o.workers);
    ck_assert_int_eq(o.verbose, 1);
}
END_TEST

START_TEST(test_cli_help)
{
    char *argv[] = {"warpd", "-t", "-h", "--bogus", NULL};
    static const char *const opts[] = {
        "-c, --config",  "-t, --test",    "-l, --listen",   "-H, --host",  "-p, --port",
        "-w, --workers", "-m, --mode",    "-u, --upstream", "-s, --shape", "-v, --verbose",
        "-q, --quiet",   "-V, --version", "-h, --help"};
    struct cli_opts o;
    char out[8192], errout[256], needle[64];
    size_t i;

    /* -h stops the parse before the bad option is seen. */
    ck_assert_int_eq(run_cli(argv, &o, out, sizeof(out), errout, sizeof(errout)), 1);
    ck_assert_str_eq(errout, "");
    ck_assert_ptr_nonnull(strstr(out, "usage: warpd"));
    for (i = 0; i < WD_ARRAY_SIZE(opts); i++) {
        snprintf(needle, sizeof(needle), "\n  %s ", opts[i]);
        ck_assert_msg(strstr(out, needle) != NULL, "help lacks '%s'", opts[i]);
    }
    ck_assert_int_eq(out[strlen(out) - 1], '\n');
}
END_TEST

START_TEST(test_cli_version)
{
    char *argv[] = {"warpd", "--version", NULL};
    char *argv2[] = {"warpd", "-V", NULL};
    struct cli_opts o;
    char out[256], errout[256];

    ck_assert_int_eq(run_cli(argv, &o, out, sizeof(out), errout, sizeof(errout)), 1);
#ifdef PACKAGE_VERSION
    ck_assert_str_eq(out, "warpd " PACKAGE_VERSION "\n");
#else
    ck_assert_int_eq(strncmp(out, "warpd ", 6), 0);
#endif
    ck_assert_str_eq(errout, "");
    ck_assert_int_eq(run_cli(argv2, &o, out, sizeof(out), errout, sizeof(errout)), 1);
    ck_assert_int_eq(strncmp(out, "warpd ", 6), 0);
}
END_TEST

static const struct {
    const char *args[4];
    const char *problem;
} cli_bad[] = {
    {{"-x"}, "unknown option '-x'"},
    {{"-tx"}, "unknown option '-x'"},
    {{"--test", "-qx"}, "unknown option '-x'"},
    {{"--bogus"}, "unknown option '--bogus'"},
    {{"--bogus=1"}, "unknown option '--bogus'"},
    {{"--ver"}, "ambiguous option '--ver'"},
    {{"-c"}, "missing argument for '-c'"},
    {{"-t", "-l"}, "missing argument for '-l'"},
    {{"-qw"}, "missing argument for '-w'"},
    {{"--config"}, "missing argument for '--config'"},
    {{"--conf"}, "missing argument for '--conf'"},
    {{"--test=1"}, "no argument allowed for '--test'"},
    {{"stray"}, "unexpected argument 'stray'"},
    {{"-t", "/etc/warpd.conf"}, "unexpected argument '/etc/warpd.conf'"},
    {{"--", "-t"}, "unexpected argument '-t'"},
    {{"a\033]0;x\007"}, "unexpected argument 'a\\x1b]0;x\\x07'"},
};

START_TEST(test_cli_bad)
{
    char *argv[8] = {"warpd"};
    struct cli_opts o;
    char out[256], errout[512], want[512];
    int i;

    for (i = 0; cli_bad[_i].args[i] != NULL; i++)
        argv[i + 1] = (char *)cli_bad[_i].args[i];
    ck_assert_int_eq(run_cli(argv, &o, out, sizeof(out), errout, sizeof(errout)), -1);
    snprintf(want, sizeof(want), "warpd: %s (try 'warpd -h')\n", cli_bad[_i].problem);
    ck_assert_str_eq(errout, want);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_cli_too_many_listen)
{
    char *argv[2 * (CFG_MAX_LISTEN + 1) + 2] = {"warpd"};
    struct cli_opts o;
    char out[256], errout[512];
    int i, n = 1;

    for (i = 0; i < CFG_MAX_LISTEN; i++) {
        argv[n++] = "-l";
        argv[n++] = "80";
    }
    ck_assert_int_eq(run_cli(argv, &o, out, sizeof(out), errout, sizeof(errout)), 0);
    ck_assert_int_eq(o.nlisten, CFG_MAX_LISTEN);
    argv[n++] = "-l";
    argv[n++] = "81";
    ck_assert_int_eq(run_cli(argv, &o, out, sizeof(out), errout, sizeof(errout)), -1);
    ck_assert_str_eq(errout, "warpd: too many -l options (at most 16) (try 'warpd -h')\n");
}
END_TEST

/* cli_parse then config_build, as main() does. */
START_TEST(test_cli_then_build)
{
    const char *path =
        write_file("cb.conf", "mode reverse\nupstream o.test:80\nlisten 1.2.3.4:1\n");
    char *argv[] = {"warpd", "-c", (char *)path, "-p", "8888", "-m", "tcp", "-vv", NULL};
    struct cli_opts o;
    struct config c;
    char out[256], errout[256], err[512] = "";

    ck_assert_int_eq(run_cli(argv, &o, out, sizeof(out), errout, sizeof(errout)), 0);
    ck_assert_msg(config_build(&c, &o, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.nlisten, 1);
    ck_assert_str_eq(c.listen[0].text, "127.0.0.1:8888");
    ck_assert_int_eq(c.mode, MODE_TCP);
    ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
}
END_TEST

/* ---- the documentation against the table ---------------------------------- */

/* conf/warpd.conf and warpd.conf(5) list every directive with its default; a
 * default changed in the table but not in the documents (or the reverse)
 * fails here. The files come from the source tree, which make check names in
 * WARPD_SRCDIR (the current directory when run by hand from the top). */

#define DOC_MAXLINES 4096

/* A document split into lines, in one buffer. */
struct doc {
    char *text;
    char *line[DOC_MAXLINES];
    int n;
};

static void
doc_read(struct doc *d, const char *rel)
{
    const char *top = getenv("WARPD_SRCDIR");
    char path[1024], *p;
    FILE *f;
    long size;

    snprintf(path, sizeof(path), "%s/%s", top != NULL && top[0] != '\0' ? top : ".", rel);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s (is WARPD_SRCDIR the source tree?)", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    rewind(f);
    d->text = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(d->text);
    ck_assert_uint_eq(fread(d->text, 1, (size_t)size, f), (size_t)size);
    d->text[size] = '\0';
    fclose(f);
    d->n = 0;
    for (p = d->text; *p != '\0' && d->n < DOC_MAXLINES;) {
        d->line[d->n++] = p;
        p += strcspn(p, "\n");
        if (*p == '\n')
            *p++ = '\0';
    }
    ck_assert_int_lt(d->n, DOC_MAXLINES);
}

/* Whether s starts with the directive name followed by nothing that could
 * continue a name ("listen" in "listen 1", not in "listen_x"). */
static int
starts_with_name(const char *s, const char *name)
{
    size_t n = strlen(name);
    char next = s[n];

    return strncmp(s, name, n) == 0 &&
           !((next >= 'a' && next <= 'z') || next == '_' || (next >= '0' && next <= '9'));
}

/* Whether s holds word, ignoring letter case. */
static int
has_words(const char *s, const char *word)
{
    for (; *s != '\0'; s++)
        if (strncasecmp(s, word, strlen(word)) == 0)
            return 1;
    return 0;
}

/* Whether a document's text around a directive says it has no default:
 * "No default: ...", "No users (the default): ...", "Default: no rules". */
static int
says_no_default(const char *s)
{
    return has_words(s, "no default") || has_words(s, "(the default)") ||
           has_words(s, "default: no");
}

/* Whether a conf line is a commented-out directive ("#listen ..."), as opposed
 * to a comment ("# text"). */
static int
conf_is_directive(const char *l)
{
    return l[0] == '#' && l[1] >= 'a' && l[1] <= 'z';
}

/* conf/warpd.conf: the first "#NAME VALUE" line is the default (or, for a
 * directive without one, an example); the comment paragraph above it says
 * when there is no default. Returns 0 when the directive is not there. */
static int
conf_find(const struct doc *d, const char *name, char *val, size_t vallen, int *nodef)
{
    char para[4096] = "";
    int i, j, k;

    for (i = 0; i < d->n; i++)
        if (conf_is_directive(d->line[i]) && starts_with_name(d->line[i] + 1, name))
            break;
    if (i == d->n)
        return 0;
    snprintf(val, vallen, "%s",
             d->line[i] + 1 + strlen(name) + (d->line[i][1 + strlen(name)] == ' '));
    /* Up over the example lines just above, then the comment paragraph,
     * which is read top down without its "# ". */
    for (j = i - 1; j >= 0 && conf_is_directive(d->line[j]); j--)
        ;
    for (k = j; k >= 0 && d->line[k][0] == '#' && !conf_is_directive(d->line[k]); k--)
        ;
    for (k++; k <= j; k++) {
        strncat(para, " ", sizeof(para) - strlen(para) - 1);
        strncat(para, d->line[k] + 1 + (d->line[k][1] == ' '), sizeof(para) - strlen(para) - 1);
    }
    *nodef = says_no_default(para);
    return 1;
}

/* The directive named by the heading line of a man page item (the line after
 * .TP or .TQ): ".BI name ...", ".BR name ...", ".B name" or "\fBname...". */
static const char *
man_heading(const char *l)
{
    static const char *const macros[] = {".BI ", ".BR ", ".B ", "\\fB"};
    size_t i;

    for (i = 0; i < WD_ARRAY_SIZE(macros); i++)
        if (strncmp(l, macros[i], strlen(macros[i])) == 0)
            return l + strlen(macros[i]);
    return NULL;
}

/* Whether line i of the man page is the heading of an item for a directive of
 * the table; *tp says whether the item starts there (.TP) or continues the
 * one above (.TQ, a second heading such as deny after allow). */
static const char *
man_item(const struct doc *d, int i, int *tp)
{
    const char *h, *name, *def;
    size_t k;

    if (i == 0 || (strcmp(d->line[i - 1], ".TP") != 0 && strcmp(d->line[i - 1], ".TQ") != 0))
        return NULL;
    if ((h = man_heading(d->line[i])) == NULL)
        return NULL;
    *tp = strcmp(d->line[i - 1], ".TP") == 0;
    for (k = 0; config_directive(k, &name, &def); k++)
        if (starts_with_name(h, name))
            return name;
    return NULL;
}

/* Turns a man page value into plain text: groff's \- and \~ become - and a
 * space, and "listen 127.0.0.1:8800" (the name repeated) loses the name. */
static void
man_plain(const char *in, const char *name, char *out, size_t outlen)
{
    size_t o = 0;

    if (starts_with_name(in, name) && in[strlen(name)] == ' ')
        in += strlen(name) + 1;
    for (; *in != '\0' && o + 1 < outlen; in++) {
        if (in[0] == '\\' && (in[1] == '-' || in[1] == '~')) {
            out[o++] = in[1] == '-' ? '-' : ' ';
            in++;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* warpd.conf(5): the item whose heading names the directive, up to the next
 * directive's item or section; in it, "Default:" followed by a line
 * ".BR value ." or ".BR \"two words\" .". *nodef when the item says there is
 * none instead. Returns 0 when the directive has no item. */
static int
man_find(const struct doc *d, const char *name, char *val, size_t vallen, int *nodef)
{
    char item[16384] = "", raw[256];
    const char *other, *v;
    int i, j, tp;

    for (i = 0; i < d->n; i++)
        if ((other = man_item(d, i, &tp)) != NULL && strcmp(other, name) == 0)
            break;
    if (i == d->n)
        return 0;
    val[0] = '\0';
    for (j = i + 1; j < d->n; j++) {
        if (strncmp(d->line[j], ".SS", 3) == 0 || strncmp(d->line[j], ".SH", 3) == 0 ||
            ((other = man_item(d, j, &tp)) != NULL && tp && strcmp(other, name) != 0))
            break;
        strncat(item, d->line[j], sizeof(item) - strlen(item) - 2);
        strcat(item, "\n");
        if (strcmp(d->line[j], "Default:") == 0 && j + 1 < d->n &&
            strncmp(d->line[j + 1], ".BR ", 4) == 0) {
            v = d->line[j + 1] + 4;
            if (*v == '"')
                snprintf(raw, sizeof(raw), "%.*s", (int)strcspn(v + 1, "\""), v + 1);
            else
                snprintf(raw, sizeof(raw), "%.*s", (int)strcspn(v, " "), v);
            man_plain(raw, name, val, vallen);
        }
    }
    *nodef = says_no_default(item);
    return 1;
}

START_TEST(test_docs_match_table)
{
    struct doc conf, man;
    char cv[256], mv[256];
    const char *name, *def;
    int cnodef, mnodef;
    size_t i;

    doc_read(&conf, "conf/warpd.conf");
    doc_read(&man, "man/warpd.conf.5");
    for (i = 0; config_directive(i, &name, &def); i++) {
        ck_assert_msg(conf_find(&conf, name, cv, sizeof(cv), &cnodef),
                      "conf/warpd.conf has no '#%s' line", name);
        ck_assert_msg(man_find(&man, name, mv, sizeof(mv), &mnodef),
                      "warpd.conf(5) has no item for %s", name);
        if (def != NULL) {
            ck_assert_msg(strcmp(cv, def) == 0,
                          "%s: default '%s' in the table, '%s' in conf/warpd.conf", name, def, cv);
            ck_assert_msg(strcmp(mv, def) == 0,
                          "%s: default '%s' in the table, '%s' in warpd.conf(5)", name, def, mv);
        } else {
            ck_assert_msg(cnodef, "%s has no default, but conf/warpd.conf does not say so", name);
            ck_assert_msg(mnodef && mv[0] == '\0',
                          "%s has no default, but warpd.conf(5) does not say so (or shows '%s')",
                          name, mv);
        }
    }
    free(conf.text);
    free(man.text);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("directives");
    tcase_add_unchecked_fixture(tc, tu_tmpdir_setup, tu_tmpdir_teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_names);
    tcase_add_loop_test(tc, test_set_ok, 0, (int)WD_ARRAY_SIZE(set_ok));
    tcase_add_loop_test(tc, test_set_bad, 0, (int)WD_ARRAY_SIZE(set_bad));
    tcase_add_test(tc, test_set_limits);
    tcase_add_test(tc, test_set_quotes_value);
    tcase_add_test(tc, test_connect_ports);
    tcase_add_test(tc, test_tls_split_ports);
    tcase_add_test(tc, test_strategies);
    tcase_add_test(tc, test_block_hosts);
    tcase_add_test(tc, test_mode_defaults);
    tcase_add_test(tc, test_shape_for);
    tcase_add_test(tc, test_shape_rule_limits);
    tcase_add_test(tc, test_listen_open);
    tcase_add_test(tc, test_file_auth);
    tcase_add_test(tc, test_auth_mode);
    tcase_add_test(tc, test_auth_exposed);
    tcase_add_loop_test(tc, test_duration, 0, (int)WD_ARRAY_SIZE(durations));
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_unchecked_fixture(tc, tu_tmpdir_setup, tu_tmpdir_teardown);
    tcase_add_loop_test(tc, test_file_bad, 0, (int)WD_ARRAY_SIZE(file_bad));
    tcase_add_test(tc, test_file_nul_byte);
    tcase_add_test(tc, test_file_long_line);
    tcase_add_test(tc, test_file_cannot_open);
    tcase_add_test(tc, test_file_layout);
    tcase_add_test(tc, test_file_empty);
    tcase_add_test(tc, test_file_listen_replaces);
    tcase_add_test(tc, test_file_every_directive);
    tcase_add_test(tc, test_file_http_directives);
    tcase_add_test(tc, test_file_shaping);
    tcase_add_test(tc, test_file_shape_rules_only);
    tcase_add_test(tc, test_file_too_many_listen);
    tcase_add_test(tc, test_file_acl);
    suite_add_tcase(s, tc);

    tc = tcase_create("build");
    tcase_add_unchecked_fixture(tc, tu_tmpdir_setup, tu_tmpdir_teardown);
    tcase_add_test(tc, test_finish_checks);
    tcase_add_test(tc, test_build_precedence);
    tcase_add_loop_test(tc, test_build_warp_aliases, 0, (int)WD_ARRAY_SIZE(warp_cases));
    tcase_add_loop_test(tc, test_build_bad, 0, (int)WD_ARRAY_SIZE(build_bad));
    tcase_add_test(tc, test_build_file_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_add_unchecked_fixture(tc, tu_tmpdir_setup, tu_tmpdir_teardown);
    tcase_add_test(tc, test_cli_short);
    tcase_add_test(tc, test_cli_long);
    tcase_add_test(tc, test_cli_empty_and_twice);
    tcase_add_test(tc, test_cli_help);
    tcase_add_test(tc, test_cli_version);
    tcase_add_loop_test(tc, test_cli_bad, 0, (int)WD_ARRAY_SIZE(cli_bad));
    tcase_add_test(tc, test_cli_too_many_listen);
    tcase_add_test(tc, test_cli_then_build);
    suite_add_tcase(s, tc);

    tc = tcase_create("docs");
    tcase_add_test(tc, test_docs_match_table);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(config_suite());
}
