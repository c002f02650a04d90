/* Unit tests for src/core/log.c, writing to files in a private mkdtemp directory:
 * the line format, level filtering, strerror suffixes, escaping of control
 * bytes and the one-line guarantee, the separate access log, reopening after a
 * rotation, a failed log_open keeping the old destinations, file ownership,
 * and fatal(). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tutil.h"

#define NOBODY 65534 /* uid and gid of "nobody" on Debian */

static char dir[96]; /* one per test, inside the suite's tu_tmpdir() */

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "%s/tXXXXXX", tu_tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    log_set_level(LOG_LVL_INFO);
    log_set_owner(-1, -1);
}

static void
teardown(void)
{
    log_close();
}

/* dir + "/" + name in a static buffer (one of four, so a few can be live). */
static const char *
path_of(const char *name)
{
    static char bufs[4][128];
    static int next;
    char *p = bufs[next++ % 4];

    snprintf(p, sizeof(bufs[0]), "%s/%s", dir, name);
    return p;
}

/* Whole file as a string ("" when missing); at most 64 KB. */
static const char *
slurp(const char *path)
{
    static char b[65536];
    ssize_t n = 0, r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    b[0] = '\0';
    if (fd < 0)
        return b;
    while (n < (ssize_t)sizeof(b) - 1 && (r = read(fd, b + n, sizeof(b) - 1 - (size_t)n)) > 0)
        n += r;
    close(fd);
    b[n] = '\0';
    return b;
}

static size_t
count_char(const char *s, char ch)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == ch;
    return n;
}

static void
open_logs(const char *err, const char *acc)
{
    const char *failed = NULL;

    ck_assert_int_eq(log_open(err, acc, &failed), 0);
    ck_assert_ptr_null(failed);
}

START_TEST(test_line_format)
{
    const char *path = path_of("error.log"), *s;
    char pat[256];
    regex_t re;
    regmatch_t m[2];
    struct tm tm = {0};
    time_t when;

    open_logs(path, "off");
    log_set_tag("worker %d", 3);
    log_info("hello %s %d", "world", 42);
    s = slurp(path);
    snprintf(pat, sizeof(pat),
             "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\\.[0-9]{3}Z "
             "worker 3\\[%d\\] info: hello world 42\n$",
             (int)getpid());
    ck_assert_int_eq(regcomp(&re, pat, REG_EXTENDED), 0);
    ck_assert_msg(regexec(&re, s, 2, m, 0) == 0, "line: %s", s);
    regfree(&re);
    /* The timestamp is UTC and now. */
    ck_assert_ptr_nonnull(strptime(s + m[1].rm_so, "%Y-%m-%dT%H:%M:%S", &tm));
    when = timegm(&tm);
    ck_assert_int_le(labs((long)(time(NULL) - when)), 5);

    /* Each level names itself. */
    log_set_level(LOG_LVL_DEBUG);
    log_warnx("w");
    log_errorx("e");
    log_debug("d");
    s = slurp(path);
    ck_assert_ptr_nonnull(strstr(s, "] warn: w\n"));
    ck_assert_ptr_nonnull(strstr(s, "] error: e\n"));
    ck_assert_ptr_nonnull(strstr(s, "] debug: d\n"));
    ck_assert_uint_eq(count_char(s, '\n'), 4);

    /* An overlong tag is cut, not overflowed. */
    log_set_tag("%s", "0123456789012345678901234567890123456789");
    log_info("t");
    snprintf(pat, sizeof(pat), "Z 0123456789012345678901234567890[%d] info: t\n", (int)getpid());
    ck_assert_ptr_nonnull(strstr(slurp(path), pat));
}
END_TEST

