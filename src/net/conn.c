/* The transport layer: a non-blocking socket, its libev watcher, and
 * the one I/O contract (>0 bytes, 0 EOF, WD_AGAIN, WD_ERROR with errno). The
 * watchers call the owner's current handler, so a protocol can change phase by
 * swapping handlers without touching the socket. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h> /* splice */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_notsent_bytes (glibc's lacks it) */
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Readable and writable at once: the read handler runs now and the write
 * side is fed back to the loop, which runs it right after this callback
 * returns. The read handler may close the connection, move it, free what
 * holds it or stop wanting writes: each of these stops the watcher, which
 * drops the fed event, so the write handler never runs on a connection
 * that is gone (as with a watcher per direction, where stopping one cleared
 * its pending event). A dropped event is not lost: epoll is level-triggered,
 * so a socket still writable is reported again. */
static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;

    if (revents & EV_READ) {
        if (revents & EV_WRITE)
            ev_feed_event(loop, w, EV_WRITE);
        if (c->on_read != NULL)
            c->on_read(c);
    } else if ((revents & EV_WRITE) && c->on_write != NULL) {
        c->on_write(c);
    }
}

void
conn_init(struct conn *c, struct ev_loop *loop, int fd, void *data)
{
    c->fd = fd;
    c->loop = loop;
    c->on_read = NULL;
    c->on_write = NULL;
    c->data = data;
    c->wdata = NULL;
    c->eof_seen = 0;
    c->shut_wr = 0;
    ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
    c->io.data = c;
}

