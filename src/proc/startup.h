/* What the supervisor does around starting a configuration, besides its
 * sockets and workers: the open-file limit, the warnings a configuration
 * earns (at start and at each reload), the pidfile, and the table shape auto
 * shares between workers (made before the first fork, loaded from and saved
 * to shape_auto_file). */
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
/* Makes the shared auto-shaping table (shape_auto_cache entries; none when
 * 0) and loads shape_auto_file into it. Call before the first fork. Trouble
 * is logged, never fatal: auto shaping then remembers less or nothing. */
void startup_auto_cache_open(const struct config *cfg);
/* At a reload from old to cfg: the table stays (a new size waits for a
 * restart); a new shape_auto_file is loaded into it. */
void startup_auto_cache_reload(const struct config *old, const struct config *cfg);
/* Saves the table to shape_auto_file now, keeping it (before a binary
 * upgrade: the new binary loads the file). */
void startup_auto_cache_save(const struct config *cfg);
/* At the final stop, once no worker is left: saves the table to
 * shape_auto_file and unmaps it. */
void startup_auto_cache_close(const struct config *cfg);

#endif
