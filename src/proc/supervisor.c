/* The supervisor: validates nothing itself (main did), binds the listener
 * slots, forks one worker per slot and keeps them running. It never proxies.
 * Its loop is poll(2) on a signalfd and on the workers' control sockets, so
 * signals are plain events here too and no handler touches any state.
 *
 * Generations: the workers started together from one configuration form a
 * generation. A reload (SIGHUP) starts a new generation next to the old one
 * and stops the old one only once every new worker reported ready, so a
 * reload never leaves a moment without accepting workers. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lset.h"
#include "notify.h"
#include "startup.h"
#include "stats.h"
#include "upgrade.h"
#include "worker.h"

#define SUP_MAX_PROCS    (2 * CFG_MAX_WORKERS + 8)
#define SUP_BACKOFF_MIN  0.1 /* respawn delay after a second quick crash */
#define SUP_BACKOFF_MAX  5.0
#define SUP_SHORT_LIFE   5.0  /* a worker that lived less than this crashed "fast" */
#define SUP_CRASH_WINDOW 60.0 /* more than SUP_CRASH_LIMIT crashes in this window... */
#define SUP_CRASH_LIMIT  10   /* ...stop everything */
#define SUP_KILL_GRACE   5.0  /* after shutdown_timeout, before SIGKILL */

struct proc {
    pid_t pid; /* 0 = free entry */
    int slot;
    int gen;
    int ctl; /* supervisor end of the control socket, -1 after EOF */
    int ready;
    int stopping; /* we asked it to stop; its exit is no crash */
    int quiet;    /* it reported that it stopped accepting */
    double started;
};

struct slot_state {
    double backoff;    /* delay of the next fast-crash respawn */
    double respawn_at; /* when pending */
    int pending;       /* a respawn is due */
    int dead;          /* exited with status 2: not respawned */
    pid_t cover;       /* a live worker accepting for this slot while it has none, or 0 */
};

struct sup {
    const struct cli_opts *cli;
    struct config cfg;     /* configuration of the current generation */
    struct config old_cfg; /* the one before, while a reload is pending */
    struct lset cur, old;  /* listeners of cur/old generation */
    int gen;               /* current generation number */
    int old_gen;           /* the one before, while a reload is pending */
    int last_gen;          /* highest number used: numbers are never reused */
    int reloading;         /* new generation started, not all ready yet */
    int draining;          /* old generation told to stop, not all quiet yet */
    double drain_deadline; /* stop waiting for the old workers' word then */
    int started;           /* first generation was ready once */
    struct proc procs[SUP_MAX_PROCS];
    struct slot_state slots[CFG_MAX_WORKERS];
    double crashes[SUP_CRASH_LIMIT + 1]; /* ring of recent crash times */
    int ncrash;
    int stopping;   /* graceful stop in progress */
    double kill_at; /* when to SIGKILL the stragglers */
    int exit_status;
    int sig_fd;
};

static double
now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- workers --------------------------------------------------------- */

static struct proc *
proc_alloc(struct sup *s)
{
    for (int i = 0; i < SUP_MAX_PROCS; i++)
        if (s->procs[i].pid == 0)
            return &s->procs[i];
    return NULL;
}

static int
procs_alive(const struct sup *s, int gen)
{
    int n = 0;
    for (int i = 0; i < SUP_MAX_PROCS; i++)
        if (s->procs[i].pid != 0 && (gen < 0 || s->procs[i].gen == gen))
            n++;
    return n;
}

/* In the child: close every descriptor of the supervisor's but the
 * listeners of our generation's set (every slot's: a worker may be asked to
 * accept for a slot whose worker is down), then run the worker. Never
 * returns. */
