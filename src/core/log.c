/* Leveled logging for the supervisor and the workers. Every line is built in
 * one buffer and written with a single write(2) on an O_APPEND descriptor, so
 * lines from several processes sharing a file or stderr never interleave.
 * In a worker (log_set_loop), access lines are held in a buffer and written
 * together as soon as the loop has nothing else to do (an idle watcher), or
 * when it fills, or LOG_FLUSH_DELAY after the first one while the loop stays
 * busy: a write per line cost 10% of a reverse proxy's throughput, and a
 * quiet worker still writes each line at once. Whole lines only, in order,
 * at most PIPE_BUF bytes per write unless the log is a regular file (so that
 * the workers' writes to one pipe or socket do not interleave); an error line
 * flushes them first, so the two logs stay in order. A crash loses at most the last
 * LOG_FLUSH_DELAY of access lines. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX    2048
#define LOG_HOLD_MAX    16384 /* access bytes held before a write */
#define LOG_FLUSH_DELAY 0.1   /* seconds the first held line may wait */

struct log_dest {
    int fd;          /* -1 when off */
    int owned;       /* opened by us (a file), so reopen/close apply */
    char path[1024]; /* file path, "" for stderr/off */
};

static struct log_dest errlog = {STDERR_FILENO, 0, ""};
static struct log_dest acclog = {STDERR_FILENO, 0, ""};
static int cur_level = LOG_LVL_INFO;
static char tag[32] = "warpd";
static int tag_pid; /* getpid() when the tag was set: a syscall saved per line */
static long owner_uid = -1, owner_gid = -1;

/* Access lines held in a worker. */
static struct {
    struct ev_loop *loop; /* NULL: every line is written at once */
    ev_idle idle;         /* flushes when the loop has nothing else to do */
    ev_timer timer;       /* or LOG_FLUSH_DELAY after the first line */
    int pid;              /* the process that holds them (not a forked child) */
    size_t len;
    char data[LOG_HOLD_MAX];
} held;
/* Whether checked_fd is a regular file; -1: ask again (the logs changed). */
static int checked_fd = -1, regular_fd;

/* Writes all of b[0..n), whole lines per write: one write for a regular
 * file, else pieces of at most PIPE_BUF ending at a newline. A failing
 * descriptor loses the rest, as an unbuffered line would be lost. */
static void
write_lines(int fd, const char *b, size_t n)
{
    struct stat st;
    size_t most = SIZE_MAX;

    if (n > PIPE_BUF && fd != checked_fd) {
        regular_fd = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        checked_fd = fd;
    }
    if (n > PIPE_BUF && !regular_fd)
        most = PIPE_BUF;
    while (n > 0) {
        size_t len = n;
        ssize_t r;

        if (len > most) {
            len = most;
            while (len > 1 && b[len - 1] != '\n')
                len--;
        }
        r = write(fd, b, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        b += r;
        n -= (size_t)r;
    }
}

/* Writes the held access lines. */
static void
held_flush(void)
{
    int saved = errno;

    if (held.len > 0 && acclog.fd >= 0)
        write_lines(acclog.fd, held.data, held.len);
    held.len = 0;
    if (held.loop != NULL) {
        ev_idle_stop(held.loop, &held.idle);
        ev_timer_stop(held.loop, &held.timer);
    }
    errno = saved;
}

static void
held_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    held_flush();
}

static void
held_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    held_flush();
}

/* Not in a child forked after log_set_loop: the lines are its parent's. */
static void
held_at_exit(void)
{
    if (held.pid == (int)getpid())
        held_flush();
}

void
log_set_loop(struct ev_loop *loop)
{
    static int registered;

    held_flush();
    held.loop = loop;
    held.pid = (int)getpid();
    ev_idle_init(&held.idle, held_idle_cb);
    ev_timer_init(&held.timer, held_timer_cb, LOG_FLUSH_DELAY, 0.);
    if (loop != NULL && !registered)
        registered = atexit(held_at_exit) == 0;
}

void
log_set_owner(long uid, long gid)
{
    owner_uid = uid;
    owner_gid = gid;
}

void
log_set_tag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tag, sizeof(tag), fmt, ap);
    va_end(ap);
    tag_pid = (int)getpid();
}

void
log_set_level(int level)
{
    if (level < LOG_LVL_ERROR)
        level = LOG_LVL_ERROR;
    if (level > LOG_LVL_DEBUG)
        level = LOG_LVL_DEBUG;
    cur_level = level;
}

int
log_get_level(void)
{
    return cur_level;
}

static int
open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    if (fd >= 0 && owner_uid >= 0 && geteuid() == 0 &&
        fchown(fd, (uid_t)owner_uid, (gid_t)owner_gid) < 0) {
        /* Not fatal: the workers keep their old descriptor then. */
    }
    return fd;
}

/* log_open works in two steps, open everything then commit, so that a
 * failure leaves both old destinations in use. dest_prepare opens what spec
 * names without touching d; it sets *fd to -2 when d already writes there. */
static int
dest_prepare(const struct log_dest *d, const char *spec, int *fd)
{
    if (strcmp(spec, "stderr") == 0)
        *fd = STDERR_FILENO;
    else if (strcmp(spec, "off") == 0)
        *fd = -1;
    else if (d->owned && strcmp(d->path, spec) == 0)
        *fd = -2;
    else if ((*fd = open_file(spec)) < 0)
        return -1;
    return 0;
}

static void
dest_commit(struct log_dest *d, const char *spec, int fd)
{
    int file = strcmp(spec, "stderr") != 0 && strcmp(spec, "off") != 0;

    if (fd == -2)
        return;
    if (d->owned && d->fd >= 0)
        close(d->fd);
    d->fd = fd;
    d->owned = file;
    snprintf(d->path, sizeof(d->path), "%s", file ? spec : "");
}

