/* Listening sockets. The supervisor opens one SO_REUSEPORT socket per worker
 * slot per listen address and keeps them across worker restarts; a worker
 * accepts only on its own slot's sockets, in bounded batches, and backs off
 * from a timer when out of file descriptors. */
#ifndef WARPD_LISTENER_H
#define WARPD_LISTENER_H

#include <ev.h>
#include <sys/socket.h>

#include "config.h"

/* Checks that nothing else listens on the address (a plain bind without
 * SO_REUSEPORT, closed at once), so that warpd never silently joins another
 * server's port group. Returns 0, or -1 with errno set. */
int listener_probe(const struct sockaddr *sa, socklen_t len);
/* Opens one SO_REUSEPORT listening socket. When sa has port 0, the port the
 * kernel chose is written back into sa. Returns the fd, or -1 with errno set. */
int listener_open(struct sockaddr *sa, socklen_t len, int backlog);

/* Marks a listening socket IP_TRANSPARENT (IPV6_TRANSPARENT), so that
 * TPROXY can hand it connections for addresses that are not the machine's
 * own (transparent mode). Needs CAP_NET_ADMIN. Returns 0, or -1 with errno. */
int listener_transparent(int fd, int family);

/* Worker side: accepts from a set of listening fds. */
struct listener;
typedef void (*listener_accept_cb)(void *arg, int fd, const struct sockaddr *peer,
                                   socklen_t peerlen, int lfd_index);
/* Creates watchers on fds (not owned until listener_close). Returns NULL on
 * out-of-memory. */
struct listener *listener_new(struct ev_loop *loop, const int *fds, int nfds, listener_accept_cb cb,
                              void *arg);
/* Pauses or resumes accepting (connection limit, shutdown). */
void listener_pause(struct listener *l, int paused);
/* The last stop of a listener that nobody else holds (warpd stops, no new
 * generation takes over): seals its sockets so the kernel queues nothing
 * more, then accepts what is already queued (at most a few thousand), so
 * that closing resets no connection whose client may have sent a request.
 * Returns the number taken. */
int listener_drain(struct listener *l);
/* Takes the seal of listener_drain off fd again (a no-op on a socket never
 * sealed): after a failed binary upgrade, whose workers may have sealed the
 * sockets they shared with us. Returns 0, or -1 with errno. */
int listener_unseal(int fd);
/* Stops watchers, closes the fds and frees. */
void listener_close(struct listener *l);
/* Stops watchers and frees, leaving the fds open (the caller keeps them). */
void listener_forget(struct listener *l);

#endif
