/* The stats page (stats_listen): GET /metrics in the Prometheus text format,
 * GET / a short summary for people, served by the supervisor from its own
 * poll loop. The supervisor already wakes for signals and its workers'
 * control sockets; a scrape adds a few non-blocking sockets to the same
 * poll, so no process is added and no worker ever waits for a reader: the
 * workers only increment their counters (metrics.h), and the supervisor
 * sums them and reads each worker's /proc files when a page is asked for.
 *
 * Calls go one way: the supervisor calls this file; this file calls only
 * metrics, the text renderer (stats_text.c), acl, addr and log. */
#ifndef WARPD_STATS_H
#define WARPD_STATS_H

#include <poll.h>
#include <sys/types.h>

#include "config.h"

/* Poll entries the stats page may add to the supervisor's poll. */
#define STATS_POLL_MAX 17 /* the listener and up to 16 readers */

/* What the page knows of one worker process entry (metrics slot). */
struct stats_proc {
    pid_t pid; /* 0: no process in this entry now */
    int slot;  /* its listener slot */
    int gen;   /* its generation */
};

/* At start, before the first fork: maps the shared counters and, when
 * cfg->stats_listen is set, binds it. cfg must stay where it is (the
 * supervisor's current configuration: a reload changes it in place).
 * Returns 0, or -1 with a one-line message in err (the address cannot be
 * bound: warpd does not start). */
int stats_open(const struct config *cfg, char *err, size_t errlen);
/* A reload completed: counted; a changed stats_listen is bound anew (when it
 * cannot be, the old one stays, with a warning). */
void stats_reloaded(void);
/* A worker is respawned after an unexpected exit. */
void stats_restarted(void);
/* At the final stop: closes the listener and every reader. */
void stats_close(void);
/* The stats listener, -1 when off: a binary upgrade hands it to the new
 * supervisor, named in STATS_ENV_FD, which stats_open takes when it is
 * bound to the address configured. */
#define STATS_ENV_FD "WARPD_STATS_FD"
int stats_listen_fd(void);

/* The supervisor forked the process of entry idx (its pid, listener slot
 * and generation); it was reaped. */
void stats_proc_started(int idx, pid_t pid, int slot, int gen);
void stats_proc_ended(int idx);
/* In a freshly forked worker of entry idx: counts into its slot, and closes
 * the page's sockets, which are the supervisor's. */
void stats_child(int idx);

/* The supervisor's poll: fills up to STATS_POLL_MAX entries of pfd and
 * returns how many; caps a poll timeout (ms, -1 none) by the readers'
 * deadlines; handles what poll reported in the n entries it filled. */
int stats_poll_fill(struct pollfd *pfd);
int stats_poll_timeout(int ms);
void stats_poll_handle(const struct pollfd *pfd, int n);

#endif
