/* Unit tests for src/net/conn.c: the I/O contract (>0, 0 on EOF, WD_AGAIN,
 * WD_ERROR with errno) on socketpairs and loopback TCP, writes to a full or
 * closed peer without SIGPIPE, idempotent watcher switches, handlers called
 * from the loop, half-close, double close, and SO_ERROR after a refused
 * non-blocking connect. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "tutil.h"

static struct ev_loop *loop;

/* Whether the one watcher is started for a direction. */
#define RD_ON(c) (conn_watched(&(c)) & EV_READ)
#define WR_ON(c) (conn_watched(&(c)) & EV_WRITE)

static void
setup(void)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(loop);
    /* The default action, so that a SIGPIPE would kill the test. */
    signal(SIGPIPE, SIG_DFL);
}

static void
teardown(void)
{
    ev_loop_destroy(loop);
    loop = NULL;
}

/* A non-blocking AF_UNIX stream pair: c owns one end, *peer is the other. */
static void
unix_pair(struct conn *c, int *peer)
{
    int sv[2];

    tu_unix_pair(sv);
    conn_init(c, loop, sv[0], NULL);
    *peer = sv[1];
}

/* A connected loopback TCP pair: c owns the non-blocking client end. */
static void
tcp_pair(struct conn *c, int *peer)
{
    int fd;

    tu_tcp_pair(&fd, peer);
    tu_set_nonblock(fd);
    conn_init(c, loop, fd, NULL);
}

/* Writes until WD_AGAIN (or at most 64 MB); returns the last result. */
static ssize_t
fill(struct conn *c, int use_writev)
{
    static char chunk[65536];
    ssize_t n = 0;
    int i;

    for (i = 0; i < 1024; i++) {
        if (use_writev) {
            struct iovec iov[2] = {{chunk, 1000}, {chunk + 1000, sizeof(chunk) - 1000}};
            n = conn_writev(c, iov, 2);
        } else {
            n = conn_write(c, chunk, sizeof(chunk));
        }
        if (n <= 0)
            break;
    }
    return n;
}

START_TEST(test_init_state)
{
    struct conn c;
    int peer, marker;

    memset(&c, 0xff, sizeof(c));
    unix_pair(&c, &peer);
    ck_assert_int_ge(c.fd, 0);
    ck_assert_ptr_eq(c.loop, loop);
    ck_assert_ptr_null(c.on_read);
    ck_assert_ptr_null(c.on_write);
    ck_assert_ptr_null(c.data);
    ck_assert_uint_eq(c.eof_seen, 0);
    ck_assert_uint_eq(c.shut_wr, 0);
    ck_assert(!RD_ON(c));
    ck_assert(!WR_ON(c));
    conn_close(&c);
    conn_init(&c, loop, peer, &marker);
    ck_assert_ptr_eq(c.data, &marker);
    conn_close(&c);
}
END_TEST

START_TEST(test_read_bytes_eof_again)
{
    struct conn c;
    char b[16];
    int peer;

    unix_pair(&c, &peer);
    /* Nothing there yet on a non-blocking socket. */
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), WD_AGAIN);
    ck_assert_uint_eq(c.eof_seen, 0);
    ck_assert_int_eq(write(peer, "hello", 5), 5);
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), 5);
    ck_assert_int_eq(memcmp(b, "hello", 5), 0);
    /* A short buffer gets what fits, the rest stays queued. */
    ck_assert_int_eq(write(peer, "abcdef", 6), 6);
    ck_assert_int_eq(conn_read(&c, b, 4), 4);
    ck_assert_int_eq(memcmp(b, "abcd", 4), 0);
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), 2);
    ck_assert_int_eq(memcmp(b, "ef", 2), 0);
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), WD_AGAIN);
    /* EOF is 0 (not an error), and is remembered. */
    ck_assert_int_eq(write(peer, "z", 1), 1);
    close(peer);
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), 1);
    ck_assert_uint_eq(c.eof_seen, 0);
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), 0);
    ck_assert_uint_eq(c.eof_seen, 1);
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), 0);
    conn_close(&c);
}
END_TEST

