/* Fixed answers from a hosts file (hosts(5)), read once when the configuration
 * is loaded, in the supervisor, into a compact sorted table that the forked
 * workers inherit and search without a system call. */
#ifndef WARPD_HOSTS_H
#define WARPD_HOSTS_H

#include <stddef.h>
#include <sys/socket.h>

#define HOSTS_MAX_SIZE (64 << 20) /* bytes of a hosts file read; a larger one is refused */

struct hosts;

/* Reads path into a table, or reuses the table already read from the same
 * unchanged file (same device, inode, size and modification time). Tables
 * are never freed: a configuration is copied by value and several of them
 * (the current one, the previous one during a reload, a candidate) may point
 * at one; only a file that changed between reloads adds a table. Lines whose
 * address is not an IPv4 or IPv6 literal are skipped, as the C library does.
 * missing_ok: a file that does not exist gives *out = NULL and 0. Returns 0,
 * or -1 with a message. */
int hosts_load(const char *path, int missing_ok, const struct hosts **out, char *err,
               size_t errlen);

/* The addresses listed for name (letter case and one trailing dot ignored), in
 * the file's order without duplicates, at most max of them, with port 0.
 * Returns how many; 0 when the name is not listed or h is NULL. */
int hosts_lookup(const struct hosts *h, const char *name, struct sockaddr_storage *addr,
                 socklen_t *len, int max);

/* Names in the table (each alias counts), for tests and logs. */
size_t hosts_count(const struct hosts *h);

#endif