ssize_t
conn_read(struct conn *c, void *p, size_t len)
{
    ssize_t n;

    do {
        n = recv(c->fd, p, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n == 0) {
        c->eof_seen = 1;
        return 0;
    }
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? WD_AGAIN : WD_ERROR;
}

static ssize_t
conn_send_flags(struct conn *c, const void *p, size_t len, int flags)
{
    ssize_t n;

    do {
        n = send(c->fd, p, len, flags | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? WD_AGAIN : WD_ERROR;
}

ssize_t
conn_write(struct conn *c, const void *p, size_t len)
{
    return conn_send_flags(c, p, len, 0);
}

ssize_t
conn_send_segments(struct conn *c, const struct iovec *seg, int n)
{
    ssize_t total = 0, r;
    int i;

    /* One sendmsg per buffer, not one sendmmsg for all: on a stream socket
     * sendmmsg goes on to the next buffer after one taken in part, and the
     * next may find room (ACKs are processed as the socket is released),
     * which would leave a hole in the stream. */
    for (i = 0; i < n; i++) {
        struct msghdr mh = {.msg_iov = (struct iovec *)(uintptr_t)&seg[i], .msg_iovlen = 1};

        do {
            r = sendmsg(c->fd, &mh, MSG_EOR | MSG_NOSIGNAL);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return WD_ERROR;
            return total > 0 ? total : WD_AGAIN;
        }
        total += r;
        if ((size_t)r < seg[i].iov_len)
            break;
    }
    return total;
}

/* splice(2) has no MSG_NOSIGNAL: writing into a socket the peer closed
 * raises SIGPIPE, which warpd ignores process-wide (supervisor_run), so
 * the caller sees EPIPE like with send(). */
static ssize_t
conn_splice(int from, int to, size_t len)
{
    ssize_t n;

    do {
        n = splice(from, NULL, to, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? WD_AGAIN : WD_ERROR;
}

ssize_t
conn_peek(struct conn *c, void *p, size_t len)
{
    ssize_t n;

    do {
        n = recv(c->fd, p, len, MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? WD_AGAIN : WD_ERROR;
}

int
conn_local_addr(struct conn *c, struct sockaddr_storage *ss, socklen_t *len)
{
    *len = sizeof(*ss);
    return getsockname(c->fd, (struct sockaddr *)ss, len) == 0 ? WD_OK : WD_ERROR;
}

int
conn_original_dst(struct conn *c, struct sockaddr_storage *ss, socklen_t *len)
{
    /* netfilter's constants (linux/netfilter_ipv4.h, ip6_tables.h): both 80. */
    const int so_original_dst = 80;

    *len = sizeof(struct sockaddr_in);
    if (getsockopt(c->fd, SOL_IP, so_original_dst, ss, len) == 0)
        return WD_OK;
    *len = sizeof(struct sockaddr_in6);
    if (getsockopt(c->fd, SOL_IPV6, so_original_dst, ss, len) == 0)
        return WD_OK;
    /* Not redirected by NAT: TPROXY (or nothing), where the socket's own
     * address is where the client was going. */
    return conn_local_addr(c, ss, len);
}

ssize_t
conn_splice_in(struct conn *c, int pipe_wr, size_t len)
{
    ssize_t n = conn_splice(c->fd, pipe_wr, len);

    if (n == 0)
        c->eof_seen = 1;
    return n;
}

ssize_t
conn_splice_out(struct conn *c, int pipe_rd, size_t len)
{
    return conn_splice(pipe_rd, c->fd, len);
}

ssize_t
conn_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh = {0};
    ssize_t n;

    mh.msg_iov = (struct iovec *)iov;
    mh.msg_iovlen = (size_t)iovcnt;
    do {
        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? WD_AGAIN : WD_ERROR;
}

/* Restarts the watcher for the new set of directions. A stopped watcher
 * may be changed; the loop only asks the kernel again when the set it
 * registered for the descriptor differs. */
static void
conn_want(struct conn *c, int dir, int on)
{
    int was = conn_watched(c), want = on ? was | dir : was & ~dir;

    if (c->fd < 0 || want == was)
        return;
    if (was != 0)
        ev_io_stop(c->loop, &c->io);
    if (want != 0) {
        ev_io_modify(&c->io, want);
        ev_io_start(c->loop, &c->io);
    }
}

void
conn_want_read(struct conn *c, int on)
{
    conn_want(c, EV_READ, on);
}

void
conn_want_write(struct conn *c, int on)
{
    conn_want(c, EV_WRITE, on);
}

int
conn_shutdown_write(struct conn *c)
{
    if (c->shut_wr)
        return 0;
    c->shut_wr = 1;
    if (shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN)
        return WD_ERROR;
    return 0;
}

void
conn_move(struct conn *dst, struct conn *src, void *data)
{
    conn_want_read(src, 0);
    conn_want_write(src, 0);
    /* A stopped watcher holds no pointer the loop knows: copying is safe. */
    *dst = *src;
    dst->io.data = dst;
    dst->data = data;
    dst->on_read = NULL;
    dst->on_write = NULL;
    dst->wdata = NULL;
    src->fd = -1;
}

void
conn_close(struct conn *c)
{
    if (c->fd < 0)
        return;
    ev_io_stop(c->loop, &c->io);
    close(c->fd);
    c->fd = -1;
}

/* The option that holds the TTL of the socket's packets. A v4-mapped peer
 * of an IPv6 socket is reached with IPv4 packets, whose TTL is IP_TTL
 * (Linux passes SOL_IP options of an IPv6 TCP socket to the IPv4 code). */
static int
conn_ttl_opt(struct conn *c, int *level, int *name)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (c->fd < 0) {
        errno = EBADF;
        return WD_ERROR;
    }
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
        return WD_ERROR;
    if (ss.ss_family == AF_INET6 &&
        !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
        *level = IPPROTO_IPV6;
        *name = IPV6_UNICAST_HOPS;
    } else {
        *level = IPPROTO_IP;
        *name = IP_TTL;
    }
    return WD_OK;
}

int
conn_ttl(struct conn *c)
{
    int level, name, ttl = 0;
    socklen_t len = sizeof(ttl);

    if (conn_ttl_opt(c, &level, &name) < 0 || getsockopt(c->fd, level, name, &ttl, &len) < 0)
        return WD_ERROR;
    return ttl;
}

int
conn_set_ttl(struct conn *c, int ttl)
{
    int level, name;

    if (conn_ttl_opt(c, &level, &name) < 0 || setsockopt(c->fd, level, name, &ttl, sizeof(ttl)) < 0)
        return WD_ERROR;
    return WD_OK;
}

ssize_t
conn_send_oob(struct conn *c, const void *p, size_t len)
{
    ssize_t n;

    /* The kernel makes the last byte a call took urgent, so only the call
     * carrying the true last byte has MSG_OOB. */
    if (len > 1) {
        n = conn_send_flags(c, p, len - 1, MSG_MORE);
        if (n < (ssize_t)len - 1)
            return n;
    }
    n = conn_send_flags(c, (const char *)p + len - 1, 1, MSG_OOB | MSG_EOR);
    if (n == 1)
        return (ssize_t)len;
    if (len > 1 && n == WD_AGAIN)
        return (ssize_t)len - 1;
    return n;
}

int
conn_socket_error(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

long
conn_unsent(struct conn *c)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    memset(&ti, 0, sizeof(ti));
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
        len < offsetof(struct tcp_info, tcpi_notsent_bytes) + sizeof(ti.tcpi_notsent_bytes))
        return -1;
    return (long)ti.tcpi_notsent_bytes;
}