static void __attribute__((noreturn))
child_main(struct sup *s, const struct config *cfg, const struct lset *set, int slot, int ctl)
{
    static struct worker_socks socks;
    const struct lset *other = set == &s->cur ? &s->old : &s->cur;

    for (int i = 0; i < other->n; i++)
        for (int j = 0; j < CFG_MAX_WORKERS; j++) {
            int fd = other->ls[i].fds[j];
            if (fd >= 0 && !lset_has_fd(set, fd))
                close(fd);
        }
    for (int i = 0; i < SUP_MAX_PROCS; i++)
        if (s->procs[i].pid != 0 && s->procs[i].ctl >= 0)
            close(s->procs[i].ctl);
    close(s->sig_fd);
    upgrade_close_in_child();
    socks.nslots = set->nslots;
    socks.nlisten = set->n;
    for (int j = 0; j < set->nslots; j++)
        for (int i = 0; i < set->n; i++)
            socks.fd[j][i] = set->ls[i].fds[j];
    exit(worker_run(cfg, slot, &socks, ctl));
}

static int
spawn(struct sup *s, int slot, int gen, const struct config *cfg, const struct lset *set)
{
    struct proc *p = proc_alloc(s);
    int sv[2];
    pid_t pid;

    if (p == NULL) {
        log_errorx("too many worker processes");
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        log_error("socketpair");
        return -1;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        log_error("fork");
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        stats_child((int)(p - s->procs));
        child_main(s, cfg, set, slot, sv[1]);
    }
    close(sv[1]);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    p->pid = pid;
    p->slot = slot;
    p->gen = gen;
    p->ctl = sv[0];
    p->ready = 0;
    p->stopping = 0;
    p->started = now_mono();
    stats_proc_started((int)(p - s->procs), pid, slot, gen);
    log_debug("worker %d started (pid %d, generation %d)", slot, (int)pid, gen);
    return 0;
}

/* The live, ready worker of slot j in generation gen that was not asked to
 * stop, or NULL. */
static struct proc *
slot_worker(struct sup *s, int j, int gen)
{
    for (int i = 0; i < SUP_MAX_PROCS; i++) {
        struct proc *p = &s->procs[i];
        if (p->pid != 0 && p->gen == gen && p->slot == j && p->ready && !p->stopping)
            return p;
    }
    return NULL;
}

static struct proc *
proc_by_pid(struct sup *s, pid_t pid)
{
    for (int i = 0; i < SUP_MAX_PROCS && pid != 0; i++)
        if (s->procs[i].pid == pid)
            return &s->procs[i];
    return NULL;
}

static void
ctl_send(struct proc *p, char what, int slot)
{
    char m[2] = {what, (char)slot};

    if (p->ctl >= 0 && write(p->ctl, m, sizeof(m)) != (ssize_t)sizeof(m))
        log_debug("worker %d: control socket closed", p->slot);
}

/* Each slot has its own accept queue, which only its worker drains. While
 * that worker is down (waiting for its respawn, or dead for good), a live
 * worker of the same generation accepts for the slot too, so the clients
 * queued there are not left waiting; once the slot has its worker again,
 * that one stops. */
static void
cover_slots(struct sup *s)
{
    if (s->stopping || s->reloading || !s->started)
        return;
    for (int j = 0; j < s->cfg.workers; j++) {
        struct slot_state *st = &s->slots[j];
        struct proc *cov = proc_by_pid(s, st->cover);

        if (slot_worker(s, j, s->gen) != NULL) {
            if (cov != NULL)
                ctl_send(cov, 'D', j);
            st->cover = 0;
            continue;
        }
        if (cov != NULL && !cov->stopping)
            continue;
        st->cover = 0;
        for (int k = 1; k < s->cfg.workers; k++) {
            struct proc *c = slot_worker(s, (j + k) % s->cfg.workers, s->gen);
            if (c != NULL) {
                ctl_send(c, 'A', j);
                st->cover = c->pid;
                log_info("worker %d accepts for slot %d until it has a worker again", c->slot, j);
                break;
            }
        }
    }
}

enum { GEN_ALL, GEN_ONLY, GEN_OLDER };

/* Sends sig to the workers of every generation, of generation gen only, or
 * of the generations older than gen. */