START_TEST(test_read_reset_is_error)
{
    struct conn c;
    struct linger lg = {1, 0};
    char b[16];
    int peer;
    ssize_t n;

    tcp_pair(&c, &peer);
    /* SO_LINGER 0: close sends a RST, not a FIN. */
    ck_assert_int_eq(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(peer);
    ck_assert_int_eq(tu_wait_readable(c.fd, 1000), 1);
    errno = 0;
    n = conn_read(&c, b, sizeof(b));
    ck_assert_int_eq(n, WD_ERROR);
    ck_assert_int_eq(errno, ECONNRESET);
    ck_assert_uint_eq(c.eof_seen, 0); /* an error is not an EOF */
    conn_close(&c);
}
END_TEST

START_TEST(test_write_again_when_full)
{
    struct conn c;
    char b[65536];
    int peer, i;
    ssize_t n;

    unix_pair(&c, &peer);
    ck_assert_int_eq(conn_write(&c, "ping", 4), 4);
    ck_assert_int_eq(read(peer, b, sizeof(b)), 4);
    ck_assert_int_eq(fill(&c, 0), WD_AGAIN);
    ck_assert_int_eq(conn_write(&c, "x", 1), WD_AGAIN);
    /* Draining the peer makes room again. */
    for (i = 0; i < 4096 && read(peer, b, sizeof(b)) > 0; i++)
        ;
    n = conn_write(&c, "more", 4);
    ck_assert_int_eq(n, 4);
    conn_close(&c);
    close(peer);
}
END_TEST

START_TEST(test_writev_again_when_full)
{
    struct conn c;
    struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    char b[16];
    int peer;

    unix_pair(&c, &peer);
    /* Gathers the pieces in order. */
    ck_assert_int_eq(conn_writev(&c, iov, 3), 5);
    ck_assert_int_eq(read(peer, b, sizeof(b)), 5);
    ck_assert_int_eq(memcmp(b, "abcde", 5), 0);
    ck_assert_int_eq(fill(&c, 1), WD_AGAIN);
    ck_assert_int_eq(conn_writev(&c, iov, 3), WD_AGAIN);
    conn_close(&c);
    close(peer);
}
END_TEST

START_TEST(test_write_epipe_no_sigpipe)
{
    struct conn c;
    struct iovec iov[1] = {{"x", 1}};
    int peer;

    unix_pair(&c, &peer);
    close(peer);
    errno = 0;
    ck_assert_int_eq(conn_write(&c, "x", 1), WD_ERROR);
    ck_assert_int_eq(errno, EPIPE);
    errno = 0;
    ck_assert_int_eq(conn_writev(&c, iov, 1), WD_ERROR);
    ck_assert_int_eq(errno, EPIPE);
    conn_close(&c); /* still alive: SIGPIPE was not raised */
}
END_TEST

START_TEST(test_write_epipe_tcp)
{
    struct conn c;
    char b[16];
    int peer, i;
    ssize_t n = 0;

    tcp_pair(&c, &peer);
    close(peer);
    /* The peer's close only sent a FIN, so the first write still succeeds
     * and draws a RST; a later write then fails with ECONNRESET (the RST
     * reported) or EPIPE. The FIN already makes the socket readable, so
     * the wait is for the RST itself: poll with no events reports only
     * POLLERR/POLLHUP. Under load the RST can be handled later, in
     * softirq context, so the wait is bounded by time (5 s), not by a
     * count of writes. */
    for (i = 0; i < 100; i++) {
        struct pollfd p = {.fd = c.fd, .events = 0};

        errno = 0;
        n = conn_write(&c, "data", 4);
        if (n == WD_ERROR)
            break;
        (void)poll(&p, 1, 50);
    }
    ck_assert_int_eq(n, WD_ERROR);
    ck_assert(errno == EPIPE || errno == ECONNRESET);
    /* Reading reports the reset as an error or EOF, never as data. */
    n = conn_read(&c, b, sizeof(b));
    ck_assert(n == 0 || n == WD_ERROR);
    errno = 0;
    ck_assert_int_eq(conn_write(&c, "data", 4), WD_ERROR);
    ck_assert_int_eq(errno, EPIPE);
    conn_close(&c);
}
END_TEST

struct counts {
    int reads, writes;
    char got[64];
    size_t len;
};

static void
count_read(struct conn *c)
{
    struct counts *k = c->data;
    ssize_t n;

    k->reads++;
    n = conn_read(c, k->got + k->len, sizeof(k->got) - k->len);
    if (n > 0)
        k->len += (size_t)n;
    else if (n == 0)
        conn_want_read(c, 0);
}

static void
count_write(struct conn *c)
{
    struct counts *k = c->data;

    k->writes++;
    conn_want_write(c, 0); /* one-shot, as a protocol does once flushed */
}

START_TEST(test_want_idempotent)
{
    struct conn c;
    struct counts k = {0};
    int peer;

    unix_pair(&c, &peer);
    c.data = &k;
    c.on_read = count_read;
    c.on_write = count_write;
    conn_want_read(&c, 1);
    conn_want_read(&c, 1);
    ck_assert(RD_ON(c));
    ck_assert(!WR_ON(c));
    conn_want_write(&c, 1);
    conn_want_write(&c, 1);
    ck_assert(WR_ON(c));
    /* One stop is enough however many starts there were. */
    conn_want_read(&c, 0);
    ck_assert(!RD_ON(c));
    conn_want_read(&c, 0);
    ck_assert(!RD_ON(c));
    conn_want_write(&c, 0);
    conn_want_write(&c, 0);
    ck_assert(!WR_ON(c));
    /* Stopped watchers: neither handler runs although the socket is
     * writable and readable. */
    ck_assert_int_eq(write(peer, "x", 1), 1);
    tu_run_once(loop, 0.05);
    ck_assert_int_eq(k.reads, 0);
    ck_assert_int_eq(k.writes, 0);
    /* Once closed, a start is a no-op. */
    conn_close(&c);
    conn_want_read(&c, 1);
    conn_want_write(&c, 1);
    ck_assert(!RD_ON(c));
    ck_assert(!WR_ON(c));
    close(peer);
}
END_TEST

START_TEST(test_handlers_from_loop)
{
    struct conn c;
    struct counts k = {0};
    int peer, i;

    unix_pair(&c, &peer);
    c.data = &k;
    c.on_read = count_read;
    c.on_write = count_write;
    conn_want_write(&c, 1);
    for (i = 0; i < 20 && k.writes == 0; i++)
        tu_run_once(loop, 0.05);
    ck_assert_int_eq(k.writes, 1);
    ck_assert(!WR_ON(c));
    conn_want_read(&c, 1);
    tu_run_once(loop, 0.05);
    ck_assert_int_eq(k.reads, 0); /* nothing to read yet */
    ck_assert_int_eq(write(peer, "hello", 5), 5);
    for (i = 0; i < 20 && k.len < 5; i++)
        tu_run_once(loop, 0.05);
    ck_assert_int_ge(k.reads, 1);
    ck_assert_uint_eq(k.len, 5);
    ck_assert_int_eq(memcmp(k.got, "hello", 5), 0);
    close(peer);
    for (i = 0; i < 20 && !c.eof_seen; i++)
        tu_run_once(loop, 0.05);
    ck_assert_uint_eq(c.eof_seen, 1);
    ck_assert(!RD_ON(c));
    ck_assert_int_eq(k.writes, 1);
    conn_close(&c);
}
END_TEST

static void
phase_two(struct conn *c)
{
    struct counts *k = c->data;

    k->writes += 100; /* marks that the new handler ran */
    count_read(c);
}

static void
phase_one(struct conn *c)
{
    count_read(c);
    c->on_read = phase_two; /* the next phase takes over the same watcher */
}

START_TEST(test_handler_swap)
{
    struct conn c;
    struct counts k = {0};
    int peer, i;

    unix_pair(&c, &peer);
    c.data = &k;
    c.on_read = phase_one;
    conn_want_read(&c, 1);
    ck_assert_int_eq(write(peer, "a", 1), 1);
    for (i = 0; i < 20 && k.len < 1; i++)
        tu_run_once(loop, 0.05);
    ck_assert_uint_eq(k.len, 1);
    ck_assert_int_eq(k.writes, 0);
    ck_assert_int_eq(write(peer, "b", 1), 1);
    for (i = 0; i < 20 && k.len < 2; i++)
        tu_run_once(loop, 0.05);
    ck_assert_uint_eq(k.len, 2);
    ck_assert_int_eq(k.writes, 100);
    ck_assert_int_eq(memcmp(k.got, "ab", 2), 0);
    /* No handler at all: the event is ignored, nothing crashes. */
    c.on_read = NULL;
    ck_assert_int_eq(write(peer, "c", 1), 1);
    for (i = 0; i < 5; i++)
        ev_run(loop, EVRUN_NOWAIT);
    ck_assert_uint_eq(k.len, 2);
    conn_close(&c);
    close(peer);
}
END_TEST

/* Readable and writable in the same poll: both handlers run in that one
 * loop iteration, the read handler first. */
START_TEST(test_both_ready_one_iteration)
{
    struct conn c;
    struct counts k = {0};
    int peer;

    unix_pair(&c, &peer);
    c.data = &k;
    c.on_read = count_read;
    c.on_write = count_write;
    ck_assert_int_eq(write(peer, "x", 1), 1);
    conn_want_read(&c, 1);
    conn_want_write(&c, 1);
    ck_assert(RD_ON(c) && WR_ON(c));
    ev_run(loop, EVRUN_ONCE);
    ck_assert_int_eq(k.reads, 1);
    ck_assert_int_eq(k.writes, 1);
    conn_close(&c);
    close(peer);
}
END_TEST

static int closer_writes;

static void
closer_write(struct conn *c)
{
    closer_writes++;
}

/* The read handler closes (or stops writing): the write handler of that
 * same readiness never runs on the closed connection. */
static void
closer_read(struct conn *c)
{
    if (c->data != NULL)
        conn_close(c);
    else
        conn_want_write(c, 0);
}

START_TEST(test_read_closes_no_write)
{
    for (int mode = 0; mode < 2; mode++) {
        struct conn c;
        int peer;

        unix_pair(&c, &peer);
        c.data = mode == 0 ? &c : NULL;
        c.on_read = closer_read;
        c.on_write = closer_write;
        closer_writes = 0;
        ck_assert_int_eq(write(peer, "x", 1), 1);
        conn_want_read(&c, 1);
        conn_want_write(&c, 1);
        for (int i = 0; i < 3; i++)
            ev_run(loop, EVRUN_NOWAIT);
        ck_assert_int_eq(closer_writes, 0);
        conn_close(&c);
        close(peer);
    }
}
END_TEST

START_TEST(test_shutdown_write)
{
    struct conn c;
    char b[16];
    int peer;

    unix_pair(&c, &peer);
    ck_assert_int_eq(conn_write(&c, "bye", 3), 3);
    ck_assert_int_eq(conn_shutdown_write(&c), 0);
    ck_assert_uint_eq(c.shut_wr, 1);
    ck_assert_int_eq(conn_shutdown_write(&c), 0); /* idempotent */
    ck_assert_int_eq(read(peer, b, sizeof(b)), 3);
    ck_assert_int_eq(read(peer, b, sizeof(b)), 0); /* the peer sees EOF */
    /* Half-close only: the other direction still flows. */
    ck_assert_int_eq(write(peer, "late", 4), 4);
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), 4);
    ck_assert_int_eq(memcmp(b, "late", 4), 0);
    ck_assert_uint_eq(c.eof_seen, 0);
    /* Writing after the shutdown fails cleanly. */
    errno = 0;
    ck_assert_int_eq(conn_write(&c, "x", 1), WD_ERROR);
    ck_assert_int_eq(errno, EPIPE);
    conn_close(&c);
    close(peer);
}
END_TEST

