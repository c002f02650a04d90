/* Binary upgrade (SIGUSR2). The old supervisor forks, and the child clears
 * FD_CLOEXEC on the listening sockets and on the write end of a pipe, names
 * them in the environment and execs the binary again. The new supervisor
 * adopts the sockets whose address is still configured, starts its workers
 * (which accept from the same queues as the old ones meanwhile, so no
 * connection is refused or reset), and writes "R" to the pipe; the old one
 * then stops gracefully. Any failure before that "R" (exec fails, bad
 * configuration, an exit, no word within UPGRADE_READY_TIMEOUT) leaves the
 * old supervisor serving as before. */
#include "upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "notify.h"
#include "startup.h"
#include "stats.h"

#define UPGRADE_ENV_FDS   "WARPD_LISTEN_FDS"
#define UPGRADE_ENV_READY "WARPD_UPGRADE_FD"
#define UPGRADE_ENV_MAX   (CFG_MAX_LISTEN * (WD_ADDRSTRLEN + 2 + CFG_MAX_WORKERS * 12))

enum {
    UP_NONE,    /* nothing started, or reaped */
    UP_WAITING, /* started, no word yet */
    UP_READY,   /* reported ready: it serves, we stop */
    UP_FAILED   /* gave up on it; waiting for its exit */
};

static struct {
    char exe[PATH_MAX];     /* absolute path of our binary, "" when unknown */
    char **argv;            /* copy of main's argv, NULL-terminated */
    pid_t pid;              /* the new binary until reaped, or 0 */
    int state;              /* UP_*: what became of it */
    int rfd;                /* read end of its ready pipe, or -1 */
    double deadline;        /* when upgrade_timeout acts next, or -1 */
    const struct lset *set; /* our live listeners, unsealed after a failure */
    char pidfile[CFG_PATHMAX];
    int ready_fd;  /* new side: where to write "R", or -1 */
    int inherited; /* new side: started on inherited sockets, "R" not written yet */
} up = {.rfd = -1, .deadline = -1, .ready_fd = -1};

void
upgrade_init(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", up.exe, sizeof(up.exe) - 1);

    up.exe[n > 0 ? n : 0] = '\0';
    up.argv = calloc((size_t)argc + 1, sizeof(*up.argv));
    for (int i = 0; up.argv != NULL && i < argc; i++)
        up.argv[i] = strdup(argv[i]);
}

int
upgrade_shares_listeners(void)
{
    return up.inherited || (up.pid != 0 && up.state == UP_READY);
}

int
upgrade_busy(void)
{
    return up.pid != 0;
}

int
upgrade_waiting(void)
{
    return up.pid != 0 && up.state == UP_WAITING;
}

pid_t
upgrade_pid(void)
{
    return up.pid;
}

int
upgrade_fd(void)
{
    return up.rfd;
}

double
upgrade_deadline(void)
{
    return up.pid != 0 && up.state != UP_READY ? up.deadline : -1;
}

static void
close_rfd(void)
{
    if (up.rfd >= 0)
        close(up.rfd);
    up.rfd = -1;
}

/* WARPD_LISTEN_FDS's value for set into b; -1 when it does not fit. */
static int
fds_text(const struct lset *set, char *b, size_t len)
{
    size_t off = 0;

    b[0] = '\0';
    for (int i = 0; i < set->n; i++) {
        const struct lsock *l = &set->ls[i];
        int sep = '=';

        off += (size_t)snprintf(b + off, off < len ? len - off : 0, "%s%s", i ? ";" : "", l->text);
        for (int j = 0; j < CFG_MAX_WORKERS && l->fds[j] >= 0; j++, sep = ',')
            off += (size_t)snprintf(b + off, off < len ? len - off : 0, "%c%d", sep, l->fds[j]);
        if (off >= len)
            return -1;
    }
    return 0;
}

/* In the forked child: hands the sockets and the pipe over and execs. */
static void __attribute__((noreturn)) exec_child(const struct lset *set, const char *fds, int wfd)
{
    char num[16];
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    for (int i = 0; i < set->n; i++)
        for (int j = 0; j < CFG_MAX_WORKERS; j++)
            if (set->ls[i].fds[j] >= 0)
                fcntl(set->ls[i].fds[j], F_SETFD, 0);
    fcntl(wfd, F_SETFD, 0);
    if (stats_listen_fd() >= 0) { /* the stats page too, or the new one could not bind it */
        char sfd[16];

        fcntl(stats_listen_fd(), F_SETFD, 0);
        snprintf(sfd, sizeof(sfd), "%d", stats_listen_fd());
        setenv(STATS_ENV_FD, sfd, 1);
    }
    snprintf(num, sizeof(num), "%d", wfd);
    if (setenv(UPGRADE_ENV_FDS, fds, 1) == 0 && setenv(UPGRADE_ENV_READY, num, 1) == 0)
        execv(up.exe, up.argv);
    log_error("binary upgrade: cannot run %s", up.exe);
    _exit(127);
}