static void
signal_procs(struct sup *s, int sig, int which, int gen)
{
    for (int i = 0; i < SUP_MAX_PROCS; i++) {
        struct proc *p = &s->procs[i];
        if (p->pid == 0 || (which == GEN_ONLY && p->gen != gen) ||
            (which == GEN_OLDER && p->gen >= gen))
            continue;
        if (sig == SIGTERM || sig == SIGKILL)
            p->stopping = 1;
        kill(p->pid, sig);
    }
}

/* ---- lifecycle ------------------------------------------------------- */

static void
begin_stop(struct sup *s, const char *why, int status)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->exit_status = status;
    s->kill_at = now_mono() + s->cfg.shutdown_timeout + SUP_KILL_GRACE;
    log_info("stopping (%s)", why);
    if (!upgrade_shares_listeners()) /* else the service goes on */
        notify_send("STOPPING=1\nSTATUS=stopping (%s)", why);
    upgrade_cancel(why);
    /* Close our copies of the listeners so that, once the workers close
     * theirs, new connections are refused instead of queued. */
    lset_close(&s->old, &s->cur);
    lset_close(&s->cur, NULL);
    /* 'F' before the signal: the workers are now the last holders of the
     * listening sockets, so each takes what is queued before closing
     * (unless another supervisor accepts from them too: an upgrade). */
    for (int i = 0; i < SUP_MAX_PROCS && !upgrade_shares_listeners(); i++) {
        if (s->procs[i].pid != 0 && s->procs[i].ctl >= 0 && write(s->procs[i].ctl, "F", 1) != 1)
            log_debug("worker %d: control socket closed", s->procs[i].slot);
    }
    signal_procs(s, SIGTERM, GEN_ALL, 0);
}

/* A reload that cannot complete: stop the new generation, keep the old one. */
static void
reload_abort(struct sup *s, const char *why)
{
    log_errorx("reload failed: %s; keeping the current configuration", why);
    signal_procs(s, SIGTERM, GEN_ONLY, s->gen);
    s->reloading = 0;
    for (int j = 0; j < CFG_MAX_WORKERS; j++)
        s->slots[j].pending = 0, s->slots[j].dead = 0;
    lset_close(&s->cur, &s->old);
    s->cur = s->old;
    memset(&s->old, 0, sizeof(s->old));
    s->cfg = s->old_cfg;
    s->gen = s->old_gen;
    notify_send("READY=1\nSTATUS=reload failed, running the previous configuration");
}

static void
reload_begin(struct sup *s)
{
    struct config ncfg;
    struct lset nset;
    char err[512];
    const char *failed;

    if (s->reloading) {
        log_warnx("reload already in progress, SIGHUP ignored");
        return;
    }
    log_info("reloading configuration");
    notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                (unsigned long long)(now_mono() * 1e6));
    if (config_build(&ncfg, s->cli, err, sizeof(err)) < 0) {
        log_errorx("reload failed: %s; keeping the current configuration", err);
        notify_send("READY=1\nSTATUS=reload failed, running the previous configuration");
        return;
    }
    if (lset_open(&nset, &ncfg, &s->cur, err, sizeof(err)) < 0) {
        log_errorx("reload failed: %s; keeping the current configuration", err);
        notify_send("READY=1\nSTATUS=reload failed, running the previous configuration");
        return;
    }
    if (ncfg.user[0] != '\0')
        log_set_owner((long)ncfg.uid, (long)ncfg.gid);
    else
        log_set_owner(-1, -1);
    if (log_open(ncfg.log, ncfg.access_log, &failed) < 0)
        log_warn("reload: cannot open %s, logging stays where it was", failed);
    log_set_level(ncfg.log_level);
    startup_warnings(&ncfg);
    startup_auto_cache_reload(&s->cfg, &ncfg);

    s->old_cfg = s->cfg;
    s->old = s->cur;
    s->cur = nset;
    s->cfg = ncfg;
    s->old_gen = s->gen;
    s->gen = ++s->last_gen;
    s->reloading = 1;
    for (int j = 0; j < CFG_MAX_WORKERS; j++) {
        s->slots[j].pending = 0;
        s->slots[j].dead = 0;
        s->slots[j].backoff = 0;
        s->slots[j].cover = 0; /* the old generation stops, covers and all */
    }
    for (int j = 0; j < s->cfg.workers; j++)
        if (spawn(s, j, s->gen, &s->cfg, &s->cur) < 0) {
            reload_abort(s, "cannot start a worker");
            return;
        }
}