START_TEST(test_shutdown_write_tcp)
{
    struct conn c;
    char b[16];
    int peer;

    tcp_pair(&c, &peer);
    ck_assert_int_eq(conn_shutdown_write(&c), 0);
    ck_assert_int_eq(tu_wait_readable(peer, 1000), 1);
    ck_assert_int_eq(read(peer, b, sizeof(b)), 0);
    ck_assert_int_eq(conn_shutdown_write(&c), 0);
    ck_assert_int_eq(write(peer, "ok", 2), 2);
    ck_assert_int_eq(tu_wait_readable(c.fd, 1000), 1);
    ck_assert_int_eq(conn_read(&c, b, sizeof(b)), 2);
    conn_close(&c);
    close(peer);
}
END_TEST

START_TEST(test_close_twice)
{
    struct conn c;
    struct counts k = {0};
    int peer, fd;
    char b[4];

    unix_pair(&c, &peer);
    fd = c.fd;
    c.data = &k;
    c.on_read = count_read;
    c.on_write = count_write;
    conn_want_read(&c, 1);
    conn_want_write(&c, 1);
    conn_close(&c);
    ck_assert_int_eq(c.fd, -1);
    ck_assert(!RD_ON(c));
    ck_assert(!WR_ON(c));
    ck_assert(!tu_fd_is_open(fd));
    ck_assert_int_eq(read(peer, b, sizeof(b)), 0);
    /* A second close must not close an fd number reused meanwhile. */
    ck_assert_int_eq(dup2(peer, fd), fd);
    conn_close(&c);
    ck_assert(tu_fd_is_open(fd));
    ck_assert_int_eq(c.fd, -1);
    /* The loop runs without the closed conn's watchers. */
    tu_run_once(loop, 0.02);
    ck_assert_int_eq(k.reads + k.writes, 0);
    close(fd);
    close(peer);
}
END_TEST

