/* Unit tests for src/net/relay.c over socketpairs: byte-exact transfer both ways
 * at once, backpressure (the source is paused while the sink does not read,
 * and buffers stay bounded), half-close, write errors, pre-buffered bytes. The
 * test drives its own two endpoints between non-blocking loop iterations. */
#include <check.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "relay.h"
#include "tutil.h"

#define MAX_ITERS 200000

struct fixture {
    struct ev_loop *loop;
    int client;   /* test's end towards relay side a */
    int upstream; /* test's end towards relay side b */
    struct conn a, b;
    struct relay r;
    int done;
    char reason[160];
};

static void
on_done(struct relay *r, const char *reason)
{
    struct fixture *f = r->data;
    f->done++;
    snprintf(f->reason, sizeof(f->reason), "%s", reason != NULL ? reason : "");
}

static void
fixture_setup(struct fixture *f)
{
    int p1[2], p2[2];

    memset(f, 0, sizeof(*f));
    f->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(f->loop);
    tu_unix_pair(p1);
    tu_unix_pair(p2);
    f->client = p1[0];
    f->upstream = p2[0];
    conn_init(&f->a, f->loop, p1[1], NULL);
    conn_init(&f->b, f->loop, p2[1], NULL);
}

/* Loop tests run twice: _i 0 with user-space buffers, _i 1 with splice. */
static int use_splice;

static void
fixture_start(struct fixture *f, struct buf *pre_ab, struct buf *pre_ba)
{
    relay_start(&f->r, &f->a, &f->b, pre_ab, pre_ba, "client", "upstream", on_done, f);
    if (use_splice)
        ck_assert_int_eq(relay_use_splice(&f->r), 0);
}

/* Bytes of direction d read from its source and not yet written. */
static size_t
pending(const struct relay_dir *d)
{
    return (d->b != NULL ? buf_len(d->b) : 0) + d->piped;
}

static void
fixture_teardown(struct fixture *f)
{
    relay_stop(&f->r);
    conn_close(&f->a);
    conn_close(&f->b);
    if (f->client >= 0)
        close(f->client);
    if (f->upstream >= 0)
        close(f->upstream);
    ev_loop_destroy(f->loop);
    buf_pool_clear();
}

/* Deterministic stream content: byte i of stream `seed`. */
static unsigned char
pattern(uint64_t i, unsigned seed)
{
    return (unsigned char)((i * 2654435761u) >> 13 ^ seed ^ (i >> 8));
}

struct stream {
    uint64_t sent, recvd, total;
    int bad; /* a received byte differed */
};

static void
stream_send(int fd, struct stream *s, unsigned seed)
{
    unsigned char b[8192];

    while (s->sent < s->total) {
        size_t n = s->total - s->sent < sizeof(b) ? (size_t)(s->total - s->sent) : sizeof(b);
        ssize_t w;
        for (size_t i = 0; i < n; i++)
            b[i] = pattern(s->sent + i, seed);
        w = write(fd, b, n);
        if (w <= 0)
            return;
        s->sent += (uint64_t)w;
    }
}

/* Returns 1 on EOF. */
static int
stream_recv(int fd, struct stream *s, unsigned seed)
{
    unsigned char b[8192];

    for (;;) {
        ssize_t n = read(fd, b, sizeof(b));
        if (n == 0)
            return 1;
        if (n < 0)
            return 0;
        for (ssize_t i = 0; i < n; i++)
            if (b[i] != pattern(s->recvd + (uint64_t)i, seed))
                s->bad = 1;
        s->recvd += (uint64_t)n;
    }
}

