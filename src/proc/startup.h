/* What the supervisor does around starting a configuration, besides its
 * sockets and workers: the open-file limit, the warnings a configuration
 * earns (at start and at each reload), the pidfile. */
#ifndef WARPD_STARTUP_H
#define WARPD_STARTUP_H

#include "config.h"

/* Takes the soft open-file limit up to the hard one. */
void startup_raise_nofile(void);
/* Logs what an operator should know about cfg: an open forward proxy, a
 * password file others can read, an open-file limit too low for
 * max_connections. */
void startup_warnings(const struct config *cfg);
/* Writes our pid to path ("" for none). Returns 0 or -1 (errno set). */
int startup_pidfile_write(const char *path);
/* Removes the pidfile only if it still names us. */
void startup_pidfile_remove(const char *path);

#endif