static int moved_calls;

static void
moved_on_read(struct conn *c)
{
    char b[8];

    moved_calls++;
    ck_assert_int_eq(conn_read(c, b, sizeof(b)), 2);
}

START_TEST(test_move_hands_over)
{
    struct conn a, b;
    int peer, owner;

    unix_pair(&a, &peer);
    conn_want_read(&a, 1); /* registered with the loop once */
    tu_run_once(loop, 0.01);
    conn_move(&b, &a, &owner);
    ck_assert_int_eq(a.fd, -1);
    ck_assert(!RD_ON(a) && !RD_ON(b));
    ck_assert_ptr_eq(b.data, &owner);
    ck_assert_ptr_null(b.on_read);
    ck_assert_ptr_eq(b.io.data, &b); /* the watcher now calls b's handlers */
    conn_close(&a);                  /* a no-op: a owns nothing any more */
    b.on_read = moved_on_read;
    conn_want_read(&b, 1);
    ck_assert_int_eq(write(peer, "hi", 2), 2);
    for (int i = 0; i < 20 && moved_calls == 0; i++)
        tu_run_once(loop, 0.05);
    ck_assert_int_eq(moved_calls, 1);
    conn_close(&b);
    close(peer);
}
END_TEST

START_TEST(test_socket_error_refused)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct counts k = {0};
    struct conn c;
    int bfd, fd, i;

    bfd = tu_tcp_listener(AF_INET, -1, &ss, &len); /* bound, not listening: refuses */
    ck_assert_int_ge(bfd, 0);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    conn_init(&c, loop, fd, &k);
    c.on_write = count_write;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0)
        ck_assert_int_eq(errno, EINPROGRESS);
    else
        ck_abort_msg("connect to a closed port succeeded");
    /* The end of the connect shows as writability. */
    conn_want_write(&c, 1);
    for (i = 0; i < 20 && k.writes == 0; i++)
        tu_run_once(loop, 0.05);
    ck_assert_int_eq(k.writes, 1);
    ck_assert_int_eq(conn_socket_error(&c), ECONNREFUSED);
    /* SO_ERROR is consumed by reading it. */
    ck_assert_int_eq(conn_socket_error(&c), 0);
    conn_close(&c);
    close(bfd);
}
END_TEST

