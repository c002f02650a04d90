/* A worker process. Everything here runs in one libev loop created after
 * fork: the accept watchers of this worker's listener slot, the sessions, the
 * resolver, and signals. Signals stay blocked and are read from a signalfd by
 * an ev_io watcher, so no handler ever runs and no signal can be lost between
 * fork and the loop starting. */
#include "worker.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "listener.h"
#include "log.h"
#include "upstream.h"
#include "upstream_pool.h"
#include "proto.h"
#include "resolve.h"
#include "session.h"
#include "xbuf.h"

struct worker {
    struct ev_loop *loop;
    const struct config *cfg;
    int slot;
    struct listener *listener;  /* own slot's sockets; NULL once stopping */
    struct worker_socks *socks; /* every slot's sockets (own slot's: -1, the listener has them) */
    /* Other slots accepted on at the supervisor's request, while their
     * worker is down; NULL for the others. */
    struct listener *cover[CFG_MAX_WORKERS];
    char ctl_pending;         /* 'A' or 'D' read, its slot byte not yet */
    ev_tstamp reclaim_logged; /* when the last "closing idle" line was written */
    int reclaimed;            /* idle connections closed since that line */
    struct session_env env;
    const struct proto *proto; /* the intake of the configured mode */
    ev_io sig_io;              /* signalfd */
    ev_io ctl_io;              /* supervisor pipe: EOF means the supervisor is gone */
    ev_timer stop_timer;
    int sig_fd;
    int ctl_fd; /* supervisor pipe: up 'R' ready, 'S' stopped accepting; down 'F' */
    int final;  /* the supervisor said 'F': warpd stops, no generation takes over */
};

static void worker_accept(void *arg, int fd, const struct sockaddr *peer, socklen_t len, int idx);

/* Pauses or resumes accepting on every slot this worker accepts on. */
static void
worker_pause(struct worker *w, int paused)
{
    listener_pause(w->listener, paused);
    for (int i = 0; i < w->socks->nslots; i++)
        if (w->cover[i] != NULL)
            listener_pause(w->cover[i], paused);
}

/* Starts or stops accepting on another slot's sockets. */
static void
worker_cover(struct worker *w, int slot, int on)
{
    struct listener *l;

    if (slot < 0 || slot >= w->socks->nslots || slot == w->slot)
        return;
    if (!on) {
        if (w->cover[slot] != NULL)
            log_debug("slot %d has its worker again", slot);
        listener_forget(w->cover[slot]);
        w->cover[slot] = NULL;
        return;
    }
    if (w->cover[slot] != NULL || w->env.stopping || w->socks->fd[slot][0] < 0)
        return;
    l = listener_new(w->loop, w->socks->fd[slot], w->socks->nlisten, worker_accept, w);
    if (l == NULL) {
        log_warnx("out of memory: cannot accept for slot %d", slot);
        return;
    }
    if (w->env.accept_paused)
        listener_pause(l, 1);
    w->cover[slot] = l;
    log_info("accepting for slot %d too, while its worker is down", slot);
}

/* At a stop: no more accepting on other slots (at a final stop, after
 * taking what their queues hold), and their sockets closed. */
static void
worker_drop_cover(struct worker *w)
{
    for (int i = 0; i < w->socks->nslots; i++) {
        if (w->cover[i] != NULL && w->final)
            listener_drain(w->cover[i]);
        listener_forget(w->cover[i]);
        w->cover[i] = NULL;
        for (int j = 0; j < w->socks->nlisten; j++) {
            if (w->socks->fd[i][j] >= 0)
                close(w->socks->fd[i][j]);
            w->socks->fd[i][j] = -1;
        }
    }
}

/* Reads what the supervisor sent: 'F' comes before the SIGTERM of a final
 * stop (not a reload), when this worker's listening sockets die with it;
 * 'A' n and 'D' n start and stop accepting on slot n. Returns -1 when the
 * supervisor is gone. */
static int
worker_read_ctl(struct worker *w)
{
    unsigned char b[64];

    for (;;) {
        ssize_t n = recv(w->ctl_fd, b, sizeof(b), MSG_DONTWAIT);

        for (ssize_t i = 0; i < n; i++) {
            if (w->ctl_pending != 0) {
                worker_cover(w, b[i], w->ctl_pending == 'A');
                w->ctl_pending = 0;
            } else if (b[i] == 'F') {
                w->final = 1;
            } else if (b[i] == 'A' || b[i] == 'D') {
                w->ctl_pending = (char)b[i];
            }
        }
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ? -1 : 0;
    }
}

