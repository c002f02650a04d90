/* The listener sets of the supervisor: the listening sockets of one
 * configuration, one per listen address and worker slot, opened at start and
 * at each reload, where a new set takes over the sockets of the old one for
 * the addresses and slots that did not change. */
#ifndef WARPD_LSET_H
#define WARPD_LSET_H

#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

/* One listen address with its per-slot sockets. */
struct lsock {
    struct sockaddr_storage addr; /* with the port actually bound */
    socklen_t len;
    char text[WD_ADDRSTRLEN];
    int fds[CFG_MAX_WORKERS]; /* -1 where not open */
};

/* The listeners of one configuration. Two sets may share descriptors during a
 * reload (same address, same slot). */
struct lset {
    struct lsock ls[CFG_MAX_LISTEN];
    int n;
    int nslots;
};

/* Builds the listener set for cfg, reusing the sockets of prev (may be NULL)
 * for addresses and slots that did not change, so their accept queues
 * survive. Returns 0, or -1 with the reason in err (nothing new left open). */
int lset_open(struct lset *s, const struct config *cfg, const struct lset *prev, char *err,
              size_t errlen);
/* Closes the descriptors of a that other (may be NULL) does not share. */
void lset_close(struct lset *a, const struct lset *other);
/* Takes any seal (listener_drain) off every socket of s; logs failures. */
void lset_unseal(const struct lset *s);
/* Whether fd is one of the descriptors of s. */
int lset_has_fd(const struct lset *s, int fd);
/* The bound addresses of s, separated by spaces, into b (len bytes). */
void lset_text(const struct lset *s, char *b, size_t len);

#endif