START_TEST(test_socket_error_connected)
{
    struct conn c;
    int peer;

    tcp_pair(&c, &peer);
    ck_assert_int_eq(conn_socket_error(&c), 0);
    conn_close(&c);
    close(peer);
}
END_TEST

START_TEST(test_send_segments_counts)
{
    struct iovec iov[70];
    char buf[256];
    struct conn c;
    int peer, i;
    ssize_t got = 0, n;

    tcp_pair(&c, &peer);
    for (i = 0; i < 70; i++) {
        iov[i].iov_base = (char *)"abcdefgh" + (i % 8);
        iov[i].iov_len = 1;
    }
    ck_assert_int_eq(conn_send_segments(&c, iov, 70), 70);
    ck_assert_int_eq(conn_send_segments(&c, iov, 0), 0);
    while (got < 70 && (n = read(peer, buf + got, sizeof(buf) - (size_t)got)) > 0)
        got += n;
    ck_assert_int_eq(got, 70);
    ck_assert(memcmp(buf, "abcdefghabcdefgh", 16) == 0);
    conn_close(&c);
    ck_assert_int_eq(conn_send_segments(&c, iov, 1), WD_ERROR); /* closed: EBADF */
    close(peer);
}
END_TEST

/* A full socket: nothing is taken (WD_AGAIN); with room for part of the
 * buffers, the count stops inside the one taken in part, and nothing after it
 * is sent (the peer's bytes are exactly a prefix). */
