/* Leveled logging to stderr or a file, one line per call, each tagged with the
 * process ("supervisor", "worker 3"). Also the access log. Never call these
 * from a signal handler. */
#ifndef WARPD_LOG_H
#define WARPD_LOG_H

#include <ev.h>
#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the tag that starts every line of this process. */
void log_set_tag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_set_level(int level);
int log_get_level(void);
/* Opens the error log ("stderr" or a path) and the access log ("off",
 * "stderr" or a path). Returns 0, or -1 with errno set and the failing path in
 * *failed. On failure the previous destinations stay in use. */
int log_open(const char *error_log, const char *access_log, const char **failed);
/* Files created from now on are given to this owner (when running as
 * root), so that workers that dropped privileges can reopen them after a
 * rotation. uid -1 means leave them to the creator. */
void log_set_owner(long uid, long gid);
/* Reopens both files in place (SIGUSR1, after logrotate moved them). */
void log_reopen(void);
void log_close(void);
int log_access_enabled(void);
/* From now on access lines are held and written together (a worker's
 * loop): when loop has nothing else to do, when 16 KiB are held, or 0.1 s
 * after the first while it stays busy. NULL writes what is held and goes
 * back to a write per line. */
void log_set_loop(struct ev_loop *loop);

void log_warn(const char *fmt, ...)
    __attribute__((format(printf, 1, 2))); /* adds strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2))); /* adds strerror(errno) */
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_access(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs at error level and exits with status 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