static void
worker_begin_stop(struct worker *w, const char *why)
{
    if (w->env.stopping)
        return; /* a repeated signal changes nothing */
    w->env.stopping = 1;
    log_info("stopping (%s), %d session(s) in flight", why, w->env.active);
    /* At a final stop nobody else will accept from our queues: take what is
     * queued (answered with Connection: close) rather than reset it. At a
     * reload the new generation accepts from the same sockets. */
    if (w->final) {
        int n = listener_drain(w->listener);
        if (n > 0)
            log_info("took %d queued connection(s) before closing the listener", n);
    }
    listener_close(w->listener);
    w->listener = NULL;
    worker_drop_cover(w);
    /* Tell the supervisor we accept nothing more: a reload is complete only
     * once every old worker said so. */
    if (w->ctl_fd >= 0 && write(w->ctl_fd, "S", 1) != 1)
        log_debug("supervisor pipe closed");
    upstream_pool_clear();
    session_stop_all(&w->env);
    if (w->env.active == 0) {
        ev_break(w->loop, EVBREAK_ALL);
        return;
    }
    ev_timer_set(&w->stop_timer, w->cfg->shutdown_timeout, 0.);
    ev_timer_start(w->loop, &w->stop_timer);
}

static void
worker_stop_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    log_warnx("shutdown_timeout reached, closing %d session(s)", w->env.active);
    session_close_all(&w->env, "shutdown timeout");
    ev_break(loop, EVBREAK_ALL);
}

static void
worker_count_change(struct session_env *env)
{
    struct worker *w = (struct worker *)((char *)env - offsetof(struct worker, env));

    if (env->stopping) {
        if (env->active == 0)
            ev_break(w->loop, EVBREAK_ALL);
        return;
    }
    /* Room again, or an idle connection that can be closed for the next. */
    if (env->accept_paused && (env->active < w->cfg->max_connections || session_have_idle(env))) {
        env->accept_paused = 0;
        worker_pause(w, 0);
    }
}

/* At max_connections, a new client takes the place of the connection kept
 * alive the longest without a request (nginx does the same), so idle
 * clients cannot lock new ones out until keepalive_timeout. Said at most
 * once a second, with the count. */
static void
worker_make_room(struct worker *w)
{
    ev_tstamp now = ev_now(w->loop);

    if (!session_close_idle(&w->env))
        return;
    w->reclaimed++;
    if (now - w->reclaim_logged >= 1.0) {
        log_warnx("max_connections (%d) reached: closed %d idle keep-alive connection(s) for new "
                  "clients",
                  w->cfg->max_connections, w->reclaimed);
        w->reclaim_logged = now;
        w->reclaimed = 0;
    }
}

static void
worker_accept(void *arg, int fd, const struct sockaddr *peer, socklen_t len, int idx)
{
    struct worker *w = arg;
    struct session_env *env = &w->env;

    if (env->active >= w->cfg->max_connections && !env->stopping)
        worker_make_room(w);
    session_start(env, w->proto, fd, peer, len, w->cfg->listen[idx].proxy_protocol);
    if (!env->accept_paused && !env->stopping && env->active >= w->cfg->max_connections &&
        w->listener != NULL && !session_have_idle(env)) {
        env->accept_paused = 1;
        worker_pause(w, 1);
        log_warnx("max_connections (%d) reached, accepting paused", w->cfg->max_connections);
    }
}

static void
worker_signal_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;
    struct signalfd_siginfo si;

    while (read(w->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            /* The supervisor writes 'F' before it signals a final stop. */
            if (worker_read_ctl(w) < 0)
                w->final = 1;
            worker_begin_stop(w, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        case SIGUSR1:
            log_reopen();
            break;
        default: /* SIGHUP, SIGUSR2: reloads and upgrades are the supervisor's */
            break;
        }
    }
}

static void
worker_ctl_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;

    if (worker_read_ctl(w) < 0) {
        /* The supervisor's copies of the listeners went with it. */
        ev_io_stop(loop, io);
        w->final = 1;
        worker_begin_stop(w, "supervisor gone");
    }
    /* An 'F' only marks the stop as final: its SIGTERM follows. */
}

/* Gives up root after the listeners exist (they were bound by the supervisor). */
static int
worker_drop_privileges(const struct config *cfg)
{
    if (cfg->user[0] == '\0' || geteuid() != 0)
        return 0;
    if (initgroups(cfg->user, cfg->gid) < 0 || setgid(cfg->gid) < 0 || setuid(cfg->uid) < 0) {
        log_error("cannot switch to user %s", cfg->user);
        return -1;
    }
    return 0;
}