int
log_open(const char *error_log, const char *access_log, const char **failed)
{
    int efd, afd, saved;

    if (dest_prepare(&errlog, error_log, &efd) < 0) {
        *failed = error_log;
        return -1;
    }
    if (dest_prepare(&acclog, access_log, &afd) < 0) {
        saved = errno;
        if (efd >= 0 && strcmp(error_log, "stderr") != 0)
            close(efd);
        errno = saved;
        *failed = access_log;
        return -1;
    }
    held_flush();
    checked_fd = -1;
    dest_commit(&errlog, error_log, efd);
    dest_commit(&acclog, access_log, afd);
    return 0;
}

static void
dest_reopen(struct log_dest *d)
{
    int fd;

    if (!d->owned)
        return;
    fd = open_file(d->path);
    if (fd < 0) {
        log_warn("cannot reopen %s, keeping the old file", d->path);
        return;
    }
    close(d->fd);
    d->fd = fd;
}

void
log_reopen(void)
{
    held_flush(); /* into the file the lines were logged for */
    checked_fd = -1;
    dest_reopen(&errlog);
    dest_reopen(&acclog);
}

void
log_close(void)
{
    held_flush();
    checked_fd = -1;
    dest_commit(&errlog, "stderr", STDERR_FILENO);
    dest_commit(&acclog, "off", -1);
}

int
log_access_enabled(void)
{
    return acclog.fd >= 0;
}

/* Writes "<time> <tag>[<pid>] <level>: " into line; the date and time to
 * the second are formatted once a second (a worker logs thousands of
 * access lines in one). */
static size_t
line_head(char *line, size_t size, const char *lvl)
{
    static time_t stamp_sec = -1;
    static char stamp[80]; /* "2026-01-02T03:04:05." (room for any int) */
    struct timeval tv;

    gettimeofday(&tv, NULL);
    if (tv.tv_sec != stamp_sec) {
        struct tm tm;

        gmtime_r(&tv.tv_sec, &tm);
        snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        stamp_sec = tv.tv_sec;
    }
    return (size_t)snprintf(line, size, "%s%03dZ %s[%d] %s: ", stamp, (int)(tv.tv_usec / 1000), tag,
                            tag_pid ? tag_pid : (int)getpid(), lvl);
}

/* Adds an access line to those held, after writing them when it would
 * not fit. */
static void
held_add(const char *line, size_t n)
{
    if (held.len + n > sizeof(held.data))
        held_flush();
    memcpy(held.data + held.len, line, n);
    held.len += n;
    if (!ev_is_active(&held.idle)) {
        ev_idle_start(held.loop, &held.idle);
        ev_timer_start(held.loop, &held.timer);
    }
}

/* Formats "<time> <tag>[<pid>] <level>: <message>[: <strerror>]\n" and
 * writes it at once. Control bytes in the message are escaped so a log line
 * stays one line whatever a client sent. */
static void
vlog(struct log_dest *d, const char *lvl, int errnum, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
    size_t n, i;
    int len;

    if (d->fd < 0)
        return;
    len = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (len < 0)
        return;
    n = line_head(line, sizeof(line), lvl);
    for (i = 0; msg[i] != '\0' && n < sizeof(line) - 8; i++) {
        unsigned char ch = (unsigned char)msg[i];
        if (ch < 0x20 || ch == 0x7f)
            n += (size_t)snprintf(line + n, sizeof(line) - n, "\\x%02x", ch);
        else
            line[n++] = (char)ch;
    }
    if (errnum != 0 && n < sizeof(line) - 2)
        n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (d == &acclog && held.loop != NULL) {
        held_add(line, n);
        return;
    }
    if (held.len > 0)
        held_flush(); /* the error line comes after them (a file may be both) */
    while (write(d->fd, line, n) < 0 && errno == EINTR)
        ;
}

#define LOG_BODY(dest, minlvl, name, errnum)                                                       \
    do {                                                                                           \
        va_list ap;                                                                                \
        int saved = errno;                                                                         \
        if (cur_level < (minlvl))                                                                  \
            return;                                                                                \
        va_start(ap, fmt);                                                                         \
        vlog(dest, name, errnum, fmt, ap);                                                         \
        va_end(ap);                                                                                \
        errno = saved;                                                                             \
    } while (0)

void
log_warn(const char *fmt, ...)
{
    LOG_BODY(&errlog, LOG_LVL_WARN, "warn", saved);
}

void
log_warnx(const char *fmt, ...)
{
    LOG_BODY(&errlog, LOG_LVL_WARN, "warn", 0);
}

void
log_error(const char *fmt, ...)
{
    LOG_BODY(&errlog, LOG_LVL_ERROR, "error", saved);
}

void
log_errorx(const char *fmt, ...)
{
    LOG_BODY(&errlog, LOG_LVL_ERROR, "error", 0);
}

void
log_info(const char *fmt, ...)
{
    LOG_BODY(&errlog, LOG_LVL_INFO, "info", 0);
}

void
log_debug(const char *fmt, ...)
{
    LOG_BODY(&errlog, LOG_LVL_DEBUG, "debug", 0);
}

void
log_access(const char *fmt, ...)
{
    LOG_BODY(&acclog, LOG_LVL_ERROR, "access", 0);
}

void
fatal(const char *fmt, ...)
{
    va_list ap;
    int saved = errno;
    va_start(ap, fmt);
    vlog(&errlog, "error", saved, fmt, ap);
    va_end(ap);
    held_flush();
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(&errlog, "error", 0, fmt, ap);
    va_end(ap);
    held_flush();
    exit(1);
}