START_TEST(test_levels)
{
    const char *path = path_of("error.log"), *s;

    open_logs(path, "off");
    ck_assert_int_eq(log_get_level(), LOG_LVL_INFO);
    log_debug("hidden-debug");
    log_info("shown-info");
    log_set_level(LOG_LVL_WARN);
    ck_assert_int_eq(log_get_level(), LOG_LVL_WARN);
    log_info("hidden-info");
    log_warnx("shown-warn");
    log_set_level(LOG_LVL_ERROR);
    log_warnx("hidden-warn");
    errno = EIO;
    log_warn("hidden-warn2");
    log_errorx("shown-error");
    log_set_level(LOG_LVL_DEBUG);
    log_debug("shown-debug");
    s = slurp(path);
    ck_assert_ptr_null(strstr(s, "hidden"));
    ck_assert_ptr_nonnull(strstr(s, "info: shown-info\n"));
    ck_assert_ptr_nonnull(strstr(s, "warn: shown-warn\n"));
    ck_assert_ptr_nonnull(strstr(s, "error: shown-error\n"));
    ck_assert_ptr_nonnull(strstr(s, "debug: shown-debug\n"));
    ck_assert_uint_eq(count_char(s, '\n'), 4);
    /* Out-of-range levels are clamped. */
    log_set_level(99);
    ck_assert_int_eq(log_get_level(), LOG_LVL_DEBUG);
    log_set_level(-3);
    ck_assert_int_eq(log_get_level(), LOG_LVL_ERROR);
}
END_TEST

START_TEST(test_strerror_suffix)
{
    const char *path = path_of("error.log"), *s;
    char want[128];

    open_logs(path, "off");
    errno = ENOENT;
    log_warn("cannot open %s", "/nowhere");
    ck_assert_int_eq(errno, ENOENT); /* logging keeps errno */
    errno = EACCES;
    log_error("bind %d", 80);
    errno = EPERM;
    log_warnx("no suffix");
    log_errorx("none here either");
    s = slurp(path);
    snprintf(want, sizeof(want), "] warn: cannot open /nowhere: %s\n", strerror(ENOENT));
    ck_assert_msg(strstr(s, want) != NULL, "log: %s", s);
    snprintf(want, sizeof(want), "] error: bind 80: %s\n", strerror(EACCES));
    ck_assert_msg(strstr(s, want) != NULL, "log: %s", s);
    ck_assert_ptr_nonnull(strstr(s, "] warn: no suffix\n"));
    ck_assert_ptr_nonnull(strstr(s, "] error: none here either\n"));
    ck_assert_ptr_null(strstr(s, strerror(EPERM)));
}
END_TEST

START_TEST(test_control_bytes_escaped)
{
    const char *path = path_of("error.log"), *s;
    const char *want = "info: GET /a\\x0d\\x0aHost: x\\x09b\\x01\\x1f\\x7f end \xc3\xa9\n";

    open_logs(path, "off");
    log_info("GET /a\r\nHost: x\tb\x01\x1f\x7f end \xc3\xa9");
    s = slurp(path);
    ck_assert_uint_eq(count_char(s, '\n'), 1);
    ck_assert_ptr_null(strchr(s, '\r'));
    ck_assert_ptr_null(strchr(s, '\t'));
    /* Bytes from 0x80 up (UTF-8) pass unchanged. */
    ck_assert_msg(strstr(s, want) != NULL, "line: %s", s);
}
END_TEST

START_TEST(test_long_message_stays_one_line)
{
    static char big[10000];
    const char *path = path_of("error.log"), *s;
    size_t len;

    open_logs(path, "off");
    memset(big, 'x', sizeof(big) - 1);
    log_info("%s", big);
    s = slurp(path);
    len = strlen(s);
    ck_assert_uint_eq(count_char(s, '\n'), 1);
    ck_assert_int_eq(s[len - 1], '\n');
    ck_assert_uint_le(len, 2048);
    ck_assert_uint_gt(len, 1900);

    /* Control bytes quadruple when escaped; the line is still one line. */
    memset(big, '\n', sizeof(big) - 1);
    errno = EIO;
    log_warn("%s", big);
    s = slurp(path);
    ck_assert_uint_eq(count_char(s, '\n'), 2);
    ck_assert_int_eq(s[strlen(s) - 1], '\n');
    ck_assert_uint_le(strlen(s) - len, 2048);
    ck_assert_ptr_null(strstr(s, "\\x0\n")); /* no escape cut in half */
    ck_assert_ptr_null(strstr(s, "\\x\n"));
    ck_assert_ptr_null(strstr(s, "\\\n"));
}
END_TEST