START_TEST(test_send_segments_stop_at_partial)
{
    static char chunk[65536], big[3][200000], got[1 << 16];
    struct iovec iov[3];
    struct conn c;
    int peer, i;
    ssize_t n, sent, total = 0, want;

    tcp_pair(&c, &peer);
    for (i = 0; i < 3; i++) {
        memset(big[i], 'A' + i, sizeof(big[i]));
        iov[i].iov_base = big[i];
        iov[i].iov_len = sizeof(big[i]);
    }
    memset(chunk, 'q', sizeof(chunk));
    while ((n = conn_write(&c, chunk, sizeof(chunk))) > 0)
        total += n;
    ck_assert_int_eq(conn_send_segments(&c, iov, 3), WD_AGAIN);
    /* Make a little room, then send again: less than all is taken. */
    tu_set_nonblock(peer);
    want = total;
    n = read(peer, got, sizeof(got));
    ck_assert_int_gt(n, 0);
    want -= n;
    usleep(50000);
    sent = conn_send_segments(&c, iov, 3);
    ck_assert_int_gt(sent, 0);
    ck_assert_int_lt(sent, 3 * 200000);
    /* The peer gets the rest of the filler, then exactly `sent` bytes of
     * A..., B..., C... in order, with no hole. */
    for (ssize_t pos = 0, k; pos < want + sent;) {
        n = read(peer, got, sizeof(got));
        if (n < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            usleep(1000);
            continue;
        }
        ck_assert_int_gt(n, 0);
        for (k = 0; k < n; k++, pos++) {
            if (pos >= want) {
                ssize_t at = pos - want;
                ck_assert_int_eq(got[k], 'A' + (int)(at / 200000));
            }
        }
    }
    ck_assert_int_eq(read(peer, got, sizeof(got)), -1); /* nothing more */
    conn_close(&c);
    close(peer);
}
END_TEST

/* Other tests fill lo with traffic of their own (make check runs them side
 * by side): the packet socket is given a filter that keeps only TCP over IPv4
 * to or from port (what "tcp port N" compiles to), and a large buffer. */
static void
sniff_only_port(int fd, uint16_t port)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12), /* ethertype */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 10),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23), /* IP protocol */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 8),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20), /* fragment offset */
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 6, 0),
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14), /* X = IP header length */
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14),  /* source port */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 2, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 16), /* destination port */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0x40000),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = {.len = (unsigned short)WD_ARRAY_SIZE(code), .filter = code};
    int big = 16 << 20;

    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)), 0);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
}

/* The point of MSG_EOR: buffers that must wait in the socket (the peer's
 * window is shut) still leave as separate TCP segments, where plain writes
 * would be merged into one. Watched on lo with a packet socket, which needs
 * CAP_NET_RAW; without it the test says so and checks nothing more. */
