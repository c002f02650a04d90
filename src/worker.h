/* A worker process: its own libev loop created after fork, accepting on its
 * own listener slot, running sessions, and stopping gracefully on SIGINT or
 * SIGTERM (or when the supervisor goes away). */
#ifndef WARPD_WORKER_H
#define WARPD_WORKER_H

#include "config.h"

/* Runs the worker until it stops; returns the process exit status.
 * fds: this slot's listening sockets, one per listen address (owned).
 * ctl_fd: the worker end of the supervisor pipe; a byte 'R' is written
 * there when ready, and EOF on it means the supervisor is gone. */
int worker_run(const struct config *cfg, int slot, const int *fds, int nfds, int ctl_fd);

#endif