START_TEST(test_access_log_separate)
{
    const char *err = path_of("error.log"), *acc = path_of("access.log");
    char before[4096];

    open_logs(err, acc);
    ck_assert_int_eq(log_access_enabled(), 1);
    log_access("127.0.0.1 GET http://a/ %d", 200);
    log_info("an error-log line");
    /* The access log is not subject to the error log's level. */
    log_set_level(LOG_LVL_ERROR);
    log_access("127.0.0.1 GET http://b/ %d", 404);
    ck_assert_ptr_nonnull(strstr(slurp(acc), "] access: 127.0.0.1 GET http://a/ 200\n"));
    ck_assert_ptr_nonnull(strstr(slurp(acc), "] access: 127.0.0.1 GET http://b/ 404\n"));
    ck_assert_ptr_null(strstr(slurp(acc), "error-log"));
    ck_assert_ptr_nonnull(strstr(slurp(err), "info: an error-log line\n"));
    ck_assert_ptr_null(strstr(slurp(err), "access"));

    /* "off" disables it; nothing goes anywhere. */
    snprintf(before, sizeof(before), "%s", slurp(acc));
    open_logs(err, "off");
    ck_assert_int_eq(log_access_enabled(), 0);
    log_access("dropped");
    ck_assert_str_eq(slurp(acc), before);
    ck_assert_ptr_null(strstr(slurp(err), "dropped"));
}
END_TEST

/* In a worker (log_set_loop) access lines wait, whole and in order, for a
 * timer, a full buffer, an error line to the same file, or the end. */
START_TEST(test_held_access_lines)
{
    const char *both = path_of("both.log");
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char line[128];
    const char *text, *a, *b;

    ck_assert_ptr_nonnull(loop);
    open_logs(both, both);
    log_set_loop(loop);
    log_access("held %d", 1);
    log_access("held %d", 2);
    ck_assert_str_eq(slurp(both), "");
    log_info("an error line");
    text = slurp(both);
    a = strstr(text, "access: held 2\n");
    b = strstr(text, "info: an error line\n");
    ck_assert(strstr(text, "access: held 1\n") < a && a != NULL && a < b);
    log_access("held %d", 3);
    ck_assert_ptr_null(strstr(slurp(both), "held 3"));
    tu_run_once(loop, 0.3); /* the loop has nothing else to do */
    ck_assert_ptr_nonnull(strstr(slurp(both), "access: held 3\n"));
    /* 16 KiB held: written without waiting, whole lines only. */
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    for (int i = 0; i < 200; i++)
        log_access("%03d %s", i, line);
    text = slurp(both);
    ck_assert_ptr_nonnull(strstr(text, "access: 000 xxx"));
    ck_assert_ptr_null(strstr(text, "access: 199 xxx"));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    log_set_loop(NULL); /* the rest now */
    text = slurp(both);
    ck_assert_ptr_nonnull(strstr(text, "access: 199 xxx"));
    ck_assert_uint_eq(count_char(text, '\n'), 204);
    log_access("unheld");
    ck_assert_ptr_nonnull(strstr(slurp(both), "access: unheld\n"));
    ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_stderr_destination)
{
    const char *out = path_of("stderr.txt"), *file = path_of("error.log");
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const char *s;

    /* Our stderr is a file for this (forked) test. */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    open_logs("stderr", "stderr");
    log_info("to-stderr");
    log_access("access-to-stderr");
    /* From a file back to stderr: the file is no longer written. */
    open_logs(file, "off");
    log_info("to-file");
    open_logs("stderr", "off");
    log_info("stderr-again");
    log_close();
    ck_assert_int_eq(log_access_enabled(), 0);
    log_info("after-close");
    s = slurp(out);
    ck_assert_ptr_nonnull(strstr(s, "info: to-stderr\n"));
    ck_assert_ptr_nonnull(strstr(s, "access: access-to-stderr\n"));
    ck_assert_ptr_nonnull(strstr(s, "info: stderr-again\n"));
    ck_assert_ptr_nonnull(strstr(s, "info: after-close\n"));
    ck_assert_ptr_null(strstr(s, "to-file"));
    s = slurp(file);
    ck_assert_ptr_nonnull(strstr(s, "info: to-file\n"));
    ck_assert_ptr_null(strstr(s, "again"));
}
END_TEST

