/* The stats page server, inside the supervisor's poll loop (see stats.h).
 * Everything is non-blocking and bounded: at most STATS_CLIENTS readers at
 * once (more are closed at accept), a request head of at most
 * STATS_REQ_MAX bytes within STATS_TIMEOUT seconds, one answer, then the
 * connection is closed. A reader stats_allow does not list gets 403 before
 * anything is read. */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "log.h"
#include "metrics.h"
#include "stats_text.h"

#define STATS_CLIENTS (STATS_POLL_MAX - 1)
#define STATS_REQ_MAX 4096
#define STATS_TIMEOUT 5.0 /* seconds for a reader to send its request and take the answer */

struct stats_client {
    int fd;                 /* -1: free */
    double deadline;        /* monotonic */
    size_t inlen;           /* bytes of in used */
    char in[STATS_REQ_MAX]; /* the request head so far */
    char *out;              /* the answer, once made; malloc'd */
    size_t outlen, outoff;  /* its length, and what was written */
};

static const struct config *st_cfg;     /* the supervisor's current one */
static int st_fd = -1;                  /* listener, -1 when off */
static struct sockaddr_storage st_addr; /* what st_fd is bound to */
static socklen_t st_addrlen;
static struct stats_client st_clients[STATS_CLIENTS];
static struct stats_proc st_procs[METRICS_SLOTS];
static int st_pollmap[STATS_POLL_MAX]; /* pfd entry -> client index, -1 the listener */

static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the listener ------------------------------------------------------ */

/* A listener the old supervisor of a binary upgrade handed over
 * (STATS_ENV_FD) and that is bound to cfg's address: taken as it is, so
 * that the page stays up across the upgrade (binding anew would fail while
 * the old supervisor holds the address). Anything else is closed. */
static int
stats_inherited(const struct config *cfg)
{
    const char *v = getenv(STATS_ENV_FD);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char *end;
    long fd;

    if (v == NULL)
        return -1;
    unsetenv(STATS_ENV_FD);
    fd = strtol(v, &end, 10);
    if (end == v || *end != '\0' || fd < 3 || fd > INT_MAX)
        return -1;
    if (getsockname((int)fd, (struct sockaddr *)&ss, &len) == 0 && len == cfg->stats_addrlen &&
        memcmp(&ss, &cfg->stats_addr, len) == 0) {
        fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        fcntl((int)fd, F_SETFL, fcntl((int)fd, F_GETFL) | O_NONBLOCK);
        return (int)fd;
    }
    close((int)fd);
    return -1;
}

int
stats_listen_fd(void)
{
    return st_fd;
}

static int
stats_bind(const struct config *cfg, char *err, size_t errlen)
{
    int one = 1, fd;

    if ((fd = stats_inherited(cfg)) >= 0)
        goto bound;
    fd = socket(cfg->stats_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "stats_listen %s: socket: %s", cfg->stats_text, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (cfg->stats_addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&cfg->stats_addr, cfg->stats_addrlen) < 0 ||
        listen(fd, 64) < 0) {
        snprintf(err, errlen, "stats_listen %s: %s", cfg->stats_text, strerror(errno));
        close(fd);
        return -1;
    }
bound:
    if (st_fd >= 0)
        close(st_fd);
    st_fd = fd;
    st_addr = cfg->stats_addr;
    st_addrlen = cfg->stats_addrlen;
    return 0;
}

int
stats_open(const struct config *cfg, char *err, size_t errlen)
{
    st_cfg = cfg;
    for (int i = 0; i < STATS_CLIENTS; i++)
        st_clients[i].fd = -1;
    if (metrics_create() < 0)
        log_warn("metrics: cannot map the shared counters, the stats page will show zeros");
    if (cfg->stats_addrlen == 0)
        return 0;
    return stats_bind(cfg, err, errlen);
}

void
stats_reloaded(void)
{
    char err[256];

    metrics_sup()->reloads++;
    if (st_cfg == NULL)
        return;
    if (st_cfg->stats_addrlen == st_addrlen &&
        memcmp(&st_cfg->stats_addr, &st_addr, (size_t)st_addrlen) == 0)
        return;
    if (st_cfg->stats_addrlen == 0) {
        if (st_fd >= 0)
            close(st_fd);
        st_fd = -1;
        st_addrlen = 0;
        return;
    }
    if (stats_bind(st_cfg, err, sizeof(err)) < 0)
        log_warnx("reload: %s; the stats page stays where it was", err);
}

void
stats_restarted(void)
{
    metrics_sup()->restarts++;
}

static void
client_close(struct stats_client *c)
{
    char sink[512];

    if (c->fd < 0)
        return;
    /* What the reader still sent (a POST body) is taken, so that the close
     * does not turn into a reset that destroys the answer. */
    while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
    close(c->fd);
    c->fd = -1;
    free(c->out);
    c->out = NULL;
}