int
upgrade_start(const struct lset *set, const struct config *cfg, double now)
{
    static char fds[UPGRADE_ENV_MAX];
    int p[2];
    pid_t pid;

    if (up.pid != 0) {
        log_warnx("binary upgrade already in progress (pid %d), SIGUSR2 ignored", (int)up.pid);
        return -1;
    }
    if (up.exe[0] == '\0' || up.argv == NULL) {
        log_errorx("binary upgrade failed: the path of the running binary is unknown");
        return -1;
    }
    if (access(up.exe, X_OK) < 0) {
        log_error("binary upgrade failed: %s", up.exe);
        return -1;
    }
    if (fds_text(set, fds, sizeof(fds)) < 0) {
        log_errorx("binary upgrade failed: too many listening sockets to name");
        return -1;
    }
    startup_auto_cache_save(cfg);
    if (pipe2(p, O_CLOEXEC) < 0) {
        log_error("binary upgrade failed: pipe");
        return -1;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        log_error("binary upgrade failed: fork");
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        exec_child(set, fds, p[1]);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    up.pid = pid;
    up.rfd = p[0];
    up.state = UP_WAITING;
    up.deadline = now + UPGRADE_READY_TIMEOUT;
    up.set = set;
    snprintf(up.pidfile, sizeof(up.pidfile), "%s", cfg->pidfile);
    log_info("binary upgrade: started %s (pid %d), waiting for it to be ready", up.exe, (int)pid);
    return 0;
}

int
upgrade_read(void)
{
    char b[16];
    ssize_t n;

    if (up.rfd < 0)
        return 0;
    n = read(up.rfd, b, sizeof(b));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    close_rfd();
    if (n > 0 && memchr(b, 'R', (size_t)n) != NULL && up.state == UP_WAITING) {
        up.state = UP_READY;
        log_info("binary upgrade: new supervisor (pid %d) is ready; stopping this one",
                 (int)up.pid);
        /* From the main pid, so systemd takes it whatever NotifyAccess. */
        notify_send("MAINPID=%d\nREADY=1\nSTATUS=upgraded: new supervisor pid %d", (int)up.pid,
                    (int)up.pid);
        return 1;
    }
    return 0;
}

/* The upgrade failed (why): we keep serving. Its workers may have sealed
 * the sockets we share with a drop-all filter if they believed their stop
 * final, and its start rewrote the pidfile: undo both. */
static void
failed(const char *why)
{
    log_errorx("binary upgrade failed: %s; pid %d keeps serving", why, (int)getpid());
    close_rfd();
    up.state = UP_FAILED;
    lset_unseal(up.set);
    if (startup_pidfile_write(up.pidfile) < 0)
        log_error("pidfile %s", up.pidfile);
}

void
upgrade_reaped(int wstatus)
{
    char why[128];
    int n = snprintf(why, sizeof(why), "new binary (pid %d) ", (int)up.pid);

    if (WIFEXITED(wstatus))
        snprintf(why + n, sizeof(why) - (size_t)n, "exited with status %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(why + n, sizeof(why) - (size_t)n, "killed by signal %d", WTERMSIG(wstatus));
    else
        snprintf(why + n, sizeof(why) - (size_t)n, "ended (status 0x%x)", wstatus);
    if (up.state == UP_WAITING) {
        strncat(why, " before it was ready", sizeof(why) - strlen(why) - 1);
        failed(why);
    } else if (up.state == UP_READY) {
        log_warnx("binary upgrade: the %s while this supervisor stops", why);
    } else {
        log_info("binary upgrade: %s", why);
        lset_unseal(up.set);
    }
    close_rfd();
    up.pid = 0;
    up.state = UP_NONE;
    up.deadline = -1;
}

void
upgrade_timeout(double now)
{
    if (up.pid == 0 || up.deadline < 0 || now < up.deadline || up.state == UP_READY)
        return;
    if (up.state == UP_WAITING) {
        char why[128];

        snprintf(why, sizeof(why), "new binary (pid %d) not ready within %.0fs", (int)up.pid,
                 UPGRADE_READY_TIMEOUT);
        kill(up.pid, SIGTERM);
        failed(why);
        up.deadline = now + UPGRADE_KILL_AFTER;
        return;
    }
    log_warnx("binary upgrade: new binary (pid %d) still running %.0fs after SIGTERM: killing it",
              (int)up.pid, UPGRADE_KILL_AFTER);
    kill(up.pid, SIGKILL);
    up.deadline = -1;
}

void
upgrade_cancel(const char *why)
{
    if (!upgrade_waiting())
        return;
    log_warnx("binary upgrade cancelled (%s): stopping the new binary (pid %d)", why, (int)up.pid);
    kill(up.pid, SIGTERM);
    close_rfd();
    up.state = UP_FAILED;
    up.deadline = -1;
}

/* ---- the new supervisor -------------------------------------------------- */

/* A decimal descriptor number from *p on, which must be one of ours. */
static int
parse_fd(const char **p)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(*p, &end, 10);
    if (end == *p || errno != 0 || v < 0 || v > INT_MAX || fcntl((int)v, F_GETFD) < 0)
        return -1;
    *p = end;
    return (int)v;
}

/* Adds listening socket fd as the next slot of its address in inh. */
static int
adopt_fd(struct lset *inh, int fd, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int listening = 0, i, j;
    socklen_t olen = sizeof(listening);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) < 0 || !listening ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        snprintf(err, errlen, "%s: descriptor %d is not a listening socket", UPGRADE_ENV_FDS, fd);
        return -1;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    for (i = 0; i < inh->n; i++)
        if (addr_equal((struct sockaddr *)&inh->ls[i].addr, (struct sockaddr *)&ss))
            break;
    if (i == inh->n) {
        if (i == CFG_MAX_LISTEN)
            goto full;
        memset(&inh->ls[i], 0, sizeof(inh->ls[i]));
        for (j = 0; j < CFG_MAX_WORKERS; j++)
            inh->ls[i].fds[j] = -1;
        memcpy(&inh->ls[i].addr, &ss, len);
        inh->ls[i].len = len;
        addr_format((struct sockaddr *)&ss, inh->ls[i].text, sizeof(inh->ls[i].text));
        inh->n++;
    }
    for (j = 0; j < CFG_MAX_WORKERS && inh->ls[i].fds[j] >= 0; j++)
        ;
    if (j == CFG_MAX_WORKERS)
        goto full;
    inh->ls[i].fds[j] = fd;
    if (j + 1 > inh->nslots)
        inh->nslots = j + 1;
    return 0;
full:
    snprintf(err, errlen, "%s: too many sockets", UPGRADE_ENV_FDS);
    return -1;
}