START_TEST(test_both_ways_byte_exact)
{
    struct fixture f;
    struct stream up = {0, 0, 4u << 20, 0}, down = {0, 0, 3u << 20, 0};
    int shut_c = 0, shut_u = 0, eof_c = 0, eof_u = 0, i;

    use_splice = _i;
    signal(SIGPIPE, SIG_IGN); /* as warpd does: splice(2) has no MSG_NOSIGNAL */

    fixture_setup(&f);
    fixture_start(&f, NULL, NULL);
    for (i = 0; i < MAX_ITERS && !f.done; i++) {
        stream_send(f.client, &up, 1);
        stream_send(f.upstream, &down, 2);
        if (up.sent == up.total && !shut_c)
            shut_c = !shutdown(f.client, SHUT_WR);
        if (down.sent == down.total && !shut_u)
            shut_u = !shutdown(f.upstream, SHUT_WR);
        eof_u |= stream_recv(f.upstream, &up, 1);
        eof_c |= stream_recv(f.client, &down, 2);
        ev_run(f.loop, EVRUN_NOWAIT);
    }
    eof_u |= stream_recv(f.upstream, &up, 1);
    eof_c |= stream_recv(f.client, &down, 2);
    ck_assert_int_eq(f.done, 1);
    ck_assert_str_eq(f.reason, "");
    ck_assert_uint_eq(up.recvd, up.total);
    ck_assert_uint_eq(down.recvd, down.total);
    ck_assert_int_eq(up.bad, 0);
    ck_assert_int_eq(down.bad, 0);
    ck_assert(eof_c && eof_u); /* each EOF was passed on as a shutdown */
    ck_assert_uint_eq(f.r.dir[0].bytes, up.total);
    ck_assert_uint_eq(f.r.dir[1].bytes, down.total);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    fixture_teardown(&f);
}
END_TEST

START_TEST(test_backpressure_pauses_source)
{
    struct fixture f;
    struct stream up = {0, 0, 8u << 20, 0};
    int i, eof = 0;
    uint64_t sent_before;

    use_splice = _i;
    signal(SIGPIPE, SIG_IGN); /* as warpd does: splice(2) has no MSG_NOSIGNAL */

    fixture_setup(&f);
    fixture_start(&f, NULL, NULL);
    /* The upstream end reads nothing: the relay must stop reading the client
     * once the upstream socket is full and one buffer is pending. */
    for (i = 0; i < 2000; i++) {
        stream_send(f.client, &up, 3);
        ev_run(f.loop, EVRUN_NOWAIT);
    }
    ck_assert_int_eq(f.done, 0);
    ck_assert(!(conn_watched(&f.a) & EV_READ)); /* the source is not read */
    if (use_splice) {
        ck_assert_uint_gt(f.r.dir[0].piped, 0); /* the pipe holds the backlog */
        /* One chunk at most: the default's, or the bulk pipe's once grown. */
        ck_assert_uint_le(f.r.dir[0].piped, f.r.dir[0].chunk);
        ck_assert_uint_le(f.r.dir[0].chunk, RELAY_PIPE_BULK);
        ck_assert_uint_eq(buf_pool_used_count(), 0);
    } else {
        ck_assert(f.r.dir[0].paused);
        ck_assert_uint_le(buf_pool_used_count(), 1);
    }
    ck_assert_uint_lt(up.sent, up.total); /* the client got blocked too */
    sent_before = up.sent;
    /* Drain: everything flows again, byte-exact. */
    for (i = 0; i < MAX_ITERS && up.recvd < up.total; i++) {
        stream_send(f.client, &up, 3);
        stream_recv(f.upstream, &up, 3);
        ev_run(f.loop, EVRUN_NOWAIT);
    }
    ck_assert_uint_gt(up.sent, sent_before);
    ck_assert_uint_eq(up.recvd, up.total);
    ck_assert_int_eq(up.bad, 0);
    shutdown(f.client, SHUT_WR);
    for (i = 0; i < 1000 && !eof; i++) {
        ev_run(f.loop, EVRUN_NOWAIT);
        eof = stream_recv(f.upstream, &up, 3);
    }
    ck_assert(eof);
    fixture_teardown(&f);
}
END_TEST

/* Runs the loop and reads fd into b until EOF, for at most 1000 rounds;
 * returns the bytes read, *eof whether the EOF came. */
static ssize_t
read_to_eof(struct fixture *f, int fd, char *b, size_t size, int *eof)
{
    ssize_t n = 0;
    int i;

    *eof = 0;
    for (i = 0; i < 1000 && !*eof; i++) {
        ssize_t r;
        ev_run(f->loop, EVRUN_NOWAIT);
        r = read(fd, b + n, size - (size_t)n);
        if (r > 0)
            n += r;
        else if (r == 0)
            *eof = 1;
    }
    return n;
}

