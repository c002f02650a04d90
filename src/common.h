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

/* Exit statuses shared by the supervisor and the workers (DESIGN.md section 2). */
#define WD_EXIT_OK      0 /* stop requested */
#define WD_EXIT_RUNTIME 1 /* runtime failure; a worker exiting 1 is respawned */
#define WD_EXIT_FATAL   2 /* bad usage or config; a worker exiting 2 is not respawned */

#define WD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Longest "[addr]:port" text form of a socket address, with the NUL. */
#define WD_ADDRSTRLEN 64

#endif
