/* A client session: one accepted client connection, at most one upstream
 * connection, the phase it is in, one timer per phase, and exactly one way
 * out, session_close(s, reason). */
#ifndef WARPD_SESSION_H
#define WARPD_SESSION_H

#include <ev.h>
#include <sys/socket.h>

#include "config.h"

struct session;

/* Worker-wide context the sessions share (read-only config, counters). */
struct session_env {
    struct ev_loop *loop;
    const struct config *cfg;
    int active;        /* sessions alive */
    int stopping;      /* graceful stop in progress */
    int accept_paused; /* at max_connections with no idle session to close */
    /* Sessions came or went, or (while accept_paused) one became idle. */
    void (*on_count_change)(struct session_env *env);
};

/* Starts a session on an accepted non-blocking client socket. */
void session_start(struct session_env *env, int fd, const struct sockaddr *peer, socklen_t len);
/* Graceful stop: sessions waiting for a request get a short grace, then
 * close (see proxy_stop_idle); the others finish on their own. */
void session_stop_idle(struct session_env *env);
/* Whether a session waits, kept alive, for its next request; and closing
 * the one that waited the longest (1 if there was one), to admit a new
 * client at max_connections. */
int session_have_idle(void);
int session_close_idle(void);
/* Closes every session now (shutdown timeout). */
void session_close_all(struct session_env *env, const char *reason);

#endif
