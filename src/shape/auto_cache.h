/* The table in which `shape auto` remembers, per destination, which strategy
 * worked (or that none did). It lives in shared memory that the supervisor
 * maps before forking, so every worker of every generation sees the same
 * entries, and a respawned worker inherits them; the supervisor loads it from
 * shape_auto_file at start and saves it there at stop.
 *
 * Keys are destinations: a host name (compared without regard to ASCII case)
 * or an address as text; 1 to AUTO_CACHE_KEY_MAX bytes, none of them a
 * space, a control character or DEL. A longer or otherwise unfit key is
 * refused, never truncated (two destinations must not share an entry): put
 * stores nothing and get finds nothing.
 *
 * The file is text, one entry per line, fields separated by one space:
 *     KEY NAME EXPIRES
 * KEY lowercased; NAME the strategy that worked, or "-" when nothing did
 * (strategy names start with a letter); EXPIRES the entry's end in seconds
 * since the epoch. Blank lines and lines starting with '#' are skipped. */
#ifndef WARPD_AUTO_CACHE_H
#define WARPD_AUTO_CACHE_H

#include <stddef.h>
#include <time.h>

#include "shape_step.h"

#define AUTO_CACHE_KEY_MAX 255 /* bytes of a key, without the NUL */

enum {
    AUTO_CACHE_NONE = 0,   /* nothing remembered, or it expired */
    AUTO_CACHE_WINNER = 1, /* a strategy worked: its name was copied out */
    AUTO_CACHE_FAILED = 2  /* nothing worked */
};

struct auto_cache;

/* A table of at least `entries` slots (rounded up to whole buckets) in memory
 * shared with every process forked after this call. NULL when entries is 0
 * or absurdly large (errno EINVAL) or out of memory (ENOMEM). */
struct auto_cache *auto_cache_create(unsigned entries);
void auto_cache_destroy(struct auto_cache *c);
/* Slots in the table (entries rounded up). */
unsigned auto_cache_size(const struct auto_cache *c);

/* What is remembered for key at wall-clock time now: AUTO_CACHE_NONE,
 * AUTO_CACHE_WINNER (the strategy's name copied into name, which has room
 * for SHAPE_NAME_MAX bytes) or AUTO_CACHE_FAILED. */
int auto_cache_get(struct auto_cache *c, const char *key, time_t now, char *name);
/* Remembers name (NULL: nothing worked) for key until expires, replacing
 * what key had. When key's bucket is full, the entry that expires soonest
 * (an expired one first) makes room. A key or name that does not fit (see
 * above; a name is 1 to SHAPE_NAME_MAX - 1 bytes without spaces) is
 * ignored. */
void auto_cache_put(struct auto_cache *c, const char *key, const char *name, time_t expires);

/* Writes the entries still valid at now to path, through a temporary file
 * in the same directory renamed over it (mode 0600: the keys are where the
 * users went). Returns 0, or -1 with one line in err. */
int auto_cache_save(struct auto_cache *c, const char *path, time_t now, char *err, size_t errlen);
/* Puts the entries of path that are still valid at now into the table. A
 * missing file is no error. A malformed line stops the load with
 * "path:line: problem" in err (the lines before it are kept). Returns 0 or
 * -1. */
int auto_cache_load(struct auto_cache *c, const char *path, time_t now, char *err, size_t errlen);

/* The process's table: set by the supervisor before forking, NULL when there
 * is none (auto shaping then remembers nothing). */
void auto_cache_set_shared(struct auto_cache *c);
struct auto_cache *auto_cache_shared(void);

/* For tests only: takes the lock of key's bucket, half-writes an entry into
 * it and returns with the lock still held, as a process killed in the
 * middle of a put would leave it. */
void auto_cache_test_die_locked(struct auto_cache *c, const char *key);

#endif
