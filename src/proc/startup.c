/* What the supervisor does around starting a configuration, besides its
 * sockets and workers: raising the open-file limit, the warnings a
 * configuration earns at start and at each reload (an open proxy, a readable
 * password file, too few descriptors), the pidfile, and the auto-shaping
 * table shared by the workers. */
#include "startup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "auto_cache.h"
#include "log.h"

/* shape_auto_cache of the configuration the table was made for: a reload
 * asking for another size is told it waits for a restart. */
static int cache_entries;

void
startup_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* An open forward proxy is found and abused within hours: say so loudly,
 * unless allow or deny rules or auth_user users show that the operator chose
 * who may use it. */
static void
warn_open_proxy(const struct config *cfg)
{
    for (int i = 0; i < cfg->nlisten; i++)
        if (config_listen_open(cfg, i))
            log_warnx(
                "forward proxy listening on non-loopback address %s with no client "
                "restriction (allow/deny) and no proxy authentication (auth_user): anyone who "
                "can reach it can use it as an open proxy",
                cfg->listen[i].text);
}

/* Passwords in a file others can read are not secret: say so once per
 * load of the file (at start, at each reload), not once per worker. */
static void
warn_auth_file(const struct config *cfg)
{
    if (config_auth_exposed(cfg))
        log_warnx("%s holds auth_user passwords and can be read by %s (mode %04o): "
                  "make it readable by its owner only (chmod 600)",
                  cfg->path, (cfg->path_mode & 004) ? "every user" : "its group", cfg->path_mode);
}

/* Each connection may hold a client and an upstream socket, and each worker
 * also holds the listening sockets of its generation, its control and
 * signal descriptors, the resolver's and a few more: with an open-file limit
 * below that, clients past it get 502 (EMFILE) long before max_connections.
 * startup_raise_nofile already took the soft limit up to the hard one; if even that
 * is too low, say so, with the numbers. */
static void
check_fd_limit(const struct config *cfg)
{
    struct rlimit rl;
    rlim_t extra = (rlim_t)(cfg->nlisten * cfg->workers) + 64;
    rlim_t need = 2 * (rlim_t)cfg->max_connections + extra;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return;
    log_warnx("the open-file limit (%llu) is below the %llu descriptors that max_connections %d "
              "needs (2 per connection + %llu): clients past it get 502; raise it (ulimit -n, "
              "systemd LimitNOFILE=) or lower max_connections",
              (unsigned long long)rl.rlim_cur, (unsigned long long)need, cfg->max_connections,
              (unsigned long long)extra);
}

/* tcp mode relays bytes it does not look at: a strategy asked for there
 * (shape, -s) does nothing, which the operator should hear. */
static void
warn_shape_tcp(const struct config *cfg)
{
    if (cfg->mode == MODE_TCP && cfg->shape_given && cfg->shape != SHAPE_OFF)
        log_warnx("shape %s does nothing in tcp mode: its bytes are relayed as they come",
                  config_shape_name(cfg, cfg->shape));
}

void
startup_warnings(const struct config *cfg)
{
    warn_open_proxy(cfg);
    warn_shape_tcp(cfg);
    warn_auth_file(cfg);
    check_fd_limit(cfg);
}

int
startup_pidfile_write(const char *path)
{
    char b[32];
    int fd, n;

    if (path[0] == '\0')
        return 0;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    n = snprintf(b, sizeof(b), "%d\n", (int)getpid());
    if (write(fd, b, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return close(fd);
}

void
startup_pidfile_remove(const char *path)
{
    char b[32] = "";
    int fd;
    ssize_t n;

    if (path[0] == '\0')
        return;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (n > 0 && atoi(b) == (int)getpid())
        unlink(path);
}

static void
cache_load_file(const char *path)
{
    char err[512];

    if (path[0] == '\0')
        return;
    if (auto_cache_load(auto_cache_shared(), path, time(NULL), err, sizeof(err)) < 0)
        log_warnx("shape_auto_file: %s; the rest of the file is ignored", err);
}

void
startup_auto_cache_open(const struct config *cfg)
{
    struct auto_cache *c;

    if (cfg->shape_auto_cache <= 0)
        return;
    c = auto_cache_create((unsigned)cfg->shape_auto_cache);
    if (c == NULL) {
        log_warn("shape_auto_cache: cannot map a table of %d entries, auto shaping will "
                 "remember nothing",
                 cfg->shape_auto_cache);
        return;
    }
    auto_cache_set_shared(c);
    cache_entries = cfg->shape_auto_cache;
    cache_load_file(cfg->shape_auto_file);
}

void
startup_auto_cache_reload(const struct config *old, const struct config *cfg)
{
    /* Workers of the generation already running could not see a table made
     * now, so only one that never had a table gets one at a reload. */
    if (auto_cache_shared() == NULL) {
        startup_auto_cache_open(cfg);
        return;
    }
    if (cfg->shape_auto_cache != cache_entries)
        log_info("shape_auto_cache %d takes effect at the next restart; the shared table keeps "
                 "its %d entries",
                 cfg->shape_auto_cache, cache_entries);
    if (strcmp(old->shape_auto_file, cfg->shape_auto_file) != 0)
        cache_load_file(cfg->shape_auto_file);
}

void
startup_auto_cache_save(const struct config *cfg)
{
    struct auto_cache *c = auto_cache_shared();
    char err[512];

    if (c != NULL && cfg->shape_auto_file[0] != '\0' &&
        auto_cache_save(c, cfg->shape_auto_file, time(NULL), err, sizeof(err)) < 0)
        log_warnx("shape_auto_file: %s; what auto shaping learnt is lost", err);
}

void
startup_auto_cache_close(const struct config *cfg)
{
    struct auto_cache *c = auto_cache_shared();

    if (c == NULL)
        return;
    startup_auto_cache_save(cfg);
    auto_cache_destroy(c);
}
