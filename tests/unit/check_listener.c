/* Unit tests for src/proc/listener.c on loopback: listener_open and the port
 * written back, SO_REUSEPORT slots, listener_probe, accepting with the peer
 * address and slot index, bounded batches, pause/resume, and the EMFILE
 * back-off (the test lowers RLIMIT_NOFILE in its own forked child). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "tutil.h"

#define MAX_ACCEPTS 128

static struct ev_loop *loop;

struct accepted {
    int calls;
    int fd[MAX_ACCEPTS];
    int index[MAX_ACCEPTS];
    struct sockaddr_storage peer[MAX_ACCEPTS];
    socklen_t peerlen[MAX_ACCEPTS];
    struct listener *pause_after_first; /* pause from inside the callback */
};

static void
on_accept(void *arg, int fd, const struct sockaddr *peer, socklen_t peerlen, int lfd_index)
{
    struct accepted *a = arg;

    if (a->calls < MAX_ACCEPTS) {
        a->fd[a->calls] = fd;
        a->index[a->calls] = lfd_index;
        memcpy(&a->peer[a->calls], peer, peerlen);
        a->peerlen[a->calls] = peerlen;
    } else {
        close(fd);
    }
    a->calls++;
    if (a->pause_after_first != NULL)
        listener_pause(a->pause_after_first, 1);
}

static void
close_accepted(struct accepted *a)
{
    int i;

    for (i = 0; i < a->calls && i < MAX_ACCEPTS; i++)
        close(a->fd[i]);
}

static void
setup(void)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(loop);
}

static void
teardown(void)
{
    ev_loop_destroy(loop);
    loop = NULL;
}

/* A blocking client connected to sin (completes through the backlog, no
 * accept needed); *port gets the client's own port. */
static int
client_to(const struct sockaddr_in *sin, uint16_t *port)
{
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    int fd = tu_connect((const struct sockaddr *)sin, sizeof(*sin));

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&me, &len), 0);
    if (port != NULL)
        *port = ntohs(me.sin_port);
    return fd;
}

static int
sockopt_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

