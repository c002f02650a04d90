/* Unit tests for src/proc/notify.c: the test binds its own AF_UNIX datagram socket
 * (a path in a private directory, or an abstract name) and points
 * NOTIFY_SOCKET at it, then checks the datagram byte for byte, the no-op when
 * the variable is unset, and the refusals (relative or overlong path). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "tutil.h"

static char sock_path[96]; /* one per test, inside the suite's tu_tmpdir() */

static void
setup(void)
{
    snprintf(sock_path, sizeof(sock_path), "%s/n%d.sock", tu_tmpdir(), (int)getpid());
    unsetenv("NOTIFY_SOCKET");
}

/* Binds a datagram socket to name (a path, or "@x" for the abstract "x",
 * with the same address length notify.c uses). */
static int
bind_dgram(const char *name)
{
    struct sockaddr_un sun;
    size_t len = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_uint_lt(len, sizeof(sun.sun_path));
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, name, len);
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
                     0);
    return fd;
}

/* Receives one datagram (waiting up to a second); returns its length or -1,
 * and *trunc tells whether it was larger than the buffer. */
static ssize_t
recv_one(int fd, char *b, size_t size, int *trunc)
{
    ssize_t n;

    if (tu_wait_readable(fd, 1000) != 1)
        return -1;
    n = recv(fd, b, size, MSG_TRUNC);
    *trunc = n > (ssize_t)size;
    return n;
}