START_TEST(test_half_close_keeps_other_direction)
{
    struct fixture f;
    char b[64];
    ssize_t n;
    int i, got_eof;

    use_splice = _i;
    signal(SIGPIPE, SIG_IGN); /* as warpd does: splice(2) has no MSG_NOSIGNAL */

    fixture_setup(&f);
    fixture_start(&f, NULL, NULL);
    ck_assert_int_eq(write(f.client, "ping", 4), 4);
    ck_assert_int_eq(shutdown(f.client, SHUT_WR), 0);
    /* The upstream sees the request and then EOF. */
    n = read_to_eof(&f, f.upstream, b, sizeof(b), &got_eof);
    ck_assert(got_eof);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(memcmp(b, "ping", 4), 0);
    ck_assert_int_eq(f.done, 0);      /* the other direction is still open */
    ck_assert_ptr_null(f.r.dir[0].b); /* a finished direction holds no buffer */
    /* Only now does the upstream answer. */
    ck_assert_int_eq(write(f.upstream, "pong", 4), 4);
    close(f.upstream);
    f.upstream = -1;
    n = read_to_eof(&f, f.client, b, sizeof(b), &got_eof);
    ck_assert(got_eof);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(memcmp(b, "pong", 4), 0);
    for (i = 0; i < 100 && !f.done; i++)
        ev_run(f.loop, EVRUN_NOWAIT);
    ck_assert_int_eq(f.done, 1);
    ck_assert_str_eq(f.reason, "");
    fixture_teardown(&f);
}
END_TEST

START_TEST(test_write_error_reports_side)
{
    struct fixture f;
    static char big[65536];
    int i;

    use_splice = _i;
    signal(SIGPIPE, SIG_IGN); /* as warpd does: splice(2) has no MSG_NOSIGNAL */

    fixture_setup(&f);
    fixture_start(&f, NULL, NULL);
    close(f.upstream); /* the upstream is gone entirely */
    f.upstream = -1;
    for (i = 0; i < 1000 && !f.done; i++) {
        if (write(f.client, big, sizeof(big)) < 0 && errno != EAGAIN)
            break;
        ev_run(f.loop, EVRUN_NOWAIT);
    }
    ck_assert_int_eq(f.done, 1);
    ck_assert_msg(strstr(f.reason, "upstream") != NULL, "reason: %s", f.reason);
    ck_assert_uint_eq(buf_pool_used_count(), 0);
    ck_assert(!(conn_watched(&f.a) & EV_READ) && !(conn_watched(&f.b) & EV_READ));
    fixture_teardown(&f);
}
END_TEST

START_TEST(test_prebuffered_bytes_go_first)
{
    struct fixture f;
    struct buf *pre = buf_get();
    char b[64];
    ssize_t n = 0;
    int i;

    use_splice = _i;
    signal(SIGPIPE, SIG_IGN); /* as warpd does: splice(2) has no MSG_NOSIGNAL */

    fixture_setup(&f);
    memcpy(pre->data, "HEAD", 4);
    pre->end = 4;
    ck_assert_int_eq(write(f.client, "TAIL", 4), 4);
    fixture_start(&f, pre, NULL);
    for (i = 0; i < 1000 && n < 8; i++) {
        ssize_t r;
        ev_run(f.loop, EVRUN_NOWAIT);
        r = read(f.upstream, b + n, sizeof(b) - (size_t)n);
        if (r > 0)
            n += r;
    }
    ck_assert_int_eq(n, 8);
    ck_assert_int_eq(memcmp(b, "HEADTAIL", 8), 0);
    fixture_teardown(&f);
}
END_TEST

/* Reads at most max bytes; returns 1 on EOF. */
static int
stream_recv_some(int fd, struct stream *s, unsigned seed, size_t max)
{
    unsigned char b[4096];
    ssize_t n = read(fd, b, max < sizeof(b) ? max : sizeof(b));

    if (n == 0)
        return 1;
    for (ssize_t i = 0; i < n; i++)
        if (b[i] != pattern(s->recvd + (uint64_t)i, seed))
            s->bad = 1;
    if (n > 0)
        s->recvd += (uint64_t)n;
    return 0;
}

