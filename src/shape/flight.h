/* Shaping the first flight of a tunnel (CONNECT, SOCKS, transparent):
 * warpd does not know the protocol, so it looks at what the client sends
 * first. A TLS ClientHello or an HTTP/1.x request head is shaped by the
 * destination's strategy; anything else, or a server that speaks first, is
 * relayed as is. With auto, the flight is judged by the first answer bytes
 * and, where a replay is safe, sent again on a new connection with the next
 * strategy until one passes (shape_auto.h). */
#ifndef WARPD_FLIGHT_H
#define WARPD_FLIGHT_H

#include "session.h"

struct flight;

/* Whether a tunnel to host (a name, or an address as text) may need its
 * first flight shaped: the destination's strategy is not off, or host is an
 * address and per-destination rules may match the SNI or Host it carries. */
int flight_wanted(const struct config *cfg, const char *host);

/* Takes over s (both conns' read sides) until the first flight is out (and,
 * with auto, has passed), then relays (session_relay, with end as the clean
 * close reason). host is the destination's name as the client gave it, for
 * the per-destination rules; early[0..elen) what the client sent already.
 * Sets s->shape and s->shape_tries for the access line. Returns the flight,
 * which the caller frees with flight_free when the session closes (NULL:
 * shaping was not needed or not possible, and the relay runs already). */
struct flight *flight_start(struct session *s, const char *host, const void *early, size_t elen,
                            const char *end);
void flight_free(struct flight *f);

#endif
