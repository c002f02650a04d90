/* One non-blocking socket with its readiness watcher: the transport
 * layer. Everything above it (relay, protocols) calls conn_* and never sees the
 * file descriptor's system calls. Returns follow the WD_* contract. */
#ifndef WARPD_CONN_H
#define WARPD_CONN_H

#include <ev.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common.h"

struct conn;
typedef void (*conn_handler)(struct conn *c);

struct conn {
    int fd;                /* -1 once closed */
    unsigned eof_seen : 1; /* a read returned 0 */
    unsigned shut_wr : 1;  /* shutdown(SHUT_WR) done */
    struct ev_loop *loop;  /* the worker's loop */
    /* One watcher for both directions (an idle connection is smaller by a
     * whole watcher): it calls on_read, on_write or both. */
    ev_io io;
    conn_handler on_read; /* set by the owner of the current phase */
    conn_handler on_write;
    void *data;  /* owner (a session, a relay...) */
    void *wdata; /* the write side's owner while it is not data (a shaper running) */
};

/* Takes ownership of a non-blocking fd. Watchers start stopped. */
void conn_init(struct conn *c, struct ev_loop *loop, int fd, void *data);
ssize_t conn_read(struct conn *c, void *p, size_t len);
/* Looks at up to len bytes without taking them (MSG_PEEK), for an intake
 * told apart by its first bytes; the same contract (0: EOF). */
ssize_t conn_peek(struct conn *c, void *p, size_t len);
/* Where a client redirected to warpd by NAT (nftables/iptables redirect)
 * was going (SO_ORIGINAL_DST, IPv4 or IPv6); without NAT, the socket's own
 * address (TPROXY). WD_OK or WD_ERROR. */
int conn_original_dst(struct conn *c, struct sockaddr_storage *ss, socklen_t *len);
/* The socket's own address (getsockname): WD_OK or WD_ERROR. */
int conn_local_addr(struct conn *c, struct sockaddr_storage *ss, socklen_t *len);
ssize_t conn_write(struct conn *c, const void *p, size_t len);
ssize_t conn_writev(struct conn *c, const struct iovec *iov, int iovcnt);
/* Sends n buffers back to back, each marked MSG_EOR: the kernel never
 * appends later bytes to a buffer marked so, so each leaves in TCP segments
 * of its own even when it has to wait in the socket (Linux 4.7 and later).
 * Returns the bytes taken, which stop at the first buffer the socket did not
 * take whole, WD_AGAIN when none, or WD_ERROR (errno). */
ssize_t conn_send_segments(struct conn *c, const struct iovec *seg, int n);
/* Starts or stops the watchers; cheap when already in that state. */
void conn_want_read(struct conn *c, int on);
void conn_want_write(struct conn *c, int on);
/* What the watcher is started for: EV_READ, EV_WRITE, both, or 0. */
static inline int
conn_watched(const struct conn *c)
{
    return ev_is_active(&c->io) ? c->io.events & (EV_READ | EV_WRITE) : 0;
}
/* Zero-copy moves between the socket and a pipe (splice(2)), with the same
 * return contract: from the socket into pipe_wr (0 at EOF), and from
 * pipe_rd out to the socket. */
ssize_t conn_splice_in(struct conn *c, int pipe_wr, size_t len);
ssize_t conn_splice_out(struct conn *c, int pipe_rd, size_t len);
/* shutdown(SHUT_WR); returns 0 or WD_ERROR. */
int conn_shutdown_write(struct conn *c);
/* Hands an open connection from src to dst: the descriptor and its stopped
 * watchers move, so the loop's registration of the fd is kept (no
 * re-adding to epoll when the watchers start again). src is left closed
 * (fd -1) without closing anything. Handlers are cleared; data is set. */
void conn_move(struct conn *dst, struct conn *src, void *data);
/* Stops the watchers and closes the fd; safe to call twice. */
void conn_close(struct conn *c);
/* Bytes written to the socket that the kernel has not sent yet (TCP_INFO
 * tcpi_notsent_bytes), or -1 when the kernel cannot tell. */
long conn_unsent(struct conn *c);
/* The IP TTL (IPv6 hop limit) the socket's packets leave with: IP_TTL for
 * IPv4 and for an IPv6 socket talking to a v4-mapped peer (its packets are
 * IPv4), IPV6_UNICAST_HOPS otherwise. The kernel reads it as each packet is
 * built, retransmissions included. Returns the value (1-255) or WD_ERROR. */
int conn_ttl(struct conn *c);
/* Sets that TTL (1-255) for the socket's next packets: WD_OK or WD_ERROR. */
int conn_set_ttl(struct conn *c, int ttl);
/* Sends p[0..len) (len >= 1) as one segment whose last byte is urgent
 * (MSG_OOB): a receiver without SO_OOBINLINE takes that byte out of the
 * stream. The bytes before it go first with MSG_MORE, so that a socket with
 * little room can never make an earlier byte the urgent one; the last goes
 * with MSG_OOB | MSG_EOR. The conn_write contract: after a partial return,
 * call again with the rest. */
ssize_t conn_send_oob(struct conn *c, const void *p, size_t len);
/* The pending socket error (SO_ERROR), for a finished non-blocking connect. */
int conn_socket_error(struct conn *c);

#endif