START_TEST(test_reopen_after_rename)
{
    const char *err = path_of("error.log"), *old = path_of("error.log.1");
    const char *acc = path_of("access.log"), *accold = path_of("access.log.1");
    const char *s;

    open_logs(err, acc);
    log_info("line-A");
    log_access("req-A");
    /* logrotate moves the files; we keep writing to the moved ones... */
    ck_assert_int_eq(rename(err, old), 0);
    ck_assert_int_eq(rename(acc, accold), 0);
    log_info("line-B");
    log_access("req-B");
    ck_assert_int_eq(access(err, F_OK), -1);
    /* ...until told to reopen, which creates new files at the paths. */
    log_reopen();
    log_info("line-C");
    log_access("req-C");
    s = slurp(old);
    ck_assert_ptr_nonnull(strstr(s, "line-A"));
    ck_assert_ptr_nonnull(strstr(s, "line-B"));
    ck_assert_ptr_null(strstr(s, "line-C"));
    s = slurp(err);
    ck_assert_ptr_nonnull(strstr(s, "line-C"));
    ck_assert_uint_eq(count_char(s, '\n'), 1);
    s = slurp(accold);
    ck_assert_ptr_nonnull(strstr(s, "req-B"));
    ck_assert_ptr_null(strstr(s, "req-C"));
    s = slurp(acc);
    ck_assert_ptr_nonnull(strstr(s, "req-C"));
    ck_assert_uint_eq(count_char(s, '\n'), 1);
}
END_TEST

START_TEST(test_reopen_failure_keeps_file)
{
    const char *err = path_of("error.log"), *old = path_of("error.log.1");
    const char *adir = path_of("adir");

    open_logs(err, "off");
    ck_assert_int_eq(rename(err, old), 0);
    /* The path cannot be reopened (a directory took its place). */
    ck_assert_int_eq(mkdir(adir, 0700), 0);
    ck_assert_int_eq(rename(adir, err), 0);
    log_reopen();
    log_info("still-here");
    ck_assert_int_eq(rename(err, adir), 0);
    ck_assert_ptr_nonnull(strstr(slurp(old), "cannot reopen"));
    ck_assert_ptr_nonnull(strstr(slurp(old), "info: still-here\n"));
}
END_TEST

START_TEST(test_failed_open_keeps_old)
{
    const char *err = path_of("error.log"), *acc = path_of("access.log");
    const char *adir = path_of("adir"), *failed = NULL;

    ck_assert_int_eq(mkdir(adir, 0700), 0);
    open_logs(err, acc);
    errno = 0;
    ck_assert_int_eq(log_open(adir, "off", &failed), -1);
    ck_assert_int_eq(errno, EISDIR);
    ck_assert_ptr_nonnull(failed);
    ck_assert_str_eq(failed, adir);
    log_info("error-log-kept");
    log_access("access-log-kept");
    ck_assert_int_eq(log_access_enabled(), 1);
    ck_assert_ptr_nonnull(strstr(slurp(err), "info: error-log-kept\n"));
    ck_assert_ptr_nonnull(strstr(slurp(acc), "access: access-log-kept\n"));
}
END_TEST

/* log.h promises that "on failure the previous destinations stay in use":
 * log_open opens both new files before it switches to either, so a bad
 * access_log path leaves the error log where it was too (a reload then
 * writes "logging stays where it was" into the old file, not a new one). */
