/* HTTP sessions for the forward and reverse modes: request heads read and
 * validated, routed (absolute-form, CONNECT, or the one reverse upstream),
 * regenerated towards the upstream, bodies re-framed both ways, keep-alive
 * on both sides, and CONNECT/Upgrade turned into a relay. */
#ifndef WARPD_PROXY_H
#define WARPD_PROXY_H

#include <sys/socket.h>

#include "session.h"

void proxy_start(struct session_env *env, int fd, const struct sockaddr *peer, socklen_t len);
/* A client the allow/deny rules refuse: answers 403 at once, without reading
 * a request, then closes the way every error answer does (see the function). */
void proxy_deny(struct session_env *env, int fd, const struct sockaddr *peer, socklen_t len);
/* Graceful stop: a connection waiting for a request gets a short grace in
 * which a request that arrives is still answered (with Connection: close),
 * then a FIN; the others close after their current exchange. */
void proxy_stop_idle(struct session_env *env);
void proxy_close_all(struct session_env *env, const char *reason);
/* Whether a session is kept alive between requests, and closing the one
 * idle the longest (1 if there was one): at max_connections a new client
 * is admitted that way, as nginx reuses its idle keep-alive connections. */
int proxy_have_idle(void);
int proxy_close_idle(void);

#endif