static void reload_finish(struct sup *s);

/* Called when an old worker went quiet or exited, or at the deadline. */
static void
check_drained(struct sup *s, int force)
{
    if (!s->draining)
        return;
    if (!force)
        for (int i = 0; i < SUP_MAX_PROCS; i++)
            if (s->procs[i].pid != 0 && s->procs[i].gen < s->gen && !s->procs[i].quiet)
                return;
    if (force)
        log_warnx("old workers did not confirm the stop within %.0fs", SUP_KILL_GRACE);
    reload_finish(s);
}

/* The new generation is ready: stop the old one from accepting. The reload
 * is complete once every old worker reported that it stopped accepting (or
 * exited), so that a connection made after "reload complete" is always
 * served by the new configuration. */
static void
reload_drain(struct sup *s)
{
    s->reloading = 0;
    s->draining = 1;
    s->drain_deadline = now_mono() + SUP_KILL_GRACE;
    signal_procs(s, SIGTERM, GEN_OLDER, s->gen);
    check_drained(s, 0);
}

static void
reload_finish(struct sup *s)
{
    s->draining = 0;
    lset_close(&s->old, &s->cur);
    stats_reloaded();
    log_info("reload complete: generation %d ready, %d worker(s), %s mode", s->gen, s->cfg.workers,
             config_mode_name(s->cfg.mode));
    notify_send("READY=1\nSTATUS=running, %d worker(s)", s->cfg.workers);
}

/* Called when a worker reported ready. */
static void
check_ready(struct sup *s)
{
    char text[512];

    for (int i = 0; i < SUP_MAX_PROCS; i++)
        if (s->procs[i].pid != 0 && s->procs[i].gen == s->gen && !s->procs[i].ready)
            return;
    if (procs_alive(s, s->gen) < s->cfg.workers)
        return;
    if (!s->started) {
        s->started = 1;
        lset_text(&s->cur, text, sizeof(text));
        log_info("listening on %s (%s mode, %d worker(s), shape %s)", text,
                 config_mode_name(s->cfg.mode), s->cfg.workers,
                 s->cfg.mode == MODE_TCP ? "off" : config_shape_name(&s->cfg, s->cfg.shape));
        if (upgrade_inherited()) /* the old supervisor tells systemd our pid */
            upgrade_report_ready();
        else
            notify_send("READY=1\nSTATUS=listening on %s, %d worker(s)\nMAINPID=%d", text,
                        s->cfg.workers, (int)getpid());
    } else if (s->reloading) {
        reload_drain(s);
    }
}

