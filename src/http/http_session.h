/* HTTP sessions for the forward and reverse modes: request heads read and
 * validated, routed (absolute-form, CONNECT, or the one reverse upstream),
 * regenerated towards the upstream, bodies re-framed both ways, keep-alive
 * on both sides, and CONNECT/Upgrade turned into a relay. A denied client
 * gets 403 before anything is read; at a graceful stop a connection waiting
 * for a request gets a short grace in which a request that arrives is still
 * answered (with Connection: close), then a FIN. */
#ifndef WARPD_PROXY_H
#define WARPD_PROXY_H

#include "session.h"

extern const struct proto proto_http;

#endif