void
stats_close(void)
{
    for (int i = 0; i < STATS_CLIENTS; i++)
        client_close(&st_clients[i]);
    if (st_fd >= 0)
        close(st_fd);
    st_fd = -1;
}

void
stats_proc_started(int idx, pid_t pid, int slot, int gen)
{
    if (idx < 0 || idx >= METRICS_SLOTS)
        return;
    st_procs[idx].pid = pid;
    st_procs[idx].slot = slot;
    st_procs[idx].gen = gen;
}

void
stats_proc_ended(int idx)
{
    if (idx < 0 || idx >= METRICS_SLOTS)
        return;
    st_procs[idx].pid = 0;
    metrics_retire(idx);
}

void
stats_child(int idx)
{
    for (int i = 0; i < STATS_CLIENTS; i++)
        if (st_clients[i].fd >= 0) {
            close(st_clients[i].fd);
            st_clients[i].fd = -1;
        }
    if (st_fd >= 0)
        close(st_fd);
    st_fd = -1;
    metrics_attach(idx);
}

/* ---- one reader ---------------------------------------------------------- */

/* Makes the answer for the request head in c->in (complete or not). */
static void
client_answer(struct stats_client *c, int allowed)
{
    struct stats_request rq;

    if (!allowed)
        rq.status = 403;
    else
        stats_text_parse(c->in, c->inlen, &rq);
    c->out = stats_text_answer(&rq, st_cfg, st_procs, METRICS_SLOTS, &c->outlen);
    c->outoff = 0;
    if (c->out == NULL)
        client_close(c);
}

static void
client_write(struct stats_client *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            client_close(c);
            return;
        }
        c->outoff += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    client_close(c);
}

static void
client_read(struct stats_client *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            client_close(c); /* gone before its request was complete */
            return;
        }
        c->inlen += (size_t)n;
        c->in[c->inlen] = '\0';
        if (strstr(c->in, "\r\n\r\n") != NULL || strstr(c->in, "\n\n") != NULL ||
            c->inlen == sizeof(c->in) - 1) {
            client_answer(c, 1);
            if (c->fd >= 0)
                client_write(c);
            return;
        }
    }
}

static void
stats_accept(void)
{
    for (int k = 0; k < STATS_CLIENTS; k++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        struct stats_client *c = NULL;
        int fd = accept4(st_fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;
        for (int i = 0; i < STATS_CLIENTS && c == NULL; i++)
            if (st_clients[i].fd < 0)
                c = &st_clients[i];
        if (c == NULL) {
            close(fd); /* busy: a scraper retries */
            continue;
        }
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        c->deadline = mono() + STATS_TIMEOUT;
        if (!acl_allows(st_cfg->stats_allow, st_cfg->nstats_allow, (struct sockaddr *)&peer,
                        NULL)) {
            client_answer(c, 0);
            if (c->fd >= 0)
                client_write(c);
        }
    }
}

/* ---- the supervisor's poll ------------------------------------------------ */

int
stats_poll_fill(struct pollfd *pfd)
{
    int n = 0;

    if (st_fd >= 0) {
        pfd[n].fd = st_fd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        st_pollmap[n++] = -1;
    }
    for (int i = 0; i < STATS_CLIENTS; i++) {
        struct stats_client *c = &st_clients[i];

        if (c->fd < 0)
            continue;
        pfd[n].fd = c->fd;
        pfd[n].events = c->out != NULL ? POLLOUT : POLLIN;
        pfd[n].revents = 0;
        st_pollmap[n++] = i;
    }
    return n;
}

int
stats_poll_timeout(int ms)
{
    double now = mono();

    for (int i = 0; i < STATS_CLIENTS; i++) {
        int left;

        if (st_clients[i].fd < 0)
            continue;
        left = st_clients[i].deadline <= now ? 0 : (int)((st_clients[i].deadline - now) * 1000) + 1;
        if (ms < 0 || left < ms)
            ms = left;
    }
    return ms;
}

void
stats_poll_handle(const struct pollfd *pfd, int n)
{
    double now = mono();

    for (int k = 0; k < n; k++) {
        struct stats_client *c;

        if (st_pollmap[k] < 0) {
            if ((pfd[k].revents & POLLIN) && st_fd >= 0)
                stats_accept();
            continue;
        }
        c = &st_clients[st_pollmap[k]];
        if (c->fd != pfd[k].fd || pfd[k].revents == 0)
            continue;
        if (c->out != NULL)
            client_write(c);
        else
            client_read(c);
    }
    for (int i = 0; i < STATS_CLIENTS; i++)
        if (st_clients[i].fd >= 0 && st_clients[i].deadline <= now)
            client_close(&st_clients[i]);
}