/* The loop's watchers: the signalfd (for the signals in sigs), the
 * supervisor's pipe, the stop timer. Returns 0, or -1 after logging. */
static int
worker_watch(struct worker *w, const sigset_t *sigs)
{
    w->sig_fd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (w->sig_fd < 0) {
        log_error("signalfd");
        return -1;
    }
    ev_io_init(&w->sig_io, worker_signal_cb, w->sig_fd, EV_READ);
    w->sig_io.data = w;
    ev_io_start(w->loop, &w->sig_io);
    ev_io_init(&w->ctl_io, worker_ctl_cb, w->ctl_fd, EV_READ);
    w->ctl_io.data = w;
    ev_io_start(w->loop, &w->ctl_io);
    ev_timer_init(&w->stop_timer, worker_stop_timeout_cb, 0., 0.);
    w->stop_timer.data = w;
    w->reclaim_logged = -1e9;
    return 0;
}

/* What the worker needs before it accepts: root given up, the resolver, the
 * upstream pool, the sessions' environment and the intake of the mode, and
 * the listener of its own slot. Returns WD_EXIT_OK, or the exit status
 * after logging. */
static int
worker_setup(struct worker *w)
{
    const struct config *cfg = w->cfg;
    struct worker_socks *socks = w->socks;
    char err[256];

    if (worker_drop_privileges(cfg) < 0)
        return WD_EXIT_FATAL;
    if (resolve_init(w->loop, cfg->resolver, cfg->resolver_tcp ? RESOLVE_TCP : 0, cfg->hosts,
                     cfg->resolve_timeout, err, sizeof(err)) < 0) {
        log_errorx("resolver: %s", err);
        return WD_EXIT_FATAL;
    }
    upstream_pool_init(w->loop, cfg->upstream_keepalive, cfg->upstream_keepalive_timeout);
    session_env_init(&w->env, w->loop, cfg);
    w->proto = proto_for_config(cfg);
    upstream_set_mark(cfg->upstream_mark);
    w->env.on_count_change = worker_count_change;
    w->listener = listener_new(w->loop, socks->fd[w->slot], socks->nlisten, worker_accept, w);
    if (w->listener == NULL) {
        log_errorx("out of memory");
        return WD_EXIT_RUNTIME;
    }
    for (int i = 0; i < socks->nlisten; i++)
        socks->fd[w->slot][i] = -1; /* owned by the listener now */
    return WD_EXIT_OK;
}

/* Closes what worker_run opened, whether or not the loop ran. */
static void
worker_teardown(struct worker *w)
{
    listener_close(w->listener);
    worker_drop_cover(w);
    session_close_all(&w->env, "worker exit");
    upstream_pool_clear();
    resolve_shutdown();
    buf_pool_clear();
    xbuf_pool_clear();
    if (w->sig_fd >= 0)
        close(w->sig_fd);
    close(w->ctl_fd);
    log_set_loop(NULL); /* writes the access lines still held */
    ev_loop_destroy(w->loop);
}

int
worker_run(const struct config *cfg, int slot, struct worker_socks *socks, int ctl_fd)
{
    struct worker w;
    sigset_t sigs;
    int status;

    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.slot = slot;
    w.sig_fd = -1;
    w.ctl_fd = ctl_fd;
    w.socks = socks;
    log_set_tag("worker %d", slot);

    /* The supervisor blocked these before fork; keep them blocked and read
     * them from a signalfd. A dead supervisor sends SIGTERM. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR2); /* a binary upgrade is the supervisor's: ignored here */
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);

    w.loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (w.loop == NULL)
        w.loop = ev_loop_new(EVFLAG_AUTO);
    if (w.loop == NULL) {
        log_errorx("cannot create the event loop");
        return WD_EXIT_RUNTIME;
    }
    log_set_loop(w.loop); /* access lines written together, not one by one */
    if (worker_watch(&w, &sigs) < 0) {
        status = WD_EXIT_RUNTIME;
        goto out;
    }
    /* Everything but our own signals may be delivered normally again. */
    sigprocmask(SIG_SETMASK, &sigs, NULL);
    if ((status = worker_setup(&w)) != WD_EXIT_OK)
        goto out;

    /* The supervisor may already be gone (PDEATHSIG was set after fork). */
    if (getppid() == 1)
        worker_begin_stop(&w, "supervisor gone");
    else if (write(ctl_fd, "R", 1) != 1)
        worker_begin_stop(&w, "supervisor gone");
    log_debug("ready");
    ev_run(w.loop, 0);
    log_debug("exiting");

out:
    worker_teardown(&w);
    return status;
}
