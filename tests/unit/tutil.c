/* Test support for the Check suites in tests/unit/ (see tutil.h): one copy of
 * the loopback sockets, bounded loop runs, private temporary directory and
 * fork-mode runner that the suites used to write out each for itself. Only
 * loopback addresses are used, and every loop run has a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tutil.h"

/* Set by the runner process before the forks, so the tests see it too. */
static char tmpdir[64];

int
tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    /* Explicit, so that a crash fails one test, not the run, whatever
     * CK_FORK says in the environment. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static void
stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

void
tu_run_once(struct ev_loop *loop, double secs)
{
    ev_timer t;

    ev_timer_init(&t, stop_cb, secs, 0.);
    ev_timer_start(loop, &t);
    ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &t);
}

void
tu_run_for(struct ev_loop *loop, double secs)
{
    ev_timer t;

    ev_timer_init(&t, stop_cb, secs, 0.);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

void
tu_run_until(struct ev_loop *loop, const int *count, int want, double max)
{
    double deadline = ev_time() + max;

    /* Short iterations, so the count is looked at soon after it changes. */
    while (*count < want && ev_time() < deadline)
        tu_run_once(loop, 0.02);
}

struct sockaddr_in
tu_loopback4(uint16_t port)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    return sin;
}

int
tu_tcp_listener(int family, int backlog, struct sockaddr_storage *ss, socklen_t *len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in sin = tu_loopback4(0);
        memcpy(ss, &sin, sizeof(sin));
        *len = sizeof(sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        *len = sizeof(*sin6);
    }
    if (bind(fd, (struct sockaddr *)ss, *len) < 0) {
        close(fd);
        return -1;
    }
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)ss, len), 0);
    /* A bound socket that does not listen refuses connections, and keeps
     * its port from being handed to anyone else meanwhile. */
    if (backlog >= 0)
        ck_assert_int_eq(listen(fd, backlog), 0);
    return fd;
}

int
tu_connect(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, sa, len), 0);
    return fd;
}

void
tu_tcp_pair(int *client, int *server)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int lfd = tu_tcp_listener(AF_INET, 4, &ss, &len);

    ck_assert_int_ge(lfd, 0);
    *client = tu_connect((struct sockaddr *)&ss, len);
    *server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(*server, 0);
    close(lfd);
}

void
tu_unix_pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

void
tu_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    ck_assert_int_ge(fl, 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

int
tu_fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

int
tu_wait_readable(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};

    return poll(&p, 1, ms);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 ? -1 : 0;
}

void
tu_tmpdir_setup(void)
{
    /* Named after the suite, so a directory left by a killed run says whose
     * it is. Check's own assertions are not for the runner process. */
    int n = snprintf(tmpdir, sizeof(tmpdir), "/tmp/wd-%s-XXXXXX", program_invocation_short_name);

    if (n < 0 || (size_t)n >= sizeof(tmpdir) || mkdtemp(tmpdir) == NULL)
        abort();
}

void
tu_tmpdir_teardown(void)
{
    if (tmpdir[0] != '\0')
        nftw(tmpdir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

const char *
tu_tmpdir(void)
{
    return tmpdir;
}