static void
describe_status(int wstatus, char *b, size_t len)
{
    if (WIFEXITED(wstatus))
        snprintf(b, len, "exited with status %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(b, len, "killed by signal %d", WTERMSIG(wstatus));
    else
        snprintf(b, len, "ended (status 0x%x)", wstatus);
}

/* Counts a crash; returns 1 when the crash-loop limit is passed. */
static int
crash_loop(struct sup *s, double now)
{
    int n = 0;

    s->crashes[s->ncrash++ % (SUP_CRASH_LIMIT + 1)] = now;
    for (int i = 0; i < SUP_CRASH_LIMIT + 1 && i < s->ncrash; i++)
        if (now - s->crashes[i] <= SUP_CRASH_WINDOW)
            n++;
    return n > SUP_CRASH_LIMIT;
}

static void
reaped(struct sup *s, struct proc *p, int wstatus)
{
    struct slot_state *st = &s->slots[p->slot];
    double now = now_mono(), lived = now - p->started, delay;
    int fatal = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == WD_EXIT_FATAL;
    char how[64];
    struct proc copy = *p;

    if (p->ctl >= 0)
        close(p->ctl);
    stats_proc_ended((int)(p - s->procs));
    memset(p, 0, sizeof(*p));
    p->ctl = -1;
    describe_status(wstatus, how, sizeof(how));

    if (copy.stopping || s->stopping) {
        log_debug("worker %d (pid %d) %s", copy.slot, (int)copy.pid, how);
        check_drained(s, 0);
        return;
    }
    if (copy.gen != s->gen) {
        /* An old worker died during a reload: its replacement is coming. */
        log_warnx("worker %d (pid %d, old generation) %s", copy.slot, (int)copy.pid, how);
        return;
    }
    if (!s->started) {
        log_errorx("worker %d (pid %d) %s during start-up", copy.slot, (int)copy.pid, how);
        begin_stop(s, "start-up failed", fatal ? WD_EXIT_FATAL : WD_EXIT_RUNTIME);
        return;
    }
    if (fatal) {
        if (s->reloading && !copy.ready) {
            reload_abort(s, "a new worker exited with status 2");
            return;
        }
        log_errorx("worker %d (pid %d) %s (fatal), not respawning", copy.slot, (int)copy.pid, how);
        st->dead = 1;
        if (procs_alive(s, s->gen) == 0) {
            int pending = 0;
            for (int j = 0; j < s->cfg.workers; j++)
                pending |= s->slots[j].pending;
            if (!pending)
                begin_stop(s, "no worker left", WD_EXIT_RUNTIME);
        }
        return;
    }
    if (crash_loop(s, now)) {
        log_errorx("worker %d (pid %d) %s: more than %d crashes in %.0f s, giving up", copy.slot,
                   (int)copy.pid, how, SUP_CRASH_LIMIT, SUP_CRASH_WINDOW);
        begin_stop(s, "crash loop", WD_EXIT_RUNTIME);
        return;
    }
    /* The first crash is respawned at once; crashes that follow quickly
     * wait 0.1 s, doubling up to 5 s, and another worker accepts for the
     * slot meanwhile (cover_slots). */
    if (lived >= SUP_SHORT_LIFE)
        st->backoff = 0;
    delay = st->backoff;
    st->backoff = st->backoff == 0 ? SUP_BACKOFF_MIN : st->backoff * 2;
    if (st->backoff > SUP_BACKOFF_MAX)
        st->backoff = SUP_BACKOFF_MAX;
    st->pending = 1;
    st->respawn_at = now + delay;
    stats_restarted();
    log_warnx("worker %d (pid %d) %s; respawn in %.1fs", copy.slot, (int)copy.pid, how, delay);
}

static void
reap_all(struct sup *s)
{
    int wstatus;
    pid_t pid;

    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        if (pid == upgrade_pid())
            upgrade_reaped(wstatus);
        for (int i = 0; i < SUP_MAX_PROCS; i++)
            if (s->procs[i].pid == pid) {
                reaped(s, &s->procs[i], wstatus);
                break;
            }
    }
    cover_slots(s);
}