START_TEST(test_failed_access_open_keeps_error_log)
{
    const char *err = path_of("error.log"), *acc = path_of("access.log");
    const char *err2 = path_of("error2.log"), *adir = path_of("adir");
    const char *failed = NULL;

    ck_assert_int_eq(mkdir(adir, 0700), 0);
    open_logs(err, acc);
    ck_assert_int_eq(log_open(err2, adir, &failed), -1);
    ck_assert_ptr_nonnull(failed);
    ck_assert_str_eq(failed, adir);
    log_info("error-log-kept");
    log_access("access-log-kept");
    ck_assert_ptr_nonnull(strstr(slurp(acc), "access: access-log-kept\n"));
    ck_assert_msg(strstr(slurp(err), "info: error-log-kept\n") != NULL,
                  "a failed access_log moved the error log to %s", err2);
}
END_TEST

static uid_t
owner_of(const char *path)
{
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_uid;
}

START_TEST(test_owner)
{
    const char *a = path_of("a.log"), *b = path_of("b.log"), *c = path_of("c.log");
    uid_t me = geteuid();

    if (me != 0) {
        /* Not root: the owner is ignored, logging works as usual. */
        log_set_owner(NOBODY, NOBODY);
        open_logs(a, "off");
        log_info("works");
        ck_assert_ptr_nonnull(strstr(slurp(a), "info: works\n"));
        ck_assert_uint_eq(owner_of(a), me);
        return;
    }
    /* Root: files are created for the unprivileged workers... */
    log_set_owner(NOBODY, NOBODY);
    open_logs(a, b);
    ck_assert_uint_eq(owner_of(a), NOBODY);
    ck_assert_uint_eq(owner_of(b), NOBODY);
    /* ...and -1 leaves them to the creator. */
    log_set_owner(-1, -1);
    open_logs(c, "off");
    ck_assert_uint_eq(owner_of(c), 0);
    /* A reopen (after rotation) hands over the file at the path, whether
     * logrotate created it or we do. */
    log_set_owner(NOBODY, NOBODY);
    log_reopen();
    ck_assert_uint_eq(owner_of(c), NOBODY);
    ck_assert_int_eq(unlink(c), 0);
    log_reopen();
    ck_assert_uint_eq(owner_of(c), NOBODY);
    log_info("owned");
    ck_assert_ptr_nonnull(strstr(slurp(c), "info: owned\n"));
}
END_TEST

START_TEST(test_fatal_exits_1)
{
    const char *err = path_of("error.log");
    char want[128];
    int status;
    pid_t pid;

    open_logs(err, "off");
    fflush(NULL); /* the children exit(): flush nothing twice */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        errno = EPERM;
        fatal("cannot %s", "continue");
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        errno = EPERM;
        fatalx("plain %d", 2);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    snprintf(want, sizeof(want), "] error: cannot continue: %s\n", strerror(EPERM));
    ck_assert_ptr_nonnull(strstr(slurp(err), want));
    ck_assert_ptr_nonnull(strstr(slurp(err), "] error: plain 2\n"));
}
END_TEST

static Suite *
log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("files");

    tcase_add_unchecked_fixture(tc, tu_tmpdir_setup, tu_tmpdir_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_line_format);
    tcase_add_test(tc, test_levels);
    tcase_add_test(tc, test_strerror_suffix);
    tcase_add_test(tc, test_control_bytes_escaped);
    tcase_add_test(tc, test_long_message_stays_one_line);
    tcase_add_test(tc, test_access_log_separate);
    tcase_add_test(tc, test_held_access_lines);
    tcase_add_test(tc, test_stderr_destination);
    tcase_add_test(tc, test_reopen_after_rename);
    tcase_add_test(tc, test_reopen_failure_keeps_file);
    tcase_add_test(tc, test_failed_open_keeps_old);
    tcase_add_test(tc, test_failed_access_open_keeps_error_log);
    tcase_add_test(tc, test_owner);
    tcase_add_test(tc, test_fatal_exits_1);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(log_suite());
}