START_TEST(test_open_port_zero)
{
    struct sockaddr_in sin = tu_loopback4(0), got;
    socklen_t len = sizeof(got);
    int fd;

    fd = listener_open((struct sockaddr *)&sin, sizeof(sin), 16);
    ck_assert_int_ge(fd, 0);
    ck_assert_uint_ne(ntohs(sin.sin_port), 0); /* written back */
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&got, &len), 0);
    ck_assert_uint_eq(got.sin_port, sin.sin_port);
    ck_assert_uint_eq(sin.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    ck_assert_int_eq(sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    ck_assert_int_eq(sockopt_int(fd, SOL_SOCKET, SO_REUSEPORT), 1);
    ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
    ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
}
END_TEST

START_TEST(test_open_ipv6_only)
{
    struct sockaddr_in6 sin6;
    int fd;

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    fd = listener_open((struct sockaddr *)&sin6, sizeof(sin6), 16);
    if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
        return; /* no IPv6 on this host's loopback */
    ck_assert_int_ge(fd, 0);
    ck_assert_uint_ne(ntohs(sin6.sin6_port), 0);
    ck_assert_int_eq(sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    close(fd);
}
END_TEST

START_TEST(test_reuseport_slots)
{
    struct sockaddr_in sin = tu_loopback4(0), again;
    struct pollfd pfd[2];
    int a, b, c, got;

    a = listener_open((struct sockaddr *)&sin, sizeof(sin), 16);
    ck_assert_int_ge(a, 0);
    /* A second slot on the very same address and port. */
    again = sin;
    b = listener_open((struct sockaddr *)&again, sizeof(again), 16);
    ck_assert_int_ge(b, 0);
    ck_assert_uint_eq(again.sin_port, sin.sin_port);
    /* A connection lands in one of the two accept queues. */
    c = client_to(&sin, NULL);
    pfd[0] = (struct pollfd){a, POLLIN, 0};
    pfd[1] = (struct pollfd){b, POLLIN, 0};
    ck_assert_int_eq(poll(pfd, 2, 1000), 1);
    got = accept(pfd[0].revents ? a : b, NULL, NULL);
    ck_assert_int_ge(got, 0);
    close(got);
    close(c);
    close(a);
    close(b);
}
END_TEST

START_TEST(test_open_refuses_foreign_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int other, fd;

    /* Another server (no SO_REUSEPORT) listens: we must not join it. */
    other = tu_tcp_listener(AF_INET, 4, &ss, &len);
    ck_assert_int_ge(other, 0);
    ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
    errno = 0;
    fd = listener_open((struct sockaddr *)&ss, len, 16);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    errno = 0;
    ck_assert_int_eq(listener_probe((struct sockaddr *)&ss, len), -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    close(other);
}
END_TEST

START_TEST(test_probe)
{
    struct sockaddr_in sin = tu_loopback4(0), copy;
    int a, b, c, acc;

    a = listener_open((struct sockaddr *)&sin, sizeof(sin), 16);
    ck_assert_int_ge(a, 0);
    copy = sin;
    b = listener_open((struct sockaddr *)&copy, sizeof(copy), 16);
    ck_assert_int_ge(b, 0);
    errno = 0;
    ck_assert_int_eq(listener_probe((struct sockaddr *)&sin, sizeof(sin)), -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    close(a);
    /* One slot is still listening. */
    errno = 0;
    ck_assert_int_eq(listener_probe((struct sockaddr *)&sin, sizeof(sin)), -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    /* A connection that ends leaves TIME_WAIT behind; probing still works. */
    c = client_to(&sin, NULL);
    acc = accept(b, NULL, NULL);
    ck_assert_int_ge(acc, 0);
    close(acc);
    close(c);
    close(b);
    ck_assert_int_eq(listener_probe((struct sockaddr *)&sin, sizeof(sin)), 0);
    /* The probe holds nothing: a real listener can take the port after it,
     * and probing twice gives the same answer. */
    ck_assert_int_eq(listener_probe((struct sockaddr *)&sin, sizeof(sin)), 0);
    copy = sin;
    a = listener_open((struct sockaddr *)&copy, sizeof(copy), 16);
    ck_assert_int_ge(a, 0);
    close(a);
}
END_TEST

START_TEST(test_accept_peer_and_index)
{
    struct sockaddr_in s0 = tu_loopback4(0), s1 = tu_loopback4(0), *peer;
    struct accepted a = {0};
    struct listener *l;
    uint16_t cport;
    int fds[2], c0, c1;

    fds[0] = listener_open((struct sockaddr *)&s0, sizeof(s0), 16);
    fds[1] = listener_open((struct sockaddr *)&s1, sizeof(s1), 16);
    ck_assert_int_ge(fds[0], 0);
    ck_assert_int_ge(fds[1], 0);
    l = listener_new(loop, fds, 2, on_accept, &a);
    ck_assert_ptr_nonnull(l);

    c1 = client_to(&s1, &cport);
    tu_run_until(loop, &a.calls, 1, 2.0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.index[0], 1);
    ck_assert_int_ge(a.fd[0], 0);
    ck_assert(fcntl(a.fd[0], F_GETFL) & O_NONBLOCK);
    ck_assert(fcntl(a.fd[0], F_GETFD) & FD_CLOEXEC);
    ck_assert_int_eq(a.peerlen[0], sizeof(struct sockaddr_in));
    peer = (struct sockaddr_in *)&a.peer[0];
    ck_assert_int_eq(peer->sin_family, AF_INET);
    ck_assert_uint_eq(peer->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    ck_assert_uint_eq(ntohs(peer->sin_port), cport);
    /* The accepted fd is really the client's connection. */
    ck_assert_int_eq(write(c1, "hi", 2), 2);
    {
        char b[4];
        ck_assert_int_eq(tu_wait_readable(a.fd[0], 1000), 1);
        ck_assert_int_eq(read(a.fd[0], b, sizeof(b)), 2);
        ck_assert_int_eq(memcmp(b, "hi", 2), 0);
    }

    c0 = client_to(&s0, &cport);
    tu_run_until(loop, &a.calls, 2, 2.0);
    ck_assert_int_eq(a.calls, 2);
    ck_assert_int_eq(a.index[1], 0);
    ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&a.peer[1])->sin_port), cport);

    listener_close(l);
    /* listener_close owns the fds: they are closed and refuse connections. */
    ck_assert(!tu_fd_is_open(fds[0]));
    ck_assert(!tu_fd_is_open(fds[1]));
    {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&s0, sizeof(s0)), -1);
        ck_assert_int_eq(errno, ECONNREFUSED);
        close(fd);
    }
    listener_close(NULL);
    close_accepted(&a);
    close(c0);
    close(c1);
}
END_TEST

START_TEST(test_batches_accept_everything)
{
    struct sockaddr_in sin = tu_loopback4(0);
    struct accepted a = {0};
    struct listener *l;
    int lfd, c[100], i, j;

    lfd = listener_open((struct sockaddr *)&sin, sizeof(sin), 128);
    ck_assert_int_ge(lfd, 0);
    for (i = 0; i < 100; i++)
        c[i] = client_to(&sin, NULL);
    l = listener_new(loop, &lfd, 1, on_accept, &a);
    ck_assert_ptr_nonnull(l);
    /* One loop iteration takes a bounded batch, not the whole queue... */
    tu_run_once(loop, 0.5);
    ck_assert_int_gt(a.calls, 0);
    ck_assert_int_lt(a.calls, 100);
    /* ...and the next iterations take the rest. */
    tu_run_until(loop, &a.calls, 100, 2.0);
    ck_assert_int_eq(a.calls, 100);
    for (i = 0; i < 100; i++)
        for (j = i + 1; j < 100; j++)
            ck_assert_int_ne(a.fd[i], a.fd[j]);
    listener_close(l);
    close_accepted(&a);
    for (i = 0; i < 100; i++)
        close(c[i]);
}
END_TEST

/* Counts loop iterations. */
static void
count_prepare(struct ev_loop *l, ev_prepare *w, int revents)
{
    (*(int *)w->data)++;
}

START_TEST(test_pause_resume)
{
    struct sockaddr_in sin = tu_loopback4(0);
    struct accepted a = {0};
    struct listener *l;
    ev_prepare prep;
    int lfd, c1, c2, c3, iters = 0;

    lfd = listener_open((struct sockaddr *)&sin, sizeof(sin), 16);
    ck_assert_int_ge(lfd, 0);
    l = listener_new(loop, &lfd, 1, on_accept, &a);
    ck_assert_ptr_nonnull(l);
    listener_pause(l, 1);
    listener_pause(l, 1);
    c1 = client_to(&sin, NULL); /* queued in the kernel */
    /* Paused means not watched at all: a watched, never-accepted readiness
     * would spin the loop. */
    ev_prepare_init(&prep, count_prepare);
    prep.data = &iters;
    ev_prepare_start(loop, &prep);
    tu_run_for(loop, 0.2);
    ev_prepare_stop(loop, &prep);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_le(iters, 5);
    listener_pause(l, 0);
    tu_run_until(loop, &a.calls, 1, 2.0);
    ck_assert_int_eq(a.calls, 1);

    /* Pausing from inside the callback stops the batch at once (the
     * worker does this at max_connections). */
    a.pause_after_first = l;
    c2 = client_to(&sin, NULL);
    c3 = client_to(&sin, NULL);
    tu_run_until(loop, &a.calls, 2, 2.0);
    tu_run_for(loop, 0.1);
    ck_assert_int_eq(a.calls, 2);
    a.pause_after_first = NULL;
    listener_pause(l, 0);
    tu_run_until(loop, &a.calls, 3, 2.0);
    ck_assert_int_eq(a.calls, 3);
    listener_close(l);
    close_accepted(&a);
    close(c1);
    close(c2);
    close(c3);
}
END_TEST

/* A final stop: the queue is taken whole in one call, even while paused
 * (the worker stops at max_connections), and the sealed socket completes no
 * further handshake, so a client arriving now is never reset at the close:
 * its SYN is dropped and, once the socket is closed, refused. */
START_TEST(test_drain_takes_queue_and_seals)
{
    struct sockaddr_in sin = tu_loopback4(0);
    struct accepted a = {0};
    struct listener *l;
    struct pollfd pfd;
    int lfd, c[100], late, i;

    lfd = listener_open((struct sockaddr *)&sin, sizeof(sin), 128);
    ck_assert_int_ge(lfd, 0);
    for (i = 0; i < 100; i++)
        c[i] = client_to(&sin, NULL);
    l = listener_new(loop, &lfd, 1, on_accept, &a);
    ck_assert_ptr_nonnull(l);
    listener_pause(l, 1);
    ck_assert_int_eq(listener_drain(l), 100);
    ck_assert_int_eq(a.calls, 100);
    ck_assert_int_eq(listener_drain(l), 0);

    late = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(late, 0);
    ck_assert(connect(late, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno == EINPROGRESS);
    pfd.fd = late;
    pfd.events = POLLOUT;
    ck_assert_int_eq(poll(&pfd, 1, 300), 0); /* no SYN-ACK: still connecting */
    listener_close(l);
    close_accepted(&a);
    for (i = 0; i < 100; i++)
        close(c[i]);
    close(late);
}
END_TEST

/* Sets the soft RLIMIT_NOFILE just above the highest fd in use, so that the
 * next descriptor the process asks for fails with EMFILE. */
static void
exhaust_fds(void)
{
    struct rlimit rl;
    int lowest = fcntl(0, F_DUPFD, 0);

    if (lowest < 0)
        lowest = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(lowest, 0);
    close(lowest);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = (rlim_t)lowest;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_int_eq(dup(2), -1);
    ck_assert_int_eq(errno, EMFILE);
}

/* Occurrences of needle in the file open on fd. */
static size_t
count_in(int fd, const char *needle)
{
    char b[8192];
    size_t n = 0;
    ssize_t len;
    char *p;

    len = pread(fd, b, sizeof(b) - 1, 0);
    ck_assert_int_ge(len, 0);
    b[len] = '\0';
    for (p = b; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(test_emfile_backs_off)
{
    struct sockaddr_in sin = tu_loopback4(0);
    struct accepted a = {0};
    struct listener *l;
    struct rlimit saved;
    char logpath[] = "/tmp/wd-listener-XXXXXX";
    const char *failed = NULL;
    ev_prepare prep;
    int lfd, c, iters = 0, logfd, readfd;
    uint16_t cport;

    /* The back-off warning goes to a file, to count it. The name is
     * removed at once (we read through readfd), so a failure leaves
     * nothing behind. */
    logfd = mkstemp(logpath);
    ck_assert_int_ge(logfd, 0);
    ck_assert_int_eq(log_open(logpath, "off", &failed), 0);
    readfd = open(logpath, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(readfd, 0);
    close(logfd);
    unlink(logpath);

    lfd = listener_open((struct sockaddr *)&sin, sizeof(sin), 16);
    ck_assert_int_ge(lfd, 0);
    l = listener_new(loop, &lfd, 1, on_accept, &a);
    ck_assert_ptr_nonnull(l);
    c = client_to(&sin, &cport); /* before the limit: the client needs an fd */
    ev_prepare_init(&prep, count_prepare);
    prep.data = &iters;
    ev_prepare_start(loop, &prep);

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    exhaust_fds();
    /* Level-triggered readiness that accept cannot clear: without the
     * back-off this would be thousands of iterations in 0.3 s. */
    tu_run_for(loop, 0.3);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_le(iters, 20);
    /* A resume by the owner does not cut the back-off short. */
    listener_pause(l, 1);
    listener_pause(l, 0);
    iters = 0;
    tu_run_for(loop, 0.2);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_le(iters, 20);

    /* Descriptors are available again: the retry timer accepts the
     * connection that waited in the kernel's queue. */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    tu_run_until(loop, &a.calls, 1, 3.0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&a.peer[0])->sin_port), cport);
    /* Warned once, not once per failed accept (at most every 5 s). */
    ck_assert_uint_eq(count_in(readfd, "accept failed"), 1);
    ck_assert_uint_eq(count_in(readfd, strerror(EMFILE)), 1);

    ev_prepare_stop(loop, &prep);
    listener_close(l);
    close_accepted(&a);
    close(c);
    log_close();
    close(readfd);
}
END_TEST

static Suite *
listener_suite(void)
{
    Suite *s = suite_create("listener");
    TCase *tc = tcase_create("loopback");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_open_port_zero);
    tcase_add_test(tc, test_open_ipv6_only);
    tcase_add_test(tc, test_reuseport_slots);
    tcase_add_test(tc, test_open_refuses_foreign_port);
    tcase_add_test(tc, test_drain_takes_queue_and_seals);
    tcase_add_test(tc, test_probe);
    tcase_add_test(tc, test_accept_peer_and_index);
    tcase_add_test(tc, test_batches_accept_everything);
    tcase_add_test(tc, test_pause_resume);
    tcase_add_test(tc, test_emfile_backs_off);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(listener_suite());
}