/* 1 when nothing is queued on fd. */
static int
nothing_queued(int fd)
{
    char b[16];

    return recv(fd, b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* The lowest free descriptor: unchanged across a call means no fd leaked. */
static int
lowest_free_fd(void)
{
    int fd = fcntl(2, F_DUPFD, 0);

    ck_assert_int_ge(fd, 0);
    close(fd);
    return fd;
}

START_TEST(test_unset_is_noop)
{
    int fd = bind_dgram(sock_path), low = lowest_free_fd();

    ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
    ck_assert_int_eq(notify_send("READY=1"), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
    ck_assert_int_eq(notify_send("READY=1"), 0);
    usleep(20000);
    ck_assert(nothing_queued(fd));
    ck_assert_int_eq(lowest_free_fd(), low);
    close(fd);
}
END_TEST

START_TEST(test_path_socket_exact_datagram)
{
    const char *want = "READY=1\nSTATUS=listening on 127.0.0.1:8800\nMAINPID=42";
    char b[1024];
    int fd = bind_dgram(sock_path), trunc, low;
    ssize_t n;

    ck_assert_int_eq(setenv("NOTIFY_SOCKET", sock_path, 1), 0);
    low = lowest_free_fd();
    ck_assert_int_eq(
        notify_send("READY=1\nSTATUS=listening on %s:%d\nMAINPID=%d", "127.0.0.1", 8800, 42), 0);
    ck_assert_int_eq(lowest_free_fd(), low); /* its socket was closed */
    n = recv_one(fd, b, sizeof(b), &trunc);
    ck_assert_int_eq(trunc, 0);
    /* Exactly the text: no NUL, no trailing newline. */
    ck_assert_int_eq(n, (ssize_t)strlen(want));
    ck_assert_int_eq(memcmp(b, want, strlen(want)), 0);
    ck_assert(nothing_queued(fd)); /* one datagram, not several */
    /* Each call is its own datagram. */
    ck_assert_int_eq(notify_send("STOPPING=1"), 0);
    ck_assert_int_eq(notify_send("WATCHDOG=1"), 0);
    n = recv_one(fd, b, sizeof(b), &trunc);
    ck_assert_int_eq(n, 10);
    ck_assert_int_eq(memcmp(b, "STOPPING=1", 10), 0);
    n = recv_one(fd, b, sizeof(b), &trunc);
    ck_assert_int_eq(n, 10);
    ck_assert_int_eq(memcmp(b, "WATCHDOG=1", 10), 0);
    close(fd);
}
END_TEST

START_TEST(test_abstract_socket)
{
    char name[64], b[256];
    int fd, trunc;
    ssize_t n;

    snprintf(name, sizeof(name), "@warpd-check-notify-%d", (int)getpid());
    fd = bind_dgram(name);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
    ck_assert_int_eq(notify_send("RELOADING=1"), 0);
    n = recv_one(fd, b, sizeof(b), &trunc);
    ck_assert_int_eq(n, 11);
    ck_assert_int_eq(memcmp(b, "RELOADING=1", 11), 0);
    /* The '@' is not part of the name: a path-like "@..." file is not it. */
    ck_assert_int_eq(access(name, F_OK), -1);
    close(fd);
}
END_TEST

START_TEST(test_relative_path_refused)
{
    char cwd_name[64];
    int fd, low;

    /* Even with a socket of that name in the working directory. */
    ck_assert_int_eq(chdir(tu_tmpdir()), 0);
    snprintf(cwd_name, sizeof(cwd_name), "rel%d.sock", (int)getpid());
    fd = bind_dgram(cwd_name);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", cwd_name, 1), 0);
    low = lowest_free_fd();
    ck_assert_int_eq(notify_send("READY=1"), -1);
    ck_assert_int_eq(lowest_free_fd(), low);
    usleep(20000);
    ck_assert(nothing_queued(fd));
    close(fd);
}
END_TEST

START_TEST(test_too_long_path_refused)
{
    struct sockaddr_un sun;
    char path[sizeof(sun.sun_path) + 16];

    /* sun_path holds 108 bytes; a path of that length or more cannot fit. */
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
    ck_assert_int_eq(notify_send("READY=1"), -1);
    path[sizeof(sun.sun_path)] = '\0'; /* exactly 108: no room left */
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
    ck_assert_int_eq(notify_send("READY=1"), -1);
    path[0] = '@';
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
    ck_assert_int_eq(notify_send("READY=1"), -1);
}
END_TEST

START_TEST(test_longest_abstract_name_fits)
{
    struct sockaddr_un sun;
    char name[sizeof(sun.sun_path)], b[64];
    int fd, trunc;

    /* 107 bytes, the longest accepted, reaches the right socket. */
    snprintf(name, sizeof(name), "@wd%d-", (int)getpid());
    memset(name + strlen(name), 'z', sizeof(name) - 1 - strlen(name));
    name[sizeof(name) - 1] = '\0';
    fd = bind_dgram(name);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
    ck_assert_int_eq(notify_send("READY=1"), 0);
    ck_assert_int_eq(recv_one(fd, b, sizeof(b), &trunc), 7);
    ck_assert_int_eq(memcmp(b, "READY=1", 7), 0);
    close(fd);
}
END_TEST

START_TEST(test_nobody_listening)
{
    int low;

    /* No socket at the path: an error to report, not a crash or a hang. */
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", sock_path, 1), 0);
    low = lowest_free_fd();
    ck_assert_int_eq(notify_send("READY=1"), -1);
    ck_assert_int_eq(lowest_free_fd(), low);
}
END_TEST

START_TEST(test_message_too_long)
{
    static char big[600];
    char b[1024];
    int fd = bind_dgram(sock_path), trunc;

    ck_assert_int_eq(setenv("NOTIFY_SOCKET", sock_path, 1), 0);
    memset(big, 'x', sizeof(big) - 1);
    /* Refused whole rather than sent cut. */
    ck_assert_int_eq(notify_send("STATUS=%s", big), -1);
    usleep(20000);
    ck_assert(nothing_queued(fd));
    big[400] = '\0';
    ck_assert_int_eq(notify_send("STATUS=%s", big), 0);
    ck_assert_int_eq(recv_one(fd, b, sizeof(b), &trunc), 407);
    close(fd);
}
END_TEST

static Suite *
notify_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("unix");

    tcase_add_unchecked_fixture(tc, tu_tmpdir_setup, tu_tmpdir_teardown);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_unset_is_noop);
    tcase_add_test(tc, test_path_socket_exact_datagram);
    tcase_add_test(tc, test_abstract_socket);
    tcase_add_test(tc, test_relative_path_refused);
    tcase_add_test(tc, test_too_long_path_refused);
    tcase_add_test(tc, test_longest_abstract_name_fits);
    tcase_add_test(tc, test_nobody_listening);
    tcase_add_test(tc, test_message_too_long);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(notify_suite());
}