static void
handle_signal(struct sup *s, int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        if (s->stopping) {
            log_info("second stop signal: stopping now");
            signal_procs(s, SIGKILL, GEN_ALL, 0);
            s->kill_at = 0;
        } else {
            begin_stop(s, sig == SIGTERM ? "SIGTERM" : "SIGINT", WD_EXIT_OK);
        }
        break;
    case SIGHUP:
        if (!s->stopping && s->started && !upgrade_waiting())
            reload_begin(s);
        else
            log_warnx("SIGHUP ignored while %s", s->stopping  ? "stopping"
                                                 : s->started ? "upgrading"
                                                              : "starting");
        break;
    case SIGUSR2: /* binary upgrade: upgrade.c */
        if (s->stopping || !s->started || s->reloading || s->draining)
            log_warnx("SIGUSR2 ignored while %s", s->stopping   ? "stopping"
                                                  : !s->started ? "starting"
                                                                : "reloading");
        else
            upgrade_start(&s->cur, &s->cfg, now_mono());
        break;
    case SIGUSR1:
        log_reopen();
        log_info("log files reopened");
        signal_procs(s, SIGUSR1, GEN_ALL, 0);
        break;
    case SIGCHLD:
        reap_all(s);
        break;
    default:
        break;
    }
}

static void
respawn_due(struct sup *s, double now)
{
    for (int j = 0; j < s->cfg.workers; j++) {
        struct slot_state *st = &s->slots[j];
        if (st->pending && st->respawn_at <= now) {
            st->pending = 0;
            if (spawn(s, j, s->gen, &s->cfg, &s->cur) < 0) {
                st->pending = 1;
                st->respawn_at = now + SUP_BACKOFF_MAX;
            }
        }
    }
}

/* Milliseconds until the next timed event, or -1 for none. */
static int
next_timeout(const struct sup *s, double now)
{
    double t = -1;

    if (s->stopping && s->kill_at > 0)
        t = s->kill_at - now;
    if (s->draining && (t == -1 || s->drain_deadline - now < t))
        t = s->drain_deadline - now;
    if (upgrade_deadline() >= 0 && (t == -1 || upgrade_deadline() - now < t))
        t = upgrade_deadline() - now;
    for (int j = 0; j < s->cfg.workers; j++)
        if (s->slots[j].pending && (t < 0 || s->slots[j].respawn_at - now < t))
            t = s->slots[j].respawn_at - now;
    if (t == -1)
        return -1;
    if (t < 0)
        t = 0;
    return (int)(t * 1000) + 1;
}

static void
supervisor_loop(struct sup *s)
{
    struct pollfd pfd[SUP_MAX_PROCS + 2 + STATS_POLL_MAX];
    struct proc *owner[SUP_MAX_PROCS + 2];

    for (;;) {
        double now = now_mono();
        int n = 0, rc, nstats;

        if (s->stopping && procs_alive(s, -1) == 0)
            return;
        if (s->stopping && s->kill_at > 0 && now >= s->kill_at) {
            log_warnx("workers still running after shutdown_timeout + %.0fs: killing them",
                      SUP_KILL_GRACE);
            signal_procs(s, SIGKILL, GEN_ALL, 0);
            s->kill_at = 0;
        }
        if (!s->stopping)
            respawn_due(s, now);
        if (s->draining && now >= s->drain_deadline)
            check_drained(s, 1);
        upgrade_timeout(now);

        pfd[n].fd = s->sig_fd;
        pfd[n].events = POLLIN;
        owner[n++] = NULL;
        for (int i = 0; i < SUP_MAX_PROCS; i++)
            if (s->procs[i].pid != 0 && s->procs[i].ctl >= 0) {
                pfd[n].fd = s->procs[i].ctl;
                pfd[n].events = POLLIN;
                owner[n++] = &s->procs[i];
            }
        pfd[n].fd = upgrade_fd(); /* -1: poll skips it */
        pfd[n].events = POLLIN;
        owner[n++] = NULL;
        nstats = stats_poll_fill(&pfd[n]); /* after the n entries the loop reads below */
        rc = poll(pfd, (nfds_t)(n + nstats), stats_poll_timeout(next_timeout(s, now)));
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll");
            begin_stop(s, "internal error", WD_EXIT_RUNTIME);
            continue;
        }
        stats_poll_handle(&pfd[n], nstats);
        if (pfd[n - 1].revents != 0 && upgrade_read() > 0)
            begin_stop(s, "binary upgrade done", WD_EXIT_OK);
        for (int i = 1; i < n - 1; i++) {
            struct proc *p = owner[i];
            char b[16];
            ssize_t r;

            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = read(p->ctl, b, sizeof(b));
            if (r > 0) {
                if (!p->ready && memchr(b, 'R', (size_t)r) != NULL) {
                    p->ready = 1;
                    if (!s->stopping)
                        check_ready(s);
                    cover_slots(s);
                }
                if (!p->quiet && memchr(b, 'S', (size_t)r) != NULL) {
                    p->quiet = 1;
                    check_drained(s, 0);
                }
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(p->ctl); /* the worker is exiting; SIGCHLD reaps it */
                p->ctl = -1;
                p->quiet = 1;
                check_drained(s, 0);
            }
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                handle_signal(s, (int)si.ssi_signo);
        }
    }
}

