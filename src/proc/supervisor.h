/* The supervisor process: owns the configuration and the listening sockets,
 * forks and respawns workers, and handles signals and reloads. It never
 * proxies anything itself. */
#ifndef WARPD_SUPERVISOR_H
#define WARPD_SUPERVISOR_H

#include "config.h"

/* Runs until stopped; returns the process exit status (0, 1 or 2). cli is
 * kept to rebuild the configuration on SIGHUP. */
int supervisor_run(const struct config *cfg, const struct cli_opts *cli);

#endif