START_TEST(test_send_segments_stay_apart)
{
    static char filler[1000], pkt[70000]; /* lo's MTU is 64 KiB: whole packets */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
    struct iovec iov[3] = {{(char *)"AAAA", 4}, {(char *)"BBBB", 4}, {(char *)"CCCC", 4}};
    socklen_t slen = sizeof(sa);
    int lfd, cfd, sfd, sniff, small = 4096, one = 1, seen_b = 0, seen_c = 0, merged = 0, i;
    size_t sent = 0, got = 0;
    ssize_t n;
    struct conn c;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, 1), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
    sniff = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (sniff < 0) {
        fprintf(stderr, "test_send_segments_stay_apart: no packet socket (%s), not checked\n",
                strerror(errno));
        close(lfd);
        return;
    }
    sniff_only_port(sniff, ntohs(sa.sin_port));
    ll.sll_ifindex = (int)if_nametoindex("lo");
    ck_assert_int_eq(bind(sniff, (struct sockaddr *)&ll, sizeof(ll)), 0);
    while (recv(sniff, pkt, sizeof(pkt), 0) > 0) /* what came before the filter */
        ;
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sa, slen), 0);
    sfd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(sfd, 0);
    close(lfd);
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    tu_set_nonblock(cfd);
    tu_set_nonblock(sfd);
    conn_init(&c, loop, cfd, NULL);
    /* Shut the peer's window: more than it can hold, less than our buffer. */
    memset(filler, 'f', sizeof(filler));
    while (sent < 30000 && (n = conn_write(&c, filler, sizeof(filler))) > 0)
        sent += (size_t)n;
    usleep(100000);
    ck_assert_int_eq(conn_send_segments(&c, iov, 3), 12);
    /* Drain the peer and watch what crosses lo, for at most 3 seconds. */
    for (i = 0; i < 300; i++) {
        static char in[65536];

        while ((n = read(sfd, in, sizeof(in))) > 0)
            got += (size_t)n;
        while ((n = recv(sniff, pkt, sizeof(pkt), 0)) > 0) {
            seen_b |= memmem(pkt, (size_t)n, "BBBB", 4) != NULL;
            seen_c |= memmem(pkt, (size_t)n, "CCCC", 4) != NULL;
            merged |= memmem(pkt, (size_t)n, "AAAABBBB", 8) != NULL ||
                      memmem(pkt, (size_t)n, "BBBBCCCC", 8) != NULL;
        }
        if (got >= sent + 12 && seen_b && seen_c)
            break;
        usleep(10000);
    }
    ck_assert_uint_eq(got, sent + 12);
    ck_assert(seen_b && seen_c);
    ck_assert_msg(!merged, "segments sent with MSG_EOR were merged into one packet");
    conn_close(&c);
    close(sfd);
    close(sniff);
}
END_TEST

static Suite *
conn_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("io");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_init_state);
    tcase_add_test(tc, test_read_bytes_eof_again);
    tcase_add_test(tc, test_read_reset_is_error);
    tcase_add_test(tc, test_write_again_when_full);
    tcase_add_test(tc, test_writev_again_when_full);
    tcase_add_test(tc, test_write_epipe_no_sigpipe);
    tcase_add_test(tc, test_write_epipe_tcp);
    tcase_add_test(tc, test_want_idempotent);
    tcase_add_test(tc, test_handlers_from_loop);
    tcase_add_test(tc, test_both_ready_one_iteration);
    tcase_add_test(tc, test_read_closes_no_write);
    tcase_add_test(tc, test_handler_swap);
    tcase_add_test(tc, test_shutdown_write);
    tcase_add_test(tc, test_shutdown_write_tcp);
    tcase_add_test(tc, test_close_twice);
    tcase_add_test(tc, test_move_hands_over);
    tcase_add_test(tc, test_send_segments_counts);
    tcase_add_test(tc, test_send_segments_stop_at_partial);
    tcase_add_test(tc, test_send_segments_stay_apart);
    tcase_add_test(tc, test_socket_error_refused);
    tcase_add_test(tc, test_socket_error_connected);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(conn_suite());
}