/* Signals stay blocked for good here and in the workers, which inherit the
 * mask: both read them from a signalfd. Returns it, or -1. */
static int
signals_open(void)
{
    static const int sig[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD};
    sigset_t sigs;

    sigemptyset(&sigs);
    for (size_t i = 0; i < sizeof(sig) / sizeof(sig[0]); i++)
        sigaddset(&sigs, sig[i]);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    return signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
}

int
supervisor_run(const struct config *cfg, const struct cli_opts *cli)
{
    static struct sup sup; /* large; one per process */
    struct sup *s = &sup;
    const char *failed;
    char err[512];

    memset(s, 0, sizeof(*s));
    s->cli = cli;
    s->cfg = *cfg;
    s->gen = s->last_gen = 1;
    s->sig_fd = -1;
    for (int i = 0; i < SUP_MAX_PROCS; i++)
        s->procs[i].ctl = -1;
    log_set_tag("supervisor");
    log_set_level(cfg->log_level);
    if (cfg->user[0] != '\0')
        log_set_owner((long)cfg->uid, (long)cfg->gid);
    if (log_open(cfg->log, cfg->access_log, &failed) < 0) {
        fprintf(stderr, "warpd: cannot open log %s: %s\n", failed, strerror(errno));
        return WD_EXIT_RUNTIME;
    }
    signal(SIGPIPE, SIG_IGN);
    startup_raise_nofile();
    s->sig_fd = signals_open();
    if (s->sig_fd < 0) {
        log_error("signalfd");
        return WD_EXIT_RUNTIME;
    }

    if (upgrade_lset_open(&s->cur, &s->cfg, err, sizeof(err)) < 0) {
        log_errorx("%s", err);
        if (cfg->log[0] != '\0' && strcmp(cfg->log, "stderr") != 0)
            fprintf(stderr, "warpd: %s\n", err);
        close(s->sig_fd);
        return WD_EXIT_RUNTIME;
    }
    startup_warnings(&s->cfg);
    if (startup_pidfile_write(cfg->pidfile) < 0) {
        log_error("pidfile %s", cfg->pidfile);
        lset_close(&s->cur, NULL);
        close(s->sig_fd);
        return WD_EXIT_RUNTIME;
    }
    startup_auto_cache_open(&s->cfg);
    if (stats_open(&s->cfg, err, sizeof(err)) < 0) {
        log_errorx("%s", err);
        begin_stop(s, "start-up failed", WD_EXIT_RUNTIME);
    }
    for (int j = 0; j < s->cfg.workers && !s->stopping; j++)
        if (spawn(s, j, s->gen, &s->cfg, &s->cur) < 0) {
            begin_stop(s, "start-up failed", WD_EXIT_RUNTIME);
            break;
        }

    supervisor_loop(s);

    /* Everything is reaped (SIGKILL cannot be ignored). */
    lset_close(&s->old, &s->cur);
    lset_close(&s->cur, NULL);
    startup_auto_cache_close(&s->cfg);
    stats_close();
    startup_pidfile_remove(s->cfg.pidfile);
    close(s->sig_fd);
    log_info("exiting with status %d", s->exit_status);
    log_close();
    return s->exit_status;
}