START_TEST(test_eof_waits_for_pending_bytes)
{
    struct fixture f;
    struct stream up = {0, 0, 1u << 20, 0};
    int i, eof = 0, saw_pending_eof = 0, small = 4096;

    use_splice = _i;
    signal(SIGPIPE, SIG_IGN); /* as warpd does: splice(2) has no MSG_NOSIGNAL */

    fixture_setup(&f);
    /* A small sink so that it is full most of the time. */
    ck_assert_int_eq(setsockopt(f.b.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    fixture_start(&f, NULL, NULL);
    /* The client sends everything and shuts down while the upstream drains
     * slowly: the relay sees EOF with bytes still buffered. */
    for (i = 0; i < 100000 && !(f.r.dir[0].eof && pending(&f.r.dir[0]) > 0); i++) {
        stream_send(f.client, &up, 4);
        if (up.sent == up.total)
            shutdown(f.client, SHUT_WR);
        ev_run(f.loop, EVRUN_NOWAIT);
        stream_recv_some(f.upstream, &up, 4, 512); /* drain slowly: the sink stays full */
    }
    saw_pending_eof = f.r.dir[0].eof && pending(&f.r.dir[0]) > 0;
    if (use_splice) {
        /* The source is read only when the pipe is empty, so EOF never
         * meets pending bytes; what is left is the byte-exact end below. */
        ck_assert(!saw_pending_eof);
    } else {
        ck_assert_msg(saw_pending_eof, "did not reach EOF with pending bytes");
        /* The write side must not be shut before those bytes are out. */
        ck_assert(!f.b.shut_wr);
        ck_assert(!f.r.dir[0].done);
    }
    for (i = 0; i < MAX_ITERS && !eof; i++) {
        ev_run(f.loop, EVRUN_NOWAIT);
        eof = stream_recv(f.upstream, &up, 4);
    }
    ck_assert(eof);
    ck_assert_uint_eq(up.recvd, up.total);
    ck_assert_int_eq(up.bad, 0);
    ck_assert(f.b.shut_wr);
    fixture_teardown(&f);
}
END_TEST

/* Splice mode: a direction that has moved RELAY_BULK_AFTER bytes gets the
 * bigger pipe; one that moved a few bytes keeps the default. */
START_TEST(test_bulk_grows_the_pipe)
{
    struct fixture f;
    struct stream up = {0, 0, 1u << 20, 0}, down = {0, 0, 1000, 0};
    int i;

    use_splice = 1;
    signal(SIGPIPE, SIG_IGN);
    fixture_setup(&f);
    fixture_start(&f, NULL, NULL);
    ck_assert_int_eq(fcntl(f.r.dir[0].pipe[1], F_GETPIPE_SZ), RELAY_PIPE_CHUNK);
    for (i = 0; i < MAX_ITERS && (up.recvd < up.total || down.recvd < down.total); i++) {
        stream_send(f.client, &up, 1);
        stream_send(f.upstream, &down, 2);
        stream_recv(f.upstream, &up, 1);
        stream_recv(f.client, &down, 2);
        ev_run(f.loop, EVRUN_NOWAIT);
    }
    ck_assert_uint_eq(up.recvd, up.total);
    ck_assert_uint_eq(down.recvd, down.total);
    ck_assert_int_eq(up.bad, 0);
    ck_assert_int_eq(down.bad, 0);
    ck_assert_uint_eq(f.r.dir[0].grown, 1);
    ck_assert_uint_eq(f.r.dir[0].chunk, RELAY_PIPE_BULK);
    ck_assert_int_eq(fcntl(f.r.dir[0].pipe[1], F_GETPIPE_SZ), RELAY_PIPE_BULK);
    ck_assert_uint_eq(f.r.dir[1].grown, 0);
    ck_assert_uint_eq(f.r.dir[1].chunk, RELAY_PIPE_CHUNK);
    ck_assert_int_eq(fcntl(f.r.dir[1].pipe[1], F_GETPIPE_SZ), RELAY_PIPE_CHUNK);
    fixture_teardown(&f);
}
END_TEST

static Suite *
relay_suite(void)
{
    Suite *s = suite_create("relay");
    TCase *tc = tcase_create("socketpair");

    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_both_ways_byte_exact, 0, 2);
    tcase_add_loop_test(tc, test_backpressure_pauses_source, 0, 2);
    tcase_add_loop_test(tc, test_half_close_keeps_other_direction, 0, 2);
    tcase_add_loop_test(tc, test_eof_waits_for_pending_bytes, 0, 2);
    tcase_add_loop_test(tc, test_write_error_reports_side, 0, 2);
    tcase_add_loop_test(tc, test_prebuffered_bytes_go_first, 0, 2);
    tcase_add_test(tc, test_bulk_grows_the_pipe);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(relay_suite());
}
