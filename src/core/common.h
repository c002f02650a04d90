/* Definitions every warpd module shares: the one I/O return contract and a few
 * small helpers. Kept tiny on purpose; anything with behaviour lives in a module. */
#ifndef WARPD_COMMON_H
#define WARPD_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The I/O contract of every read/write in warpd: a positive byte count, 0 for
 * end of file (never an error), or one of these. On WD_ERROR errno is kept. */
#define WD_AGAIN (-2)
#define WD_ERROR (-1)
/* The same codes for the functions that move no byte count: WD_OK, it
 * worked; WD_DONE, a step that may take several calls has finished (a queue
 * drained), where WD_AGAIN says it waits for the socket; WD_ERROR, it
 * failed. Nothing in warpd invents its own 1/0/-1 beside these. */
#define WD_OK   0
#define WD_DONE 1

/* Exit statuses shared by the supervisor and the workers (DESIGN.md section 2). */
#define WD_EXIT_OK      0 /* stop requested */
#define WD_EXIT_RUNTIME 1 /* runtime failure; a worker exiting 1 is respawned */
#define WD_EXIT_FATAL   2 /* bad usage or config; a worker exiting 2 is not respawned */

#define WD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Longest "[addr]:port" text form of a socket address, with the NUL. */
#define WD_ADDRSTRLEN 64

#endif
