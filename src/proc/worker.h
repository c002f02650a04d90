/* A worker process: its own libev loop created after fork, accepting on its
 * own listener slot, running sessions, and stopping gracefully on SIGINT or
 * SIGTERM (or when the supervisor goes away). */
#ifndef WARPD_WORKER_H
#define WARPD_WORKER_H

#include "config.h"

/* The listening sockets of one generation, by slot and listen address. A
 * worker accepts on its own slot's; and on another slot's while the
 * supervisor asks it to, because that slot's worker is down (its queue would
 * otherwise wait for the respawn). */
struct worker_socks {
    int nslots, nlisten;
    int fd[CFG_MAX_WORKERS][CFG_MAX_LISTEN]; /* -1 where not open */
};

/* Runs the worker until it stops; returns the process exit status.
 * socks: every slot's listening sockets (all owned from now on).
 * ctl_fd: the worker end of the supervisor's control socket. Up, the worker
 * writes 'R' when ready and 'S' once it stopped accepting. Down, it reads
 * 'F' (the coming SIGTERM is a final stop), 'A' n (also accept on slot n)
 * and 'D' n (no longer). EOF means the supervisor is gone. */
int worker_run(const struct config *cfg, int slot, struct worker_socks *socks, int ctl_fd);

#endif