/* Parses "ADDR=FD,FD;ADDR=FD" into inh. */
static int
adopt_list(struct lset *inh, const char *v, char *err, size_t errlen)
{
    while (*v != '\0') {
        const char *eq = strchr(v, '='), *semi = strchr(v, ';');

        if (eq == NULL || (semi != NULL && semi < eq))
            goto bad;
        v = eq + 1;
        for (;;) {
            int fd = parse_fd(&v);

            if (fd < 0)
                goto bad;
            if (adopt_fd(inh, fd, err, errlen) < 0)
                return -1;
            if (*v != ',')
                break;
            v++;
        }
        if (*v == ';')
            v++;
        else if (*v != '\0')
            goto bad;
    }
    return 0;
bad:
    snprintf(err, errlen, "%s: malformed at '%.40s'", UPGRADE_ENV_FDS, v);
    return -1;
}

/* Reads the environment into inh: 1 sockets inherited, 0 none, -1 err. */
static int
adopt(struct lset *inh, char *err, size_t errlen)
{
    const char *fds = getenv(UPGRADE_ENV_FDS), *rfd = getenv(UPGRADE_ENV_READY);
    int rc = 0;

    memset(inh, 0, sizeof(*inh));
    if (rfd != NULL && (up.ready_fd = parse_fd(&rfd)) >= 0)
        fcntl(up.ready_fd, F_SETFD, FD_CLOEXEC);
    if (fds != NULL) {
        rc = adopt_list(inh, fds, err, errlen) < 0 ? -1 : 1;
        if (rc < 0)
            lset_close(inh, NULL);
    }
    unsetenv(UPGRADE_ENV_FDS);
    unsetenv(UPGRADE_ENV_READY);
    up.inherited = rc > 0;
    if (rc > 0)
        log_info("binary upgrade: took over %d listen address(es) from pid %d", inh->n,
                 (int)getppid());
    return rc;
}

int
upgrade_lset_open(struct lset *cur, const struct config *cfg, char *err, size_t errlen)
{
    struct lset inh;
    int rc = adopt(&inh, err, errlen);

    if (rc < 0)
        return -1;
    rc = lset_open(cur, cfg, rc > 0 ? &inh : NULL, err, errlen);
    lset_close(&inh, rc == 0 ? cur : NULL);
    return rc;
}

int
upgrade_inherited(void)
{
    return up.inherited;
}

void
upgrade_report_ready(void)
{
    if (up.ready_fd >= 0 && write(up.ready_fd, "R", 1) != 1)
        log_warn("binary upgrade: cannot report ready to pid %d", (int)getppid());
    if (up.ready_fd >= 0)
        close(up.ready_fd);
    up.ready_fd = -1;
    up.inherited = 0;
}

void
upgrade_close_in_child(void)
{
    if (up.ready_fd >= 0)
        close(up.ready_fd);
    if (up.rfd >= 0)
        close(up.rfd);
    up.ready_fd = up.rfd = -1;
}
