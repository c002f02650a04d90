/* Asynchronous name resolution inside a worker's loop: one c-ares channel per
 * process driven by ev_io and ev_timer watchers, a small TTL cache, and
 * requests that can be cancelled. Never blocks; never calls back synchronously. */
#ifndef WARPD_RESOLVE_H
#define WARPD_RESOLVE_H

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

#define RESOLVE_MAX_ADDRS 8

struct resolve_result {
    int n; /* addresses, IPv6 and IPv4 in the resolver's order */
    struct sockaddr_storage addr[RESOLVE_MAX_ADDRS];
    socklen_t len[RESOLVE_MAX_ADDRS];
};

/* status is 0 on success (res->n >= 1), else a RESOLVE_E* code. */
typedef void (*resolve_cb)(void *arg, int status, const struct resolve_result *res);

enum {
    RESOLVE_OK = 0,
    RESOLVE_ENOTFOUND, /* the name does not exist or has no address */
    RESOLVE_ETIMEOUT,  /* no answer within the timeout */
    RESOLVE_EFAIL,     /* server failure, refused, bad reply, out of memory */
};

struct resolve_req;
struct hosts;

/* Values of resolve_init's flags. */
#define RESOLVE_TCP 0x1 /* ask the name servers over TCP only (resolver_tcp on) */

/* Creates the channel. servers: "" for /etc/resolv.conf, else c-ares's
 * "ip[:port],ip[:port]" form. flags: RESOLVE_*. hosts: fixed answers given
 * before any query (hosts.h), NULL for none; c-ares itself never reads a
 * hosts file. timeout: seconds for one whole lookup. Returns 0, or -1 with a
 * message. */
int resolve_init(struct ev_loop *loop, const char *servers, int flags, const struct hosts *hosts,
                 double timeout, char *err, size_t errlen);
/* Destroys the channel; pending requests' callbacks are not called and their
 * memory is released, so request pointers held by callers become invalid
 * (do not resolve_cancel them afterwards). Safe when not initialised;
 * resolve_init may be called again. */
void resolve_shutdown(void);

/* Answers at once without a callback when host is an IP literal, a name of
 * the hosts table, localhost (or a name under it) or a fresh cache entry:
 * fills res (with port) and returns 1. Returns 0 otherwise. */
int resolve_now(const char *host, uint16_t port, struct resolve_result *res);
/* Starts a lookup; cb runs later from the loop, exactly once unless the
 * request is cancelled first. res is never NULL; res->n is 0 on failure.
 * Returns NULL only when out of memory or not initialised. */
struct resolve_req *resolve_start(const char *host, uint16_t port, resolve_cb cb, void *arg);
/* The callback will not run; the request's memory is released. Only valid
 * before the callback has run (the request is gone after it). */
void resolve_cancel(struct resolve_req *r);
const char *resolve_strerror(int status);

#endif
