/* Binary upgrade (SIGUSR2), as nginx does it: the supervisor forks and execs
 * its own binary again, from the path it was started from, with the same
 * arguments and its listening sockets inherited; the new supervisor reports
 * ready over a pipe and the old one then stops gracefully. Both sides are
 * here: the old one starting and watching the new binary, the new one
 * adopting the sockets and reporting. Two environment variables carry it:
 *     WARPD_LISTEN_FDS=ADDR=FD,FD,...;ADDR=FD,...   one group per address,
 *                                                   the fds in slot order
 *     WARPD_UPGRADE_FD=FD                           write "R" here when ready
 * ADDR is only for people reading it: the new supervisor asks each socket
 * for its address (getsockname). */
#ifndef WARPD_UPGRADE_H
#define WARPD_UPGRADE_H

#include <sys/types.h>

#include "config.h"
#include "lset.h"

#define UPGRADE_READY_TIMEOUT 30.0 /* seconds the new binary has to report ready */
#define UPGRADE_KILL_AFTER    15.0 /* then, after SIGTERM, before SIGKILL */

/* In main, before the command line is parsed (getopt permutes argv): keeps
 * a copy of argv and the absolute path of the running binary, read from
 * /proc/self/exe now (later it may name a replaced file). */
void upgrade_init(int argc, char **argv);

/* Whether another supervisor accepts from our listening sockets: we are the
 * new one and did not report ready yet, or the old one that handed over. A
 * stop then must not seal the sockets, and is no stop of the service. */
int upgrade_shares_listeners(void);

/* ---- the old supervisor -------------------------------------------------- */

/* Whether a new binary was started and has not been reaped yet. */
int upgrade_busy(void);
/* Whether it was started and has not reported ready (nor failed) yet. */
int upgrade_waiting(void);
/* Its pid, or 0. */
pid_t upgrade_pid(void);
/* Saves the auto-shaping table to shape_auto_file (the new binary loads it)
 * and starts the new binary with set's sockets and cfg's arguments; refused
 * while a new binary from an earlier upgrade still runs. Logs what went
 * wrong; returns 0 or -1 (nothing left running). set must stay the live
 * listener set: it is unsealed again if the upgrade fails. */
int upgrade_start(const struct lset *set, const struct config *cfg, double now);
/* The read end of the ready pipe while one is open, or -1: poll it. */
int upgrade_fd(void);
/* Reads the ready pipe: 1 when the new supervisor reported ready (then
 * systemd was told its pid; the caller stops gracefully), 0 otherwise (EOF
 * only closes the pipe: the exit or the timeout tells the failure). */
int upgrade_read(void);
/* The new binary exited (the caller's waitpid found upgrade_pid()). Logs it;
 * when it had not reported ready, the upgrade failed: says so and undoes
 * what its workers may have done to the shared sockets. */
void upgrade_reaped(int wstatus);
/* Time-outs at now: not ready in time (the upgrade fails, SIGTERM), still
 * not gone UPGRADE_KILL_AFTER later (SIGKILL). */
void upgrade_timeout(double now);
/* The next time upgrade_timeout has something to do, or -1. */
double upgrade_deadline(void);
/* We stop before the new binary reported ready: SIGTERM it, log it. */
void upgrade_cancel(const char *why);

/* ---- the new supervisor -------------------------------------------------- */

/* lset_open(cur, cfg) at start: takes over the sockets named in the
 * environment, if any (by slot; their addresses read from the sockets),
 * for the addresses cfg still has, and closes the others; removes the
 * variables. Returns 0, or -1 with err (a malformed variable, a descriptor
 * that is not a listening socket, or what lset_open says). */
int upgrade_lset_open(struct lset *cur, const struct config *cfg, char *err, size_t errlen);
/* Whether we started on inherited sockets and have not reported ready yet. */
int upgrade_inherited(void);
/* Tells the old supervisor that every worker is ready. */
void upgrade_report_ready(void);
/* In a freshly forked worker: closes the upgrade pipes it inherited. */
void upgrade_close_in_child(void);

#endif
